/*
 * header_cxx.cpp — include/pyrt.h compiles as C++11 with -Wall -Wextra -Werror, its functions
 * have C linkage (this links against libpyrt.so without name mangling), and it can be used with
 * ordinary C++ ownership wrappers.
 */
#include "pyrt.h"
#include "pyrt.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

struct ErrorDeleter {
    void operator()(pyrt_error *e) const { pyrt_error_free(e); }
};
struct StringDeleter {
    void operator()(char *s) const { pyrt_string_free(s); }
};
using ErrorPtr = std::unique_ptr<pyrt_error, ErrorDeleter>;
using StringPtr = std::unique_ptr<char, StringDeleter>;

int passed = 0, failed = 0;

void check(bool ok, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        std::printf("  FAIL %s\n", what);
    }
}

}  // namespace

int main() {
    const char *v = pyrt_version();
    check(v != nullptr && std::strlen(v) > 0, "pyrt_version");
    check(std::string(pyrt_status_name(PYRT_ERR_PYTHON)) == "PYRT_ERR_PYTHON", "pyrt_status_name");
    check(pyrt_error_code(nullptr) == PYRT_ERR_INVALID_ARGUMENT, "pyrt_error_code(NULL)");

    // A config error needs no libpython: exercises the error object from C++.
    pyrt_runtime *rt = nullptr;
    pyrt_error *raw = nullptr;
    int32_t rc = pyrt_new("{\"no_such_key\": true}", &rt, &raw);
    ErrorPtr err(raw);
    check(rc == PYRT_ERR_CONFIG, "pyrt_new with an unknown key is PYRT_ERR_CONFIG");
    check(err && pyrt_error_code(err.get()) == PYRT_ERR_CONFIG, "error object code");
    check(err && pyrt_error_message(err.get()) != nullptr, "error message");
    check(rt == nullptr, "rt_out untouched on failure");
    StringPtr none(nullptr);  // pyrt_string_free(NULL) is a no-op

    std::printf("header_cxx: pyrt %s\n", v ? v : "(null)");
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
