/*
 * test_faults.c — faults a host can meet, each with a defined outcome (docs/guarantees.md).
 *
 * Every case runs in its own child process (this program re-executed with `--case NAME`):
 * CPython starts once per process, and some cases end the process on purpose or would take
 * the test down if pyrt broke its promise. Under valgrind (--trace-children=yes) or ASan the
 * children are checked too: a memory error makes the child exit 99 (valgrind) or 98 (ASan),
 * which fails the case. The parent checks each child's exit status, and for the cases that
 * report checks, that its last line is "N passed, 0 failed".
 *
 *   free_during_calls        pyrt_free of the last handle while 4 threads are inside calls:
 *                            it waits for them; their calls return normally; later calls on the
 *                            freed handle are PYRT_ERR_CLOSED; pyrt_new is PYRT_ERR_FINALIZED
 *   free_other_handle        freeing one handle (not the last) while other threads call through
 *                            another: they are not disturbed
 *   python_threads_at_free   Python threads still running at pyrt_free: a non-daemon thread is
 *                            joined (its work is done when pyrt_free returns), daemon threads
 *                            blocked in a sleep or a wait are abandoned; the process exits 0
 *                            (daemon threads that wake after it: CPython gh-110052, see the case)
 *   recursion                RecursionError (Python recursion, a deep repr) is an ordinary
 *                            PYRT_ERR_PYTHON; 100,000-deep values are errors, not stack overflows
 *   memory_error             MemoryError from huge allocations is PYRT_ERR_PYTHON; the
 *                            interpreter keeps working
 *   del_exception            an exception raised in __del__ (object dropped in Python, handle
 *                            freed by the host, object alive at finalization) is reported to
 *                            sys.unraisablehook and never to an unrelated call
 *   sigint_host_handler      SIGINT with a host handler installed: the host's handler runs, no
 *                            KeyboardInterrupt appears in Python, also after `import signal`
 *   sigint_default           SIGINT at its default disposition, after Python code imported
 *                            `signal`/`asyncio`: the default action still happens (the process
 *                            is killed by SIGINT), as in any C program
 *   call_after_free          every function on a freed runtime or object handle: PYRT_ERR_CLOSED
 *                            (PYRT_ERR_FINALIZED for pyrt_new); no crash, no memory error
 *   os_exit                  Python calling os._exit(7) ends the process with status 7 at once,
 *                            as a C library calling _exit would (documented)
 *   sys_exit                 SystemExit is an error (PYRT_ERR_SYSTEM_EXIT), the process goes on
 *   callback_exception       exceptions escaping a host callback (SystemExit, KeyboardInterrupt,
 *                            MemoryError, RecursionError through Python -> C -> Python, in a
 *                            Python thread), host failures, a reply kept past its callback or
 *                            used from another thread: errors, never a crash
 */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* ------------------------------------------------------------------ helpers */

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* ------------------------------------------------------------------ free_during_calls */

typedef struct {
    pyrt_runtime *rt;
    int tid;
    long ok;                 /* successful calls, each result checked */
    int closed;              /* saw PYRT_ERR_CLOSED */
    int ok_after_closed;     /* a success after CLOSED: broken promise */
    int wrong;               /* a wrong result or an unexpected status */
    char first_wrong[300];
} caller_t;

static void *caller(void *arg) {
    caller_t *c = (caller_t *)arg;
    for (long i = 0; i < 100000; i++) {
        char args[64], want[64], *out = NULL;
        pyrt_error *err = NULL;
        snprintf(args, sizeof args, "[%ld, %d]", i, c->tid);
        snprintf(want, sizeof want, "%ld", i + c->tid);
        int32_t rc = pyrt_call_json(c->rt, "__main__", (i % 3 == 0) ? "slow_add" : "fast_add", args, NULL, &out, &err);
        if (rc == PYRT_OK) {
            if (c->closed) c->ok_after_closed++;
            if (strcmp(out, want) != 0 && c->wrong++ == 0) snprintf(c->first_wrong, sizeof c->first_wrong, "got %s want %s", out, want);
            __atomic_add_fetch(&c->ok, 1, __ATOMIC_RELAXED); /* read by the main thread */
        } else if (rc == PYRT_ERR_CLOSED) {
            c->closed = 1;
        } else if (c->wrong++ == 0) {
            snprintf(c->first_wrong, sizeof c->first_wrong, "%s: %s", pyrt_status_name(rc), err ? pyrt_error_message(err) : "");
        }
        pyrt_string_free(out);
        pyrt_error_free(err);
        if (c->closed && i % 50 == 0) break; /* a few calls after CLOSED are enough */
    }
    return NULL;
}

/* Every caller has made a successful call: on a loaded machine one thread can wait for the GIL
 * while the others make dozens of calls, and the free must come after each one got in. */
static int all_called(caller_t *cs, int n) {
    for (int i = 0; i < n; i++)
        if (__atomic_load_n(&cs[i].ok, __ATOMIC_RELAXED) == 0) return 0;
    return 1;
}

static const char *ADDERS =
    "import time, threading\n"
    "inside = 0\n"
    "_lock = threading.Lock()\n"
    "def fast_add(a, b):\n"
    "    return a + b\n"
    "def slow_add(a, b):\n"
    "    global inside\n"
    "    with _lock:\n"
    "        inside += 1\n"
    "    time.sleep(0.002)\n"
    "    return a + b\n";

static int case_free_during_calls(void) {
    pyrt_runtime *rt = open_runtime_or_die();
    EXPECT_RUN(rt, ADDERS);
    enum { N = 4 };
    pthread_t th[N];
    caller_t cs[N];
    for (int i = 0; i < N; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].rt = rt;
        cs[i].tid = i;
        pthread_create(&th[i], NULL, caller, &cs[i]);
    }
    /* wait until the callers are busy (slow calls entered), then free the last handle */
    for (int spin = 0; spin < 6000 && (eval_ll(rt, "inside") < 20 || !all_called(cs, N)); spin++) sleep_ms(5);
    CHECK(eval_ll(rt, "inside") >= 20);
    CHECK(all_called(cs, N));
    pyrt_free(rt); /* waits for the calls inside the interpreter, then finalizes */
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECKF(cs[i].ok > 0, "thread %d made no successful call", i);
        CHECKF(cs[i].closed, "thread %d never saw PYRT_ERR_CLOSED", i);
        CHECKF(cs[i].ok_after_closed == 0, "thread %d: a call succeeded after PYRT_ERR_CLOSED", i);
        CHECKF(cs[i].wrong == 0, "thread %d: %d wrong results/statuses, first: %s", i, cs[i].wrong, cs[i].first_wrong);
    }
    pyrt_runtime *again = (pyrt_runtime *)OUT_SENTINEL;
    pyrt_error *err = NULL;
    CHECK_STATUS(pyrt_new(NULL, &again, &err), PYRT_ERR_FINALIZED, err);
    pyrt_error_free(err);
    CHECK(again == (pyrt_runtime *)OUT_SENTINEL);
    return check_summary();
}

/* ------------------------------------------------------------------ free_other_handle */

static int case_free_other_handle(void) {
    pyrt_runtime *rt1 = open_runtime_or_die();
    pyrt_runtime *rt2 = open_runtime_or_die();
    EXPECT_RUN(rt1, ADDERS);
    enum { N = 4 };
    pthread_t th[N];
    caller_t cs[N];
    for (int i = 0; i < N; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].rt = rt2;
        cs[i].tid = i;
    }
    for (int i = 0; i < N; i++) pthread_create(&th[i], NULL, caller, &cs[i]);
    for (int spin = 0; spin < 2000 && eval_ll(rt1, "inside") < 20; spin++) sleep_ms(5);
    pyrt_free(rt1); /* not the last handle: nothing stops */
    for (int spin = 0; spin < 6000; spin++) {
        long total = 0;
        for (int i = 0; i < N; i++) total += __atomic_load_n(&cs[i].ok, __ATOMIC_RELAXED);
        if (total > 2000 && all_called(cs, N)) break;
        sleep_ms(5);
    }
    pyrt_free(rt2); /* the last one, while the callers still call */
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECKF(cs[i].ok > 0, "thread %d made no successful call", i);
        CHECKF(cs[i].ok_after_closed == 0, "thread %d: a call succeeded after PYRT_ERR_CLOSED", i);
        CHECKF(cs[i].wrong == 0, "thread %d: %s", i, cs[i].first_wrong);
    }
    return check_summary();
}

/* ------------------------------------------------------------------ python_threads_at_free */

static int case_python_threads_at_free(void) {
    pyrt_runtime *rt = open_runtime_or_die();
    char dir[] = "/tmp/pyrt-faults-XXXXXX";
    if (mkdtemp(dir) == NULL) { CHECK(0); return check_summary(); }
    char *done = xprintf("%s/non-daemon-done", dir);
    char *q = py_quote(done);
    char *code = xprintf(
        "import threading, time\n"
        "def _worker():\n"
        "    time.sleep(0.3)\n"
        "    open(%s, 'w').close()\n"
        "threading.Thread(target=_worker).start()\n"
        "threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()\n"
        "threading.Thread(target=lambda: threading.Event().wait(), daemon=True).start()\n",
        q);
    /* Only daemon threads that stay blocked: one that wakes and asks for the GIL after the final
     * Py_FinalizeEx touches the freed interpreter, a CPython bug on 3.9-3.13 (python/cpython
     * gh-110052; fixed in 3.14 by hanging such threads). Standalone Python exits right after
     * finalizing, which hides it; a host that goes on running gives it time to happen (here ~1 in
     * 70 runs on 3.10 with a busy-looping and a 10 ms-sleeping daemon thread). docs/guarantees.md
     * states the rule: end such threads before the last pyrt_free. */
    EXPECT_RUN(rt, code);
    EXPECT_EVAL(rt, "threading.active_count() >= 4", "true");
    pyrt_free(rt); /* joins _worker; daemon threads are abandoned */
    CHECKF(file_exists(done), "the non-daemon thread had not finished when pyrt_free returned");
    unlink(done);
    rmdir(dir);
    free(code);
    free(q);
    free(done);
    return check_summary(); /* and the process exits normally with daemon threads around */
}

/* ------------------------------------------------------------------ recursion */

static int case_recursion(void) {
    pyrt_runtime *rt = open_runtime_or_die();
    EXPECT_RUN(rt,
               "import sys\n"
               "def down(n):\n"
               "    return down(n + 1)\n"
               "limit = sys.getrecursionlimit()\n"
               "deep = []\n"
               "for _ in range(100000):\n"
               "    deep = [deep]\n");
    EXPECT_CALL_ERR(rt, "__main__", "down", "[0]", NULL, PYRT_ERR_PYTHON, "RecursionError", "recursion");
    EXPECT_RUN_ERR(rt, "down(0)", PYRT_ERR_PYTHON, "RecursionError", NULL);
    /* repr of a 100,000-deep list: CPython's own C recursion guard */
    EXPECT_EVAL_ERR(rt, "repr(deep)", PYRT_ERR_PYTHON, "RecursionError", NULL);
    /* pyrt's conversion of it: a conversion error at 1000 levels, no stack overflow */
    EXPECT_EVAL_ERR(rt, "deep", PYRT_ERR_CONVERSION, "-", "1000");
    pyrt_object *h = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_eval_object(rt, "deep", &h, &err), err);
    pyrt_error_free(err);
    err = NULL;
    char *out = OUT_SENTINEL;
    CHECK_STATUS(pyrt_object_to_json(h, PYRT_VALUE_TAGGED, &out, &err), PYRT_ERR_CONVERSION, err);
    pyrt_error_free(err);
    err = NULL;
    pyrt_object_free(h);
    /* 100,000-deep JSON input */
    size_t n = 100000;
    char *json = (char *)malloc(2 * n + 1);
    memset(json, '[', n);
    memset(json + n, ']', n);
    json[2 * n] = '\0';
    char *args = xprintf("[%s]", json);
    EXPECT_CALL_ERR(rt, "builtins", "len", args, NULL, PYRT_ERR_INVALID_JSON, "-", NULL);
    free(args);
    free(json);
    /* the interpreter is unharmed: the limit is unchanged and calls work */
    EXPECT_EVAL(rt, "sys.getrecursionlimit() == limit", "true");
    EXPECT_CALL(rt, "math", "sqrt", "[16.0]", NULL, "4.0");
    EXPECT_RUN(rt, "def up(n):\n    return n if n == 0 else up(n - 1)\n");
    EXPECT_CALL(rt, "__main__", "up", "[500]", NULL, "0");
    pyrt_free(rt);
    return check_summary();
}

/* ------------------------------------------------------------------ memory_error */

static int case_memory_error(void) {
    pyrt_runtime *rt = open_runtime_or_die();
    /* a 1 PiB buffer, a 128 PiB bytes object (beyond any x86-64/arm64 user address space, even
     * with 5-level paging: the allocation fails), a list beyond size_t. Not 1 TiB: free-threaded
     * builds allocate objects with mimalloc, which maps with MAP_NORESERVE, so under Linux's default
     * overcommit a 1 TiB request succeeds and b'x' * (1 << 40) then fills it until the OOM killer
     * ends the process (3.13t: killed at 24 GB RSS). */
    EXPECT_RUN_ERR(rt, "bytearray(1 << 50)", PYRT_ERR_PYTHON, "MemoryError", NULL);
    EXPECT_RUN_ERR(rt, "b'x' * (1 << 57)", PYRT_ERR_PYTHON, "MemoryError", NULL);
    EXPECT_RUN_ERR(rt, "[0] * (1 << 62)", PYRT_ERR_PYTHON, "MemoryError", NULL);
    EXPECT_CALL_ERR(rt, "builtins", "bytearray", "[1125899906842624]", NULL, PYRT_ERR_PYTHON, "MemoryError", NULL);
    /* MemoryError caught in Python is just a value */
    EXPECT_RUN(rt, "try:\n    bytearray(1 << 50)\nexcept MemoryError:\n    caught = True\n");
    EXPECT_EVAL(rt, "caught", "true");
    EXPECT_CALL(rt, "math", "sqrt", "[16.0]", NULL, "4.0");
    EXPECT_EVAL(rt, "len(bytearray(1 << 20))", "1048576");
    pyrt_free(rt);
    return check_summary();
}

/* ------------------------------------------------------------------ del_exception */

static int case_del_exception(void) {
    pyrt_runtime *rt = open_runtime_or_die();
    EXPECT_RUN(rt,
               "import sys\n"
               "unraisable = []\n"
               "def _hook(u):\n"
               "    unraisable.append((type(u.exc_value).__name__, str(u.exc_value)))\n"
               "sys.unraisablehook = _hook\n"
               "class BadDel:\n"
               "    def __init__(self, tag):\n"
               "        self.tag = tag\n"
               "    def __del__(self):\n"
               "        raise RuntimeError('__del__ of ' + self.tag)\n");
    /* dropped inside a Python call: the call itself succeeds */
    EXPECT_RUN(rt, "x = BadDel('x')\ndel x\n");
    EXPECT_EVAL(rt, "unraisable[-1]", "[\"RuntimeError\", \"__del__ of x\"]");
    /* dropped because the host freed its handle: reported when the next call drops it, and
     * that next call succeeds */
    pyrt_object *h = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_call_object(rt, "__main__:BadDel", "[\"handle\"]", NULL, 0, &h, &err), err);
    pyrt_error_free(err);
    err = NULL;
    pyrt_object_free(h);
    EXPECT_CALL(rt, "math", "sqrt", "[16.0]", NULL, "4.0");
    EXPECT_EVAL(rt, "unraisable[-1]", "[\"RuntimeError\", \"__del__ of handle\"]");
    EXPECT_EVAL(rt, "len(unraisable)", "2");
    /* dropped by a method call's temporary */
    EXPECT_CALL(rt, "builtins", "len", "[[1, 2]]", NULL, "2");
    /* alive at finalization, with the default hook: printed to stderr, pyrt_free returns */
    EXPECT_RUN(rt, "sys.unraisablehook = sys.__unraisablehook__\nkept = BadDel('at exit')\n");
    pyrt_free(rt);
    return check_summary();
}

/* ------------------------------------------------------------------ SIGINT */

static volatile sig_atomic_t host_sigints;

static void host_on_sigint(int sig) {
    (void)sig;
    host_sigints++;
}

typedef struct {
    pyrt_runtime *rt;
    int32_t rc;
    char *out;
    char pytype[64];
} busy_t;

static void *busy_call(void *arg) {
    busy_t *b = (busy_t *)arg;
    pyrt_error *err = NULL;
    b->rc = pyrt_call_json(b->rt, "__main__", "busy", "[0.6]", NULL, &b->out, &err);
    if (err && pyrt_error_python_type(err)) snprintf(b->pytype, sizeof b->pytype, "%s", pyrt_error_python_type(err));
    pyrt_error_free(err);
    return NULL;
}

static int case_sigint_host_handler(void) {
    struct sigaction sa, now;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = host_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    pyrt_runtime *rt = open_runtime_or_die();
    EXPECT_RUN(rt,
               "import signal, asyncio, subprocess, time\n"
               "def busy(seconds):\n"
               "    end = time.monotonic() + seconds\n"
               "    n = 0\n"
               "    while time.monotonic() < end:\n"
               "        n += 1\n"
               "        time.sleep(0.001)\n"
               "    return 'done'\n");
    /* Python's own table says default_int_handler (as in a script); the OS-level handler stays the host's */
    EXPECT_EVAL(rt, "signal.getsignal(signal.SIGINT) is signal.default_int_handler", "true");
    sigaction(SIGINT, NULL, &now);
    CHECK(now.sa_handler == host_on_sigint);
    /* SIGINT to the process while a call runs on another thread, and while none runs */
    busy_t b;
    memset(&b, 0, sizeof b);
    b.rt = rt;
    pthread_t th;
    pthread_create(&th, NULL, busy_call, &b);
    sleep_ms(150);
    kill(getpid(), SIGINT);
    pthread_join(th, NULL);
    CHECKF(b.rc == PYRT_OK, "the running call got %s (%s)", pyrt_status_name(b.rc), b.pytype);
    CHECK_STR(b.out, "\"done\"");
    pyrt_string_free(b.out);
    kill(getpid(), SIGINT);
    for (int i = 0; i < 200 && host_sigints < 2; i++) sleep_ms(5);
    CHECK_INT(host_sigints, 2);
    EXPECT_CALL(rt, "__main__", "busy", "[0.01]", NULL, "\"done\"");
    /* Python's own table says default_int_handler (as in a script); the OS-level handler stays the host's */
    EXPECT_EVAL(rt, "signal.getsignal(signal.SIGINT) is signal.default_int_handler", "true");
    pyrt_free(rt);
    sigaction(SIGINT, NULL, &now);
    CHECK(now.sa_handler == host_on_sigint);
    return check_summary();
}

/* Exits by the signal on success; prints a line and returns 0 when SIGINT was swallowed. */
static int case_sigint_default(void) {
    signal(SIGINT, SIG_DFL);
    pyrt_runtime *rt = open_runtime_or_die();
    EXPECT_RUN(rt, "import signal, asyncio, subprocess\n");
    struct sigaction now;
    sigaction(SIGINT, NULL, &now);
    CHECKF(now.sa_handler == SIG_DFL, "SIGINT is no longer SIG_DFL after Python imported signal");
    EXPECT_EVAL(rt, "signal.getsignal(signal.SIGINT) == signal.SIG_DFL", "true");
    fflush(stdout);
    kill(getpid(), SIGINT); /* the default action: the process ends here */
    sleep_ms(500);
    printf("SIGINT did not end the process\n");
    pyrt_free(rt);
    check_summary();
    return 3;
}

/* ------------------------------------------------------------------ call_after_free */

static int case_call_after_free(void) {
    pyrt_runtime *rt = open_runtime_or_die();
    pyrt_error *err = NULL;
    pyrt_object *obj = NULL, *fn = NULL;
    CHECK_OK(pyrt_eval_object(rt, "[1, 2]", &obj, &err), err);
    CHECK_OK(pyrt_import(rt, "math", &fn, &err), err);
    pyrt_object *sqrt = NULL;
    CHECK_OK(pyrt_object_getattr(fn, "sqrt", &sqrt, &err), err);
    pyrt_error *kept = NULL;
    char *kept_out = NULL;
    CHECK_STATUS(pyrt_run_string(rt, "raise ValueError('kept')", &kept), PYRT_ERR_PYTHON, kept);
    CHECK_OK0(pyrt_eval_json(rt, "'kept'", &kept_out, NULL));
    pyrt_args *args = pyrt_args_new();
    pyrt_args_push_double(args, 16.0);
    pyrt_args_push_object(args, obj);
    pyrt_free(rt);

    char *out = OUT_SENTINEL;
    pyrt_object *o = (pyrt_object *)OUT_SENTINEL;
    double d = -1;
    int64_t n = -1;
#define CLOSED(call)                                                         \
    do {                                                                     \
        err = NULL;                                                          \
        CHECK_STATUS(call, PYRT_ERR_CLOSED, err);                            \
        pyrt_error_free(err);                                                \
    } while (0)
    CLOSED(pyrt_run_string(rt, "1", &err));
    CLOSED(pyrt_run_file(rt, "/nonexistent.py", &err));
    CLOSED(pyrt_eval_json(rt, "1", &out, &err));
    CLOSED(pyrt_call_json(rt, "math", "sqrt", "[1]", NULL, &out, &err));
    CLOSED(pyrt_call_value(rt, "math:sqrt", "[1]", NULL, 0, &out, &err));
    CLOSED(pyrt_call_object(rt, "math:sqrt", "[1]", NULL, 0, &o, &err));
    CLOSED(pyrt_import(rt, "math", &o, &err));
    CLOSED(pyrt_eval_object(rt, "1", &o, &err));
    CLOSED(pyrt_object_from_json(rt, "1", 0, &o, &err));
    CLOSED(pyrt_info_json(rt, &out, &err));
    CLOSED(pyrt_object_to_json(obj, 0, &out, &err));
    CLOSED(pyrt_object_getattr(fn, "sqrt", &o, &err));
    CLOSED(pyrt_object_getattr_json(fn, "pi", 0, &out, &err));
    CLOSED(pyrt_object_setattr_json(fn, "x", "1", 0, &err));
    CLOSED(pyrt_object_setattr(fn, "x", obj, &err));
    CLOSED(pyrt_object_call_json(obj, "copy", NULL, NULL, 0, &out, &err));
    CLOSED(pyrt_object_call(obj, "copy", NULL, NULL, 0, &o, &err));
    CLOSED(pyrt_object_repr(obj, &out, &err));
    CLOSED(pyrt_object_str(obj, &out, &err));
    CLOSED(pyrt_object_call_double(sqrt, args, &d, &err));
    CLOSED(pyrt_object_call_int(sqrt, args, &n, &err));
    CLOSED(pyrt_object_call_args(sqrt, args, &o, &err));
    CLOSED(pyrt_object_call_args_json(sqrt, args, 0, &out, &err));
    CHECK(out == OUT_SENTINEL && o == (pyrt_object *)OUT_SENTINEL && d == -1 && n == -1);
    err = NULL;
    pyrt_runtime *again = (pyrt_runtime *)OUT_SENTINEL;
    CHECK_STATUS(pyrt_new(NULL, &again, &err), PYRT_ERR_FINALIZED, err);
    pyrt_error_free(err);
    /* frees after finalization are no-ops; what was returned before stays valid */
    pyrt_object_free(obj);
    pyrt_object_free(obj);
    pyrt_object_free(fn);
    pyrt_object_free(sqrt);
    pyrt_free(rt);
    CHECK_STR(pyrt_error_python_type(kept), "ValueError");
    CHECK_STR(pyrt_error_message(kept), "kept");
    CHECK_STR(kept_out, "\"kept\"");
    pyrt_error_free(kept);
    pyrt_string_free(kept_out);
    pyrt_args_free(args);
    return check_summary();
}

/* ------------------------------------------------------------------ callback_exception */

static pyrt_runtime *CB_RT;
static pyrt_reply *KEPT_REPLY;

/* relay(expr): evaluate through pyrt inside the callback and pass an error on unchanged */
static int32_t cb_relay(void *user, const char *args, const char *kwargs, pyrt_reply *reply) {
    (void)user;
    (void)kwargs;
    char *expr = NULL, *out = NULL;
    pyrt_error *err = NULL;
    /* args is ["<expr>"]: decode the string through Python itself (no JSON parser in C) */
    char *quoted = json_quote(args);
    char *code = xprintf("__import__('json').loads(%s)[0]", quoted);
    free(quoted);
    if (pyrt_eval_json(CB_RT, code, &expr, &err) != PYRT_OK) {
        free(code);
        int32_t rc = pyrt_reply_exception(reply, err);
        pyrt_error_free(err);
        return rc;
    }
    free(code);
    quoted = json_quote(expr);
    char *inner = xprintf("eval(__import__('json').loads(%s))", quoted);
    free(quoted);
    int32_t rc;
    if (pyrt_eval_json(CB_RT, inner, &out, &err) == PYRT_OK) {
        rc = pyrt_reply_json(reply, out);
        pyrt_string_free(out);
    } else {
        rc = pyrt_reply_exception(reply, err);
        pyrt_error_free(err);
    }
    free(inner);
    pyrt_string_free(expr);
    return rc;
}

static int32_t cb_fail_status(void *u, const char *a, const char *k, pyrt_reply *reply) {
    (void)u, (void)a, (void)k, (void)reply;
    return 7; /* an error status and no answer */
}

static int32_t cb_bad_json(void *u, const char *a, const char *k, pyrt_reply *reply) {
    (void)u, (void)a, (void)k;
    return pyrt_reply_json(reply, "{not json");
}

static int32_t cb_keep_reply(void *u, const char *a, const char *k, pyrt_reply *reply) {
    (void)u, (void)a, (void)k;
    KEPT_REPLY = reply; /* a host bug: keeping the reply past the callback */
    return pyrt_reply_json(reply, "1");
}

static void *reply_from_thread(void *reply) {
    return (void *)(intptr_t)pyrt_reply_json(reply, "\"from another thread\"");
}
static int32_t cb_other_thread(void *u, const char *a, const char *k, pyrt_reply *reply) {
    (void)u, (void)a, (void)k;
    pthread_t t;
    void *rc = NULL;
    pthread_create(&t, NULL, reply_from_thread, reply);
    pthread_join(t, &rc);
    CHECK_INT((int32_t)(intptr_t)rc, PYRT_ERR_INVALID_ARGUMENT);
    return pyrt_reply_json(reply, "\"from the callback's thread\"");
}

static int case_callback_exception(void) {
    CB_RT = open_runtime_or_die();
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_register(CB_RT, "cb", "relay", cb_relay, NULL, NULL, &err), err);
    CHECK_OK(pyrt_register(CB_RT, "cb", "fail_status", cb_fail_status, NULL, NULL, &err), err);
    CHECK_OK(pyrt_register(CB_RT, "cb", "bad_json", cb_bad_json, NULL, NULL, &err), err);
    CHECK_OK(pyrt_register(CB_RT, "cb", "keep_reply", cb_keep_reply, NULL, NULL, &err), err);
    CHECK_OK(pyrt_register(CB_RT, "cb", "other_thread", cb_other_thread, NULL, NULL, &err), err);
    EXPECT_RUN(CB_RT, "import cb, sys, _pyrt, threading");
    EXPECT_EVAL(CB_RT, "cb.relay('6 * 7')", "42");

    /* Exceptions of a nested call come out of the callback unchanged: Python code can catch
     * them, and uncaught ones reach the host with their status, as from any other call. */
    EXPECT_RUN(CB_RT, "try:\n    cb.relay('sys.exit(5)')\nexcept SystemExit as e:\n    code = e.code\n");
    EXPECT_EVAL(CB_RT, "code", "5");
    EXPECT_CALL_ERR(CB_RT, "cb", "relay", "[\"sys.exit(6)\"]", NULL, PYRT_ERR_SYSTEM_EXIT, "SystemExit", "6");
    EXPECT_CALL_ERR(CB_RT, "cb", "relay", "[\"exec('raise KeyboardInterrupt(7)')\"]", NULL, PYRT_ERR_KEYBOARD_INTERRUPT,
                    "KeyboardInterrupt", "7");
    EXPECT_CALL_ERR(CB_RT, "cb", "relay", "[\"bytearray(1 << 50)\"]", NULL, PYRT_ERR_PYTHON, "MemoryError", NULL);
    EXPECT_EVAL_ERR(CB_RT, "cb.relay('cb.relay(\"cb.relay(\\'1/0\\')\")')", PYRT_ERR_PYTHON, "ZeroDivisionError", "division by zero");
    /* recursion through the callback, Python -> C -> Python ..., ends in RecursionError */
    EXPECT_RUN(CB_RT, "def down(n):\n    return cb.relay(f'down({n + 1})')\n");
    EXPECT_EVAL_ERR(CB_RT, "down(0)", PYRT_ERR_PYTHON, "RecursionError", NULL);
    EXPECT_EVAL(CB_RT, "sys.getrecursionlimit()", "1000");

    /* Host-side failures are _pyrt.HostError / TypeError-like errors in Python */
    EXPECT_EVAL_ERR(CB_RT, "cb.fail_status()", PYRT_ERR_PYTHON, "_pyrt.HostError", "status 7");
    EXPECT_RUN(CB_RT, "try:\n    cb.bad_json()\nexcept Exception as e:\n    bad = type(e).__name__\n");
    EXPECT_EVAL(CB_RT, "bad != ''", "true");

    /* A reply kept past its callback, or used from another thread, is refused */
    EXPECT_EVAL(CB_RT, "cb.keep_reply()", "1");
    CHECK_STATUS0(pyrt_reply_json(KEPT_REPLY, "2"), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_reply_error(KEPT_REPLY, "late"), PYRT_ERR_INVALID_ARGUMENT);
    EXPECT_EVAL(CB_RT, "cb.other_thread()", "\"from the callback's thread\"");

    /* An exception escaping a callback in a Python thread goes to threading.excepthook, as in
     * standalone Python; the host is not disturbed. */
    EXPECT_RUN(CB_RT, "seen = []\nthreading.excepthook = lambda a: seen.append(a.exc_type.__name__)\n"
                      "t = threading.Thread(target=cb.relay, args=('1/0',))\nt.start()\nt.join()\n");
    EXPECT_EVAL(CB_RT, "seen", "[\"ZeroDivisionError\"]");

    /* nothing is left behind: the next calls succeed */
    EXPECT_EVAL(CB_RT, "sys.exc_info()[0] is None", "true");
    EXPECT_CALL(CB_RT, "math", "sqrt", "[16.0]", NULL, "4.0");
    pyrt_free(CB_RT);
    return check_summary();
}

/* ------------------------------------------------------------------ os_exit, sys_exit */

static int case_os_exit(void) {
    pyrt_runtime *rt = open_runtime_or_die();
    printf("before os._exit\n");
    fflush(stdout);
    pyrt_run_string(rt, "import os\nos._exit(7)\n", NULL);
    printf("os._exit returned\n"); /* never reached */
    return 0;
}

static int case_sys_exit(void) {
    pyrt_runtime *rt = open_runtime_or_die();
    EXPECT_RUN_ERR(rt, "import sys\nsys.exit(7)\n", PYRT_ERR_SYSTEM_EXIT, "SystemExit", "7");
    EXPECT_CALL_ERR(rt, "sys", "exit", "[3]", NULL, PYRT_ERR_SYSTEM_EXIT, "SystemExit", "3");
    EXPECT_CALL(rt, "math", "sqrt", "[16.0]", NULL, "4.0");
    pyrt_free(rt);
    return check_summary();
}

/* ------------------------------------------------------------------ the parent */

typedef struct {
    const char *name;
    int (*fn)(void);
    int want_exit;   /* expected exit status, or -1 for "killed by want_signal" */
    int want_signal;
    int summary;     /* the child prints "N passed, 0 failed" */
    int no_leak_check; /* LeakSanitizer off in the child (ASan's memory checks stay on) */
} fault_case;

static const fault_case CASES[] = {
    {"free_during_calls", case_free_during_calls, 0, 0, 1, 0},
    {"free_other_handle", case_free_other_handle, 0, 0, 1, 0},
    /* Daemon threads are abandoned at finalization: CPython ends them with pthread_exit when
     * they next reach for the GIL, while LeakSanitizer stops and scans every thread at exit;
     * its tracer then crashes on a thread that is going away ("Tracer caught signal 11"), and
     * what those threads hold is CPython's by design anyway. */
    {"python_threads_at_free", case_python_threads_at_free, 0, 0, 1, 1},
    {"recursion", case_recursion, 0, 0, 1, 0},
    {"memory_error", case_memory_error, 0, 0, 1, 0},
    {"del_exception", case_del_exception, 0, 0, 1, 0},
    {"sigint_host_handler", case_sigint_host_handler, 0, 0, 1, 0},
    {"sigint_default", case_sigint_default, -1, SIGINT, 0, 0},
    {"call_after_free", case_call_after_free, 0, 0, 1, 0},
    {"os_exit", case_os_exit, 7, 0, 0, 0},
    {"sys_exit", case_sys_exit, 0, 0, 1, 0},
    {"callback_exception", case_callback_exception, 0, 0, 1, 0},
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return xstrdup("");
    jbuf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) jb_put(&b, chunk, n);
    fclose(f);
    return b.buf ? b.buf : xstrdup("");
}

/* the last line of text that looks like "N passed, M failed" */
static int summary_ok(const char *text) {
    const char *p = text, *last = NULL;
    while ((p = strstr(p, " passed, ")) != NULL) { last = p; p++; }
    return last != NULL && strncmp(last, " passed, 0 failed", 17) == 0;
}

static void run_child(const char *self, const fault_case *c, int timeout_s) {
    char logpath[] = "/tmp/pyrt-fault-XXXXXX";
    int fd = mkstemp(logpath);
    if (fd < 0) { CHECK(0); return; }
    pid_t pid = fork();
    if (pid == 0) {
        const char *asan = getenv("ASAN_OPTIONS");
        if (c->no_leak_check && asan != NULL) {
            char *opts = xprintf("%s:detect_leaks=0", asan);
            setenv("ASAN_OPTIONS", opts, 1);
        }
        dup2(fd, 1);
        dup2(fd, 2);
        signal(SIGINT, SIG_DFL);
        execl(self, self, "--case", c->name, (char *)NULL);
        _exit(127);
    }
    close(fd);
    int status = 0, waited = 0;
    for (int i = 0; i < timeout_s * 20; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) { waited = 1; break; }
        sleep_ms(50);
    }
    if (!waited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    char *log = read_file(logpath);
    unlink(logpath);
    char got[64];
    if (!waited) snprintf(got, sizeof got, "timeout after %ds", timeout_s);
    else if (WIFSIGNALED(status)) snprintf(got, sizeof got, "killed by signal %d", WTERMSIG(status));
    else snprintf(got, sizeof got, "exit %d", WEXITSTATUS(status));
    int ok;
    if (c->want_exit < 0) ok = waited && WIFSIGNALED(status) && WTERMSIG(status) == c->want_signal;
    else ok = waited && WIFEXITED(status) && WEXITSTATUS(status) == c->want_exit;
    if (ok && c->summary) ok = summary_ok(log);
    char want[64];
    if (c->want_exit < 0) snprintf(want, sizeof want, "killed by signal %d", c->want_signal);
    else snprintf(want, sizeof want, "exit %d%s", c->want_exit, c->summary ? " and 0 failed checks" : "");
    const char *why = "";
    if (waited && WIFEXITED(status) && WEXITSTATUS(status) == 99) why = " (valgrind found memory errors)";
    if (waited && WIFEXITED(status) && WEXITSTATUS(status) == 98) why = " (a sanitizer found errors)";
    printf("  %-24s %s: %s%s\n", c->name, ok ? "ok  " : "FAIL", got, why);
    check_report(ok, __FILE__, __LINE__, c->name, "want %s, got %s%s; child output:\n%.6000s", want, got, why, log);
    free(log);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 3 && strcmp(argv[1], "--case") == 0) {
        for (int i = 0; i < NCASES; i++)
            if (strcmp(argv[2], CASES[i].name) == 0) {
                printf("test_faults --case %s: pyrt %s, PYRT_LIBPYTHON=%s\n", CASES[i].name, pyrt_version(),
                       safe_s(env_libpython()));
                return CASES[i].fn();
            }
        fprintf(stderr, "unknown case %s\n", argv[2]);
        return 2;
    }
    const char *only = argc >= 2 ? argv[1] : NULL;
    const char *t = getenv("PYRT_FAULT_TIMEOUT");
    int timeout_s = t ? atoi(t) : 300;
    printf("test_faults: pyrt %s, PYRT_LIBPYTHON=%s; each case in a child process\n", pyrt_version(),
           safe_s(env_libpython()));
    for (int i = 0; i < NCASES; i++) {
        if (only != NULL && strcmp(only, CASES[i].name) != 0) continue;
        run_child(argv[0], &CASES[i], timeout_s);
    }
    return check_summary();
}
