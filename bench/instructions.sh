#!/usr/bin/env bash
# Instructions per call of pyrt's hot paths and of the raw C-API (LIMIT), counted by callgrind:
# repeatable whatever the machine is doing, so this is how two versions of a hot path are
# compared. Builds build/bench/instr from bench/c/instr.c against target/release.
#
#   bench/instructions.sh [variant ...]      default: limit limit_vc floor call_json typed add_json add_typed
#   PYRT_LIBPYTHON=<lib>                      which Python (default: CPython 3.11 from scripts/pythons.sh)
#   PYRT_INSTR_CALLS=N                        measured calls per variant (default 20000)
#   PYRT_INSTR_STATS=0                        with call counting off ({"stats": false})
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
out=build/bench
mkdir -p "$out"
[[ -f target/release/libpyrt.so ]] || cargo build --release
cc -std=c99 -O2 -g -Wall -Wextra -Werror -Iinclude bench/c/instr.c -o "$out/instr" -ldl \
  -Ltarget/release -lpyrt -Wl,-rpath,"$PWD/target/release"
if [[ -z ${PYRT_LIBPYTHON:-} ]]; then
  PYRT_LIBPYTHON=$(scripts/pythons.sh | awk '$1 == "3.11-pyenv" { print $2 }')
  export PYRT_LIBPYTHON
fi
n=${PYRT_INSTR_CALLS:-20000}
variants=("$@")
((${#variants[@]})) || variants=(limit limit_vc floor call_json typed add_json add_typed)
echo "instructions per call (callgrind, $n calls + 200 warm-up), $(basename "$PYRT_LIBPYTHON")"
for v in "${variants[@]}"; do
  f=$out/callgrind.$v.out
  if ! valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect=measured \
      "$out/instr" "$v" "$n" >"$out/instr.$v.log" 2>&1; then
    printf '%-12s %s\n' "$v" "n/a ($(grep -v '^==' "$out/instr.$v.log" | tail -1))"
    continue
  fi
  total=$(awk '/^summary:/ { print $2 }' "$f")
  printf '%-12s %8.0f\n' "$v" "$(echo "$total / ($n + 200)" | bc -l)"
done
