/*
 * host_c — run a Python script inside pyrt from a plain C program (the C host of the CPython
 * test comparison, tests/cpython/README.md).
 *
 *   host_c <libpython> <signals> <script.py> [script args...]
 *
 * Opens pyrt with {"libpython": <libpython>, "main_thread": true, "signals": <signals>,
 * "argv": [<script.py>, args...]}, runs the script in __main__ with pyrt_run_file and frees the
 * runtime (which joins non-daemon threads and runs atexit handlers, as interpreter exit does).
 * <signals> is "host" (pyrt's default: SIGINT stays this program's) or "python" (standalone
 * signal behaviour). Exit status: 0 when the script ran to its end, 1 when it raised (the error
 * is printed on stderr), 2 on a usage or start-up error.
 */
#include "pyrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends `s` to `buf` as a JSON string literal; returns the new length or 0 if it does not fit. */
static size_t json_string(char *buf, size_t len, size_t cap, const char *s) {
    if (len + 2 >= cap) return 0;
    buf[len++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t n;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c < 0x20) {
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            esc[0] = (char)c;
            n = 1;
        }
        if (len + n + 2 >= cap) return 0;
        memcpy(buf + len, esc, n);
        len += n;
    }
    buf[len++] = '"';
    buf[len] = '\0';
    return len;
}

static size_t append(char *buf, size_t len, size_t cap, const char *s) {
    size_t n = strlen(s);
    if (len == 0 || len + n + 1 >= cap) return 0;
    memcpy(buf + len, s, n + 1);
    return len + n;
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[2], "host") != 0 && strcmp(argv[2], "python") != 0)) {
        fprintf(stderr, "usage: %s <libpython> host|python <script.py> [args...]\n", argv[0]);
        return 2;
    }
    static char config[65536];
    size_t cap = sizeof config;
    size_t len = (size_t)snprintf(config, cap, "{\"libpython\": ");
    len = json_string(config, len, cap, argv[1]);
    len = append(config, len, cap, ", \"main_thread\": true, \"signals\": ");
    if (len) len = json_string(config, len, cap, argv[2]);
    len = append(config, len, cap, ", \"argv\": [");
    for (int i = 3; i < argc && len; i++) {
        if (i > 3) len = append(config, len, cap, ", ");
        if (len) len = json_string(config, len, cap, argv[i]);
    }
    len = append(config, len, cap, "]}");
    if (!len) {
        fprintf(stderr, "host_c: arguments too long\n");
        return 2;
    }

    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    if (pyrt_new(config, &rt, &err) != PYRT_OK) {
        fprintf(stderr, "host_c: pyrt_new: %s\n", pyrt_error_message(err));
        pyrt_error_free(err);
        return 2;
    }
    int status = 0;
    if (pyrt_run_file(rt, argv[3], &err) != PYRT_OK) {
        const char *type = pyrt_error_python_type(err);
        const char *tb = pyrt_error_traceback(err);
        fprintf(stderr, "host_c: %s: %s\n%s\n", type ? type : "error", pyrt_error_message(err), tb ? tb : "");
        pyrt_error_free(err);
        status = 1;
    }
    pyrt_free(rt);
    return status;
}
