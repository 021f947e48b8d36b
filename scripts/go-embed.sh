#!/usr/bin/env bash
# Rebuild the libpyrt copies embedded in the Go module (bindings/go/lib/) and their generated
# descriptions (bindings/go/embed_linux_<arch>.go). `make go-embed` runs this; commit the result.
#
#   scripts/go-embed.sh              linux/amd64, and linux/arm64 when it can be cross-built here
#   scripts/go-embed.sh amd64        only these GOARCHes
#
# Each copy is a release build of the current sources (cargo zigbuild --release --locked, in its
# own target directory build/embed/ so target/release is left alone) linked against glibc 2.17 by
# zig, so that it loads on any glibc >= 2.17 (CentOS 7, Debian 9, Ubuntu 18.04 and later) rather
# than only on systems as new as the build machine; with debug info and the symbol table
# stripped (the exported pyrt_* functions stay) and the build machine's paths remapped
# (--remap-path-prefix); compressed with gzip -9 -n (decodable by Go's standard library). The Go
# file records the library's size, SHA-256 (checked before it is loaded), pyrt_version(),
# pyrt_source_hash() (= scripts/source-hash.sh of the tree it was built from; the Go test
# TestEmbeddedLibrary compares it with the sources, so a stale copy fails the suite) and the
# newest glibc symbol version it needs.
#
# Tools: cargo-zigbuild and zig. When they are not on PATH they are installed into
# build/embed/tools (cargo install --locked cargo-zigbuild@$ZIGBUILD_VERSION from crates.io, and
# the ziglang==$ZIG_VERSION wheel from PyPI into a venv), once. Each target needs its Rust
# standard library: rustup target add x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu (a
# target that is missing is skipped with a message, leaving the committed copy as it is). With
# qemu-user and the arm64 libc (Debian: qemu-user, libc6-arm64-cross), a Go program built for
# linux/arm64 then loads the embedded arm64 copy and calls it under emulation (there is no arm64
# libpython here, so it stops at a clean "libpython not found").
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH:/usr/local/go/bin"
GODIR=bindings/go
LIBDIR=$GODIR/lib
TARGET_DIR=$ROOT/build/embed
mkdir -p "$LIBDIR"

ARCHES=("$@")
((${#ARCHES[@]})) || ARCHES=(amd64 arm64)

triple_of() {
  case $1 in
    amd64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
    *) echo "unsupported GOARCH $1" >&2; return 1 ;;
  esac
}

GLIBC=2.17
ZIGBUILD_VERSION=0.24.1
ZIG_VERSION=0.17.1
TOOLS=$ROOT/build/embed/tools

# cargo-zigbuild and zig: from PATH, else installed into build/embed/tools.
if ! command -v cargo-zigbuild >/dev/null; then
  if [[ ! -x $TOOLS/bin/cargo-zigbuild ]]; then
    echo "== installing cargo-zigbuild $ZIGBUILD_VERSION into $TOOLS (crates.io)"
    cargo install --locked --root "$TOOLS" "cargo-zigbuild@$ZIGBUILD_VERSION"
  fi
  export PATH="$TOOLS/bin:$PATH"
fi
if ! command -v zig >/dev/null && ! python3 -c 'import ziglang' 2>/dev/null; then
  if [[ ! -x $TOOLS/zig-venv/bin/python3 ]] || ! "$TOOLS/zig-venv/bin/python3" -c 'import ziglang' 2>/dev/null; then
    echo "== installing zig (ziglang==$ZIG_VERSION from PyPI) into $TOOLS/zig-venv"
    python3 -m venv "$TOOLS/zig-venv"
    "$TOOLS/zig-venv/bin/pip" install --quiet "ziglang==$ZIG_VERSION"
  fi
  export PATH="$TOOLS/zig-venv/bin:$PATH" # cargo-zigbuild runs `python3 -m ziglang`
fi

VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOURCE_HASH=$(scripts/source-hash.sh)
CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
echo "== pyrt $VERSION, sources $SOURCE_HASH"

build_arch() {
  local arch=$1 triple lib out gz go_file size sha glibc
  triple=$(triple_of "$arch")
  if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    echo "== linux/$arch skipped: the Rust target is missing (rustup target add $triple)"
    return 0
  fi
  echo "== linux/$arch: cargo zigbuild --release --target $triple.$GLIBC"
  CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols \
    RUSTFLAGS="--remap-path-prefix=$ROOT=pyrt --remap-path-prefix=$CARGO_HOME=cargo" \
    cargo zigbuild --release --locked --lib -p pyrt --target "$triple.$GLIBC" --target-dir "$TARGET_DIR"
  lib=$TARGET_DIR/$triple/release/libpyrt.so

  # Only pyrt_* may be exported (zig links its unwinder statically; it must stay hidden), and no
  # glibc symbol newer than $GLIBC may be needed.
  local extra
  extra=$(nm -D --defined-only "$lib" | awk '$3 !~ /^pyrt_/' || true)
  if [[ -n $extra ]]; then
    echo "the library exports more than pyrt_*: $extra" >&2
    return 1
  fi

  # The library must carry the hash of these sources (the build cannot have raced an edit).
  if ! grep -qa "$SOURCE_HASH" "$lib"; then
    echo "the built library does not contain the source hash $SOURCE_HASH" >&2
    return 1
  fi
  if [[ $(scripts/source-hash.sh) != "$SOURCE_HASH" ]]; then
    echo "the sources changed during the build; run again" >&2
    return 1
  fi
  if grep -qa "$ROOT" "$lib"; then
    echo "warning: the library still contains the build path $ROOT" >&2
  fi

  out=$LIBDIR/libpyrt-linux-$arch.so.gz
  gzip -9 -n -c "$lib" >"$out.tmp"
  mv "$out.tmp" "$out"
  size=$(stat -c %s "$lib")
  sha=$(sha256sum "$lib" | cut -d' ' -f1)
  glibc=$(objdump -T "$lib" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -n 1 || true)
  glibc=${glibc#GLIBC_}
  if [[ -z $glibc || $(printf '%s\n%s\n' "$glibc" "$GLIBC" | sort -V | tail -n 1) != "$GLIBC" ]]; then
    echo "the library needs glibc ${glibc:-?}, more than $GLIBC" >&2
    return 1
  fi
  go_file=$GODIR/embed_linux_$arch.go
  cat >"$go_file" <<GO
// Code generated by scripts/go-embed.sh (make go-embed); DO NOT EDIT.

//go:build linux && $arch && !pyrt_cgo && !pyrt_noembed

package pyrt

import _ "embed"

//go:embed lib/libpyrt-linux-$arch.so.gz
var embeddedLinux${arch^}Gz []byte

func init() {
	embeddedCopy = &embeddedLib{
		platform:   "linux/$arch",
		gz:         embeddedLinux${arch^}Gz,
		size:       $size,
		sha256:     "$sha",
		version:    "$VERSION",
		sourceHash: "$SOURCE_HASH",
		glibc:      "$glibc",
	}
}
GO
  gofmt -w "$go_file"
  printf '   %s: %s bytes stripped, %s bytes gzipped, sha256 %s, needs glibc %s\n' \
    "$out" "$size" "$(stat -c %s "$out")" "$sha" "$glibc"

  if [[ $arch == arm64 ]]; then
    probe_arm64
  fi
}

# Run a Go program built for linux/arm64 (CGO_ENABLED=0, purego) under qemu-user: outside the
# repository, with no environment, it must load the embedded arm64 copy and call it (pyrt_new
# must then fail cleanly: there is no arm64 libpython here).
probe_arm64() {
  local qemu sysroot=/usr/aarch64-linux-gnu dir out
  qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
  if [[ -z $qemu || ! -e $sysroot/lib/ld-linux-aarch64.so.1 ]]; then
    echo "   (arm64 copy not run: needs qemu-user and libc6-arm64-cross; checked statically only)"
    return 0
  fi
  dir=$(mktemp -d)
  cat >"$dir/main.go" <<'GO'
package main

import (
	"errors"
	"fmt"
	"os"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

func main() {
	v, err := pyrt.LoadLibrary()
	if err != nil {
		fmt.Println("load:", err)
		os.Exit(1)
	}
	_, err = pyrt.New(pyrt.WithLibpython("/nonexistent/libpython3.12.so.1.0"))
	fmt.Println(v, errors.Is(err, pyrt.ErrLibpythonNotFound))
}
GO
  printf 'module armprobe\n\ngo 1.25\n\nrequire github.com/pyrt-dev/pyrt/bindings/go v0.0.0\n\nreplace github.com/pyrt-dev/pyrt/bindings/go => %s\n' \
    "$ROOT/$GODIR" >"$dir/go.mod"
  cp "$GODIR/go.sum" "$dir/"
  (cd "$dir" && GOWORK=off GOFLAGS=-mod=mod GOARCH=arm64 CGO_ENABLED=0 go build -trimpath -o probe .)
  out=$(cd "$dir" && env -u PYRT_LIBRARY "$qemu" -L "$sysroot" ./probe)
  rm -rf "$dir"
  echo "   arm64 Go program under $(basename "$qemu"): $out"
  [[ $out == "$VERSION true" ]] || { echo "arm64 probe failed" >&2; return 1; }
}

for arch in "${ARCHES[@]}"; do build_arch "$arch"; done

echo "== checking the host's copy (go test -run TestEmbeddedLibrary)"
(cd "$GODIR" && PYRT_TEST_EMBEDDED=1 CGO_ENABLED=0 go test -count=1 -run 'TestEmbeddedLibrary' .)
echo "== done: commit $LIBDIR and $GODIR/embed_linux_*.go"
