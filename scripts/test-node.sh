#!/usr/bin/env bash
# Lint the Node.js binding (`npm run lint`: ESLint over bindings/node and examples/node), run its
# tests (bindings/node: `node --test test/*.test.js`) against every CPython on this machine, then
# examples/node/basic.js once.
#
#   scripts/test-node.sh                 all libpythons from scripts/pythons.sh
#   scripts/test-node.sh 3.12-pyenv ...  only these labels (PYRT_TEST_PYTHONS="..." does the same)
#
# Installs the binding's dependency, koffi, and its development dependencies (ESLint) from npm
# with `npm ci --include=dev --ignore-scripts` (the versions and checksums in
# bindings/node/package-lock.json; koffi's prebuilt native module comes as an optional platform
# package, so no install script and no compiler are needed). Each test file runs in its own
# Node process with PYRT_LIBPYTHON=<libpython>; libpyrt is this repository's
# target/release/libpyrt.so (built here if needed).
#
# Output: one line per version, then "N passed, N failed" (an expected version that is not
# installed is MISSING and counts as failed; so does any lint finding). Results for
# scripts/test.sh: build/node/results.tsv (<label> node PASS|FAIL <detail>, and `once lint ...`,
# `once example ...`). Logs: build/node/logs/.
#
# Needs: node >= 18 and npm (scripts/setup.sh installs Debian's nodejs and npm when absent),
# network access to the npm registry on a clean machine.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
if (($#)); then export PYRT_TEST_PYTHONS="$*"; fi

OUT=$ROOT/build/node
LOGS=$OUT/logs
RESULTS=$OUT/results.tsv
TIMEOUT=300
rm -rf "$LOGS"
mkdir -p "$LOGS"
: >"$RESULTS"

fail_early() {
  echo "$1"
  printf 'once\tsetup\tFAIL\t%s\n' "$1" >>"$RESULTS"
  echo "0 passed, 1 failed"
  exit 1
}

command -v node >/dev/null || fail_early "node not found (scripts/setup.sh installs it)"
command -v npm >/dev/null || fail_early "npm not found (scripts/setup.sh installs it)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 18)) || fail_early "Node.js >= 18 needed (node --test); found $(node --version)"
echo "== node $(node --version), npm $(npm --version)"

echo "== building libpyrt.so (cargo build --release)"
cargo build --release >"$LOGS/cargo.log" 2>&1 || { tail -20 "$LOGS/cargo.log"; fail_early "BUILD FAILED"; }

echo "== installing the binding's dependencies (npm ci --include=dev --ignore-scripts)"
# --include=dev: ESLint is a devDependency, installed even where NODE_ENV=production or npm's
# `omit` setting would leave it out.
(cd bindings/node && npm ci --include=dev --ignore-scripts --no-audit --no-fund) >"$LOGS/npm-ci.log" 2>&1 ||
  { tail -20 "$LOGS/npm-ci.log"; fail_early "npm ci failed"; }

echo "== npm run lint (eslint)"
log=$LOGS/lint.log
if (cd bindings/node && npm run lint --silent) >"$log" 2>&1; then
  status=PASS
  detail=""
else
  status=FAIL
  # ESLint's summary ("✖ 2 problems (2 errors, 0 warnings)") and the first finding, on one line.
  summary=$(grep -m1 -E '[0-9]+ problems? \(' "$log" | sed 's/^[^0-9]*//')
  first=$(awk '/^\// { file = $0 } /^ +[0-9]+:[0-9]+ +(error|warning) / { sub(/^ +/, ""); print file ":" $0; exit }' "$log" |
    sed "s|^$ROOT/||" | tr -s ' \t' ' ')
  detail="${summary:-eslint failed, see build/node/logs/lint.log}${first:+; first: $first}"
fi
lint_status=$status
printf '  %-28s %s\n' "lint" "$status${detail:+: $detail}"
printf 'once\tlint\t%s\t%s\n' "$status" "$detail" >>"$RESULTS"

mapfile -t PYTHONS < <(scripts/pythons.sh)
mapfile -t MISSING < <(scripts/pythons.sh --missing)
((${#PYTHONS[@]})) || fail_early "no CPython found by scripts/pythons.sh"

echo "== node --test, ${#PYTHONS[@]} libpython(s)"
for line in "${PYTHONS[@]}"; do
  label=${line%% *}
  lib=${line#* }
  log=$LOGS/$label.log
  start=$SECONDS
  (cd bindings/node && env -u PYRT_LIBRARY PYRT_LIBPYTHON="$lib" timeout "$TIMEOUT" node --test test/*.test.js) >"$log" 2>&1
  rc=$?
  pass=$(sed -n 's/^# pass //p' "$log")
  fail=$(sed -n 's/^# fail //p' "$log")
  status=PASS
  detail="${pass:-0} passed, ${fail:-?} failed"
  if ((rc != 0)); then
    status=FAIL
    first=$(grep -m1 '^not ok' "$log" || grep -m1 'Error' "$log")
    detail="$detail; $first"
  fi
  printf '  %-12s %-5s %4ss  %s\n' "$label" "$status" "$((SECONDS - start))" "$detail"
  printf '%s\tnode\t%s\t%s\n' "$label" "$status" "$detail" >>"$RESULTS"
done
for m in "${MISSING[@]}"; do
  [[ -n $m ]] || continue
  echo "  $m MISSING: expected CPython is not installed (see scripts/pythons.sh)"
  printf '%s\tnode\tMISSING\t\n' "$m" >>"$RESULTS"
done

FIRST_LIB=${PYTHONS[0]#* }
echo "== examples/node/basic.js with ${PYTHONS[0]%% *}"
log=$LOGS/example-basic.log
if env -u PYRT_LIBRARY -u PYRT_LIBPYTHON node examples/node/basic.js "$FIRST_LIB" >"$log" 2>&1 &&
   grep -q '^math.sqrt(16) = 4$' "$log" && grep -q '^2\*\*100 = 1267650600228229401496703205376n$' "$log" &&
   grep -qE '^math.sqrt\(-1\) raised ValueError: (math domain error|expected a nonnegative input, got -1\.0)$' "$log"; then
  status=PASS
else
  status=FAIL
  tail -5 "$log"
fi
printf '  %-28s %s\n' "example basic" "$status"
printf 'once\texample basic\t%s\t\n' "$status" >>"$RESULTS"

passed=$(awk -F'\t' '$3 == "PASS"' "$RESULTS" | wc -l)
failed=$(awk -F'\t' '$3 != "PASS"' "$RESULTS" | wc -l)
if ((failed)); then
  echo "Failures (logs in build/node/logs/):"
  [[ $lint_status == PASS ]] || head -30 "$LOGS/lint.log" | sed 's/^/    /'
  grep -h -B2 -A12 '^not ok' "$LOGS"/*.log 2>/dev/null | head -40 | sed 's/^/    /'
fi
echo "$passed passed, $failed failed"
((failed == 0))
