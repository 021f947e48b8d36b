/*
 * test_signals.c — signal hygiene from a C host (docs/guarantees.md §5). Each scenario runs in a child
 * process (one interpreter per process; some scenarios end the process on purpose):
 *
 *   1. default ("signals": "host"): Python code writing to a closed pipe — from the calling
 *      thread, from a Python thread and through subprocess — gets BrokenPipeError and the host
 *      lives; the process's SIGPIPE and SIGINT dispositions are still SIG_DFL after
 *      `import signal, subprocess, asyncio`; so a SIGINT still ends the host (Python did not take
 *      Ctrl-C away from it).
 *   2. a host with its own SIGINT handler keeps it: Python's imports do not replace it, and
 *      neither does finalization (pyrt_free).
 *   3. "main_thread": _thread.interrupt_main() raises KeyboardInterrupt in the main-thread call;
 *      signal.signal works there and a signal sent by the host reaches the Python handler.
 *   4. "sigpipe": "call": the host thread's signal mask is unchanged after each call.
 *   5. "signals": "python": standalone behaviour (SIGPIPE ignored process-wide).
 */
#define _XOPEN_SOURCE 700

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *WRITE_CLOSED_PIPE =
    "import os, subprocess, sys, threading\n"
    "def write_closed_pipe():\n"
    "    r, w = os.pipe()\n"
    "    os.close(r)\n"
    "    try:\n"
    "        os.write(w, b'x')\n"
    "        return 'wrote'\n"
    "    except BrokenPipeError:\n"
    "        return 'BrokenPipeError'\n"
    "    finally:\n"
    "        os.close(w)\n"
    "def in_thread():\n"
    "    out = []\n"
    "    t = threading.Thread(target=lambda: out.append(write_closed_pipe()))\n"
    "    t.start(); t.join()\n"
    "    return out[0]\n"
    "def to_exited_child():\n"
    "    p = subprocess.Popen([sys.executable, '-c', 'pass'], stdin=subprocess.PIPE)\n"
    "    p.wait()\n"
    "    try:\n"
    "        p.stdin.write(b'x' * 1000000)\n"
    "        p.stdin.flush()\n"
    "        return 'wrote'\n"
    "    except BrokenPipeError:\n"
    "        return 'BrokenPipeError'\n"
    "    finally:\n"
    "        try:\n"
    "            p.stdin.close()\n"
    "        except BrokenPipeError:\n"
    "            pass\n";

static int handler_of(int sig, void (*want)(int)) {
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return sa.sa_handler == want;
}

static int sigpipe_blocked(void) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, SIGPIPE) == 1;
}

static pyrt_runtime *open_rt(const char *extra) {
    const char *lib = env_libpython();
    char *cfg = lib ? xprintf("{\"libpython\": %s%s}", json_quote(lib), extra) : xprintf("{%s}", extra[0] ? extra + 1 : "");
    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    if (!CHECK_OK(pyrt_new(cfg, &rt, &err), err)) {
        free(cfg);
        exit(check_summary());
    }
    free(cfg);
    return rt;
}

/* Runs `scenario` in a child; returns its wait status. */
static int in_child(void (*scenario)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        scenario();
        fflush(stdout);
        _exit(check_summary());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void scenario_default(void) {
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    pyrt_runtime *rt = open_rt("");
    EXPECT_RUN(rt, WRITE_CLOSED_PIPE);
    EXPECT_CALL(rt, "__main__", "write_closed_pipe", NULL, NULL, "\"BrokenPipeError\"");
    EXPECT_CALL(rt, "__main__", "in_thread", NULL, NULL, "\"BrokenPipeError\"");
    EXPECT_CALL(rt, "__main__", "to_exited_child", NULL, NULL, "\"BrokenPipeError\"");
    EXPECT_RUN(rt, "import signal, subprocess, asyncio");
    CHECK(handler_of(SIGPIPE, SIG_DFL));
    CHECK(handler_of(SIGINT, SIG_DFL));
    /* Python's own table says default_int_handler, as in a script. */
    EXPECT_EVAL(rt, "signal.getsignal(signal.SIGINT) is signal.default_int_handler", "true");
    printf("  default mode: %d failed so far; now raising SIGINT (must end this child)\n", check_failed_n);
    fflush(stdout);
    if (check_failed_n == 0) raise(SIGINT);
    printf("  FAIL: still alive after SIGINT\n");
    fflush(stdout);
    _exit(3);
}

static volatile sig_atomic_t host_sigints = 0;
static void host_handler(int sig) {
    (void)sig;
    host_sigints++;
}

static void scenario_host_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = host_handler;
    sigaction(SIGINT, &sa, NULL);
    pyrt_runtime *rt = open_rt("");
    EXPECT_RUN(rt, "import signal, subprocess, asyncio");
    CHECK(handler_of(SIGINT, host_handler));
    raise(SIGINT);
    CHECK(host_sigints == 1);
    EXPECT_RUN(rt, "x = 1"); /* no KeyboardInterrupt surfaces in Python */
    pyrt_free(rt);           /* finalization leaves the host's handler in place */
    CHECK(handler_of(SIGINT, host_handler));
    raise(SIGINT);
    CHECK(host_sigints == 2);
}

static void *send_usr1_later(void *arg) {
    (void)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return NULL;
}

static void scenario_main_thread(void) {
    signal(SIGPIPE, SIG_DFL);
    pyrt_runtime *rt = open_rt(", \"main_thread\": true");
    EXPECT_EVAL(rt, "__import__('threading').current_thread() is __import__('threading').main_thread()", "true");
    EXPECT_RUN_ERR(rt, "import _thread\n_thread.interrupt_main()\nfor _ in range(10**8):\n    pass\n", PYRT_ERR_KEYBOARD_INTERRUPT,
                   "KeyboardInterrupt", NULL);
    EXPECT_RUN(rt, "import signal, time\nhits = []\nsignal.signal(signal.SIGUSR1, lambda s, f: hits.append(s))\n");
    pthread_t t;
    pthread_create(&t, NULL, send_usr1_later, NULL);
    /* A pure-Python busy loop: the host's signal reaches the handler on the main thread. */
    EXPECT_RUN(rt, "deadline = time.monotonic() + 10\nwhile not hits and time.monotonic() < deadline:\n    pass\n");
    pthread_join(t, NULL);
    EXPECT_EVAL(rt, "hits", "[10]");
    EXPECT_RUN(rt, WRITE_CLOSED_PIPE);
    EXPECT_CALL(rt, "__main__", "write_closed_pipe", NULL, NULL, "\"BrokenPipeError\"");
    pyrt_free(rt);
}

static void scenario_sigpipe_call(void) {
    signal(SIGPIPE, SIG_DFL);
    pyrt_runtime *rt = open_rt(", \"sigpipe\": \"call\"");
    CHECK(!sigpipe_blocked());
    EXPECT_RUN(rt, WRITE_CLOSED_PIPE);
    EXPECT_CALL(rt, "__main__", "write_closed_pipe", NULL, NULL, "\"BrokenPipeError\"");
    CHECK(!sigpipe_blocked());
    sigset_t pending;
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGPIPE) == 0);
    CHECK(handler_of(SIGPIPE, SIG_DFL));
    pyrt_free(rt);
}

static void scenario_python_mode(void) {
    signal(SIGPIPE, SIG_DFL);
    pyrt_runtime *rt = open_rt(", \"signals\": \"python\"");
    CHECK(handler_of(SIGPIPE, SIG_IGN));
    EXPECT_RUN(rt, WRITE_CLOSED_PIPE);
    EXPECT_CALL(rt, "__main__", "write_closed_pipe", NULL, NULL, "\"BrokenPipeError\"");
    pyrt_free(rt);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("test_signals: pyrt %s, PYRT_LIBPYTHON=%s\n", pyrt_version(), safe_s(env_libpython()));

    SECTION("default: BrokenPipeError, host dispositions untouched, SIGINT still ends the host");
    int st = in_child(scenario_default);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT)) printf("       child status: exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));

    SECTION("a host SIGINT handler stays the host's, through imports and finalization");
    st = in_child(scenario_host_handler);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    SECTION("main_thread: interrupt_main, signal.signal, host signals reach Python handlers");
    st = in_child(scenario_main_thread);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    SECTION("sigpipe \"call\": the host thread's mask is restored after each call");
    st = in_child(scenario_sigpipe_call);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    SECTION("signals \"python\": standalone behaviour");
    st = in_child(scenario_python_mode);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    return check_summary();
}
