#!/usr/bin/env bash
# pyrt's whole test suite (what `make test` and CI run):
#
#   1. scripts/setup.sh           install missing tools (gcc g++ make valgrind pkg-config), and
#                                 CPython 3.14 and the free-threaded 3.13t
#                                 (scripts/install-pythons.sh; 3.13t is built from source once,
#                                 ~5 minutes; a failure is not fatal: that version is MISSING,
#                                 with the installer's reason under the summary)
#   2. cargo build --release      target/release/libpyrt.so; then scripts/lint.sh, the lint gate:
#                                 rustfmt, clippy -D warnings (Cargo.toml [lints]), gofmt, go vet
#                                 (Node's ESLint runs with the Node tests)
#   3. scripts/make-venvs.sh      a real venv per CPython (numpy + jinja2 from PyPI), built once
#   4. Rust tests per CPython     PYRT_LIBPYTHON=<libpython> PYRT_TEST_VENV=<its venv> cargo test
#                                 --release, for every line of scripts/pythons.sh (includes
#                                 `header_is_fresh`: the committed include/pyrt.h must equal a
#                                 fresh cbindgen generation)
#   5. scripts/test-c.sh          C tests + examples, every CPython; under valgrind on some (below)
#   6. scripts/test-go.sh         the Go binding, every CPython (when the script exists), a GC
#                                 stress run (GOGC=1, GODEBUG) on one, and the libpyrt copies
#                                 embedded in the Go module
#   7. scripts/test-node.sh       the Node.js binding (node --test), every CPython
#   8. scripts/cpython-tests.sh --quick   CPython's own tests (json, threading_local, thread,
#                                 signal) inside pyrt from a C and a Go host, compared test by
#                                 test with the standalone interpreter; FAIL on any embedded-only
#                                 failure not in tests/cpython/exclusions.txt
#   9. scripts/test-sanitizers.sh the C tests and examples under ASan + UBSan + LeakSanitizer,
#                                 on some versions (below; the others: "-" in the matrix)
#  10. scripts/test-install.sh    each host's install-and-use path, once: make install + pkg-config
#                                 (C), the examples/rust crate, a Go module outside the repository
#                                 (embedded libpyrt), the npm package
#  11. scripts/bench.sh --quick   every benchmark of `make bench` briefly, newest CPython: they
#                                 still build and run (figures printed, no timing asserted)
#  12. scripts/soak.sh --bounded  8 C threads x 50,000 and 64 goroutines x 2,000 mixed calls,
#                                 every result checked, RSS bounded; one CPython
#  13. scripts/fuzz.sh            each cargo-fuzz target for PYRT_FUZZ_SECONDS (default here 20)
#                                 with ASan; one CPython
#  14. a summary matrix component x version -> PASS / FAIL / MISSING, and the line
#      "N passed, N failed" counting its cells (MISSING counts as failed)
#
# Every CPython runs every suite; the heavy checkers run on a subset (natively elsewhere), so a
# clean-clone run stays within 45 minutes on 2 cores (3.13t's build included):
#   valgrind (test-c.sh)      3.8, 3.14, 3.13t, Debian's 3.11   PYRT_VALGRIND_PYTHONS
#   Go -race (test-go.sh)     3.8, 3.14, 3.13t                  PYRT_GO_RACE_PYTHONS
#   ASan+UBSan+LSan           3.12, 3.14, 3.13t                 PYRT_SAN_PYTHONS
# Why: the two newest (3.14, and 3.13t, whose free-threaded locking differs most from the GIL
# builds) get all three; the oldest valgrind and -race (LeakSanitizer cannot judge 3.8-3.11's
# finalization); Debian's 3.11 is the distribution's own build; 3.12 keeps ASan for its own
# version-specific code. 3.13 (GIL) shares its version-specific code with 3.13t and its GIL paths
# with 3.14: natively only.
#
# Exit status non-zero on any failure or on an expected CPython that is missing
# (scripts/pythons.sh --expected). Arguments (labels) restrict the run to those versions, as
# PYRT_TEST_PYTHONS="3.12-pyenv 3.8-pyenv" does. Logs: build/logs/, build/c/logs/, build/go/logs/.
# PYRT_TEST_GO=0, PYRT_TEST_NODE=0, PYRT_TEST_CPYTHON=0, PYRT_TEST_INSTALL=0 skip those suites
# (local use; CI runs everything).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH:/usr/local/go/bin"
if (($#)); then export PYRT_TEST_PYTHONS="$*"; fi

LOGS=$ROOT/build/logs
mkdir -p "$LOGS"
SUMMARY=$LOGS/summary.tsv
: >"$SUMMARY"
T0=$SECONDS

STAGE_TIMES=()   # "<stage> <start second>", for the time per stage printed at the end
stage() {
  printf '\n######## %s  (%dm%02ds)\n' "$*" $(((SECONDS - T0) / 60)) $(((SECONDS - T0) % 60))
  local name=${1%% *}
  STAGE_TIMES+=("${name%,} $((SECONDS - T0))")
}
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SUMMARY"; }   # component label status

# Why scripts/install-pythons.sh (run by setup.sh) could not install version $1 (3.14, 3.13t):
# its messages about that version, else the end of its log for it.
PY_ROOT=${PYRT_PYTHONS:-$HOME/.cache/pyrt/pythons}
missing_reason() {
  local v=$1 ip_log=$LOGS/install-pythons.log
  if [[ -s $ip_log ]] && grep -q "^install-pythons: $v:" "$ip_log"; then
    awk -v p="install-pythons: $v:" '/^install-pythons: / { on = index($0, p) == 1 } on' "$ip_log" | tail -n 12
  elif [[ -s $PY_ROOT/$v.log ]]; then
    echo "(end of $PY_ROOT/$v.log)"
    tail -n 5 "$PY_ROOT/$v.log"
  fi
}

stage "setup"
if ! scripts/setup.sh; then
  echo "setup failed"
  echo "0 passed, 1 failed"
  exit 1
fi

stage "cargo build --release"
cargo build --release >"$LOGS/cargo-build.log" 2>&1
rc=$?
tail -3 "$LOGS/cargo-build.log"
if ((rc != 0)) || [[ ! -f target/release/libpyrt.so ]]; then
  tail -40 "$LOGS/cargo-build.log"
  echo "BUILD FAILED"
  echo "0 passed, 1 failed"
  exit 1
fi

stage "lint gate (scripts/lint.sh: rustfmt, clippy -D warnings, gofmt, go vet)"
if scripts/lint.sh; then record lint once PASS; else record lint once FAIL; fi

mapfile -t PYTHONS < <(scripts/pythons.sh)
mapfile -t MISSING < <(scripts/pythons.sh --missing)
echo "CPythons: ${#PYTHONS[@]} found$( ((${#MISSING[@]})) && [[ -n ${MISSING[0]} ]] && echo ", missing: ${MISSING[*]}")"

stage "virtualenvs with numpy and jinja2 from PyPI (scripts/make-venvs.sh)"
# One real venv per CPython, built on first use and reused; the Rust, C and Go venv tests run in
# them (PYRT_TEST_VENV) and fail rather than skip without one (PYRT_TEST_REQUIRE_VENV).
declare -A VENVS
# A Python whose venv could not be built is left out of make-venvs' output: its venv tests fail.
venv_out=$(scripts/make-venvs.sh 2>"$LOGS/make-venvs.log")
venv_rc=$?
while read -r label dir; do [[ -n $label ]] && VENVS[$label]=$dir; done <<<"$venv_out"
[[ -n $venv_out ]] && echo "$venv_out" | sed 's/^/  /'
if ((venv_rc != 0)); then
  tail -20 "$LOGS/make-venvs.log"
  echo "  scripts/make-venvs.sh failed: the venv tests of the Pythons not listed above will fail"
fi
export PYRT_TEST_REQUIRE_VENV=1

stage "Rust tests (cargo test --release) per CPython"
# Build the test binaries once, so each version's run measures only the tests.
cargo test --release --no-run >"$LOGS/cargo-test-build.log" 2>&1 || true
for line in "${PYTHONS[@]}"; do
  label=${line%% *}
  lib=${line#* }
  log="$LOGS/rust-$label.log"
  start=$SECONDS
  PYRT_LIBPYTHON="$lib" PYRT_TEST_VENV="${VENVS[$label]:-}" timeout 1200 cargo test --release >"$log" 2>&1
  rc=$?
  counts=$(grep -E '^test result:' "$log" | awk '{p += $4; f += $6} END {printf "%d passed, %d failed", p, f}')
  if ((rc == 0)); then status=PASS; else status=FAIL; fi
  printf '  %-12s %-5s %4ss  %s\n' "$label" "$status" "$((SECONDS - start))" "$counts"
  if [[ $status == FAIL ]]; then
    grep -E -A3 '^---- |panicked at|^error(\[|:)' "$log" | head -12 | sed 's/^/      /'
  fi
  record rust "$label" "$status"
done

stage "C tests (scripts/test-c.sh)"
scripts/test-c.sh
c_rc=$?
if [[ -s build/c/results.tsv ]]; then
  # one cell per version: PASS only if every C test passed for it
  for line in "${PYTHONS[@]}"; do
    label=${line%% *}
    bad=$(awk -F'\t' -v l="$label" '$1 == l && $3 != "PASS"' build/c/results.tsv | wc -l)
    any=$(awk -F'\t' -v l="$label" '$1 == l' build/c/results.tsv | wc -l)
    if ((any > 0 && bad == 0)); then record c "$label" PASS; else record c "$label" FAIL; fi
  done
else
  record c all FAIL
fi
echo "(scripts/test-c.sh exit status: $c_rc)"

if [[ ${PYRT_TEST_GO:-1} == 0 ]]; then
  echo "(PYRT_TEST_GO=0: Go binding not tested)"
elif [[ -x scripts/test-go.sh ]]; then
  stage "Go tests (scripts/test-go.sh)"
  scripts/test-go.sh
  go_rc=$?
  if [[ -s build/go/results.tsv ]]; then
    for line in "${PYTHONS[@]}"; do
      label=${line%% *}
      bad=$(awk -F'\t' -v l="$label" '$1 == l && $3 != "PASS"' build/go/results.tsv | wc -l)
      any=$(awk -F'\t' -v l="$label" '$1 == l' build/go/results.tsv | wc -l)
      if ((any > 0 && bad == 0)); then record go "$label" PASS; else record go "$label" FAIL; fi
    done
    # vet, examples, benchmarks: not tied to one version
    if awk -F'\t' '$1 == "once" && $3 != "PASS" { bad = 1 } END { exit !bad }' build/go/results.tsv; then
      record go once FAIL
    elif grep -q $'^once\t' build/go/results.tsv; then
      record go once PASS
    fi
  fi
  if ((go_rc != 0)) && ! awk -F'\t' '$1 == "go" && $3 == "FAIL" { f = 1 } END { exit !f }' "$SUMMARY"; then
    record go once FAIL   # the script failed without a per-version failure (e.g. no Go toolchain)
  fi
else
  echo "(scripts/test-go.sh not present: Go binding not tested)"
fi

if [[ ${PYRT_TEST_NODE:-1} == 0 ]]; then
  echo "(PYRT_TEST_NODE=0: Node.js binding not tested)"
else
  stage "Node.js tests (scripts/test-node.sh)"
  scripts/test-node.sh
  node_rc=$?
  if [[ -s build/node/results.tsv ]]; then
    for line in "${PYTHONS[@]}"; do
      label=${line%% *}
      st=$(awk -F'\t' -v l="$label" '$1 == l { print $3 }' build/node/results.tsv | head -n 1)
      if [[ $st == PASS ]]; then record node "$label" PASS; else record node "$label" FAIL; fi
    done
    if awk -F'\t' '$1 == "once" && $3 != "PASS" { bad = 1 } END { exit !bad }' build/node/results.tsv; then
      record node once FAIL
    elif grep -q $'^once\t' build/node/results.tsv; then
      record node once PASS
    fi
  fi
  if ((node_rc != 0)) && ! awk -F'\t' '$1 == "node" && $3 == "FAIL" { f = 1 } END { exit !f }' "$SUMMARY"; then
    record node once FAIL
  fi
fi

if [[ ${PYRT_TEST_CPYTHON:-1} == 0 ]]; then
  echo "(PYRT_TEST_CPYTHON=0: CPython's tests inside pyrt not compared)"
else
  stage "CPython's own tests inside pyrt vs standalone (scripts/cpython-tests.sh --quick)"
  rm -f build/cpython/report-quick.tsv
  scripts/cpython-tests.sh --quick >"$LOGS/cpython-quick.log" 2>&1
  cpy_rc=$?
  sed -n '1,/^Embedded-only failures:/p' "$LOGS/cpython-quick.log" | grep -v '^  [0-9].*s  exit 0$' | tail -25
  grep -A12 '^EMBEDDED-ONLY FAILURES\|^HARNESS PROBLEMS' "$LOGS/cpython-quick.log" | head -30
  if [[ -s build/cpython/report-quick.tsv ]]; then
    while IFS=$'\t' read -r label st; do [[ -n $label ]] && record cpython "$label" "$st"; done <build/cpython/report-quick.tsv
  else
    tail -15 "$LOGS/cpython-quick.log"
    record cpython all FAIL
  fi
  echo "(scripts/cpython-tests.sh --quick exit status: $cpy_rc; report: build/cpython/report-quick.txt)"
fi

stage "ASan + UBSan + LSan: the C tests (scripts/test-sanitizers.sh)"
SAN_LABELS=${PYRT_SAN_PYTHONS:-3.12-pyenv 3.14-pyrt 3.13t-pyrt}  # as scripts/test-sanitizers.sh
SAN_RUN=()
for line in "${PYTHONS[@]}"; do
  label=${line%% *}
  if [[ " $SAN_LABELS " == *" $label "* ]]; then SAN_RUN+=("$label"); else record asan "$label" "-"; fi
done
if ((${#SAN_RUN[@]})); then
  scripts/test-sanitizers.sh "${SAN_RUN[@]}"
  echo "(scripts/test-sanitizers.sh exit status: $?)"
  for label in "${SAN_RUN[@]}"; do
    bad=$(awk -F'\t' -v l="$label" '$1 == l && $3 != "PASS"' build/asan/results.tsv 2>/dev/null | wc -l)
    any=$(awk -F'\t' -v l="$label" '$1 == l' build/asan/results.tsv 2>/dev/null | wc -l)
    if ((any > 0 && bad == 0)); then record asan "$label" PASS; else record asan "$label" FAIL; fi
  done
fi
if [[ -z ${PYRT_TEST_PYTHONS:-} ]]; then  # a full run: the sanitizer versions must be there
  for m in $SAN_LABELS; do
    printf '%s\n' "${PYTHONS[@]}" | grep -q "^$m " || { echo "MISSING: $m for the sanitizer run"; record asan "$m" FAIL; }
  done
fi

if [[ ${PYRT_TEST_INSTALL:-1} == 0 ]]; then
  echo "(PYRT_TEST_INSTALL=0: install paths not tested)"
else
  stage "install paths: C + pkg-config, Rust crate, Go module, npm package, README quick starts (scripts/test-install.sh)"
  scripts/test-install.sh
  install_rc=$?
  if ((install_rc == 0)) && [[ -s build/install/results.tsv ]]; then
    record install once PASS
  else
    record install once FAIL
  fi
fi

stage "benchmarks, quick (scripts/bench.sh --quick: every benchmark runs; no timing asserted)"
if scripts/bench.sh --quick >"$LOGS/bench-quick.log" 2>&1; then
  record bench once PASS
  tail -n 25 "$LOGS/bench-quick.log"
else
  record bench once FAIL
  tail -n 30 "$LOGS/bench-quick.log"
fi

stage "soak, bounded (scripts/soak.sh --bounded)"
if scripts/soak.sh --bounded; then record soak once PASS; else record soak once FAIL; fi

stage "fuzzing, bounded (scripts/fuzz.sh: each target ${PYRT_FUZZ_SECONDS:-20} s with ASan)"
if PYRT_FUZZ_SECONDS=${PYRT_FUZZ_SECONDS:-20} scripts/fuzz.sh; then record fuzz once PASS; else record fuzz once FAIL; fi

# ---- summary matrix
stage "summary"
LABELS=()
for line in "${PYTHONS[@]}"; do LABELS+=("${line%% *}"); done
for m in "${MISSING[@]}"; do [[ -n $m ]] && LABELS+=("$m"); done
awk -F'\t' '$2 == "once" || $2 == "all" { found = 1 } END { exit !found }' "$SUMMARY" && LABELS+=("once")

passed=0
failed=0
printf '%-10s' "component"
for l in "${LABELS[@]}"; do printf ' %-12s' "$l"; done
echo
for comp in lint rust c go node cpython asan install bench soak fuzz; do
  grep -q "^$comp"$'\t' "$SUMMARY" || continue
  printf '%-10s' "$comp"
  for l in "${LABELS[@]}"; do
    cell=$(awk -F'\t' -v c="$comp" -v l="$l" '$1 == c && ($2 == l || (l == "once" && $2 == "all")) { print $3 }' "$SUMMARY" | sort -u | tr '\n' ' ')
    cell=${cell% }
    if [[ -z $cell ]]; then
      # "once" cells of per-version components, and version cells of once-only components
      # (install, bench, soak, fuzz), are not applicable
      if [[ $l == once || " lint install bench soak fuzz " == *" $comp "* ]]; then printf ' %-12s' "-"; continue; fi
      cell=MISSING
    fi
    [[ $cell == *FAIL* ]] && cell=FAIL
    case $cell in PASS) ((passed++)) ;; -) ;; *) ((failed++)) ;; esac
    printf ' %-12s' "$cell"
  done
  echo
done
for m in "${MISSING[@]}"; do
  [[ -n $m ]] || continue
  echo "MISSING: expected CPython $m is not installed"
  missing_reason "${m%%-*}" | cut -c1-160 | sed 's/^/    /'
done
# A skipped install check (the root quick starts, when not root or a pyrt is in /usr/local) ran
# nothing: the install cell stands for the checks that ran, and this says which did not.
if [[ ${PYRT_TEST_INSTALL:-1} != 0 && -s build/install/results.tsv ]]; then
  awk -F'\t' '$3 == "SKIP" { printf "SKIPPED (not counted as passed): install %s: %s\n", $2, $4 }' \
    build/install/results.tsv
fi
# Why cells failed, here at the end where a CI log's tail shows it (full logs under build/).
if awk -F'\t' '$3 == "FAIL" { f = 1 } END { exit !f }' "$SUMMARY"; then
  echo "failures (first lines; logs: build/logs, build/<suite>/logs):"
  for f in build/c/results.tsv build/asan/results.tsv build/go/results.tsv build/node/results.tsv; do
    [[ -s $f ]] && awk -F'\t' -v s="${f#build/}" '$3 != "PASS" && $3 != "-" { printf "  %s: %s %s: %s\n", s, $1, $2, substr($4, 1, 150) }' "$f"
  done | head -20
  # the first failing check of each failing C test (the CI keeps only the tail of this output)
  for suite in c asan; do
    [[ -s build/$suite/results.tsv ]] || continue
    awk -F'\t' '$3 == "FAIL" { print $1 "\t" $2 }' "build/$suite/results.tsv" | while IFS=$'\t' read -r l t; do
      grep -A1 -E '^  FAIL |^==[0-9]+==ERROR: |runtime error: |definitely lost in' "build/$suite/logs/$l/${t//\//_}.log" 2>/dev/null |
        head -2 | cut -c1-200 | sed "s|^|    [$suite $l $t] |"
    done
  done | head -12
  grep -A8 '^EMBEDDED-ONLY FAILURES\|^HARNESS PROBLEMS' "$LOGS/cpython-quick.log" 2>/dev/null | cut -c1-160 | head -12 | sed 's/^/  cpython: /'
fi
times=""
for ((i = 0; i + 1 < ${#STAGE_TIMES[@]}; i++)); do
  read -r name t0 <<<"${STAGE_TIMES[i]}"
  read -r _ t1 <<<"${STAGE_TIMES[i + 1]}"
  times+=" $name $((t1 - t0))s,"
done
echo "time per stage:${times%,}"
printf 'total time: %dm%02ds\n' $(((SECONDS - T0) / 60)) $(((SECONDS - T0) % 60))
echo "$passed passed, $failed failed"
((failed == 0))
