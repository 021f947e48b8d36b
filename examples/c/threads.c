/*
 * threads.c — 10 OS threads calling Python at the same time through one pyrt runtime.
 *
 * Every pyrt function may be called from any thread, concurrently; pyrt takes and releases the
 * GIL inside each call. No locking is needed on the C side.
 *
 *   ./threads [libpython-path]
 */
#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrt.h"

#ifndef PYRT_EXAMPLES_DIR
#define PYRT_EXAMPLES_DIR "examples/c"
#endif

#define NTHREADS 10

static pyrt_runtime *rt;
static pthread_barrier_t start_line;

typedef struct {
    int id;
    int32_t rc;
    char sqrt_result[64];
    char *worker_result; /* owned by pyrt until pyrt_string_free */
    char error[256];
} job;

static void *work(void *arg) {
    job *j = (job *)arg;
    char args[32];
    char *out = NULL;
    pyrt_error *err = NULL;

    pthread_barrier_wait(&start_line); /* all threads call at once */

    snprintf(args, sizeof args, "[%d.0]", j->id * j->id);
    j->rc = pyrt_call_json(rt, "math", "sqrt", args, NULL, &out, &err);
    if (j->rc == PYRT_OK) {
        snprintf(j->sqrt_result, sizeof j->sqrt_result, "%s", out);
        pyrt_string_free(out);
        snprintf(args, sizeof args, "[%d]", j->id);
        j->rc = pyrt_call_json(rt, "mymodule", "worker", args, NULL, &j->worker_result, &err);
    }
    if (j->rc != PYRT_OK) {
        snprintf(j->error, sizeof j->error, "%s: %s", pyrt_status_name(j->rc), err ? pyrt_error_message(err) : "");
        pyrt_error_free(err);
    }
    return NULL;
}

int main(int argc, char **argv) {
    char config[4096];
    const char *cfg = NULL;
    if (argc > 1) {
        snprintf(config, sizeof config, "{\"libpython\": \"%s\"}", argv[1]);
        cfg = config;
    }
    pyrt_error *err = NULL;
    int32_t rc = pyrt_new(cfg, &rt, &err);
    if (rc != PYRT_OK) {
        fprintf(stderr, "pyrt_new: %s: %s\n", pyrt_status_name(rc), err ? pyrt_error_message(err) : "");
        pyrt_error_free(err);
        return 1;
    }
    rc = pyrt_run_string(rt, "import sys\nsys.path.insert(0, '" PYRT_EXAMPLES_DIR "')\n", &err);
    if (rc != PYRT_OK) {
        fprintf(stderr, "sys.path: %s: %s\n", pyrt_status_name(rc), err ? pyrt_error_message(err) : "");
        pyrt_error_free(err);
        return 1;
    }

    pthread_t threads[NTHREADS];
    job jobs[NTHREADS];
    pthread_barrier_init(&start_line, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].id = i;
        pthread_create(&threads[i], NULL, work, &jobs[i]);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start_line);

    int failures = 0;
    for (int i = 0; i < NTHREADS; i++) {
        char want[32];
        snprintf(want, sizeof want, "%d.0", i);
        if (jobs[i].rc != PYRT_OK) {
            printf("thread %d: error %s\n", i, jobs[i].error);
            failures++;
            continue;
        }
        int ok = strcmp(jobs[i].sqrt_result, want) == 0;
        failures += !ok;
        printf("thread %d: sqrt(%d) = %s%s; mymodule.worker(%d) = %s\n", i, i * i, jobs[i].sqrt_result,
               ok ? "" : " (WRONG)", i, jobs[i].worker_result);
        pyrt_string_free(jobs[i].worker_result);
    }
    pyrt_free(rt);
    printf("%d threads, %d failures\n", NTHREADS, failures);
    return failures != 0;
}
