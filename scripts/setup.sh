#!/usr/bin/env bash
# Install what pyrt's build and test suite need on a fresh Debian machine; idempotent.
#
# Checks each tool and installs only what is missing:
#   - apt packages: gcc g++ make valgrind pkg-config nodejs npm  (apt-get update runs only if one
#     is missing; node and npm are for the Node.js binding, bindings/node)
#   - Rust (cargo): expected to be present through rustup; a clear error otherwise
#   - Go: optional here (the Go binding's own script checks it); reported if absent
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
)

missing=()
for tool in gcc g++ make valgrind pkg-config node npm; do
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

if command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]]; then
  say "go: present"
else
  say "go: not found (only the Go binding's tests need it)"
fi

# At least one CPython shared library must exist for the examples and tests.
here=$(cd "$(dirname "$0")" && pwd)
n=$("$here/pythons.sh" | wc -l)
say "CPython shared libraries found: $n"
"$here/pythons.sh" | sed 's/^/setup:   /'
if [[ -n $("$here/pythons.sh" --missing) ]]; then
  say "expected but missing (reported as MISSING by the tests): $("$here/pythons.sh" --missing | tr '\n' ' ')"
fi
say "done"
