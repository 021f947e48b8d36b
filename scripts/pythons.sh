#!/usr/bin/env bash
# List the CPython shared libraries on this machine that pyrt's test suite runs against.
#
#   scripts/pythons.sh               one line per supported libpython:  <label> <path>
#   scripts/pythons.sh --unsupported one line per libpython pyrt must REFUSE (2.x, 3.0-3.7):
#                                    <label> <path>
#   scripts/pythons.sh --expected    the entries the suite expects to find, one per line
#                                    (a bare "3.X" matches any source, "3.X-src" one source)
#   scripts/pythons.sh --missing     the expected entries that were not found (empty = none)
#
# Supported: CPython 3.8 or later, free-threaded "t" builds included. Anything else (debug "d"
# builds, 4.x) is in neither list.
#
# Labels are "<major.minor>[t]-<source>" (e.g. 3.8-pyenv, 3.11-debian, 3.13t-pyrt; "t" marks a
# free-threaded build). If one source holds two builds of the same version, the second is
# labelled with its directory name.
#
# Sources, in order:
#   - pyenv:  $(pyenv root)/versions/*/lib/libpython*.so.1.0   (falls back to $PYENV_ROOT, ~/.pyenv)
#   - debian: /usr/lib/<multiarch>/libpython*.so.1.0
#   - pyrt:   ${PYRT_PYTHONS:-~/.cache/pyrt/pythons}/*/lib/libpython3*.so.1.0, what
#             scripts/install-pythons.sh installs (3.14, 3.13t); listed as found, links unresolved
#
# PYRT_TEST_PYTHONS (optional): space-separated labels; only those are listed (and only those can
# be missing). Used to run the suite against a subset, e.g.
#   PYRT_TEST_PYTHONS="3.12-pyenv" make test
set -euo pipefail

EXPECTED=(3.8 3.9 3.10 3.11 3.12 3.13 3.14 3.13t 3.11-debian)

mode=supported
case "${1:-}" in
  "") ;;
  --unsupported) mode=unsupported ;;
  --expected) mode=expected ;;
  --missing) mode=missing ;;
  -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--unsupported|--expected|--missing]" >&2; exit 2 ;;
esac

# "libpython3.11.so.1.0" -> "3.11"; "libpython3.6m.so.1.0" -> "3.6m"; "libpython3.13t.so.1.0" -> "3.13t"
lib_version() {
  local base=${1##*/}
  base=${base#libpython}
  echo "${base%%.so*}"
}

# S if pyrt supports this version string (3.8 or later, "t" builds too), U if it must refuse it
# (2.x, 3.0-3.7, any ABI flags), X otherwise (e.g. a debug build: neither list).
support_tag() {
  local v=$1
  if [[ $v =~ ^3\.([0-9]+)t?$ ]] && ((BASH_REMATCH[1] >= 8)); then echo S
  elif [[ $v =~ ^2\. || $v =~ ^3\.[0-7]([^0-9]|$) ]]; then echo U
  else echo X; fi
}

# Emit "<tag> <label> <path>" for every candidate, tag S, U or X (support_tag).
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
      echo "$(support_tag "$v") $label $lib"
    done < <(ls -d "$root"/versions/*/lib/libpython*.so.1.0 2>/dev/null | sort -V)
  fi
  multiarch=$(gcc -print-multiarch 2>/dev/null || true)
  [[ -n $multiarch ]] || multiarch=x86_64-linux-gnu
  while IFS= read -r lib; do
    [[ -e $lib ]] || continue
    v=$(lib_version "$lib")
    short=${v%m}
    label="$short-debian"
    echo "$(support_tag "$v") $label $lib"
  done < <(ls -d /usr/lib/"$multiarch"/libpython*.so.1.0 2>/dev/null | sort -V)
  # scripts/install-pythons.sh's root: <root>/<version>/lib/libpython3.X[t].so.1.0 (3.14's is a
  # link to the library at its prefix's top; pyrt gets the path under lib/ as found).
  local pyrt_root=${PYRT_PYTHONS:-$HOME/.cache/pyrt/pythons}
  seen=" "
  while IFS= read -r lib; do
    [[ -e $lib ]] || continue
    v=$(lib_version "$lib")
    label="$v-pyrt"
    if [[ $seen == *" $label "* ]]; then
      dir=${lib%/lib/*}
      label="${dir##*/}-pyrt"
    fi
    seen+="$label "
    echo "$(support_tag "$v") $label $lib"
  done < <(ls -d "$pyrt_root"/*/lib/libpython3*.so.1.0 2>/dev/null | sort -V)
}

selected() {  # filter by PYRT_TEST_PYTHONS
  local label=$1
  [[ -z ${PYRT_TEST_PYTHONS:-} ]] && return 0
  [[ " $PYRT_TEST_PYTHONS " == *" $label "* ]]
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
    if [[ -n ${PYRT_TEST_PYTHONS:-} ]]; then
      for l in $PYRT_TEST_PYTHONS; do echo "$l"; done
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
