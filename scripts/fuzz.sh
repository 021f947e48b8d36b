#!/usr/bin/env bash
# Fuzz pyrt with cargo-fuzz (libFuzzer): the targets in fuzz/fuzz_targets/ (see fuzz/README.md).
#
#   scripts/fuzz.sh                  the bounded run of the test command: each target for
#                                    PYRT_FUZZ_SECONDS (default 30) with AddressSanitizer
#   scripts/fuzz.sh --long           the long run: each target for PYRT_FUZZ_SECONDS (default
#                                    1800) or PYRT_FUZZ_RUNS executions, whichever comes first
#   scripts/fuzz.sh [--long] capi    only these targets (json_roundtrip, capi, objects)
#
# Each target starts from the committed seeds (fuzz/seeds/<target>/) plus the corpus it grew
# before (build/fuzz/corpus/<target>/, not committed). A target passes when libFuzzer ends
# without a crash, a timeout (PYRT_FUZZ_TIMEOUT s per input, default 20), an out-of-memory
# (2 GB), an ASan/UBSan report, a panic, or a failed harness check; the reproducer is saved
# under build/fuzz/artifacts/<target>/ and the run prints how to replay it.
#
# One CPython per run (the interpreter starts once per fuzz process): PYRT_FUZZ_PYTHON names a
# label of scripts/pythons.sh (default 3.12-pyenv, else the first one found).
#
# Needs the nightly Rust toolchain (cargo-fuzz builds with -Zsanitizer) and cargo-fuzz; the
# script installs cargo-fuzz from crates.io when it is missing and fails — never passes
# silently — when nightly cannot be had.
#
# Environment:
#   PYRT_FUZZ_SECONDS    seconds per target
#   PYRT_FUZZ_RUNS       executions per target (long run default: 10,000,000; 0 = no limit)
#   PYRT_FUZZ_SANITIZER  address (default) or none (about 5x more executions per second; the
#                        harness checks and Rust's own checks still apply)
#   PYRT_FUZZ_JOBS       targets fuzzed at once (default 1)
#   PYRT_FUZZ_OUT        where corpus, artifacts, logs and results go (default build/fuzz)
#
# Output: one line per target (executions, exec/s, coverage, crashes), build/fuzz/results.tsv,
# and the closing line "N passed, N failed".
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

LONG=0
TARGETS=()
for a in "$@"; do
  case $a in
    --long) LONG=1 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) TARGETS+=("$a") ;;
  esac
done
((${#TARGETS[@]})) || TARGETS=(json_roundtrip capi objects)
if ((LONG)); then
  SECONDS_PER=${PYRT_FUZZ_SECONDS:-1800}
  RUNS=${PYRT_FUZZ_RUNS:-10000000}
else
  SECONDS_PER=${PYRT_FUZZ_SECONDS:-30}
  RUNS=${PYRT_FUZZ_RUNS:-0}
fi
SAN=${PYRT_FUZZ_SANITIZER:-address}
JOBS=${PYRT_FUZZ_JOBS:-1}
TIMEOUT=${PYRT_FUZZ_TIMEOUT:-20}
OUT=${PYRT_FUZZ_OUT:-$ROOT/build/fuzz}
RESULTS=$OUT/results.tsv
mkdir -p "$OUT/logs"
: >"$RESULTS"

fail_all() {
  echo "FAIL: $1"
  for t in "${TARGETS[@]}"; do printf '%s\tFAIL\t%s\n' "$t" "$1" >>"$RESULTS"; done
  echo "0 passed, ${#TARGETS[@]} failed"
  exit 1
}

# ---- toolchain
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "== the nightly Rust toolchain is missing; trying: rustup toolchain install nightly --profile minimal"
  rustup toolchain install nightly --profile minimal >"$OUT/logs/rustup.log" 2>&1 ||
    fail_all "no nightly Rust toolchain (cargo-fuzz needs it) and rustup could not install it; see $OUT/logs/rustup.log"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  nice -n 10 cargo install cargo-fuzz --locked >"$OUT/logs/cargo-install.log" 2>&1 ||
    fail_all "cargo install cargo-fuzz failed; see $OUT/logs/cargo-install.log"
fi
echo "== $(cargo +nightly --version), $(cargo fuzz --version)"

# ---- the libpython
WANT=${PYRT_FUZZ_PYTHON:-3.12-pyenv}
LIBPY=$(scripts/pythons.sh | awk -v w="$WANT" '$1 == w { print $2; exit }')
if [[ -z $LIBPY ]]; then
  read -r WANT LIBPY < <(scripts/pythons.sh | head -1)
fi
[[ -n ${LIBPY:-} ]] || fail_all "no CPython shared library found (scripts/pythons.sh)"
export PYRT_LIBPYTHON=$LIBPY
echo "== fuzzing against $WANT ($LIBPY), sanitizer: $SAN, $SECONDS_PER s per target$( ((RUNS > 0)) && echo " or $RUNS executions")"

# ---- build
echo "== building the fuzz targets (cargo +nightly fuzz build -s $SAN, fuzz/target/$SAN)"
BIN_DIR=$ROOT/fuzz/target/$SAN/x86_64-unknown-linux-gnu/release
build() {
  local t
  for t in "${TARGETS[@]}"; do
    (cd fuzz && nice -n 10 cargo +nightly fuzz build -s "$SAN" --target-dir "target/$SAN" "$t") || return 1
  done
}
if ! build >"$OUT/logs/build.log" 2>&1; then
  tail -30 "$OUT/logs/build.log"
  fail_all "the fuzz targets did not build (log: $OUT/logs/build.log)"
fi

# ---- run
run_target() {
  local t=$1 log="$OUT/logs/$t.log" corpus="$OUT/corpus/$t" art="$OUT/artifacts/$t/" start=$SECONDS rc
  mkdir -p "$corpus" "$art"
  local args=(-max_total_time="$SECONDS_PER" -timeout="$TIMEOUT" -rss_limit_mb=2048 -detect_leaks=0
              -print_final_stats=1 -artifact_prefix="$art")
  ((RUNS > 0)) && args+=(-runs="$RUNS")
  [[ $t == objects ]] && args+=(-max_len=1024)
  # Leaks are not checked in-process: CPython keeps objects in pymalloc arenas (mmap), which
  # LeakSanitizer does not scan, so a live interpreter's heap looks "leaked" (fuzz/README.md).
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:symbolize=1 UBSAN_OPTIONS=print_stacktrace=1 \
    nice -n 10 "$BIN_DIR/$t" "${args[@]}" "$corpus" "$ROOT/fuzz/seeds/$t" >"$log" 2>&1
  rc=$?
  local runs secs execs cov crashes status detail
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  [[ -n $runs ]] || runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
  runs=${runs:-0}
  secs=$((SECONDS - start))
  execs=$(grep -oE 'exec/s: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  cov=$(grep -oE 'cov: *[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  crashes=$(find "$art" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  status=PASS
  detail="$runs executions in ${secs}s (${execs:-?} exec/s), cov ${cov:-?}, $crashes crashes"
  if ((rc != 0 || crashes > 0)); then
    status=FAIL
    detail="$detail; exit $rc: $(grep -m1 -E 'panicked at|ERROR: (AddressSanitizer|libFuzzer)|runtime error:|SUMMARY' -A1 "$log" | tr '\n' ' ' | cut -c1-300)"
  fi
  printf '  %-15s %-5s %s\n' "$t" "$status" "$detail"
  if [[ $status == FAIL ]]; then
    local a
    for a in "$art"*; do
      [[ -f $a ]] && echo "    reproduce: PYRT_LIBPYTHON=$LIBPY $BIN_DIR/$t $a"
    done
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$status" "$runs" "$crashes" "$detail" >>"$RESULTS"
}

echo "== running ${#TARGETS[@]} target(s), $JOBS at a time (logs: $OUT/logs/)"
for t in "${TARGETS[@]}"; do
  [[ -x $BIN_DIR/$t ]] || { printf '%s\tFAIL\t0\t0\tno binary\n' "$t" >>"$RESULTS"; echo "  $t FAIL no binary"; continue; }
  run_target "$t" &
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
done
wait

passed=$(awk -F'\t' '$2 == "PASS"' "$RESULTS" | wc -l)
failed=$(awk -F'\t' '$2 != "PASS"' "$RESULTS" | wc -l)
echo "$passed passed, $failed failed"
((failed == 0))
