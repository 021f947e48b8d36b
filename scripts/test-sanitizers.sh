#!/usr/bin/env bash
# The C tests, fault tests, soak test (2,000 calls per thread) and C examples built with
# AddressSanitizer + UndefinedBehaviorSanitizer (gcc; `make asan-tests`), run with
# LeakSanitizer at exit, on the CPython versions whose finalization LeakSanitizer can judge.
#
#   scripts/test-sanitizers.sh                  3.12-pyenv, 3.14-pyrt, 3.13t-pyrt (PYRT_SAN_PYTHONS)
#   scripts/test-sanitizers.sh 3.13-pyenv       only these labels
#
# This is scripts/test-c.sh with PYRT_C_FLAVOR=asan: same matrix, same PASS/FAIL/MISSING rules,
# results in build/asan/results.tsv, logs in build/asan/logs/<label>/<test>.log. A sanitizer
# report makes a test exit 98 (FAIL "sanitizer errors"). CPython's own leaks are suppressed by
# sanitizers/lsan-python.supp, which names only CPython functions (see the file).
#
# Why these: CPython 3.8-3.11 leave 13-350 KB of their own objects unfreed at finalization, which
# would need suppressions broad enough to hide pyrt's leaks; those versions are checked by
# valgrind in scripts/test-c.sh instead. Of 3.12 and later, 3.12, 3.14 and the free-threaded 3.13t
# (3.13's own code, without a GIL) within the time budget; scripts/test.sh explains the choice.
set -uo pipefail
cd "$(dirname "$0")/.."
if (($#)); then PYRT_SAN_PYTHONS="$*"; fi
export PYRT_C_FLAVOR=asan
export PYRT_TEST_PYTHONS=${PYRT_SAN_PYTHONS:-3.12-pyenv 3.14-pyrt 3.13t-pyrt}
exec scripts/test-c.sh
