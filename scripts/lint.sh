#!/usr/bin/env bash
# The lint gate, part of `make test` (scripts/test.sh): any finding fails it.
#
#   Rust  cargo fmt --check (the workspace and the fuzz crate), and
#         cargo clippy --workspace --all-targets -D warnings with the lints chosen in Cargo.toml's
#         [lints] (every unsafe block and unsafe op documented, aligned pointer reads, named casts)
#   Layers  scripts/check-cycles.py: no dependency cycle among src/ files (python3, stdlib only)
#   Go    gofmt -l (no file may need formatting) and go vet, for each way the binding is built:
#         purego (CGO_ENABLED=0), purego with cgo enabled, and cgo (-tags pyrt_cgo); and the
#         examples' and benchmarks' modules
#   (Node's ESLint runs in scripts/test-node.sh, after the npm install it needs.)
#
# Output: one line per check, then "N passed, N failed"; logs in build/lint/. Exit status 1 on
# any failure.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH:/usr/local/go/bin"
LOGS=$ROOT/build/lint
rm -rf "$LOGS"
mkdir -p "$LOGS"
passed=0
failed=0

check() {  # name command... ; a check fails on a non-zero exit or (gofmt) any output
  local name=$1 log="$LOGS/${1// /_}.log"
  shift
  if "$@" >"$log" 2>&1; then
    printf '  %-34s PASS\n' "$name"
    ((passed++))
  else
    printf '  %-34s FAIL (%s)\n' "$name" "${log#"$ROOT"/}"
    sed -n '1,30p' "$log" | sed 's/^/      /'
    ((failed++))
  fi
}

no_output() { local out; out=$("$@") || return 1; [[ -z $out ]] || { echo "$out"; return 1; }; }

check "rustfmt (workspace)" cargo fmt --all --check
check "rustfmt (fuzz crate)" bash -c 'cd fuzz && cargo fmt --check'
check "clippy -D warnings" cargo clippy --workspace --all-targets --quiet -- -D warnings
check "no module cycles" python3 scripts/check-cycles.py
if command -v go >/dev/null 2>&1; then
  check "gofmt -l" no_output gofmt -l bindings/go examples/go bench/go
  check "go vet (purego, CGO_ENABLED=0)" bash -c 'cd bindings/go && CGO_ENABLED=0 go vet ./...'
  check "go vet (purego, cgo enabled)" bash -c 'cd bindings/go && CGO_ENABLED=1 go vet ./...'
  check "go vet (-tags pyrt_cgo)" bash -c 'cd bindings/go && CGO_ENABLED=1 go vet -tags pyrt_cgo ./...'
  check "go vet (examples, bench)" bash -c 'cd examples/go && CGO_ENABLED=0 go vet ./... && cd ../../bench/go && CGO_ENABLED=1 go vet ./...'
  check "go vet (pyrtprom)" bash -c 'cd bindings/go/pyrtprom && CGO_ENABLED=0 go vet ./...'
  check "go vet (pyrtotel)" bash -c 'cd bindings/go/pyrtotel && CGO_ENABLED=0 go vet ./...'
else
  echo "  go not found"
  ((failed++))
fi

echo "$passed passed, $failed failed"
((failed == 0))
