#!/usr/bin/env bash
# Install the CPythons of the test matrix that no system package provides, idempotently, under
#   ${PYRT_PYTHONS:-$HOME/.cache/pyrt/pythons}/<version>/
# with lib/libpython3.X[t].so present in each (a second run costs nothing):
#
#   3.14   CPython 3.14.3, a relocatable shared build published on Maven Central
#          (org.bytedeco:cpython:3.14.3-1.5.13, classifier linux-x86_64), fetched with
#          `mvn dependency:copy` and unpacked; bin/python3.14 works in place and makes venvs.
#   3.13t  free-threaded CPython 3.13 (--disable-gil), built from Debian trixie's python3.13
#          source package (the upstream tarball inside it; `apt-get source` through a trixie
#          deb-src line), --enable-shared, no PGO: about 5 minutes on 2 cores.
#
#   scripts/install-pythons.sh [3.14|3.13t ...]   default: both
#
# Each version that cannot be installed is reported with the reason on stderr and makes the exit
# status 1; the test matrix then reports it MISSING. Logs: <root>/<version>.log.
set -uo pipefail

ROOT=${PYRT_PYTHONS:-$HOME/.cache/pyrt/pythons}
mkdir -p "$ROOT"
say() { printf 'install-pythons: %s\n' "$*" >&2; }
SUDO=""
[[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && SUDO=sudo

# ---- 3.14 from Maven Central
install_314() {
  local dest=$ROOT/3.14 ver=3.14.3 coord=org.bytedeco:cpython:3.14.3-1.5.13:jar:linux-x86_64
  if [[ -x $dest/bin/python3.14 && -e $dest/lib/libpython3.14.so ]] &&
    "$dest/bin/python3.14" -c 'import sys; assert sys.version.startswith("3.14.3")' 2>/dev/null; then
    say "3.14: present ($dest)"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || { say "3.14: mvn not found (apt-get install maven)"; return 1; }
  command -v unzip >/dev/null 2>&1 || $SUDO apt-get install -y --no-install-recommends unzip >/dev/null 2>&1 || true
  local tmp
  tmp=$(mktemp -d)
  say "3.14: fetching $coord"
  if ! mvn -q -B dependency:copy -Dartifact="$coord" -DoutputDirectory="$tmp" -Dmdep.useBaseVersion=true \
    >"$ROOT/3.14.log" 2>&1; then
    tail -5 "$ROOT/3.14.log" >&2
    say "3.14: mvn dependency:copy failed"
    rm -rf "$tmp"
    return 1
  fi
  local jar
  jar=$(ls "$tmp"/*.jar | head -1)
  mkdir -p "$tmp/x"
  (cd "$tmp/x" && unzip -q "$jar" 'org/bytedeco/cpython/linux-x86_64/*') || { say "3.14: unzip failed"; rm -rf "$tmp"; return 1; }
  local top=$tmp/x/org/bytedeco/cpython/linux-x86_64
  rm -rf "$dest.new" && mv "$top" "$dest.new"
  chmod +x "$dest.new"/bin/* 2>/dev/null || true
  mkdir -p "$dest.new/lib"
  # The library sits at the jar's top; lib/ holds the stdlib. Give it the usual place.
  local so
  so=$(ls "$dest.new"/libpython3.14.so* 2>/dev/null | sort | tail -1)
  [[ -n $so ]] || { say "3.14: no libpython3.14.so in the jar"; rm -rf "$tmp"; return 1; }
  for f in "$dest.new"/libpython3.14.so*; do
    ln -sf "../${f##*/}" "$dest.new/lib/${f##*/}"
  done
  [[ -e $dest.new/lib/libpython3.14.so ]] || ln -sf "../${so##*/}" "$dest.new/lib/libpython3.14.so"
  [[ -e $dest.new/lib/libpython3.14.so.1.0 ]] || ln -sf "../${so##*/}" "$dest.new/lib/libpython3.14.so.1.0"
  rm -rf "$dest" && mv "$dest.new" "$dest"
  rm -rf "$tmp"
  if ! "$dest/bin/python3.14" -c 'import sys, ssl, zlib; print(sys.version)' >>"$ROOT/3.14.log" 2>&1; then
    tail -5 "$ROOT/3.14.log" >&2
    say "3.14: installed but bin/python3.14 does not run"
    return 1
  fi
  say "3.14: installed ($dest, $ver)"
}

# ---- 3.13t from Debian trixie's source package
install_313t() {
  local dest=$ROOT/3.13t
  if [[ -x $dest/bin/python3.13t && -e $dest/lib/libpython3.13t.so ]] &&
    "$dest/bin/python3.13t" -c 'import sys; assert not sys._is_gil_enabled()' 2>/dev/null; then
    say "3.13t: present ($dest)"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  local list=/etc/apt/sources.list.d/pyrt-trixie-src.list
  if [[ ! -f $list ]]; then
    echo "deb-src http://deb.debian.org/debian trixie main" | $SUDO tee "$list" >/dev/null
  fi
  # Build dependencies of the modules pip and venv need (ssl, zlib, ctypes, …) and dpkg-source.
  local deps=(dpkg-dev build-essential libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev
    libsqlite3-dev libreadline-dev libncurses-dev uuid-dev libgdbm-dev libexpat1-dev xz-utils)
  local need=()
  for p in "${deps[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  $SUDO apt-get update >"$ROOT/3.13t.log" 2>&1 || { tail -5 "$ROOT/3.13t.log" >&2; say "3.13t: apt-get update failed"; return 1; }
  if ((${#need[@]})); then
    say "3.13t: installing build dependencies: ${need[*]}"
    $SUDO apt-get install -y --no-install-recommends "${need[@]}" >>"$ROOT/3.13t.log" 2>&1 ||
      { tail -5 "$ROOT/3.13t.log" >&2; say "3.13t: apt-get install failed"; return 1; }
  fi
  local src=$ROOT/src-3.13
  mkdir -p "$src"
  if ! ls "$src"/python3.13_*.orig.tar.* >/dev/null 2>&1; then
    say "3.13t: apt-get source --download-only python3.13 (trixie)"
    (cd "$src" && apt-get source --download-only -t trixie python3.13 >>"$ROOT/3.13t.log" 2>&1) ||
      (cd "$src" && apt-get source --download-only python3.13/trixie >>"$ROOT/3.13t.log" 2>&1) ||
      { tail -5 "$ROOT/3.13t.log" >&2; say "3.13t: apt-get source failed"; return 1; }
  fi
  local tarball
  tarball=$(ls "$src"/python3.13_*.orig.tar.* | head -1)
  local build=$src/build
  rm -rf "$build" && mkdir -p "$build"
  tar -xf "$tarball" -C "$build" --strip-components=1 || { say "3.13t: cannot unpack $tarball"; return 1; }
  say "3.13t: building $(basename "$tarball") with --enable-shared --disable-gil (about 5 minutes)"
  (
    cd "$build" &&
      ./configure --prefix="$dest" --enable-shared --disable-gil --without-ensurepip \
        LDFLAGS="-Wl,-rpath,$dest/lib" &&
      make -j"$(nproc)" &&
      make install
  ) >>"$ROOT/3.13t.log" 2>&1 || { tail -20 "$ROOT/3.13t.log" >&2; say "3.13t: build failed (log: $ROOT/3.13t.log)"; return 1; }
  # ensurepip from the stdlib, so that venvs made by this interpreter have pip.
  "$dest/bin/python3.13t" -m ensurepip >>"$ROOT/3.13t.log" 2>&1 || true
  rm -rf "$build"
  if ! "$dest/bin/python3.13t" -c 'import sys, ssl, zlib, ctypes; assert not sys._is_gil_enabled(); print(sys.version)' >>"$ROOT/3.13t.log" 2>&1; then
    tail -5 "$ROOT/3.13t.log" >&2
    say "3.13t: built but the interpreter is not a working free-threaded build"
    return 1
  fi
  say "3.13t: installed ($dest)"
}

want=("$@")
((${#want[@]})) || want=(3.14 3.13t)
rc=0
for v in "${want[@]}"; do
  case $v in
    3.14) install_314 || rc=1 ;;
    3.13t) install_313t || rc=1 ;;
    *) say "unknown version $v"; rc=1 ;;
  esac
done
exit $rc
