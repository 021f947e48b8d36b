/*
 * test_soak.c — many threads making a long mix of calls at once, every result checked, and
 * resident memory bounded after a warm-up.
 *
 * Each of PYRT_SOAK_THREADS threads (default 8) makes PYRT_SOAK_CALLS calls (default 200,000),
 * cycling through ten kinds:
 *   a JSON call that succeeds; a Python exception (type and message checked); a conversion
 *   error (an object without a JSON form); invalid JSON arguments; an object handle created,
 *   called and freed; a handle passed inside tagged JSON; a typed fast-path call on a shared
 *   handle; run_string + eval_json of a per-thread variable; a tagged round trip (tuple, bytes,
 *   set); and a SystemExit raised by run_string.
 *
 * Memory: the main thread samples VmRSS once every thread has made 10% of its calls (the
 * warm-up) and again at the end, after gc.collect(). With at least 20,000 calls per thread the
 * growth must stay below PYRT_SOAK_RSS_BOUND_MB (default 32 MiB: the whole run makes 1.6 million
 * calls, so a leak of even 20 bytes per call would exceed it). Smaller runs (the quick ones in
 * scripts/test-c.sh, and the ASan ones, whose quarantine holds freed memory) report the growth
 * without judging it.
 */
#define _XOPEN_SOURCE 700

#include <time.h>
#include <unistd.h>

#include "testutil.h"

static pyrt_runtime *g_rt;
static pyrt_object *g_add; /* shared handle for the typed path */
static long g_calls = 200000;
static int g_threads = 8;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_warm; /* threads past their warm-up */

typedef struct {
    int tid;
    long failures;
    char first[512];
} soaker_t;

static void fail(soaker_t *s, long i, const char *what, int32_t rc, pyrt_error *err, const char *got) {
    if (s->failures++ == 0)
        snprintf(s->first, sizeof s->first, "thread %d call %ld (%s): %s %s %.200s", s->tid, i, what,
                 pyrt_status_name(rc), err && pyrt_error_message(err) ? pyrt_error_message(err) : "",
                 got ? got : "");
}

/* one call of kind k; returns nothing, records failures */
static void one(soaker_t *s, long i, int k, pyrt_args *args) {
    char buf[256], want[128], *out = NULL;
    pyrt_error *err = NULL;
    pyrt_object *h = NULL;
    int32_t rc;
    switch (k) {
    case 0: /* success */
        snprintf(buf, sizeof buf, "[%ld, %d]", i, s->tid);
        snprintf(want, sizeof want, "%ld", i + s->tid);
        rc = pyrt_call_json(g_rt, "__main__", "soak_add", buf, NULL, &out, &err);
        if (rc != PYRT_OK || strcmp(out, want) != 0) fail(s, i, "soak_add", rc, err, out);
        break;
    case 1: /* Python exception */
        snprintf(buf, sizeof buf, "[%ld]", i);
        snprintf(want, sizeof want, "fail %ld", i);
        rc = pyrt_call_json(g_rt, "__main__", "soak_fail", buf, NULL, &out, &err);
        if (rc != PYRT_ERR_PYTHON || err == NULL || strcmp(safe_s(pyrt_error_python_type(err)), "KeyError") != 0 ||
            strstr(safe_s(pyrt_error_message(err)), want) == NULL || pyrt_error_traceback(err) == NULL || out != NULL)
            fail(s, i, "soak_fail", rc, err, out);
        break;
    case 2: /* conversion error */
        rc = pyrt_call_json(g_rt, "__main__", "soak_object", NULL, NULL, &out, &err);
        if (rc != PYRT_ERR_CONVERSION || err == NULL || strstr(safe_s(pyrt_error_message(err)), "SoakBox") == NULL || out != NULL)
            fail(s, i, "soak_object", rc, err, out);
        break;
    case 3: /* invalid JSON arguments */
        rc = pyrt_call_json(g_rt, "__main__", "soak_add", "[1, ", NULL, &out, &err);
        if (rc != PYRT_ERR_INVALID_JSON || out != NULL) fail(s, i, "invalid JSON", rc, err, out);
        break;
    case 4: /* a handle created, called, freed */
        snprintf(buf, sizeof buf, "[%ld]", i);
        rc = pyrt_call_object(g_rt, "__main__:SoakBox", buf, NULL, 0, &h, &err);
        if (rc != PYRT_OK) { fail(s, i, "SoakBox()", rc, err, NULL); break; }
        snprintf(want, sizeof want, "%ld", i + 1);
        rc = pyrt_object_call_json(h, "next", NULL, NULL, 0, &out, &err);
        if (rc != PYRT_OK || strcmp(out, want) != 0) fail(s, i, "SoakBox.next", rc, err, out);
        pyrt_object_free(h);
        break;
    case 5: /* a handle inside tagged JSON */
        snprintf(buf, sizeof buf, "[%ld]", i);
        rc = pyrt_call_object(g_rt, "__main__:SoakBox", buf, NULL, 0, &h, &err);
        if (rc != PYRT_OK) { fail(s, i, "SoakBox()", rc, err, NULL); break; }
        snprintf(buf, sizeof buf, "[{\"__pyrt__\":\"object\",\"v\":%llu}]", (unsigned long long)pyrt_object_id(h));
        snprintf(want, sizeof want, "%ld", i);
        rc = pyrt_call_value(g_rt, "__main__:soak_value_of", buf, NULL, PYRT_VALUE_TAGGED, &out, &err);
        if (rc != PYRT_OK || strcmp(out, want) != 0) fail(s, i, "soak_value_of", rc, err, out);
        pyrt_object_free(h);
        break;
    case 6: { /* typed fast path on a shared handle */
        int64_t r = 0;
        pyrt_args_clear(args);
        pyrt_args_push_int(args, i);
        pyrt_args_push_int(args, s->tid);
        rc = pyrt_object_call_int(g_add, args, &r, &err);
        if (rc != PYRT_OK || r != i + s->tid) fail(s, i, "typed soak_add", rc, err, NULL);
        break;
    }
    case 7: /* run code, then read what it did */
        snprintf(buf, sizeof buf, "soak_t%d = %ld * 2", s->tid, i);
        rc = pyrt_run_string(g_rt, buf, &err);
        if (rc != PYRT_OK) { fail(s, i, "run_string", rc, err, NULL); break; }
        snprintf(buf, sizeof buf, "soak_t%d", s->tid);
        snprintf(want, sizeof want, "%ld", i * 2);
        rc = pyrt_eval_json(g_rt, buf, &out, &err);
        if (rc != PYRT_OK || strcmp(out, want) != 0) fail(s, i, "eval_json", rc, err, out);
        break;
    case 8: /* tagged round trip */
        snprintf(buf, sizeof buf,
                 "[{\"__pyrt__\":\"tuple\",\"v\":[%ld,{\"__pyrt__\":\"bytes\",\"v\":\"AP8=\"},{\"__pyrt__\":\"set\",\"v\":[%d]}]}]",
                 i, s->tid);
        snprintf(want, sizeof want,
                 "{\"__pyrt__\":\"tuple\",\"v\":[%ld,{\"__pyrt__\":\"bytes\",\"v\":\"AP8=\"},{\"__pyrt__\":\"set\",\"v\":[%d]}]}",
                 i, s->tid);
        rc = pyrt_call_value(g_rt, "__main__:soak_echo", buf, NULL, PYRT_VALUE_TAGGED, &out, &err);
        if (rc != PYRT_OK || strcmp(out, want) != 0) fail(s, i, "tagged echo", rc, err, out);
        break;
    default: /* SystemExit never ends the process */
        rc = pyrt_run_string(g_rt, "raise SystemExit(5)", &err);
        if (rc != PYRT_ERR_SYSTEM_EXIT || strstr(safe_s(pyrt_error_message(err)), "5") == NULL) fail(s, i, "SystemExit", rc, err, NULL);
        break;
    }
    pyrt_string_free(out);
    pyrt_error_free(err);
}

static void *soaker(void *arg) {
    soaker_t *s = (soaker_t *)arg;
    pyrt_args *args = pyrt_args_new();
    long warm = g_calls / 10;
    for (long i = 0; i < g_calls; i++) {
        if (i == warm) {
            pthread_mutex_lock(&g_mu);
            g_warm++;
            pthread_mutex_unlock(&g_mu);
        }
        one(s, i, (int)((i + s->tid) % 10), args);
    }
    if (warm >= g_calls) {
        pthread_mutex_lock(&g_mu);
        g_warm++;
        pthread_mutex_unlock(&g_mu);
    }
    pyrt_args_free(args);
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *v;
    if ((v = getenv("PYRT_SOAK_CALLS")) != NULL && atol(v) > 0) g_calls = atol(v);
    if ((v = getenv("PYRT_SOAK_THREADS")) != NULL && atoi(v) > 0) g_threads = atoi(v);
    long bound_mib = 32;
    if ((v = getenv("PYRT_SOAK_RSS_BOUND_MB")) != NULL && atol(v) > 0) bound_mib = atol(v);
    printf("test_soak: pyrt %s, PYRT_LIBPYTHON=%s, %d threads x %ld calls\n", pyrt_version(),
           safe_s(env_libpython()), g_threads, g_calls);

    g_rt = open_runtime_or_die();
    EXPECT_RUN(g_rt,
               "def soak_add(a, b):\n    return a + b\n"
               "def soak_fail(n):\n    raise KeyError(f'fail {n}')\n"
               "class SoakBox:\n"
               "    def __init__(self, v):\n        self.v = v\n"
               "    def next(self):\n        return self.v + 1\n"
               "def soak_object():\n    return SoakBox(0)\n"
               "def soak_value_of(box):\n    return box.v\n"
               "def soak_echo(x):\n    return x\n");
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_eval_object(g_rt, "soak_add", &g_add, &err), err);
    pyrt_error_free(err);

    SECTION("threads calling");
    pthread_t *th = (pthread_t *)calloc((size_t)g_threads, sizeof *th);
    soaker_t *ss = (soaker_t *)calloc((size_t)g_threads, sizeof *ss);
    double t0 = now_s();
    for (int i = 0; i < g_threads; i++) {
        ss[i].tid = i;
        pthread_create(&th[i], NULL, soaker, &ss[i]);
    }
    for (;;) {
        pthread_mutex_lock(&g_mu);
        int w = g_warm;
        pthread_mutex_unlock(&g_mu);
        if (w >= g_threads) break;
        nanosleep(&(struct timespec){0, 2000000L}, NULL);
    }
    long rss0 = rss_kib();
    for (int i = 0; i < g_threads; i++) pthread_join(th[i], NULL);
    double secs = now_s() - t0;
    long total_failures = 0;
    for (int i = 0; i < g_threads; i++) {
        CHECKF(ss[i].failures == 0, "%ld failed calls, first: %s", ss[i].failures, ss[i].first);
        total_failures += ss[i].failures;
    }
    EXPECT_RUN(g_rt, "import gc; gc.collect()");
    long rss1 = rss_kib();
    long total = (long)g_threads * g_calls;
    printf("  %ld calls in %.1f s (%.0f calls/s), %ld failed\n", total, secs, (double)total / secs, total_failures);
    printf("  VmRSS after warm-up %ld KiB, at the end %ld KiB: %+ld KiB (bound %ld MiB%s)\n", rss0, rss1,
           rss1 - rss0, bound_mib, g_calls >= 20000 ? "" : ", not judged below 20,000 calls per thread");
    if (g_calls >= 20000)
        CHECKF(rss1 - rss0 <= bound_mib * 1024, "RSS grew by %ld KiB after the warm-up", rss1 - rss0);
    char *nvars = xprintf("%d", g_threads);
    EXPECT_EVAL(g_rt, "len([k for k in globals() if k.startswith('soak_t')])", nvars);
    free(nvars);
    pyrt_object_free(g_add);
    pyrt_free(g_rt);
    free(th);
    free(ss);
    return check_summary();
}
