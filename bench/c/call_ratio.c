/* pyrt_call_json("math","sqrt","[16.0]") vs LIMIT, in one process, interleaved (BENCH.md).
 *
 * LIMIT is the raw C-API call through dlopen: per call PyGILState_Ensure on a thread whose
 * thread state is kept, build the float argument, PyObject_Call on a cached math.sqrt, convert
 * the result back, release. Both run on the same libpython (pyrt loads it RTLD_GLOBAL; we dlopen
 * the same file again with RTLD_NOLOAD). Prints medians and the median of per-repetition ratios.
 *
 * usage: call_ratio [calls_per_rep] [reps]     (libpython: discovered, or $PYRT_LIBPYTHON) */
#define _POSIX_C_SOURCE 200809L
#include "pyrt.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void *PyObj;
static int (*Ensure)(void);
static void (*Release)(int);
static PyObj (*ImportModule)(const char *);
static PyObj (*GetAttrString)(PyObj, const char *);
static PyObj (*FloatFromDouble)(double);
static double (*FloatAsDouble)(PyObj);
static PyObj (*TupleNew)(long);
static int (*TupleSetItem)(PyObj, long, PyObj);
static PyObj (*Call)(PyObj, PyObj, PyObj);
static void (*DecRef)(PyObj);

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
    qsort(v, n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p) { fprintf(stderr, "missing %s\n", name); exit(2); }
    return p;
}

static char *json_field(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    return strndup(p, (size_t)(e - p));
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int reps = argc > 2 ? atoi(argv[2]) : 11;
    pyrt_runtime *rt;
    pyrt_error *err = NULL;
    if (pyrt_new(NULL, &rt, &err) != PYRT_OK) { fprintf(stderr, "pyrt_new: %s\n", pyrt_error_message(err)); return 1; }
    char *info;
    pyrt_info_json(rt, &info, NULL);
    char *libpath = json_field(info, "libpython"), *version = json_field(info, "python_version");
    void *lib = dlopen(libpath, RTLD_NOW | RTLD_NOLOAD);
    if (!lib) { fprintf(stderr, "dlopen %s: %s\n", libpath, dlerror()); return 1; }
    Ensure = (int (*)(void))sym(lib, "PyGILState_Ensure");
    Release = (void (*)(int))sym(lib, "PyGILState_Release");
    ImportModule = (PyObj(*)(const char *))sym(lib, "PyImport_ImportModule");
    GetAttrString = (PyObj(*)(PyObj, const char *))sym(lib, "PyObject_GetAttrString");
    FloatFromDouble = (PyObj(*)(double))sym(lib, "PyFloat_FromDouble");
    FloatAsDouble = (double (*)(PyObj))sym(lib, "PyFloat_AsDouble");
    TupleNew = (PyObj(*)(long))sym(lib, "PyTuple_New");
    TupleSetItem = (int (*)(PyObj, long, PyObj))sym(lib, "PyTuple_SetItem");
    Call = (PyObj(*)(PyObj, PyObj, PyObj))sym(lib, "PyObject_Call");
    DecRef = (void (*)(PyObj))sym(lib, "Py_DecRef");

    /* Warm up pyrt on this thread: from here on this thread has a kept Python thread state,
       which the LIMIT loop's PyGILState_Ensure reuses too. */
    char *out;
    for (int i = 0; i < 1000; i++) { pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, NULL); pyrt_string_free(out); }
    int st = Ensure();
    PyObj sqrt_fn = GetAttrString(ImportModule("math"), "sqrt");
    Release(st);

    pyrt_object *sqrt_handle;
    if (pyrt_eval_object(rt, "__import__('math').sqrt", &sqrt_handle, NULL) != PYRT_OK) return 1;
    pyrt_args *args = pyrt_args_new();
    double *limit = calloc((size_t)reps, sizeof(double)), *py = calloc((size_t)reps, sizeof(double)), *ratio = calloc((size_t)reps, sizeof(double));
    double *typed = calloc((size_t)reps, sizeof(double)), *typed_ratio = calloc((size_t)reps, sizeof(double));
    double sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (long i = 0; i < n; i++) {
            int s = Ensure();
            PyObj args = TupleNew(1);
            TupleSetItem(args, 0, FloatFromDouble(16.0));
            PyObj res = Call(sqrt_fn, args, NULL);
            sink += FloatAsDouble(res);
            DecRef(res);
            DecRef(args);
            Release(s);
        }
        double t1 = now();
        for (long i = 0; i < n; i++) {
            if (pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, NULL) != PYRT_OK) return 1;
            sink += out[0];
            pyrt_string_free(out);
        }
        double t2 = now();
        for (long i = 0; i < n; i++) {
            double d;
            pyrt_args_clear(args);
            pyrt_args_push_double(args, 16.0);
            if (pyrt_object_call_double(sqrt_handle, args, &d, NULL) != PYRT_OK) return 1;
            sink += d;
        }
        double t3 = now();
        limit[r] = (t1 - t0) / n;
        py[r] = (t2 - t1) / n;
        typed[r] = (t3 - t2) / n;
        ratio[r] = py[r] / limit[r];
        typed_ratio[r] = typed[r] / limit[r];
    }
    printf("python %s, %ld calls x %d interleaved reps (checksum %.0f)\n", version, n, reps, sink);
    printf("LIMIT raw C-API call      median %7.1f ns/call\n", median(limit, reps));
    printf("pyrt_call_json            median %7.1f ns/call\n", median(py, reps));
    printf("pyrt_object_call_double    median %7.1f ns/call (typed fast path, cached handle)\n", median(typed, reps));
    printf("ratio pyrt_call_json / LIMIT: %.2f (median of per-rep ratios)\n", median(ratio, reps));
    printf("ratio typed call / LIMIT:     %.2f\n", median(typed_ratio, reps));
    pyrt_args_free(args);
    pyrt_object_free(sqrt_handle);
    free(typed); free(typed_ratio);
    free(info); free(libpath); free(version); free(limit); free(py); free(ratio);
    pyrt_free(rt);
    return 0;
}
