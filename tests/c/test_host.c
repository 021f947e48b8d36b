/*
 * test_host.c — C functions called by Python (pyrt_register): answers and errors, Python ->
 * C -> Python on the same thread and through another thread, the nested exception passed on
 * unchanged, Python threads calling in, a main-thread handle, unregistering and destructors.
 * Also output capture and interruption from C.
 */
#define _XOPEN_SOURCE 700

#include <time.h>
#include <unistd.h>

#include "testutil.h"

static pyrt_runtime *RT;

static int32_t add(void *user, const char *args, const char *kwargs, pyrt_reply *reply) {
    (void)user;
    (void)kwargs;
    long a = 0, b = 0;
    if (sscanf(args, "[%ld,%ld]", &a, &b) != 2) return pyrt_reply_error(reply, "add(a, b) takes two integers");
    char out[64];
    snprintf(out, sizeof out, "%ld", a + b);
    return pyrt_reply_json(reply, out);
}

static int32_t show(void *user, const char *args, const char *kwargs, pyrt_reply *reply) {
    (void)user;
    char *out = xprintf("[%s, %s]", args, kwargs);
    char *quoted = json_quote(out);
    int32_t rc = pyrt_reply_json(reply, quoted);
    free(out);
    free(quoted);
    return rc;
}

/* nested(expr): evaluate through pyrt on this thread; pass errors on unchanged. */
static int32_t nested(void *user, const char *args, const char *kwargs, pyrt_reply *reply) {
    (void)kwargs;
    char expr[256] = {0};
    if (sscanf(args, "[\"%255[^\"]\"]", expr) != 1) return pyrt_reply_error(reply, "nested(expr)");
    char *out = NULL;
    pyrt_error *err = NULL;
    int32_t rc;
    if (pyrt_eval_json((pyrt_runtime *)user, expr, &out, &err) == PYRT_OK) {
        rc = pyrt_reply_json(reply, out);
        pyrt_string_free(out);
    } else {
        rc = pyrt_reply_exception(reply, err);
        pyrt_error_free(err);
    }
    return rc;
}

struct job {
    const char *expr;
    char *out;
};
static void *eval_on_thread(void *arg) {
    struct job *j = arg;
    pyrt_error *err = NULL;
    if (pyrt_eval_json(RT, j->expr, &j->out, &err) != PYRT_OK) pyrt_error_free(err);
    return NULL;
}
/* elsewhere(expr): evaluate on a new thread and wait for it (the GIL is not held meanwhile). */
static int32_t elsewhere(void *user, const char *args, const char *kwargs, pyrt_reply *reply) {
    (void)user;
    (void)kwargs;
    char expr[256] = {0};
    if (sscanf(args, "[\"%255[^\"]\"]", expr) != 1) return pyrt_reply_error(reply, "elsewhere(expr)");
    struct job j = {expr, NULL};
    pthread_t t;
    pthread_create(&t, NULL, eval_on_thread, &j);
    pthread_join(t, NULL);
    if (j.out == NULL) return pyrt_reply_error(reply, "the other thread failed");
    int32_t rc = pyrt_reply_json(reply, j.out);
    pyrt_string_free(j.out);
    return rc;
}

static int destroyed;
static void count_destroy(void *user) {
    CHECK(user == (void *)&destroyed);
    destroyed++;
}

static void *spin_call(void *arg) {
    pyrt_error *err = NULL;
    *(int32_t *)arg = pyrt_run_string(RT, "while True:\n    pass\n", &err);
    pyrt_error_free(err);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("test_host: pyrt %s, PYRT_LIBPYTHON=%s\n", pyrt_version(), safe_s(env_libpython()));
    RT = open_runtime_or_die();
    pyrt_error *err = NULL;

    SECTION("answers, keywords, the tagged encoding");
    CHECK_OK(pyrt_register(RT, "chost", "add", add, NULL, NULL, &err), err);
    CHECK_OK(pyrt_register(RT, "chost", "show", show, NULL, NULL, &err), err);
    EXPECT_RUN(RT, "import chost, _pyrt");
    EXPECT_EVAL(RT, "chost.add(40, 2)", "42");
    EXPECT_EVAL(RT, "chost.show(b'x', (1,), k=None)", "\"[[{\\\"__pyrt__\\\":\\\"bytes\\\",\\\"v\\\":\\\"eA==\\\"},{\\\"__pyrt__\\\":\\\"tuple\\\",\\\"v\\\":[1]}], {\\\"k\\\":null}]\"");

    SECTION("errors: HostError, caught or not");
    EXPECT_EVAL_ERR(RT, "chost.add('x')", PYRT_ERR_PYTHON, "_pyrt.HostError", "add(a, b) takes two integers");
    EXPECT_RUN(RT, "try:\n    chost.add()\nexcept _pyrt.HostError as e:\n    msg = str(e)\n");
    EXPECT_EVAL(RT, "msg", "\"add(a, b) takes two integers\"");

    SECTION("re-entrancy: same thread, another thread, nested exceptions unchanged");
    CHECK_OK(pyrt_register(RT, "chost", "nested", nested, RT, NULL, &err), err);
    CHECK_OK(pyrt_register(RT, "chost", "elsewhere", elsewhere, NULL, NULL, &err), err);
    EXPECT_EVAL(RT, "chost.nested('chost.elsewhere(\\'chost.add(1, 2)\\')')", "3");
    EXPECT_RUN(RT, "class Boom(Exception):\n    pass\ndef boom():\n    global raised\n    raised = Boom('deep')\n    raise raised\n"
                   "try:\n    chost.nested('boom()')\nexcept Boom as e:\n    caught = e\n");
    EXPECT_EVAL(RT, "caught is raised", "true");

    SECTION("Python threads call C concurrently");
    EXPECT_RUN(RT, "import threading\nres = []\n"
                   "def work(i):\n    for j in range(50):\n        res.append(chost.add(i, j) == i + j)\n"
                   "ts = [threading.Thread(target=work, args=(i,)) for i in range(6)]\n"
                   "[t.start() for t in ts]\n[t.join() for t in ts]\n");
    EXPECT_EVAL(RT, "len(res) == 300 and all(res)", "true");

    SECTION("a main-thread handle calls back in without deadlock");
    pyrt_runtime *main_rt = NULL;
    if (CHECK_OK(pyrt_new("{\"main_thread\": true}", &main_rt, &err), err)) {
        CHECK_OK(pyrt_register(main_rt, "cmain", "nested", nested, main_rt, NULL, &err), err);
        EXPECT_EVAL(main_rt, "__import__('cmain').nested('1 + 1')", "2");
        pyrt_free(main_rt);
    }

    SECTION("unregister, replace and free run the destructor once each");
    CHECK_OK(pyrt_register(RT, "cgone", "f", add, &destroyed, count_destroy, &err), err);
    EXPECT_RUN(RT, "import cgone\nkept = cgone.f");
    CHECK_OK(pyrt_register(RT, "cgone", "f", add, &destroyed, count_destroy, &err), err);
    CHECK(destroyed == 1);
    CHECK_OK(pyrt_unregister(RT, "cgone", "f", &err), err);
    CHECK(destroyed == 2);
    EXPECT_EVAL_ERR(RT, "kept(1, 2)", PYRT_ERR_PYTHON, "RuntimeError", NULL);
    CHECK_STATUS(pyrt_unregister(RT, "cgone", "f", &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_register(RT, "bad name", "f", add, NULL, NULL, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS0(pyrt_register(RT, "ok", "f", NULL, NULL, NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_reply_json(NULL, "1"), PYRT_ERR_INVALID_ARGUMENT);

    SECTION("output capture from C");
    pyrt_runtime *cap = NULL;
    if (CHECK_OK(pyrt_new("{\"capture_output\": true}", &cap, &err), err)) {
        EXPECT_RUN(cap, "print('hello from Python')\nimport sys; print('oops', file=sys.stderr)");
        char *text = NULL;
        if (CHECK_OK(pyrt_output_take(cap, PYRT_STDOUT, &text, &err), err)) CHECK_STR(text, "hello from Python\n");
        pyrt_string_free(text);
        if (CHECK_OK(pyrt_output_take(cap, PYRT_STDERR, &text, &err), err)) CHECK_STR(text, "oops\n");
        pyrt_string_free(text);
        CHECK_STATUS(pyrt_run_string(cap, "print('partial')\n1/0", &err), PYRT_ERR_PYTHON, err);
        CHECK_STR(pyrt_error_output(err, PYRT_STDOUT), "partial\n");
        CHECK(pyrt_error_output(err, 99) == NULL);
        pyrt_error_free(err);
        err = NULL;
        pyrt_free(cap);
    }

    SECTION("interrupting a running call from another thread, and timeouts");
    int32_t spin_rc = -1;
    pthread_t spinner;
    pthread_create(&spinner, NULL, spin_call, &spin_rc);
    uint32_t n = 0;
    for (int tries = 0; tries < 5000 && n == 0; tries++) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        CHECK_OK0(pyrt_interrupt(RT, &n, NULL));
    }
    pthread_join(spinner, NULL);
    CHECK(n == 1);
    CHECK_INT(spin_rc, PYRT_ERR_INTERRUPTED);
    pyrt_runtime *limited = NULL;
    if (CHECK_OK(pyrt_new("{\"timeout_ms\": 100}", &limited, &err), err)) {
        EXPECT_RUN_ERR(limited, "while True:\n    pass\n", PYRT_ERR_TIMEOUT, "KeyboardInterrupt", NULL);
        EXPECT_EVAL(limited, "6 * 7", "42");
        pyrt_free(limited);
    }

    pyrt_free(RT);
    CHECK(destroyed == 2); /* (the last registrations had no destructor) */
    return check_summary();
}
