/* Instructions per call, for callgrind (instruction counts are repeatable, wall-clock
 * time on this machine is not).
 *
 *   valgrind --tool=callgrind --toggle-collect=measured build/bench/instr <variant> [calls]
 *
 * collects only inside measured(), which makes one call of <variant>; divide the total by
 * [calls] (default 20000). bench/instructions.sh does that for every variant and prints a
 * table. Variants:
 *   limit       raw C-API: PyGILState_Ensure, tuple, PyObject_Call(math.sqrt), PyFloat_AsDouble
 *   limit_vc    the same with PyObject_Vectorcall (3.9+: exported) instead of a tuple
 *   floor       GIL held across the loop, vectorcall (or tuple) only
 *   call_json   pyrt_call_json(rt, "math", "sqrt", "[16.0]")
 *   typed       pyrt_args_clear + pyrt_args_push_double + pyrt_object_call_double
 *   add_json    pyrt_call_json(rt, "__main__", "add", "[2, 3]")
 *   add_typed   pyrt_object_call_int on __main__.add with two ints
 *   buffer_sum  pyrt_args_push_buffer of 1000 doubles + a call of a function that takes it
 *   records     pyrt_call_json echoing a 1.5 KB list of 10 records
 * libpython: $PYRT_LIBPYTHON or discovered (as pyrt_new does). */
#define _POSIX_C_SOURCE 200809L
#include "pyrt.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limit.h"

static pyrt_runtime *rt;
static PyObj sqrt_fn;
static pyrt_object *sqrt_h, *add_h, *sum_h;
static pyrt_args *args;
static double data[1000];
static double sink;
static char records_args[4096];

/* The 1.5 KB record list of bench/c/bench.c, as pyrt_call_json arguments. */
static void make_records(void) {
    size_t len = 0, cap = sizeof records_args;
    len += (size_t)snprintf(records_args + len, cap - len, "[[");
    for (int i = 0; i < 10; i++)
        len += (size_t)snprintf(records_args + len, cap - len,
                                "%s{\"id\":%d,\"name\":\"user-%04d\",\"email\":\"user%04d@example.com\",\"score\":%d.25,"
                                "\"active\":%s,\"tags\":[\"alpha\",\"beta\",\"gamma\"],\"city\":\"Berlin\",\"zip\":\"10%03d\"}",
                                i ? "," : "", i, i, i, 40 + i, i % 2 ? "true" : "false", i);
    snprintf(records_args + len, cap - len, "]]");
}

static void check(int st, const char *what) {
    if (st != PYRT_OK) { fprintf(stderr, "%s failed: %s\n", what, pyrt_status_name(st)); exit(1); }
}

static PyObj raw_sqrt_arg1(void) { return FloatFromDouble(16.0); }

__attribute__((noinline)) static void measured(int v) {
    char *out;
    switch (v) {
    case 0: { /* limit */
        int s = Ensure();
        PyObj t = TupleNew(1);
        TupleSetItem(t, 0, raw_sqrt_arg1());
        PyObj r = Call(sqrt_fn, t, NULL);
        sink += FloatAsDouble(r);
        DecRef(r);
        DecRef(t);
        Release(s);
        break;
    }
    case 1: { /* limit_vc */
        int s = Ensure();
        PyObj a = raw_sqrt_arg1();
        PyObj r = Vectorcall(sqrt_fn, &a, 1, NULL);
        sink += FloatAsDouble(r);
        DecRef(r);
        DecRef(a);
        Release(s);
        break;
    }
    case 2: { /* floor (the GIL is held by the caller) */
        PyObj a = raw_sqrt_arg1();
        PyObj r = Vectorcall ? Vectorcall(sqrt_fn, &a, 1, NULL) : NULL;
        if (!Vectorcall) {
            PyObj t = TupleNew(1);
            TupleSetItem(t, 0, a);
            a = NULL;
            r = Call(sqrt_fn, t, NULL);
            DecRef(t);
        }
        sink += FloatAsDouble(r);
        DecRef(r);
        if (a) DecRef(a);
        break;
    }
    case 3:
        check(pyrt_call_json(rt, "math", "sqrt", "[16.0]", NULL, &out, NULL), "pyrt_call_json");
        sink += out[0];
        pyrt_string_free(out);
        break;
    case 4: {
        double d;
        pyrt_args_clear(args);
        pyrt_args_push_double(args, 16.0);
        check(pyrt_object_call_double(sqrt_h, args, &d, NULL), "pyrt_object_call_double");
        sink += d;
        break;
    }
    case 5:
        check(pyrt_call_json(rt, "__main__", "add", "[2, 3]", NULL, &out, NULL), "pyrt_call_json add");
        sink += out[0];
        pyrt_string_free(out);
        break;
    case 6: {
        int64_t n;
        pyrt_args_clear(args);
        pyrt_args_push_int(args, 2);
        pyrt_args_push_int(args, 3);
        check(pyrt_object_call_int(add_h, args, &n, NULL), "pyrt_object_call_int");
        sink += (double)n;
        break;
    }
    case 8: {
        check(pyrt_call_json(rt, "__main__", "echo", records_args, NULL, &out, NULL), "records");
        sink += out[0];
        pyrt_string_free(out);
        break;
    }
#ifdef PYRT_BUFFER_FLOAT64
    case 7: {
        double d;
        pyrt_args_clear(args);
        check(pyrt_args_push_buffer(args, data, sizeof data, PYRT_BUFFER_FLOAT64, 0), "push_buffer");
        check(pyrt_object_call_double(sum_h, args, &d, NULL), "buffer call");
        sink += d;
        break;
    }
#endif
    default:
        fprintf(stderr, "variant not available in this build\n");
        exit(2);
    }
}

int main(int argc, char **argv) {
    static const char *names[] = {"limit", "limit_vc", "floor", "call_json", "typed", "add_json", "add_typed", "buffer_sum", "records"};
    int nv = (int)(sizeof names / sizeof *names), v = -1;
    if (argc < 2) { fprintf(stderr, "usage: instr <variant> [calls]\n"); return 2; }
    for (int i = 0; i < nv; i++)
        if (strcmp(argv[1], names[i]) == 0) v = i;
    if (v < 0) { fprintf(stderr, "unknown variant %s\n", argv[1]); return 2; }
    long n = argc > 2 ? atol(argv[2]) : 20000;

    pyrt_error *err = NULL;
    /* PYRT_INSTR_STATS=0: call counting off, to count what it costs. */
    const char *stats = getenv("PYRT_INSTR_STATS");
    const char *config = stats != NULL && strcmp(stats, "0") == 0 ? "{\"stats\": false}" : NULL;
    if (pyrt_new(config, &rt, &err) != PYRT_OK) { fprintf(stderr, "pyrt_new: %s\n", pyrt_error_message(err)); return 1; }
    limit_bind(rt);
    if (v == 1 && !Vectorcall) { fprintf(stderr, "PyObject_Vectorcall is not exported by this libpython\n"); return 3; }

    make_records();
    check(pyrt_run_string(rt, "def add(a, b):\n    return a + b\n"
                              "def echo(x):\n    return x\n"
                              "def bsum(mv):\n    return float(len(mv))\n", NULL), "define");
    check(pyrt_eval_object(rt, "__import__('math').sqrt", &sqrt_h, NULL), "sqrt handle");
    check(pyrt_eval_object(rt, "add", &add_h, NULL), "add handle");
    check(pyrt_eval_object(rt, "bsum", &sum_h, NULL), "bsum handle");
    for (int i = 0; i < 1000; i++) data[i] = i;
    args = pyrt_args_new();
    /* This thread gets its kept Python thread state from pyrt's first call; LIMIT's
       PyGILState_Ensure finds and reuses it. */
    int st = Ensure();
    sqrt_fn = GetAttrString(ImportModule("math"), "sqrt");
    Release(st);
    /* Warm up (caches, thread state, scratch buffers), then measure. */
    int held = v == 2 ? Ensure() : -1;
    for (int i = 0; i < 200; i++) measured(v);
    for (long i = 0; i < n; i++) measured(v);
    if (held >= 0) Release(held);
    printf("%s %ld calls (checksum %.0f)\n", names[v], n, sink);
    pyrt_args_free(args);
    pyrt_object_free(sqrt_h);
    pyrt_object_free(add_h);
    pyrt_object_free(sum_h);
    pyrt_free(rt);
    return 0;
}
