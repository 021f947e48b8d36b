/*
 * test_leak.c — call each API many times and check that neither Python's allocated blocks
 * (sys.getallocatedblocks(), read through pyrt_eval_json) nor the process's resident memory grow
 * after a warm-up (checked when there are at least 5,000 calls per API).
 *
 *   PYRT_TEST_ITERATIONS  calls per API (default 20000). scripts/test-c.sh runs this natively with
 *                         the default and again under valgrind with a few hundred, where valgrind
 *                         sees leaks of pyrt's own (Rust) allocations that Python cannot count.
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE /* mkstemps */

#include <unistd.h>

#include "testutil.h"

static long iterations = 20000;

static long long blocks(pyrt_runtime *rt) {
    pyrt_run_string(rt, "import gc; gc.collect()", NULL);
    return eval_ll(rt, "__import__('sys').getallocatedblocks()");
}

typedef void (*op_fn)(pyrt_runtime *rt, void *ctx);

/* Growth over one round of `iterations` calls after the first `warm` ones. */
static void round_growth(pyrt_runtime *rt, op_fn op, void *ctx, long long *blocks_grown, long *rss_grown) {
    long long b0 = blocks(rt);
    long r0 = rss_kib();
    for (long i = 0; i < iterations; i++) op(rt, ctx);
    long long b1 = blocks(rt);
    long r1 = rss_kib();
    *blocks_grown = (b0 == LLONG_MIN || b1 == LLONG_MIN) ? LLONG_MIN : b1 - b0;
    *rss_grown = r1 - r0;
}

static void measure(pyrt_runtime *rt, const char *name, op_fn op, void *ctx) {
    long warm = iterations / 10 < 200 ? (iterations < 200 ? iterations : 200) : iterations / 10;
    for (long i = 0; i < warm; i++) op(rt, ctx);
    long long bound = iterations / 50 > 100 ? iterations / 50 : 100; /* < 1 block per 50 calls */
    long rss_bound = 8 * 1024;                                       /* KiB */
    long long db;
    long dr;
    round_growth(rt, op, ctx, &db, &dr);
    printf("  %-34s %6ld calls: blocks %+lld, rss %+ld KiB\n", name, iterations, db, dr);
    CHECKF(db != LLONG_MIN, "%s: could not read sys.getallocatedblocks()", name);
    /* With few iterations (the valgrind run) Python's own caches (linecache, traceback
     * formatting, type caches) are still filling up; there valgrind itself is the leak check. */
    if (iterations < 5000) return;
    /* A leak grows with every round; a cache that fills up, a free list, an arena kept by the
     * allocator or a GC generation that happened to be full grows once. Over the bound in the first
     * round, a second round decides (Debian's 3.11 under a loaded CI machine showed such one-offs). */
    if (db >= bound || dr >= rss_bound) {
        long long db2;
        long dr2;
        round_growth(rt, op, ctx, &db2, &dr2);
        printf("  %-34s %6ld more:  blocks %+lld, rss %+ld KiB\n", name, iterations, db2, dr2);
        CHECKF(db < bound || db2 < bound, "%s: Python blocks grew by %lld, then %lld, over 2 x %ld calls (bound %lld)", name,
               db, db2, iterations, bound);
        CHECKF(dr < rss_bound || dr2 < rss_bound, "%s: RSS grew by %ld, then %ld KiB, over 2 x %ld calls (bound %ld KiB)",
               name, dr, dr2, iterations, rss_bound);
        return;
    }
    CHECK(db < bound);
    CHECK(dr < rss_bound);
}

/* ---- the operations */
static void op_run_ok(pyrt_runtime *rt, void *c) { (void)c; if (pyrt_run_string(rt, "leak_x = [1, 'two', 3.0]", NULL)) abort(); }
static void op_run_err(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    if (pyrt_run_string(rt, "raise ValueError('x' * 100)", &err) != PYRT_ERR_PYTHON) abort();
    if (pyrt_error_traceback(err) == NULL || pyrt_error_python_type(err) == NULL) abort();
    pyrt_error_free(err);
}
static void op_run_exit(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    if (pyrt_run_string(rt, "raise SystemExit(3)", &err) != PYRT_ERR_SYSTEM_EXIT) abort();
    pyrt_error_free(err);
}
static void op_run_file(pyrt_runtime *rt, void *c) { if (pyrt_run_file(rt, (const char *)c, NULL)) abort(); }
static void op_run_file_missing(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    if (pyrt_run_file(rt, "/nonexistent/pyrt/leak.py", &err) != PYRT_ERR_FILE_NOT_FOUND) abort();
    pyrt_error_free(err);
}
static void op_eval(pyrt_runtime *rt, void *c) {
    (void)c;
    char *out = NULL;
    if (pyrt_eval_json(rt, "{'a': leak_x, 'b': 2**100, 'c': 'h\\u00e9'}", &out, NULL)) abort();
    pyrt_string_free(out);
}
static void op_eval_conversion(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    char *out = NULL;
    if (pyrt_eval_json(rt, "[1, {'k': {1, 2}}]", &out, &err) != PYRT_ERR_CONVERSION) abort();
    pyrt_error_free(err);
}
static void op_call_sqrt(pyrt_runtime *rt, void *c) {
    (void)c;
    char *out = NULL;
    if (pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, NULL)) abort();
    if (strcmp(out, "4.0") != 0) abort();
    pyrt_string_free(out);
}
static void op_call_main(pyrt_runtime *rt, void *c) {
    (void)c;
    char *out = NULL;
    if (pyrt_call_json(rt, "__main__", "leak_fn", "[[1, 2.5, \"s\", null, true, {\"k\": [1]}], 123456789012345678901234567890]",
                       "{\"extra\": {\"x\": \"y\"}}", &out, NULL))
        abort();
    pyrt_string_free(out);
}
static void op_call_dotted(pyrt_runtime *rt, void *c) {
    (void)c;
    char *out = NULL;
    if (pyrt_call_json(rt, "os", "path.join", "[\"a\", \"b\"]", NULL, &out, NULL)) abort();
    pyrt_string_free(out);
}
static void op_call_raises(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    char *out = NULL;
    if (pyrt_call_json(rt, "__main__", "leak_div", "[1, 0]", NULL, &out, &err) != PYRT_ERR_PYTHON) abort();
    pyrt_error_free(err);
}
static void op_call_qualified_exc(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    char *out = NULL;
    if (pyrt_call_json(rt, "json", "loads", "[\"{\"]", NULL, &out, &err) != PYRT_ERR_PYTHON) abort();
    pyrt_error_free(err);
}
static void op_call_missing_module(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    char *out = NULL;
    if (pyrt_call_json(rt, "no_such_module_leak", "f", NULL, NULL, &out, &err) != PYRT_ERR_PYTHON) abort();
    pyrt_error_free(err);
}
static void op_call_missing_attr(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    char *out = NULL;
    if (pyrt_call_json(rt, "math", "nope", NULL, NULL, &out, &err) != PYRT_ERR_PYTHON) abort();
    pyrt_error_free(err);
}
static void op_bad_input(pyrt_runtime *rt, void *c) {
    (void)c;
    pyrt_error *err = NULL;
    char *out = NULL;
    if (pyrt_call_json(rt, "math", "sqrt", "[1,", NULL, &out, &err) != PYRT_ERR_INVALID_JSON) abort();
    pyrt_error_free(err);
    err = NULL;
    if (pyrt_call_json(rt, "math", "sqrt", "{}", NULL, &out, &err) != PYRT_ERR_INVALID_ARGUMENT) abort();
    pyrt_error_free(err);
    err = NULL;
    if (pyrt_run_string(rt, "\xff", &err) != PYRT_ERR_INVALID_UTF8) abort();
    pyrt_error_free(err);
    err = NULL;
    if (pyrt_eval_json(rt, NULL, &out, &err) != PYRT_ERR_INVALID_ARGUMENT) abort();
    pyrt_error_free(err);
}
static void op_info(pyrt_runtime *rt, void *c) {
    (void)c;
    char *out = NULL;
    if (pyrt_info_json(rt, &out, NULL)) abort();
    pyrt_string_free(out);
}
static void op_new_free(pyrt_runtime *rt, void *c) {
    (void)rt;
    pyrt_runtime *r2 = NULL;
    if (pyrt_new((const char *)c, &r2, NULL)) abort();
    pyrt_free(r2);
}
static void op_closed(pyrt_runtime *rt, void *c) {
    (void)rt;
    pyrt_error *err = NULL;
    char *out = NULL;
    if (pyrt_eval_json((pyrt_runtime *)c, "1", &out, &err) != PYRT_ERR_CLOSED) abort();
    pyrt_error_free(err);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *it = getenv("PYRT_TEST_ITERATIONS");
    if (it != NULL && atol(it) > 0) iterations = atol(it);
    printf("test_leak: pyrt %s, PYRT_LIBPYTHON=%s, %ld iterations per API\n", pyrt_version(),
           safe_s(env_libpython()), iterations);
    pyrt_runtime *rt = open_runtime_or_die();
    EXPECT_RUN(rt,
               "def leak_fn(a, b, **kw):\n"
               "    return {'a': a, 'b': b, 'kw': kw, 't': (1, 2)}\n"
               "def leak_div(a, b):\n"
               "    return a / b\n");
    char path[] = "/tmp/pyrt-leak-XXXXXX.py";
    int fd = mkstemps(path, 3);
    if (fd < 0) { CHECKF(0, "mkstemps failed"); return check_summary(); }
    const char *code = "leak_file_value = sum(range(10))\n";
    if (write(fd, code, strlen(code)) < 0) CHECKF(0, "write failed");
    close(fd);
    char *cfg = config_for(env_libpython());
    pyrt_runtime *closed = NULL;
    if (pyrt_new(cfg, &closed, NULL) == PYRT_OK) pyrt_free(closed);

    SECTION("allocation growth per API");
    measure(rt, "pyrt_run_string", op_run_ok, NULL);
    measure(rt, "pyrt_run_string (exception)", op_run_err, NULL);
    measure(rt, "pyrt_run_string (SystemExit)", op_run_exit, NULL);
    measure(rt, "pyrt_run_file", op_run_file, path);
    measure(rt, "pyrt_run_file (not found)", op_run_file_missing, NULL);
    measure(rt, "pyrt_eval_json", op_eval, NULL);
    measure(rt, "pyrt_eval_json (conversion error)", op_eval_conversion, NULL);
    measure(rt, "pyrt_call_json math.sqrt", op_call_sqrt, NULL);
    measure(rt, "pyrt_call_json __main__ + kwargs", op_call_main, NULL);
    measure(rt, "pyrt_call_json os path.join", op_call_dotted, NULL);
    measure(rt, "pyrt_call_json (exception)", op_call_raises, NULL);
    measure(rt, "pyrt_call_json (JSONDecodeError)", op_call_qualified_exc, NULL);
    measure(rt, "pyrt_call_json (missing module)", op_call_missing_module, NULL);
    measure(rt, "pyrt_call_json (missing attribute)", op_call_missing_attr, NULL);
    measure(rt, "bad input (JSON, UTF-8, NULL)", op_bad_input, NULL);
    measure(rt, "pyrt_info_json", op_info, NULL);
    measure(rt, "pyrt_new + pyrt_free (2nd handle)", op_new_free, cfg);
    measure(rt, "closed handle", op_closed, closed);

    unlink(path);
    free(cfg);
    pyrt_free(rt);
    return check_summary();
}
