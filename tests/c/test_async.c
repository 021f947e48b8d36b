/*
 * test_async.c — coroutines on pyrt's asyncio loop (pyrt_call_async, pyrt_object_await,
 * pyrt_task_cancel): results, exceptions with tracebacks, cancellation that runs the coroutine's
 * cleanup, non-awaitables, 2,000 awaits in flight on a bounded number of threads, a client and
 * an asyncio server talking over 127.0.0.1, host functions called from the loop, an exception
 * in a loop callback, a runtime freed with awaits outstanding, NULLs.
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE

#include <dirent.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static pyrt_runtime *RT;

/* ---- completions: a table of outcomes, waited for with a condition variable */
#define MAX_TASKS 4096
struct outcome {
    uint64_t task;
    int32_t status;
    char *result;
    pyrt_error *err;
    int calls;
};
static struct outcome OUT[MAX_TASKS];
static int NOUT;
static pthread_mutex_t MU = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t CV = PTHREAD_COND_INITIALIZER;
static pthread_t LOOP_THREAD;

static void on_done(void *user, uint64_t task, int32_t status, char *result, pyrt_error *err) {
    pthread_mutex_lock(&MU);
    LOOP_THREAD = pthread_self();
    int slot = (int)(intptr_t)user;
    if (slot >= 0 && slot < MAX_TASKS) {
        OUT[slot].task = task;
        OUT[slot].status = status;
        OUT[slot].result = result;
        OUT[slot].err = err;
        OUT[slot].calls++;
        NOUT++;
    }
    pthread_cond_broadcast(&CV);
    pthread_mutex_unlock(&MU);
}

static void reset(void) {
    pthread_mutex_lock(&MU);
    for (int i = 0; i < MAX_TASKS; i++) {
        pyrt_string_free(OUT[i].result);
        pyrt_error_free(OUT[i].err);
        memset(&OUT[i], 0, sizeof OUT[i]);
    }
    NOUT = 0;
    pthread_mutex_unlock(&MU);
}

/* Waits until `n` completions arrived (at most `seconds`); returns how many did. */
static int wait_for(int n, int seconds) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&MU);
    while (NOUT < n && pthread_cond_timedwait(&CV, &MU, &until) == 0) {
    }
    int got = NOUT;
    pthread_mutex_unlock(&MU);
    return got;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int thread_count(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (d == NULL) return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static uint64_t start(const char *target, const char *args, int slot) {
    uint64_t task = 0;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_call_async(RT, target, args, NULL, 0, on_done, (void *)(intptr_t)slot, &task, &err), err);
    pyrt_error_free(err);
    return task;
}

static void results_and_errors(void) {
    SECTION("a coroutine's result, its exception with traceback");
    reset();
    EXPECT_RUN(RT, "import asyncio\n"
                   "async def add(a, b):\n"
                   "    await asyncio.sleep(0.01)\n"
                   "    return a + b\n"
                   "async def boom():\n"
                   "    await asyncio.sleep(0)\n"
                   "    raise ValueError('async boom')\n"
                   "async def pair():\n"
                   "    return (1, b'x')\n");
    uint64_t t0 = start("__main__:add", "[1, 2]", 0);
    uint64_t t1 = start("__main__:boom", NULL, 1);
    CHECK(t0 != 0 && t1 != 0 && t0 != t1);
    CHECK(wait_for(2, 30) == 2);
    CHECK(OUT[0].task == t0 && OUT[0].status == PYRT_OK && OUT[0].calls == 1);
    CHECK_JSON(OUT[0].result, "3");
    CHECK(OUT[0].err == NULL);
    CHECK(OUT[1].task == t1 && OUT[1].status == PYRT_ERR_PYTHON && OUT[1].result == NULL);
    if (OUT[1].err != NULL) {
        CHECK_STR(pyrt_error_python_type(OUT[1].err), "ValueError");
        CHECK_STR(pyrt_error_message(OUT[1].err), "async boom");
        CHECK(pyrt_error_traceback(OUT[1].err) != NULL && strstr(pyrt_error_traceback(OUT[1].err), "boom") != NULL);
        CHECK(pyrt_error_code(OUT[1].err) == PYRT_ERR_PYTHON);
    }
    CHECK(!pthread_equal(LOOP_THREAD, pthread_self())); /* completions come from the loop's thread */

    SECTION("flags: a tagged result; a result without encoding");
    reset();
    uint64_t task = 0;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_call_async(RT, "__main__:pair", NULL, NULL, PYRT_VALUE_TAGGED, on_done, (void *)0, &task, &err), err);
    CHECK_OK(pyrt_call_async(RT, "__main__:pair", NULL, NULL, 0, on_done, (void *)1, NULL, &err), err);
    CHECK(wait_for(2, 30) == 2);
    CHECK_JSON(OUT[0].result, "{\"__pyrt__\": \"tuple\", \"v\": [1, {\"__pyrt__\": \"bytes\", \"v\": \"eA==\"}]}");
    CHECK(OUT[1].status == PYRT_ERR_CONVERSION);

    SECTION("awaiting an object: a coroutine object, awaited once");
    reset();
    pyrt_object *coro = NULL;
    CHECK_OK(pyrt_call_object(RT, "__main__:add", "[20, 22]", NULL, 0, &coro, &err), err);
    CHECK_OK(pyrt_object_await(coro, 0, on_done, (void *)0, &task, &err), err);
    CHECK(wait_for(1, 30) == 1);
    CHECK_JSON(OUT[0].result, "42");
    CHECK_OK(pyrt_object_await(coro, 0, on_done, (void *)1, &task, &err), err);
    CHECK(wait_for(2, 30) == 2);
    CHECK(OUT[1].status == PYRT_ERR_PYTHON && OUT[1].err != NULL &&
          strcmp(safe_s(pyrt_error_python_type(OUT[1].err)), "RuntimeError") == 0); /* cannot reuse */
    pyrt_object_free(coro);
    pyrt_object *fut = NULL;
    CHECK_OK(pyrt_eval_object(RT, "asyncio.sleep(0.01, result='slept')", &fut, &err), err);
    CHECK_OK(pyrt_object_await(fut, 0, on_done, (void *)2, NULL, &err), err);
    CHECK(wait_for(3, 30) == 3);
    CHECK_JSON(OUT[2].result, "\"slept\"");
    pyrt_object_free(fut);

    SECTION("not awaitable, missing, NULLs: an error now, no completion ever");
    reset();
    int32_t rc = pyrt_call_async(RT, "builtins:len", "[[1, 2]]", NULL, 0, on_done, (void *)0, &task, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "TypeError", "not awaitable", __FILE__, __LINE__, "len() is not awaitable");
    pyrt_error_free(err);
    err = NULL;
    rc = pyrt_call_async(RT, "no_such_module_async:f", NULL, NULL, 0, on_done, (void *)0, &task, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "ModuleNotFoundError", NULL, __FILE__, __LINE__, "missing module");
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS0(pyrt_call_async(RT, "__main__:add", "[1, 2]", NULL, 0, NULL, NULL, &task, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_call_async(NULL, "__main__:add", "[1, 2]", NULL, 0, on_done, NULL, &task, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_call_async(RT, "add", "[1, 2]", NULL, 0, on_done, NULL, &task, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_call_async(RT, "__main__:add", "[1, 2]", NULL, 99, on_done, NULL, &task, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_object_await(NULL, 0, on_done, NULL, &task, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_OK0(pyrt_task_cancel(987654321, NULL)); /* unknown: left alone */
    usleep(100 * 1000);
    CHECK(wait_for(0, 0) == 0); /* nothing completed */
}

static void cancellation(void) {
    SECTION("cancelling: the coroutine sees CancelledError, its cleanup runs first");
    reset();
    EXPECT_RUN(RT, "log = []\n"
                   "async def forever():\n"
                   "    try:\n"
                   "        await asyncio.sleep(3600)\n"
                   "    finally:\n"
                   "        await asyncio.sleep(0.01)\n"
                   "        log.append('cleaned up')\n"
                   "async def stubborn():\n"
                   "    try:\n"
                   "        await asyncio.sleep(3600)\n"
                   "    except asyncio.CancelledError:\n"
                   "        return 'kept going'\n");
    uint64_t t = start("__main__:forever", NULL, 0);
    uint64_t s = start("__main__:stubborn", NULL, 1);
    usleep(50 * 1000);
    CHECK(wait_for(0, 0) == 0);
    CHECK_OK0(pyrt_task_cancel(t, NULL));
    CHECK_OK0(pyrt_task_cancel(s, NULL));
    CHECK(wait_for(2, 30) == 2);
    CHECK(OUT[0].status == PYRT_ERR_INTERRUPTED && OUT[0].err != NULL);
    EXPECT_EVAL(RT, "log", "[\"cleaned up\"]");
    CHECK(OUT[1].status == PYRT_OK);
    CHECK_JSON(OUT[1].result, "\"kept going\"");
    CHECK_OK0(pyrt_task_cancel(t, NULL)); /* done already: left alone */
    usleep(20 * 1000);
    CHECK(OUT[0].calls == 1 && OUT[1].calls == 1);
}

static void many(void) {
    SECTION("2,000 awaits of asyncio.sleep(0.05) in flight at once, few threads");
    reset();
    EXPECT_RUN(RT, "async def nap():\n"
                   "    await asyncio.sleep(0.05)\n"
                   "    return 1\n");
    int before = thread_count();
    double t0 = now_s();
    for (int i = 0; i < 2000; i++) start("__main__:nap", NULL, i);
    int threads = thread_count();
    CHECK(wait_for(2000, 60) == 2000);
    double took = now_s() - t0;
    int ok = 0;
    for (int i = 0; i < 2000; i++) ok += OUT[i].status == PYRT_OK && OUT[i].result != NULL && strcmp(OUT[i].result, "1") == 0;
    CHECK(ok == 2000);
    printf("  2,000 awaits: %.3f s wall, threads %d before, %d while in flight\n", took, before, threads);
    CHECKF(threads - before <= 2, "threads grew from %d to %d", before, threads);
}

static int32_t host_double(void *user, const char *args, const char *kwargs, pyrt_reply *reply) {
    (void)user;
    (void)kwargs;
    long v = 0;
    if (sscanf(args, "[%ld]", &v) != 1) return pyrt_reply_error(reply, "double(int)");
    char out[32];
    snprintf(out, sizeof out, "%ld", v * 2);
    return pyrt_reply_json(reply, out);
}

static void network_and_callbacks(void) {
    SECTION("an asyncio client and server over 127.0.0.1; a host function called on the loop");
    reset();
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_register(RT, "casync", "double", host_double, NULL, NULL, &err), err);
    EXPECT_RUN(RT, "import casync\n"
                   "servers = []\n"
                   "async def handle(reader, writer):\n"
                   "    line = (await reader.readline()).decode().strip()\n"
                   "    writer.write(('200 ' + line.upper() + '\\n').encode())\n"
                   "    await writer.drain()\n"
                   "    writer.close()\n"
                   "async def listen():\n"
                   "    server = await asyncio.start_server(handle, '127.0.0.1', 0)\n"
                   "    servers.append(server)\n"
                   "    return server.sockets[0].getsockname()[1]\n"
                   "async def fetch(port, path):\n"
                   "    reader, writer = await asyncio.open_connection('127.0.0.1', port)\n"
                   "    writer.write(('GET ' + path + '\\n').encode())\n"
                   "    await writer.drain()\n"
                   "    reply = (await reader.readline()).decode().strip()\n"
                   "    writer.close()\n"
                   "    return reply\n"
                   "async def doubled(x):\n"
                   "    await asyncio.sleep(0)\n"
                   "    return casync.double(x)\n"
                   "async def close_servers():\n"
                   "    for s in servers:\n"
                   "        s.close()\n"
                   "        await s.wait_closed()\n");
    start("__main__:listen", NULL, 0);
    CHECK(wait_for(1, 30) == 1);
    long port = OUT[0].result ? strtol(OUT[0].result, NULL, 10) : 0;
    CHECK(port > 0);
    char args[64];
    snprintf(args, sizeof args, "[%ld, \"/a\"]", port);
    start("__main__:fetch", args, 1);
    snprintf(args, sizeof args, "[%ld, \"/b\"]", port);
    start("__main__:fetch", args, 2);
    start("__main__:doubled", "[21]", 3);
    CHECK(wait_for(4, 30) == 4);
    CHECK_JSON(OUT[1].result, "\"200 GET /A\"");
    CHECK_JSON(OUT[2].result, "\"200 GET /B\"");
    CHECK_JSON(OUT[3].result, "42");
    start("__main__:close_servers", NULL, 4);
    CHECK(wait_for(5, 30) == 5 && OUT[4].status == PYRT_OK);

    SECTION("an exception in a loop callback is logged; the loop goes on");
    reset();
    EXPECT_RUN(RT, "async def schedule_failure():\n"
                   "    asyncio.get_running_loop().call_soon(lambda: 1 / 0)\n"
                   "    await asyncio.sleep(0.01)\n"
                   "    return 'still here'\n");
    start("__main__:schedule_failure", NULL, 0);
    start("__main__:add", "[2, 3]", 1);
    CHECK(wait_for(2, 30) == 2);
    CHECK_JSON(OUT[0].result, "\"still here\"");
    CHECK_JSON(OUT[1].result, "5");
}

static void async_generators(void) {
    SECTION("async generators stream like generators: items, close (aclose), an exception");
    EXPECT_RUN(RT, "agen_log = []\n"
                   "async def ticks(n):\n"
                   "    try:\n"
                   "        for i in range(n):\n"
                   "            await asyncio.sleep(0.001)\n"
                   "            yield {'tick': i}\n"
                   "    finally:\n"
                   "        await asyncio.sleep(0)\n"
                   "        agen_log.append('closed')\n"
                   "async def afailing():\n"
                   "    yield 1\n"
                   "    raise KeyError('async midway')\n");
    pyrt_object *agen = NULL, *it = NULL;
    pyrt_error *err = NULL;
    char *item = NULL;
    CHECK_OK(pyrt_call_object(RT, "__main__:ticks", "[3]", NULL, 0, &agen, &err), err);
    CHECK_OK(pyrt_object_iter(agen, &it, &err), err);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(pyrt_iter_next(it, 0, &item, &err), err);
        char want[32];
        snprintf(want, sizeof want, "{\"tick\": %d}", i);
        CHECK_JSON(item, want);
        pyrt_string_free(item);
        item = NULL;
    }
    CHECK_STATUS0(pyrt_iter_next(it, 0, &item, NULL), PYRT_DONE);
    EXPECT_EVAL(RT, "agen_log", "[\"closed\"]");
    pyrt_object_free(it);
    pyrt_object_free(agen);

    EXPECT_RUN(RT, "agen_log.clear()");
    CHECK_OK(pyrt_call_object(RT, "__main__:ticks", "[1000]", NULL, 0, &agen, &err), err);
    CHECK_OK(pyrt_object_iter(agen, &it, &err), err);
    CHECK_OK(pyrt_iter_next_batch(it, 5, 0, &item, &err), err);
    CHECK_JSON(item, "[{\"tick\": 0}, {\"tick\": 1}, {\"tick\": 2}, {\"tick\": 3}, {\"tick\": 4}]");
    pyrt_string_free(item);
    item = NULL;
    CHECK_OK(pyrt_iter_close(it, &err), err);
    EXPECT_EVAL(RT, "agen_log", "[\"closed\"]"); /* aclose() ran on the loop before close returned */
    CHECK_STATUS0(pyrt_iter_next(it, 0, &item, NULL), PYRT_DONE);
    pyrt_object_free(it);
    pyrt_object_free(agen);

    CHECK_OK(pyrt_eval_object(RT, "afailing()", &agen, &err), err);
    CHECK_OK(pyrt_object_iter(agen, &it, &err), err);
    CHECK_OK(pyrt_iter_next(it, 0, &item, &err), err);
    CHECK_JSON(item, "1");
    pyrt_string_free(item);
    item = NULL;
    int32_t rc = pyrt_iter_next(it, 0, &item, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "KeyError", "async midway", __FILE__, __LINE__, "async generator raising");
    CHECK(err != NULL && pyrt_error_traceback(err) != NULL && strstr(pyrt_error_traceback(err), "afailing") != NULL);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS0(pyrt_iter_next(it, 0, &item, NULL), PYRT_DONE);
    pyrt_object_free(it);
    pyrt_object_free(agen);
}

static void freed_runtime(void) {
    SECTION("a runtime freed with awaits outstanding: PYRT_ERR_CLOSED at once, no hang");
    reset();
    char *cfg = config_for(env_libpython());
    pyrt_runtime *rt2 = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_new(cfg, &rt2, &err), err);
    free(cfg);
    uint64_t task = 0;
    CHECK_OK(pyrt_call_async(rt2, "__main__:forever", NULL, NULL, 0, on_done, (void *)0, &task, &err), err);
    CHECK_OK(pyrt_call_async(rt2, "__main__:forever", NULL, NULL, 0, on_done, (void *)1, &task, &err), err);
    usleep(20 * 1000);
    pyrt_free(rt2);
    CHECK(wait_for(2, 30) == 2);
    CHECK(OUT[0].status == PYRT_ERR_CLOSED && OUT[1].status == PYRT_ERR_CLOSED);
    CHECK(OUT[0].calls == 1 && OUT[1].calls == 1);
    /* the tasks are cancelled on the loop at the next call: their cleanup runs, no second completion */
    EXPECT_RUN(RT, "log.clear()");
    for (int i = 0; i < 100 && eval_ll(RT, "len(log)") < 2; i++) usleep(10 * 1000);
    EXPECT_EVAL(RT, "log", "[\"cleaned up\", \"cleaned up\"]");
    CHECK(OUT[0].calls == 1 && OUT[1].calls == 1);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    RT = open_runtime_or_die();
    results_and_errors();
    cancellation();
    many();
    network_and_callbacks();
    async_generators();
    freed_runtime();
    SECTION("freeing the last runtime with a task in flight: PYRT_ERR_CLOSED, the loop stops");
    reset();
    start("__main__:forever", NULL, 0);
    usleep(20 * 1000);
    pyrt_free(RT);
    CHECK(wait_for(1, 30) == 1 && OUT[0].status == PYRT_ERR_CLOSED);
    reset();
    return check_summary();
}
