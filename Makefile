# pyrt — build, demo and test entry points.
#
#   make build    cargo build --release (target/release/libpyrt.so) + the C examples
#   make demo     build, then run the C examples (pyrt discovers the python3 on PATH) and the
#                 Go examples (examples/go) when present
#   make test     the whole suite: scripts/test.sh (Rust, C under valgrind, Go; every CPython)
#   make header   regenerate include/pyrt.h (PYRT_UPDATE_HEADER=1 cargo build --release)
#   make c-tests  only compile the C tests (build/c/tests/)
#   make clean    remove build/ (cargo's target/ is left alone; `cargo clean` for that)

SHELL := /bin/bash
# rustup's cargo and Go's toolchain may be installed but not on a non-login shell's PATH.
export PATH := $(HOME)/.cargo/bin:/usr/local/go/bin:$(PATH)

CC  ?= cc
CXX ?= c++
CARGO ?= cargo

LIBDIR := target/release
LIB    := $(LIBDIR)/libpyrt.so
BUILD  := build/c
HEADER := include/pyrt.h

C_STD_FLAGS   := -std=c99 -Wall -Wextra -Werror -pthread
CXX_STD_FLAGS := -std=c++11 -Wall -Wextra -Werror
DEBUG_FLAGS   := -g -O1
LINK_PYRT     := -L$(LIBDIR) -lpyrt -Wl,-rpath,$(abspath $(LIBDIR))
EXAMPLES_DIR  := $(abspath examples/c)

C_TESTS     := test_api test_big test_leak test_threads test_lifecycle test_badlib test_venv test_signals test_host test_buffer header_c
TEST_BINS   := $(addprefix $(BUILD)/tests/,$(C_TESTS) header_cxx)
# every examples/c/*.c is built; `demo` and the tests run basic and threads
EXAMPLES    := $(basename $(notdir $(wildcard examples/c/*.c)))
EXAMPLE_BINS := $(addprefix $(BUILD)/examples/,$(EXAMPLES))
TEST_HEADERS := tests/c/check.h tests/c/testutil.h

.PHONY: all build lib c-examples c-tests demo test header clean

all: build

build: lib c-examples

lib:
	$(CARGO) build --release

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

demo: build
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
	  cd examples/go && go run ./basic && go run ./concurrent && go run ./callbacks; \
	fi

test:
	scripts/test.sh

header:
	PYRT_UPDATE_HEADER=1 $(CARGO) build --release

clean:
	rm -rf $(BUILD)
