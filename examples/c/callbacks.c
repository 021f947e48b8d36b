/*
 * callbacks.c — Python calling back into C.
 *
 *   1. a jinja2 template whose filter is a C function (when jinja2 is installed)
 *   2. a long Python loop reporting its progress to a C callback
 *   3. a C function that fails: Python catches it as _pyrt.HostError
 *
 *   callbacks [libpython] [venv]     e.g. callbacks "" /path/to/venv-with-jinja2
 *
 * Build (from the repository root): `make build` makes build/c/examples/callbacks.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrt.h"

static int report(const char *what, int32_t rc, pyrt_error *err) {
    if (rc == PYRT_OK) return 0;
    fprintf(stderr, "%s failed: %s: %s\n", what, pyrt_status_name(rc), err ? pyrt_error_message(err) : "(no details)");
    if (err && pyrt_error_traceback(err)) fprintf(stderr, "%s", pyrt_error_traceback(err));
    pyrt_error_free(err);
    return 1;
}

/* shout(text): the filter. Arguments arrive as a JSON array: ["text"]. For brevity this
 * example handles plain ASCII strings without escapes; a real host uses a JSON parser. */
static int32_t shout(void *user_data, const char *args_json, const char *kwargs_json, pyrt_reply *reply) {
    (void)user_data;
    (void)kwargs_json;
    const char *start = strchr(args_json, '"');
    const char *end = start ? strchr(start + 1, '"') : NULL;
    if (start == NULL || end == NULL) return pyrt_reply_error(reply, "shout expects one string");
    char out[256];
    size_t n = 0;
    out[n++] = '"';
    for (const char *p = start + 1; p < end && n < sizeof out - 4; p++) out[n++] = (char)toupper((unsigned char)*p);
    out[n++] = '!';
    out[n++] = '"';
    out[n] = '\0';
    return pyrt_reply_json(reply, out);
}

/* report(done, total): progress of the Python loop; user_data counts the reports. */
static int32_t progress(void *user_data, const char *args_json, const char *kwargs_json, pyrt_reply *reply) {
    (void)kwargs_json;
    (void)reply;
    long done = 0, total = 1;
    if (sscanf(args_json, "[%ld,%ld]", &done, &total) != 2) return pyrt_reply_error(reply, "report(done, total)");
    ++*(int *)user_data;
    printf("  progress: %3ld%% (%ld items)\n", 100 * done / total, done);
    return PYRT_OK; /* no answer: Python gets None */
}

static int32_t refuse(void *user_data, const char *args_json, const char *kwargs_json, pyrt_reply *reply) {
    (void)user_data;
    (void)args_json;
    (void)kwargs_json;
    return pyrt_reply_error(reply, "the C side refuses");
}

int main(int argc, char **argv) {
    char config[4096] = "{";
    if (argc > 1 && argv[1][0]) snprintf(config + strlen(config), sizeof config - strlen(config), "\"libpython\": \"%s\"", argv[1]);
    if (argc > 2 && argv[2][0])
        snprintf(config + strlen(config), sizeof config - strlen(config), "%s\"venv\": \"%s\"", strlen(config) > 1 ? ", " : "", argv[2]);
    strcat(config, "}");
    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    if (report("pyrt_new", pyrt_new(config, &rt, &err), err)) return 1;

    /* 1. The filter. */
    if (report("register shout", pyrt_register(rt, "cfilters", "shout", shout, NULL, NULL, &err), err)) return 1;
    const char *code =
        "import cfilters\n"
        "try:\n"
        "    import jinja2\n"
        "except ImportError:\n"
        "    jinja2 = None\n"
        "def render(name):\n"
        "    env = jinja2.Environment()\n"
        "    env.filters['shout'] = cfilters.shout\n"
        "    return env.from_string('Hello, {{ name | shout }}').render(name=name)\n";
    if (report("define render", pyrt_run_string(rt, code, &err), err)) return 1;
    char *out = NULL;
    if (report("eval", pyrt_eval_json(rt, "jinja2 is not None", &out, &err), err)) return 1;
    if (strcmp(out, "true") == 0) {
        char *html = NULL;
        if (report("render", pyrt_call_json(rt, "__main__", "render", "[\"world\"]", NULL, &html, &err), err)) return 1;
        printf("jinja2 with a C filter: %s\n", html);
        pyrt_string_free(html);
    } else {
        printf("jinja2 is not installed here: pass a venv that has it to see the C filter at work\n");
    }
    pyrt_string_free(out);

    /* 2. Progress. */
    int reports = 0;
    if (report("register report", pyrt_register(rt, "cprogress", "report", progress, &reports, NULL, &err), err)) return 1;
    const char *loop =
        "import cprogress\n"
        "total, acc = 200000, 0\n"
        "for i in range(1, total + 1):\n"
        "    acc += i * i\n"
        "    if i % 50000 == 0:\n"
        "        cprogress.report(i, total)\n";
    if (report("loop", pyrt_run_string(rt, loop, &err), err)) return 1;
    if (report("eval acc", pyrt_eval_json(rt, "acc", &out, &err), err)) return 1;
    printf("sum of squares: %s (%d progress reports)\n", out, reports);
    pyrt_string_free(out);

    /* 3. A C error is a Python exception. */
    if (report("register refuse", pyrt_register(rt, "cprogress", "refuse", refuse, NULL, NULL, &err), err)) return 1;
    const char *catch_it =
        "import _pyrt\n"
        "try:\n"
        "    cprogress.refuse()\n"
        "except _pyrt.HostError as e:\n"
        "    caught = 'caught HostError: ' + str(e)\n";
    if (report("catch", pyrt_run_string(rt, catch_it, &err), err)) return 1;
    if (report("eval caught", pyrt_eval_json(rt, "caught", &out, &err), err)) return 1;
    printf("%s\n", out);
    pyrt_string_free(out);

    pyrt_free(rt);
    return 0;
}
