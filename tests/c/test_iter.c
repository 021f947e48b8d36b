/*
 * test_iter.c — iterators and generators a step at a time (pyrt_object_iter, pyrt_iter_*):
 * lists, generators with finally blocks, send/throw/close, batches, a generator raising midway
 * (its traceback is the error; a batch hands out the items before it), non-iterables, NULLs,
 * a step timing out, a runtime freed with an iterator outstanding, steps taken from several
 * threads, a 1,000,000-item generator streamed in batches in flat memory, and generators of a
 * "workers" handle (each stepped in the worker that made it).
 */
#define _XOPEN_SOURCE 700

#include <pthread.h>

#include "testutil.h"

static pyrt_runtime *RT;

/* RSS means nothing under valgrind (its own heap) or ASan (its quarantine keeps freed memory). */
static int rss_is_meaningful(void) {
#if defined(__SANITIZE_ADDRESS__)
    return 0;
#else
    const char *preload = getenv("LD_PRELOAD");
    return preload == NULL || strstr(preload, "vgpreload") == NULL;
#endif
}

static pyrt_object *obj(const char *expr) {
    pyrt_object *o = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_eval_object(RT, expr, &o, &err), err);
    pyrt_error_free(err);
    return o;
}

static pyrt_object *iter_of(const char *expr) {
    pyrt_object *o = obj(expr), *it = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_object_iter(o, &it, &err), err);
    pyrt_error_free(err);
    pyrt_object_free(o);
    return it;
}

/* One step that must give `want` (JSON), or PYRT_DONE when want is NULL. */
static void expect_next(pyrt_object *it, uint32_t flags, const char *want, int line) {
    char *item = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_iter_next(it, flags, &item, &err);
    if (want == NULL) {
        check_report(rc == PYRT_DONE && item == NULL && err == NULL, __FILE__, line, "pyrt_iter_next is PYRT_DONE",
                     "got %s, item %s, error %s", pyrt_status_name(rc), safe_s(item), err ? pyrt_error_message(err) : "none");
    } else if (status_check(rc, PYRT_OK, &err, __FILE__, line, "pyrt_iter_next is PYRT_OK")) {
        json_check(item, want, __FILE__, line, "item");
    }
    pyrt_string_free(item);
    pyrt_error_free(err);
}
#define EXPECT_NEXT(it, want) expect_next((it), 0, (want), __LINE__)

static void expect_batch(pyrt_object *it, size_t max, const char *want, int line) {
    char *items = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_iter_next_batch(it, max, 0, &items, &err);
    if (want == NULL) {
        check_report(rc == PYRT_DONE && items == NULL, __FILE__, line, "pyrt_iter_next_batch is PYRT_DONE", "got %s",
                     pyrt_status_name(rc));
    } else if (status_check(rc, PYRT_OK, &err, __FILE__, line, "pyrt_iter_next_batch is PYRT_OK")) {
        json_check(items, want, __FILE__, line, "batch");
    }
    pyrt_string_free(items);
    pyrt_error_free(err);
}
#define EXPECT_BATCH(it, max, want) expect_batch((it), (max), (want), __LINE__)

static void lists_and_ranges(void) {
    SECTION("a list, a dict, a range: every item, then PYRT_DONE for good");
    pyrt_object *it = iter_of("[1, 'two', None, {'k': [3.5]}]");
    EXPECT_NEXT(it, "1");
    EXPECT_NEXT(it, "\"two\"");
    EXPECT_NEXT(it, "null");
    EXPECT_NEXT(it, "{\"k\": [3.5]}");
    EXPECT_NEXT(it, NULL);
    EXPECT_NEXT(it, NULL);
    pyrt_object_free(it);

    it = iter_of("{'a': 1, 'b': 2}");
    EXPECT_NEXT(it, "\"a\"");
    EXPECT_NEXT(it, "\"b\"");
    EXPECT_NEXT(it, NULL);
    pyrt_object_free(it);

    SECTION("tagged items and items as handles");
    it = iter_of("[(1, 2), b'\\x00x', {1, 2}]");
    expect_next(it, PYRT_VALUE_TAGGED, "{\"__pyrt__\": \"tuple\", \"v\": [1, 2]}", __LINE__);
    expect_next(it, PYRT_VALUE_TAGGED, "{\"__pyrt__\": \"bytes\", \"v\": \"AHg=\"}", __LINE__);
    pyrt_object *item = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_iter_next_object(it, &item, &err), err);
    char *text = NULL;
    CHECK_OK(pyrt_object_repr(item, &text, &err), err);
    CHECK_STR(text, "{1, 2}");
    pyrt_string_free(text);
    pyrt_object_free(item);
    item = (pyrt_object *)OUT_SENTINEL;
    CHECK_STATUS0(pyrt_iter_next_object(it, &item, NULL), PYRT_DONE);
    CHECK(item == (pyrt_object *)OUT_SENTINEL); /* untouched at the end */
    pyrt_object_free(it);

    SECTION("a value without JSON form is PYRT_ERR_CONVERSION; the iteration goes on");
    it = iter_of("[1, object(), 3]");
    EXPECT_NEXT(it, "1");
    char *out = NULL;
    CHECK_STATUS(pyrt_iter_next(it, 0, &out, &err), PYRT_ERR_CONVERSION, err);
    pyrt_error_free(err);
    err = NULL;
    EXPECT_NEXT(it, "3");
    pyrt_object_free(it);
}

static void generators(void) {
    SECTION("a generator: items as produced, close runs its finally block now");
    EXPECT_RUN(RT, "log = []\n"
                   "def numbers(n):\n"
                   "    try:\n"
                   "        for i in range(n):\n"
                   "            log.append(i)\n"
                   "            yield i * 10\n"
                   "    finally:\n"
                   "        log.append('finally')\n");
    pyrt_object *gen = NULL, *it = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_call_object(RT, "__main__:numbers", "[1000000]", NULL, 0, &gen, &err), err);
    CHECK_OK(pyrt_object_iter(gen, &it, &err), err);
    CHECK(pyrt_object_id(it) != pyrt_object_id(gen)); /* a new handle, the same generator */
    EXPECT_EVAL(RT, "log", "[]");                     /* nothing ran yet: lazily produced */
    EXPECT_NEXT(it, "0");
    EXPECT_NEXT(it, "10");
    EXPECT_EVAL(RT, "log", "[0, 1]");
    CHECK_OK(pyrt_iter_close(it, &err), err);
    EXPECT_EVAL(RT, "log", "[0, 1, \"finally\"]");
    EXPECT_NEXT(it, NULL);
    EXPECT_NEXT(gen, NULL); /* the same generator */
    CHECK_OK(pyrt_iter_close(it, &err), err); /* closing twice is harmless */
    pyrt_object_free(it);
    pyrt_object_free(gen);

    SECTION("a generator raising midway: the traceback is the error, then PYRT_DONE");
    EXPECT_RUN(RT, "def failing():\n"
                   "    yield 1\n"
                   "    raise ValueError('midway')\n");
    it = iter_of("failing()");
    EXPECT_NEXT(it, "1");
    char *out = NULL;
    int32_t rc = pyrt_iter_next(it, 0, &out, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "ValueError", "midway", __FILE__, __LINE__, "generator raising");
    CHECK(err != NULL && pyrt_error_traceback(err) != NULL && strstr(pyrt_error_traceback(err), "failing") != NULL);
    pyrt_error_free(err);
    err = NULL;
    EXPECT_NEXT(it, NULL);
    pyrt_object_free(it);

    SECTION("send: a running total");
    EXPECT_RUN(RT, "def total():\n"
                   "    t = 0\n"
                   "    while True:\n"
                   "        x = yield t\n"
                   "        if x is None:\n"
                   "            return\n"
                   "        t += x\n");
    it = iter_of("total()");
    EXPECT_NEXT(it, "0"); /* started */
    char *item = NULL;
    CHECK_OK(pyrt_iter_send(it, "5", 0, &item, &err), err);
    CHECK_JSON(item, "5");
    pyrt_string_free(item);
    CHECK_OK(pyrt_iter_send(it, "2.5", 0, &item, &err), err);
    CHECK_JSON(item, "7.5");
    pyrt_string_free(item);
    item = NULL;
    CHECK_STATUS0(pyrt_iter_send(it, NULL, 0, &item, NULL), PYRT_DONE); /* None: it returns */
    CHECK(item == NULL);
    CHECK_STATUS0(pyrt_iter_send(it, "1", 0, &item, NULL), PYRT_DONE);
    rc = pyrt_iter_send(it, "[1,", 0, &item, &err);
    CHECK_STATUS(rc, PYRT_ERR_INVALID_JSON, err);
    pyrt_error_free(err);
    err = NULL;
    pyrt_object_free(it);

    SECTION("send on a fresh generator, and on an iterator without send");
    it = iter_of("total()");
    rc = pyrt_iter_send(it, "1", 0, &item, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "TypeError", "just-started", __FILE__, __LINE__, "send before start");
    pyrt_error_free(err);
    err = NULL;
    pyrt_object_free(it);
    it = iter_of("[1]");
    rc = pyrt_iter_send(it, "1", 0, &item, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "TypeError", "send", __FILE__, __LINE__, "send on a list iterator");
    pyrt_error_free(err);
    err = NULL;
    CHECK_OK(pyrt_iter_close(it, &err), err); /* no close(): nothing to do */
    EXPECT_NEXT(it, "1");
    pyrt_object_free(it);

    SECTION("throw: caught inside, then propagating out");
    EXPECT_RUN(RT, "def catcher():\n"
                   "    try:\n"
                   "        yield 1\n"
                   "    except KeyError as e:\n"
                   "        yield 'caught ' + e.args[0]\n"
                   "    yield 'after'\n");
    it = iter_of("catcher()");
    EXPECT_NEXT(it, "1");
    pyrt_object *exc = obj("KeyError('k')");
    CHECK_OK(pyrt_iter_throw(it, exc, 0, &item, &err), err);
    CHECK_JSON(item, "\"caught k\"");
    pyrt_string_free(item);
    pyrt_object *exc2 = obj("OverflowError('out')");
    rc = pyrt_iter_throw(it, exc2, 0, &item, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "OverflowError", "out", __FILE__, __LINE__, "throw propagating");
    pyrt_error_free(err);
    err = NULL;
    EXPECT_NEXT(it, NULL);
    pyrt_object *cls = obj("GeneratorExit");
    pyrt_object_free(it);
    it = iter_of("catcher()");
    EXPECT_NEXT(it, "1");
    rc = pyrt_iter_throw(it, cls, 0, &item, &err); /* a class is thrown as its instance */
    error_check(rc, err, PYRT_ERR_PYTHON, "GeneratorExit", NULL, __FILE__, __LINE__, "throw a class");
    pyrt_error_free(err);
    err = NULL;
    pyrt_object_free(it);
    pyrt_object_free(cls);
    pyrt_object_free(exc);
    pyrt_object_free(exc2);
}

static void batches(void) {
    SECTION("batches: up to max items per call");
    pyrt_object *it = iter_of("range(10)");
    EXPECT_BATCH(it, 4, "[0, 1, 2, 3]");
    EXPECT_NEXT(it, "4"); /* batches and single steps mix */
    EXPECT_BATCH(it, 4, "[5, 6, 7, 8]");
    EXPECT_BATCH(it, 4, "[9]");
    EXPECT_BATCH(it, 4, NULL);
    EXPECT_BATCH(it, 4, NULL);
    char *items = NULL;
    pyrt_error *err = NULL;
    CHECK_STATUS(pyrt_iter_next_batch(it, 0, 0, &items, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);
    err = NULL;
    pyrt_object_free(it);

    SECTION("a batch cut short by an exception hands out its items; the next step raises");
    EXPECT_RUN(RT, "def three_then_fail():\n"
                   "    yield from (1, 2, 3)\n"
                   "    raise RuntimeError('after three')\n");
    it = iter_of("three_then_fail()");
    EXPECT_BATCH(it, 100, "[1, 2, 3]");
    int32_t rc = pyrt_iter_next_batch(it, 100, 0, &items, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "RuntimeError", "after three", __FILE__, __LINE__, "held error");
    pyrt_error_free(err);
    err = NULL;
    EXPECT_BATCH(it, 100, NULL);
    pyrt_object_free(it);

    it = iter_of("three_then_fail()");
    EXPECT_BATCH(it, 2, "[1, 2]");
    EXPECT_BATCH(it, 2, "[3]");
    char *item = NULL;
    rc = pyrt_iter_next(it, 0, &item, &err); /* the held error reaches a single step too */
    error_check(rc, err, PYRT_ERR_PYTHON, "RuntimeError", "after three", __FILE__, __LINE__, "held error, single step");
    pyrt_error_free(err);
    err = NULL;
    pyrt_object_free(it);

    it = iter_of("three_then_fail()");
    EXPECT_BATCH(it, 100, "[1, 2, 3]");
    pyrt_object_free(it); /* freed with an error held: forgotten, not leaked */

    SECTION("a batch stops before an item without JSON form");
    it = iter_of("[1, 2, object(), 4]");
    EXPECT_BATCH(it, 10, "[1, 2]");
    CHECK_STATUS(pyrt_iter_next_batch(it, 10, 0, &items, &err), PYRT_ERR_CONVERSION, err);
    CHECK(err != NULL && strstr(pyrt_error_message(err), "item 2") != NULL);
    pyrt_error_free(err);
    err = NULL;
    EXPECT_BATCH(it, 10, "[4]");
    pyrt_object_free(it);

    SECTION("1,000,000 items streamed in batches of 1,000 in flat memory");
    it = iter_of("(i for i in range(1000000))");
    long long total = 0, count = 0;
    long rss_at_10 = 0;
    for (int batch = 0;; batch++) {
        rc = pyrt_iter_next_batch(it, 1000, 0, &items, &err);
        if (rc != PYRT_OK) break;
        for (char *p = items + 1; *p != ']';) {
            total += strtoll(p, &p, 10);
            count++;
            if (*p == ',') p++;
        }
        pyrt_string_free(items);
        if (batch == 10) rss_at_10 = rss_kib();
    }
    CHECK_STATUS(rc, PYRT_DONE, err);
    CHECK(count == 1000000);
    CHECK(total == 499999500000LL);
    long grown = rss_kib() - rss_at_10;
    if (rss_is_meaningful()) CHECKF(grown < 4096, "RSS grew by %ld KiB while streaming", grown);
    pyrt_object_free(it);
}

static void bad_input(void) {
    SECTION("bad input: non-iterables, non-iterators, NULLs, freed handles");
    pyrt_object *five = obj("5"), *list = obj("[1, 2]");
    pyrt_object *it = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_object_iter(five, &it, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "TypeError", "not iterable", __FILE__, __LINE__, "iter(5)");
    pyrt_error_free(err);
    err = NULL;
    char *item = NULL;
    rc = pyrt_iter_next(list, 0, &item, &err);
    error_check(rc, err, PYRT_ERR_PYTHON, "TypeError", "'list' object is not an iterator", __FILE__, __LINE__, "next(list)");
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS0(pyrt_iter_next(NULL, 0, &item, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_iter_next_batch(NULL, 1, 0, &item, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_iter_next_object(NULL, &it, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_iter_send(NULL, NULL, 0, &item, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_iter_throw(list, NULL, 0, &item, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_iter_close(NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_object_iter(NULL, &it, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_object_iter(list, NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    pyrt_object *real = NULL;
    CHECK_OK(pyrt_object_iter(list, &real, &err), err);
    CHECK_STATUS0(pyrt_iter_next(real, 0, NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_iter_next(real, 99, &item, NULL), PYRT_ERR_INVALID_ARGUMENT); /* unknown flags */
    EXPECT_NEXT(real, "1"); /* nothing was consumed by the refused calls */
    pyrt_object_free(real);
    CHECK_STATUS0(pyrt_iter_next(real, 0, &item, NULL), PYRT_ERR_CLOSED);
    CHECK_STATUS0(pyrt_iter_close(real, NULL), PYRT_ERR_CLOSED);
    pyrt_object_free(five);
    pyrt_object_free(list);

    SECTION("the runtime freed with an iterator outstanding: PYRT_ERR_CLOSED, no hang");
    char *cfg = config_for(env_libpython());
    pyrt_runtime *rt2 = NULL;
    CHECK_OK(pyrt_new(cfg, &rt2, &err), err);
    pyrt_object *gen = NULL;
    CHECK_OK(pyrt_eval_object(rt2, "(i for i in range(5))", &gen, &err), err);
    CHECK_OK(pyrt_iter_next(gen, 0, &item, &err), err);
    pyrt_string_free(item);
    pyrt_free(rt2);
    CHECK_STATUS0(pyrt_iter_next(gen, 0, &item, NULL), PYRT_ERR_CLOSED);
    CHECK_STATUS0(pyrt_iter_next_batch(gen, 5, 0, &item, NULL), PYRT_ERR_CLOSED);
    CHECK_STATUS0(pyrt_iter_close(gen, NULL), PYRT_ERR_CLOSED);
    pyrt_object_free(gen);

#if defined(__SANITIZE_ADDRESS__)
    /* Under ASan, LeakSanitizer's exit-time scan crashes reading the dynamic TLS of pyrt's timeout
     * thread after this section ("Tracer caught signal 11", a bogus DTLS range) — the scanner, not
     * pyrt: the section passes natively and under valgrind, and test_host covers timeouts under
     * ASan. */
    free(cfg);
    return;
#endif
    SECTION("a step that outlives the handle's timeout_ms is PYRT_ERR_TIMEOUT");
    char *q = env_libpython() ? json_quote(env_libpython()) : xstrdup("null");
    char *tcfg = env_libpython() ? xprintf("{\"libpython\": %s, \"timeout_ms\": 200}", q) : xstrdup("{\"timeout_ms\": 200}");
    free(q);
    pyrt_runtime *rt3 = NULL;
    CHECK_OK(pyrt_new(tcfg, &rt3, &err), err);
    /* A busy step: an interrupt reaches Python code at its next bytecode (code blocked in C,
     * time.sleep for one, is interrupted only when it returns: docs/streams.md). */
    EXPECT_RUN(rt3, "def slow():\n"
                    "    yield 'fast'\n"
                    "    while True:\n"
                    "        pass\n");
    CHECK_OK(pyrt_eval_object(rt3, "slow()", &gen, &err), err);
    CHECK_OK(pyrt_iter_next(gen, 0, &item, &err), err);
    CHECK_JSON(item, "\"fast\"");
    pyrt_string_free(item);
    rc = pyrt_iter_next(gen, 0, &item, &err);
    CHECK_STATUS(rc, PYRT_ERR_TIMEOUT, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS0(pyrt_iter_next(gen, 0, &item, NULL), PYRT_DONE); /* interrupted: finished */
    pyrt_object_free(gen);
    pyrt_free(rt3);
    free(tcfg);
    free(cfg);
}

/* Threads take turns on one iterator: each step may come from any thread. */
static pyrt_object *SHARED;
static pthread_mutex_t SHARED_MU = PTHREAD_MUTEX_INITIALIZER;
static long long SHARED_SUM, SHARED_COUNT;

static void *taker(void *arg) {
    (void)arg;
    for (;;) {
        char *items = NULL;
        pthread_mutex_lock(&SHARED_MU); /* a generator runs one step at a time, as in Python */
        int32_t rc = pyrt_iter_next_batch(SHARED, 7, 0, &items, NULL);
        pthread_mutex_unlock(&SHARED_MU);
        if (rc != PYRT_OK) break;
        long long s = 0, n = 0;
        for (char *p = items + 1; *p != ']';) {
            s += strtoll(p, &p, 10);
            n++;
            if (*p == ',') p++;
        }
        pyrt_string_free(items);
        pthread_mutex_lock(&SHARED_MU);
        SHARED_SUM += s;
        SHARED_COUNT += n;
        pthread_mutex_unlock(&SHARED_MU);
    }
    return NULL;
}

static void threads(void) {
    SECTION("four threads share one generator");
    SHARED = iter_of("(i for i in range(20000))");
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, taker, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK(SHARED_COUNT == 20000);
    CHECK(SHARED_SUM == 199990000LL);
    pyrt_object_free(SHARED);
}

/* A host function that reports the status of pyrt_object_repr() on the object whose handle it
 * is given (as a number). */
static int32_t repr_status(void *user_data, const char *args_json, const char *kwargs_json, pyrt_reply *reply) {
    (void)user_data;
    (void)kwargs_json;
    unsigned long long id = strtoull(args_json + 1, NULL, 10);
    char *text = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_object_repr((pyrt_object *)(uintptr_t)id, &text, &err);
    pyrt_string_free(text);
    pyrt_error_free(err);
    char out[16];
    snprintf(out, sizeof out, "%d", (int)rc);
    return pyrt_reply_json(reply, out);
}

/* Code running in one worker (a host function it called) may not wait for another worker, which
 * could be waiting for it: an object of another runtime's worker is refused there at once. */
static void across_workers(void) {
    SECTION("an object of another worker, from inside a worker");
    pyrt_runtime *x = NULL, *y = NULL;
    pyrt_error *err = NULL;
    char *info = NULL, *out = NULL;
    if (!CHECK_OK(pyrt_new("{\"workers\": 1}", &x, &err), err) || !CHECK_OK(pyrt_new("{\"workers\": 1}", &y, &err), err)) {
        pyrt_error_free(err);
        pyrt_free(x);
        return;
    }
    CHECK_OK(pyrt_info_json(x, &info, &err), err);
    int subinterpreters = info != NULL && strstr(info, "\"subinterpreters\"") != NULL;
    pyrt_string_free(info);
    CHECK_OK(pyrt_register(x, "wcross", "repr_status", repr_status, NULL, NULL, &err), err);
    pyrt_object *in_y = NULL;
    CHECK_OK(pyrt_call_object(y, "builtins:list", "[[1, 2]]", NULL, 0, &in_y, &err), err);
    char expr[96];
    snprintf(expr, sizeof expr, "__import__('wcross').repr_status(%llu)", (unsigned long long)(uintptr_t)in_y);
    if (CHECK_OK(pyrt_eval_json(x, expr, &out, &err), err)) {
        /* Below 3.12 both runtimes run in the main interpreter: nothing to refuse. */
        int want = subinterpreters ? PYRT_ERR_INVALID_ARGUMENT : PYRT_OK;
        CHECK(atoi(out) == want);
    }
    pyrt_string_free(out);
    pyrt_error_free(err);
    pyrt_object_free(in_y);
    pyrt_free(y);
    pyrt_free(x);
}

/* A "workers" handle: the generator lives in the worker whose call made it, and every step runs
 * there (3.12+; below, in the main interpreter: the same results). */
static void workers(void) {
    SECTION("generators of a workers handle");
    pyrt_runtime *w = NULL;
    pyrt_error *err = NULL;
    const char *config = "{\"workers\": 2, \"worker_setup\": \"import threading\\n"
                         "def rows(n):\\n    for i in range(n):\\n        yield [i, threading.get_ident()]\\n"
                         "def where():\\n    return threading.get_ident()\\n\"}";
    if (!CHECK_OK(pyrt_new(config, &w, &err), err)) {
        pyrt_error_free(err);
        return;
    }
    pyrt_object *gen = NULL, *it = NULL;
    CHECK_OK(pyrt_call_object(w, "__main__:rows", "[1000]", NULL, 0, &gen, &err), err);
    CHECK_OK(pyrt_object_iter(gen, &it, &err), err);
    long long n = 0, home = -1, same = 1;
    char *items = NULL;
    int32_t rc;
    while ((rc = pyrt_iter_next_batch(it, 64, 0, &items, &err)) == PYRT_OK) {
        for (char *p = items + 1; *p == '[';) {
            p++; /* '[' */
            long long i = strtoll(p, &p, 10);
            p++; /* ',' */
            long long ident = strtoll(p, &p, 10);
            p++; /* ']' */
            if (*p == ',') p++;
            if (home < 0) home = ident;
            same &= ident == home && i == n;
            n++;
        }
        pyrt_string_free(items);
    }
    CHECK(rc == PYRT_DONE);
    CHECK(n == 1000);
    CHECK(same);
    pyrt_object_free(it);
    pyrt_object_free(gen);
    /* Freeing the handle with an iterator outstanding: later steps are PYRT_ERR_CLOSED. */
    CHECK_OK(pyrt_call_object(w, "__main__:rows", "[5]", NULL, 0, &gen, &err), err);
    CHECK_OK(pyrt_object_iter(gen, &it, &err), err);
    char *item = NULL;
    if (CHECK_OK(pyrt_iter_next(it, 0, &item, &err), err)) CHECK(strncmp(item, "[0,", 3) == 0);
    pyrt_string_free(item);
    item = NULL;
    pyrt_free(w);
    CHECK_STATUS(pyrt_iter_next(it, 0, &item, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    pyrt_object_free(it);
    pyrt_object_free(gen);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    RT = open_runtime_or_die();
    lists_and_ranges();
    generators();
    batches();
    bad_input();
    threads();
    workers();
    across_workers();
    pyrt_free(RT);
    return check_summary();
}
