/*
 * test_buffer.c — numeric arrays without copies (pyrt_args_push_buffer, pyrt_object_buffer*):
 * host memory lent to a call as a memoryview that NumPy reads and writes in place; the view
 * invalidated when the call returns (a kept memoryview raises ValueError, a kept array is
 * PYRT_ERR_BUFFER_ESCAPED, a result made of the buffer is refused); object buffers read in
 * place or copied out with their shape, strides and format. Runs under valgrind: host arrays are
 * heap blocks freed right after the calls, so any read of them by Python afterwards would be an
 * invalid read.
 *
 * NumPy comes from PYRT_TEST_VENV (scripts/make-venvs.sh); without it the NumPy cases are
 * skipped (and fail when PYRT_TEST_REQUIRE_VENV is set).
 */
#define _XOPEN_SOURCE 700

#include <stdint.h>

#include "testutil.h"

static pyrt_runtime *RT;
static int HAVE_NUMPY;

static pyrt_object *fn(const char *expr) {
    pyrt_object *o = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_eval_object(RT, expr, &o, &err), err);
    return o;
}

static double call_double(pyrt_object *f, pyrt_args *args, int32_t want, pyrt_error **errp) {
    double d = -1;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_object_call_double(f, args, &d, &err);
    CHECKF(rc == want, "status %s, want %s: %s", pyrt_status_name(rc), pyrt_status_name(want), err ? pyrt_error_message(err) : "");
    if (errp) *errp = err;
    else pyrt_error_free(err);
    return d;
}

static void memoryview_basics(void) {
    SECTION("memoryview of host memory, every element type");
    pyrt_args *args = pyrt_args_new();
    EXPECT_RUN(RT, "def describe(mv):\n"
                   "    return '%s %d %d %d %s' % (mv.format, mv.itemsize, len(mv), mv.nbytes, mv.readonly)\n"
                   "def first(mv):\n"
                   "    return float(mv[0])\n");
    pyrt_object *describe = fn("describe"), *first = fn("first");
    static const struct { uint32_t type; const char *want; } types[] = {
        {PYRT_BUFFER_FLOAT64, "d 8 4 32 True"}, {PYRT_BUFFER_FLOAT32, "f 4 4 16 True"},
        {PYRT_BUFFER_INT64, "q 8 4 32 True"},   {PYRT_BUFFER_INT32, "i 4 4 16 True"},
        {PYRT_BUFFER_UINT8, "B 1 4 4 True"},    {PYRT_BUFFER_INT8, "b 1 4 4 True"},
        {PYRT_BUFFER_INT16, "h 2 4 8 True"},    {PYRT_BUFFER_UINT16, "H 2 4 8 True"},
        {PYRT_BUFFER_UINT32, "I 4 4 16 True"},  {PYRT_BUFFER_UINT64, "Q 8 4 32 True"},
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        uint64_t *mem = calloc(4, 8);
        mem[0] = 7; /* little-endian: element 0 reads 7 for every integer type */
        pyrt_args_clear(args);
        CHECK_OK0(pyrt_args_push_buffer(args, mem, 4, types[i].type, 0));
        char *out = NULL;
        pyrt_error *err = NULL;
        CHECK_OK(pyrt_object_call_args_json(describe, args, 0, &out, &err), err);
        char *want = json_quote(types[i].want);
        CHECK_JSON(out, want);
        free(want);
        pyrt_string_free(out);
        free(mem); /* the call returned: the memory is the host's again */
    }
    /* Values, writable flag, an empty buffer with NULL data. */
    double xs[3] = {1.5, 2.5, 3.5};
    pyrt_args_clear(args);
    pyrt_args_push_buffer(args, xs, 3, PYRT_BUFFER_FLOAT64, 0);
    CHECK(call_double(first, args, PYRT_OK, NULL) == 1.5);
    pyrt_args_clear(args);
    CHECK_OK0(pyrt_args_push_buffer(args, NULL, 0, PYRT_BUFFER_FLOAT64, 0));
    char *out = NULL;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_object_call_args_json(describe, args, 0, &out, &err), err);
    CHECK_JSON(out, "\"d 8 0 0 True\"");
    pyrt_string_free(out);
    pyrt_args_clear(args);
    pyrt_args_push_buffer(args, xs, 3, PYRT_BUFFER_FLOAT64, PYRT_BUFFER_WRITABLE);
    CHECK_OK(pyrt_object_call_args_json(describe, args, 0, &out, &err), err);
    CHECK_JSON(out, "\"d 8 3 24 False\"");
    pyrt_string_free(out);

    SECTION("invalid pushes");
    CHECK_STATUS0(pyrt_args_push_buffer(NULL, xs, 3, PYRT_BUFFER_FLOAT64, 0), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_args_push_buffer(args, xs, 3, 0, 0), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_args_push_buffer(args, xs, 3, 99, 0), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_args_push_buffer(args, xs, 3, PYRT_BUFFER_FLOAT64, 0x80), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_args_push_buffer(args, NULL, 3, PYRT_BUFFER_FLOAT64, 0), PYRT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS0(pyrt_args_push_buffer(args, xs, SIZE_MAX / 4, PYRT_BUFFER_FLOAT64, 0), PYRT_ERR_INVALID_ARGUMENT);
    /* A buffer cannot go through a JSON call: only typed calls take pyrt_args. */

    SECTION("read-only means read-only");
    EXPECT_RUN(RT, "def poke(mv):\n    mv[0] = 9\n    return 0.0\n");
    pyrt_object *poke = fn("poke");
    pyrt_args_clear(args);
    pyrt_args_push_buffer(args, xs, 3, PYRT_BUFFER_FLOAT64, 0);
    call_double(poke, args, PYRT_ERR_PYTHON, &err);
    CHECK_STR(pyrt_error_python_type(err), "TypeError");
    pyrt_error_free(err);
    CHECK(xs[0] == 1.5);
    pyrt_args_clear(args);
    pyrt_args_push_buffer(args, xs, 3, PYRT_BUFFER_FLOAT64, PYRT_BUFFER_WRITABLE);
    call_double(poke, args, PYRT_OK, NULL);
    CHECK(xs[0] == 9.0);

    SECTION("a kept memoryview is released: ValueError, not a read of freed memory");
    EXPECT_RUN(RT, "def keep(mv):\n    global kept\n    kept = mv\n    return float(mv[1])\n");
    pyrt_object *keep = fn("keep");
    double *heap = malloc(3 * sizeof *heap);
    heap[0] = 1, heap[1] = 2, heap[2] = 3;
    pyrt_args_clear(args);
    pyrt_args_push_buffer(args, heap, 3, PYRT_BUFFER_FLOAT64, 0);
    CHECK(call_double(keep, args, PYRT_OK, NULL) == 2.0);
    pyrt_args_clear(args);
    free(heap);
    EXPECT_EVAL_ERR(RT, "kept[0]", PYRT_ERR_PYTHON, "ValueError", "released");
    EXPECT_EVAL_ERR(RT, "memoryview(kept)", PYRT_ERR_PYTHON, "ValueError", "released");
    EXPECT_RUN(RT, "del kept");

    SECTION("a view made during the call and kept: PYRT_ERR_BUFFER_ESCAPED");
    EXPECT_RUN(RT, "def keep_slice(mv):\n    global kept_slice\n    kept_slice = mv[1:]\n    return 0.0\n");
    pyrt_object *keep_slice = fn("keep_slice");
    heap = malloc(3 * sizeof *heap);
    heap[0] = 1, heap[1] = 2, heap[2] = 3;
    pyrt_args_clear(args);
    pyrt_args_push_buffer(args, heap, 3, PYRT_BUFFER_FLOAT64, 0);
    call_double(keep_slice, args, PYRT_ERR_BUFFER_ESCAPED, &err);
    CHECK_CONTAINS(pyrt_error_message(err), "host memory must stay valid");
    pyrt_error_free(err);
    /* The contract: the memory stays valid while Python may use the view. */
    EXPECT_EVAL(RT, "kept_slice[0]", "2.0");
    EXPECT_RUN(RT, "del kept_slice");
    free(heap);

    pyrt_object_free(describe);
    pyrt_object_free(first);
    pyrt_object_free(poke);
    pyrt_object_free(keep);
    pyrt_object_free(keep_slice);
    pyrt_args_free(args);
}

static void with_numpy(void) {
    SECTION("NumPy reads and writes host memory in place");
    EXPECT_RUN(RT, "import numpy as np\n"
                   "def total(mv):\n    return float(np.frombuffer(mv, dtype=np.float64).sum())\n"
                   "def address(mv):\n    return np.asarray(mv).ctypes.data\n"
                   "def scale(src, dst):\n    np.multiply(np.frombuffer(src), 2.0, out=np.frombuffer(dst, dtype=np.float64))\n    return 0.0\n"
                   "def dtype(mv):\n    return np.asarray(mv).dtype.str\n"
                   "def leak(mv):\n    global arr\n    arr = np.frombuffer(mv)\n    return 0.0\n"
                   "def back(mv):\n    return np.frombuffer(mv)\n"
                   "def fail(mv):\n    a = np.frombuffer(mv)\n    raise ValueError('failed with a view in a local')\n"
                   "def cycle(mv):\n    a = [np.frombuffer(mv)]\n    a.append(a)\n    return 0.0\n");
    pyrt_object *total = fn("total"), *address = fn("address"), *scale = fn("scale"), *dtype = fn("dtype");
    pyrt_object *leak = fn("leak"), *back = fn("back"), *failf = fn("fail"), *cycle = fn("cycle");
    pyrt_args *args = pyrt_args_new();
    enum { N = 100000 };
    double *src = malloc(N * sizeof *src), *dst = calloc(N, sizeof *dst);
    double want = 0;
    for (int i = 0; i < N; i++) src[i] = i * 0.5, want += i * 0.5;
    pyrt_args_push_buffer(args, src, N, PYRT_BUFFER_FLOAT64, 0);
    CHECK(call_double(total, args, PYRT_OK, NULL) == want);
    int64_t addr = 0;
    pyrt_error *err = NULL;
    CHECK_OK(pyrt_object_call_int(address, args, &addr, &err), err);
    CHECKF(addr == (int64_t)(intptr_t)src, "numpy sees %#llx, host memory is at %p", (long long)addr, (void *)src);
    pyrt_args_clear(args);
    pyrt_args_push_buffer(args, src, N, PYRT_BUFFER_FLOAT64, 0);
    pyrt_args_push_buffer(args, dst, N, PYRT_BUFFER_FLOAT64, PYRT_BUFFER_WRITABLE);
    call_double(scale, args, PYRT_OK, NULL);
    CHECK(dst[N - 1] == (N - 1) * 1.0 && dst[3] == 3.0);

    int32_t ints[3] = {1, 2, 3};
    static const struct { uint32_t type; const char *dt; } dts[] = {
        {PYRT_BUFFER_INT32, "\"<i4\""}, {PYRT_BUFFER_INT64, "\"<i8\""}, {PYRT_BUFFER_FLOAT32, "\"<f4\""}, {PYRT_BUFFER_UINT8, "\"|u1\""},
    };
    for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
        pyrt_args_clear(args);
        pyrt_args_push_buffer(args, ints, 1, dts[i].type, 0);
        char *out = NULL;
        CHECK_OK(pyrt_object_call_args_json(dtype, args, 0, &out, &err), err);
        CHECK_JSON(out, dts[i].dt);
        pyrt_string_free(out);
    }

    SECTION("an array kept beyond the call: PYRT_ERR_BUFFER_ESCAPED");
    double *heap = malloc(4 * sizeof *heap);
    for (int i = 0; i < 4; i++) heap[i] = i;
    pyrt_args_clear(args);
    pyrt_args_push_buffer(args, heap, 4, PYRT_BUFFER_FLOAT64, 0);
    call_double(leak, args, PYRT_ERR_BUFFER_ESCAPED, &err);
    CHECK_CONTAINS(pyrt_error_message(err), "kept a reference");
    pyrt_error_free(err);
    EXPECT_EVAL(RT, "float(arr[3])", "3.0"); /* still valid: the host kept it, as it must */
    EXPECT_RUN(RT, "del arr");
    pyrt_args_clear(args);
    free(heap);

    SECTION("a result made of the buffer is refused, and nothing escapes");
    heap = malloc(4 * sizeof *heap);
    for (int i = 0; i < 4; i++) heap[i] = i;
    pyrt_args_push_buffer(args, heap, 4, PYRT_BUFFER_FLOAT64, 0);
    pyrt_object *res = NULL;
    CHECK_STATUS(pyrt_object_call_args(back, args, &res, &err), PYRT_ERR_CONVERSION, err);
    CHECK(res == NULL);
    CHECK_CONTAINS(pyrt_error_message(err), "refers to a host buffer");
    pyrt_error_free(err);
    pyrt_args_clear(args);
    free(heap);

    SECTION("a failed call's traceback and a garbage cycle do not count as escapes");
    heap = malloc(4 * sizeof *heap);
    pyrt_args_push_buffer(args, heap, 4, PYRT_BUFFER_FLOAT64, 0);
    call_double(failf, args, PYRT_ERR_PYTHON, &err);
    CHECK_STR(pyrt_error_python_type(err), "ValueError");
    pyrt_error_free(err);
    call_double(cycle, args, PYRT_OK, NULL);
    pyrt_args_clear(args);
    free(heap);

    SECTION("object buffers: shape, strides, format; in place and copied");
    pyrt_object *a = fn("np.arange(12, dtype=np.float64).reshape(3, 4)");
    pyrt_buffer *b = NULL;
    CHECK_OK(pyrt_object_buffer(a, 0, &b, &err), err);
    CHECK_INT((long long)pyrt_buffer_ndim(b), 2);
    CHECK_INT((long long)pyrt_buffer_shape(b)[0], 3);
    CHECK_INT((long long)pyrt_buffer_shape(b)[1], 4);
    CHECK_INT((long long)pyrt_buffer_strides(b)[0], 32);
    CHECK_INT((long long)pyrt_buffer_strides(b)[1], 8);
    CHECK_STR(pyrt_buffer_format(b), "d");
    CHECK_INT(pyrt_buffer_elem_type(b), PYRT_BUFFER_FLOAT64);
    CHECK_INT((long long)pyrt_buffer_itemsize(b), 8);
    CHECK_INT((long long)pyrt_buffer_len(b), 96);
    CHECK(pyrt_buffer_contiguous(b) && !pyrt_buffer_readonly(b));
    const double *data = pyrt_buffer_data(b);
    pyrt_object_free(a); /* the view keeps the array alive */
    CHECK(data[11] == 11.0);
    pyrt_buffer_free(b);

    pyrt_object *t = fn("np.arange(6, dtype=np.int64).reshape(2, 3).T");
    CHECK_OK(pyrt_object_buffer(t, 0, &b, &err), err);
    CHECK_INT((long long)pyrt_buffer_strides(b)[0], 8);
    CHECK_INT((long long)pyrt_buffer_strides(b)[1], 24);
    CHECK_INT(pyrt_buffer_elem_type(b), PYRT_BUFFER_INT64); /* numpy says "l" */
    CHECK(!pyrt_buffer_contiguous(b));
    int64_t c[6] = {0};
    CHECK_OK(pyrt_buffer_copy(b, c, sizeof c, &err), err);
    CHECK(c[0] == 0 && c[1] == 3 && c[2] == 1 && c[3] == 4 && c[4] == 2 && c[5] == 5);
    CHECK_STATUS(pyrt_buffer_copy(b, c, sizeof c - 1, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);
    pyrt_buffer_free(b);
    CHECK_STATUS(pyrt_object_buffer(t, PYRT_BUFFER_CONTIGUOUS, &b, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);
    size_t need = 0;
    CHECK_STATUS(pyrt_object_buffer_copy(t, NULL, 0, &need, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);
    CHECK_INT((long long)need, 48);
    CHECK_OK(pyrt_object_buffer_copy(t, c, sizeof c, &need, &err), err);
    CHECK(c[1] == 3 && need == 48);
    pyrt_object_free(t);

    pyrt_object_free(total);
    pyrt_object_free(address);
    pyrt_object_free(scale);
    pyrt_object_free(dtype);
    pyrt_object_free(leak);
    pyrt_object_free(back);
    pyrt_object_free(failf);
    pyrt_object_free(cycle);
    pyrt_args_free(args);
    free(src);
    free(dst);
}

static void object_buffers(void) {
    SECTION("buffers of array.array, bytes, memoryview; objects without one");
    pyrt_error *err = NULL;
    pyrt_buffer *b = NULL;
    EXPECT_RUN(RT, "import array\naa = array.array('i', [1, 2, 3])\n");
    pyrt_object *arr = fn("aa");
    CHECK_OK(pyrt_object_buffer(arr, PYRT_BUFFER_WRITABLE | PYRT_BUFFER_CONTIGUOUS, &b, &err), err);
    CHECK_STR(pyrt_buffer_format(b), "i");
    CHECK_INT(pyrt_buffer_elem_type(b), PYRT_BUFFER_INT32);
    CHECK_INT((long long)pyrt_buffer_shape(b)[0], 3);
    ((int32_t *)pyrt_buffer_data(b))[0] = 42; /* writable, in place */
    EXPECT_EVAL_ERR(RT, "aa.append(4)", PYRT_ERR_PYTHON, "BufferError", "exporting buffers"); /* held: no resizing */
    pyrt_buffer_free(b);
    EXPECT_EVAL(RT, "aa[0]", "42");
    EXPECT_RUN(RT, "aa.append(4)"); /* released by the next call into the interpreter */
    pyrt_object_free(arr);

    pyrt_object *bytes = fn("b'hello'");
    CHECK_OK(pyrt_object_buffer(bytes, 0, &b, &err), err);
    CHECK(pyrt_buffer_readonly(b));
    CHECK_STR(pyrt_buffer_format(b), "B");
    CHECK_INT((long long)pyrt_buffer_len(b), 5);
    CHECK(memcmp(pyrt_buffer_data(b), "hello", 5) == 0);
    pyrt_buffer_free(b);
    CHECK_STATUS(pyrt_object_buffer(bytes, PYRT_BUFFER_WRITABLE, &b, &err), PYRT_ERR_PYTHON, err);
    CHECK_STR(pyrt_error_python_type(err), "BufferError");
    pyrt_error_free(err);
    pyrt_object_free(bytes);

    pyrt_object *strided = fn("memoryview(b'abcdef')[::2]");
    char chars[4] = {0};
    size_t n = 0;
    CHECK_OK(pyrt_object_buffer_copy(strided, chars, sizeof chars, &n, &err), err);
    CHECK(n == 3 && memcmp(chars, "ace", 3) == 0);
    pyrt_object_free(strided);

    pyrt_object *num = fn("42");
    CHECK_STATUS(pyrt_object_buffer(num, 0, &b, &err), PYRT_ERR_PYTHON, err);
    CHECK_STR(pyrt_error_python_type(err), "TypeError");
    pyrt_error_free(err);
    CHECK_STATUS(pyrt_object_buffer(num, 0x40, &b, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);
    CHECK_STATUS(pyrt_object_buffer(num, 0, NULL, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);
    pyrt_object_free(num);
    CHECK_STATUS(pyrt_object_buffer(NULL, 0, &b, &err), PYRT_ERR_INVALID_ARGUMENT, err);
    pyrt_error_free(err);

    /* NULL-safe accessors. */
    CHECK(pyrt_buffer_data(NULL) == NULL && pyrt_buffer_len(NULL) == 0 && pyrt_buffer_ndim(NULL) == 0);
    CHECK(pyrt_buffer_shape(NULL) == NULL && pyrt_buffer_format(NULL) == NULL && pyrt_buffer_readonly(NULL));
    pyrt_buffer_free(NULL);
}

int main(void) {
    setenv("OPENBLAS_NUM_THREADS", "1", 0); /* NumPy under valgrind: one BLAS thread */
    const char *venv = getenv("PYRT_TEST_VENV");
    const char *lib = env_libpython();
    char *config;
    if (venv && *venv) {
        char *qv = json_quote(venv), *ql = lib ? json_quote(lib) : NULL;
        config = xprintf("{\"venv\": %s%s%s}", qv, ql ? ", \"libpython\": " : "", ql ? ql : "");
        free(qv);
        free(ql);
    } else {
        config = config_for(lib);
    }
    pyrt_error *err = NULL;
    if (!CHECK_OK(pyrt_new(config, &RT, &err), err)) return check_summary();
    free(config);
    memoryview_basics();
    object_buffers();
    pyrt_error *np_err = NULL;
    pyrt_object *np = NULL;
    HAVE_NUMPY = pyrt_import(RT, "numpy", &np, &np_err) == PYRT_OK;
    pyrt_error_free(np_err);
    pyrt_object_free(np);
    if (HAVE_NUMPY) {
        with_numpy();
    } else if (getenv("PYRT_TEST_REQUIRE_VENV") && *getenv("PYRT_TEST_REQUIRE_VENV") == '1') {
        CHECKF(0, "numpy is not importable (PYRT_TEST_VENV=%s)", safe_s(venv));
    } else {
        SKIP("numpy not available (set PYRT_TEST_VENV to a venv with numpy)");
    }
    pyrt_free(RT);
    return check_summary();
}
