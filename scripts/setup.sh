#!/usr/bin/env bash
# Install what pyrt's build and test suite need on a fresh Debian machine; idempotent.
#
# Checks each tool and installs only what is missing:
#   - apt packages: gcc g++ make valgrind pkg-config nodejs npm maven unzip  (apt-get update runs
#     only if one is missing; node and npm are for the Node.js binding, bindings/node; maven and
#     unzip fetch CPython 3.14, see below)
#   - Rust (cargo): expected to be present through rustup; a clear error otherwise
#   - Go: optional here (the Go binding's own script checks it); reported if absent
#   - gcc's AddressSanitizer/UBSan runtimes (libasan, libubsan; scripts/test-sanitizers.sh):
#     installed with apt when a test compile with -fsanitize=address,undefined fails
#   - the nightly Rust toolchain and cargo-fuzz (scripts/fuzz.sh): cargo-fuzz is installed from
#     crates.io when missing; a missing nightly is reported (scripts/fuzz.sh then FAILs)
#   - CPython 3.14 and the free-threaded 3.13t, which no Debian package provides
#     (scripts/install-pythons.sh, under ${PYRT_PYTHONS:-~/.cache/pyrt/pythons}; 3.13t is built
#     from source, ~5 minutes, once). Not fatal: a version that cannot be installed is MISSING in
#     the test matrix, and the installer's messages (build/logs/install-pythons.log) are printed
#     under that MISSING line by scripts/test.sh.
# Safe to run again and again; never fails because something is already installed.
set -euo pipefail

say() { printf 'setup: %s\n' "$*"; }

# tool -> Debian package
declare -A PKG=(
  [gcc]=gcc
  [g++]=g++
  [make]=make
  [valgrind]=valgrind
  [pkg-config]=pkg-config
  [node]=nodejs
  [npm]=npm
  [mvn]=maven
  [unzip]=unzip
)

missing=()
for tool in gcc g++ make valgrind pkg-config node npm mvn unzip; do
  if command -v "$tool" >/dev/null 2>&1; then
    say "$tool: present ($(command -v "$tool"))"
  else
    say "$tool: missing"
    missing+=("${PKG[$tool]}")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { say "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    SUDO=sudo
  fi
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Rust: rustup's cargo may not be on PATH in a non-login shell.
if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if command -v cargo >/dev/null 2>&1; then
  say "cargo: present ($(cargo --version))"
else
  say "cargo: missing — install Rust with rustup (https://rustup.rs) and re-run"
  exit 1
fi
# The lint gate (scripts/lint.sh) needs clippy and rustfmt; rustup's default profile has them.
for comp in clippy rustfmt; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1 && rustup component add "$comp" >/dev/null 2>&1; then
      say "$comp: installed (rustup component add $comp)"
    else
      say "$comp: missing and not installable here (the lint stage will fail)"
    fi
  fi
done

# Sanitizer runtimes for gcc (normally pulled in by gcc itself: libgcc-N-dev depends on them).
san_ok() {
  local d
  d=$(mktemp -d)
  printf 'int main(void) { return 0; }\n' >"$d/t.c"
  gcc -fsanitize=address,undefined "$d/t.c" -o "$d/t" >/dev/null 2>&1 && "$d/t"
  local rc=$?
  rm -rf "$d"
  return $rc
}
if san_ok; then
  say "gcc -fsanitize=address,undefined: works"
else
  v=$(gcc -dumpversion 2>/dev/null | cut -d. -f1)
  say "gcc -fsanitize=address,undefined: missing runtimes; installing libgcc-$v-dev (libasan, libubsan)"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "libgcc-$v-dev" || true
  san_ok || { say "gcc sanitizers still do not work"; exit 1; }
fi

# Fuzzing: nightly Rust (cargo-fuzz builds with -Zsanitizer) and cargo-fuzz.
if cargo +nightly --version >/dev/null 2>&1; then
  say "rust nightly: present ($(cargo +nightly --version))"
  if cargo fuzz --version >/dev/null 2>&1; then
    say "cargo-fuzz: present ($(cargo fuzz --version))"
  else
    say "cargo-fuzz: missing; cargo install cargo-fuzz --locked (a few minutes)"
    nice -n 10 cargo install cargo-fuzz --locked >/tmp/pyrt-cargo-fuzz-install.log 2>&1 ||
      { tail -20 /tmp/pyrt-cargo-fuzz-install.log; say "cargo install cargo-fuzz failed"; exit 1; }
  fi
else
  say "rust nightly: missing (rustup toolchain install nightly); scripts/fuzz.sh will FAIL without it"
fi

if command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]]; then
  say "go: present"
else
  say "go: not found (only the Go binding's tests need it)"
fi

here=$(cd "$(dirname "$0")" && pwd)
# CPython 3.14 and 3.13t (scripts/install-pythons.sh; a no-op once installed). Its stderr is kept
# for scripts/test.sh, which prints the reason under the MISSING line of a version it could not
# install.
ip_log=$(dirname "$here")/build/logs/install-pythons.log
mkdir -p "${ip_log%/*}"
if "$here/install-pythons.sh" 2>&1 | tee "$ip_log" | sed 's/^/setup:   /'; then
  say "CPython 3.14, 3.13t: installed"
else
  say "CPython 3.14 / 3.13t: not (all) installed; the tests report them MISSING (see $ip_log)"
fi

# At least one CPython shared library must exist for the examples and tests.
n=$("$here/pythons.sh" | wc -l)
say "CPython shared libraries found: $n"
"$here/pythons.sh" | sed 's/^/setup:   /'
if [[ -n $("$here/pythons.sh" --missing) ]]; then
  say "expected but missing (reported as MISSING by the tests): $("$here/pythons.sh" --missing | tr '\n' ' ')"
fi
say "done"
