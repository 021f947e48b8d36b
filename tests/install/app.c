/*
 * app.c — a C program built the way a user of an installed pyrt builds it:
 *
 *     cc app.c $(pkg-config --cflags --libs pyrt)
 *
 * scripts/test-install.sh installs pyrt into a temporary prefix with `make install`, builds this
 * file with exactly that command and runs it. It is the README's C quick start plus checks: it
 * prints what it got and exits non-zero on any unexpected result.
 */
#include <pyrt.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void expect(const char *what, const char *got, const char *want) {
    if (got == NULL || strcmp(got, want) != 0) {
        fprintf(stderr, "FAIL %s: got %s, want %s\n", what, got ? got : "(null)", want);
        failures++;
    } else {
        printf("%s = %s\n", what, got);
    }
}

int main(void) {
    pyrt_runtime *rt;
    pyrt_error *err = NULL;
    printf("pyrt %s (%s)\n", pyrt_version(), pyrt_source_hash());
    /* NULL config: discover libpython ($PYRT_LIBPYTHON, then the python3 on PATH) */
    if (pyrt_new(NULL, &rt, &err) != PYRT_OK) {
        fprintf(stderr, "pyrt_new: %s\n", pyrt_error_message(err));
        pyrt_error_free(err);
        return 1;
    }
    char *out;
    if (pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, &err) == PYRT_OK) {
        expect("math.sqrt(16.0)", out, "4.0");
        pyrt_string_free(out);
    } else {
        fprintf(stderr, "FAIL call: %s\n", pyrt_error_message(err));
        pyrt_error_free(err);
        err = NULL;
        failures++;
    }
    if (pyrt_run_string(rt, "def add(a, b):\n    return a + b\n", &err) != PYRT_OK) {
        fprintf(stderr, "FAIL run: %s\n", pyrt_error_message(err));
        pyrt_error_free(err);
        err = NULL;
        failures++;
    }
    if (pyrt_call_json(rt, "__main__", "add", "[2, 3]", NULL, &out, &err) == PYRT_OK) {
        expect("add(2, 3)", out, "5");
        pyrt_string_free(out);
    } else {
        pyrt_error_free(err);
        err = NULL;
        failures++;
    }
    if (pyrt_run_string(rt, "1/0", &err) != PYRT_OK) { /* a Python exception is an error */
        expect("1/0 raises", pyrt_error_python_type(err), "ZeroDivisionError");
        pyrt_error_free(err);
    } else {
        fprintf(stderr, "FAIL 1/0 did not fail\n");
        failures++;
    }
    pyrt_free(rt);
    printf("%s\n", failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
}
