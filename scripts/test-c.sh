#!/usr/bin/env bash
# Build pyrt's C tests and examples and run every one against every CPython on this machine.
#
#   scripts/test-c.sh                 all libpythons from scripts/pythons.sh
#   scripts/test-c.sh 3.12-pyenv ...  only these labels (PYRT_TEST_PYTHONS="..." does the same)
#
# For each "<label> <libpython>" line of scripts/pythons.sh, every test program runs in its own
# process with PYRT_LIBPYTHON=<libpython>, under
#     valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
#              --suppressions=valgrind/python.supp --suppressions=valgrind/glibc-dl.supp
# (python.supp only hides CPython's own pymalloc false positives, glibc-dl.supp ld.so's rpath
# scan when NumPy is loaded; see the files). A test passes
# when it exits 0 and its last line is "N passed, 0 failed"; valgrind turns any memory error or
# definite leak into exit code 99 = FAIL.
#
# What runs natively instead of under valgrind, and why:
#   test_signals      its scenarios run in forked children that end by a signal or _exit with
#                     Python still running, which memcheck reports as leaks by design.
#   test_venv, example_venv  spawn and forkserver multiprocessing start fresh interpreters (and
#                     numpy's OpenBLAS threads): minutes under valgrind for no pyrt code path
#                     that test_api does not already cover under valgrind.
#   test_badlib       11 forked children, each starting an interpreter: 90 s per version under
#                     valgrind for the refusal paths, which ASan checks (scripts/test-sanitizers.sh).
#   test_leak/native  20,000 calls per API: ~40x too slow under valgrind (minutes per version).
#                     The same program also runs under valgrind with 300 calls per API
#                     (test_leak/valgrind), which is what catches leaks of pyrt's own memory.
# Everything else, including test_big (100 MB strings, 100,000-deep JSON), runs under valgrind
# on the versions in PYRT_VALGRIND_PYTHONS.
#
# Fault tests (test_faults) run each case in a child process and check its exit status; they run
# natively here on every version (valgrind would take minutes per version for 11 interpreter
# start-ups) and with ASan below. test_soak/quick is the soak test with 2,000 calls per thread
# (scripts/soak.sh runs the full one).
#
# PYRT_C_FLAVOR=asan (scripts/test-sanitizers.sh): the same tests and examples built with
# AddressSanitizer + UndefinedBehaviorSanitizer (make asan-tests, build/asan/), all run natively
# under ASan with LeakSanitizer at exit, and CPython's own known leaks suppressed by
# sanitizers/lsan-python.supp (see the file). test_leak runs with 300 calls per API (its RSS
# check needs 5,000, and ASan's quarantine holds freed memory), test_soak with 2,000 per thread;
# test_venv and example_venv are left out (numpy/multiprocessing start-up, no other pyrt code).
# Results and logs go to build/asan/ instead of build/c/.
#
# Output: a matrix test x version -> PASS / FAIL / MISSING (an expected version that is not
# installed, see scripts/pythons.sh --expected), then "N passed, N failed" counting cells
# (MISSING counts as failed). Exit status non-zero on any FAIL or MISSING.
# Logs: build/c/logs/<label>/<test>.log. Results for scripts/test.sh: build/c/results.tsv.
#
# Valgrind runs on the oldest CPython, the two newest (3.14 and the free-threaded 3.13t) and
# Debian's (PYRT_VALGRIND_PYTHONS, default "3.8-pyenv 3.14-pyrt 3.13t-pyrt 3.11-debian"); the other
# versions run the same programs natively, and scripts/test-sanitizers.sh checks 3.12, 3.14 and
# 3.13t under ASan. Memcheck costs ~5 minutes of CPU per version; the test command must stay
# within 45 minutes on 2 cores (scripts/test.sh explains the choice).
# On 3.13t CPython allocates objects with mimalloc (free-threaded builds have no other object
# allocator: PYTHONMALLOC=malloc is refused), which memcheck sees as mmap'd memory, not heap
# blocks: every malloc, pyrt's own included, is still checked, and the leak scan reads mimalloc's
# pages. One 3.13t leak is CPython's own and suppressed (valgrind/python.supp, last entry): the
# freelist of a thread state still alive at finalization, which python3.13t with a daemon thread
# alive at exit shows too.
#
# Environment:
#   PYRT_VALGRIND=0    run everything natively (quick local check; CI never sets it)
#   PYRT_VALGRIND_PYTHONS="a b"  the labels run under valgrind ("all": every version)
#   PYRT_TEST_JOBS=N   versions tested in parallel (default 2, the machine has 2 cores)
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

if (($#)); then export PYRT_TEST_PYTHONS="$*"; fi
VALGRIND=${PYRT_VALGRIND:-1}
VALGRIND_PYTHONS=${PYRT_VALGRIND_PYTHONS:-3.8-pyenv 3.14-pyrt 3.13t-pyrt 3.11-debian}
JOBS=${PYRT_TEST_JOBS:-2}
FLAVOR=${PYRT_C_FLAVOR:-c}
case $FLAVOR in
  c) MAKE_TARGETS=(c-tests c-examples) ;;
  asan)
    MAKE_TARGETS=(asan-tests)
    VALGRIND=0
    # exit 98 on any ASan/UBSan/LSan report; huge allocations fail (MemoryError) instead of aborting
    export ASAN_OPTIONS="exitcode=98:detect_leaks=1:allocator_may_return_null=1:abort_on_error=0:fast_unwind_on_malloc=0:malloc_context_size=100"
    export LSAN_OPTIONS="exitcode=98:suppressions=$ROOT/sanitizers/lsan-python.supp:print_suppressions=0"
    export UBSAN_OPTIONS="exitcode=98:print_stacktrace=1:halt_on_error=1"
    ;;
  *) echo "PYRT_C_FLAVOR must be c or asan"; exit 2 ;;
esac
LOGS=$ROOT/build/$FLAVOR/logs
RESULTS=$ROOT/build/$FLAVOR/results.tsv
TIMEOUT=900

echo "== building libpyrt.so, the C tests and the C examples ($FLAVOR)"
if ! make --no-print-directory "${MAKE_TARGETS[@]}"; then
  echo "BUILD FAILED"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== virtualenvs (scripts/make-venvs.sh: numpy + jinja2 from PyPI, built once)"
declare -A VENVS
mkdir -p "$ROOT/build/$FLAVOR"
venv_out=$(scripts/make-venvs.sh 2>"$ROOT/build/$FLAVOR/make-venvs.log") || { tail -20 "$ROOT/build/$FLAVOR/make-venvs.log"; echo "scripts/make-venvs.sh failed"; }
while read -r vlabel vdir; do [[ -n $vlabel ]] && VENVS[$vlabel]=$vdir; done <<<"$venv_out"

mapfile -t PYTHONS < <(scripts/pythons.sh)
mapfile -t MISSING < <(scripts/pythons.sh --missing)
export PYRT_TEST_UNSUPPORTED_LIBS
PYRT_TEST_UNSUPPORTED_LIBS=$(scripts/pythons.sh --unsupported)

# name | how it runs | extra environment
TESTS=(
  "header_c|valgrind|"
  "header_cxx|valgrind|"
  "test_api|valgrind|"
  "test_threads|valgrind|"
  "test_lifecycle|valgrind|"
  "test_host|valgrind|"
  "test_buffer|valgrind|"
  "test_iter|valgrind|"
  "test_async|valgrind|"
  "test_stats|valgrind|"
  "test_badlib|native|"
  "test_big|valgrind|"
  "test_mutation|valgrind-reads|PYTHONMALLOC=malloc"
  "test_leak/valgrind|valgrind|PYRT_TEST_ITERATIONS=300"
  "test_leak/native|native|PYRT_TEST_ITERATIONS=20000"
  "test_venv|native|"
  "test_signals|native|"
  "test_faults|native|"
  "test_soak/quick|native|PYRT_SOAK_CALLS=2000"
  "example_basic|valgrind|"
  "example_threads|valgrind|"
  "example_venv|native|"
  "example_callbacks|valgrind|"
)
if [[ $FLAVOR == asan ]]; then
  # test_leak/native: 20,000 calls per API, and its RSS check cannot judge ASan's quarantine;
  # test_venv, example_venv: numpy and multiprocessing start-up in uninstrumented children,
  # through the same pyrt calls test_api makes (they run natively and under valgrind above).
  # test_mutation: it needs PYTHONMALLOC=malloc, under which LeakSanitizer reports CPython's own
  # finalization leftovers; its reads are checked under valgrind (libpyrt is not instrumented here).
  mapfile -t TESTS < <(printf '%s\n' "${TESTS[@]}" | grep -vE '^(test_leak/native|test_venv|example_venv|test_mutation)\|')
fi

VG=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --suppressions="$ROOT/valgrind/python.supp" --suppressions="$ROOT/valgrind/glibc-dl.supp"
    --num-callers=30 --trace-children=no)

# The other libpython for the conflict test: the next line of the list (a different file).
other_lib() {
  local me=$1 i n=${#PYTHONS[@]} all
  mapfile -t all < <(PYRT_TEST_PYTHONS="" scripts/pythons.sh)
  n=${#all[@]}
  for ((i = 0; i < n; i++)); do
    if [[ ${all[i]#* } == "$me" ]]; then
      local j
      for ((j = 1; j < n; j++)); do
        local cand=${all[(i + j) % n]#* }
        if [[ $(readlink -f "$cand") != $(readlink -f "$me") ]]; then echo "$cand"; return; fi
      done
    fi
  done
}

run_one() {  # label lib test mode env -> writes "<label>\t<test>\t<PASS|FAIL>\t<detail>"
  local label=$1 lib=$2 test=$3 mode=$4 extra=$5
  local log="$LOGS/$label/${test//\//_}.log" bin args=() cmd=()
  local venv=${VENVS[$label]:-}
  case $test in
    example_venv) bin=$ROOT/build/$FLAVOR/examples/venv; args=("$venv" "$lib") ;;
    example_callbacks) bin=$ROOT/build/$FLAVOR/examples/callbacks; args=("$lib" "$venv") ;;
    example_*) bin=$ROOT/build/$FLAVOR/examples/${test#example_}; args=("$lib") ;;
    *) bin=$ROOT/build/$FLAVOR/tests/${test%%/*} ;;
  esac
  if [[ $mode == valgrind* && $VALGRIND == 1 ]] &&
    [[ $VALGRIND_PYTHONS == all || " $VALGRIND_PYTHONS " == *" $label "* ]]; then
    cmd=("${VG[@]}" "$bin" "${args[@]}")
    # valgrind-reads: reads and writes of freed or unallocated memory only. With
    # PYTHONMALLOC=malloc (so that a freed Python object is a freed heap block memcheck can see)
    # CPython's own objects left at finalization show as leaks, and some builds (Debian's 3.11)
    # compute with bytes memcheck thinks undefined, which pymalloc hid; leaks and definedness are
    # checked by the other tests.
    if [[ $mode == valgrind-reads ]]; then
      cmd=("${cmd[@]/--leak-check=full/--leak-check=no}")
      cmd=("${cmd[0]}" --undef-value-errors=no "${cmd[@]:1}")
    fi
  else cmd=("$bin" "${args[@]}"); fi
  local start=$SECONDS rc
  # shellcheck disable=SC2086
  env PYRT_LIBPYTHON="$lib" PYRT_TEST_OTHER_LIBPYTHON="$(other_lib "$lib")" \
    PYRT_TEST_VENV="$venv" PYRT_TEST_REQUIRE_VENV=1 $extra \
    timeout "$TIMEOUT" "${cmd[@]}" >"$log" 2>&1
  rc=$?
  local secs=$((SECONDS - start)) status=PASS detail=""
  local last
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if ((rc == 99)); then status=FAIL; detail="valgrind errors"
  elif ((rc == 98)); then status=FAIL; detail="sanitizer errors (ASan/UBSan/LSan)"
  elif ((rc == 124)); then status=FAIL; detail="timeout ${TIMEOUT}s"
  elif ((rc > 128)); then status=FAIL; detail="killed by signal $((rc - 128))"
  elif ((rc != 0)); then status=FAIL; detail="exit $rc${last:+, $last}"
  elif [[ $test != example_* && ! $last =~ \ 0\ failed$ ]]; then status=FAIL; detail="no summary line"
  elif [[ $FLAVOR == asan ]] && grep -qE '^(==[0-9]+==ERROR: |SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer)|runtime error: ' "$log"; then
    status=FAIL; detail="sanitizer report in the log"
  fi
  [[ $status == PASS && -n $last ]] && detail=$last
  printf '  %-11s %-20s %-5s %4ss  %s\n' "$label" "$test" "$status" "$secs" "$detail"
  printf '%s\t%s\t%s\t%s\n' "$label" "$test" "$status" "$detail" >>"$LOGS/$label/results.tsv"
}

run_version() {  # label lib
  local label=$1 lib=$2 t name mode extra
  mkdir -p "$LOGS/$label"
  : >"$LOGS/$label/results.tsv"
  for t in "${TESTS[@]}"; do
    IFS='|' read -r name mode extra <<<"$t"
    run_one "$label" "$lib" "$name" "$mode" "$extra"
  done
}

rm -rf "$LOGS"
mkdir -p "$LOGS"
echo "== running the C tests ($FLAVOR): ${#PYTHONS[@]} libpython(s), $JOBS in parallel$([[ $VALGRIND == 1 ]] && echo ", valgrind on: $VALGRIND_PYTHONS" || echo ', WITHOUT valgrind')"
for line in "${PYTHONS[@]}"; do
  label=${line%% *}
  lib=${line#* }
  run_version "$label" "$lib" &
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
done
wait

# ---- matrix
LABELS=()
for line in "${PYTHONS[@]}"; do LABELS+=("${line%% *}"); done
for m in "${MISSING[@]}"; do [[ -n $m ]] && LABELS+=("$m"); done
cat "$LOGS"/*/results.tsv >"$RESULTS" 2>/dev/null || : >"$RESULTS"

passed=0
failed=0
echo
echo "== C tests ($FLAVOR): test x version"
printf '%-20s' "test"
for l in "${LABELS[@]}"; do printf ' %-12s' "$l"; done
echo
for t in "${TESTS[@]}"; do
  name=${t%%|*}
  printf '%-20s' "$name"
  for l in "${LABELS[@]}"; do
    cell=$(awk -F'\t' -v l="$l" -v t="$name" '$1 == l && $2 == t { print $3 }' "$RESULTS")
    [[ -n $cell ]] || cell=MISSING
    case $cell in PASS) ((passed++)) ;; *) ((failed++)) ;; esac
    printf ' %-12s' "$cell"
  done
  echo
done
for m in "${MISSING[@]}"; do
  [[ -n $m ]] && echo "MISSING: expected CPython $m is not installed (see scripts/pythons.sh)"
  for t in "${TESTS[@]}"; do [[ -n $m ]] && printf '%s\t%s\tMISSING\t\n' "$m" "${t%%|*}" >>"$RESULTS"; done
done
if ((failed > 0)); then
  echo
  echo "Failures (logs in build/$FLAVOR/logs/<version>/<test>.log):"
  awk -F'\t' '$3 == "FAIL" { printf "  %s %s: %s\n", $1, $2, $4 }' "$RESULTS"
  # the first failing checks of each failing test
  awk -F'\t' '$3 == "FAIL" { print $1 "\t" $2 }' "$RESULTS" | while IFS=$'\t' read -r l t; do
    f="$LOGS/$l/${t//\//_}.log"
    grep -A1 -E '^  FAIL |^==[0-9]+== (Invalid|Conditional|Use of|Mismatched|Syscall|Source and dest)|definitely lost in|^==[0-9]+==ERROR: |runtime error: |^(Direct|Indirect) leak' "$f" 2>/dev/null |
      head -6 | sed "s|^|    [$l $t] |"
  done
fi
echo "$passed passed, $failed failed"
((failed == 0))
