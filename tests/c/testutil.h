/*
 * testutil.h — helpers shared by pyrt's C tests (header-only; include after check.h).
 *
 * Environment read by the tests:
 *   PYRT_LIBPYTHON   the libpython under test (scripts/test-c.sh sets it per version); pyrt's own
 *                    discovery also reads it when a config has no "libpython" key.
 */
#ifndef PYRT_TEST_UTIL_H
#define PYRT_TEST_UTIL_H

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pyrt.h"

/* ---------------------------------------------------------------- small string helpers */

static inline char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    if (p == NULL) { fprintf(stderr, "out of memory\n"); exit(3); }
    memcpy(p, s, n);
    return p;
}

static inline char *xprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = (char *)malloc((size_t)n + 1);
    if (p == NULL) { fprintf(stderr, "out of memory\n"); exit(3); }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* A JSON string literal (with quotes) for s; caller frees. */
static inline char *json_quote(const char *s) {
    size_t cap = strlen(s) * 6 + 3, j = 0;
    char *out = (char *)malloc(cap);
    if (out == NULL) { fprintf(stderr, "out of memory\n"); exit(3); }
    out[j++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') { out[j++] = '\\'; out[j++] = (char)*p; }
        else if (*p < 0x20) { j += (size_t)sprintf(out + j, "\\u%04x", *p); }
        else out[j++] = (char)*p;
    }
    out[j++] = '"';
    out[j] = '\0';
    return out;
}

/* A Python string literal for s (for run_string code); caller frees. */
static inline char *py_quote(const char *s) {
    size_t cap = strlen(s) * 4 + 3, j = 0;
    char *out = (char *)malloc(cap);
    if (out == NULL) { fprintf(stderr, "out of memory\n"); exit(3); }
    out[j++] = '\'';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\'' || *p == '\\') { out[j++] = '\\'; out[j++] = (char)*p; }
        else if (*p < 0x20) { j += (size_t)sprintf(out + j, "\\x%02x", *p); }
        else out[j++] = (char)*p;
    }
    out[j++] = '\'';
    out[j] = '\0';
    return out;
}

/* ---------------------------------------------------------------- the library under test */

/* PYRT_LIBPYTHON or NULL. */
static inline const char *env_libpython(void) {
    const char *p = getenv("PYRT_LIBPYTHON");
    return (p != NULL && p[0] != '\0') ? p : NULL;
}

/* {"libpython": "<lib>"} (or "{}" when lib is NULL); caller frees. */
static inline char *config_for(const char *lib) {
    if (lib == NULL) return xstrdup("{}");
    char *q = json_quote(lib);
    char *c = xprintf("{\"libpython\": %s}", q);
    free(q);
    return c;
}

/* "3.11" from ".../libpython3.11.so.1.0" (also "3.6" from libpython3.6m.so); caller frees; NULL
 * if the name does not look like a libpython. */
static inline char *lib_minor_version(const char *lib) {
    const char *base = strrchr(lib, '/');
    base = base ? base + 1 : lib;
    if (strncmp(base, "libpython", 9) != 0) return NULL;
    base += 9;
    size_t n = 0;
    while (isdigit((unsigned char)base[n]) || base[n] == '.') {
        if (base[n] == '.' && strncmp(base + n, ".so", 3) == 0) break;
        n++;
    }
    if (n == 0) return NULL;
    char *v = (char *)malloc(n + 1);
    memcpy(v, base, n);
    v[n] = '\0';
    return v;
}

/* ---------------------------------------------------------------- canonical JSON
 * json_canon() parses JSON text and re-emits it without insignificant whitespace, with strings
 * decoded and re-encoded one way (only '"', '\\' and control characters escaped) and exponents
 * normalised ("1e+16" == "1E16" == "1e16"), so two encoders' outputs compare equal iff they mean
 * the same value. Number mantissas are compared as text: "4.0" and "4" differ on purpose. */

typedef struct { char *buf; size_t len, cap; } jbuf;

static inline void jb_put(jbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->len + n + 1 > cap) cap *= 2;
        char *nb = (char *)realloc(b->buf, cap);
        if (nb == NULL) { fprintf(stderr, "out of memory\n"); exit(3); }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static inline void jb_utf8(jbuf *b, unsigned long cp) {
    char t[4];
    if (cp < 0x80) { t[0] = (char)cp; jb_put(b, t, 1); }
    else if (cp < 0x800) { t[0] = (char)(0xC0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3F)); jb_put(b, t, 2); }
    else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F)); jb_put(b, t, 3);
    } else {
        t[0] = (char)(0xF0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); t[3] = (char)(0x80 | (cp & 0x3F)); jb_put(b, t, 4);
    }
}

static inline void jc_ws(const char **p) { while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++; }

static inline int jc_hex4(const char *p, unsigned long *out) {
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned long)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static inline int jc_value(const char **p, jbuf *b, int depth);

static inline int jc_string(const char **p, jbuf *b) {
    const char *s = *p;
    if (*s != '"') return 0;
    s++;
    jb_put(b, "\"", 1);
    for (;;) {
        unsigned char c = (unsigned char)*s;
        if (c == '\0' || c < 0x20) return 0;
        if (c == '"') { s++; break; }
        unsigned long cp;
        if (c == '\\') {
            s++;
            switch (*s) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = 8; break;
            case 'f': cp = 12; break;
            case 'n': cp = 10; break;
            case 'r': cp = 13; break;
            case 't': cp = 9; break;
            case 'u':
                if (!jc_hex4(s + 1, &cp)) return 0;
                s += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && s[1] == '\\' && s[2] == 'u') {
                    unsigned long lo;
                    if (jc_hex4(s + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        s += 6;
                    }
                }
                break;
            default: return 0;
            }
            s++;
            if (cp == '"' || cp == '\\') { char t[2] = {'\\', (char)cp}; jb_put(b, t, 2); }
            else if (cp < 0x20 || (cp >= 0xD800 && cp < 0xE000)) {
                char t[8];
                sprintf(t, "\\u%04lx", cp);
                jb_put(b, t, 6);
            } else jb_utf8(b, cp);
        } else {
            jb_put(b, s, 1);
            s++;
        }
    }
    jb_put(b, "\"", 1);
    *p = s;
    return 1;
}

static inline int jc_number(const char **p, jbuf *b) {
    const char *s = *p;
    if (*s == '-') { jb_put(b, s, 1); s++; }
    if (!isdigit((unsigned char)*s)) return 0;
    if (*s == '0' && isdigit((unsigned char)s[1])) return 0;
    while (isdigit((unsigned char)*s)) { jb_put(b, s, 1); s++; }
    if (*s == '.') {
        jb_put(b, s, 1); s++;
        if (!isdigit((unsigned char)*s)) return 0;
        while (isdigit((unsigned char)*s)) { jb_put(b, s, 1); s++; }
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        jb_put(b, "e", 1);
        if (*s == '-') { jb_put(b, s, 1); s++; }
        else if (*s == '+') s++;
        if (!isdigit((unsigned char)*s)) return 0;
        while (*s == '0' && isdigit((unsigned char)s[1])) s++;
        while (isdigit((unsigned char)*s)) { jb_put(b, s, 1); s++; }
    }
    *p = s;
    return 1;
}

static inline int jc_value(const char **p, jbuf *b, int depth) {
    if (depth > 200) return 0;
    jc_ws(p);
    const char *s = *p;
    if (*s == '"') return jc_string(p, b);
    if (*s == '-' || isdigit((unsigned char)*s)) return jc_number(p, b);
    if (strncmp(s, "true", 4) == 0) { jb_put(b, s, 4); *p = s + 4; return 1; }
    if (strncmp(s, "false", 5) == 0) { jb_put(b, s, 5); *p = s + 5; return 1; }
    if (strncmp(s, "null", 4) == 0) { jb_put(b, s, 4); *p = s + 4; return 1; }
    if (*s == '[' || *s == '{') {
        char close = *s == '[' ? ']' : '}';
        int obj = *s == '{';
        jb_put(b, s, 1);
        (*p)++;
        jc_ws(p);
        if (**p == close) { jb_put(b, *p, 1); (*p)++; return 1; }
        for (;;) {
            jc_ws(p);
            if (obj) {
                if (!jc_string(p, b)) return 0;
                jc_ws(p);
                if (**p != ':') return 0;
                jb_put(b, ":", 1);
                (*p)++;
            }
            if (!jc_value(p, b, depth + 1)) return 0;
            jc_ws(p);
            if (**p == ',') { jb_put(b, ",", 1); (*p)++; continue; }
            if (**p == close) { jb_put(b, *p, 1); (*p)++; return 1; }
            return 0;
        }
    }
    return 0;
}

/* Canonical form of JSON text, or NULL if it is not one valid JSON value; caller frees. */
static inline char *json_canon(const char *in) {
    if (in == NULL) return NULL;
    jbuf b = {NULL, 0, 0};
    const char *p = in;
    if (!jc_value(&p, &b, 0)) { free(b.buf); return NULL; }
    jc_ws(&p);
    if (*p != '\0') { free(b.buf); return NULL; }
    return b.buf;
}

/* ---------------------------------------------------------------- status checks */

/* Resident set size of this process in KiB (VmRSS of /proc/self/status), -1 if unreadable. */
static inline long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0) v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

static inline const char *safe_s(const char *s) { return s ? s : "(null)"; }

/* Checks that a call returned `want`; for failures also that the error object (when errp is not
 * NULL) carries the same code and a message (non-empty, except for Python exceptions, whose
 * message is str(exception) and may be ""). Prints the error's details on a mismatch.
 * errp is read only after `rc` was computed (the caller's call has completed). */
static inline int status_check(int32_t rc, int32_t want, pyrt_error *const *errp, const char *file,
                               int line, const char *what) {
    const pyrt_error *err = errp ? *errp : NULL;
    int ok = rc == want;
    const char *why = "";
    if (ok && want != PYRT_OK && want != PYRT_DONE && errp != NULL) { /* PYRT_DONE is not an error */
        const char *m = err ? pyrt_error_message(err) : NULL;
        int may_be_empty = want == PYRT_ERR_PYTHON || want == PYRT_ERR_KEYBOARD_INTERRUPT;
        if (err == NULL) { ok = 0; why = " [no error object]"; }
        else if (pyrt_error_code(err) != want) { ok = 0; why = " [error object has another code]"; }
        else if (m == NULL) { ok = 0; why = " [message is NULL]"; }
        else if (m[0] == '\0' && !may_be_empty) { ok = 0; why = " [message is empty]"; }
    }
    if (ok) return check_report(1, file, line, what, NULL);
    return check_report(0, file, line, what,
                        "got %s (%d), want %s (%d)%s; error: code=%d type=%s message=%.600s",
                        pyrt_status_name(rc), (int)rc, pyrt_status_name(want), (int)want, why,
                        err ? (int)pyrt_error_code(err) : -1,
                        err ? safe_s(pyrt_error_python_type(err)) : "-",
                        err ? safe_s(pyrt_error_message(err)) : "(no error object)");
}

/* CHECK_STATUS(call, want, err): `err` is the pyrt_error* variable the call wrote to. */
#define CHECK_STATUS(rc, want, err) status_check((rc), (want), &(err), __FILE__, __LINE__, #rc " is " #want)
#define CHECK_OK(rc, err) status_check((rc), PYRT_OK, &(err), __FILE__, __LINE__, #rc " is PYRT_OK")
/* for calls made with err_out == NULL */
#define CHECK_STATUS0(rc, want) status_check((rc), (want), NULL, __FILE__, __LINE__, #rc " is " #want)
#define CHECK_OK0(rc) status_check((rc), PYRT_OK, NULL, __FILE__, __LINE__, #rc " is PYRT_OK")

/* Compare two JSON texts by meaning (see json_canon). */
static inline int json_check(const char *got, const char *want, const char *file, int line, const char *what) {
    char *g = json_canon(got), *w = json_canon(want);
    int ok = g != NULL && w != NULL && strcmp(g, w) == 0;
    check_report(ok, file, line, what, "got %s%.300s, want %.300s", g ? "" : "(invalid JSON) ",
                 got ? got : "NULL", want);
    free(g);
    free(w);
    return ok;
}
#define CHECK_JSON(got, want) json_check((got), (want), __FILE__, __LINE__, #got " ~ " #want)

/* ---------------------------------------------------------------- call helpers */

static char out_sentinel_storage;
#define OUT_SENTINEL (&out_sentinel_storage)

/* Call and compare the JSON result. want == NULL: only check success. */
static inline void expect_call(pyrt_runtime *rt, const char *mod, const char *fn, const char *args,
                               const char *kwargs, const char *want, const char *file, int line) {
    char *out = NULL;
    pyrt_error *err = NULL;
    char what[512];
    snprintf(what, sizeof what, "call %s.%s(%.100s, %.100s)", mod, fn, args ? args : "NULL", kwargs ? kwargs : "NULL");
    int32_t rc = pyrt_call_json(rt, mod, fn, args, kwargs, &out, &err);
    if (status_check(rc, PYRT_OK, &err, file, line, what) && want != NULL)
        json_check(out, want, file, line, what);
    pyrt_string_free(out);
    pyrt_error_free(err);
}
#define EXPECT_CALL(rt, mod, fn, args, kwargs, want) expect_call(rt, mod, fn, args, kwargs, want, __FILE__, __LINE__)

static inline void expect_eval(pyrt_runtime *rt, const char *expr, const char *want, const char *file, int line) {
    char *out = NULL;
    pyrt_error *err = NULL;
    char what[512];
    snprintf(what, sizeof what, "eval %.200s", expr);
    int32_t rc = pyrt_eval_json(rt, expr, &out, &err);
    if (status_check(rc, PYRT_OK, &err, file, line, what) && want != NULL)
        json_check(out, want, file, line, what);
    pyrt_string_free(out);
    pyrt_error_free(err);
}
#define EXPECT_EVAL(rt, expr, want) expect_eval(rt, expr, want, __FILE__, __LINE__)

static inline void expect_run(pyrt_runtime *rt, const char *code, const char *file, int line) {
    pyrt_error *err = NULL;
    char what[512];
    snprintf(what, sizeof what, "run %.200s", code);
    int32_t rc = pyrt_run_string(rt, code, &err);
    status_check(rc, PYRT_OK, &err, file, line, what);
    pyrt_error_free(err);
}
#define EXPECT_RUN(rt, code) expect_run(rt, code, __FILE__, __LINE__)

/* Checks an error: its status, python_type (exact, when pytype != NULL; "-" = must be NULL),
 * and that its message contains msg_sub (when not NULL). */
static inline void error_check(int32_t rc, pyrt_error *err, int32_t want, const char *pytype,
                               const char *msg_sub, const char *file, int line, const char *what) {
    if (!status_check(rc, want, &err, file, line, what)) return;
    if (pytype != NULL) {
        const char *t = pyrt_error_python_type(err);
        if (strcmp(pytype, "-") == 0)
            check_report(t == NULL, file, line, what, "python_type is \"%s\", want NULL", safe_s(t));
        else
            check_report(t != NULL && strcmp(t, pytype) == 0, file, line, what,
                         "python_type is %s, want %s (message: %.300s)", safe_s(t), pytype,
                         safe_s(pyrt_error_message(err)));
    }
    if (msg_sub != NULL) {
        const char *m = pyrt_error_message(err);
        check_report(m != NULL && strstr(m, msg_sub) != NULL, file, line, what,
                     "message \"%.400s\" lacks \"%s\"", safe_s(m), msg_sub);
    }
}

static inline void expect_call_err(pyrt_runtime *rt, const char *mod, const char *fn, const char *args,
                                   const char *kwargs, int32_t want, const char *pytype,
                                   const char *msg_sub, const char *file, int line) {
    char *out = OUT_SENTINEL;
    pyrt_error *err = NULL;
    char what[512];
    snprintf(what, sizeof what, "call %s.%s(%.60s, %.60s) fails", mod ? mod : "NULL", fn ? fn : "NULL",
             args ? args : "NULL", kwargs ? kwargs : "NULL");
    int32_t rc = pyrt_call_json(rt, mod, fn, args, kwargs, &out, &err);
    error_check(rc, err, want, pytype, msg_sub, file, line, what);
    check_report(out == OUT_SENTINEL, file, line, what, "result_out was written on failure");
    if (out != OUT_SENTINEL) pyrt_string_free(out);
    pyrt_error_free(err);
    /* the same call without an error object must fail the same way and not leak */
    out = OUT_SENTINEL;
    rc = pyrt_call_json(rt, mod, fn, args, kwargs, &out, NULL);
    status_check(rc, want, NULL, file, line, what);
    if (out != OUT_SENTINEL) pyrt_string_free(out);
}
#define EXPECT_CALL_ERR(rt, mod, fn, args, kwargs, want, pytype, msg) \
    expect_call_err(rt, mod, fn, args, kwargs, want, pytype, msg, __FILE__, __LINE__)

static inline void expect_eval_err(pyrt_runtime *rt, const char *expr, int32_t want, const char *pytype,
                                   const char *msg_sub, const char *file, int line) {
    char *out = OUT_SENTINEL;
    pyrt_error *err = NULL;
    char what[512];
    snprintf(what, sizeof what, "eval %.200s fails", expr ? expr : "NULL");
    int32_t rc = pyrt_eval_json(rt, expr, &out, &err);
    error_check(rc, err, want, pytype, msg_sub, file, line, what);
    check_report(out == OUT_SENTINEL, file, line, what, "result_out was written on failure");
    if (out != OUT_SENTINEL) pyrt_string_free(out);
    pyrt_error_free(err);
}
#define EXPECT_EVAL_ERR(rt, expr, want, pytype, msg) expect_eval_err(rt, expr, want, pytype, msg, __FILE__, __LINE__)

static inline void expect_run_err(pyrt_runtime *rt, const char *code, int32_t want, const char *pytype,
                                  const char *msg_sub, const char *file, int line) {
    pyrt_error *err = NULL;
    char what[512];
    snprintf(what, sizeof what, "run %.200s fails", code ? code : "NULL");
    int32_t rc = pyrt_run_string(rt, code, &err);
    error_check(rc, err, want, pytype, msg_sub, file, line, what);
    pyrt_error_free(err);
    rc = pyrt_run_string(rt, code, NULL);
    status_check(rc, want, NULL, file, line, what);
}
#define EXPECT_RUN_ERR(rt, code, want, pytype, msg) expect_run_err(rt, code, want, pytype, msg, __FILE__, __LINE__)

/* Open a runtime on PYRT_LIBPYTHON (explicit config); exits the test on failure. */
static inline pyrt_runtime *open_runtime_or_die(void) {
    char *cfg = config_for(env_libpython());
    pyrt_runtime *rt = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_new(cfg, &rt, &err);
    if (!CHECK_OK(rc, err) || rt == NULL) {
        pyrt_error_free(err);
        free(cfg);
        printf("cannot start the runtime; giving up\n");
        check_summary();
        exit(1);
    }
    free(cfg);
    return rt;
}

/* Evaluate an expression whose JSON result is an integer. Returns LLONG_MIN on failure. */
static inline long long eval_ll(pyrt_runtime *rt, const char *expr) {
    char *out = NULL;
    long long v = LLONG_MIN;
    if (pyrt_eval_json(rt, expr, &out, NULL) == PYRT_OK) v = strtoll(out, NULL, 10);
    pyrt_string_free(out);
    return v;
}

#endif /* PYRT_TEST_UTIL_H */
