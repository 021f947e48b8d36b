/* The cost of {"main_thread": true}: per-call latency of a trivial Python call made on the
 * caller's thread (the default) and hopped to Python's main thread, in one process, interleaved.
 *
 * Two handles share the interpreter: `caller` (default config) and `main` ({"main_thread":
 * true}). Each repetition times `calls` calls of each, alternating which goes first, for:
 *   - pyrt_call_json(rt, "__main__", "f", "[]")   f is `def f(): return None`
 *   - pyrt_object_call_int on a cached handle of `int` with no argument (the typed fast path:
 *     an object from a main_thread handle hops too)
 * Prints medians in ns/call and the median of the per-repetition ratios main / caller.
 *
 * usage: main_thread [calls_per_rep] [reps] [host|python]   (the "signals" mode, default host;
 *        libpython: discovered, or $PYRT_LIBPYTHON). In "python" mode SIGINT has a Python
 *        handler, so each hop also blocks it in the waiting thread (two pthread_sigmask calls).
 * make bench-main-thread runs it with 100,000 calls x 9 repetitions. */
#define _POSIX_C_SOURCE 200809L
#include "pyrt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static pyrt_runtime *open_rt(const char *config) {
    pyrt_runtime *rt;
    pyrt_error *err = NULL;
    if (pyrt_new(config, &rt, &err) != PYRT_OK) {
        fprintf(stderr, "pyrt_new(%s): %s\n", config ? config : "NULL", pyrt_error_message(err));
        exit(1);
    }
    return rt;
}

/* ns per call of `calls` JSON calls of __main__.f */
static double time_json(pyrt_runtime *rt, long calls) {
    double t0 = now();
    for (long i = 0; i < calls; i++) {
        char *out;
        if (pyrt_call_json(rt, "__main__", "f", "[]", NULL, &out, NULL) != PYRT_OK) exit(1);
        pyrt_string_free(out);
    }
    return (now() - t0) / (double)calls;
}

static double time_typed(pyrt_object *fn, const pyrt_args *args, long calls) {
    double t0 = now();
    for (long i = 0; i < calls; i++) {
        int64_t v;
        if (pyrt_object_call_int(fn, args, &v, NULL) != PYRT_OK) exit(1);
    }
    return (now() - t0) / (double)calls;
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 100000;
    int reps = argc > 2 ? atoi(argv[2]) : 9;
    const char *signals = argc > 3 ? argv[3] : "host";
    if (calls <= 0 || reps <= 0 || reps > 1000 || (strcmp(signals, "host") != 0 && strcmp(signals, "python") != 0)) {
        fprintf(stderr, "usage: %s [calls_per_rep] [reps] [host|python]\n", argv[0]);
        return 2;
    }
    char config[128];
    snprintf(config, sizeof config, "{\"signals\": \"%s\"}", signals);
    pyrt_runtime *caller = open_rt(config);
    snprintf(config, sizeof config, "{\"signals\": \"%s\", \"main_thread\": true}", signals);
    pyrt_runtime *main_rt = open_rt(config);
    char *info;
    if (pyrt_info_json(caller, &info, NULL) == PYRT_OK) {
        printf("%s\n", info);
        pyrt_string_free(info);
    }
    if (pyrt_run_string(caller, "def f():\n    return None\n", NULL) != PYRT_OK) return 1;
    pyrt_object *int_caller, *int_main;
    if (pyrt_eval_object(caller, "int", &int_caller, NULL) != PYRT_OK) return 1;
    if (pyrt_eval_object(main_rt, "int", &int_main, NULL) != PYRT_OK) return 1;
    pyrt_args *noargs = pyrt_args_new();

    /* warm-up: thread states, caches */
    time_json(caller, 2000);
    time_json(main_rt, 2000);
    time_typed(int_caller, noargs, 2000);
    time_typed(int_main, noargs, 2000);

    double *jc = calloc((size_t)reps, sizeof(double)), *jm = calloc((size_t)reps, sizeof(double));
    double *tc = calloc((size_t)reps, sizeof(double)), *tm = calloc((size_t)reps, sizeof(double));
    double *jr = calloc((size_t)reps, sizeof(double)), *tr = calloc((size_t)reps, sizeof(double));
    if (!jc || !jm || !tc || !tm || !jr || !tr) return 1;
    for (int r = 0; r < reps; r++) {
        if (r % 2 == 0) {
            jc[r] = time_json(caller, calls);
            jm[r] = time_json(main_rt, calls);
            tc[r] = time_typed(int_caller, noargs, calls);
            tm[r] = time_typed(int_main, noargs, calls);
        } else {
            jm[r] = time_json(main_rt, calls);
            jc[r] = time_json(caller, calls);
            tm[r] = time_typed(int_main, noargs, calls);
            tc[r] = time_typed(int_caller, noargs, calls);
        }
        jr[r] = jm[r] / jc[r];
        tr[r] = tm[r] / tc[r];
    }
    printf("%ld calls x %d repetitions, interleaved, \"signals\": \"%s\"\n", calls, reps, signals);
    printf("pyrt_call_json __main__.f()    caller thread %7.0f ns/call   main thread %7.0f ns/call   ratio %.2f (+%.0f ns)\n",
           median(jc, reps), median(jm, reps), median(jr, reps), median(jm, reps) - median(jc, reps));
    printf("pyrt_object_call_int int()     caller thread %7.0f ns/call   main thread %7.0f ns/call   ratio %.2f (+%.0f ns)\n",
           median(tc, reps), median(tm, reps), median(tr, reps), median(tm, reps) - median(tc, reps));
    free(jc); free(jm); free(tc); free(tm); free(jr); free(tr);
    pyrt_args_free(noargs);
    pyrt_object_free(int_caller);
    pyrt_object_free(int_main);
    pyrt_free(main_rt);
    pyrt_free(caller);
    return 0;
}
