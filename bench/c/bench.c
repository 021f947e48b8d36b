/* pyrt's C-host benchmarks beside their baselines, in one process (docs/performance.md says what each figure means).
 *
 * Every group runs its variants interleaved (A B C A B C ...) for --reps repetitions and prints,
 * per variant, the median time per call and the median of the per-repetition ratios to the
 * group's baseline, as machine-readable lines:
 *   RESULT <host> <python> <group> <variant> <baseline> <median_ns> <median_ratio> <reps> <calls>
 * (tab-separated; bench/run.sh collects them and bench/report.py makes the table).
 *
 * Groups (default: all):
 *   sqrt        math.sqrt(16.0): LIMIT (raw C-API through dlopen, GIL per call on a kept thread
 *               state, tuple call) = baseline; LIMIT_vectorcall; FLOOR (GIL held across the
 *               loop); BYNAME (import + getattr per call); pyrt_call_json; typed
 *               (pyrt_args + pyrt_object_call_double).
 *   add         a Python-defined add(2, 3): LIMIT, pyrt_call_json, typed (pyrt_object_call_int).
 *   records     a 1.5 KB list of records echoed: LIMIT_json (the raw C-API with Python's json
 *               module to get structured data in and out), pyrt_call_json.
 *   subprocess  a long-lived python3 worker (JSON lines on pipes, bench/py/worker.py) driven from
 *               C: math.sqrt and the records echo; spawn-per-call `python3 -c`; each beside
 *               pyrt_call_json of the same call (the baseline here).
 *   bulk        1,000,000 float64 (NumPy, needs a venv): MEMCPY of the 8 MB = baseline; lent
 *               zero-copy + numpy sum; lent zero-copy in and out (numpy.multiply(out=)); an
 *               elementwise op returning a new array copied back (pyrt_object_buffer_copy);
 *               (full mode) the same data through JSON.
 *   threads     pyrt_call_json from one thread (baseline); from a new thread each call; from a
 *               pool of 8 threads; a new thread without a call (what the OS charges); LIMIT from
 *               a new thread each call (CPython's own cost of a fresh thread state); LIMIT from one
 *               thread and from the same pool of 8 (CPython's own cost of threads taking turns at
 *               one GIL).
 * Other modes:
 *   --startup            pyrt_new + first call + pyrt_free in a fresh process (this program with
 *                        --child-startup) vs `python -c pass` ($PYRT_BENCH_PYTHON), interleaved.
 *   --rss N              RSS before and after N calls (pyrt_call_json and typed): "RSS" lines.
 *   --json-only N        one pyrt_call_json figure (for the cross-process Go/C comparison).
 *   --server             the server benchmark's C side (bench/go/server.go has the baselines):
 *                        N threads (--server-n, default 1,4,16,64) calling back-to-back for
 *                        --server-time ms (default 300; --quick 20) per round, rounds
 *                        interleaved over N and the systems, medians over --reps rounds:
 *                          SERVER <host> <python> <load> <workload> <system> <N> <calls_per_s>
 *                                 <p50_us> <p99_us> <max_us> <reps>
 *                        workloads (--server-workloads) pure (pyrt_call_json of
 *                        server_funcs.pure(200)), jinja2 (a kept template's render method;
 *                        with workers server_funcs.render by name, since a kept handle
 *                        lives in one worker and each worker keeps its own template) and
 *                        numpy (4096 doubles lent zero-copy to np_sum); systems
 *                        (--server-systems) pyrt, pyrt_workers ({"workers": <CPUs>}) and
 *                        pyrt_main_thread ({"main_thread": true}: every call on the
 *                        interpreter's main thread);
 *                        loads (--server-loads) idle and loaded (one busy-looping child per CPU).
 *
 * Environment: PYRT_LIBPYTHON (the library), PYRT_BENCH_VENV (a venv with NumPy, optional),
 * PYRT_BENCH_PYTHON (the real interpreter of the same version, for the subprocess baselines and
 * start-up), PYRT_BENCH_LABEL (the version's label in the table), PYRT_BENCH_DIR (bench/),
 * PYRT_BENCH_STATS=0 (call counting off: scripts/bench.sh runs the sqrt group with it on and off,
 * in alternating processes, for the cost of counting).
 * --quick: few calls per repetition (proves the benchmarks run; no figure is meaningful). */
#define _GNU_SOURCE
#include "pyrt.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include "limit.h"

static pyrt_runtime *rt;
static const char *label = "?", *host = "c", *pyexe, *benchdir = "bench";
static char *pyversion;
static int quick, reps = 9, have_numpy;
static double sink;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    double *c = malloc(n * sizeof *c);
    memcpy(c, v, n * sizeof *c);
    qsort(c, n, sizeof *c, cmpd);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

static void die(const char *what) {
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

/* `err` by address: read after the call that sets it (C leaves the order of arguments open). */
static void ok(int32_t st, pyrt_error *const *err, const char *what) {
    if (st != PYRT_OK) {
        fprintf(stderr, "bench: %s: %s: %s\n", what, pyrt_status_name(st), *err ? pyrt_error_message(*err) : "");
        exit(1);
    }
}

/* ---- groups: interleaved repetitions ---------------------------------------------------- */

typedef struct {
    const char *name;
    void (*run)(long n); /* makes n calls */
    long n;              /* calls per repetition */
} variant;

static void group(const char *name, variant *v, int nv, int base) {
    double *t = calloc((size_t)nv * reps, sizeof *t), *r = calloc((size_t)nv * reps, sizeof *r);
    for (int i = 0; i < nv; i++) v[i].run(v[i].n < 10 ? v[i].n : v[i].n / 10); /* warm up */
    for (int k = 0; k < reps; k++) {
        for (int i = 0; i < nv; i++) {
            double t0 = now();
            v[i].run(v[i].n);
            t[i * reps + k] = (now() - t0) / v[i].n;
        }
        for (int i = 0; i < nv; i++) r[i * reps + k] = t[i * reps + k] / t[base * reps + k];
    }
    for (int i = 0; i < nv; i++) {
        double mt = median(t + i * reps, reps), mr = median(r + i * reps, reps);
        printf("RESULT\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.4f\t%d\t%ld\n", host, label, name, v[i].name, v[base].name, mt, mr, reps, v[i].n);
        fprintf(stderr, "  %-10s %-26s %12.1f ns   x%.3f of %s\n", name, v[i].name, mt, mr, v[base].name);
    }
    fflush(stdout);
    free(t);
    free(r);
}

static long scale(long full, long q) { return quick ? q : full; }

/* ---- sqrt ------------------------------------------------------------------------------- */

static PyObj sqrt_fn, add_fn, echo_fn, json_loads, json_dumps;
static pyrt_object *sqrt_h, *add_h;
static pyrt_args *targs;

static void limit_sqrt(long n) {
    for (long i = 0; i < n; i++) {
        int s = Ensure();
        PyObj t = TupleNew(1);
        TupleSetItem(t, 0, FloatFromDouble(16.0));
        PyObj r = Call(sqrt_fn, t, NULL);
        sink += FloatAsDouble(r);
        DecRef(r);
        DecRef(t);
        Release(s);
    }
}

static void limit_vc_sqrt(long n) {
    for (long i = 0; i < n; i++) {
        int s = Ensure();
        PyObj a = FloatFromDouble(16.0);
        PyObj r = Vectorcall(sqrt_fn, &a, 1, NULL);
        sink += FloatAsDouble(r);
        DecRef(r);
        DecRef(a);
        Release(s);
    }
}

static void floor_sqrt(long n) {
    int s = Ensure();
    for (long i = 0; i < n; i++) {
        PyObj a = FloatFromDouble(16.0), r;
        if (Vectorcall) {
            r = Vectorcall(sqrt_fn, &a, 1, NULL);
            DecRef(a);
        } else {
            PyObj t = TupleNew(1);
            TupleSetItem(t, 0, a);
            r = Call(sqrt_fn, t, NULL);
            DecRef(t);
        }
        sink += FloatAsDouble(r);
        DecRef(r);
    }
    Release(s);
}

static void byname_sqrt(long n) {
    for (long i = 0; i < n; i++) {
        int s = Ensure();
        PyObj m = ImportModule("math");
        PyObj f = GetAttrString(m, "sqrt");
        PyObj t = TupleNew(1);
        TupleSetItem(t, 0, FloatFromDouble(16.0));
        PyObj r = Call(f, t, NULL);
        sink += FloatAsDouble(r);
        DecRef(r);
        DecRef(t);
        DecRef(f);
        DecRef(m);
        Release(s);
    }
}

static void json_sqrt(long n) {
    for (long i = 0; i < n; i++) {
        char *out;
        if (pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, NULL) != PYRT_OK) die("pyrt_call_json");
        sink += out[0];
        pyrt_string_free(out);
    }
}

static void typed_sqrt(long n) {
    for (long i = 0; i < n; i++) {
        double d;
        pyrt_args_clear(targs);
        pyrt_args_push_double(targs, 16.0);
        if (pyrt_object_call_double(sqrt_h, targs, &d, NULL) != PYRT_OK) die("typed sqrt");
        sink += d;
    }
}

/* ---- add ---------------------------------------------------------------------------------- */

static void limit_add(long n) {
    for (long i = 0; i < n; i++) {
        int s = Ensure();
        PyObj t = TupleNew(2);
        TupleSetItem(t, 0, LongFromLongLong(2));
        TupleSetItem(t, 1, LongFromLongLong(3));
        PyObj r = Call(add_fn, t, NULL);
        sink += (double)LongAsLongLong(r);
        DecRef(r);
        DecRef(t);
        Release(s);
    }
}

static void json_add(long n) {
    for (long i = 0; i < n; i++) {
        char *out;
        if (pyrt_call_json(rt, "bench_funcs", "add", "[2, 3]", NULL, &out, NULL) != PYRT_OK) die("pyrt_call_json add");
        sink += out[0];
        pyrt_string_free(out);
    }
}

static void typed_add(long n) {
    for (long i = 0; i < n; i++) {
        int64_t v;
        pyrt_args_clear(targs);
        pyrt_args_push_int(targs, 2);
        pyrt_args_push_int(targs, 3);
        if (pyrt_object_call_int(add_h, targs, &v, NULL) != PYRT_OK) die("typed add");
        sink += (double)v;
    }
}

/* ---- records ------------------------------------------------------------------------------ */

static char *records, *records_args; /* the list, and "[<list>]" */

static void make_records(void) {
    size_t cap = 4096, len = 0;
    records = malloc(cap);
    len += (size_t)snprintf(records + len, cap - len, "[");
    for (int i = 0; i < 10; i++) {
        len += (size_t)snprintf(records + len, cap - len,
                                "%s{\"id\":%d,\"name\":\"user-%04d\",\"email\":\"user%04d@example.com\",\"score\":%d.25,"
                                "\"active\":%s,\"tags\":[\"alpha\",\"beta\",\"gamma\"],\"city\":\"Berlin\",\"zip\":\"10%03d\"}",
                                i ? "," : "", i, i, i, 40 + i, i % 2 ? "true" : "false", i);
    }
    len += (size_t)snprintf(records + len, cap - len, "]");
    records_args = malloc(len + 3);
    sprintf(records_args, "[%s]", records);
}

static void limit_json_records(long n) {
    size_t len = strlen(records);
    for (long i = 0; i < n; i++) {
        int s = Ensure();
        PyObj text = UnicodeFromStringAndSize(records, (long)len);
        PyObj t = TupleNew(1);
        TupleSetItem(t, 0, text);
        PyObj obj = Call(json_loads, t, NULL);
        DecRef(t);
        t = TupleNew(1);
        TupleSetItem(t, 0, obj);
        PyObj r = Call(echo_fn, t, NULL);
        DecRef(t);
        t = TupleNew(1);
        TupleSetItem(t, 0, r);
        PyObj out = Call(json_dumps, t, NULL);
        DecRef(t);
        long sz;
        const char *p = UnicodeAsUTF8AndSize(out, &sz);
        char *copy = malloc((size_t)sz + 1);
        memcpy(copy, p, (size_t)sz + 1);
        sink += copy[0];
        free(copy);
        DecRef(out);
        Release(s);
    }
}

static void json_records(long n) {
    for (long i = 0; i < n; i++) {
        char *out;
        if (pyrt_call_json(rt, "bench_funcs", "echo", records_args, NULL, &out, NULL) != PYRT_OK) die("pyrt_call_json echo");
        sink += out[0];
        pyrt_string_free(out);
    }
}

/* ---- subprocess --------------------------------------------------------------------------- */

static FILE *wto, *wfrom;
static pid_t wpid;

static void worker_start(void) {
    int in[2], out[2];
    if (pipe(in) || pipe(out)) die("pipe");
    char *script = NULL;
    if (asprintf(&script, "%s/py/worker.py", benchdir) < 0) die("asprintf");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {(char *)pyexe, "-u", script, NULL};
    if (posix_spawn(&wpid, pyexe, &fa, NULL, argv, environ) != 0) die("spawn worker");
    close(in[0]);
    close(out[1]);
    wto = fdopen(in[1], "w");
    wfrom = fdopen(out[0], "r");
    free(script);
}

static char wline[1 << 16];

static void worker_call(const char *req) {
    fputs(req, wto);
    fputc('\n', wto);
    fflush(wto);
    if (!fgets(wline, sizeof wline, wfrom) || strncmp(wline, "{\"result\"", 9) != 0) {
        fprintf(stderr, "worker answered: %s\n", wline);
        die("worker");
    }
    sink += wline[10];
}

static void worker_stop(void) {
    fclose(wto);
    fclose(wfrom);
    waitpid(wpid, NULL, 0);
}

static void worker_sqrt(long n) {
    for (long i = 0; i < n; i++) worker_call("{\"module\":\"math\",\"function\":\"sqrt\",\"args\":[16.0]}");
}

static char *worker_records_req;
static void worker_records(long n) {
    for (long i = 0; i < n; i++) worker_call(worker_records_req);
}

static void spawn_sqrt(long n) {
    for (long i = 0; i < n; i++) {
        int out[2];
        if (pipe(out)) die("pipe");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        char *argv[] = {(char *)pyexe, "-c", "import json, math; print(json.dumps(math.sqrt(16.0)))", NULL};
        pid_t pid;
        if (posix_spawn(&pid, pyexe, &fa, NULL, argv, environ) != 0) die("spawn");
        close(out[1]);
        char buf[64] = {0};
        ssize_t got = 0, r;
        /* read to EOF: an unbuffered child writes "4.0" and "\n" separately */
        while ((r = read(out[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0 && got + r < (ssize_t)sizeof buf - 1) got += r;
        if (r > 0) got += r;
        close(out[0]);
        waitpid(pid, NULL, 0);
        if (got <= 0 || strncmp(buf, "4.0", 3) != 0) die("spawned python3 -c answered wrong");
        sink += buf[0];
        posix_spawn_file_actions_destroy(&fa);
    }
}

/* ---- bulk --------------------------------------------------------------------------------- */

enum { BULK = 1000000 };
static double *bulk_src, *bulk_dst;
static pyrt_object *np_sum_h, *np_scale_into_h, *np_scale_h;
static char *bulk_json;

static void memcpy_bulk(long n) {
    for (long i = 0; i < n; i++) {
        memcpy(bulk_dst, bulk_src, BULK * sizeof(double));
        sink += bulk_dst[i % BULK];
    }
}

static void zc_sum(long n) {
    for (long i = 0; i < n; i++) {
        double d;
        pyrt_args_clear(targs);
        pyrt_args_push_buffer(targs, bulk_src, BULK, PYRT_BUFFER_FLOAT64, 0);
        if (pyrt_object_call_double(np_sum_h, targs, &d, NULL) != PYRT_OK) die("np_sum");
        sink += d;
    }
}

static void zc_scale_into(long n) {
    for (long i = 0; i < n; i++) {
        double d;
        pyrt_args_clear(targs);
        pyrt_args_push_buffer(targs, bulk_src, BULK, PYRT_BUFFER_FLOAT64, 0);
        pyrt_args_push_buffer(targs, bulk_dst, BULK, PYRT_BUFFER_FLOAT64, PYRT_BUFFER_WRITABLE);
        if (pyrt_object_call_double(np_scale_into_h, targs, &d, NULL) != PYRT_OK) die("np_scale_into");
        sink += bulk_dst[7];
    }
}

static void zc_scale_copy(long n) {
    for (long i = 0; i < n; i++) {
        pyrt_object *res;
        pyrt_error *err = NULL;
        pyrt_args_clear(targs);
        pyrt_args_push_buffer(targs, bulk_src, BULK, PYRT_BUFFER_FLOAT64, 0);
        ok(pyrt_object_call_args(np_scale_h, targs, &res, &err), &err, "np_scale");
        size_t got = 0;
        ok(pyrt_object_buffer_copy(res, bulk_dst, BULK * sizeof(double), &got, &err), &err, "buffer copy");
        pyrt_object_free(res);
        sink += bulk_dst[7];
    }
}

static void json_bulk(long n) {
    for (long i = 0; i < n; i++) {
        char *out;
        if (pyrt_call_json(rt, "bench_funcs", "list_sum", bulk_json, NULL, &out, NULL) != PYRT_OK) die("list_sum");
        sink += out[0];
        pyrt_string_free(out);
    }
}

/* ---- threads ------------------------------------------------------------------------------ */

static void *one_call(void *arg) {
    (void)arg;
    json_sqrt(1);
    return NULL;
}

static void *no_call(void *arg) { return arg; }

static void *limit_one(void *arg) {
    (void)arg;
    limit_sqrt(1);
    return NULL;
}

static void fresh(long n, void *(*fn)(void *)) {
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, fn, NULL)) die("pthread_create");
        pthread_join(t, NULL);
    }
}

static void fresh_json(long n) { fresh(n, one_call); }
static void fresh_empty(long n) { fresh(n, no_call); }
static void fresh_limit(long n) { fresh(n, limit_one); }

enum { POOL = 8 };
static pthread_barrier_t pool_start, pool_done;
static long pool_n;
static void (*pool_work)(long n);
static int pool_quit;

static void *pool_thread(void *arg) {
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&pool_start);
        if (pool_quit) return NULL;
        pool_work(pool_n);
        pthread_barrier_wait(&pool_done);
    }
}

static void pool_run(long n, void (*work)(long)) {
    pool_n = n / POOL;
    pool_work = work;
    pthread_barrier_wait(&pool_start);
    pthread_barrier_wait(&pool_done);
}

static void pool_json(long n) { pool_run(n, json_sqrt); }
/* The same pool making LIMIT calls: what 8 threads taking turns at one GIL cost CPython itself. */
static void pool_limit(long n) { pool_run(n, limit_sqrt); }

/* ---- modes -------------------------------------------------------------------------------- */

static char *config(void) {
    const char *lib = getenv("PYRT_LIBPYTHON"), *venv = getenv("PYRT_BENCH_VENV");
    char *c = NULL;
    if (venv && *venv) {
        if (asprintf(&c, "{\"libpython\": \"%s\", \"venv\": \"%s\"}", lib ? lib : "", venv) < 0) die("asprintf");
        if (!lib || !*lib) {
            free(c);
            if (asprintf(&c, "{\"venv\": \"%s\"}", venv) < 0) die("asprintf");
        }
    } else if (lib && *lib) {
        if (asprintf(&c, "{\"libpython\": \"%s\"}", lib) < 0) die("asprintf");
    }
    /* PYRT_BENCH_STATS=0: the same run with call counting off ("stats": false). */
    const char *st = getenv("PYRT_BENCH_STATS");
    if (st && !strcmp(st, "0")) {
        char *d = NULL;
        if (asprintf(&d, "%.*s%s\"stats\": false}", c ? (int)strlen(c) - 1 : 1, c ? c : "{", c ? ", " : "") < 0) die("asprintf");
        free(c);
        c = d;
    }
    return c;
}

static void open_runtime(void) {
    pyrt_error *err = NULL;
    char *c = config();
    ok(pyrt_new(c, &rt, &err), &err, "pyrt_new");
    free(c);
    char *code = NULL;
    if (asprintf(&code, "import sys\nsys.path.insert(0, %s%s/py%s)\nimport bench_funcs\n", "'", benchdir, "'") < 0) die("asprintf");
    ok(pyrt_run_string(rt, code, &err), &err, "sys.path");
    free(code);
    char *info;
    ok(pyrt_info_json(rt, &info, &err), &err, "info");
    pyversion = json_field(info, "python_version");
    pyrt_string_free(info);
    limit_bind(rt);
    /* This thread's kept thread state comes from pyrt's first call; LIMIT reuses it. */
    json_sqrt(10);
    int s = Ensure();
    PyObj math = ImportModule("math"), funcs = ImportModule("bench_funcs"), json = ImportModule("json");
    if (!math || !funcs || !json) die("imports");
    sqrt_fn = GetAttrString(math, "sqrt");
    add_fn = GetAttrString(funcs, "add");
    echo_fn = GetAttrString(funcs, "echo");
    json_loads = GetAttrString(json, "loads");
    json_dumps = GetAttrString(json, "dumps");
    Release(s);
    ok(pyrt_eval_object(rt, "__import__('math').sqrt", &sqrt_h, &err), &err, "sqrt handle");
    ok(pyrt_eval_object(rt, "bench_funcs.add", &add_h, &err), &err, "add handle");
    targs = pyrt_args_new();
    pyrt_object *np = NULL;
    have_numpy = pyrt_import(rt, "numpy", &np, NULL) == PYRT_OK;
    pyrt_object_free(np);
}

static void run_groups(const char *which) {
    int all = which == NULL;
#define WANT(g) (all || strstr(which, g))
    if (WANT("sqrt")) {
        variant v[6];
        int nv = 0;
        long n = scale(200000, 2000);
        v[nv++] = (variant){"LIMIT", limit_sqrt, n};
        if (Vectorcall) v[nv++] = (variant){"LIMIT_vectorcall", limit_vc_sqrt, n};
        v[nv++] = (variant){"FLOOR_gil_held", floor_sqrt, n};
        v[nv++] = (variant){"BYNAME_import_getattr", byname_sqrt, n / 2};
        v[nv++] = (variant){"pyrt_call_json", json_sqrt, n};
        v[nv++] = (variant){"typed", typed_sqrt, n};
        group("sqrt", v, nv, 0);
    }
    if (WANT("add")) {
        long n = scale(200000, 2000);
        variant v[] = {{"LIMIT", limit_add, n}, {"pyrt_call_json", json_add, n}, {"typed", typed_add, n}};
        group("add", v, 3, 0);
    }
    if (WANT("records")) {
        long n = scale(20000, 200);
        variant v[] = {{"LIMIT_json_module", limit_json_records, n}, {"pyrt_call_json", json_records, n}};
        group("records", v, 2, 0);
    }
    if (WANT("subprocess") && pyexe) {
        worker_start();
        worker_sqrt(100);
        variant v[] = {{"pyrt_call_json", json_sqrt, scale(100000, 1000)}, {"SUBPROCESS_worker", worker_sqrt, scale(5000, 100)},
                       {"SUBPROCESS_spawn_per_call", spawn_sqrt, scale(3, 1)}};
        group("subprocess_sqrt", v, 3, 0);
        worker_records_req = NULL;
        if (asprintf(&worker_records_req, "{\"module\":\"bench_funcs\",\"function\":\"echo\",\"args\":%s}", records_args) < 0) die("asprintf");
        variant w[] = {{"pyrt_call_json", json_records, scale(20000, 200)}, {"SUBPROCESS_worker", worker_records, scale(3000, 100)}};
        group("subprocess_records", w, 2, 0);
        free(worker_records_req);
        worker_stop();
    }
    if (WANT("bulk")) {
        if (!have_numpy) {
            fprintf(stderr, "  bulk: skipped (no NumPy: set PYRT_BENCH_VENV)\n");
            printf("SKIP\t%s\t%s\tbulk\tno numpy\n", host, label);
        } else {
            pyrt_error *err = NULL;
            bulk_src = malloc(BULK * sizeof(double));
            bulk_dst = malloc(BULK * sizeof(double));
            for (int i = 0; i < BULK; i++) bulk_src[i] = i * 0.25, bulk_dst[i] = 0;
            ok(pyrt_eval_object(rt, "bench_funcs.np_sum", &np_sum_h, &err), &err, "np_sum");
            ok(pyrt_eval_object(rt, "bench_funcs.np_scale_into", &np_scale_into_h, &err), &err, "np_scale_into");
            ok(pyrt_eval_object(rt, "bench_funcs.np_scale", &np_scale_h, &err), &err, "np_scale");
            long n = scale(20, 2);
            variant v[5] = {{"MEMCPY", memcpy_bulk, n}, {"zero_copy_numpy_sum", zc_sum, n},
                            {"zero_copy_in_out_numpy_multiply", zc_scale_into, n}, {"numpy_multiply_copy_back", zc_scale_copy, n}};
            int nv = 4;
            if (!quick) {
                /* The same data as JSON text: [[x0, x1, ...]] */
                size_t cap = (size_t)BULK * 24 + 8, len = 0;
                bulk_json = malloc(cap);
                len += (size_t)sprintf(bulk_json, "[[");
                for (int i = 0; i < BULK; i++) len += (size_t)sprintf(bulk_json + len, "%s%.17g", i ? "," : "", bulk_src[i]);
                sprintf(bulk_json + len, "]]");
                v[nv++] = (variant){"json_text_numpy_sum", json_bulk, 1};
            }
            group("bulk_1M_float64", v, nv, 0);
            pyrt_object_free(np_sum_h);
            pyrt_object_free(np_scale_into_h);
            pyrt_object_free(np_scale_h);
            free(bulk_src);
            free(bulk_dst);
            free(bulk_json);
        }
    }
    if (WANT("threads")) {
        pthread_barrier_init(&pool_start, NULL, POOL + 1);
        pthread_barrier_init(&pool_done, NULL, POOL + 1);
        pthread_t pool[POOL];
        for (int i = 0; i < POOL; i++) pthread_create(&pool[i], NULL, pool_thread, NULL);
        long n = scale(200000, 2000);
        long nf = scale(3000, 100);
        variant v[] = {{"one_thread", json_sqrt, n}, {"pool_of_8_threads", pool_json, n},
                       {"new_thread_each_call", fresh_json, nf}, {"new_thread_without_call", fresh_empty, nf},
                       {"LIMIT_new_thread_each_call", fresh_limit, nf}, {"LIMIT_one_thread", limit_sqrt, n},
                       {"LIMIT_pool_of_8_threads", pool_limit, n}};
        group("threads_call_json", v, 7, 0);
        pool_quit = 1;
        pthread_barrier_wait(&pool_start);
        for (int i = 0; i < POOL; i++) pthread_join(pool[i], NULL);
    }
#undef WANT
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static void rss(long n) {
    const char *what[] = {"pyrt_call_json", "typed"};
    void (*fn[])(long) = {json_sqrt, typed_sqrt};
    for (int k = 0; k < 2; k++) {
        fn[k](20000); /* warm: caches, arenas, scratch buffers */
        long before = rss_kb();
        fn[k](n);
        long after = rss_kb();
        printf("RSS\t%s\t%s\t%s\t%ld\t%ld\t%ld\n", host, label, what[k], n, before, after);
        fprintf(stderr, "  rss %-15s %ld calls: %ld kB -> %ld kB (%+ld kB)\n", what[k], n, before, after, after - before);
    }
}

static double spawn_wait(char *const argv[]) {
    pid_t pid;
    double t0 = now();
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0) die("spawn");
    int status;
    waitpid(pid, &status, 0);
    double t = now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("start-up child failed");
    return t;
}

static void startup(const char *self) {
    if (!pyexe) die("PYRT_BENCH_PYTHON is not set");
    /* Both sides start the same installation without a venv: the child's pyrt_new must not
     * get a venv that `python -c pass` does not. */
    unsetenv("PYRT_BENCH_VENV");
    char *child[] = {(char *)self, "--child-startup", NULL};
    char *py[] = {(char *)pyexe, "-c", "pass", NULL};
    double *a = calloc(reps, sizeof *a), *b = calloc(reps, sizeof *b), *r = calloc(reps, sizeof *r);
    spawn_wait(child); /* warm the page cache */
    spawn_wait(py);
    for (int k = 0; k < reps; k++) {
        b[k] = spawn_wait(py);
        a[k] = spawn_wait(child);
        r[k] = a[k] / b[k];
    }
    printf("RESULT\t%s\t%s\tstartup\tpython_-c_pass\tpython_-c_pass\t%.1f\t1.0000\t%d\t1\n", host, label, median(b, reps), reps);
    printf("RESULT\t%s\t%s\tstartup\tpyrt_new+first_call+pyrt_free\tpython_-c_pass\t%.1f\t%.4f\t%d\t1\n", host, label, median(a, reps), median(r, reps), reps);
    fprintf(stderr, "  startup python -c pass %.1f ms, pyrt_new + first call + pyrt_free %.1f ms: x%.3f\n", median(b, reps) / 1e6,
            median(a, reps) / 1e6, median(r, reps));
    free(a);
    free(b);
    free(r);
}

static void child_startup(void) {
    pyrt_error *err = NULL;
    char *c = config(), *out;
    ok(pyrt_new(c, &rt, &err), &err, "pyrt_new");
    ok(pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, &err), &err, "first call");
    if (strcmp(out, "4.0") != 0) die("first call answered wrong");
    pyrt_string_free(out);
    pyrt_free(rt);
    free(c);
}

/* ---- server ------------------------------------------------------------------------------- */

/* The server benchmark (--server), the C side of bench/go/server.go: N threads calling through
 * pyrt back-to-back for a fixed time, as a threaded service would. The threads are a pool kept
 * for the whole run (a service does not start a thread per request); the first N take part in
 * a round. Each round's latencies are merged and sorted for p50/p99/max; rounds interleave
 * over N and the systems, and the medians over --reps rounds are printed. */

enum { W_PURE, W_JINJA2, W_NUMPY, NWORK };
static const char *const work_names[NWORK] = {"pure", "jinja2", "numpy"};
/* server_funcs.pure(200) takes about 15 us; the numpy request reduces 4096 doubles: as in Go. */
enum { NUMPY_LEN = 4096, MAX_LIST = 16 };
/* The context Go's pageContext() builds: the same page of three items. */
static const char *page_args = "[{\"title\": \"Catalogue\", \"items\": [{\"name\": \"item 0\", \"price\": 0.0}, "
                               "{\"name\": \"item 1\", \"price\": 1.25}, {\"name\": \"item 2\", \"price\": 2.5}]}]";

typedef struct {
    const char *name;
    pyrt_runtime *rt;
    pyrt_object *h; /* the current workload's kept handle (page, or np_sum) */
    int ok;         /* the current workload runs on this system */
} srv_sys;

typedef struct {
    pthread_t t;
    sem_t go;
    double *lat; /* this round's latencies in us; grown in the warm-up round, then reused */
    size_t n, cap;
    pyrt_args *args;
    int32_t st;
    pyrt_error *err;
    double sink; /* per thread: a shared sink would be a data race */
} srv_thread;

static srv_thread *srv_pool;
static int srv_quit, srv_work;
static const srv_sys *srv_cur;
static double srv_deadline, *srv_data, *srv_all;
static size_t srv_all_cap;
static sem_t srv_done;

static int32_t srv_call(srv_thread *t) {
    char *out = NULL;
    double d = 0;
    int32_t st;
    switch (srv_work) {
    case W_PURE: st = pyrt_call_json(srv_cur->rt, "server_funcs", "pure", "[200]", NULL, &out, &t->err); break;
    case W_JINJA2:
        /* workers: each worker renders its own template (a kept handle lives in one worker) */
        if (!strcmp(srv_cur->name, "pyrt_workers"))
            st = pyrt_call_json(srv_cur->rt, "server_funcs", "render", page_args, NULL, &out, &t->err);
        else
            st = pyrt_object_call_json(srv_cur->h, "render", page_args, NULL, 0, &out, &t->err);
        break;
    default:
        pyrt_args_clear(t->args);
        pyrt_args_push_buffer(t->args, srv_data, NUMPY_LEN, PYRT_BUFFER_FLOAT64, 0);
        st = pyrt_object_call_double(srv_cur->h, t->args, &d, &t->err);
    }
    t->sink += out ? out[0] : d;
    pyrt_string_free(out);
    return st;
}

static void *srv_thread_main(void *arg) {
    srv_thread *t = arg;
    for (;;) {
        while (sem_wait(&t->go) && errno == EINTR) {}
        if (srv_quit) return NULL;
        t->n = 0;
        for (;;) {
            double t0 = now();
            if (t0 > srv_deadline) break;
            if ((t->st = srv_call(t)) != PYRT_OK) break;
            if (t->n == t->cap) {
                t->cap *= 2;
                if (!(t->lat = realloc(t->lat, t->cap * sizeof *t->lat))) die("realloc");
            }
            t->lat[t->n++] = (now() - t0) / 1e3;
        }
        sem_post(&srv_done);
    }
}

/* One round: n threads for d_ns; calls/s, and p50/p99/max of the latencies in us. */
static void srv_round(const srv_sys *s, int n, double d_ns, double res[4]) {
    srv_cur = s;
    double t0 = now();
    srv_deadline = t0 + d_ns;
    for (int i = 0; i < n; i++) sem_post(&srv_pool[i].go);
    for (int i = 0; i < n; i++)
        while (sem_wait(&srv_done) && errno == EINTR) {}
    double elapsed = now() - t0;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        srv_thread *t = &srv_pool[i];
        if (t->st != PYRT_OK) {
            fprintf(stderr, "bench: server %s %s N=%d: %s: %s\n", s->name, work_names[srv_work], n, pyrt_status_name(t->st),
                    t->err ? pyrt_error_message(t->err) : "");
            exit(1);
        }
        total += t->n;
    }
    if (total > srv_all_cap) {
        srv_all_cap = total * 2;
        if (!(srv_all = realloc(srv_all, srv_all_cap * sizeof *srv_all))) die("realloc");
    }
    total = 0;
    for (int i = 0; i < n; i++) {
        memcpy(srv_all + total, srv_pool[i].lat, srv_pool[i].n * sizeof *srv_all);
        total += srv_pool[i].n;
    }
    if (!total) die("server: a round made no call");
    qsort(srv_all, total, sizeof *srv_all, cmpd);
    res[0] = total / (elapsed / 1e9);
    res[1] = srv_all[(size_t)(0.50 * (total - 1))];
    res[2] = srv_all[(size_t)(0.99 * (total - 1))];
    res[3] = srv_all[total - 1];
}

static pid_t *burners;
static int nburners;

/* One busy-looping child per online CPU: the "loaded" machine. Forked children touch nothing of
 * the parent's (only system calls), so forking a process with Python's threads is safe here. */
static void burn_start(void) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pid_t parent = getpid();
    burners = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof *burners);
    nburners = 0;
    fflush(stdout);
    for (long i = 0; i < (ncpu > 0 ? ncpu : 1); i++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            /* never outlive the benchmark, should it die mid-run */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(0);
            volatile unsigned long x = 0;
            for (;;) x++;
        }
        burners[nburners++] = pid;
    }
    usleep(50000);
}

static void burn_stop(void) {
    for (int i = 0; i < nburners; i++) kill(burners[i], SIGKILL);
    for (int i = 0; i < nburners; i++) waitpid(burners[i], NULL, 0);
    free(burners);
    burners = NULL;
    nburners = 0;
}

/* Splits a comma-separated list (a copy, never freed: the names live for the run). */
static int split_list(const char *list, char **out) {
    int n = 0;
    char *s = strdup(list);
    for (char *tok = strtok(s, ","); tok && n < MAX_LIST; tok = strtok(NULL, ",")) out[n++] = tok;
    return n;
}

static void skip_line(const char *sys, int w, const char *why) {
    char *r = strdup(why);
    for (char *p = r; *p; p++)
        if (*p == '\t' || *p == '\n') *p = ' ';
    printf("SKIP\t%s\t%s\tserver_%s_%s\t%s\n", host, label, sys, work_names[w], r);
    fprintf(stderr, "  server: %s/%s skipped: %s\n", sys, work_names[w], r);
    free(r);
}

/* A runtime opened with the base configuration plus "workers": `nworkers` (each worker running
 * `setup` when it starts), or "main_thread": true when `nworkers` is 0; then set up as `rt`. */
static pyrt_runtime *runtime_with(const char *setup, int nworkers) {
    /* `setup` as a JSON string: it holds quotes and newlines, the bench dir no special ones */
    char *esc = malloc(strlen(setup) * 2 + 1), *e = esc;
    for (const char *p = setup; *p; p++) {
        if (*p == '\n') *e++ = '\\', *e++ = 'n';
        else if (*p == '"' || *p == '\\') *e++ = '\\', *e++ = *p;
        else *e++ = *p;
    }
    *e = 0;
    char *base = config(), *c = NULL, *extra = NULL;
    if (base) base[strlen(base) - 1] = 0; /* drop the closing brace, to append */
    if ((nworkers ? asprintf(&extra, "\"workers\": %d, \"worker_setup\": \"%s\"", nworkers, esc)
                  : asprintf(&extra, "\"main_thread\": true")) < 0 ||
        asprintf(&c, "%s%s%s}", base ? base : "{", base ? ", " : "", extra) < 0)
        die("asprintf");
    pyrt_runtime *w = NULL;
    pyrt_error *err = NULL;
    ok(pyrt_new(c, &w, &err), &err, extra);
    ok(pyrt_run_string(w, setup, &err), &err, extra);
    free(esc);
    free(base);
    free(extra);
    free(c);
    return w;
}

static void server(const char *ns_s, const char *loads_s, const char *works_s, const char *systems_s, double ms) {
    char *nv[MAX_LIST], *lv[MAX_LIST], *wv[MAX_LIST], *sv[MAX_LIST];
    int nn = split_list(ns_s, nv), nl = split_list(loads_s, lv), nw = split_list(works_s, wv), ns = split_list(systems_s, sv);
    int nsv[MAX_LIST], wk[MAX_LIST], maxn = 1;
    for (int i = 0; i < nn; i++) {
        if ((nsv[i] = atoi(nv[i])) < 1) die("--server-n: not a positive count");
        if (nsv[i] > maxn) maxn = nsv[i];
    }
    for (int i = 0; i < nw; i++) {
        wk[i] = -1;
        for (int k = 0; k < NWORK; k++)
            if (!strcmp(wv[i], work_names[k])) wk[i] = k;
        if (wk[i] < 0) die("--server-workloads: unknown workload");
    }
    for (int i = 0; i < nl; i++)
        if (strcmp(lv[i], "idle") && strcmp(lv[i], "loaded")) die("--server-loads: idle or loaded");
    double d_ns = (quick ? 20 : ms) * 1e6;
    pyrt_error *err = NULL;
    char *setup = NULL;
    if (asprintf(&setup, "import sys\nsys.path.insert(0, '%s/py')\nimport server_funcs\n", benchdir) < 0) die("asprintf");
    ok(pyrt_run_string(rt, setup, &err), &err, "server setup");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nworkers = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
    srv_sys sys[MAX_LIST];
    for (int i = 0; i < ns; i++) {
        if (!strcmp(sv[i], "pyrt"))  // PYRT_ADMISSION=0: calls without the admission queue (the "before")
            sys[i] = (srv_sys){getenv("PYRT_ADMISSION") && !strcmp(getenv("PYRT_ADMISSION"), "0") ? "pyrt_unordered" : "pyrt", rt, NULL, 0};
        else if (!strcmp(sv[i], "pyrt_workers")) sys[i] = (srv_sys){"pyrt_workers", runtime_with(setup, nworkers), NULL, 0};
        else if (!strcmp(sv[i], "pyrt_main_thread")) sys[i] = (srv_sys){"pyrt_main_thread", runtime_with(setup, 0), NULL, 0};
        else die("--server-systems: pyrt, pyrt_workers or pyrt_main_thread (the process baselines run in the Go host)");
    }
    srv_data = malloc(NUMPY_LEN * sizeof *srv_data);
    for (int i = 0; i < NUMPY_LEN; i++) srv_data[i] = i * 0.5;
    sem_init(&srv_done, 0, 0);
    srv_pool = calloc((size_t)maxn, sizeof *srv_pool);
    for (int i = 0; i < maxn; i++) {
        srv_thread *t = &srv_pool[i];
        t->cap = 4096;
        t->lat = malloc(t->cap * sizeof *t->lat);
        t->args = pyrt_args_new();
        sem_init(&t->go, 0, 0);
        if (pthread_create(&t->t, NULL, srv_thread_main, t)) die("pthread_create");
    }
    /* [system][n][rep][metric] */
    double *res = malloc((size_t)ns * nn * reps * 4 * sizeof *res), *col = malloc((size_t)reps * sizeof *col);
#define RES(s, i, k) (res + (((size_t)(s) * nn + (i)) * reps + (k)) * 4)
    for (int li = 0; li < nl; li++) {
        int loaded = !strcmp(lv[li], "loaded");
        if (loaded) burn_start();
        for (int wi = 0; wi < nw; wi++) {
            srv_work = wk[wi];
            for (int s = 0; s < ns; s++) {
                sys[s].ok = 1;
                sys[s].h = NULL;
                if (srv_work == W_PURE) continue;
                if (srv_work == W_NUMPY && !have_numpy) {
                    skip_line(sys[s].name, srv_work, "no numpy");
                    sys[s].ok = 0;
                    continue;
                }
                const char *expr = srv_work == W_JINJA2 ? "server_funcs._page()" : "server_funcs.np_sum";
                int32_t st = pyrt_eval_object(sys[s].rt, expr, &sys[s].h, &err);
                /* numpy refuses the workers' sub-interpreters: its import fails there */
                if (st == PYRT_OK && srv_work == W_NUMPY) st = pyrt_run_string(sys[s].rt, "import numpy", &err);
                if (st != PYRT_OK) {
                    /* the message's last line (numpy's ImportError ends with the reason) */
                    char *m = strdup(err ? pyrt_error_message(err) : pyrt_status_name(st));
                    size_t len = strlen(m);
                    while (len > 0 && (m[len - 1] == '\n' || m[len - 1] == ' ')) m[--len] = 0;
                    const char *last = strrchr(m, '\n');
                    skip_line(sys[s].name, srv_work, last ? last + 1 : m);
                    free(m);
                    pyrt_object_free(sys[s].h);
                    sys[s].h = NULL;
                    pyrt_error_free(err);
                    err = NULL;
                    sys[s].ok = 0;
                }
            }
            /* warm-up: every thread's first call, caches, and the latency arrays' growth */
            double warm[4];
            for (int s = 0; s < ns; s++)
                if (sys[s].ok) srv_round(&sys[s], maxn, d_ns < 50e6 ? d_ns : 50e6, warm);
            for (int k = 0; k < reps; k++)
                for (int i = 0; i < nn; i++)
                    for (int s = 0; s < ns; s++)
                        if (sys[s].ok) srv_round(&sys[s], nsv[i], d_ns, RES(s, i, k));
            for (int s = 0; s < ns; s++) {
                if (!sys[s].ok) continue;
                for (int i = 0; i < nn; i++) {
                    double m[4];
                    for (int q = 0; q < 4; q++) {
                        for (int k = 0; k < reps; k++) col[k] = RES(s, i, k)[q];
                        m[q] = median(col, reps);
                    }
                    printf("SERVER\t%s\t%s\t%s\t%s\t%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%d\n", host, label, lv[li], work_names[srv_work],
                           sys[s].name, nsv[i], m[0], m[1], m[2], m[3], reps);
                    fprintf(stderr, "  server %-6s %-6s %-13s N=%-3d %9.0f calls/s  p50 %8.1f  p99 %8.1f  max %8.1f us\n", lv[li],
                            work_names[srv_work], sys[s].name, nsv[i], m[0], m[1], m[2], m[3]);
                }
                pyrt_object_free(sys[s].h);
                sys[s].h = NULL;
            }
            fflush(stdout);
        }
        if (loaded) burn_stop();
    }
#undef RES
    srv_quit = 1;
    for (int i = 0; i < maxn; i++) sem_post(&srv_pool[i].go);
    for (int i = 0; i < maxn; i++) {
        srv_thread *t = &srv_pool[i];
        pthread_join(t->t, NULL);
        sink += t->sink;
        free(t->lat);
        pyrt_args_free(t->args);
        pyrt_error_free(t->err);
        sem_destroy(&t->go);
    }
    for (int s = 0; s < ns; s++)
        if (sys[s].rt != rt) pyrt_free(sys[s].rt);
    free(srv_pool);
    free(srv_all);
    free(srv_data);
    free(res);
    free(col);
    free(setup);
    sem_destroy(&srv_done);
}

int main(int argc, char **argv) {
    const char *groups = NULL;
    long rss_n = 0, json_only = 0;
    int do_startup = 0, do_server = 0;
    const char *srv_n = "1,4,16,64", *srv_loads = "idle,loaded", *srv_works = "pure,jinja2,numpy", *srv_systems = "pyrt,pyrt_workers,pyrt_main_thread";
    double srv_ms = 300;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--groups") && i + 1 < argc) groups = argv[++i];
        else if (!strcmp(argv[i], "--startup")) do_startup = 1;
        else if (!strcmp(argv[i], "--child-startup")) { child_startup(); return 0; }
        else if (!strcmp(argv[i], "--rss") && i + 1 < argc) rss_n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--json-only") && i + 1 < argc) json_only = atol(argv[++i]);
        else if (!strcmp(argv[i], "--server")) do_server = 1;
        else if (!strcmp(argv[i], "--server-n") && i + 1 < argc) srv_n = argv[++i];
        else if (!strcmp(argv[i], "--server-loads") && i + 1 < argc) srv_loads = argv[++i];
        else if (!strcmp(argv[i], "--server-workloads") && i + 1 < argc) srv_works = argv[++i];
        else if (!strcmp(argv[i], "--server-systems") && i + 1 < argc) srv_systems = argv[++i];
        else if (!strcmp(argv[i], "--server-time") && i + 1 < argc) srv_ms = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench [--quick] [--reps N] [--groups a,b] | --startup | --rss N | --json-only N\n"
                            "       bench --server [--quick] [--reps N] [--server-n 1,4,16,64] [--server-loads idle,loaded]\n"
                            "             [--server-workloads pure,jinja2,numpy] [--server-systems pyrt,pyrt_workers,pyrt_main_thread] [--server-time MS]\n");
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    if (getenv("PYRT_BENCH_LABEL")) label = getenv("PYRT_BENCH_LABEL");
    if (getenv("PYRT_BENCH_PYTHON") && *getenv("PYRT_BENCH_PYTHON")) pyexe = getenv("PYRT_BENCH_PYTHON");
    if (getenv("PYRT_BENCH_DIR")) benchdir = getenv("PYRT_BENCH_DIR");
    signal(SIGPIPE, SIG_IGN);
    if (do_startup) {
        startup(argv[0]);
        return 0;
    }
    make_records();
    open_runtime();
    fprintf(stderr, "bench (C host): Python %s (%s), %d reps%s\n", pyversion, label, reps, quick ? ", quick" : "");
    if (do_server) {
        if (srv_ms <= 0) die("--server-time: milliseconds > 0");
        server(srv_n, srv_loads, srv_works, srv_systems, srv_ms);
    } else if (rss_n) {
        rss(rss_n);
    } else if (json_only) {
        json_sqrt(json_only / 10);
        double t0 = now();
        json_sqrt(json_only);
        double t = (now() - t0) / json_only;
        printf("SINGLE\t%s\t%s\tpyrt_call_json\t%.1f\n", host, label, t);
    } else {
        run_groups(groups);
    }
    if (sink == 42.4242) printf("%f\n", sink);
    pyrt_args_free(targs);
    pyrt_object_free(sqrt_h);
    pyrt_object_free(add_h);
    pyrt_free(rt);
    free(records);
    free(records_args);
    free(pyversion);
    return 0;
}
