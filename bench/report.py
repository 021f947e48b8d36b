"""Makes scripts/bench.sh's table from the hosts' raw lines (build/bench/raw.tsv).

usage: report.py RAW RESULTS_MD RESULTS_TSV MODE COMMAND REPS

Raw lines (tab-separated), from bench/c/bench.c and bench/go/main.go:
  RESULT  host label group variant baseline median_ns median_ratio reps calls
  RSS     host label what calls rss_before_kb rss_after_kb
  SKIP    host label group reason
  SINGLE<k> host label what ns_per_call      (round k of the cross-process Go/C comparison)
Prints the Markdown table to stdout and writes it (and a TSV of the target rows) to the files.
"""
import datetime
import statistics
import sys
from collections import defaultdict

raw, md_path, tsv_path, mode, command, reps = sys.argv[1:7]

results = {}  # (host, label, group, variant) -> (ns, ratio, baseline)
order = []    # (host, group, variant, baseline) in first-seen order
rss = {}      # (host, label, what) -> (calls, before, after)
skips = set()  # (label, group)
singles = defaultdict(dict)  # (label, k) -> host -> ns
labels = []

for line in open(raw):
    f = line.rstrip("\n").split("\t")
    kind = f[0]
    if len(f) < 3:
        continue
    label = f[2]
    if label not in labels:
        labels.append(label)
    if kind == "RESULT":
        host, _, group, variant, base, ns, ratio = f[1:8]
        results[(host, label, group, variant)] = (float(ns), float(ratio), base)
        if (host, group, variant, base) not in order:
            order.append((host, group, variant, base))
    elif kind == "RSS":
        rss[(f[1], label, f[3])] = (int(f[4]), int(f[5]), int(f[6]))
    elif kind == "SKIP":
        skips.add((label, f[3]))
    elif kind.startswith("SINGLE"):
        singles[(label, int(kind[6:]))][f[1]] = float(f[4])


def ratio(host, label, group, variant):
    r = results.get((host, label, group, variant))
    return None if r is None else r[1]


def inv(x):
    return None if x is None else 1.0 / x


def cross(label, host):
    """Median over rounds of host's rt.Call time / the C host's pyrt_call_json time."""
    rs = [d[host] / d["c"] for (l, _), d in singles.items() if l == label and host in d and "c" in d]
    return statistics.median(rs) if rs else None


def rss_kb(host, label, what):
    r = rss.get((host, label, what))
    return None if r is None else r[2] - r[1]


def fresh_overhead(label):
    """(pyrt from a new thread - the bare thread) / (LIMIT from a new thread - the bare thread):
    what a fresh thread's first call costs in pyrt beyond CPython's own thread-state cost."""
    g = "threads_call_json"
    a, b, c = (results.get(("c", label, g, v)) for v in ("new_thread_each_call", "new_thread_without_call", "LIMIT_new_thread_each_call"))
    if not (a and b and c) or c[0] - b[0] <= 0:
        return None
    return (a[0] - b[0]) / (c[0] - b[0])


def limit_pool(label):
    """LIMIT from the pool of 8 threads / LIMIT from one thread: CPython's own cost of 8 threads
    taking turns at one GIL, the floor for pyrt's pool figure."""
    g = "threads_call_json"
    a, b = (ratio("c", label, g, v) for v in ("LIMIT_pool_of_8_threads", "LIMIT_one_thread"))
    return None if not (a and b) else a / b


def parallel(label, free_threaded):
    """Speed-up of 2 goroutines over 1 on spin(20000), for the labels of one build kind."""
    if ("t-" in label) != free_threaded:
        return None
    return inv(ratio("go-purego", label, "parallel_cpu", "two_goroutines"))


LE, GE = "<=", ">="
# (figure, target text, op, limit, function(label) -> value or None, needs numpy, unit)
rows = [
    ("C `pyrt_call_json(\"math\",\"sqrt\",\"[16.0]\")` / LIMIT", "≤ 2.0", LE, 2.0, lambda l: ratio("c", l, "sqrt", "pyrt_call_json"), False, "x"),
    ("C typed call (`pyrt_object_call_double`) / LIMIT", "≤ 1.2", LE, 1.2, lambda l: ratio("c", l, "sqrt", "typed"), False, "x"),
    ("C typed `add(2, 3)` (`pyrt_object_call_int`) / LIMIT", "≤ 1.2", LE, 1.2, lambda l: ratio("c", l, "add", "typed"), False, "x"),
    ("C `pyrt_call_json` `add(2, 3)` / LIMIT", "≤ 2.0", LE, 2.0, lambda l: ratio("c", l, "add", "pyrt_call_json"), False, "x"),
    ("C 1.5 KB records echoed, `pyrt_call_json` / raw C-API + `json` module", "(info)", None, None, lambda l: ratio("c", l, "records", "pyrt_call_json"), False, "x"),
    ("C pool of 8 threads / one thread", "≤ 1.1", LE, 1.1, lambda l: ratio("c", l, "threads_call_json", "pool_of_8_threads"), False, "x"),
    ("C pool of 8 threads / one thread, LIMIT (CPython's GIL hand-offs alone)", "(info)", None, None, limit_pool, False, "x"),
    ("C new thread each call / one thread", "≤ 1.1", LE, 1.1, lambda l: ratio("c", l, "threads_call_json", "new_thread_each_call"), False, "x"),
    ("C new thread each call, pyrt / LIMIT (thread creation subtracted)", "(info)", None, None, fresh_overhead, False, "x"),
    ("Go pool of 8 goroutines / one goroutine (purego)", "≤ 1.1", LE, 1.1, lambda l: ratio("go-purego", l, "goroutines_call", "pool_of_8_goroutines"), False, "x"),
    ("Go new goroutine each call / one goroutine (purego)", "≤ 1.1", LE, 1.1, lambda l: ratio("go-purego", l, "goroutines_call", "new_goroutine_each_call"), False, "x"),
    ("Go 2 goroutines, CPU-bound pure Python: work done / 1 goroutine's (free-threaded builds)", "≥ 1.8", GE, 1.8, lambda l: parallel(l, True), False, "x"),
    ("Go 2 goroutines, CPU-bound pure Python: work done / 1 goroutine's (GIL builds: take turns)", "(info)", None, None, lambda l: parallel(l, False), False, "x"),
    ("Go `Call` purego / C `pyrt_call_json`", "≤ 2.0", LE, 2.0, lambda l: cross(l, "go-purego"), False, "x"),
    ("Go `Call` cgo / C `pyrt_call_json`", "≤ 1.5", LE, 1.5, lambda l: cross(l, "go-cgo"), False, "x"),
    ("SUBPROCESS worker driven from Go / Go `Call` (purego)", "≥ 40", GE, 40, lambda l: ratio("go-purego", l, "sqrt", "SUBPROCESS_worker"), False, "x"),
    ("SUBPROCESS worker driven from Go / Go `Call` (cgo)", "≥ 40", GE, 40, lambda l: ratio("go-cgo", l, "sqrt", "SUBPROCESS_worker"), False, "x"),
    ("SUBPROCESS worker driven from C / C `pyrt_call_json`", "≥ 40", GE, 40, lambda l: ratio("c", l, "subprocess_sqrt", "SUBPROCESS_worker"), False, "x"),
    ("SUBPROCESS worker, 1.5 KB records / C `pyrt_call_json`", "(info)", None, None, lambda l: ratio("c", l, "subprocess_records", "SUBPROCESS_worker"), False, "x"),
    ("spawn `python -c` per call / C `pyrt_call_json`", "(info)", None, None, lambda l: ratio("c", l, "subprocess_sqrt", "SUBPROCESS_spawn_per_call"), False, "x"),
    ("bulk 1M float64 host → numpy multiply → host, zero-copy (C) / MEMCPY bandwidth", "≥ 0.5", GE, 0.5, lambda l: inv(ratio("c", l, "bulk_1M_float64", "zero_copy_in_out_numpy_multiply")), True, "x"),
    ("bulk 1M float64 host → numpy sum, zero-copy (C) / MEMCPY bandwidth", "≥ 0.5", GE, 0.5, lambda l: inv(ratio("c", l, "bulk_1M_float64", "zero_copy_numpy_sum")), True, "x"),
    ("bulk 1M float64 → numpy multiply → new array copied back (C) / MEMCPY bandwidth", "(info)", None, None, lambda l: inv(ratio("c", l, "bulk_1M_float64", "numpy_multiply_copy_back")), True, "x"),
    ("bulk 1M float64 zero-copy in and out (Go purego) / MEMCPY bandwidth", "≥ 0.5", GE, 0.5, lambda l: inv(ratio("go-purego", l, "bulk_1M_float64", "zero_copy_in_out_numpy_multiply")), True, "x"),
    ("bulk 1M float64 as JSON text (C) / MEMCPY bandwidth", "(info)", None, None, lambda l: inv(ratio("c", l, "bulk_1M_float64", "json_text_numpy_sum")), True, "x"),
    ("`pyrt_new` + first call + `pyrt_free` / `python -c pass`", "≤ 1.1", LE, 1.1, lambda l: ratio("c", l, "startup", "pyrt_new+first_call+pyrt_free"), False, "x"),
    ("RSS growth over the calls, C `pyrt_call_json`", "< 1 MB", "<kb", 1024, lambda l: rss_kb("c", l, "pyrt_call_json"), False, "kB"),
    ("RSS growth over the calls, C typed", "< 1 MB", "<kb", 1024, lambda l: rss_kb("c", l, "typed"), False, "kB"),
    ("RSS growth over the calls, Go `Call` (purego)", "< 1 MB", "<kb", 1024, lambda l: rss_kb("go-purego", l, "rt.Call"), False, "kB"),
    ("RSS growth over the calls, Go `CallFloat` (purego)", "< 1 MB", "<kb", 1024, lambda l: rss_kb("go-purego", l, "CallFloat"), False, "kB"),
]


def fmt(v, unit):
    if unit == "kB":
        return f"{v:+d} kB"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def met(op, limit, v):
    if op is None:
        return ""
    ok = v <= limit if op == LE else v >= limit if op == GE else v < limit
    return " ✓" if ok else " ✗"


out = []
tsv = ["figure\ttarget\tpython\tvalue\tmet"]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
out.append(f"pyrt benchmarks, {now}, `{command}` ({mode}; {reps} interleaved repetitions, medians of same-run ratios)")
out.append("")
out.append("| figure | target | " + " | ".join(labels) + " |")
out.append("| --- | --- | " + " | ".join("---" for _ in labels) + " |")
for name, target, op, limit, fn, numpy, unit in rows:
    cells = []
    for l in labels:
        if numpy and ((l, "bulk") in skips):
            cells.append("n/a (no numpy)")
            tsv.append(f"{name}\t{target}\t{l}\tn/a (no numpy)\t")
            continue
        v = fn(l)
        if v is None and fn is fresh_overhead:
            # LIMIT's fresh thread measured no dearer than a bare thread: the difference is noise
            cells.append("n/a (noise)")
            tsv.append(f"{name}\t{target}\t{l}\tn/a (noise)\t")
            continue
        if v is None:
            cells.append("missing")
            tsv.append(f"{name}\t{target}\t{l}\tmissing\t")
            continue
        m = met(op, limit, v)
        cells.append(fmt(v, unit) + m)
        tsv.append(f"{name}\t{target}\t{l}\t{v:.4f}\t{'' if not m else ('yes' if '✓' in m else 'no')}")
    out.append(f"| {name} | {target} | " + " | ".join(cells) + " |")
out.append("")
rss_calls = sorted({c for (c, _, _) in rss.values()})
if rss_calls:
    out.append(f"RSS growth: after {', '.join(f'{c:,}' for c in rss_calls)} calls, measured after 20,000 warm-up calls.")
    out.append("")
out.append("All variants (median ns per call, and × the group's baseline, same run):")
out.append("")
out.append("| host | group | variant | baseline | " + " | ".join(labels) + " |")
out.append("| --- | --- | --- | --- | " + " | ".join("---" for _ in labels) + " |")
for host, group, variant, base in order:
    cells = []
    for l in labels:
        r = results.get((host, l, group, variant))
        if r is None:
            cells.append("n/a (no numpy)" if (l, "bulk") in skips and group.startswith("bulk") else "—")
        else:
            ns = r[0]
            t = f"{ns / 1e6:,.2f} ms" if ns >= 1e6 else f"{ns / 1e3:,.2f} µs" if ns >= 1e4 else f"{ns:,.0f} ns"
            cells.append(f"{t} (×{r[1]:.2f})")
    out.append(f"| {host} | {group} | {variant} | {base} | " + " | ".join(cells) + " |")

text = "\n".join(out) + "\n"
sys.stdout.write(text)
open(md_path, "w").write(text)
open(tsv_path, "w").write("\n".join(tsv) + "\n")
