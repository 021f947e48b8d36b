/*
 * test_threads.c — the first pyrt_new from 8 threads at once; 16 OS threads calling at once
 * (every result checked); handles opened and freed from many threads while others call;
 * per-thread Python state (threading.local, decimal context) persisting across calls on one OS
 * thread; calls that release the GIL running in parallel; short-lived threads not accumulating
 * Python thread states; pyrt_free from other threads (also while a call runs).
 *
 *   PYRT_TEST_THREAD_CALLS  rounds per thread (default 100)
 */
#define _XOPEN_SOURCE 700

#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NTHREADS 16

static pyrt_runtime *g_rt;
static long g_rounds = 100;
static pthread_barrier_t g_barrier;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    int tid;
    int failures;
    char first_failure[512];
} worker_t;

static void worker_fail(worker_t *w, const char *what, int32_t rc, const char *got) {
    if (w->failures++ == 0)
        snprintf(w->first_failure, sizeof w->first_failure, "thread %d: %s: %s %.200s", w->tid, what,
                 pyrt_status_name(rc), got ? got : "");
}

/* call and compare the raw JSON text with want */
static void w_call(worker_t *w, const char *mod, const char *fn, const char *args, const char *want) {
    char *out = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_call_json(g_rt, mod, fn, args, NULL, &out, &err);
    if (rc != PYRT_OK) worker_fail(w, fn, rc, err ? pyrt_error_message(err) : NULL);
    else {
        char *a = json_canon(out), *b = json_canon(want);
        if (a == NULL || b == NULL || strcmp(a, b) != 0) worker_fail(w, fn, rc, out);
        free(a);
        free(b);
    }
    pyrt_string_free(out);
    pyrt_error_free(err);
}

static void w_eval(worker_t *w, const char *expr, const char *want) {
    char *out = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_eval_json(g_rt, expr, &out, &err);
    if (rc != PYRT_OK) worker_fail(w, expr, rc, err ? pyrt_error_message(err) : NULL);
    else {
        char *a = json_canon(out), *b = json_canon(want);
        if (a == NULL || b == NULL || strcmp(a, b) != 0) worker_fail(w, expr, rc, out);
        free(a);
        free(b);
    }
    pyrt_string_free(out);
    pyrt_error_free(err);
}

static void w_run(worker_t *w, const char *code) {
    pyrt_error *err = NULL;
    int32_t rc = pyrt_run_string(g_rt, code, &err);
    if (rc != PYRT_OK) worker_fail(w, code, rc, err ? pyrt_error_message(err) : NULL);
    pyrt_error_free(err);
}

static void *worker(void *arg) {
    worker_t *w = (worker_t *)arg;
    char buf[256], want[256];
    /* per-thread Python state set once, checked after every round of other threads' calls */
    snprintf(buf, sizeof buf, "tl.value = %d\ndecimal.getcontext().prec = %d\n", w->tid, 5 + w->tid);
    pthread_barrier_wait(&g_barrier);
    w_run(w, buf);
    char *ident = NULL;
    pyrt_eval_json(g_rt, "threading.get_ident()", &ident, NULL);
    for (long r = 0; r < g_rounds; r++) {
        long x = w->tid * 1000 + r;
        snprintf(buf, sizeof buf, "[%ld.0]", x * x);
        snprintf(want, sizeof want, "%ld.0", x);
        w_call(w, "math", "sqrt", buf, want);
        snprintf(buf, sizeof buf, "[%d, %ld, \"t%d\"]", w->tid, r, w->tid);
        snprintf(want, sizeof want, "[%d, %ld, %ld, \"t%d-%ld\"]", w->tid, r, (long)w->tid * r, w->tid, r);
        w_call(w, "__main__", "tagged", buf, want);
        snprintf(buf, sizeof buf, "%d * 1000 + %ld", w->tid, r);
        snprintf(want, sizeof want, "%ld", x);
        w_eval(w, buf, want);
        snprintf(buf, sizeof buf, "results[(%d, %ld)] = %ld", w->tid, r, x);
        w_run(w, buf);
        /* thread-local state is still this thread's */
        snprintf(want, sizeof want, "%d", w->tid);
        w_eval(w, "tl.value", want);
        snprintf(want, sizeof want, "%d", 5 + w->tid);
        w_eval(w, "decimal.getcontext().prec", want);
        if (ident != NULL) w_eval(w, "threading.get_ident()", ident);
    }
    /* 1/7 at this thread's precision */
    snprintf(want, sizeof want, "%d", 5 + w->tid + 2);
    w_eval(w, "len(str(decimal.Decimal(1) / decimal.Decimal(7)))", want);
    pyrt_string_free(ident);
    return NULL;
}

typedef struct {
    const char *cfg;
    pyrt_runtime *rt;
    int32_t rc;
} starter_t;

static void *starter(void *arg) {
    starter_t *st = (starter_t *)arg;
    pthread_barrier_wait(&g_barrier);
    st->rc = pyrt_new(st->cfg, &st->rt, NULL);
    return NULL;
}

/* The very first pyrt_new calls of the process, from 8 threads at once: one interpreter starts,
 * every caller gets a handle to it. Returns one handle (the others are freed). */
static pyrt_runtime *test_concurrent_start(void) {
    SECTION("8 threads call the first pyrt_new at once");
    enum { N = 8 };
    pthread_t th[N];
    starter_t st[N];
    char *cfg = config_for(env_libpython());
    pthread_barrier_init(&g_barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        st[i].cfg = cfg;
        st[i].rt = NULL;
        st[i].rc = -1;
        pthread_create(&th[i], NULL, starter, &st[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_barrier);
    free(cfg);
    pyrt_runtime *keep = NULL;
    for (int i = 0; i < N; i++) {
        CHECKF(st[i].rc == PYRT_OK && st[i].rt != NULL, "starter %d: %s", i, pyrt_status_name(st[i].rc));
        if (st[i].rc == PYRT_OK && keep == NULL) keep = st[i].rt;
    }
    if (keep == NULL) {
        printf("no runtime started; giving up\n");
        exit(check_summary() + 1);
    }
    EXPECT_RUN(keep, "started_once = 'yes'");
    for (int i = 0; i < N; i++) {
        if (st[i].rc != PYRT_OK || st[i].rt == keep) continue;
        EXPECT_EVAL(st[i].rt, "started_once", "\"yes\"");
        pyrt_free(st[i].rt);
    }
    EXPECT_EVAL(keep, "started_once", "\"yes\"");
    return keep;
}

static void test_concurrent_calls(void) {
    SECTION("16 threads calling at once, every result checked");
    EXPECT_RUN(g_rt,
               "import threading, decimal, math\n"
               "tl = threading.local()\n"
               "results = {}\n"
               "def tagged(t, r, s):\n"
               "    return [t, r, t * r, '%s-%d' % (s, r)]\n");
    pthread_t th[NTHREADS];
    worker_t w[NTHREADS];
    pthread_barrier_init(&g_barrier, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].tid = i + 1;
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_barrier);
    for (int i = 0; i < NTHREADS; i++)
        CHECKF(w[i].failures == 0, "%d failures; first: %s", w[i].failures, w[i].first_failure);
    char want[64];
    snprintf(want, sizeof want, "%ld", (long)NTHREADS * g_rounds);
    EXPECT_EVAL(g_rt, "len(results)", want);
    EXPECT_EVAL(g_rt, "all(v == t * 1000 + r for (t, r), v in results.items())", "true");
    /* the main thread never set tl.value; its decimal context is the default */
    EXPECT_EVAL(g_rt, "hasattr(tl, 'value')", "false");
    EXPECT_EVAL(g_rt, "decimal.getcontext().prec", "28");
}

static void *handle_churn(void *arg) {
    int *bad = (int *)arg;
    char *cfg = config_for(env_libpython());
    pthread_barrier_wait(&g_barrier);
    for (int i = 0; i < 50; i++) {
        pyrt_runtime *rt = NULL;
        char *out = NULL;
        if (pyrt_new(cfg, &rt, NULL) != PYRT_OK) { (*bad)++; continue; }
        if (pyrt_call_json(rt, "math", "sqrt", "[9.0]", NULL, &out, NULL) != PYRT_OK || strcmp(out, "3.0") != 0) (*bad)++;
        pyrt_string_free(out);
        pyrt_free(rt);
        /* the freed handle is closed even while other handles come and go */
        if (pyrt_eval_json(rt, "1", &out, NULL) != PYRT_ERR_CLOSED) (*bad)++;
    }
    free(cfg);
    return NULL;
}

static void test_handle_churn(void) {
    SECTION("8 threads open, use and free handles while the main handle stays open");
    pthread_t th[8];
    int bad[8] = {0};
    pthread_barrier_init(&g_barrier, NULL, 8);
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, handle_churn, &bad[i]);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_barrier);
    for (int i = 0; i < 8; i++) CHECKF(bad[i] == 0, "thread %d: %d bad results", i, bad[i]);
    EXPECT_EVAL(g_rt, "'main handle still open'", "\"main handle still open\"");
}

/* one thread sets state in several separate calls; it persists between them */
static void *persist_worker(void *arg) {
    int *ok = (int *)arg;
    pyrt_runtime *rt = g_rt;
    char *out = NULL;
    *ok = pyrt_run_string(rt, "tl.persist = 'mine'", NULL) == PYRT_OK;
    *ok &= pyrt_run_string(rt, "decimal.getcontext().prec = 3", NULL) == PYRT_OK;
    *ok &= pyrt_eval_json(rt, "[tl.persist, str(decimal.Decimal(2) / decimal.Decimal(3))]", &out, NULL) == PYRT_OK;
    if (*ok) {
        char *c = json_canon(out);
        *ok = c != NULL && strcmp(c, "[\"mine\",\"0.667\"]") == 0;
        if (!*ok) printf("  persist_worker got %s\n", out);
        free(c);
    }
    pyrt_string_free(out);
    return NULL;
}

static void test_thread_state_persists(void) {
    SECTION("threading.local and decimal context persist across calls on one OS thread");
    int ok = 0;
    pthread_t t;
    pthread_create(&t, NULL, persist_worker, &ok);
    pthread_join(t, NULL);
    CHECK(ok);
    /* and on the main thread, in separate calls */
    EXPECT_RUN(g_rt, "tl.main_value = 'main'");
    EXPECT_RUN(g_rt, "decimal.getcontext().prec = 4");
    EXPECT_EVAL(g_rt, "tl.main_value", "\"main\"");
    EXPECT_EVAL(g_rt, "str(decimal.Decimal(1) / decimal.Decimal(3))", "\"0.3333\"");
    EXPECT_EVAL(g_rt, "hasattr(tl, 'persist')", "false"); /* another thread's value is not visible here */
    EXPECT_RUN(g_rt, "decimal.getcontext().prec = 28");
}

static void *sleeper(void *arg) {
    int32_t *rc = (int32_t *)arg;
    char *out = NULL;
    pthread_barrier_wait(&g_barrier);
    *rc = pyrt_call_json(g_rt, "time", "sleep", "[0.3]", NULL, &out, NULL);
    pyrt_string_free(out);
    return NULL;
}

static void test_parallel_sleep(void) {
    SECTION("calls that release the GIL run in parallel");
    pthread_t th[10];
    int32_t rc[10];
    pthread_barrier_init(&g_barrier, NULL, 11);
    for (int i = 0; i < 10; i++) pthread_create(&th[i], NULL, sleeper, &rc[i]);
    pthread_barrier_wait(&g_barrier);
    double t0 = now_s();
    for (int i = 0; i < 10; i++) pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    pthread_barrier_destroy(&g_barrier);
    for (int i = 0; i < 10; i++) CHECK_INT(rc[i], PYRT_OK);
    printf("  10 x time.sleep(0.3) took %.2f s\n", dt);
    CHECKF(dt < 2.0, "10 concurrent sleeps of 0.3 s took %.2f s (serialised would be 3 s)", dt);
}

static void *short_lived(void *arg) {
    int *ok = (int *)arg;
    char *out = NULL;
    *ok = pyrt_call_json(g_rt, "math", "sqrt", "[4.0]", NULL, &out, NULL) == PYRT_OK && strcmp(out, "2.0") == 0;
    pyrt_string_free(out);
    *ok &= pyrt_run_string(g_rt, "tl.short_lived = 1", NULL) == PYRT_OK;
    return NULL;
}

static void test_thread_churn(void) {
    SECTION("short-lived threads: their Python thread states do not accumulate");
    int n = 300, bad = 0;
    long long b0 = 0, b1 = 0;
    char *before = NULL, *after = NULL;
    for (int round = 0; round < 2; round++) { /* round 0 warms up */
        if (round == 1) {
            pyrt_run_string(g_rt, "import gc; gc.collect()", NULL);
            b0 = eval_ll(g_rt, "__import__('sys').getallocatedblocks()");
            pyrt_eval_json(g_rt, "[threading.active_count(), len(__import__('sys')._current_frames())]", &before, NULL);
        }
        for (int i = 0; i < n; i++) {
            pthread_t t;
            int ok = 0;
            pthread_create(&t, NULL, short_lived, &ok);
            pthread_join(t, NULL);
            bad += !ok;
        }
    }
    pyrt_run_string(g_rt, "import gc; gc.collect()", NULL);
    b1 = eval_ll(g_rt, "__import__('sys').getallocatedblocks()");
    pyrt_eval_json(g_rt, "[threading.active_count(), len(__import__('sys')._current_frames())]", &after, NULL);
    CHECK_INT(bad, 0);
    printf("  %d threads, one call each: blocks %+lld, [threads, frames] %s -> %s\n", n, b1 - b0, safe_s(before), safe_s(after));
    /* A thread's leftovers (its threading.local entry, its state's objects) are at least one block
     * each, so a leak grows by n or more. Without one the count still moves: on the free-threaded
     * 3.13t, whose allocator keeps exited threads' pages for a while, by +4 to +63 in plain runs
     * and +124 once under ASan, which failed the old bound of 100. */
    CHECKF(b1 - b0 < n / 2, "Python blocks grew by %lld over %d short-lived threads", b1 - b0, n);
    CHECK_STR(after, before);
    pyrt_string_free(before);
    pyrt_string_free(after);
}

static void *free_in_thread(void *arg) {
    pyrt_free((pyrt_runtime *)arg);
    return NULL;
}

typedef struct {
    int32_t rc;
    char *out;
} slow_t;

static void *slow_call(void *arg) {
    slow_t *s = (slow_t *)arg;
    s->rc = pyrt_call_json(g_rt, "__main__", "slow", "[0.5]", NULL, &s->out, NULL);
    return NULL;
}

static void test_free_from_other_threads(void) {
    SECTION("pyrt_free from other threads");
    pyrt_runtime *rt2 = NULL;
    char *cfg = config_for(env_libpython());
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_new(cfg, &rt2, &err), err);
    pyrt_error_free(err);
    err = NULL;
    pthread_t t;
    pthread_create(&t, NULL, free_in_thread, rt2);
    pthread_join(t, NULL);
    CHECK_STATUS(pyrt_eval_json(rt2, "1", &(char *){NULL}, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    EXPECT_EVAL(g_rt, "'main handle alive'", "\"main handle alive\"");

    /* free the LAST handle from another thread while a call on a third thread is running:
     * pyrt_free waits for the call, which completes normally; then the interpreter is finalized */
    EXPECT_RUN(g_rt, "import time\ndef slow(s):\n    time.sleep(s)\n    return 'done'\n");
    slow_t s = {-1, NULL};
    pthread_t tw, tf;
    pthread_create(&tw, NULL, slow_call, &s);
    nanosleep(&(struct timespec){0, 150 * 1000 * 1000}, NULL);
    double t0 = now_s();
    pthread_create(&tf, NULL, free_in_thread, g_rt);
    pthread_join(tf, NULL);
    double dt = now_s() - t0;
    pthread_join(tw, NULL);
    CHECK_INT(s.rc, PYRT_OK);
    CHECK_STR(s.out, "\"done\"");
    pyrt_string_free(s.out);
    printf("  pyrt_free of the last handle returned after %.2f s\n", dt);
    CHECK_STATUS(pyrt_eval_json(g_rt, "1", &(char *){NULL}, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    pyrt_runtime *rt3 = NULL;
    CHECK_STATUS(pyrt_new(cfg, &rt3, &err), PYRT_ERR_FINALIZED, err);
    CHECK(rt3 == NULL);
    pyrt_error_free(err);
    free(cfg);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *r = getenv("PYRT_TEST_THREAD_CALLS");
    if (r != NULL && atol(r) > 0) g_rounds = atol(r);
    printf("test_threads: pyrt %s, PYRT_LIBPYTHON=%s, %d threads x %ld rounds\n", pyrt_version(),
           safe_s(env_libpython()), NTHREADS, g_rounds);
    g_rt = test_concurrent_start();
    test_concurrent_calls();
    test_handle_churn();
    test_thread_state_persists();
    test_parallel_sleep();
    test_thread_churn();
    test_free_from_other_threads();
    return check_summary();
}
