/*
 * test_big.c — large and deep values: a 100 MB string argument and result, JSON nested 100,000
 * deep in each direction, a million-element array. Run natively by scripts/test-c.sh (too slow
 * under valgrind); the same code paths run at small sizes under valgrind in test_api.
 */
#define _XOPEN_SOURCE 700

#include "testutil.h"

#define BIG (100u * 1024u * 1024u) /* 104857600 */

static void test_big_string(pyrt_runtime *rt) {
    SECTION("100 MB string argument and result");
    char *args = (char *)malloc(BIG + 5);
    if (args == NULL) { CHECKF(0, "malloc(%u) failed", BIG + 5); return; }
    args[0] = '[';
    args[1] = '"';
    memset(args + 2, 'a', BIG);
    args[BIG + 2] = '"';
    args[BIG + 3] = ']';
    args[BIG + 4] = '\0';
    EXPECT_CALL(rt, "builtins", "len", args, NULL, "104857600");
    /* multi-byte characters: 100 MB of "é" is 52428800 characters */
    for (size_t i = 2; i + 1 < BIG + 2; i += 2) { args[i] = (char)0xC3; args[i + 1] = (char)0xA9; }
    EXPECT_CALL(rt, "builtins", "len", args, NULL, "52428800");
    free(args);

    char *out = NULL;
    pyrt_error *err = NULL;
    if (CHECK_OK(pyrt_eval_json(rt, "'b' * 104857600", &out, &err), err)) {
        size_t n = strlen(out);
        CHECK_INT(n, BIG + 2);
        CHECK(out[0] == '"' && out[n - 1] == '"' && out[1] == 'b' && out[n - 2] == 'b');
        size_t bad = 0;
        for (size_t i = 1; i + 1 < n; i++) bad += out[i] != 'b';
        CHECK_INT(bad, 0);
    }
    pyrt_string_free(out);
    pyrt_error_free(err);
    /* the big string is gone again: memory is returned */
    EXPECT_RUN(rt, "import gc; gc.collect()");
}

static void test_deep(pyrt_runtime *rt) {
    SECTION("JSON nested 100,000 deep (an error, not a stack overflow)");
    size_t depth = 100000;
    char *deep = (char *)malloc(2 * depth + 3);
    deep[0] = '[';
    memset(deep + 1, '[', depth);
    memset(deep + 1 + depth, ']', depth);
    deep[1 + 2 * depth] = ']';
    deep[2 + 2 * depth] = '\0';
    EXPECT_CALL_ERR(rt, "builtins", "len", deep, NULL, PYRT_ERR_INVALID_JSON, NULL, NULL);
    /* a million deep: still an error */
    free(deep);
    depth = 1000000;
    deep = (char *)malloc(2 * depth + 3);
    deep[0] = '[';
    memset(deep + 1, '[', depth);
    memset(deep + 1 + depth, ']', depth);
    deep[1 + 2 * depth] = ']';
    deep[2 + 2 * depth] = '\0';
    EXPECT_CALL_ERR(rt, "builtins", "len", deep, NULL, PYRT_ERR_INVALID_JSON, NULL, NULL);
    /* unbalanced, deep: an error */
    deep[1 + depth] = '\0';
    EXPECT_CALL_ERR(rt, "builtins", "len", deep, NULL, PYRT_ERR_INVALID_JSON, NULL, NULL);
    free(deep);

    /* a Python value nested 100,000 deep converted to JSON: an error or the right text, never a crash */
    EXPECT_RUN(rt, "deep_value = []\nfor _ in range(100000):\n    deep_value = [deep_value]\n");
    char *out = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_eval_json(rt, "deep_value", &out, &err);
    printf("  100,000-deep Python list -> %s %.200s\n", pyrt_status_name(rc),
           rc == PYRT_OK ? "" : safe_s(pyrt_error_message(err)));
    CHECKF(rc == PYRT_OK || rc == PYRT_ERR_CONVERSION, "got %s", pyrt_status_name(rc));
    if (rc == PYRT_OK) {
        size_t n = strlen(out), open = 0;
        for (size_t i = 0; i < n; i++) open += out[i] == '[';
        CHECK_INT(open, 100001);
    }
    pyrt_string_free(out);
    pyrt_error_free(err);
    err = NULL;
    /* a self-referencing list: an error, not an endless loop */
    EXPECT_RUN(rt, "cyclic = [1]\ncyclic.append(cyclic)\ncyclic_dict = {}\ncyclic_dict['me'] = cyclic_dict\n");
    out = OUT_SENTINEL;
    rc = pyrt_eval_json(rt, "cyclic", &out, &err);
    CHECKF(rc == PYRT_ERR_CONVERSION, "cyclic list: %s", pyrt_status_name(rc));
    printf("  cyclic list -> %s %.200s\n", pyrt_status_name(rc), err ? safe_s(pyrt_error_message(err)) : "");
    pyrt_error_free(err);
    err = NULL;
    rc = pyrt_eval_json(rt, "cyclic_dict", &out, &err);
    CHECKF(rc == PYRT_ERR_CONVERSION, "cyclic dict: %s", pyrt_status_name(rc));
    pyrt_error_free(err);
    CHECK(out == OUT_SENTINEL);
    EXPECT_RUN(rt, "del deep_value, cyclic, cyclic_dict");
}

static void test_wide(pyrt_runtime *rt) {
    SECTION("a million-element array both ways");
    size_t n = 1000000;
    char *args = (char *)malloc(n * 9 + 8);
    size_t j = 0;
    args[j++] = '[';
    args[j++] = '[';
    for (size_t i = 0; i < n; i++) j += (size_t)sprintf(args + j, i ? ",%zu" : "%zu", i);
    args[j++] = ']';
    args[j++] = ']';
    args[j] = '\0';
    EXPECT_CALL(rt, "builtins", "sum", args, NULL, "499999500000");
    free(args);
    char *out = NULL;
    if (CHECK_OK0(pyrt_eval_json(rt, "[i * 0.5 for i in range(1000000)]", &out, NULL))) {
        size_t len = strlen(out);
        CHECK(len > 10 && strcmp(out + len - 9, "499999.5]") == 0);
    }
    pyrt_string_free(out);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("test_big: pyrt %s, PYRT_LIBPYTHON=%s\n", pyrt_version(), safe_s(env_libpython()));
    pyrt_runtime *rt = open_runtime_or_die();
    test_big_string(rt);
    test_deep(rt);
    test_wide(rt);
    EXPECT_EVAL(rt, "'alive'", "\"alive\"");
    pyrt_free(rt);
    return check_summary();
}
