/*
 * header_c.c — include/pyrt.h compiles as C99 with -Wall -Wextra -Werror (twice: include guard),
 * declares every function of the contract with the right type, and links.
 */
#include "pyrt.h"
#include "pyrt.h"

#include <stdio.h>
#include <string.h>

/* Each declaration must match the contract exactly (a mismatch is a compile error). */
static int32_t (*const p_new)(const char *, pyrt_runtime **, pyrt_error **) = pyrt_new;
static void (*const p_free)(pyrt_runtime *) = pyrt_free;
static int32_t (*const p_run_string)(pyrt_runtime *, const char *, pyrt_error **) = pyrt_run_string;
static int32_t (*const p_run_file)(pyrt_runtime *, const char *, pyrt_error **) = pyrt_run_file;
static int32_t (*const p_eval_json)(pyrt_runtime *, const char *, char **, pyrt_error **) = pyrt_eval_json;
static int32_t (*const p_call_json)(pyrt_runtime *, const char *, const char *, const char *, const char *,
                                    char **, pyrt_error **) = pyrt_call_json;
static int32_t (*const p_info_json)(pyrt_runtime *, char **, pyrt_error **) = pyrt_info_json;
static void (*const p_string_free)(char *) = pyrt_string_free;
static int32_t (*const p_error_code)(const pyrt_error *) = pyrt_error_code;
static const char *(*const p_error_message)(const pyrt_error *) = pyrt_error_message;
static const char *(*const p_error_python_type)(const pyrt_error *) = pyrt_error_python_type;
static const char *(*const p_error_traceback)(const pyrt_error *) = pyrt_error_traceback;
static void (*const p_error_free)(pyrt_error *) = pyrt_error_free;
static const char *(*const p_version)(void) = pyrt_version;
static const char *(*const p_status_name)(int32_t) = pyrt_status_name;

int main(void) {
    const void *all[] = {(const void *)&p_new, (const void *)&p_free, (const void *)&p_run_string,
                         (const void *)&p_run_file, (const void *)&p_eval_json, (const void *)&p_call_json,
                         (const void *)&p_info_json, (const void *)&p_string_free, (const void *)&p_error_code,
                         (const void *)&p_error_message, (const void *)&p_error_python_type,
                         (const void *)&p_error_traceback, (const void *)&p_error_free,
                         (const void *)&p_version, (const void *)&p_status_name};
    int32_t codes[] = {PYRT_OK, PYRT_ERR_INVALID_ARGUMENT, PYRT_ERR_INVALID_UTF8, PYRT_ERR_INVALID_JSON,
                       PYRT_ERR_CONFIG, PYRT_ERR_LIBPYTHON_NOT_FOUND, PYRT_ERR_LIBPYTHON_INVALID,
                       PYRT_ERR_LIBPYTHON_CONFLICT, PYRT_ERR_INIT, PYRT_ERR_FINALIZED, PYRT_ERR_CLOSED,
                       PYRT_ERR_PYTHON, PYRT_ERR_SYSTEM_EXIT, PYRT_ERR_KEYBOARD_INTERRUPT,
                       PYRT_ERR_CONVERSION, PYRT_ERR_FILE_NOT_FOUND, PYRT_ERR_PERMISSION_DENIED,
                       PYRT_ERR_NOT_A_FILE, PYRT_ERR_IO, PYRT_ERR_INTERNAL};
    int failed = 0, passed = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i] == NULL) failed++; else passed++;
    }
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (codes[i] != (int32_t)i) { printf("status %zu has value %d\n", i, (int)codes[i]); failed++; }
        else passed++;
    }
    const char *v = pyrt_version();
    if (v == NULL || strlen(v) == 0) failed++; else passed++;
    /* The compile-time version macros name the library built with this header. */
#if !defined(PYRT_VERSION_MAJOR) || !defined(PYRT_VERSION_MINOR) || !defined(PYRT_VERSION_PATCH)
#error "pyrt.h defines PYRT_VERSION_MAJOR/MINOR/PATCH"
#endif
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", PYRT_VERSION_MAJOR, PYRT_VERSION_MINOR, PYRT_VERSION_PATCH);
    if (v == NULL || strcmp(v, want) != 0 || strcmp(v, PYRT_VERSION_STRING) != 0) {
        printf("pyrt_version() %s, header macros %s / %s\n", v ? v : "(null)", want, PYRT_VERSION_STRING);
        failed++;
    } else passed++;
    printf("header_c: pyrt %s\n", v ? v : "(null)");
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
