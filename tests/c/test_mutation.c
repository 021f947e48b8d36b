/*
 * test_mutation.c — Python code that runs while pyrt encodes or decodes a value changes the very
 * containers being converted; pyrt must never read an object that was freed.
 *
 * The tagged encoding runs Python code in the middle of a value: isoformat() of a date, str() of
 * a Decimal, the days/seconds/microseconds properties of a timedelta, the iteration of a set. A
 * subclass can make that code empty the list, dict or set being written. Reading tagged input
 * runs Python code too: an object handle used as a dict key runs its __hash__. Each case checks
 * the documented outcome (a dict or set that changed size is an error, a list ends where it was
 * cut); what it really guards is memory: scripts/test-c.sh runs this program under valgrind with
 * PYTHONMALLOC=malloc and "use_environment": true, so every Python object is a malloc block and
 * a read of a freed item is a valgrind error (exit 99). (Free-threaded builds always allocate
 * with mimalloc; there the case still runs, natively checked, and another thread mutates too.)
 */
#define _DEFAULT_SOURCE

#include "testutil.h"

static pyrt_runtime *rt;

static void run(const char *code) {
    pyrt_error *err = NULL;
    int32_t st = pyrt_run_string(rt, code, &err);
    CHECKF(st == PYRT_OK, "run: %s", err ? pyrt_error_message(err) : "?");
    pyrt_error_free(err);
}

/* The encoding of the global `name` (flags), or NULL with *status and *message set. */
static char *encode(const char *name, uint32_t flags, int32_t *status, char **message) {
    pyrt_object *o = NULL;
    pyrt_error *err = NULL;
    *status = pyrt_eval_object(rt, name, &o, &err);
    if (*status != PYRT_OK) {
        *message = xstrdup(err ? pyrt_error_message(err) : "?");
        pyrt_error_free(err);
        return NULL;
    }
    char *json = NULL;
    *status = pyrt_object_to_json(o, flags, &json, &err);
    *message = NULL;
    if (*status != PYRT_OK) {
        *message = xstrdup(err ? pyrt_error_message(err) : "?");
        pyrt_error_free(err);
    }
    pyrt_object_free(o);
    return json;
}

static int free_threaded;

static void case_dict_value_clears_dict(void) {
    SECTION("a dict value's isoformat() clears the dict (tagged)");
    for (int i = 0; i < 30; i++) {
        run("victim = {'a': Evil(2020, 1, 2), 'b': fresh(1), 'c': [fresh(2), fresh(3)], 'd': fresh(4)}");
        int32_t st;
        char *msg;
        char *json = encode("victim", PYRT_VALUE_TAGGED, &st, &msg);
        if (free_threaded) {
            CHECKF(st == PYRT_OK, "free-threaded: a snapshot is written (%s)", msg ? msg : "");
        } else {
            CHECK_INT(st, PYRT_ERR_CONVERSION);
            CHECK_CONTAINS(msg, "changed size");
        }
        pyrt_string_free(json);
        free(msg);
    }
}

static void case_list_item_clears_list(void) {
    SECTION("a list item's isoformat() clears the list (tagged); plain is an error");
    for (int i = 0; i < 30; i++) {
        run("victim = [Evil(2020, 1, 2), fresh(1), fresh(2)]");
        int32_t st;
        char *msg;
        char *json = encode("victim", PYRT_VALUE_TAGGED, &st, &msg);
        CHECKF(st == PYRT_OK, "%s", msg ? msg : "");
        CHECK_CONTAINS(json, "2020-01-02");
        CHECKF(json != NULL && strstr(json, "item-2-") == NULL, "the list ends where it was cut: %s", json ? json : "");
        pyrt_string_free(json);
        free(msg);
        run("victim = [Evil(2020, 1, 2), fresh(1), fresh(2)]");
        json = encode("victim", 0, &st, &msg);
        CHECK_INT(st, PYRT_ERR_CONVERSION);
        pyrt_string_free(json);
        free(msg);
    }
}

static void case_set_item_clears_set(void) {
    SECTION("a set item's isoformat() clears the set (tagged)");
    for (int i = 0; i < 30; i++) {
        run("victim = {Evil(2020, 1, 2), fresh(1), fresh(2), fresh(3)}");
        int32_t st;
        char *msg;
        char *json = encode("victim", PYRT_VALUE_TAGGED, &st, &msg);
        /* Python's own set iterator raises RuntimeError when the set changes size; whether
         * Evil comes first depends on hashing, so success is possible too. */
        CHECKF(st == PYRT_OK || st == PYRT_ERR_PYTHON, "status %d: %s", st, msg ? msg : "");
        if (st == PYRT_ERR_PYTHON) CHECK_CONTAINS(msg, "changed size");
        pyrt_string_free(json);
        free(msg);
    }
}

static void case_decimal_and_timedelta(void) {
    SECTION("Decimal.__str__ and timedelta properties clear their container (tagged)");
    for (int i = 0; i < 30; i++) {
        run("victim = [EvilDecimal('1.5'), fresh(1), fresh(2)]");
        int32_t st;
        char *msg;
        char *json = encode("victim", PYRT_VALUE_TAGGED, &st, &msg);
        CHECKF(st == PYRT_OK, "%s", msg ? msg : "");
        CHECK_CONTAINS(json, "\"decimal\"");
        pyrt_string_free(json);
        free(msg);
        run("victim = {'t': EvilDelta(days=1), 'x': fresh(1)}");
        json = encode("victim", PYRT_VALUE_TAGGED, &st, &msg);
        if (!free_threaded) CHECK_INT(st, PYRT_ERR_CONVERSION);
        pyrt_string_free(json);
        free(msg);
    }
}

static void case_dict_key_clears_dict(void) {
    SECTION("a non-str key's isoformat() clears the dict (tagged, pairs form)");
    for (int i = 0; i < 30; i++) {
        run("victim = {Evil(2020, 1, 2): fresh(1), 2: fresh(2), 3: fresh(3)}");
        int32_t st;
        char *msg;
        char *json = encode("victim", PYRT_VALUE_TAGGED, &st, &msg);
        if (free_threaded) {
            CHECKF(st == PYRT_OK, "%s", msg ? msg : "");
        } else {
            CHECK_INT(st, PYRT_ERR_CONVERSION);
            CHECK_CONTAINS(msg, "changed size");
        }
        pyrt_string_free(json);
        free(msg);
    }
}

static void case_decode_hash_clears_pairs(void) {
    SECTION("reading tagged input: a handle key's __hash__ empties the containers being read");
    pyrt_object *key = NULL;
    pyrt_error *err = NULL;
    CHECK_INT(pyrt_eval_object(rt, "EvilKey()", &key, &err), PYRT_OK);
    pyrt_error_free(err);
    for (int i = 0; i < 30 && key != NULL; i++) {
        char *json = xprintf("{\"__pyrt__\": \"dict\", \"v\": [[{\"__pyrt__\": \"object\", \"v\": %llu}, [\"%s\", \"%s\"]], [2, 3]]}",
                             (unsigned long long)pyrt_object_id(key), "long-string-value-long-string-value", "another-long-string-value");
        pyrt_object *o = NULL;
        err = NULL;
        int32_t st = pyrt_object_from_json(rt, json, PYRT_VALUE_TAGGED, &o, &err);
        CHECKF(st == PYRT_OK, "%s", err ? pyrt_error_message(err) : "");
        pyrt_error_free(err);
        pyrt_object_free(o);
        free(json);
    }
    pyrt_object_free(key);
}

static void case_racing_thread(void) {
    SECTION("a Python thread mutates the containers while the host encodes them (plain and tagged)");
    run("import threading\n"
        "racing = True\n"
        "shared_list = [fresh(i) for i in range(50)]\n"
        "shared_dict = {str(i): fresh(i) for i in range(50)}\n"
        "def _race():\n"
        "    import time\n"
        "    while racing:\n"
        "        shared_list.clear(); shared_list.extend(fresh(i) for i in range(50))\n"
        "        shared_dict.clear(); shared_dict.update((str(i), fresh(i)) for i in range(50))\n"
        "        time.sleep(0)\n"
        "racer = threading.Thread(target=_race, daemon=True)\n"
        "racer.start()\n");
    int ok = 0, changed = 0;
    for (int i = 0; i < 200; i++) {
        const char *names[2] = {"shared_list", "shared_dict"};
        for (int n = 0; n < 2; n++) {
            for (uint32_t flags = 0; flags <= PYRT_VALUE_TAGGED; flags += PYRT_VALUE_TAGGED) {
                int32_t st;
                char *msg;
                char *json = encode(names[n], flags, &st, &msg);
                if (st == PYRT_OK) ok++;
                else if (st == PYRT_ERR_CONVERSION && msg != NULL && strstr(msg, "changed size") != NULL) changed++;
                else CHECKF(0, "%s: status %d: %s", names[n], st, msg ? msg : "");
                pyrt_string_free(json);
                free(msg);
            }
        }
    }
    CHECKF(ok + changed == 800, "%d written, %d changed-size errors", ok, changed);
    run("racing = False\nracer.join()");
}

int main(void) {
    const char *lib = env_libpython();
    /* Free-threaded builds refuse PYTHONMALLOC=malloc (mimalloc is their only object allocator). */
    if (lib != NULL && (strstr(lib, "t.so") != NULL)) unsetenv("PYTHONMALLOC");
    char *libq = lib ? json_quote(lib) : NULL;
    char *cfg = lib ? xprintf("{\"libpython\": %s, \"use_environment\": true}", libq) : xstrdup("{\"use_environment\": true}");
    pyrt_error *err = NULL;
    int32_t st = pyrt_new(cfg, &rt, &err);
    CHECKF(st == PYRT_OK, "pyrt_new: %s", err ? pyrt_error_message(err) : "");
    pyrt_error_free(err);
    free(cfg);
    free(libq);
    if (st != PYRT_OK) return check_summary();

    char *info = NULL;
    CHECK_INT(pyrt_info_json(rt, &info, NULL), PYRT_OK);
    free_threaded = info != NULL && strstr(info, "\"free_threaded\":true") != NULL;
    pyrt_string_free(info);
    printf("free-threaded: %d, PYTHONMALLOC=%s\n", free_threaded, getenv("PYTHONMALLOC") ? getenv("PYTHONMALLOC") : "(unset)");

    run("import datetime, decimal, gc\n"
        "def fresh(i):\n"
        "    return ('item-%d-' % i) * 40\n"
        "class Evil(datetime.date):\n"
        "    def isoformat(self):\n"
        "        victim.clear()\n"
        "        return '2020-01-02'\n"
        "    def __hash__(self):\n"
        "        return 1\n"
        "class EvilDecimal(decimal.Decimal):\n"
        "    def __str__(self):\n"
        "        victim.clear()\n"
        "        return '1.5'\n"
        "class EvilDelta(datetime.timedelta):\n"
        "    @property\n"
        "    def days(self):\n"
        "        victim.clear()\n"
        "        return 1\n"
        "class EvilKey:\n"
        "    def __hash__(self):\n"
        "        for r in gc.get_referrers(self):\n"
        "            if isinstance(r, list):\n"
        "                r.clear()\n"
        "        for r in gc.get_objects():\n"
        "            if isinstance(r, list) and r[:1] == ['long-string-value-long-string-value']:\n"
        "                r.clear()\n"
        "        return 7\n"
        "victim = None\n");

    case_dict_value_clears_dict();
    case_list_item_clears_list();
    case_set_item_clears_set();
    case_decimal_and_timedelta();
    case_dict_key_clears_dict();
    case_decode_hash_clears_pairs();
    case_racing_thread();

    pyrt_free(rt);
    return check_summary();
}
