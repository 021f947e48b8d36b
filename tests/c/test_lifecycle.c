/*
 * test_lifecycle.c — one interpreter per process: later pyrt_new calls share it, a different
 * libpython is refused, freeing the last handle finalizes (atexit runs, non-daemon threads are
 * joined), and afterwards pyrt_new returns PYRT_ERR_FINALIZED and old handles PYRT_ERR_CLOSED.
 *
 *   PYRT_LIBPYTHON             the libpython under test
 *   PYRT_TEST_OTHER_LIBPYTHON  a different supported libpython (for the conflict case); the
 *                              case is skipped with a message when it is not set
 */
#define _XOPEN_SOURCE 700

#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *lib = env_libpython();
    printf("test_lifecycle: pyrt %s, PYRT_LIBPYTHON=%s\n", pyrt_version(), safe_s(lib));
    char *cfg = config_for(lib);
    pyrt_error *err = NULL;

    SECTION("first handle starts the interpreter; later handles share it");
    pyrt_runtime *rt1 = open_runtime_or_die();
    pyrt_runtime *rt2 = NULL, *rt3 = NULL;
    CHECK_OK(pyrt_new(NULL, &rt2, &err), err); /* discovery: PYRT_LIBPYTHON, the same library */
    pyrt_error_free(err);
    err = NULL;
    if (rt2 == NULL) return check_summary();
    EXPECT_RUN(rt1, "import sys\nstarted_by = 'rt1'\nfirst_version = sys.version\n");
    EXPECT_EVAL(rt2, "started_by", "\"rt1\"");
    EXPECT_EVAL(rt2, "sys.version == first_version", "true");

    if (lib != NULL) {
        /* the same file spelled differently is the same library, not a conflict */
        const char *slash = strrchr(lib, '/');
        if (slash != NULL) {
            char *same = xprintf("%.*s/./%s", (int)(slash - lib), lib, slash + 1);
            char *cfg_same = config_for(same);
            CHECK_OK(pyrt_new(cfg_same, &rt3, &err), err);
            pyrt_error_free(err);
            err = NULL;
            if (rt3 != NULL) EXPECT_EVAL(rt3, "started_by", "\"rt1\"");
            pyrt_free(rt3);
            free(cfg_same);
            free(same);
        }
    }

    SECTION("a different libpython in the same process: PYRT_ERR_LIBPYTHON_CONFLICT");
    const char *other = getenv("PYRT_TEST_OTHER_LIBPYTHON");
    if (other == NULL || other[0] == '\0') {
        SKIP("PYRT_TEST_OTHER_LIBPYTHON not set (only one libpython on this machine?)");
    } else {
        char *cfg_other = config_for(other);
        pyrt_runtime *rt_other = (pyrt_runtime *)OUT_SENTINEL;
        int32_t rc = pyrt_new(cfg_other, &rt_other, &err);
        CHECK_STATUS(rc, PYRT_ERR_LIBPYTHON_CONFLICT, err);
        printf("  conflict message: %s\n", err ? safe_s(pyrt_error_message(err)) : "-");
        CHECK(rt_other == (pyrt_runtime *)OUT_SENTINEL);
        pyrt_error_free(err);
        err = NULL;
        /* NULL config while running: no library is named, so the handle joins the running
         * interpreter (discovery is not consulted again), whatever PYRT_LIBPYTHON says now */
        char *saved = lib ? xstrdup(lib) : NULL;
        setenv("PYRT_LIBPYTHON", other, 1);
        pyrt_runtime *rt_join = NULL;
        rc = pyrt_new(NULL, &rt_join, &err);
        printf("  NULL config with PYRT_LIBPYTHON=<other> while running -> %s\n", pyrt_status_name(rc));
        pyrt_error_free(err);
        err = NULL;
        if (rc == PYRT_OK) pyrt_free(rt_join);
        if (saved) setenv("PYRT_LIBPYTHON", saved, 1);
        free(saved);
        /* the running interpreter is untouched */
        EXPECT_EVAL(rt1, "sys.version == first_version", "true");
        EXPECT_CALL(rt1, "math", "sqrt", "[16.0]", NULL, "4.0");
        free(cfg_other);
    }

    SECTION("freeing a handle that is not the last keeps the interpreter");
    char dir[] = "/tmp/pyrt-lifecycle-XXXXXX";
    if (mkdtemp(dir) == NULL) { CHECK(0); return check_summary(); }
    char *atexit_file = xprintf("%s/atexit-ran", dir);
    char *thread_file = xprintf("%s/thread-finished", dir);
    char *qa = py_quote(atexit_file), *qt = py_quote(thread_file);
    char *code = xprintf(
        "import atexit, threading, time\n"
        "def _at_exit():\n"
        "    open(%s, 'w').close()\n"
        "atexit.register(_at_exit)\n"
        "def _late():\n"
        "    time.sleep(0.3)\n"
        "    open(%s, 'w').close()\n"
        "threading.Thread(target=_late).start()\n",
        qa, qt);
    EXPECT_RUN(rt2, code);
    pyrt_free(rt2);
    CHECK_STATUS(pyrt_eval_json(rt2, "1", &(char *){NULL}, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    EXPECT_EVAL(rt1, "started_by", "\"rt1\"");
    CHECK(!file_exists(atexit_file));

    /* an error object and a result string taken before finalization stay valid after it */
    pyrt_error *kept_err = NULL;
    char *kept_out = NULL;
    EXPECT_RUN(rt1, "def fails_before_finalize():\n    raise KeyError('kept')\n");
    CHECK_STATUS(pyrt_call_json(rt1, "__main__", "fails_before_finalize", NULL, NULL, &kept_out, &kept_err),
                 PYRT_ERR_PYTHON, kept_err);
    CHECK_OK0(pyrt_eval_json(rt1, "['kept', 2**70]", &kept_out, NULL));

    SECTION("freeing the last handle finalizes: atexit runs, non-daemon threads are joined");
    pyrt_free(rt1);
    CHECK(file_exists(atexit_file));
    CHECK(file_exists(thread_file));
    CHECK_STR(pyrt_error_python_type(kept_err), "KeyError");
    CHECK_CONTAINS(pyrt_error_message(kept_err), "kept");
    CHECK_CONTAINS(pyrt_error_traceback(kept_err), "fails_before_finalize");
    CHECK_INT(pyrt_error_code(kept_err), PYRT_ERR_PYTHON);
    pyrt_error_free(kept_err);
    CHECK_JSON(kept_out, "[\"kept\", 1180591620717411303424]");
    pyrt_string_free(kept_out);

    SECTION("after finalization: PYRT_ERR_FINALIZED / PYRT_ERR_CLOSED, never a crash");
    pyrt_runtime *rt4 = (pyrt_runtime *)OUT_SENTINEL;
    CHECK_STATUS(pyrt_new(cfg, &rt4, &err), PYRT_ERR_FINALIZED, err);
    CHECK(rt4 == (pyrt_runtime *)OUT_SENTINEL);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_new(NULL, &rt4, &err), PYRT_ERR_FINALIZED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_INT(pyrt_new(NULL, &rt4, NULL), PYRT_ERR_FINALIZED);
    char *out = OUT_SENTINEL;
    CHECK_STATUS(pyrt_run_string(rt1, "x = 1", &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_run_file(rt1, "/dev/null", &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_eval_json(rt1, "1", &out, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_call_json(rt1, "math", "sqrt", "[1.0]", NULL, &out, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK_STATUS(pyrt_info_json(rt1, &out, &err), PYRT_ERR_CLOSED, err);
    pyrt_error_free(err);
    err = NULL;
    CHECK(out == OUT_SENTINEL);
    pyrt_free(rt1); /* again: harmless */
    pyrt_free(rt2);
    CHECK(1);
    /* the static functions still work */
    CHECK(pyrt_version() != NULL);
    CHECK_STR(pyrt_status_name(PYRT_ERR_FINALIZED), "PYRT_ERR_FINALIZED");

    unlink(atexit_file);
    unlink(thread_file);
    rmdir(dir);
    free(code);
    free(qa);
    free(qt);
    free(atexit_file);
    free(thread_file);
    free(cfg);
    return check_summary();
}
