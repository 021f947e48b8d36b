/*
 * check.h — a tiny assertion framework for pyrt's C tests.
 *
 *   CHECK(cond)                   record a pass or a failure (never aborts the program)
 *   CHECKF(cond, fmt, ...)        same, with a printf-style explanation on failure
 *   CHECK_INT(got, want)          integers
 *   CHECK_STR(got, want)          strings (NULL-safe)
 *   CHECK_CONTAINS(hay, needle)   substring (NULL-safe)
 *   SKIP(fmt, ...)                record a skipped case with its reason
 *   SECTION(name)                 print a heading
 *   return check_summary();       prints "N passed, N failed" as the LAST line; exit code 0/1
 *
 * Thread-safe (a mutex guards the counters), C99, no allocation.
 */
#ifndef PYRT_TEST_CHECK_H
#define PYRT_TEST_CHECK_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t check_mu = PTHREAD_MUTEX_INITIALIZER;
static int check_passed_n;
static int check_failed_n;
static int check_skipped_n;
static int check_verbose = -1;

static inline int check_is_verbose(void) {
    if (check_verbose < 0) {
        const char *v = getenv("CHECK_VERBOSE");
        check_verbose = (v != NULL && v[0] != '\0' && v[0] != '0');
    }
    return check_verbose;
}

static inline int check_report(int ok, const char *file, int line, const char *expr,
                               const char *fmt, ...) {
    pthread_mutex_lock(&check_mu);
    if (ok) {
        check_passed_n++;
        if (check_is_verbose()) printf("  ok   %s:%d: %s\n", file, line, expr);
    } else {
        check_failed_n++;
        printf("  FAIL %s:%d: %s\n", file, line, expr);
        if (fmt != NULL) {
            va_list ap;
            va_start(ap, fmt);
            printf("       ");
            vprintf(fmt, ap);
            printf("\n");
            va_end(ap);
        }
    }
    fflush(stdout);
    pthread_mutex_unlock(&check_mu);
    return ok;
}

#define CHECK(cond) check_report(!!(cond), __FILE__, __LINE__, #cond, NULL)
#define CHECKF(cond, ...) check_report(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

#define CHECK_INT(got, want)                                                                  \
    do {                                                                                      \
        long long check_g_ = (long long)(got), check_w_ = (long long)(want);                  \
        check_report(check_g_ == check_w_, __FILE__, __LINE__, #got " == " #want,             \
                     "got %lld, want %lld", check_g_, check_w_);                              \
    } while (0)

#define CHECK_STR(got, want)                                                                  \
    do {                                                                                      \
        const char *check_g_ = (got), *check_w_ = (want);                                     \
        int check_ok_ = (check_g_ == NULL || check_w_ == NULL) ? check_g_ == check_w_         \
                                                              : strcmp(check_g_, check_w_) == 0; \
        check_report(check_ok_, __FILE__, __LINE__, #got " == " #want, "got %s%s%s, want %s%s%s", \
                     check_g_ ? "\"" : "", check_g_ ? check_g_ : "NULL", check_g_ ? "\"" : "", \
                     check_w_ ? "\"" : "", check_w_ ? check_w_ : "NULL", check_w_ ? "\"" : ""); \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                           \
    do {                                                                                      \
        const char *check_h_ = (hay), *check_n_ = (needle);                                   \
        check_report(check_h_ != NULL && strstr(check_h_, check_n_) != NULL, __FILE__,        \
                     __LINE__, #hay " contains " #needle, "\"%s\" not found in %s%.400s%s",    \
                     check_n_, check_h_ ? "\"" : "", check_h_ ? check_h_ : "NULL",            \
                     check_h_ ? "\"" : "");                                                   \
    } while (0)

#define SKIP(...)                                                                             \
    do {                                                                                      \
        pthread_mutex_lock(&check_mu);                                                        \
        check_skipped_n++;                                                                    \
        printf("  SKIP %s:%d: ", __FILE__, __LINE__);                                         \
        printf(__VA_ARGS__);                                                                  \
        printf("\n");                                                                         \
        fflush(stdout);                                                                       \
        pthread_mutex_unlock(&check_mu);                                                      \
    } while (0)

#define SECTION(name)                                                                         \
    do {                                                                                      \
        printf("== %s\n", name);                                                              \
        fflush(stdout);                                                                       \
    } while (0)

/* Print the totals; the last line is exactly "N passed, N failed". Returns the exit code. */
static inline int check_summary(void) {
    pthread_mutex_lock(&check_mu);
    int failed = check_failed_n;
    if (check_skipped_n > 0) printf("skipped: %d (reasons above)\n", check_skipped_n);
    printf("%d passed, %d failed\n", check_passed_n, check_failed_n);
    fflush(stdout);
    pthread_mutex_unlock(&check_mu);
    return failed == 0 ? 0 : 1;
}

#endif /* PYRT_TEST_CHECK_H */
