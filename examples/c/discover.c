/*
 * discover.c — which libpython would pyrt use, and why?
 *
 * Prints pyrt_discover_json()'s report: the libpython pyrt_new() would load for a config, its
 * version, the interpreter reported as sys.executable, the venv, and every candidate considered
 * with the reason it was taken or rejected. Nothing is loaded and Python is not started.
 *
 *   discover                      the default search ($PYRT_LIBPYTHON, python3 on PATH, ...)
 *   discover 3.12                 only Python 3.12           ({"python_version": "3.12"})
 *   discover /path/to/venv        a virtualenv's own Python  ({"venv": "/path/to/venv"})
 *   discover /path/libpython3.12.so.1.0                      ({"libpython": "..."})
 *   discover '{"venv": "v", "python_version": "3.12"}'      any pyrt_new() config object
 *   discover --json [ARG]         the raw JSON report instead of the table
 *
 * Exit status: 0 when a libpython was found, 1 when not (the error lists every candidate),
 * 2 for a usage error.
 *
 * Build (from the repository root, after `cargo build --release`):
 *   cc -std=c99 -Wall -Wextra -Werror -Iinclude examples/c/discover.c -Ltarget/release -lpyrt \
 *      -Wl,-rpath,$PWD/target/release -o discover
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pyrt.h"

/* Appends `s` as a JSON string literal to `out` (capacity `cap`); 0 if it did not fit. */
static int json_string(char *out, size_t cap, const char *s) {
    size_t n = strlen(out);
    if (n + 1 >= cap) return 0;
    out[n++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8] = {0};
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
        } else {
            esc[0] = (char)c;
        }
        size_t len = strlen(esc);
        if (n + len + 2 >= cap) return 0;
        memcpy(out + n, esc, len);
        n += len;
    }
    out[n++] = '"';
    out[n] = '\0';
    return 1;
}

/* Turns a command-line argument into a config object. */
static int make_config(const char *arg, char *out, size_t cap) {
    struct stat st;
    const char *key;
    if (arg[0] == '{') {
        if (strlen(arg) >= cap) return 0;
        strcpy(out, arg);
        return 1;
    }
    if (arg[0] == '3' && arg[1] == '.' && strchr(arg, '/') == NULL) {
        key = "python_version";
    } else if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        key = "venv";
    } else {
        key = "libpython";
    }
    snprintf(out, cap, "{\"%s\": ", key);
    if (!json_string(out, cap, arg) || strlen(out) + 2 >= cap) return 0;
    strcat(out, "}");
    return 1;
}

/* A minimal reader for the report's flat shape: finds `"key":` at the current nesting level of
 * `obj` and copies its string value (unescaping \" and \\; \uXXXX kept verbatim). Returns 0 when
 * the key is absent or not a string (e.g. null). */
static const char *skip_value(const char *p);

static const char *skip_string(const char *p) { /* p at the opening quote */
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && p[1]) p++;
    return *p ? p + 1 : p;
}

static const char *skip_value(const char *p) {
    while (*p == ' ' || *p == '\n') p++;
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '"') {
                p = skip_string(p) - 1;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
        }
        return p;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']') p++;
    return p;
}

/* Finds the value of `key` in the object starting at `obj` (its '{'); NULL if absent. */
static const char *find_key(const char *obj, const char *key) {
    const char *p = obj + 1;
    size_t klen = strlen(key);
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\n') p++;
        if (*p != '"') return NULL;
        const char *name = p + 1;
        const char *end = skip_string(p);
        p = end;
        while (*p == ' ' || *p == ':') p++;
        if ((size_t)(end - 1 - name) == klen && strncmp(name, key, klen) == 0) return p;
        p = skip_value(p);
    }
    return NULL;
}

/* Prints the string (or literal) value at `v`, unescaped enough for display; a line break
 * inside it is followed by `indent`. */
static void print_indented(const char *v, const char *indent) {
    if (v == NULL) {
        fputs("-", stdout);
        return;
    }
    if (*v != '"') {
        const char *end = skip_value(v);
        fwrite(v, 1, (size_t)(end - v), stdout);
        return;
    }
    for (v++; *v && *v != '"'; v++) {
        if (*v == '\\' && v[1]) {
            v++;
            if (*v == 'n') {
                putchar('\n');
                fputs(indent, stdout);
            } else {
                putchar(*v == 't' ? '\t' : *v);
            }
        } else {
            putchar(*v);
        }
    }
}

static void print_value(const char *v) { print_indented(v, ""); }

static void field(const char *label, const char *obj, const char *key) {
    printf("%-11s ", label);
    const char *v = find_key(obj, key);
    if (v && strncmp(v, "null", 4) == 0) v = NULL;
    print_value(v);
    putchar('\n');
}

static void print_report(const char *json) {
    field("libpython:", json, "libpython");
    field("version:", json, "version");
    field("executable:", json, "executable");
    field("venv:", json, "venv");
    printf("candidates:\n");
    const char *list = find_key(json, "candidates");
    if (list == NULL || *list != '[') return;
    const char *p = list + 1;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\n') p++;
        if (*p != '{') break;
        const char *accepted = find_key(p, "accepted");
        printf("  %s ", accepted && strncmp(accepted, "true", 4) == 0 ? "[taken]   " : "[rejected]");
        print_value(find_key(p, "source"));
        fputs(": ", stdout);
        const char *path = find_key(p, "path");
        if (path && strncmp(path, "\"\"", 2) == 0) path = NULL;
        print_value(path);
        fputs("\n               ", stdout);
        print_indented(find_key(p, "reason"), "               ");
        putchar('\n');
        p = skip_value(p);
    }
}

int main(int argc, char **argv) {
    int raw = 0;
    int i = 1;
    if (i < argc && strcmp(argv[i], "--json") == 0) {
        raw = 1;
        i++;
    }
    if (argc - i > 1 || (i < argc && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0))) {
        fprintf(stderr, "usage: %s [--json] [3.X | VENV_DIR | LIBPYTHON | CONFIG_JSON]\n", argv[0]);
        return 2;
    }
    char config[8192];
    const char *cfg = NULL;
    if (i < argc) {
        if (!make_config(argv[i], config, sizeof config)) {
            fprintf(stderr, "argument too long\n");
            return 2;
        }
        cfg = config;
    }

    char *report = NULL;
    pyrt_error *err = NULL;
    int32_t rc = pyrt_discover_json(cfg, &report, &err);
    if (rc != PYRT_OK) {
        fprintf(stderr, "%s: %s\n", pyrt_status_name(rc), err ? pyrt_error_message(err) : "(no details)");
        pyrt_error_free(err);
        return 1;
    }
    if (raw) {
        printf("%s\n", report);
    } else {
        if (cfg) printf("config:     %s\n", cfg);
        print_report(report);
    }
    pyrt_string_free(report);
    return 0;
}
