/*
 * basic.c — pyrt from C: the walkthrough.
 *
 *   1. start Python (pyrt finds libpython, or use the path given as argv[1])
 *   2. run Python code from a string, and a Python file
 *   3. call math.sqrt(16.0)
 *   4. call a function of your own module with a JSON object
 *   5. see what a Python exception looks like in C
 *
 * Build and run (from the repository root):
 *   cargo build --release
 *   cc -std=c99 -Iinclude examples/c/basic.c -Ltarget/release -lpyrt \
 *      -Wl,-rpath,$PWD/target/release -o basic
 *   ./basic                                   # finds the python3 on PATH
 *   ./basic /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0
 *
 * `make build` builds it as build/c/examples/basic.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrt.h"

/* Where mymodule.py and script.py live. `make` passes the absolute path; otherwise run from
 * the repository root. */
#ifndef PYRT_EXAMPLES_DIR
#define PYRT_EXAMPLES_DIR "examples/c"
#endif

/* Print an error, free it, and say whether there was one. */
static int report(const char *what, int32_t rc, pyrt_error *err) {
    if (rc == PYRT_OK) return 0;
    fprintf(stderr, "%s failed: %s: %s\n", what, pyrt_status_name(rc),
            err ? pyrt_error_message(err) : "(no details)");
    if (err && pyrt_error_traceback(err)) fprintf(stderr, "%s", pyrt_error_traceback(err));
    pyrt_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    /* 1. Start Python. The config is JSON; NULL means "all defaults" (discover libpython). */
    char config[4096];
    const char *cfg = NULL;
    if (argc > 1) {
        /* (a path containing '"' or '\' would need JSON escaping) */
        snprintf(config, sizeof config, "{\"libpython\": \"%s\"}", argv[1]);
        cfg = config;
    }
    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_new(cfg, &rt, &err);
    if (report("pyrt_new", rc, err)) return 1;

    char *info = NULL;
    rc = pyrt_info_json(rt, &info, &err);
    if (report("pyrt_info_json", rc, err)) return 1;
    printf("pyrt %s, Python: %s\n\n", pyrt_version(), info);
    pyrt_string_free(info);

    /* 2. Run code from a string. State persists in __main__, as in a REPL. */
    printf("-- run a string\n");
    fflush(stdout);
    rc = pyrt_run_string(rt,
                         "import sys\n"
                         "print('Hello from Python!')\n"
                         "x = 2 + 3\n"
                         "print(f'2 + 3 = {x}')\n"
                         "sys.stdout.flush()\n",
                         &err);
    if (report("pyrt_run_string", rc, err)) return 1;

    /* Make mymodule.py importable: put its directory on sys.path. */
    rc = pyrt_run_string(rt, "import sys\nsys.path.insert(0, '" PYRT_EXAMPLES_DIR "')\n", &err);
    if (report("sys.path.insert", rc, err)) return 1;

    /* ... and run a file (in __main__ too). */
    printf("\n-- run a file\n");
    fflush(stdout);
    rc = pyrt_run_file(rt, PYRT_EXAMPLES_DIR "/script.py", &err);
    if (report("pyrt_run_file", rc, err)) return 1;
    pyrt_run_string(rt, "sys.stdout.flush()", NULL);
    char *out = NULL;
    rc = pyrt_call_json(rt, "__main__", "shout", "[\"defined in script.py\"]", NULL, &out, &err);
    if (report("shout", rc, err)) return 1;
    printf("shout(\"defined in script.py\") = %s\n", out);
    pyrt_string_free(out);

    /* 3. Call a function: arguments and the result travel as JSON text. */
    printf("\n-- call functions\n");
    rc = pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, &err);
    if (report("math.sqrt", rc, err)) return 1;
    printf("math.sqrt(16.0) = %s\n", out);
    pyrt_string_free(out);

    rc = pyrt_call_json(rt, "os", "path.join", "[\"usr\", \"lib\"]", NULL, &out, &err);
    if (report("os.path.join", rc, err)) return 1;
    printf("os.path.join(\"usr\", \"lib\") = %s\n", out);
    pyrt_string_free(out);

    rc = pyrt_eval_json(rt, "2 ** 100", &out, &err);
    if (report("eval 2 ** 100", rc, err)) return 1;
    printf("2 ** 100 = %s\n", out);
    pyrt_string_free(out);

    /* 4. Your own module, with a JSON object as the argument. */
    rc = pyrt_call_json(rt, "mymodule", "process_data",
                        "[{\"numbers\": [1, 2, 3, 4, 5], \"text\": \"Hello World\"}]", NULL, &out, &err);
    if (report("mymodule.process_data", rc, err)) return 1;
    printf("mymodule.process_data(...) = %s\n", out);
    pyrt_string_free(out);

    /* 5. A Python exception comes back as an error object: type, message, traceback. */
    printf("\n-- errors\n");
    rc = pyrt_call_json(rt, "json", "loads", "[\"{not json\"]", NULL, &out, &err);
    if (rc == PYRT_ERR_PYTHON) {
        printf("json.loads failed as expected: %s: %s\n", pyrt_error_python_type(err), pyrt_error_message(err));
        pyrt_error_free(err);
        err = NULL;
    } else {
        fprintf(stderr, "expected PYRT_ERR_PYTHON, got %s\n", pyrt_status_name(rc));
        return 1;
    }
    rc = pyrt_run_string(rt, "import sys\nsys.exit(3)", &err);
    printf("sys.exit(3) -> %s: %s (the process keeps running)\n", pyrt_status_name(rc),
           err ? pyrt_error_message(err) : "");
    pyrt_error_free(err);

    /* Freeing the last handle finalizes Python; it cannot be restarted in this process. */
    pyrt_free(rt);
    printf("\ndone\n");
    return 0;
}
