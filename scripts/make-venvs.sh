#!/usr/bin/env bash
# Build one real virtualenv per CPython that scripts/pythons.sh lists, with numpy (a C extension:
# proves libpython's symbols resolve from an embedded interpreter) and jinja2 (pure Python)
# installed from PyPI. The venvs are made --without-pip, so `pip` exists only in the base
# installation: the tests use it as "a package present only outside the venv".
#
#   scripts/make-venvs.sh        prints "<label> <venv dir>" per Python (built on first use)
#
# Venvs live in build/venvs/<label>; a venv is reused when its .pyrt-ready marker exists. A Python
# whose venv cannot be built is reported on stderr and left out (exit status 1), so that the
# others' venv tests still run.
# Free-threaded ("t") builds get numpy<2.5: numpy 2.5 publishes no cp313t wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/build/venvs
mkdir -p "$root"

# The base interpreter that goes with a libpython (same prefix, or Debian's /usr/bin):
# libpython3.14.so.1.0 -> python3.14, libpython3.13t.so.1.0 -> python3.13t.
interpreter_for() {
  local lib=$1 ver prefix p
  ver=$(basename "$lib" | sed -E 's/^libpython(3\.[0-9]+t?).*/\1/')
  prefix=$(dirname "$(dirname "$lib")")
  for p in "$prefix/bin/python$ver" "$(dirname "$prefix")/bin/python$ver" "/usr/bin/python$ver"; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  return 1
}

make_venv() {  # label lib -> builds $root/<label>
  local label=$1 lib=$2 venv=$root/$1 py pkgs=(numpy jinja2)
  py=$(interpreter_for "$lib") || { echo "make-venvs: no interpreter for $lib" >&2; return 1; }
  [[ $(basename "$py") == *t ]] && pkgs=('numpy<2.5' jinja2)
  # The base installation's pip does the installing; bootstrap it where the base has none.
  if ! "$py" -m pip --version >/dev/null 2>&1; then
    echo "make-venvs: $py has no pip; python -m ensurepip" >&2
    "$py" -m ensurepip >&2 || return 1
  fi
  rm -rf "$venv"
  "$py" -m venv --without-pip "$venv" >&2 || return 1
  # --python: pip installs into the venv, which keeps no pip of its own.
  "$py" -m pip --disable-pip-version-check -q --python "$venv/bin/python" install "${pkgs[@]}" >&2 ||
    return 1
  touch "$venv/.pyrt-ready"
}

rc=0
while read -r label lib; do
  if [ ! -f "$root/$label/.pyrt-ready" ] && ! make_venv "$label" "$lib"; then
    echo "make-venvs: $label: venv not built" >&2
    rc=1
    continue
  fi
  echo "$label $root/$label"
done < <(scripts/pythons.sh)
exit $rc
