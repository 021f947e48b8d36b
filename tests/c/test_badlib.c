/*
 * test_badlib.c — wrong or non-Python library paths. Loading is per process, so every case runs
 * in its own forked child; the parent never calls pyrt. In each child, after the refusal, the
 * good library (PYRT_LIBPYTHON) must still start: a refused library leaves no trace.
 *
 *   PYRT_LIBPYTHON               the good libpython
 *   PYRT_TEST_UNSUPPORTED_LIBS   lines "<label> <path>" of libpythons that must be refused
 *                                (scripts/pythons.sh --unsupported); skipped with a message if unset
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* In the child: pyrt_new({"libpython": path}) must give `want`; then the good library works. */
static void child_case(const char *path, int32_t want, const char *msg_sub) {
    char *cfg = config_for(path);
    pyrt_runtime *rt = (pyrt_runtime *)OUT_SENTINEL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_new(cfg, &rt, &err);
    printf("  %-60s -> %s: %s\n", path, pyrt_status_name(rc), err ? safe_s(pyrt_error_message(err)) : "");
    CHECK_STATUS(rc, want, err);
    CHECK(rt == (pyrt_runtime *)OUT_SENTINEL);
    if (msg_sub != NULL && err != NULL) CHECK_CONTAINS(pyrt_error_message(err), msg_sub);
    pyrt_error_free(err);
    err = NULL;
    free(cfg);
    /* a second attempt gives the same answer */
    cfg = config_for(path);
    CHECK_INT(pyrt_new(cfg, &rt, NULL), want);
    free(cfg);

    const char *good = env_libpython();
    if (good == NULL) return;
    rt = NULL;
    cfg = config_for(good);
    rc = pyrt_new(cfg, &rt, &err);
    CHECKF(rc == PYRT_OK, "the good library does not start after %s was refused: %s %s", path,
           pyrt_status_name(rc), err ? safe_s(pyrt_error_message(err)) : "");
    pyrt_error_free(err);
    free(cfg);
    if (rc != PYRT_OK) return;
    EXPECT_CALL(rt, "math", "sqrt", "[16.0]", NULL, "4.0");
    char *minor = lib_minor_version(good);
    if (minor != NULL) {
        char *want_v = json_quote(minor);
        EXPECT_EVAL(rt, "'%d.%d' % __import__('sys').version_info[:2]", want_v);
        free(want_v);
        free(minor);
    }
    pyrt_free(rt);
}

static void child_discovery(void) {
    /* no PYRT_LIBPYTHON, NULL config: pyrt asks the python3 on PATH */
    unsetenv("PYRT_LIBPYTHON");
    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_new(NULL, &rt, &err);
    CHECK_OK(rc, err);
    pyrt_error_free(err);
    if (rc != PYRT_OK) return;
    char *out = NULL;
    if (CHECK_OK0(pyrt_info_json(rt, &out, NULL))) printf("  discovered: %s\n", out);
    pyrt_string_free(out);
    EXPECT_CALL(rt, "math", "sqrt", "[16.0]", NULL, "4.0");
    pyrt_free(rt);
}

typedef struct {
    const char *name;
    const char *path;
    int32_t want;
    const char *msg_sub;
    int discovery;
} bad_case;

static void run_case(const bad_case *c) {
    printf("-- %s\n", c->name);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { CHECKF(0, "fork: %s", strerror(errno)); return; }
    if (pid == 0) {
        if (c->discovery) child_discovery();
        else child_case(c->path, c->want, c->msg_sub);
        fflush(stdout);
        exit(check_failed_n == 0 ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child %s %d", c->name,
           WIFEXITED(st) ? "exited with" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("test_badlib: pyrt %s, PYRT_LIBPYTHON=%s\n", pyrt_version(), safe_s(env_libpython()));

    char dir[] = "/tmp/pyrt-badlib-XXXXXX";
    if (mkdtemp(dir) == NULL) { CHECK(0); return check_summary(); }
    char *text = xprintf("%s/libpython3.12.so.1.0", dir); /* right name, wrong content */
    char *empty = xprintf("%s/empty.so", dir);
    char *missing = xprintf("%s/no-such-libpython3.12.so.1.0", dir);
    FILE *f = fopen(text, "w");
    if (f) { fputs("this is not a shared library\n", f); fclose(f); }
    f = fopen(empty, "w");
    if (f) fclose(f);

    SECTION("wrong or non-Python library paths, each in its own process");
    bad_case cases[] = {
        {"missing file", missing, PYRT_ERR_LIBPYTHON_NOT_FOUND, NULL, 0},
        {"a directory", dir, PYRT_ERR_LIBPYTHON_INVALID, NULL, 0},
        {"the root directory", "/", PYRT_ERR_LIBPYTHON_INVALID, NULL, 0},
        {"libc", "/lib/x86_64-linux-gnu/libc.so.6", PYRT_ERR_LIBPYTHON_INVALID, NULL, 0},
        {"libm", "/lib/x86_64-linux-gnu/libm.so.6", PYRT_ERR_LIBPYTHON_INVALID, NULL, 0},
        {"a text file named like libpython", text, PYRT_ERR_LIBPYTHON_INVALID, NULL, 0},
        {"an empty file", empty, PYRT_ERR_LIBPYTHON_INVALID, NULL, 0},
        {"discovery through python3 on PATH", NULL, PYRT_OK, NULL, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].path != NULL && strncmp(cases[i].path, "/lib/", 5) == 0 && access(cases[i].path, R_OK) != 0) {
            SKIP("%s not on this machine", cases[i].path);
            continue;
        }
        run_case(&cases[i]);
    }

    SECTION("unsupported CPython versions (scripts/pythons.sh --unsupported)");
    const char *list = getenv("PYRT_TEST_UNSUPPORTED_LIBS");
    if (list == NULL || list[0] == '\0') {
        SKIP("PYRT_TEST_UNSUPPORTED_LIBS not set: no 2.x / 3.6 / 3.7 libpython to try");
    } else {
        char *copy = xstrdup(list);
        for (char *line = strtok(copy, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            char *sp = strchr(line, ' ');
            if (sp == NULL) continue;
            *sp = '\0';
            const char *label = line, *path = sp + 1;
            char version[32];
            snprintf(version, sizeof version, "%s", label);
            char *dash = strchr(version, '-');
            if (dash) *dash = '\0';
            char *name = xprintf("unsupported %s", label);
            bad_case c = {name, path, PYRT_ERR_LIBPYTHON_INVALID, version, 0};
            run_case(&c);
            free(name);
        }
        free(copy);
    }

    unlink(text);
    unlink(empty);
    rmdir(dir);
    free(text);
    free(empty);
    free(missing);
    return check_summary();
}
