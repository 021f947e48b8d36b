/*
 * test_api.c — pyrt's C ABI in one process: static functions, config errors, NULL and bad input
 * for every function, Python errors, run_string/run_file/eval_json/call_json and the JSON
 * conversions, info_json, handles sharing the interpreter, use after free.
 *
 * Needs PYRT_LIBPYTHON (scripts/test-c.sh sets it). The first pyrt_new passes NULL config so
 * that pyrt's discovery (which reads PYRT_LIBPYTHON) is exercised.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static const char *STATUS_NAMES[] = {
    "PYRT_OK", "PYRT_ERR_INVALID_ARGUMENT", "PYRT_ERR_INVALID_UTF8", "PYRT_ERR_INVALID_JSON",
    "PYRT_ERR_CONFIG", "PYRT_ERR_LIBPYTHON_NOT_FOUND", "PYRT_ERR_LIBPYTHON_INVALID",
    "PYRT_ERR_LIBPYTHON_CONFLICT", "PYRT_ERR_INIT", "PYRT_ERR_FINALIZED", "PYRT_ERR_CLOSED",
    "PYRT_ERR_PYTHON", "PYRT_ERR_SYSTEM_EXIT", "PYRT_ERR_KEYBOARD_INTERRUPT",
    "PYRT_ERR_CONVERSION", "PYRT_ERR_FILE_NOT_FOUND", "PYRT_ERR_PERMISSION_DENIED",
    "PYRT_ERR_NOT_A_FILE", "PYRT_ERR_IO", "PYRT_ERR_INTERNAL", "PYRT_ERR_INTERRUPTED", "PYRT_ERR_TIMEOUT",
    "PYRT_ERR_BUFFER_ESCAPED", "PYRT_ERR_VENV",
};

static void test_static_functions(void) {
    SECTION("static functions");
    const char *v = pyrt_version();
    CHECK(v != NULL && v[0] != '\0');
    CHECK_STR(pyrt_version(), v); /* static: same answer every time */

    /* the numbers are part of the ABI */
    CHECK_INT(PYRT_OK, 0);
    CHECK_INT(PYRT_ERR_INVALID_ARGUMENT, 1);
    CHECK_INT(PYRT_ERR_INVALID_UTF8, 2);
    CHECK_INT(PYRT_ERR_INVALID_JSON, 3);
    CHECK_INT(PYRT_ERR_CONFIG, 4);
    CHECK_INT(PYRT_ERR_LIBPYTHON_NOT_FOUND, 5);
    CHECK_INT(PYRT_ERR_LIBPYTHON_INVALID, 6);
    CHECK_INT(PYRT_ERR_LIBPYTHON_CONFLICT, 7);
    CHECK_INT(PYRT_ERR_INIT, 8);
    CHECK_INT(PYRT_ERR_FINALIZED, 9);
    CHECK_INT(PYRT_ERR_CLOSED, 10);
    CHECK_INT(PYRT_ERR_PYTHON, 11);
    CHECK_INT(PYRT_ERR_SYSTEM_EXIT, 12);
    CHECK_INT(PYRT_ERR_KEYBOARD_INTERRUPT, 13);
    CHECK_INT(PYRT_ERR_CONVERSION, 14);
    CHECK_INT(PYRT_ERR_FILE_NOT_FOUND, 15);
    CHECK_INT(PYRT_ERR_PERMISSION_DENIED, 16);
    CHECK_INT(PYRT_ERR_NOT_A_FILE, 17);
    CHECK_INT(PYRT_ERR_IO, 18);
    CHECK_INT(PYRT_ERR_INTERNAL, 19);
    CHECK_INT(PYRT_ERR_INTERRUPTED, 20);
    CHECK_INT(PYRT_ERR_TIMEOUT, 21);
    CHECK_INT(PYRT_ERR_BUFFER_ESCAPED, 22);
    CHECK_INT(PYRT_ERR_VENV, 23);
    CHECK_INT(PYRT_DONE, 100);
    CHECK_STR(pyrt_status_name(PYRT_DONE), "PYRT_DONE");
    CHECK_STR(pyrt_status_name(99), "PYRT_ERR_UNKNOWN");
    CHECK_STR(pyrt_status_name(101), "PYRT_ERR_UNKNOWN");
    for (int i = 0; i < (int)(sizeof STATUS_NAMES / sizeof STATUS_NAMES[0]); i++)
        CHECK_STR(pyrt_status_name(i), STATUS_NAMES[i]);
    CHECK_STR(pyrt_status_name(24), "PYRT_ERR_UNKNOWN");
    CHECK_STR(pyrt_status_name(-1), "PYRT_ERR_UNKNOWN");
    CHECK_STR(pyrt_status_name(INT32_MAX), "PYRT_ERR_UNKNOWN");
    CHECK_STR(pyrt_status_name(INT32_MIN), "PYRT_ERR_UNKNOWN");

    /* NULL is accepted everywhere it is documented to be */
    CHECK_INT(pyrt_error_code(NULL), PYRT_ERR_INVALID_ARGUMENT);
    CHECK(pyrt_error_message(NULL) == NULL);
    CHECK(pyrt_error_python_type(NULL) == NULL);
    CHECK(pyrt_error_traceback(NULL) == NULL);
    pyrt_error_free(NULL);
    pyrt_string_free(NULL);
    pyrt_free(NULL);
    CHECK(1); /* survived the NULL frees */
}

/* Config errors, before any interpreter exists. Nothing may be started by them. */
static void test_config_errors(void) {
    SECTION("config errors");
    static const char *bad[] = {
        "{",                              /* malformed */
        "{\"libpython\": }",              /* malformed */
        "[]",                             /* not an object */
        "\"x\"",                          /* not an object */
        "42",                             /* not an object */
        "null",                           /* not an object */
        "{\"no_such_key\": 1}",           /* unknown key */
        "{\"libpython\": 5}",             /* wrong type */
        "{\"use_environment\": \"yes\"}", /* wrong type */
        "{\"argv\": \"prog\"}",           /* wrong type */
        "{\"argv\": [1, 2]}",             /* wrong element type */
        "{\"python_executable\": []}",    /* wrong type */
        "{} trailing",                    /* garbage after the object */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pyrt_runtime *rt = (pyrt_runtime *)OUT_SENTINEL;
        pyrt_error *err = NULL;
        int32_t rc = pyrt_new(bad[i], &rt, &err);
        CHECKF(rc == PYRT_ERR_CONFIG, "config %s: got %s (%s)", bad[i], pyrt_status_name(rc),
               err ? safe_s(pyrt_error_message(err)) : "no error");
        CHECKF(err != NULL && pyrt_error_code(err) == rc, "config %s: error object", bad[i]);
        CHECKF(rt == (pyrt_runtime *)OUT_SENTINEL, "config %s: rt_out written on failure", bad[i]);
        pyrt_error_free(err);
        CHECK_INT(pyrt_new(bad[i], &rt, NULL), PYRT_ERR_CONFIG);
    }
    {
        pyrt_error *err = NULL;
        pyrt_runtime *rt = NULL;
        int32_t rc = pyrt_new("{\"libpython\": \"\xff\xfe\"}", &rt, &err);
        CHECK_STATUS(rc, PYRT_ERR_INVALID_UTF8, err);
        pyrt_error_free(err);
    }
    {
        /* rt_out NULL */
        pyrt_error *err = NULL;
        int32_t rc = pyrt_new(NULL, NULL, &err);
        CHECK_STATUS(rc, PYRT_ERR_INVALID_ARGUMENT, err);
        pyrt_error_free(err);
        CHECK_INT(pyrt_new(NULL, NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    }
}

static int handler_is_default(int sig) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) return 0;
    return sa.sa_handler == SIG_DFL;
}

static pyrt_runtime *test_start(void) {
    SECTION("start (discovery through PYRT_LIBPYTHON, NULL config)");
    /* use_environment defaults to false: PYTHON* variables must be ignored */
    setenv("PYTHONOPTIMIZE", "2", 1);
    setenv("PYTHONPATH", "/nonexistent-pyrt-test-dir", 1);
    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_new(NULL, &rt, &err);
    if (!CHECK_OK(rc, err) || rt == NULL) {
        pyrt_error_free(err);
        printf("cannot start the runtime; giving up\n");
        check_summary();
        exit(1);
    }
    EXPECT_EVAL(rt, "__import__('sys').flags.optimize", "0");
    EXPECT_EVAL(rt, "'/nonexistent-pyrt-test-dir' in __import__('sys').path", "false");
    EXPECT_EVAL(rt, "__import__('sys').argv", "[\"\"]");
    /* no signal handlers installed (a C host whose SIGINT/SIGPIPE were SIG_DFL keeps them) */
    CHECK(handler_is_default(SIGINT));
    CHECK(handler_is_default(SIGPIPE));
    CHECK(handler_is_default(SIGXFSZ));
    unsetenv("PYTHONOPTIMIZE");
    unsetenv("PYTHONPATH");
    return rt;
}

/* Minimal extraction of "key":"string" from canonical JSON; caller frees. */
static char *json_get_string(const char *json, const char *key) {
    char *canon = json_canon(json);
    if (canon == NULL) return NULL;
    char *pat = xprintf("\"%s\":\"", key);
    char *at = strstr(canon, pat), *val = NULL;
    if (at != NULL) {
        at += strlen(pat);
        char *end = strchr(at, '"');
        if (end != NULL) {
            *end = '\0';
            val = xstrdup(at);
        }
    }
    free(pat);
    free(canon);
    return val;
}

static void test_info(pyrt_runtime *rt) {
    SECTION("pyrt_info_json");
    char *out = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_info_json(rt, &out, &err);
    if (!CHECK_OK(rc, err)) { pyrt_error_free(err); return; }
    printf("  info: %s\n", out);
    char *canon = json_canon(out);
    CHECKF(canon != NULL, "info is not valid JSON: %s", out);
    free(canon);
    char *pv = json_get_string(out, "pyrt_version");
    CHECK_STR(pv, pyrt_version());
    char *ver = json_get_string(out, "python_version");
    const char *lib = env_libpython();
    if (lib != NULL) {
        char *minor = lib_minor_version(lib);
        char *prefix = minor ? xprintf("%s.", minor) : NULL;
        CHECKF(ver != NULL && prefix != NULL && strncmp(ver, prefix, strlen(prefix)) == 0,
               "python_version %s does not match %s", safe_s(ver), lib);
        char *libpy = json_get_string(out, "libpython");
        char want[PATH_MAX], got[PATH_MAX];
        CHECKF(libpy != NULL && realpath(lib, want) != NULL && realpath(libpy, got) != NULL &&
                   strcmp(want, got) == 0,
               "libpython %s is not %s", safe_s(libpy), lib);
        /* the interpreter agrees */
        char *expr = xprintf("'%%d.%%d' %% __import__('sys').version_info[:2]");
        char *o2 = NULL;
        if (CHECK_OK0(pyrt_eval_json(rt, expr, &o2, NULL))) {
            char *q = json_quote(minor ? minor : "?");
            CHECK_JSON(o2, q);
            free(q);
        }
        pyrt_string_free(o2);
        free(expr);
        free(libpy);
        free(prefix);
        free(minor);
    } else {
        SKIP("PYRT_LIBPYTHON not set: python_version not compared");
    }
    char *exe = json_get_string(out, "executable");
    CHECKF(exe != NULL && exe[0] == '/', "executable %s", safe_s(exe));
    free(exe);
    free(ver);
    free(pv);
    pyrt_string_free(out);
}

static void test_null_arguments(pyrt_runtime *rt) {
    SECTION("NULL for each pointer argument");
    pyrt_error *err = NULL;
    char *out = OUT_SENTINEL;

#define NULL_CASE(call, want)                                                   \
    do {                                                                        \
        err = NULL;                                                             \
        int32_t rc_ = (call);                                                   \
        status_check(rc_, want, &err, __FILE__, __LINE__, #call " is " #want);  \
        pyrt_error_free(err);                                                   \
        err = NULL;                                                             \
    } while (0)

    /* run_string */
    NULL_CASE(pyrt_run_string(NULL, "x = 1", &err), PYRT_ERR_INVALID_ARGUMENT);
    NULL_CASE(pyrt_run_string(rt, NULL, &err), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_INT(pyrt_run_string(rt, NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    /* run_file */
    NULL_CASE(pyrt_run_file(NULL, "/dev/null", &err), PYRT_ERR_INVALID_ARGUMENT);
    NULL_CASE(pyrt_run_file(rt, NULL, &err), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_INT(pyrt_run_file(rt, NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    /* eval_json */
    NULL_CASE(pyrt_eval_json(NULL, "1", &out, &err), PYRT_ERR_INVALID_ARGUMENT);
    NULL_CASE(pyrt_eval_json(rt, NULL, &out, &err), PYRT_ERR_INVALID_ARGUMENT);
    NULL_CASE(pyrt_eval_json(rt, "1", NULL, &err), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_INT(pyrt_eval_json(rt, "1", NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    /* call_json */
    NULL_CASE(pyrt_call_json(NULL, "math", "sqrt", "[4.0]", NULL, &out, &err), PYRT_ERR_INVALID_ARGUMENT);
    NULL_CASE(pyrt_call_json(rt, NULL, "sqrt", "[4.0]", NULL, &out, &err), PYRT_ERR_INVALID_ARGUMENT);
    NULL_CASE(pyrt_call_json(rt, "math", NULL, "[4.0]", NULL, &out, &err), PYRT_ERR_INVALID_ARGUMENT);
    NULL_CASE(pyrt_call_json(rt, "math", "sqrt", "[4.0]", NULL, NULL, &err), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_INT(pyrt_call_json(rt, NULL, NULL, NULL, NULL, NULL, NULL), PYRT_ERR_INVALID_ARGUMENT);
    /* info_json */
    NULL_CASE(pyrt_info_json(NULL, &out, &err), PYRT_ERR_INVALID_ARGUMENT);
    NULL_CASE(pyrt_info_json(rt, NULL, &err), PYRT_ERR_INVALID_ARGUMENT);
    CHECK(out == OUT_SENTINEL);
    /* args_json / kwargs_json NULL are allowed: no arguments */
    EXPECT_CALL(rt, "builtins", "dict", NULL, NULL, "{}");
    EXPECT_CALL(rt, "builtins", "list", "[]", "{}", "[]");
    EXPECT_CALL(rt, "builtins", "dict", NULL, "{\"a\": 1}", "{\"a\": 1}");
#undef NULL_CASE
}

static void test_invalid_utf8(pyrt_runtime *rt) {
    SECTION("invalid UTF-8 in each text input");
    static const char *bads[] = {"\xff", "x = '\xc3\x28'", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80", "ok\xc0\xaf"};
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const char *b = bads[i];
        pyrt_error *err = NULL;
        CHECK_STATUS(pyrt_run_string(rt, b, &err), PYRT_ERR_INVALID_UTF8, err);
        pyrt_error_free(err);
        EXPECT_EVAL_ERR(rt, b, PYRT_ERR_INVALID_UTF8, NULL, NULL);
        EXPECT_CALL_ERR(rt, b, "sqrt", "[1.0]", NULL, PYRT_ERR_INVALID_UTF8, NULL, NULL);
        EXPECT_CALL_ERR(rt, "math", b, "[1.0]", NULL, PYRT_ERR_INVALID_UTF8, NULL, NULL);
        char *args = xprintf("[\"%s\"]", b);
        EXPECT_CALL_ERR(rt, "builtins", "len", args, NULL, PYRT_ERR_INVALID_UTF8, NULL, NULL);
        char *kwargs = xprintf("{\"%s\": 1}", b);
        EXPECT_CALL_ERR(rt, "builtins", "dict", NULL, kwargs, PYRT_ERR_INVALID_UTF8, NULL, NULL);
        free(args);
        free(kwargs);
        err = NULL;
        char *path = xprintf("/tmp/%s.py", b);
        CHECK_STATUS(pyrt_run_file(rt, path, &err), PYRT_ERR_INVALID_UTF8, err);
        pyrt_error_free(err);
        free(path);
    }
    /* valid multi-byte UTF-8 is fine */
    EXPECT_EVAL(rt, "len('h\xc3\xa9llo \xf0\x9f\x8c\x8d')", "7");
}

static void test_bad_json(pyrt_runtime *rt) {
    SECTION("malformed JSON, args not an array, kwargs not an object");
    static const char *malformed[] = {
        "[1,", "[1 2]", "[1] x", "nope", "[\"unterminated]", "[01]", "[NaN]", "[Infinity]",
        "[1.]", "[.5]", "[+1]", "[\"\\x41\"]", "[\"\\ud800\"", "[1,]", "", " ", "[\"tab\there\"]",
        "[\"\\u12\"]", "[tru]", "[{\"a\" 1}]", "[{1: 2}]", "['single']",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        EXPECT_CALL_ERR(rt, "builtins", "len", malformed[i], NULL, PYRT_ERR_INVALID_JSON, NULL, NULL);
    static const char *malformed_kw[] = {"{", "{\"a\":}", "{a: 1}", "{\"a\": 1,}", "{\"a\" 1}", "{} {}"};
    for (size_t i = 0; i < sizeof malformed_kw / sizeof malformed_kw[0]; i++)
        EXPECT_CALL_ERR(rt, "builtins", "dict", NULL, malformed_kw[i], PYRT_ERR_INVALID_JSON, NULL, NULL);

    static const char *not_array[] = {"{}", "{\"a\": 1}", "5", "\"s\"", "null", "true", "1.5"};
    for (size_t i = 0; i < sizeof not_array / sizeof not_array[0]; i++)
        EXPECT_CALL_ERR(rt, "builtins", "len", not_array[i], NULL, PYRT_ERR_INVALID_ARGUMENT, NULL, NULL);
    static const char *not_object[] = {"[]", "[1]", "1", "\"s\"", "null", "false"};
    for (size_t i = 0; i < sizeof not_object / sizeof not_object[0]; i++)
        EXPECT_CALL_ERR(rt, "builtins", "dict", NULL, not_object[i], PYRT_ERR_INVALID_ARGUMENT, NULL, NULL);

    /* nested 100,000 deep: an error, not a stack overflow */
    {
        size_t depth = 100000;
        char *deep = (char *)malloc(2 * depth + 3);
        deep[0] = '[';
        memset(deep + 1, '[', depth);
        memset(deep + 1 + depth, ']', depth);
        deep[1 + 2 * depth] = ']';
        deep[2 + 2 * depth] = '\0';
        EXPECT_CALL_ERR(rt, "builtins", "len", deep, NULL, PYRT_ERR_INVALID_JSON, NULL, NULL);
        /* the same inside kwargs: {"a": [[[...]]]} */
        char *kw = (char *)malloc(2 * depth + 16);
        size_t j = (size_t)sprintf(kw, "{\"a\": ");
        memset(kw + j, '[', depth);
        memset(kw + j + depth, ']', depth);
        strcpy(kw + j + 2 * depth, "}");
        EXPECT_CALL_ERR(rt, "builtins", "dict", NULL, kw, PYRT_ERR_INVALID_JSON, NULL, NULL);
        /* objects nested deep: {"a":{"a":...}} */
        char *obj = (char *)malloc(7 * depth + 8);
        j = 1;
        obj[0] = '[';
        for (size_t d = 0; d < depth; d++) { memcpy(obj + j, "{\"a\":", 5); j += 5; }
        obj[j++] = '1';
        memset(obj + j, '}', depth);
        j += depth;
        obj[j++] = ']';
        obj[j] = '\0';
        EXPECT_CALL_ERR(rt, "builtins", "len", obj, NULL, PYRT_ERR_INVALID_JSON, NULL, NULL);
        free(obj);
        free(kw);
        /* a modest depth (100) works */
        depth = 100;
        deep[0] = '[';
        memset(deep + 1, '[', depth);
        memset(deep + 1 + depth, ']', depth);
        deep[1 + 2 * depth] = ']';
        deep[2 + 2 * depth] = '\0';
        EXPECT_CALL(rt, "builtins", "len", deep, NULL, "1");
        free(deep);
    }
}

static void test_python_errors(pyrt_runtime *rt) {
    SECTION("Python errors: unknown module, missing attribute, not callable, exceptions");
    EXPECT_CALL_ERR(rt, "no_such_module_pyrt", "f", NULL, NULL, PYRT_ERR_PYTHON, "ModuleNotFoundError", "no_such_module_pyrt");
    EXPECT_CALL_ERR(rt, "math", "no_such_function", "[1]", NULL, PYRT_ERR_PYTHON, "AttributeError", "no_such_function");
    EXPECT_CALL_ERR(rt, "os", "path.no_such_function", "[1]", NULL, PYRT_ERR_PYTHON, "AttributeError", "no_such_function");
    EXPECT_CALL_ERR(rt, "os", "no_such_attr.join", "[1]", NULL, PYRT_ERR_PYTHON, "AttributeError", "no_such_attr");
    EXPECT_CALL_ERR(rt, "__main__", "no_such_main_function", NULL, NULL, PYRT_ERR_PYTHON, "AttributeError", "no_such_main_function");
    EXPECT_CALL_ERR(rt, "math", "pi", NULL, NULL, PYRT_ERR_PYTHON, "TypeError", "callable");
    EXPECT_CALL_ERR(rt, "math", "sqrt", "[\"x\"]", NULL, PYRT_ERR_PYTHON, "TypeError", NULL);
    /* the message is CPython's: "math domain error" up to 3.13, "expected a nonnegative input,
     * got -1.0" from 3.14 on; either is fine, the type is what pyrt must carry over */
    {
        char *out = OUT_SENTINEL;
        pyrt_error *err = NULL;
        int32_t rc = pyrt_call_json(rt, "math", "sqrt", "[-1.0]", NULL, &out, &err);
        if (CHECK_STATUS(rc, PYRT_ERR_PYTHON, err)) {
            CHECK_STR(pyrt_error_python_type(err), "ValueError");
            const char *m = pyrt_error_message(err);
            CHECKF(m != NULL && (strstr(m, "math domain error") != NULL || strstr(m, "nonnegative") != NULL),
                   "math.sqrt(-1.0) message: %s", m ? m : "(null)");
        }
        CHECK(out == OUT_SENTINEL);
        pyrt_error_free(err);
    }
    EXPECT_CALL_ERR(rt, "builtins", "len", "[1, 2]", NULL, PYRT_ERR_PYTHON, "TypeError", NULL);
    EXPECT_CALL_ERR(rt, "builtins", "int", "[\"ff\"]", "{\"nope\": 1}", PYRT_ERR_PYTHON, "TypeError", NULL);
    /* empty names: some error (which one is not specified), never success or a crash */
    CHECK(pyrt_call_json(rt, "math", "", NULL, NULL, &(char *){NULL}, NULL) != PYRT_OK);
    CHECK(pyrt_call_json(rt, "", "len", NULL, NULL, &(char *){NULL}, NULL) != PYRT_OK);
    CHECK(pyrt_call_json(rt, "os", "path.", NULL, NULL, &(char *){NULL}, NULL) != PYRT_OK);

    /* an exception raised in the callee: type, message, traceback naming the function */
    EXPECT_RUN(rt,
               "def divide(a, b):\n"
               "    return a / b\n"
               "def call_divide(a, b):\n"
               "    return divide(a, b)\n");
    {
        char *out = OUT_SENTINEL;
        pyrt_error *err = NULL;
        int32_t rc = pyrt_call_json(rt, "__main__", "call_divide", "[1, 0]", NULL, &out, &err);
        if (CHECK_STATUS(rc, PYRT_ERR_PYTHON, err)) {
            CHECK_STR(pyrt_error_python_type(err), "ZeroDivisionError");
            CHECK_CONTAINS(pyrt_error_message(err), "division by zero");
            const char *tb = pyrt_error_traceback(err);
            CHECK_CONTAINS(tb, "divide");
            CHECK_CONTAINS(tb, "call_divide");
            CHECK_CONTAINS(tb, "ZeroDivisionError");
        }
        CHECK(out == OUT_SENTINEL);
        pyrt_error_free(err);
    }
    /* a qualified non-builtin type */
    {
        pyrt_error *err = NULL;
        char *out = OUT_SENTINEL;
        int32_t rc = pyrt_call_json(rt, "json", "loads", "[\"{\"]", NULL, &out, &err);
        if (CHECK_STATUS(rc, PYRT_ERR_PYTHON, err)) {
            CHECK_STR(pyrt_error_python_type(err), "json.decoder.JSONDecodeError");
            CHECK_CONTAINS(pyrt_error_message(err), "Expecting property name");
            CHECK(pyrt_error_traceback(err) != NULL);
        }
        pyrt_error_free(err);
    }
    EXPECT_RUN(rt,
               "class MyError(Exception):\n"
               "    pass\n"
               "def raise_mine():\n"
               "    raise MyError('custom message \xc3\xa9')\n"
               "class BadStr(Exception):\n"
               "    def __str__(self):\n"
               "        raise RuntimeError('str failed')\n"
               "def raise_badstr():\n"
               "    raise BadStr()\n");
    EXPECT_CALL_ERR(rt, "__main__", "raise_mine", NULL, NULL, PYRT_ERR_PYTHON, "__main__.MyError", "custom message \xc3\xa9");
    /* an exception whose __str__ fails is still reported, with its type */
    EXPECT_CALL_ERR(rt, "__main__", "raise_badstr", NULL, NULL, PYRT_ERR_PYTHON, "__main__.BadStr", NULL);
    EXPECT_RUN_ERR(rt, "raise ValueError('from run_string')", PYRT_ERR_PYTHON, "ValueError", "from run_string");
    EXPECT_RUN_ERR(rt, "def broken(:\n  pass", PYRT_ERR_PYTHON, "SyntaxError", NULL);
    EXPECT_EVAL_ERR(rt, "1 +", PYRT_ERR_PYTHON, "SyntaxError", NULL);
    EXPECT_EVAL_ERR(rt, "x_assigned_in_eval = 1", PYRT_ERR_PYTHON, "SyntaxError", NULL);
    EXPECT_EVAL_ERR(rt, "undefined_name_pyrt", PYRT_ERR_PYTHON, "NameError", "undefined_name_pyrt");
    /* the runtime keeps working after errors */
    EXPECT_EVAL(rt, "1 + 1", "2");
}

static void test_exit_and_interrupt(pyrt_runtime *rt) {
    SECTION("SystemExit and KeyboardInterrupt (the process survives)");
    EXPECT_RUN_ERR(rt, "import sys\nsys.exit(7)", PYRT_ERR_SYSTEM_EXIT, NULL, "7");
    EXPECT_RUN_ERR(rt, "raise SystemExit(42)", PYRT_ERR_SYSTEM_EXIT, NULL, "42");
    EXPECT_CALL_ERR(rt, "sys", "exit", "[3]", NULL, PYRT_ERR_SYSTEM_EXIT, NULL, "3");
    EXPECT_EVAL_ERR(rt, "__import__('sys').exit(5)", PYRT_ERR_SYSTEM_EXIT, NULL, "5");
    EXPECT_RUN(rt, "def quit_from_function(code):\n    raise SystemExit(code)\n");
    EXPECT_CALL_ERR(rt, "__main__", "quit_from_function", "[9]", NULL, PYRT_ERR_SYSTEM_EXIT, NULL, "9");
    EXPECT_RUN_ERR(rt, "raise KeyboardInterrupt", PYRT_ERR_KEYBOARD_INTERRUPT, NULL, NULL);
    EXPECT_RUN(rt, "def interrupt():\n    raise KeyboardInterrupt('stop')\n");
    EXPECT_CALL_ERR(rt, "__main__", "interrupt", NULL, NULL, PYRT_ERR_KEYBOARD_INTERRUPT, NULL, NULL);
    /* os._exit is not catchable and is not tested; atexit is not run by sys.exit here */
    EXPECT_EVAL(rt, "2 * 21", "42");
}

static void test_run_string(pyrt_runtime *rt) {
    SECTION("run_string: state persists in __main__");
    EXPECT_RUN(rt, "print('hello from Python (test_api)')");
    EXPECT_RUN(rt, "counter = 41");
    EXPECT_RUN(rt, "counter += 1");
    EXPECT_EVAL(rt, "counter", "42");
    EXPECT_EVAL(rt, "__name__", "\"__main__\"");
    EXPECT_RUN(rt, "import math\nimport os.path\n");
    EXPECT_EVAL(rt, "math.floor(2.5)", "2");
    EXPECT_RUN(rt, "");
    EXPECT_RUN(rt, "# only a comment\n");
    EXPECT_RUN(rt, "if True:\n    nested_ok = 1\n");
    EXPECT_EVAL(rt, "nested_ok", "1");
    EXPECT_EVAL_ERR(rt, "", PYRT_ERR_PYTHON, "SyntaxError", NULL);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f == NULL) { printf("cannot write %s: %s\n", path, strerror(errno)); return; }
    fputs(text, f);
    fclose(f);
}

static void test_run_file(pyrt_runtime *rt) {
    SECTION("run_file");
    char dir[] = "/tmp/pyrt-test-XXXXXX";
    if (mkdtemp(dir) == NULL) { CHECKF(0, "mkdtemp: %s", strerror(errno)); return; }
    char *ok = xprintf("%s/ok.py", dir);
    char *bad = xprintf("%s/bad.py", dir);
    char *syn = xprintf("%s/syntax.py", dir);
    char *ex = xprintf("%s/exits.py", dir);
    char *noperm = xprintf("%s/noperm.py", dir);
    char *missing = xprintf("%s/missing.py", dir);
    write_file(ok, "file_ran = 'yes'\ndef from_file(x):\n    return x + 1\n");
    write_file(bad, "def failing_in_file():\n    raise ValueError('raised in file')\nfailing_in_file()\n");
    write_file(syn, "def (:\n");
    write_file(ex, "import sys\nsys.exit(4)\n");
    write_file(noperm, "x = 1\n");
    chmod(noperm, 0);

    pyrt_error *err = NULL;
    CHECK_OK(pyrt_run_file(rt, ok, &err), err);
    pyrt_error_free(err);
    err = NULL;
    EXPECT_EVAL(rt, "file_ran", "\"yes\"");
    EXPECT_CALL(rt, "__main__", "from_file", "[41]", NULL, "42");

    int32_t rc = pyrt_run_file(rt, bad, &err);
    if (CHECK_STATUS(rc, PYRT_ERR_PYTHON, err)) {
        CHECK_STR(pyrt_error_python_type(err), "ValueError");
        CHECK_CONTAINS(pyrt_error_message(err), "raised in file");
        CHECK_CONTAINS(pyrt_error_traceback(err), "bad.py");
        CHECK_CONTAINS(pyrt_error_traceback(err), "failing_in_file");
    }
    pyrt_error_free(err);
    err = NULL;

    rc = pyrt_run_file(rt, syn, &err);
    if (CHECK_STATUS(rc, PYRT_ERR_PYTHON, err)) CHECK_STR(pyrt_error_python_type(err), "SyntaxError");
    pyrt_error_free(err);
    err = NULL;

    rc = pyrt_run_file(rt, ex, &err);
    if (CHECK_STATUS(rc, PYRT_ERR_SYSTEM_EXIT, err)) CHECK_CONTAINS(pyrt_error_message(err), "4");
    pyrt_error_free(err);
    err = NULL;

    CHECK_STATUS(pyrt_run_file(rt, missing, &err), PYRT_ERR_FILE_NOT_FOUND, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_INT(pyrt_run_file(rt, missing, NULL), PYRT_ERR_FILE_NOT_FOUND);

    if (geteuid() == 0) {
        SKIP("permission denied: running as root (euid 0), chmod 000 does not deny reading");
    } else {
        CHECK_STATUS(pyrt_run_file(rt, noperm, &err), PYRT_ERR_PERMISSION_DENIED, err);
        pyrt_error_free(err);
        err = NULL;
    }
    CHECK_STATUS(pyrt_run_file(rt, dir, &err), PYRT_ERR_NOT_A_FILE, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_run_file(rt, "/", &err), PYRT_ERR_NOT_A_FILE, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_run_file(rt, "/dev/null", &err), PYRT_ERR_NOT_A_FILE, err);
    pyrt_error_free(err);
    err = NULL;

    unlink(ok); unlink(bad); unlink(syn); unlink(ex); unlink(noperm);
    rmdir(dir);
    free(ok); free(bad); free(syn); free(ex); free(noperm); free(missing);
}

static void test_calls(pyrt_runtime *rt) {
    SECTION("call_json: modules, dotted names, __main__, kwargs");
    {
        char *out = NULL;
        pyrt_error *err = NULL;
        if (CHECK_OK(pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, &err), err))
            CHECK_STR(out, "4.0"); /* exactly */
        pyrt_string_free(out);
        pyrt_error_free(err);
    }
    EXPECT_CALL(rt, "math", "sqrt", "[16]", NULL, "4.0");
    EXPECT_CALL(rt, "os", "path.join", "[\"a\", \"b\"]", NULL, "\"a/b\"");
    EXPECT_CALL(rt, "os.path", "join", "[\"a\", \"b\", \"c\"]", NULL, "\"a/b/c\"");
    EXPECT_CALL(rt, "builtins", "len", "[\"hello\"]", NULL, "5");
    EXPECT_CALL(rt, "builtins", "sum", "[[1, 2, 3]]", NULL, "6");
    EXPECT_CALL(rt, "builtins", "int", "[\"ff\"]", "{\"base\": 16}", "255");
    EXPECT_CALL(rt, "builtins", "sorted", "[[3, 1, 2]]", "{\"reverse\": true}", "[3, 2, 1]");
    EXPECT_CALL(rt, "builtins", "dict", NULL, "{\"x\": [1], \"y\": {\"z\": null}}", "{\"x\": [1], \"y\": {\"z\": null}}");
    EXPECT_RUN(rt,
               "def greet(name, punctuation='!'):\n"
               "    return 'Hello, ' + name + punctuation\n"
               "def kw(a, *, b=2, **rest):\n"
               "    return [a, b, sorted(rest)]\n"
               "class K:\n"
               "    @staticmethod\n"
               "    def twice(x):\n"
               "        return 2 * x\n");
    EXPECT_CALL(rt, "__main__", "greet", "[\"World\"]", NULL, "\"Hello, World!\"");
    EXPECT_CALL(rt, "__main__", "greet", "[\"World\"]", "{\"punctuation\": \"?\"}", "\"Hello, World?\"");
    EXPECT_CALL(rt, "__main__", "greet", NULL, "{\"name\": \"kw\"}", "\"Hello, kw!\"");
    EXPECT_CALL(rt, "__main__", "kw", "[1]", "{\"b\": 5, \"z\": 0, \"y\": 0}", "[1, 5, [\"y\", \"z\"]]");
    EXPECT_CALL(rt, "__main__", "K.twice", "[21]", NULL, "42");

    /* callables are looked up again after they change (caching must not go stale) */
    EXPECT_RUN(rt, "def version_fn():\n    return 1\n");
    EXPECT_CALL(rt, "__main__", "version_fn", NULL, NULL, "1");
    EXPECT_RUN(rt, "def version_fn():\n    return 2\n");
    EXPECT_CALL(rt, "__main__", "version_fn", NULL, NULL, "2");
    EXPECT_RUN(rt, "import math\nmath.pyrt_test_fn = lambda: 'a'\n");
    EXPECT_CALL(rt, "math", "pyrt_test_fn", NULL, NULL, "\"a\"");
    EXPECT_RUN(rt, "math.pyrt_test_fn = lambda: 'b'\n");
    EXPECT_CALL(rt, "math", "pyrt_test_fn", NULL, NULL, "\"b\"");
    EXPECT_RUN(rt, "del math.pyrt_test_fn\n");
    EXPECT_CALL_ERR(rt, "math", "pyrt_test_fn", NULL, NULL, PYRT_ERR_PYTHON, "AttributeError", NULL);
}

static void test_value_buf(pyrt_runtime *rt) {
    SECTION("call_value_buf / eval_value_buf: the value encodings into a reused pyrt_buf");
    pyrt_buf b = {0};
    pyrt_error *err = NULL;
    /* flags 0: pyrt_call_json_buf's plain JSON (a tuple as an array) */
    if (CHECK_OK(pyrt_call_value_buf(rt, "math:sqrt", "[16.0]", NULL, 0, &b, &err), err)) {
        CHECK_STR(b.data, "4.0");
        CHECK(b.len == 3 && b.cap >= 4);
    }
    pyrt_error_free(err), err = NULL;
    if (CHECK_OK(pyrt_call_value_buf(rt, "builtins:tuple", "[[1, 2]]", NULL, 0, &b, &err), err))
        CHECK_JSON(b.data, "[1, 2]");
    pyrt_error_free(err), err = NULL;
    /* tagged: tuples, bytes, sets and int keys come back tagged; plain values stay plain */
    if (CHECK_OK(pyrt_call_value_buf(rt, "builtins:tuple", "[[1, \"a\"]]", NULL, PYRT_VALUE_TAGGED, &b, &err), err))
        CHECK_JSON(b.data, "{\"__pyrt__\": \"tuple\", \"v\": [1, \"a\"]}");
    pyrt_error_free(err), err = NULL;
    if (CHECK_OK(pyrt_call_value_buf(rt, "builtins:bytes", "[[104, 105]]", NULL, PYRT_VALUE_TAGGED, &b, &err), err))
        CHECK_JSON(b.data, "{\"__pyrt__\": \"bytes\", \"v\": \"aGk=\"}");
    pyrt_error_free(err), err = NULL;
    if (CHECK_OK(pyrt_call_value_buf(rt, "builtins:dict", "[[[1, \"one\"]]]", NULL, PYRT_VALUE_TAGGED, &b, &err), err))
        CHECK_JSON(b.data, "{\"__pyrt__\": \"dict\", \"v\": [[1, \"one\"]]}");
    pyrt_error_free(err), err = NULL;
    if (CHECK_OK(pyrt_call_value_buf(rt, "builtins:dict", NULL, "{\"x\": [1.5, null]}", PYRT_VALUE_TAGGED, &b, &err), err))
        CHECK_JSON(b.data, "{\"x\": [1.5, null]}");
    pyrt_error_free(err), err = NULL;
    /* tagged arguments: a set argument arrives as a set */
    if (CHECK_OK(pyrt_call_value_buf(rt, "builtins:len", "[{\"__pyrt__\": \"set\", \"v\": [1, 1, 2]}]", NULL,
                                     PYRT_VALUE_TAGGED, &b, &err), err))
        CHECK_STR(b.data, "2");
    pyrt_error_free(err), err = NULL;
    /* a long result grows the buffer; a short one reuses it */
    if (CHECK_OK(pyrt_call_value_buf(rt, "builtins:str", "[\"x\"]", "{}", PYRT_VALUE_TAGGED, &b, &err), err))
        CHECK_STR(b.data, "\"x\"");
    pyrt_error_free(err), err = NULL;
    EXPECT_RUN(rt, "def pyrt_long_tuple(n):\n    return tuple(range(n))\n");
    if (CHECK_OK(pyrt_call_value_buf(rt, "__main__:pyrt_long_tuple", "[3000]", NULL, PYRT_VALUE_TAGGED, &b, &err), err)) {
        CHECK(b.len > 10000 && b.cap > b.len && strlen(b.data) == b.len);
        CHECK(strncmp(b.data, "{\"__pyrt__\":\"tuple\",\"v\":[0,1,2,", 30) == 0);
    }
    pyrt_error_free(err), err = NULL;
    /* failures leave the buffer as it was */
    {
        char *before = b.data;
        size_t len = b.len;
        CHECK_STATUS(pyrt_call_value_buf(rt, "builtins:object", NULL, NULL, PYRT_VALUE_TAGGED, &b, &err),
                     PYRT_ERR_CONVERSION, err);
        pyrt_error_free(err), err = NULL;
        CHECK_STATUS(pyrt_call_value_buf(rt, "builtins:len", "[1]", NULL, 0, &b, &err), PYRT_ERR_PYTHON, err);
        pyrt_error_free(err), err = NULL;
        CHECK_STATUS(pyrt_call_value_buf(rt, "math.sqrt", "[1]", NULL, 0, &b, &err), PYRT_ERR_INVALID_ARGUMENT, err);
        pyrt_error_free(err), err = NULL;
        CHECK_STATUS(pyrt_call_value_buf(rt, "math:sqrt", "[1]", NULL, 8, &b, &err), PYRT_ERR_INVALID_ARGUMENT, err);
        pyrt_error_free(err), err = NULL;
        CHECK_STATUS(pyrt_call_value_buf(rt, "math:sqrt", "[1", NULL, PYRT_VALUE_TAGGED, &b, &err), PYRT_ERR_INVALID_JSON, err);
        pyrt_error_free(err), err = NULL;
        CHECK_STATUS(pyrt_call_value_buf(rt, NULL, "[1]", NULL, 0, &b, &err), PYRT_ERR_INVALID_ARGUMENT, err);
        pyrt_error_free(err), err = NULL;
        CHECK_STATUS(pyrt_call_value_buf(rt, "math:sqrt", "[1]", NULL, 0, NULL, &err), PYRT_ERR_INVALID_ARGUMENT, err);
        pyrt_error_free(err), err = NULL;
        CHECK_STATUS(pyrt_call_value_buf(NULL, "math:sqrt", "[1]", NULL, 0, &b, &err), PYRT_ERR_INVALID_ARGUMENT, err);
        pyrt_error_free(err), err = NULL;
        CHECK(b.data == before && b.len == len);
    }
    /* with handles: an object with no encoding becomes a handle the caller frees */
    if (CHECK_OK(pyrt_call_value_buf(rt, "builtins:object", NULL, NULL, PYRT_VALUE_TAGGED | PYRT_VALUE_HANDLES, &b, &err), err)) {
        unsigned long long id = 0;
        CHECK(sscanf(b.data, "{\"__pyrt__\":\"object\",\"v\":%llu}", &id) == 1 && id != 0);
        if (id != 0) pyrt_object_free((pyrt_object *)(uintptr_t)id);
    }
    pyrt_error_free(err), err = NULL;

    /* eval */
    if (CHECK_OK(pyrt_eval_value_buf(rt, "(1, b'\\x00', {2.5: None})", PYRT_VALUE_TAGGED, &b, &err), err))
        CHECK_JSON(b.data,
                   "{\"__pyrt__\": \"tuple\", \"v\": [1, {\"__pyrt__\": \"bytes\", \"v\": \"AA==\"}, "
                   "{\"__pyrt__\": \"dict\", \"v\": [[2.5, null]]}]}");
    pyrt_error_free(err), err = NULL;
    if (CHECK_OK(pyrt_eval_value_buf(rt, "(1, 2)", 0, &b, &err), err))
        CHECK_JSON(b.data, "[1, 2]");
    pyrt_error_free(err), err = NULL;
    CHECK_STATUS(pyrt_eval_value_buf(rt, "b'x'", 0, &b, &err), PYRT_ERR_CONVERSION, err);
    pyrt_error_free(err), err = NULL;
    CHECK_STATUS(pyrt_eval_value_buf(rt, "1 +", PYRT_VALUE_TAGGED, &b, &err), PYRT_ERR_PYTHON, err);
    pyrt_error_free(err), err = NULL;
    CHECK_STATUS(pyrt_eval_value_buf(rt, NULL, 0, &b, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err), err = NULL;
    CHECK_STATUS(pyrt_eval_value_buf(rt, "1", 0, NULL, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err), err = NULL;
    CHECK_JSON(b.data, "[1, 2]"); /* still the last good result */
    pyrt_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

static void test_conversions(pyrt_runtime *rt) {
    SECTION("JSON <-> Python conversions");
    EXPECT_RUN(rt,
               "def echo(*a):\n"
               "    return a[0] if len(a) == 1 else list(a)\n"
               "def kinds(*a):\n"
               "    return [type(x).__name__ for x in a]\n"
               "def is_2_100(x):\n"
               "    return type(x) is int and x == 2**100\n");
    /* scalars in both directions */
    EXPECT_CALL(rt, "__main__", "kinds", "[null, true, false, 1, -1, 1.0, 1e2, 1E-2, \"s\", [], {}]", NULL,
                "[\"NoneType\", \"bool\", \"bool\", \"int\", \"int\", \"float\", \"float\", \"float\", \"str\", \"list\", \"dict\"]");
    EXPECT_CALL(rt, "__main__", "echo", "[[null, true, false, 0, -7, 2.5, \"x\"]]", NULL, "[null, true, false, 0, -7, 2.5, \"x\"]");
    EXPECT_EVAL(rt, "None", "null");
    EXPECT_EVAL(rt, "[True, False, 1, 0]", "[true, false, 1, 0]");

    /* big integers, exact both ways */
    EXPECT_EVAL(rt, "2**100", "1267650600228229401496703205376");
    EXPECT_EVAL(rt, "-(2**100)", "-1267650600228229401496703205376");
    EXPECT_EVAL(rt, "2**63 - 1", "9223372036854775807");
    EXPECT_EVAL(rt, "-(2**63)", "-9223372036854775808");
    EXPECT_EVAL(rt, "2**64", "18446744073709551616");
    EXPECT_CALL(rt, "__main__", "is_2_100", "[1267650600228229401496703205376]", NULL, "true");
    EXPECT_CALL(rt, "__main__", "echo", "[-1267650600228229401496703205376]", NULL, "-1267650600228229401496703205376");
    EXPECT_CALL(rt, "__main__", "echo", "[18446744073709551615]", NULL, "18446744073709551615");
    EXPECT_CALL(rt, "__main__", "echo", "[-9223372036854775809]", NULL, "-9223372036854775809");
    EXPECT_CALL(rt, "__main__", "kinds", "[18446744073709551616, 123456789012345678901234567890]", NULL, "[\"int\", \"int\"]");
    {
        /* 5000 digits: beyond CPython 3.11+'s int/str digit limit (4300) — still exact */
        char *big = (char *)malloc(5000 + 3);
        big[0] = '[';
        big[1] = '1';
        memset(big + 2, '0', 4999);
        big[5001] = ']';
        big[5002] = '\0';
        EXPECT_CALL(rt, "__main__", "echo", big, NULL, NULL);
        char *out = NULL;
        if (CHECK_OK0(pyrt_call_json(rt, "__main__", "echo", big, NULL, &out, NULL))) {
            big[5001] = '\0';
            CHECK_STR(out, big + 1);
        }
        pyrt_string_free(out);
        out = NULL;
        if (CHECK_OK0(pyrt_eval_json(rt, "10**4999", &out, NULL))) CHECK_STR(out, big + 1);
        pyrt_string_free(out);
        free(big);
    }

    /* floats: shortest round-trip form */
    EXPECT_EVAL(rt, "0.1", "0.1");
    EXPECT_EVAL(rt, "1/3", "0.3333333333333333");
    EXPECT_EVAL(rt, "0.1 + 0.2", "0.30000000000000004");
    EXPECT_EVAL(rt, "4.0", "4.0");
    EXPECT_EVAL(rt, "-0.0", "-0.0");
    EXPECT_EVAL(rt, "1e16", "1e16");
    EXPECT_EVAL(rt, "1.5e-7", "1.5e-7");
    EXPECT_EVAL(rt, "5e-324", "5e-324");
    EXPECT_EVAL(rt, "1.7976931348623157e308", "1.7976931348623157e308");
    EXPECT_EVAL(rt, "123456789.125", "123456789.125");
    EXPECT_CALL(rt, "__main__", "echo", "[0.1]", NULL, "0.1");
    EXPECT_CALL(rt, "__main__", "echo", "[1.0]", NULL, "1.0");
    EXPECT_CALL(rt, "__main__", "echo", "[2.2250738585072014e-308]", NULL, "2.2250738585072014e-308");
    EXPECT_CALL(rt, "builtins", "repr", "[0.30000000000000004]", NULL, "\"0.30000000000000004\"");

    /* unicode */
    EXPECT_CALL(rt, "__main__", "echo", "[\"h\xc3\xa9llo w\xc3\xb6rld \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8c\x8d\"]", NULL,
                "\"h\xc3\xa9llo w\xc3\xb6rld \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8c\x8d\"");
    EXPECT_CALL(rt, "builtins", "len", "[\"\xf0\x9f\x8c\x8d\"]", NULL, "1");
    EXPECT_CALL(rt, "builtins", "len", "[\"\\ud83c\\udf0d\"]", NULL, "1");
    EXPECT_CALL(rt, "builtins", "ord", "[\"\\u00e9\"]", NULL, "233");
    EXPECT_CALL(rt, "builtins", "len", "[\"a\\u0000b\"]", NULL, "3");
    EXPECT_CALL(rt, "__main__", "echo", "[\"q\\\"b\\\\s\\n\\t\\r\\b\\f\\/\\u0001\"]", NULL, "\"q\\\"b\\\\s\\n\\t\\r\\b\\f/\\u0001\"");
    EXPECT_EVAL(rt, "chr(0x1F600) + chr(0xE9) + chr(0)", "\"\xf0\x9f\x98\x80\xc3\xa9\\u0000\"");
    EXPECT_EVAL(rt, "'\\x7f\\x1f'", "\"\x7f\\u001f\"");

    /* containers */
    EXPECT_CALL(rt, "__main__", "echo", "[{\"a\": [1, {\"b\": null}], \"c\": true, \"d\": {}, \"e\": []}]", NULL,
                "{\"a\": [1, {\"b\": null}], \"c\": true, \"d\": {}, \"e\": []}");
    EXPECT_EVAL(rt, "(1, 2, (3,), ())", "[1, 2, [3], []]");
    EXPECT_EVAL(rt, "{'k': (1, [2, {'z': None}])}", "{\"k\": [1, [2, {\"z\": null}]]}");
    EXPECT_EVAL(rt, "dict(b=1, a=2)", "{\"b\": 1, \"a\": 2}"); /* insertion order kept */
    {
        char *out = NULL;
        if (CHECK_OK0(pyrt_eval_json(rt, "list(range(100000))", &out, NULL))) {
            CHECK(strncmp(out, "[0,", 3) == 0 || strncmp(out, "[0, ", 4) == 0);
            size_t n = strlen(out);
            CHECK(n > 7 && strcmp(out + n - 6, "99999]") == 0);
        }
        pyrt_string_free(out);
    }

    /* values with no JSON form: PYRT_ERR_CONVERSION naming the type and the path */
    EXPECT_EVAL_ERR(rt, "{1, 2}", PYRT_ERR_CONVERSION, "-", "set");
    EXPECT_EVAL_ERR(rt, "[1, {'k': {1, 2}}]", PYRT_ERR_CONVERSION, "-", "$[1][\"k\"]");
    EXPECT_EVAL_ERR(rt, "[1, {'k': {1, 2}}]", PYRT_ERR_CONVERSION, "-", "set");
    EXPECT_EVAL_ERR(rt, "float('nan')", PYRT_ERR_CONVERSION, "-", "float");
    EXPECT_EVAL_ERR(rt, "{'a': [0.5, float('nan')]}", PYRT_ERR_CONVERSION, "-", "$[\"a\"][1]");
    EXPECT_EVAL_ERR(rt, "float('inf')", PYRT_ERR_CONVERSION, "-", NULL);
    EXPECT_EVAL_ERR(rt, "-float('inf')", PYRT_ERR_CONVERSION, "-", NULL);
    EXPECT_EVAL_ERR(rt, "b'bytes'", PYRT_ERR_CONVERSION, "-", "bytes");
    EXPECT_EVAL_ERR(rt, "object()", PYRT_ERR_CONVERSION, "-", "object");
    EXPECT_EVAL_ERR(rt, "{1: 'int key'}", PYRT_ERR_CONVERSION, "-", NULL);
    EXPECT_EVAL_ERR(rt, "1j", PYRT_ERR_CONVERSION, "-", "complex");
    EXPECT_RUN(rt, "class Unconvertible:\n    pass\n");
    EXPECT_EVAL_ERR(rt, "[Unconvertible()]", PYRT_ERR_CONVERSION, "-", "Unconvertible");
    EXPECT_CALL_ERR(rt, "builtins", "set", "[[1, 2]]", NULL, PYRT_ERR_CONVERSION, "-", "set");
    /* a string with a lone surrogate has no UTF-8 form: an error or an escape, never a crash */
    {
        char *out = NULL;
        pyrt_error *err = NULL;
        int32_t rc = pyrt_eval_json(rt, "'\\ud800'", &out, &err);
        CHECKF(rc == PYRT_OK || rc == PYRT_ERR_CONVERSION, "lone surrogate: %s", pyrt_status_name(rc));
        if (rc == PYRT_OK) {
            char *c = json_canon(out);
            CHECKF(c != NULL, "lone surrogate gave invalid JSON %s", out);
            free(c);
        }
        printf("  lone surrogate -> %s %s\n", pyrt_status_name(rc), rc == PYRT_OK ? out : safe_s(pyrt_error_message(err)));
        pyrt_string_free(out);
        pyrt_error_free(err);
    }
}

static void test_handles(pyrt_runtime *rt) {
    SECTION("more handles share the interpreter; use after free");
    pyrt_runtime *rt2 = NULL, *rt3 = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_new("", &rt2, &err), err); /* "" = defaults */
    pyrt_error_free(err);
    err = NULL;
    char *cfg = config_for(env_libpython());
    CHECK_OK(pyrt_new(cfg, &rt3, &err), err);
    pyrt_error_free(err);
    err = NULL;
    free(cfg);
    if (rt2 == NULL || rt3 == NULL) return;
    CHECK(rt2 != rt && rt3 != rt && rt2 != rt3);
    EXPECT_RUN(rt, "shared_by_handles = 'one interpreter'");
    EXPECT_EVAL(rt2, "shared_by_handles", "\"one interpreter\"");
    EXPECT_EVAL(rt3, "shared_by_handles", "\"one interpreter\"");

    pyrt_free(rt2);
    /* the freed handle: PYRT_ERR_CLOSED everywhere, outputs untouched */
    char *out = OUT_SENTINEL;
    CHECK_STATUS(pyrt_run_string(rt2, "x = 1", &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_run_file(rt2, "/dev/null", &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_eval_json(rt2, "1", &out, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_call_json(rt2, "math", "sqrt", "[4.0]", NULL, &out, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_info_json(rt2, &out, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK(out == OUT_SENTINEL);
    /* freeing it again is harmless and must not close the others */
    pyrt_free(rt2);
    EXPECT_EVAL(rt, "shared_by_handles", "\"one interpreter\"");
    EXPECT_EVAL(rt3, "1 + 2", "3");
    /* something that was never a handle */
    int not_a_handle = 0;
    CHECK_STATUS(pyrt_eval_json((pyrt_runtime *)&not_a_handle, "1", &out, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    pyrt_free((pyrt_runtime *)&not_a_handle);
    CHECK(not_a_handle == 0);
    pyrt_free(rt3);
    EXPECT_EVAL(rt, "'still alive'", "\"still alive\"");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("test_api: pyrt %s, PYRT_LIBPYTHON=%s\n", pyrt_version(), safe_s(env_libpython()));
    test_static_functions();
    test_config_errors();
    pyrt_runtime *rt = test_start();
    test_info(rt);
    test_null_arguments(rt);
    test_invalid_utf8(rt);
    test_bad_json(rt);
    test_python_errors(rt);
    test_exit_and_interrupt(rt);
    test_run_string(rt);
    test_run_file(rt);
    test_calls(rt);
    test_value_buf(rt);
    test_conversions(rt);
    test_handles(rt);
    pyrt_free(rt); /* the last handle: finalizes */
    {
        pyrt_error *err = NULL;
        CHECK_STATUS(pyrt_run_string(rt, "x = 1", &err), PYRT_ERR_CLOSED, err);
        pyrt_error_free(err);
    }
    return check_summary();
}
