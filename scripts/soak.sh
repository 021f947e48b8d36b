#!/usr/bin/env bash
# The full soak (make soak): many threads or goroutines making a long mix of calls, every result
# checked, resident memory bounded after a warm-up.
#
#   scripts/soak.sh              C: 8 threads x 200,000 calls (tests/c/test_soak.c);
#                                Go: 64 goroutines x 200,000 calls, purego and cgo
#                                (bindings/go/soak_test.go TestSoak); one CPython
#   scripts/soak.sh --bounded    what `make test` runs: C 8 x 50,000, Go 64 x 2,000 (purego, cgo)
#
# Environment: PYRT_SOAK_PYTHON (a label of scripts/pythons.sh, default 3.12-pyenv, else the first),
# PYRT_SOAK_CALLS / PYRT_SOAK_THREADS / PYRT_SOAK_GOROUTINES / PYRT_SOAK_RSS_BOUND_MB override the
# counts and the bound (C default bound 32 MiB, Go 64 MiB; see the tests).
# Output: one line per run, logs in build/soak/, and "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH:/usr/local/go/bin"
BOUNDED=0
[[ ${1:-} == --bounded ]] && BOUNDED=1
OUT=$ROOT/build/soak
mkdir -p "$OUT"
: >"$OUT/results.tsv"

WANT=${PYRT_SOAK_PYTHON:-3.12-pyenv}
LIB=$(scripts/pythons.sh | awk -v w="$WANT" '$1 == w { print $2; exit }')
[[ -n $LIB ]] || read -r WANT LIB < <(scripts/pythons.sh | head -1)
if [[ -z ${LIB:-} ]]; then echo "no CPython found"; echo "0 passed, 1 failed"; exit 1; fi

if ((BOUNDED)); then C_CALLS=50000; GO_CALLS=2000; GO_MODES=(purego cgo); else C_CALLS=200000; GO_CALLS=200000; GO_MODES=(purego cgo); fi
C_CALLS=${PYRT_SOAK_CALLS:-$C_CALLS}
GO_CALLS=${PYRT_SOAK_CALLS:-$GO_CALLS}

make --no-print-directory c-tests >"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log"; echo "BUILD FAILED"; echo "0 passed, 1 failed"; exit 1; }
echo "== soak with $WANT ($LIB)"

run() {  # name log command...
  local name=$1 log=$2 start=$SECONDS status=PASS
  shift 2
  if ! "$@" >"$log" 2>&1; then status=FAIL; fi
  local line
  line=$(grep -E 'calls in|VmRSS|FAIL|panic' "$log" | head -3 | sed 's/^ *//' | tr '\n' ' ')
  printf '  %-22s %-5s %4ss  %s\n' "$name" "$status" "$((SECONDS - start))" "$line"
  printf '%s\t%s\t%s\n' "$name" "$status" "$line" >>"$OUT/results.tsv"
}

run "C ${PYRT_SOAK_THREADS:-8}x$C_CALLS" "$OUT/c.log" \
  env PYRT_LIBPYTHON="$LIB" PYRT_SOAK_CALLS="$C_CALLS" timeout 1800 nice -n 10 build/c/tests/test_soak
for mode in "${GO_MODES[@]}"; do
  if [[ $mode == purego ]]; then flags=(); cgo=0; else flags=(-tags pyrt_cgo); cgo=1; fi
  run "Go $mode ${PYRT_SOAK_GOROUTINES:-64}x$GO_CALLS" "$OUT/go-$mode.log" \
    bash -c "cd bindings/go && CGO_ENABLED=$cgo PYRT_LIBPYTHON='$LIB' PYRT_SOAK_CALLS=$GO_CALLS nice -n 10 go test ${flags[*]} -count=1 -timeout 60m -run '^TestSoak\$' -v ."
done
passed=$(awk -F'\t' '$2 == "PASS"' "$OUT/results.tsv" | wc -l)
failed=$(awk -F'\t' '$2 != "PASS"' "$OUT/results.tsv" | wc -l)
echo "$passed passed, $failed failed"
((failed == 0))
