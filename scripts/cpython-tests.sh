#!/usr/bin/env bash
# CPython's own regression tests inside pyrt, compared test by test with the standalone
# interpreter of the same version (issue 11; tests/cpython/README.md).
#
#   scripts/cpython-tests.sh --full [run.py options]    every module, hosts standalone, c,
#                                                       c-pysig (signals "python") and go;
#                                                       long (about an hour on 2 cores)
#   scripts/cpython-tests.sh --quick [run.py options]   the bounded subset `make test` runs:
#                                                       json, threading_local, thread, signal
#                                                       from the C and Go hosts (a few minutes)
#   scripts/cpython-tests.sh [run.py options]           same as --quick
#
# Labels restrict the versions: scripts/cpython-tests.sh --full --versions 3.12-pyenv,3.8-pyenv
# (PYRT_TEST_PYTHONS="3.12-pyenv 3.8-pyenv" does the same). Every run.py option passes through:
# --modules, --hosts, --jobs, --no-rerun.
#
# Builds libpyrt (cargo build --release), build/cpython/host_c (C, linked against libpyrt) and
# build/cpython/host_go (Go, purego, CGO_ENABLED=0); installs Debian's CPython test package
# (libpython3.X-testsuite) when a Debian libpython is present without its tests. Prints the
# version x module table and writes it to build/cpython/report.txt (--quick:
# build/cpython/report-quick.txt). Exit status 1 when an embedded-only failure appears that
# tests/cpython/exclusions.txt does not exclude.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH:/usr/local/go/bin"
OUT=${PYRT_CPYTHON_OUT:-$ROOT/build/cpython}

mode=quick
case "${1:-}" in
  --full) mode=full; shift ;;
  --quick) shift ;;
  -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
esac

fail_early() {
  echo "$1"
  echo "0 passed, 1 failed"
  exit 1
}

mkdir -p "$OUT"
cargo build --release >"$OUT/cargo-build.log" 2>&1 || { tail -30 "$OUT/cargo-build.log"; fail_early "cargo build failed"; }

# The hosts use a copy of libpyrt, so that rebuilding target/release during a long run does not
# change the library under it.
mkdir -p "$OUT/lib"
cp target/release/libpyrt.so "$OUT/lib/libpyrt.so.tmp" && mv -f "$OUT/lib/libpyrt.so.tmp" "$OUT/lib/libpyrt.so"
# host_c records libpyrt's soname (libpyrt.so.X.Y), not libpyrt.so: the loader needs that name too.
soname=$(objdump -p "$OUT/lib/libpyrt.so" | awk '$1 == "SONAME" { print $2 }')
[[ -n $soname ]] && ln -sfn libpyrt.so "$OUT/lib/$soname"
CC=${CC:-cc}
$CC -std=c99 -Wall -Wextra -Werror -O2 -Iinclude tests/cpython/host_c.c -o "$OUT/host_c" \
  -L"$OUT/lib" -lpyrt -Wl,-rpath,"$OUT/lib" || fail_early "building host_c failed"
command -v go >/dev/null 2>&1 || fail_early "go not found: the Go host needs Go >= 1.25"
(cd tests/cpython/host_go && GOWORK=off CGO_ENABLED=0 go build -o "$OUT/host_go" .) || fail_early "building host_go failed"

# Debian ships CPython's tests separately; the comparison needs them for its libpython3.X.
for lib in /usr/lib/"$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"/libpython3.*.so.1.0; do
  [[ -e $lib ]] || continue
  v=${lib##*/libpython}; v=${v%%.so*}
  if [[ -x /usr/bin/python$v && ! -e /usr/lib/python$v/test/test_json/__init__.py ]]; then
    echo "installing libpython$v-testsuite (CPython $v's own tests, Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "libpython$v-testsuite" >"$OUT/apt.log" 2>&1 ||
      { apt-get update >>"$OUT/apt.log" 2>&1 && apt-get install -y --no-install-recommends "libpython$v-testsuite" >>"$OUT/apt.log" 2>&1; } ||
      { tail -5 "$OUT/apt.log"; echo "could not install libpython$v-testsuite: its comparison will fail"; }
  fi
done

versions=()
if [[ -n ${PYRT_TEST_PYTHONS:-} ]]; then versions=(--versions "${PYRT_TEST_PYTHONS// /,}"); fi
if [[ $mode == full ]]; then
  exec nice -n 10 python3 tests/cpython/run.py --out "$OUT" --library "$OUT/lib/libpyrt.so" "${versions[@]}" \
    --hosts standalone,c,c-pysig,go,go-pysig --report "$OUT/report.txt" "$@"
else
  # 4 runs at a time on 2 cores: test_signal spends most of its 20-50 s sleeping on timers and
  # signals, not computing (an embedded-only failure is re-run alone before it counts).
  exec nice -n 10 python3 tests/cpython/run.py --out "$OUT/quick" --bindir "$OUT" --library "$OUT/lib/libpyrt.so" "${versions[@]}" \
    --modules json,threading_local,thread,signal --hosts standalone,c,go --jobs 4 --report "$OUT/report-quick.txt" "$@"
fi
