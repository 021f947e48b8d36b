#!/usr/bin/env bash
# List the CPython shared libraries on this machine that pyrt's test suite runs against.
#
#   scripts/pythons.sh               one line per supported libpython:  <label> <path>
#   scripts/pythons.sh --unsupported one line per libpython pyrt must REFUSE (2.x, 3.0-3.7,
#                                    3.14+, free-threaded "t" builds):  <label> <path>
#   scripts/pythons.sh --expected    the entries the suite expects to find, one per line
#                                    (a bare "3.X" matches any source, "3.X-src" one source)
#   scripts/pythons.sh --missing     the expected entries that were not found (empty = none)
#
# Labels are "<major.minor>-<source>" (e.g. 3.8-pyenv, 3.11-debian). If one source holds two
# builds of the same minor version, the second is labelled with its full version directory name.
#
# Sources, in order:
#   - pyenv:  $(pyenv root)/versions/*/lib/libpython*.so.1.0   (falls back to $PYENV_ROOT, ~/.pyenv)
#   - debian: /usr/lib/<multiarch>/libpython*.so.1.0
#
# PYRT_PYTHONS (optional): space-separated labels; only those are listed (and only those can be
# missing). Used to run the suite against a subset, e.g. PYRT_PYTHONS="3.12-pyenv" make test.
set -euo pipefail

EXPECTED=(3.8 3.9 3.10 3.11 3.12 3.13 3.11-debian)

mode=supported
case "${1:-}" in
  "") ;;
  --unsupported) mode=unsupported ;;
  --expected) mode=expected ;;
  --missing) mode=missing ;;
  -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--unsupported|--expected|--missing]" >&2; exit 2 ;;
esac

# "libpython3.11.so.1.0" -> "3.11"; "libpython3.6m.so.1.0" -> "3.6m"; "libpython3.13t.so.1.0" -> "3.13t"
lib_version() {
  local base=${1##*/}
  base=${base#libpython}
  echo "${base%%.so*}"
}

# 0 if pyrt supports this version string (3.8..3.13, GIL build), 1 otherwise.
is_supported() {
  local v=$1
  [[ $v =~ ^3\.([0-9]+)$ ]] || return 1
  local minor=${BASH_REMATCH[1]}
  (( minor >= 8 && minor <= 13 ))
}

# Emit "<label> <path>" for every candidate, supported or not, tagged with S/U.
candidates() {
  local seen=" " root multiarch lib v short label dir
  root=""
  if command -v pyenv >/dev/null 2>&1; then
    root=$(pyenv root 2>/dev/null || true)
  fi
  [[ -n $root ]] || root=${PYENV_ROOT:-$HOME/.pyenv}
  if [[ -d $root/versions ]]; then
    # Sort by version so that 3.8 < 3.10 and the first build of a minor gets the short label.
    while IFS= read -r lib; do
      [[ -e $lib ]] || continue
      v=$(lib_version "$lib")
      short=${v%m}                       # 3.6m / 3.7m -> 3.6 / 3.7
      label="$short-pyenv"
      if [[ $seen == *" $label "* ]]; then
        dir=${lib%/lib/*}
        label="${dir##*/}-pyenv"
      fi
      seen+="$label "
      if is_supported "$v"; then echo "S $label $lib"; else echo "U $label $lib"; fi
    done < <(ls -d "$root"/versions/*/lib/libpython*.so.1.0 2>/dev/null | sort -V)
  fi
  multiarch=$(gcc -print-multiarch 2>/dev/null || true)
  [[ -n $multiarch ]] || multiarch=x86_64-linux-gnu
  while IFS= read -r lib; do
    [[ -e $lib ]] || continue
    v=$(lib_version "$lib")
    short=${v%m}
    label="$short-debian"
    if is_supported "$v"; then echo "S $label $lib"; else echo "U $label $lib"; fi
  done < <(ls -d /usr/lib/"$multiarch"/libpython*.so.1.0 2>/dev/null | sort -V)
}

selected() {  # filter by PYRT_PYTHONS
  local label=$1
  [[ -z ${PYRT_PYTHONS:-} ]] && return 0
  [[ " $PYRT_PYTHONS " == *" $label "* ]]
}

case $mode in
  supported|unsupported)
    want=S; [[ $mode == unsupported ]] && want=U
    candidates | while read -r tag label path; do
      [[ $tag == "$want" ]] || continue
      [[ $want == U ]] || selected "$label" || continue
      echo "$label $path"
    done
    ;;
  expected)
    if [[ -n ${PYRT_PYTHONS:-} ]]; then
      for l in $PYRT_PYTHONS; do echo "$l"; done
    else
      printf '%s\n' "${EXPECTED[@]}"
    fi
    ;;
  missing)
    found=$(candidates | awk '$1 == "S" { print $2 }')
    "$0" --expected | while read -r want; do
      if [[ $want == *-* ]]; then
        grep -qxF -- "$want" <<<"$found" || echo "$want"
      else
        # A bare version is satisfied by any source except one that is listed explicitly.
        ok=0
        while read -r l; do
          [[ -n $l && ${l%%-*} == "$want" ]] || continue
          if ! printf '%s\n' "${EXPECTED[@]}" | grep -qxF -- "$l"; then ok=1; fi
        done <<<"$found"
        (( ok )) || echo "$want"
      fi
    done
    ;;
esac
