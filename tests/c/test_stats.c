/*
 * test_stats.c — pyrt_stats_json: calls started/finished/failed, exceptions by type, the
 * latency histogram, object handles, host callbacks, interrupts and timeouts, per runtime
 * handle and process-wide (rt NULL, also before the first pyrt_new and after the last free).
 */
#define _XOPEN_SOURCE 700

#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* The integer after "field": in a stats object (-1 when absent). */
static long field(const char *json, const char *name) {
    char *key = xprintf("\"%s\":", name);
    const char *p = strstr(json, key);
    free(key);
    if (p == NULL) return -1;
    p = strchr(p, ':') + 1;
    return strtol(p, NULL, 10);
}

static char *stats(pyrt_runtime *rt) {
    char *out = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_stats_json(rt, &out, &err), err);
    return out ? out : xstrdup("{}");
}

static int32_t answer(void *user, const char *args, const char *kwargs, pyrt_reply *reply) {
    (void)user;
    (void)args;
    (void)kwargs;
    return pyrt_reply_json(reply, "42");
}

static void *spin(void *arg) {
    pyrt_runtime *rt = arg;
    char *out = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_run_string(rt, "import time\nwhile True:\n    time.sleep(0.001)\n", &err);
    CHECK_INT(rc, PYRT_ERR_INTERRUPTED);
    pyrt_error_free(err);
    (void)out;
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("test_stats: pyrt %s, PYRT_LIBPYTHON=%s\n", pyrt_version(), safe_s(env_libpython()));
    pyrt_error *err = NULL;

    SECTION("process-wide before the first runtime: zeros");
    char *s = stats(NULL);
    CHECK_CONTAINS(s, "\"scope\":\"process\"");
    CHECK_INT(field(s, "calls_started"), 0);
    pyrt_string_free(s);

    pyrt_runtime *rt = open_runtime_or_die();

    SECTION("calls, failures, exceptions by type");
    for (int i = 0; i < 50; i++) EXPECT_CALL(rt, "math", "sqrt", "[16.0]", NULL, "4.0");
    CHECK_OK(pyrt_run_string(rt, "def boom(t):\n    raise {'v': ValueError, 'k': KeyError}[t]('x')\n", &err), err);
    const char *kinds[] = {"[\"v\"]", "[\"v\"]", "[\"k\"]"};
    for (int i = 0; i < 3; i++) {
        char *out = NULL;
        CHECK_INT(pyrt_call_json(rt, "__main__", "boom", kinds[i], NULL, &out, &err), PYRT_ERR_PYTHON);
        pyrt_error_free(err);
        err = NULL;
    }
    s = stats(rt);
    printf("  %s\n", s);
    CHECK_CONTAINS(s, "\"scope\":\"runtime\"");
    CHECK_CONTAINS(s, "\"enabled\":true");
    CHECK_INT(field(s, "calls_started"), 54); /* 50 + run_string + 3 */
    CHECK_INT(field(s, "calls_finished"), 54);
    CHECK_INT(field(s, "calls_failed"), 3);
    CHECK_INT(field(s, "calls_in_flight"), 0);
    CHECK_INT(field(s, "ValueError"), 2);
    CHECK_INT(field(s, "KeyError"), 1);
    CHECK_INT(field(s, "exceptions_other"), 0);
    long count = field(s, "latency_count");
    CHECKF(count >= 1 && count <= 54, "latency_count %ld", count);
    CHECK_CONTAINS(s, "\"latency_bounds_seconds\":[1e-6,");
    pyrt_string_free(s);

    SECTION("object handles and host callbacks");
    pyrt_object *math = NULL;
    CHECK_OK(pyrt_import(rt, "math", &math, &err), err);
    CHECK_OK(pyrt_register(rt, "cstats", "answer", answer, NULL, NULL, &err), err);
    CHECK_OK(pyrt_run_string(rt, "import cstats\nfor _ in range(5):\n    cstats.answer()\n", &err), err);
    s = stats(rt);
    CHECK_INT(field(s, "objects"), 1);
    CHECK_INT(field(s, "host_callbacks"), 5);
    pyrt_string_free(s);
    pyrt_object_free(math);
    s = stats(rt);
    CHECK_INT(field(s, "objects"), 0);
    pyrt_string_free(s);

    SECTION("interrupts");
    pthread_t t;
    pthread_create(&t, NULL, spin, rt);
    for (int i = 0; i < 5000; i++) {
        uint32_t n = 0;
        CHECK_OK0(pyrt_interrupt(rt, &n, NULL));
        if (n > 0) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_join(t, NULL);
    s = stats(rt);
    CHECK_INT(field(s, "interrupts"), 1);
    CHECK_INT(field(s, "timeouts"), 0);
    pyrt_string_free(s);

    SECTION("timeouts, on another handle; the process sums both");
    char *q = json_quote(env_libpython() ? env_libpython() : "");
    char *cfg = env_libpython() ? xprintf("{\"libpython\": %s, \"timeout_ms\": 50}", q) : xstrdup("{\"timeout_ms\": 50}");
    pyrt_runtime *slow = NULL;
    CHECK_OK(pyrt_new(cfg, &slow, &err), err);
    free(cfg);
    free(q);
    CHECK_INT(pyrt_run_string(slow, "import time\nwhile True:\n    time.sleep(0.001)\n", &err), PYRT_ERR_TIMEOUT);
    pyrt_error_free(err);
    err = NULL;
    s = stats(slow);
    CHECK_INT(field(s, "timeouts"), 1);
    CHECK_INT(field(s, "calls_failed"), 1);
    /* Timed or not (this thread's calls were fast so far: it times one in 16), never counted
     * for more than itself. */
    CHECK(field(s, "latency_count") <= 1);
    pyrt_string_free(s);
    s = stats(NULL);
    printf("  %s\n", s);
    CHECK_INT(field(s, "timeouts"), 1);
    CHECK_INT(field(s, "interrupts"), 1);
    CHECK_INT(field(s, "ValueError"), 2);
    CHECK_INT(field(s, "KeyboardInterrupt"), -1); /* interrupts are not exceptions here */
    CHECK(field(s, "calls_started") >= 60);
    CHECK(field(s, "latency_count") <= field(s, "calls_finished"));
    pyrt_string_free(s);

    SECTION("a second handle cannot turn counting off");
    pyrt_runtime *off = NULL;
    CHECK_STATUS(pyrt_new("{\"stats\": false}", &off, &err), PYRT_ERR_LIBPYTHON_CONFLICT, err);
    pyrt_error_free(err);
    err = NULL;

    SECTION("a freed handle's counts stay in the process figures");
    pyrt_free(slow);
    s = stats(NULL);
    CHECK_INT(field(s, "timeouts"), 1);
    pyrt_string_free(s);
    pyrt_free(rt);
    s = stats(NULL);
    CHECK_INT(field(s, "interrupts"), 1);
    CHECK_INT(field(s, "calls_in_flight"), 0);
    pyrt_string_free(s);
    return check_summary();
}
