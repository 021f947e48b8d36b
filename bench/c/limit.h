/* The LIMIT baseline's plumbing, shared by bench/c/bench.c and bench/c/instr.c: the
 * CPython functions it calls, bound with dlsym from the libpython pyrt already loaded (dlopen with
 * RTLD_NOLOAD, so both run on the same interpreter), and pyrt_info_json's "libpython" field to
 * find that file. Include after pyrt.h, with _POSIX_C_SOURCE >= 200809L (strndup). */
#ifndef PYRT_BENCH_LIMIT_H
#define PYRT_BENCH_LIMIT_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *PyObj;
static int (*Ensure)(void);
static void (*Release)(int);
static PyObj (*ImportModule)(const char *);
static PyObj (*GetAttrString)(PyObj, const char *);
static PyObj (*FloatFromDouble)(double);
static double (*FloatAsDouble)(PyObj);
static PyObj (*LongFromLongLong)(long long);
static long long (*LongAsLongLong)(PyObj);
static PyObj (*TupleNew)(long);
static int (*TupleSetItem)(PyObj, long, PyObj);
static PyObj (*Call)(PyObj, PyObj, PyObj);
static PyObj (*Vectorcall)(PyObj, PyObj const *, size_t, PyObj); /* NULL before 3.11's export */
static PyObj (*UnicodeFromStringAndSize)(const char *, long);
static const char *(*UnicodeAsUTF8AndSize)(PyObj, long *);
static void (*DecRef)(PyObj);
static void (*ErrPrint)(void);

static inline void *limit_sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p) { fprintf(stderr, "missing %s\n", name); exit(2); }
    return p;
}

/* The string value of "key" in a flat JSON object (pyrt_info_json's output); malloc'd or NULL. */
static inline char *json_field(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    return strndup(p, (size_t)(e - p));
}

/* Binds the functions above from the libpython `rt` runs on. Exits the program on failure. */
static inline void limit_bind(pyrt_runtime *rt) {
    char *info = NULL;
    pyrt_error *err = NULL;
    if (pyrt_info_json(rt, &info, &err) != PYRT_OK) {
        fprintf(stderr, "pyrt_info_json: %s\n", err ? pyrt_error_message(err) : "?");
        exit(1);
    }
    char *libpath = json_field(info, "libpython");
    pyrt_string_free(info);
    void *lib = libpath ? dlopen(libpath, RTLD_NOW | RTLD_NOLOAD) : NULL;
    if (!lib) { fprintf(stderr, "dlopen %s: %s\n", libpath ? libpath : "(no libpython in info)", dlerror()); exit(1); }
    free(libpath);
    Ensure = (int (*)(void))limit_sym(lib, "PyGILState_Ensure");
    Release = (void (*)(int))limit_sym(lib, "PyGILState_Release");
    ImportModule = (PyObj(*)(const char *))limit_sym(lib, "PyImport_ImportModule");
    GetAttrString = (PyObj(*)(PyObj, const char *))limit_sym(lib, "PyObject_GetAttrString");
    FloatFromDouble = (PyObj(*)(double))limit_sym(lib, "PyFloat_FromDouble");
    FloatAsDouble = (double (*)(PyObj))limit_sym(lib, "PyFloat_AsDouble");
    LongFromLongLong = (PyObj(*)(long long))limit_sym(lib, "PyLong_FromLongLong");
    LongAsLongLong = (long long (*)(PyObj))limit_sym(lib, "PyLong_AsLongLong");
    TupleNew = (PyObj(*)(long))limit_sym(lib, "PyTuple_New");
    TupleSetItem = (int (*)(PyObj, long, PyObj))limit_sym(lib, "PyTuple_SetItem");
    Call = (PyObj(*)(PyObj, PyObj, PyObj))limit_sym(lib, "PyObject_Call");
    Vectorcall = (PyObj(*)(PyObj, PyObj const *, size_t, PyObj))dlsym(lib, "PyObject_Vectorcall");
    UnicodeFromStringAndSize = (PyObj(*)(const char *, long))limit_sym(lib, "PyUnicode_FromStringAndSize");
    UnicodeAsUTF8AndSize = (const char *(*)(PyObj, long *))limit_sym(lib, "PyUnicode_AsUTF8AndSize");
    DecRef = (void (*)(PyObj))limit_sym(lib, "Py_DecRef");
    ErrPrint = (void (*)(void))limit_sym(lib, "PyErr_Print");
}

#endif
