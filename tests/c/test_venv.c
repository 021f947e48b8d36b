/*
 * test_venv.c — a C host running Python from a real virtualenv (PYRT_TEST_VENV, built by
 * scripts/make-venvs.sh with numpy and jinja2 from PyPI, without pip): sys.prefix and
 * sys.executable are the venv's, numpy computes, jinja2 renders, a package present only outside
 * the venv (pip) does not import, and subprocess / multiprocessing (spawn and forkserver, a Pool.map
 * of a function from a user module) work through sys.executable. sys.argv is [""].
 */
#define _XOPEN_SOURCE 700

#include <unistd.h>

#include "testutil.h"

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *venv = getenv("PYRT_TEST_VENV");
    printf("test_venv: pyrt %s, PYRT_TEST_VENV=%s\n", pyrt_version(), safe_s(venv));
    if (venv == NULL || *venv == '\0') {
        /* scripts/test-c.sh always provides one: there a missing venv fails instead of skipping */
        CHECK(getenv("PYRT_TEST_REQUIRE_VENV") == NULL);
        SKIP("PYRT_TEST_VENV is not set (scripts/test-c.sh sets it from scripts/make-venvs.sh)");
        return check_summary();
    }

    char moddir[] = "/tmp/pyrt-venv-c-XXXXXX";
    CHECK(mkdtemp(moddir) != NULL);
    char *modpath = xprintf("%s/pyrt_c_user_mod.py", moddir);
    FILE *f = fopen(modpath, "w");
    CHECK(f != NULL);
    fputs("def cube(x):\n    return x * x * x\n", f);
    fclose(f);

    char *qvenv = json_quote(venv), *qdir = json_quote(moddir);
    char *config = xprintf("{\"venv\": %s, \"site_paths\": [%s]}", qvenv, qdir);
    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    if (!CHECK_OK(pyrt_new(config, &rt, &err), err)) return check_summary();

    SECTION("the interpreter is the venv's python");
    char *real_venv = realpath(venv, NULL);
    char *want_prefix = json_quote(real_venv != NULL ? real_venv : venv);
    free(real_venv);
    EXPECT_EVAL(rt, "__import__('os').path.realpath(__import__('sys').prefix)", want_prefix);
    char *exe = xprintf("%s/bin/python", venv);
    char *want_exe = json_quote(exe);
    EXPECT_EVAL(rt, "__import__('sys').executable", want_exe);
    EXPECT_EVAL(rt, "__import__('sys').argv", "[\"\"]");

    SECTION("numpy (C extension) and jinja2 (pure Python) from the venv");
    EXPECT_EVAL(rt, "__import__('numpy').arange(10).reshape(2, 5).sum(axis=1).tolist()", "[10, 35]");
    EXPECT_EVAL(rt, "round(float(__import__('numpy').linalg.det(__import__('numpy').array([[2.0, 1.0], [1.0, 3.0]]))), 6)", "5.0");
    EXPECT_EVAL(rt, "__import__('jinja2').Template('{% for x in xs %}{{ x }},{% endfor %}').render(xs=[1, 2])", "\"1,2,\"");

    SECTION("a package present only outside the venv does not import");
    CHECK_STATUS(pyrt_run_string(rt, "import pip", &err), PYRT_ERR_PYTHON, err);
    pyrt_error_free(err);
    err = NULL;

    SECTION("subprocess and multiprocessing through sys.executable");
    CHECK_OK(pyrt_run_string(rt,
                             "import subprocess, sys\n"
                             "r = subprocess.run([sys.executable, '-c', 'import sys; print(sys.prefix)'], capture_output=True, text=True, check=True)\n"
                             "child_prefix = r.stdout.strip()\n",
                             &err),
             err);
    EXPECT_EVAL(rt, "child_prefix == sys.prefix", "true");
    const char *methods[] = {"spawn", "forkserver"};
    for (int i = 0; i < 2; i++) {
        char *code = xprintf("import multiprocessing, pyrt_c_user_mod\n"
                             "with multiprocessing.get_context('%s').Pool(2) as pool:\n"
                             "    mp = pool.map(pyrt_c_user_mod.cube, range(5))\n",
                             methods[i]);
        if (CHECK_OK(pyrt_run_string(rt, code, &err), err)) EXPECT_EVAL(rt, "mp", "[0, 1, 8, 27, 64]");
        free(code);
    }

    pyrt_free(rt);
    unlink(modpath);
    rmdir(moddir);
    free(modpath); free(qvenv); free(qdir); free(config); free(want_prefix); free(exe); free(want_exe);
    return check_summary();
}
