#!/usr/bin/env bash
# Run the Go binding's test suite (bindings/go, incl. the gopython compat package) against every
# CPython on this machine, in the three foreign-call modes, then vet, run the Go examples once
# and measure BenchmarkCall.
#
#   scripts/test-go.sh                 all libpythons from scripts/pythons.sh
#   scripts/test-go.sh 3.12-pyenv ...  only these labels (PYRT_TEST_PYTHONS="..." does the same)
#
# Modes (each is `go test -count=1 ./...` in bindings/go with PYRT_LIBPYTHON=<libpython> and
# PYRT_TEST_VENV=<the venv of that Python from scripts/make-venvs.sh: numpy + jinja2, no pip>):
#   purego      CGO_ENABLED=0                         libpyrt opened with purego, no cgo at all
#   purego+cgo  CGO_ENABLED=1 -race                   same code with the cgo runtime (race needs cgo)
#   cgo         CGO_ENABLED=1 -race -tags pyrt_cgo    libpyrt linked through cgo
# (-race on the versions in PYRT_GO_RACE_PYTHONS, default 3.8-pyenv 3.14-pyrt 3.13t-pyrt)
# Also: a GC stress run (GOGC=1, GODEBUG=clobberfree=1,checkfinalizers=1, a collection every
# millisecond) of the pyrt package in purego and cgo modes, with one CPython
# (PYRT_STRESS_PYTHON, default 3.12-pyenv);
# and the libpyrt copies embedded in the module (bindings/go/lib, `make go-embed`):
# TestEmbeddedLibrary checks each against its recorded checksum, ELF machine, exports and the
# sources of this tree (a stale copy fails: run `make go-embed`), then loads the linux/amd64 copy
# from memory, and again through the per-user cache fallback, and runs Python with it; and the
# whole purego suite runs once more against that embedded copy (PYRT_LIBRARY = the copy,
# decompressed) with the first libpython.
# Also: `go vet` for both build flavours and the examples module; the pyrtprom (Prometheus) and
# pyrtotel (OpenTelemetry; its API needs Go >= 1.26) modules vetted and tested; the examples (examples/go:
# basic, concurrent, venv) run once with the first libpython, plus basic with no argument
# (libpython discovery), basic built with -tags pyrt_cgo, and venv with the first Python's real venv
# (with and without the libpython argument).
#
# Output: a matrix version x mode -> PASS / FAIL / MISSING (an expected version that is not
# installed, see scripts/pythons.sh --expected), the vet/examples results, BenchmarkCall for
# purego and cgo, then "N passed, N failed" counting cells (MISSING counts as failed). Exit status
# non-zero on any FAIL or MISSING.
# Logs: build/go/logs/<label>/<mode>.log. Results: build/go/results.tsv. Benchmarks: build/go/bench.txt.
#
# Needs: go >= 1.25 (on PATH or /usr/local/go/bin), cargo, gcc (cgo modes), network access to the
# Go module proxy and PyPI on a clean machine (go mod download; scripts/make-venvs.sh, whose venvs
# are reused once built).
#
# Environment:
#   PYRT_GO_BENCH=0      skip the benchmarks
#   PYRT_TEST_JOBS=N     versions tested in parallel (default 1: the race runs use both cores)
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH:/usr/local/go/bin:$HOME/go/bin"

if (($#)); then export PYRT_TEST_PYTHONS="$*"; fi
JOBS=${PYRT_TEST_JOBS:-1}
BENCH=${PYRT_GO_BENCH:-1}
OUT=$ROOT/build/go
LOGS=$OUT/logs
RESULTS=$OUT/results.tsv
TIMEOUT=900
MODES=(purego purego+cgo cgo)

fail_early() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}

# ---- tools
command -v go >/dev/null 2>&1 || fail_early "go not found: install Go >= 1.25 (https://go.dev/dl)"
gover=$(go env GOVERSION)
if [[ ! $gover =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < 25)); then
  fail_early "Go >= 1.25 needed (purego v0.11 requires it); found $gover"
fi
HAVE_CC=1
command -v gcc >/dev/null 2>&1 || { HAVE_CC=0; echo "warning: gcc not found; the cgo modes will fail"; }
echo "== $(go version)"

mkdir -p "$OUT"
# One run at a time per work tree: a second run would delete this one's logs and results.
exec 9>"$OUT/.lock"
if ! flock -n 9; then
  echo "== another scripts/test-go.sh is running in this tree; waiting for it"
  flock 9
fi
echo "== building libpyrt.so (cargo build --release)"
cargo build --release >"$OUT/cargo.log" 2>&1 || { tail -30 "$OUT/cargo.log"; fail_early "BUILD FAILED"; }
[[ -f target/release/libpyrt.so ]] || fail_early "target/release/libpyrt.so missing after the build"

echo "== downloading Go modules"
for m in bindings/go examples/go; do
  (cd "$m" && go mod download) || fail_early "go mod download failed in $m"
done

mapfile -t PYTHONS < <(scripts/pythons.sh)
mapfile -t MISSING < <(scripts/pythons.sh --missing)
((${#PYTHONS[@]})) || fail_early "no CPython found by scripts/pythons.sh"

echo "== virtualenvs with numpy and jinja2 (scripts/make-venvs.sh)"
declare -A VENVS
# A Python whose venv could not be built is left out of the output: only its venv tests fail.
venv_out=$(scripts/make-venvs.sh 2>"$OUT/make-venvs.log") ||
  { tail -20 "$OUT/make-venvs.log"; echo "scripts/make-venvs.sh failed for some Python"; }
while read -r label dir; do [[ -n $label ]] && VENVS[$label]=$dir; done <<<"$venv_out"

rm -rf "$LOGS"
mkdir -p "$LOGS"
: >"$RESULTS"

# The race detector runs on the oldest CPython, 3.14 and the free-threaded 3.13t (no GIL to hide
# a race) (PYRT_GO_RACE_PYTHONS, "all" for every one); the cgo modes of the other versions run
# without it: -race doubles their time, and the test command must stay within 45 minutes on 2
# cores.
RACE_PYTHONS=${PYRT_GO_RACE_PYTHONS:-3.8-pyenv 3.14-pyrt 3.13t-pyrt}
mode_env() {  # mode label -> "ENV... -- goflags"
  local race=""
  if [[ $RACE_PYTHONS == all || " $RACE_PYTHONS " == *" $2 "* ]]; then race=" -race"; fi
  case $1 in
    purego) echo "CGO_ENABLED=0" ;;
    purego+cgo) echo "CGO_ENABLED=1$race" ;;
    cgo) echo "CGO_ENABLED=1$race -tags pyrt_cgo" ;;
  esac
}

run_mode() {  # label lib mode -> appends to $LOGS/<label>/results.tsv
  local label=$1 lib=$2 mode=$3 spec cgo flags log start rc status detail venv=${VENVS[$1]:-}
  spec=$(mode_env "$mode" "$label")
  cgo=${spec%% *}
  flags=${spec#"$cgo"}
  log="$LOGS/$label/$mode.log"
  start=$SECONDS
  # shellcheck disable=SC2086
  (cd bindings/go && env $cgo PYRT_LIBPYTHON="$lib" PYRT_TEST_VENV="$venv" PYRT_TEST_REQUIRE_VENV=1 \
    timeout "$TIMEOUT" go test -count=1 $flags ./...) >"$log" 2>&1
  rc=$?
  status=PASS
  detail=""
  if ((rc == 124)); then status=FAIL; detail="timeout ${TIMEOUT}s"
  elif ((rc != 0)); then status=FAIL; detail=$(grep -m1 -E '^--- FAIL|^FAIL|panic:|fatal error:|WARNING: DATA RACE' "$log" || echo "exit $rc")
  fi
  printf '  %-12s %-11s %-5s %4ss  %s\n' "$label" "$mode" "$status" "$((SECONDS - start))" "$detail"
  printf '%s\t%s\t%s\t%s\n' "$label" "$mode" "$status" "$detail" >>"$LOGS/$label/results.tsv"
}

run_version() {  # label lib
  local label=$1 lib=$2 mode
  mkdir -p "$LOGS/$label"
  : >"$LOGS/$label/results.tsv"
  for mode in "${MODES[@]}"; do run_mode "$label" "$lib" "$mode"; done
}

# Compile everything once up front so that the per-version runs measure tests, not builds.
echo "== compiling the test binaries"
(cd bindings/go && CGO_ENABLED=0 go test -count=1 -run '^$' ./... >/dev/null 2>&1
 CGO_ENABLED=1 go test -race -count=1 -run '^$' ./... >/dev/null 2>&1
 CGO_ENABLED=1 go test -race -tags pyrt_cgo -count=1 -run '^$' ./... >/dev/null 2>&1
 CGO_ENABLED=1 go test -count=1 -run '^$' ./... >/dev/null 2>&1
 CGO_ENABLED=1 go test -tags pyrt_cgo -count=1 -run '^$' ./... >/dev/null 2>&1) || true

echo "== running the Go tests: ${#PYTHONS[@]} libpython(s) x ${#MODES[@]} modes, $JOBS in parallel"
for line in "${PYTHONS[@]}"; do
  label=${line%% *}
  lib=${line#* }
  run_version "$label" "$lib" &
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
done
wait
cat "$LOGS"/*/results.tsv >>"$RESULTS" 2>/dev/null

# ---- vet and examples (once)
FIRST_LIB=${PYTHONS[0]#* }
FIRST_VENV=${VENVS[${PYTHONS[0]%% *}]:-}
mkdir -p "$LOGS/once"
once() {  # name command... (runs in $ROOT)
  local name=$1 log="$LOGS/once/${1//[ \/]/_}.log" status=PASS detail=""
  shift
  if ! timeout "$TIMEOUT" "$@" >"$log" 2>&1; then
    status=FAIL
    detail=$(tail -3 "$log" | tr '\n' ' ')
  fi
  printf '  %-28s %-5s %s\n' "$name" "$status" "$detail"
  printf 'once\t%s\t%s\t%s\n' "$name" "$status" "$detail" >>"$RESULTS"
}
echo
echo "== the embedded libpyrt (with ${PYTHONS[0]%% *})"
once "embedded copies (from memory)" bash -c "cd bindings/go && PYRT_LIBPYTHON='$FIRST_LIB' PYRT_TEST_EMBEDDED=1 CGO_ENABLED=0 go test -count=1 -v -run '^TestEmbeddedLibrary\$' ."
once "embedded copy (cache fallback)" bash -c "cd bindings/go && PYRT_LIBPYTHON='$FIRST_LIB' PYRT_TEST_EMBEDDED=cache CGO_ENABLED=0 go test -count=1 -v -run '^TestEmbeddedLibrary\$' ."
EMBEDDED_SO=$OUT/embedded/libpyrt.so
mkdir -p "$OUT/embedded"
if gzip -dc bindings/go/lib/libpyrt-linux-amd64.so.gz >"$EMBEDDED_SO" 2>/dev/null; then
  once "suite on the embedded copy" bash -c "cd bindings/go && PYRT_LIBRARY='$EMBEDDED_SO' PYRT_LIBPYTHON='$FIRST_LIB' PYRT_TEST_VENV='$FIRST_VENV' PYRT_TEST_REQUIRE_VENV=1 CGO_ENABLED=0 go test -count=1 ./..."
else
  once "suite on the embedded copy" bash -c "echo 'bindings/go/lib/libpyrt-linux-amd64.so.gz is missing or corrupt'; false"
fi

echo
echo "== vet and examples (examples with ${PYTHONS[0]%% *})"
once "vet purego" bash -c 'cd bindings/go && CGO_ENABLED=0 go vet ./...'
once "vet cgo" bash -c 'cd bindings/go && CGO_ENABLED=1 go vet -tags pyrt_cgo ./...'
once "vet examples" bash -c 'cd examples/go && CGO_ENABLED=0 go vet ./...'
once "vet pyrtprom" bash -c 'cd bindings/go/pyrtprom && CGO_ENABLED=0 go vet ./...'
once "pyrtprom (Prometheus collector scraped over 127.0.0.1)" bash -c "cd bindings/go/pyrtprom && PYRT_LIBPYTHON='$FIRST_LIB' CGO_ENABLED=0 go test -count=1 ./..."
once "vet pyrtotel" bash -c 'cd bindings/go/pyrtotel && CGO_ENABLED=0 go vet ./...'
once "pyrtotel (OpenTelemetry spans of calls, SDK span recorder)" bash -c "cd bindings/go/pyrtotel && PYRT_LIBPYTHON='$FIRST_LIB' CGO_ENABLED=0 go test -count=1 ./..."
once "example basic" bash -c "cd examples/go && CGO_ENABLED=0 go run ./basic '$FIRST_LIB'"
once "example basic (discovery)" bash -c 'cd examples/go && env -u PYRT_LIBPYTHON CGO_ENABLED=0 go run ./basic'
once "example basic (pyrt_cgo)" bash -c "cd examples/go && CGO_ENABLED=1 go run -tags pyrt_cgo ./basic '$FIRST_LIB'"
once "example concurrent" bash -c "cd examples/go && CGO_ENABLED=0 go run ./concurrent '$FIRST_LIB'"
once "example venv (temporary)" bash -c "cd examples/go && CGO_ENABLED=0 go run ./venv '$FIRST_LIB'"
# With the real venv the output must show numpy's and jinja2's results (not "not installed").
once "example venv (real venv)" bash -c "set -o pipefail; cd examples/go && CGO_ENABLED=0 go run ./venv '$FIRST_LIB' '$FIRST_VENV' | tee /dev/stderr | grep 'sum(axis=1) = \[10 35\]' >/dev/null"
once "example callbacks (real venv)" bash -c "set -o pipefail; cd examples/go && CGO_ENABLED=0 go run ./callbacks '$FIRST_LIB' '$FIRST_VENV' | tee /dev/stderr | grep 'Hello, GOPHER!' >/dev/null"
once "example callbacks (pyrt_cgo)" bash -c "set -o pipefail; cd examples/go && CGO_ENABLED=1 go run -tags pyrt_cgo ./callbacks '$FIRST_LIB' | tee /dev/stderr | grep 'progress: 100%' >/dev/null"
once "example venv (venv only)" bash -c "set -o pipefail; cd examples/go && env -u PYRT_LIBPYTHON CGO_ENABLED=0 go run ./venv '' '$FIRST_VENV' | tee /dev/stderr | grep 'jinja2: *Hello venv!' >/dev/null"

# ---- GC stress and a bounded soak (one CPython)
# Stress: the pyrt package's tests with a collection every millisecond (PYRT_GO_STRESS=1, see
# main_test.go), GOGC=1, and GODEBUG=clobberfree=1 (freed Go memory is overwritten, so foreign
# code reading Go memory after it was collected would see garbage) and checkfinalizers=1 (the
# collector checks every cleanup and finalizer for paths back to its object, and stops the
# program if it finds one). The test binary is built first: GODEBUG would otherwise also apply
# to the go command and the compiler. checkfinalizers' per-cycle queue lines are filtered out.
# (The Go soak, TestSoak with many calls, runs from scripts/soak.sh.)
STRESS_LABEL=${PYRT_STRESS_PYTHON:-3.12-pyenv}
STRESS_LIB=$(printf '%s\n' "${PYTHONS[@]}" | awk -v w="$STRESS_LABEL" '$1 == w { print $2; exit }')
if [[ -z $STRESS_LIB ]]; then STRESS_LABEL=${PYTHONS[0]%% *}; STRESS_LIB=${PYTHONS[0]#* }; fi
STRESS_VENV=${VENVS[$STRESS_LABEL]:-}
echo
echo "== GC stress (GOGC=1, GODEBUG=clobberfree=1,checkfinalizers=1), with $STRESS_LABEL"
mkdir -p "$OUT/stress"
STRESS_ENV="PYRT_GO_STRESS=1 GOGC=1 GODEBUG=clobberfree=1,checkfinalizers=1 PYRT_LIBPYTHON='$STRESS_LIB' PYRT_TEST_VENV='$STRESS_VENV' PYRT_TEST_REQUIRE_VENV=1"
once "stress purego ($STRESS_LABEL)" bash -c "set -o pipefail; cd bindings/go && CGO_ENABLED=0 go test -c -o '$OUT/stress/purego.test' . && env $STRESS_ENV '$OUT/stress/purego.test' -test.count=1 -test.timeout=15m 2>&1 | grep -v '^checkfinalizers: queue'"
once "stress cgo ($STRESS_LABEL)" bash -c "set -o pipefail; cd bindings/go && CGO_ENABLED=1 go test -c -tags pyrt_cgo -o '$OUT/stress/cgo.test' . && env $STRESS_ENV '$OUT/stress/cgo.test' -test.count=1 -test.timeout=15m 2>&1 | grep -v '^checkfinalizers: queue'"

# ---- benchmarks
if [[ $BENCH == 1 ]]; then
  echo
  echo "== BenchmarkCall (math.sqrt(16.0)) with ${PYTHONS[0]}"
  : >"$OUT/bench.txt"
  for spec in "purego|CGO_ENABLED=0|" "cgo|CGO_ENABLED=1|-tags pyrt_cgo"; do
    IFS='|' read -r name cgo tags <<<"$spec"
    # shellcheck disable=SC2086
    line=$(cd bindings/go && env $cgo PYRT_LIBPYTHON="$FIRST_LIB" go test -count=1 $tags -run '^$' \
      -bench '^BenchmarkCall$' -benchtime=2s -benchmem . 2>&1 | grep -E '^BenchmarkCall')
    printf '  %-7s %s\n' "$name" "${line:-FAILED}"
    printf '%s\t%s\n' "$name" "$line" >>"$OUT/bench.txt"
    if [[ -z $line ]]; then printf 'once\tbench %s\tFAIL\t\n' "$name" >>"$RESULTS"; fi
  done
fi

# ---- matrix
LABELS=()
for line in "${PYTHONS[@]}"; do LABELS+=("${line%% *}"); done
for m in "${MISSING[@]}"; do [[ -n $m ]] && LABELS+=("$m"); done

passed=0
failed=0
echo
echo "== Go tests: version x mode"
printf '%-14s' "version"
for mode in "${MODES[@]}"; do printf ' %-11s' "$mode"; done
echo
for l in "${LABELS[@]}"; do
  printf '%-14s' "$l"
  for mode in "${MODES[@]}"; do
    cell=$(awk -F'\t' -v l="$l" -v m="$mode" '$1 == l && $2 == m { c = $3 } END { print c }' "$RESULTS")
    [[ -n $cell ]] || cell=MISSING
    case $cell in PASS) ((passed++)) ;; *) ((failed++)) ;; esac
    printf ' %-11s' "$cell"
  done
  echo
done
while IFS=$'\t' read -r l name status _; do
  [[ $l == once ]] || continue
  case $status in PASS) ((passed++)) ;; *) ((failed++)) ;; esac
done <"$RESULTS"
for m in "${MISSING[@]}"; do
  [[ -n $m ]] || continue
  echo "MISSING: expected CPython $m is not installed (see scripts/pythons.sh)"
  for mode in "${MODES[@]}"; do printf '%s\t%s\tMISSING\t\n' "$m" "$mode" >>"$RESULTS"; done
done
if ((failed > 0)); then
  echo
  echo "Failures (logs in build/go/logs/<version>/<mode>.log and build/go/logs/once/):"
  awk -F'\t' '$3 == "FAIL" { printf "  %s %s: %s\n", $1, $2, $4 }' "$RESULTS"
  awk -F'\t' '$3 == "FAIL" && $1 != "once" { print $1 "\t" $2 }' "$RESULTS" | while IFS=$'\t' read -r l m; do
    grep -m4 -E -A2 '^--- FAIL|^\s+\S+_test\.go:[0-9]+:|panic:|fatal error:' "$LOGS/$l/$m.log" 2>/dev/null |
      head -8 | sed "s|^|    [$l $m] |"
  done
fi
echo "$passed passed, $failed failed"
((failed == 0))
