#!/usr/bin/env bash
# pyrt's benchmark suite (docs/performance.md): pyrt from three hosts beside the baselines,
# on every CPython on this machine, as one table of medians and same-run ratios.
#
#   scripts/bench.sh                   full run, every libpython from scripts/pythons.sh
#   scripts/bench.sh 3.12-pyenv ...    full run, only these labels
#   scripts/bench.sh --quick [labels]  every benchmark briefly (3 repetitions, few calls) on the
#                                      newest CPython found (or the labels given): proves the
#                                      benchmarks still run; no figure is meaningful, nothing
#                                      is asserted about time (meant for scripts/test.sh).
#
# Builds what it needs: libpyrt (cargo build --release), the C host build/c/bench/bench
# (bench/c/bench.c, via `make bench-c`), the Go host (bench/go) twice: purego (CGO_ENABLED=0)
# and cgo (-tags pyrt_cgo).
#
# Per CPython (label, libpython), with the real interpreter of the same installation (not a
# pyenv shim) and that Python's venv from scripts/make-venvs.sh (NumPy, for the bulk figures):
#   1. the C host's groups (sqrt, add, records, subprocess, bulk, threads), each interleaving its
#      variants for REPS repetitions (bench/c/bench.c explains them);
#   2. the Go hosts' groups (sqrt incl. the SUBPROCESS worker driven from Go, goroutines, bulk);
#   3. Go Call vs C pyrt_call_json across processes: C, Go purego, Go cgo single figures, run
#      one after the other REPS times; the per-repetition ratios' median;
#   4. start-up: pyrt_new + first call + pyrt_free in a new process vs `python -c pass`,
#      interleaved; and the cost of call counting (stats, on by default): the C sqrt group in
#      a process with counting on, then in one with it off (PYRT_BENCH_STATS=0), REPS times
#      (counting is process-wide, so on and off cannot share a process); the table gives the
#      median over rounds of (typed / LIMIT with counting on) / (the same with it off);
#   5. RSS growth over 1,000,000 calls (C: pyrt_call_json and typed; Go: Call and CallFloat),
#      and over streaming 10,000,000 generator items (Go Stream, WithBatch(1000));
#   6. the server benchmark: 1, 4, 16 and 64 threads/goroutines calling back-to-back (pure
#      Python, a jinja2 render, a numpy reduction), idle and with one busy-looping process per
#      CPU: Go purego with every system (pyrt, pyrt_workers, pyrt_main_thread and the process
#      baselines, which run only there), Go cgo with pyrt on the idle machine only (the FFI
#      flavour matters only for pyrt), the C host with pyrt, pyrt_workers and pyrt_main_thread
#      (bench/go/server.go, bench/c/bench.c); then
#      Go purego and C once more with PYRT_ADMISSION=0, whose pyrt row is "pyrt_unordered":
#      calls without the admission queue, measured in the same run.
#      Fewer, shorter rounds than the groups (PYRT_BENCH_SERVER_REPS, default 5, of 200 ms) keep
#      it near 2.5 minutes per CPython; --quick: idle, N = 1 and 4, REPS rounds of 20 ms.
# Raw lines go to build/bench/raw.tsv, the table to stdout, build/bench/results.md and
# build/bench/results.tsv (bench/report.py). A version without NumPy in its venv shows
# "n/a (no numpy)" in the bulk cells. Progress and per-group figures go to stderr
# (build/bench/log.txt).
#
# Environment: PYRT_BENCH_REPS (default 9 full, 3 quick), PYRT_BENCH_SERVER_REPS (the server
# benchmark's rounds; default 5 full, PYRT_BENCH_REPS quick), PYRT_TEST_PYTHONS (like the label
# args).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"

quick=0
labels=()
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    -*) echo "usage: $0 [--quick] [label...]" >&2; exit 2 ;;
    *) labels+=("$a") ;;
  esac
done
if ((quick)); then REPS=${PYRT_BENCH_REPS:-3}; else REPS=${PYRT_BENCH_REPS:-9}; fi
OUT=$ROOT/build/bench
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
LOG=$OUT/log.txt
: >"$RAW"
: >"$LOG"
start=$(date +%s)

echo "== building libpyrt, the C host and the Go hosts" >&2
make -s lib bench-c >>"$LOG" 2>&1 || { tail -30 "$LOG" >&2; exit 1; }
(cd bench/go && CGO_ENABLED=0 go build -o "$OUT/bench-go-purego" . && go build -tags pyrt_cgo -o "$OUT/bench-go-cgo" .) >>"$LOG" 2>&1 ||
  { tail -30 "$LOG" >&2; exit 1; }
CBENCH=$ROOT/build/c/bench/bench

# "<label> <libpython>" lines to run.
mapfile -t all < <(scripts/pythons.sh)
if ((${#labels[@]})); then
  sel=()
  for l in "${labels[@]}"; do
    line=$(printf '%s\n' "${all[@]}" | awk -v l="$l" '$1 == l' | head -1)
    [[ -n $line ]] || { echo "bench: no CPython labelled $l (scripts/pythons.sh)" >&2; exit 2; }
    sel+=("$line")
  done
elif ((quick)); then
  # the newest version found (highest minor; pyenv before debian for equal versions)
  sel=("$(printf '%s\n' "${all[@]}" | awk '{split($1, v, /[.-]/); printf "%05d %05d %s\n", v[1], v[2], $0}' |
          sort -k1,1nr -k2,2nr -s | head -1 | cut -d' ' -f3-)")
else
  sel=("${all[@]}")
fi

# Venvs (NumPy) per label.
declare -A VENVS
venv_out=$(scripts/make-venvs.sh 2>>"$LOG") || echo "bench: scripts/make-venvs.sh failed (see $LOG): bulk figures will be n/a" >&2
while read -r vl vd; do [[ -n ${vl:-} ]] && VENVS[$vl]=$vd; done <<<"$venv_out"

# The real interpreter of a libpython's installation (as scripts/make-venvs.sh finds it).
interpreter_for() {
  local lib=$1 minor prefix
  minor=$(basename "$lib" | sed -E 's/^libpython(3\.[0-9]+t?).*/\1/')  # 3.13t: python3.13t
  prefix=$(dirname "$(dirname "$lib")")
  for p in "$prefix/bin/python$minor" "$(dirname "$prefix")/bin/python$minor" "/usr/bin/python$minor"; do
    [[ -x $p ]] && { readlink -f "$p"; return; }
  done
  return 1
}

if ((quick)); then CN=(--quick); GN=(-quick); SINGLE=2000; RSSN=20000; else CN=(); GN=(); SINGLE=200000; RSSN=1000000; fi
# The server benchmark's flags for the Go (SG) and C (SC) hosts. Full mode: about 130 cells
# (load, workload, system, N) per CPython, at 5 x 200 ms each.
if ((quick)); then
  SREPS=${PYRT_BENCH_SERVER_REPS:-$REPS}
  SG=(-quick -reps "$SREPS" -server-loads idle -server-n 1,4)
  SC=(--quick --reps "$SREPS" --server-loads idle --server-n 1,4)
else
  SREPS=${PYRT_BENCH_SERVER_REPS:-5}
  SG=(-reps "$SREPS" -server-time 200ms)
  SC=(--reps "$SREPS" --server-time 200)
fi

for line in "${sel[@]}"; do
  read -r label lib <<<"$line"
  py=$(interpreter_for "$lib") || { echo "bench: no interpreter for $lib" >&2; exit 1; }
  venv=${VENVS[$label]:-}
  if [[ -n $venv ]] && ! "$venv/bin/python" -c 'import numpy' 2>/dev/null; then venv=; fi
  export PYRT_LIBPYTHON=$lib PYRT_BENCH_LABEL=$label PYRT_BENCH_PYTHON=$py PYRT_BENCH_DIR=$ROOT/bench PYRT_BENCH_VENV=$venv
  echo "== $label ($lib; interpreter $py; venv ${venv:-none: bulk n/a})" >&2
  run() { # run a host, keep its RESULT/RSS/SKIP/SINGLE/SERVER/COUNT lines; stderr to the log
    "$@" 2>>"$LOG" | grep -E '^(RESULT|RSS|SKIP|SINGLE|SERVER|COUNT)' >>"$RAW" || { echo "bench: failed: $* (see $LOG)" >&2; exit 1; }
  }
  echo "   C host groups" >&2
  run "$CBENCH" --reps "$REPS" "${CN[@]}"
  for h in purego cgo; do
    echo "   Go host ($h) groups" >&2
    run "$OUT/bench-go-$h" -reps "$REPS" "${GN[@]}"
  done
  echo "   Go Call vs C pyrt_call_json (separate processes, $REPS rounds)" >&2
  for ((k = 0; k < REPS; k++)); do
    for h in c purego cgo; do
      if [[ $h == c ]]; then out=$("$CBENCH" --json-only "$SINGLE" 2>>"$LOG"); else out=$("$OUT/bench-go-$h" -single "$SINGLE" 2>>"$LOG"); fi
      grep '^SINGLE' <<<"$out" | sed "s/^SINGLE/SINGLE$k/" >>"$RAW"
    done
  done
  echo "   start-up" >&2
  run "$CBENCH" --startup --reps "$REPS"
  echo "   call counting on vs off (the sqrt group, $REPS rounds of two processes)" >&2
  for ((k = 0; k < REPS; k++)); do
    order="on off"
    ((k % 2)) && order="off on" # alternated, so neither side always runs first
    for st in $order; do
      # Ratios to LIMIT (which pyrt does not count) cancel a process's own speed.
      out=$(PYRT_BENCH_STATS=$([[ $st == on ]] && echo 1 || echo 0) "$CBENCH" --groups sqrt --reps 3 "${CN[@]}" 2>>"$LOG") ||
        { echo "bench: failed: the sqrt group with stats $st (see $LOG)" >&2; exit 1; }
      awk -F'\t' -v k="$k" -v st="$st" 'BEGIN { OFS = "\t" } $1 == "RESULT" && $4 == "sqrt" { print "STATS" k, $2, $3, st, $5, $7, $8 }' <<<"$out" >>"$RAW"
    done
  done
  echo "   RSS over $RSSN calls" >&2
  run "$CBENCH" --rss "$RSSN"
  run "$OUT/bench-go-purego" -rss "$RSSN"
  if [[ -z $venv ]]; then printf 'SKIP\tall\t%s\tbulk\tno numpy\n' "$label" >>"$RAW"; fi
  # Without the venv's packages a workload is left out (the worker processes would fail on it).
  works=pure
  for w in jinja2 numpy; do
    if [[ -n $venv ]] && "$venv/bin/python" -c "import $w" 2>/dev/null; then works+=,$w; else
      printf 'SKIP\tall\t%s\tserver_%s\tno %s in the venv\n' "$label" "$w" "$w" >>"$RAW"
    fi
  done
  echo "   server benchmark ($works; $SREPS rounds)" >&2
  sstart=$(date +%s)
  run "$OUT/bench-go-purego" -server -server-workloads "$works" "${SG[@]}"
  run "$OUT/bench-go-cgo" -server -server-workloads "$works" -server-systems pyrt -server-loads idle "${SG[@]}"
  run "$CBENCH" --server --server-workloads "$works" "${SC[@]}"
  # The same without pyrt's admission queue (PYRT_ADMISSION=0): "pyrt_unordered", the before.
  PYRT_ADMISSION=0 run "$OUT/bench-go-purego" -server -server-workloads "$works" -server-systems pyrt "${SG[@]}"
  PYRT_ADMISSION=0 run "$CBENCH" --server --server-workloads "$works" --server-systems pyrt "${SC[@]}"
  echo "   server benchmark: $(( $(date +%s) - sstart )) s" >&2
done

mode=full
((quick)) && mode="quick (no figure is meaningful)"
cmd="scripts/bench.sh${*:+ $*}"
python3 bench/report.py "$RAW" "$OUT/results.md" "$OUT/results.tsv" "$mode" "$cmd" "$REPS"
echo "bench: $(( $(date +%s) - start )) s; table in build/bench/results.md, raw lines in build/bench/raw.tsv" >&2
