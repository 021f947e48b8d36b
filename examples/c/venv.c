/*
 * venv.c — run Python inside a virtualenv from C (the seed's examples/venv, in C).
 *
 *   venv <venvdir> [libpython]
 *
 * pyrt reads <venvdir>/pyvenv.cfg, finds the venv's libpython itself (or loads the one given,
 * which must be the venv's Python version) and starts CPython so that sys.prefix,
 * sys.executable and site-packages are the venv's. The example then prints them and uses two
 * packages installed in the venv: numpy (a C extension) and jinja2 (pure Python).
 *
 * Make a venv to try it with:
 *   python3 -m venv /tmp/v && /tmp/v/bin/pip install numpy jinja2
 *
 * Build and run (from the repository root, after `cargo build --release`):
 *   cc -std=c99 -Wall -Wextra -Werror -Iinclude examples/c/venv.c -Ltarget/release -lpyrt \
 *      -Wl,-rpath,$PWD/target/release -o venv
 *   ./venv /tmp/v
 *   ./venv /tmp/v /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrt.h"

/* Appends `s` as a JSON string literal to `out` (capacity `cap`); 0 if it did not fit. */
static int json_string(char *out, size_t cap, const char *s) {
    size_t n = strlen(out);
    if (n + 1 >= cap) return 0;
    out[n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8] = {0};
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            esc[0] = (char)c;
        }
        size_t len = strlen(esc);
        if (n + len + 2 >= cap) return 0;
        memcpy(out + n, esc, len);
        n += len;
    }
    out[n++] = '"';
    out[n] = '\0';
    return 1;
}

/* Print an error, free it, and say whether there was one. */
static int report(const char *what, int32_t rc, pyrt_error *err) {
    if (rc == PYRT_OK) return 0;
    fprintf(stderr, "%s failed: %s: %s\n", what, pyrt_status_name(rc),
            err ? pyrt_error_message(err) : "(no details)");
    if (err && pyrt_error_traceback(err)) fprintf(stderr, "%s", pyrt_error_traceback(err));
    pyrt_error_free(err);
    return 1;
}

/* Evaluates `expr` and prints "label value" (the value as JSON). */
static int show(pyrt_runtime *rt, const char *label, const char *expr) {
    char *json = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_eval_json(rt, expr, &json, &err);
    if (report(label, rc, err)) return 1;
    printf("%-16s %s\n", label, json);
    pyrt_string_free(json);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s <venvdir> [libpython]\n", argv[0]);
        return 2;
    }
    /* {"venv": "<venvdir>"[, "libpython": "<path>"]}: the venv's own settings decide the rest
     * (include-system-site-packages); add "system_site_packages" or "site_paths" to change them. */
    char config[8192] = "{\"venv\": ";
    int ok = json_string(config, sizeof config, argv[1]);
    if (ok && argc > 2) {
        strcat(config, ", \"libpython\": ");
        ok = json_string(config, sizeof config, argv[2]);
    }
    if (!ok || strlen(config) + 2 >= sizeof config) {
        fprintf(stderr, "path too long\n");
        return 2;
    }
    strcat(config, "}");

    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_new(config, &rt, &err);
    if (report("pyrt_new", rc, err)) return 1;

    int failed = 0;
    failed |= show(rt, "python:", "__import__('sys').version.split()[0]");
    failed |= show(rt, "sys.prefix:", "__import__('sys').prefix");
    failed |= show(rt, "sys.base_prefix:", "__import__('sys').base_prefix");
    failed |= show(rt, "sys.executable:", "__import__('sys').executable");
    failed |= show(rt, "site-packages:", "[p for p in __import__('sys').path if p.endswith('-packages')]");

    /* numpy: a C extension loaded from the venv. */
    rc = pyrt_run_string(rt,
                         "import numpy\n"
                         "a = numpy.arange(10).reshape(2, 5)\n",
                         &err);
    if (report("import numpy", rc, err)) {
        failed = 1;
    } else {
        failed |= show(rt, "numpy:", "numpy.__version__");
        failed |= show(rt, "row sums:", "a.sum(axis=1).tolist()");
    }

    /* jinja2: pure Python, also from the venv. */
    rc = pyrt_run_string(rt,
                         "import jinja2\n"
                         "page = jinja2.Template('Hello {{ name }}! {% for i in items %}[{{ i }}]{% endfor %}')"
                         ".render(name='venv', items=[1, 2, 3])\n",
                         &err);
    if (report("jinja2", rc, err)) {
        failed = 1;
    } else {
        failed |= show(rt, "jinja2:", "page");
    }

    pyrt_free(rt);
    return failed;
}
