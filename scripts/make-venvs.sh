#!/usr/bin/env bash
# Build one real virtualenv per CPython that scripts/pythons.sh lists, with numpy (a C extension:
# proves libpython's symbols resolve from an embedded interpreter) and jinja2 (pure Python)
# installed from PyPI. The venvs are made --without-pip, so `pip` exists only in the base
# installation: the tests use it as "a package present only outside the venv".
#
#   scripts/make-venvs.sh        prints "<label> <venv dir>" per Python (built on first use)
#
# Venvs live in build/venvs/<label>; a venv is reused when its .pyrt-ready marker exists.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/build/venvs
mkdir -p "$root"

# The base interpreter that goes with a libpython (same prefix, or Debian's /usr/bin).
interpreter_for() {
  local lib=$1 minor
  minor=$(basename "$lib" | sed -E 's/^libpython(3\.[0-9]+).*/\1/')
  local prefix
  prefix=$(dirname "$(dirname "$lib")")
  for p in "$prefix/bin/python$minor" "$(dirname "$prefix")/bin/python$minor" "/usr/bin/python$minor"; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  return 1
}

scripts/pythons.sh | while read -r label lib; do
  venv=$root/$label
  if [ ! -f "$venv/.pyrt-ready" ]; then
    py=$(interpreter_for "$lib") || { echo "make-venvs: no interpreter for $lib" >&2; exit 1; }
    rm -rf "$venv"
    "$py" -m venv --without-pip "$venv" >&2
    # The base installation's pip installs into the venv (--python), so the venv keeps no pip.
    "$py" -m pip --disable-pip-version-check -q --python "$venv/bin/python" install numpy jinja2 >&2
    touch "$venv/.pyrt-ready"
  fi
  echo "$label $venv"
done
