# pyrt — build, demo and test entry points.
#
#   make build    cargo build --release (target/release/libpyrt.so) + the C examples
#   make demo     build, then run the C, Go, Rust and Node examples (pyrt discovers the python3
#                 on PATH)
#   make test     the whole suite: scripts/test.sh (Rust, C under valgrind, Go, Node; every
#                 CPython, with 3.14 and 3.13t installed first by scripts/install-pythons.sh;
#                 each host's install path; the README's quick starts as written)
#   make header   regenerate include/pyrt.h (PYRT_UPDATE_HEADER=1 cargo build --release)
#   make install  install libpyrt.so (versioned soname), pyrt.h and pyrt.pc under PREFIX
#                 (default /usr/local; also LIBDIR, INCLUDEDIR, PKGCONFIGDIR, DESTDIR);
#                 `make install-strip` also strips debug info; `make uninstall` removes them
#   make go-embed rebuild the stripped, gzipped libpyrt copies embedded in the Go module
#                 (bindings/go/lib/, embed_linux_*.go) from the current sources; commit them
#   make c-tests  only compile the C tests (build/c/tests/)
#   make cpython-tests  CPython's own tests inside pyrt (C and Go hosts) vs standalone, every
#                 module and CPython: scripts/cpython-tests.sh --full (long); `make test` runs
#                 a bounded subset
#   make bench    the benchmark suite (scripts/bench.sh): pyrt from C, Go purego and Go cgo beside
#                 LIMIT, SUBPROCESS, MEMCPY and `python -c pass`, on every CPython; one table of
#                 medians and same-run ratios on stdout and in build/bench/results.{md,tsv}.
#                 `scripts/bench.sh 3.12-pyenv` for one version
#   make bench-quick  every benchmark once, briefly, on the newest CPython (no figure is
#                 meaningful; proves they still run; < 1 minute)
#   make bench-main-thread  per-call latency of {"main_thread": true} vs the caller's thread
#   make asan-tests  the C tests and examples with AddressSanitizer + UBSan (build/asan/)
#   make fuzz     long fuzzing run (scripts/fuzz.sh --long; `make test` runs a bounded one)
#   make soak     the full soak (scripts/soak.sh: 8 C threads and 64 goroutines x 200,000 calls)
#   make clean    remove build/ (cargo's target/ is left alone; `cargo clean` for that)

SHELL := /bin/bash
# rustup's cargo and Go's toolchain may be installed but not on a non-login shell's PATH.
export PATH := $(HOME)/.cargo/bin:/usr/local/go/bin:$(PATH)

CC  ?= cc
CXX ?= c++
CARGO ?= cargo

BUILD_LIBDIR := target/release
LIB    := $(BUILD_LIBDIR)/libpyrt.so
BUILD  := build/c
HEADER := include/pyrt.h

C_STD_FLAGS   := -std=c99 -Wall -Wextra -Werror -pthread
CXX_STD_FLAGS := -std=c++11 -Wall -Wextra -Werror
DEBUG_FLAGS   := -g -O1
LINK_PYRT     := -L$(BUILD_LIBDIR) -lpyrt -Wl,-rpath,$(abspath $(BUILD_LIBDIR))
EXAMPLES_DIR  := $(abspath examples/c)

C_TESTS     := test_api test_big test_leak test_threads test_lifecycle test_badlib test_venv test_signals test_host test_buffer test_iter test_async header_c \
               test_faults test_soak test_mutation test_stats
TEST_BINS   := $(addprefix $(BUILD)/tests/,$(C_TESTS) header_cxx)
# every examples/c/*.c is built; `demo` and the tests run basic and threads
EXAMPLES    := $(basename $(notdir $(wildcard examples/c/*.c)))
EXAMPLE_BINS := $(addprefix $(BUILD)/examples/,$(EXAMPLES))
TEST_HEADERS := tests/c/check.h tests/c/testutil.h

# The same programs built with AddressSanitizer + UndefinedBehaviorSanitizer (gcc), for
# scripts/test-c.sh with PYRT_C_FLAVOR=asan. libpyrt.so itself is the ordinary release build:
# ASan intercepts every malloc/free in the process (pyrt's Rust allocations included), and the
# fuzz targets run pyrt's own code fully instrumented.
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN        := build/asan
ASAN_BINS   := $(addprefix $(ASAN)/tests/,$(C_TESTS) header_cxx) $(addprefix $(ASAN)/examples/,$(EXAMPLES))

# ---- install (C and anything using pkg-config)
VERSION      := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
VERSION_MINOR := $(word 2,$(subst ., ,$(VERSION)))
# Must match build.rs: libpyrt.so.0.<minor> while the major version is 0, else libpyrt.so.<major>.
SONAME       := $(if $(filter 0,$(VERSION_MAJOR)),libpyrt.so.0.$(VERSION_MINOR),libpyrt.so.$(VERSION_MAJOR))
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=
INSTALL      ?= install

# Printed before the build, which a first run makes from scratch (cargo, the C examples, then Go's
# and npm's dependencies).
demo-hint:
	@test -f $(LIB) || echo "make demo: the first run builds libpyrt and the examples (about two minutes on 2 cores)"

.PHONY: demo-hint bench bench-quick bench-c all build lib c-examples c-tests asan-tests demo test header clean fuzz soak cpython-tests bench-main-thread \
        install install-strip uninstall go-embed

all: build

build: lib c-examples

lib:
	$(CARGO) build --release
	@# build.rs creates this link when it runs; recreate it should it have been removed since
	@ln -sfn libpyrt.so $(BUILD_LIBDIR)/$(SONAME)

c-examples: lib $(EXAMPLE_BINS)

c-tests: lib $(TEST_BINS)

$(BUILD)/examples/%: examples/c/%.c $(HEADER) | $(BUILD)/examples
	$(CC) $(C_STD_FLAGS) $(DEBUG_FLAGS) -Iinclude -DPYRT_EXAMPLES_DIR='"$(EXAMPLES_DIR)"' $< -o $@ $(LINK_PYRT)

$(BUILD)/tests/header_cxx: tests/c/header_cxx.cpp $(HEADER) | $(BUILD)/tests
	$(CXX) $(CXX_STD_FLAGS) $(DEBUG_FLAGS) -Iinclude $< -o $@ $(LINK_PYRT)

$(BUILD)/tests/%: tests/c/%.c $(TEST_HEADERS) $(HEADER) | $(BUILD)/tests
	$(CC) $(C_STD_FLAGS) $(DEBUG_FLAGS) -Iinclude $< -o $@ $(LINK_PYRT)

$(BUILD)/examples $(BUILD)/tests:
	mkdir -p $@

asan-tests: lib $(ASAN_BINS)

$(ASAN)/examples/%: examples/c/%.c $(HEADER) | $(ASAN)/examples
	$(CC) $(C_STD_FLAGS) $(DEBUG_FLAGS) $(SAN_FLAGS) -Iinclude -DPYRT_EXAMPLES_DIR='"$(EXAMPLES_DIR)"' $< -o $@ $(LINK_PYRT)

$(ASAN)/tests/header_cxx: tests/c/header_cxx.cpp $(HEADER) | $(ASAN)/tests
	$(CXX) $(CXX_STD_FLAGS) $(DEBUG_FLAGS) $(SAN_FLAGS) -Iinclude $< -o $@ $(LINK_PYRT)

$(ASAN)/tests/%: tests/c/%.c $(TEST_HEADERS) $(HEADER) | $(ASAN)/tests
	$(CC) $(C_STD_FLAGS) $(DEBUG_FLAGS) $(SAN_FLAGS) -Iinclude $< -o $@ $(LINK_PYRT)

$(ASAN)/examples $(ASAN)/tests:
	mkdir -p $@

fuzz:
	scripts/fuzz.sh --long

soak:
	scripts/soak.sh

demo: demo-hint build
	@echo "== examples/c/basic (pyrt discovers libpython: the python3 on PATH)"
	env -u PYRT_LIBPYTHON $(BUILD)/examples/basic
	@echo
	@echo "== examples/c/threads"
	env -u PYRT_LIBPYTHON $(BUILD)/examples/threads
	@echo
	@echo "== examples/c/callbacks"
	env -u PYRT_LIBPYTHON $(BUILD)/examples/callbacks
	@if [ -d examples/go ]; then \
	  echo; echo "== examples/go"; \
	  cd examples/go && go run ./basic && go run ./concurrent && go run ./callbacks && go run ./typed; \
	fi
	@echo; echo "== examples/rust"
	env -u PYRT_LIBPYTHON $(CARGO) run --release -q -p pyrt-example
	@if command -v npm >/dev/null 2>&1; then \
	  echo; echo "== examples/node"; \
	  (cd bindings/node && npm ci --ignore-scripts --no-audit --no-fund --silent) && \
	  env -u PYRT_LIBPYTHON node examples/node/basic.js; \
	fi

test:
	scripts/test.sh

header:
	PYRT_UPDATE_HEADER=1 $(CARGO) build --release

cpython-tests:
	scripts/cpython-tests.sh --full

$(BUILD)/bench/main_thread: bench/c/main_thread.c $(HEADER) lib | $(BUILD)/bench
	$(CC) $(C_STD_FLAGS) -O2 -Iinclude $< -o $@ $(LINK_PYRT)

$(BUILD)/bench:
	mkdir -p $@

# bench/c/bench.c uses POSIX/GNU extras (asprintf, posix_spawn, pthread barriers): gnu11
$(BUILD)/bench/bench: bench/c/bench.c $(HEADER) lib | $(BUILD)/bench
	$(CC) -std=gnu11 -Wall -Wextra -Werror -pthread -O2 -Iinclude $< -o $@ $(LINK_PYRT) -ldl

bench-c: $(BUILD)/bench/bench

bench:
	nice -n 5 scripts/bench.sh

bench-quick:
	scripts/bench.sh --quick

# 100,000 calls x 9 interleaved repetitions; PYRT_LIBPYTHON picks the CPython (default: discovery)
bench-main-thread: $(BUILD)/bench/main_thread
	nice -n 10 $(BUILD)/bench/main_thread 100000 9

# libpyrt.so.X.Y.Z (soname $(SONAME)) with the links $(SONAME) and libpyrt.so, the header, and
# pyrt.pc, so that `cc app.c $$(pkg-config --cflags --libs pyrt)` works. For a prefix outside the
# dynamic linker's path, run the program with LD_LIBRARY_PATH=$$LIBDIR or link it with
# -Wl,-rpath,$$LIBDIR.
install: lib
	@test "$$(readelf -d $(LIB) 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" = "$(SONAME)" || \
	  { echo "$(LIB) does not have the soname $(SONAME) (see build.rs)" >&2; exit 1; }
	$(INSTALL) -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)"
	$(INSTALL) -m 0755 $(LIB) "$(DESTDIR)$(LIBDIR)/libpyrt.so.$(VERSION)"
	ln -sfn libpyrt.so.$(VERSION) "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sfn $(SONAME) "$(DESTDIR)$(LIBDIR)/libpyrt.so"
	$(INSTALL) -m 0644 $(HEADER) "$(DESTDIR)$(INCLUDEDIR)/pyrt.h"
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' pyrt.pc.in >"$(DESTDIR)$(PKGCONFIGDIR)/pyrt.pc"
	@echo "installed libpyrt $(VERSION) (soname $(SONAME)) under $(DESTDIR)$(PREFIX)"
	@# The loader finds a new library in a system directory only after ldconfig refreshes its
	@# cache: run it when LIBDIR is one the loader searches (not for DESTDIR staging installs).
	@if [ -z "$(DESTDIR)" ]; then \
	  libdir=$$(cd "$(LIBDIR)" && pwd -P); \
	  if ldconfig -v -N -X 2>/dev/null | grep -q "^$$libdir:"; then \
	    if ldconfig 2>/dev/null; then echo "ran ldconfig: $$libdir is on the loader's search path"; \
	    else echo "note: $$libdir is on the loader's search path: run ldconfig as root to refresh its cache"; fi; \
	  else echo "note: $$libdir is not on the loader's search path: link with -Wl,-rpath,$$libdir, or set LD_LIBRARY_PATH"; fi; \
	fi

go-embed:
	scripts/go-embed.sh

install-strip: install
	strip --strip-debug "$(DESTDIR)$(LIBDIR)/libpyrt.so.$(VERSION)"

uninstall:
	rm -f "$(DESTDIR)$(LIBDIR)/libpyrt.so.$(VERSION)" "$(DESTDIR)$(LIBDIR)/$(SONAME)" \
	      "$(DESTDIR)$(LIBDIR)/libpyrt.so" "$(DESTDIR)$(INCLUDEDIR)/pyrt.h" "$(DESTDIR)$(PKGCONFIGDIR)/pyrt.pc"

clean:
	rm -rf $(BUILD)
