"""Makes scripts/bench.sh's table from the hosts' raw lines (build/bench/raw.tsv).

usage: report.py RAW RESULTS_MD RESULTS_TSV MODE COMMAND REPS

Raw lines (tab-separated), from bench/c/bench.c and bench/go/main.go:
  RESULT  host label group variant baseline median_ns median_ratio reps calls
  RSS     host label what calls rss_before_kb rss_after_kb
  COUNT   host label what value
  SKIP    host label group reason
  SINGLE<k> host label what ns_per_call      (round k of the cross-process Go/C comparison)
  STATS<k>  host label on|off variant median_ns ratio_to_LIMIT
          (round k of the sqrt group with call counting on, then off, in two processes)
  SERVER  host label load workload system N calls_per_s p50_us p99_us max_us reps
          (the server benchmark: bench/go/server.go, bench/c/bench.c --server)
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
server = {}   # (label, load, workload, host, system, n) -> (calls_per_s, p50_us, p99_us, max_us)
server_reps = set()
counts = {}  # (host, label, what) -> value
server_skips = defaultdict(list)  # label -> [(host, group, reason)]
stats_rounds = defaultdict(dict)  # (label, k) -> (on|off, variant) -> ratio to LIMIT

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
    elif kind == "COUNT":
        counts[(f[1], label, f[3])] = int(f[4])
    elif kind == "SKIP":
        skips.add((label, f[3]))
        skip = (f[1], f[3], f[4] if len(f) > 4 else "")
        if f[3].startswith("server_") and skip not in server_skips[label]:  # the Go host says it per load
            server_skips[label].append(skip)
    elif kind == "SERVER":
        host, _, load, work, system, n = f[1:7]
        server[(label, load, work, host, system, int(n))] = tuple(float(x) for x in f[7:11])
        server_reps.add(int(f[11]))
    elif kind.startswith("STATS"):
        stats_rounds[(label, int(kind[5:]))][(f[3], f[4])] = float(f[6])
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


def stats_cost(label, variant):
    """Median over rounds of (variant / LIMIT with call counting on) / (the same with it off)."""
    rs = [d[("on", variant)] / d[("off", variant)] for (l, _), d in stats_rounds.items()
          if l == label and ("on", variant) in d and ("off", variant) in d]
    return statistics.median(rs) if rs else None


def rss_kb(host, label, what):
    r = rss.get((host, label, what))
    return None if r is None else r[2] - r[1]


def async_ratio(label):
    """The 10,000-awaits round / the goroutines' round (whatever the group's size)."""
    for (host, l, group, variant), r in results.items():
        if host == "go-purego" and l == label and group.startswith("async_") and variant == "CallAsync_asyncio_sleep":
            return r[1]
    return None


def async_ms(label):
    for (host, l, group, variant), r in results.items():
        if host == "go-purego" and l == label and group.startswith("async_") and variant == "CallAsync_asyncio_sleep":
            return r[0] / 1e6
    return None


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
    ("C typed sqrt, call counting on / off (`\"stats\": false`; each per LIMIT, processes alternating)", "≤ 1.03", LE, 1.03, lambda l: stats_cost(l, "typed"), False, "x"),
    ("C `pyrt_call_json` sqrt, call counting on / off (as above)", "(info)", None, None, lambda l: stats_cost(l, "pyrt_call_json"), False, "x"),
    ("C 1.5 KB records echoed, `pyrt_call_json` / raw C-API + `json` module", "(info)", None, None, lambda l: ratio("c", l, "records", "pyrt_call_json"), False, "x"),
    ("C pool of 8 threads / one thread", "≤ 1.1", LE, 1.1, lambda l: ratio("c", l, "threads_call_json", "pool_of_8_threads"), False, "x"),
    ("C pool of 8 threads / one thread, LIMIT (CPython's GIL hand-offs alone)", "(info)", None, None, limit_pool, False, "x"),
    ("C new thread each call / one thread", "≤ 1.1", LE, 1.1, lambda l: ratio("c", l, "threads_call_json", "new_thread_each_call"), False, "x"),
    ("C new thread each call, pyrt / LIMIT (thread creation subtracted)", "(info)", None, None, fresh_overhead, False, "x"),
    ("Go pool of 8 goroutines / one goroutine (purego)", "≤ 1.1", LE, 1.1, lambda l: ratio("go-purego", l, "goroutines_call", "pool_of_8_goroutines"), False, "x"),
    ("Go new goroutine each call / one goroutine (purego)", "≤ 1.1", LE, 1.1, lambda l: ratio("go-purego", l, "goroutines_call", "new_goroutine_each_call"), False, "x"),
    ("Go 2 goroutines, CPU-bound pure Python: work done / 1 goroutine's (free-threaded builds)", "≥ 1.8", GE, 1.8, lambda l: parallel(l, True), False, "x"),
    ("Go 2 goroutines, CPU-bound pure Python: work done / 1 goroutine's (GIL builds: take turns)", "(info)", None, None, lambda l: parallel(l, False), False, "x"),
    ("Go 2 goroutines on 2 `workers`, CPU-bound pure Python: work done / 1 goroutine's (3.12+ with a GIL)", "≥ 1.8", GE, 1.8, lambda l: inv(ratio("go-purego", l, "parallel_cpu_workers", "two_goroutines")), False, "x"),
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
    ("Go `Stream` of a generator, per small int, step per item / the same ints as one list (`Call`)", "(info)", None, None, lambda l: ratio("go-purego", l, "stream_small_ints", "Stream_step_per_item"), False, "x"),
    ("Go `Stream` of a generator, per small int, `WithBatch(256)` / the same ints as one list (`Call`)", "≤ 3", LE, 3.0, lambda l: ratio("go-purego", l, "stream_small_ints", "Stream_WithBatch_256"), False, "x"),
    ("Go 10,000 `CallAsync` awaiting `asyncio.sleep(0.05)`: wall time of the round", "< 1 s", LE, 1000.0, async_ms, False, "ms"),
    ("Go 10,000 `CallAsync` round / 10,000 goroutines sleeping 50 ms", "(info)", None, None, async_ratio, False, "x"),
    ("Go OS threads while 10,000 awaits are in flight", "(info)", None, None, lambda l: counts.get(("go-purego", l, "os_threads_while_awaiting")), False, "n"),
    ("RSS growth streaming the items (Go `Stream`, `WithBatch(1000)`)", "< 1 MB", "<kb", 1024, lambda l: rss_kb("go-purego", l, "Stream"), False, "kB"),
    ("RSS growth over the calls, C `pyrt_call_json`", "< 1 MB", "<kb", 1024, lambda l: rss_kb("c", l, "pyrt_call_json"), False, "kB"),
    ("RSS growth over the calls, C typed", "< 1 MB", "<kb", 1024, lambda l: rss_kb("c", l, "typed"), False, "kB"),
    ("RSS growth over the calls, Go `Call` (purego)", "< 1 MB", "<kb", 1024, lambda l: rss_kb("go-purego", l, "rt.Call"), False, "kB"),
    ("RSS growth over the calls, Go `CallFloat` (purego)", "< 1 MB", "<kb", 1024, lambda l: rss_kb("go-purego", l, "CallFloat"), False, "kB"),
]


def fmt(v, unit):
    if unit == "kB":
        return f"{v:+d} kB"
    if unit == "ms":
        return f"{v:,.0f} ms"
    if unit == "n":
        return f"{v:,.0f}"
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
rss_calls = sorted({c for (h, _, w), (c, _, _) in rss.items() if w != "Stream"})
rss_items = sorted({c for (h, _, w), (c, _, _) in rss.items() if w == "Stream"})
if rss_calls:
    out.append(f"RSS growth: after {', '.join(f'{c:,}' for c in rss_calls)} calls, measured after 20,000 warm-up calls"
               + (f"; streaming: from the {min(1_000_000, rss_items[0] // 10):,}th item to the last of {rss_items[0]:,}." if rss_items else "."))
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

# ---- the server benchmark (SERVER lines) -------------------------------------------------------

SYSTEMS = ["pyrt", "pyrt_unordered", "pyrt_main_thread", "pyrt_workers", "single_worker", "process_pool"]
SERVER_HOSTS = ["c", "go-cgo", "go-purego"]
BASE_HOST = "go-purego"  # the process baselines run only in the Go purego host
FAIR_FACTOR, FAIR_CAP_US, KEEP_UP, VS_SINGLE, VS_POOL = 3.0, 2000.0, 0.95, 3.0, 1.0


def first_seen(values, known):
    return sorted(set(values), key=lambda v: (known.index(v) if v in known else len(known), v))


def srv(label, load, work, host, system, n):
    return server.get((label, load, work, host, system, n))


def tput_ratio(a, b):
    return None if not a or not b or b[0] <= 0 else a[0] / b[0]


def us(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def server_section(label):
    keys = [k for k in server if k[0] == label]
    if not keys:
        return
    loads = first_seen([k[1] for k in keys], ["idle", "loaded"])
    works = first_seen([k[2] for k in keys], ["pure", "jinja2", "numpy"])
    hosts = first_seen([k[3] for k in keys], SERVER_HOSTS)
    ns = sorted({k[5] for k in keys})
    out.append(f"### {label}")
    out.append("")
    for load in loads:
        for work in works:
            rows = [(h, sy) for sy in SYSTEMS for h in hosts if any(srv(label, load, work, h, sy, n) for n in ns)]
            if not rows:
                continue
            out.append(f"{label}, {load}, {work}:")
            out.append("")
            out.append("| host | system | " + " | ".join(f"N={n}" for n in ns) + " |")
            out.append("| --- | --- | " + " | ".join("---" for _ in ns) + " |")
            for h, sy in rows:
                cells = []
                for n in ns:
                    v = srv(label, load, work, h, sy, n)
                    if v is None:
                        cells.append("—")
                        continue
                    r1 = tput_ratio(v, srv(label, load, work, h, sy if sy == "pyrt_unordered" else "pyrt", 1))
                    c = f"{v[0]:,.0f}/s" + (f" (×{r1:.2f})" if r1 is not None else "") + f"; {us(v[1])} / {us(v[2])} / {us(v[3])} µs"
                    name = f"server {h} {sy}, {load}, {work}, N={n}"
                    tsv.append(f"{name}: calls/s\t(info)\t{label}\t{v[0]:.0f}\t")
                    for what, x in zip(("p50", "p99", "max"), v[1:]):
                        tsv.append(f"{name}: {what} µs\t(info)\t{label}\t{x:.1f}\t")
                    if sy.startswith("pyrt"):
                        vs = []
                        for base in ("single_worker", "process_pool"):
                            r = tput_ratio(v, srv(label, load, work, BASE_HOST, base, n))
                            if r is not None:
                                vs.append(f"×{r:.2f} {base}")
                        if vs:
                            c += "; " + ", ".join(vs)
                    cells.append(c)
                out.append(f"| {h} | {sy} | " + " | ".join(cells) + " |")
            out.append("")
    for host, group, reason in server_skips.get(label, []):
        out.append(f"- skipped: {group[len('server_'):]} ({host}): {reason}")
    if server_skips.get(label):
        out.append("")
    server_targets(label, loads, works, hosts, ns)


def server_targets(label, loads, works, hosts, ns):
    """Each target per (host, load, workload), every N it covers; a miss is reported, not fatal."""
    out.append(f"Targets, {label}:")
    out.append("")

    def verdict(name, checks):
        # checks: [(where, note, [(n, figure text, ok, value, limit text)])]
        for where, note, figs in checks:
            if not figs:
                continue
            okall = all(ok for _, _, ok, _, _ in figs)
            out.append(f"  - {where}{note}: **{'met' if okall else 'missed'}** — " + "; ".join(t for _, t, _, _, _ in figs))
            for n, _, ok, v, lim in figs:
                tsv.append(f"server {name}: {where}, N={n}\t{lim}\t{label}\t{v:.4f}\t{'yes' if ok else 'no'}")

    def mark(ok):
        return "✓" if ok else "✗"

    pyrt_where = [(h, load, w) for h in hosts for load in loads for w in works if srv(label, load, w, h, "pyrt", 1)]

    def pyrt_cells():
        """(where, figures at N=1, [(N, figures)] for N ≥ 2) of pyrt, of pyrt_main_thread against
        pyrt's N=1 (the same calls made on the interpreter thread instead of the caller's), then of
        pyrt_unordered against its own N=1."""
        for system, suffix in (("pyrt", ""), ("pyrt_main_thread", ", main_thread"), ("pyrt_unordered", ", unordered")):
            for h, load, w in pyrt_where:
                one = srv(label, load, w, h, "pyrt_unordered" if system == "pyrt_unordered" else "pyrt", 1)
                if one is None:
                    continue
                cells = [(n, srv(label, load, w, h, system, n)) for n in ns if n >= 2]
                cells = [(n, v) for n, v in cells if v is not None]
                if cells:
                    yield f"{h}, {load}, {w}{suffix}", one, cells

    # "p99 ≤ 3 × N × the single-call median (and ≤ 2 ms where that is smaller)": 2 ms is the bound
    # where 3·N·p50₁ is below it (a floor for small N, where a few µs of noise would decide).
    out.append(f"- (a) fairness: pyrt's p99 with N ≥ 2 callers ≤ {FAIR_FACTOR:g} × N × its p50 at N=1, or ≤ "
               f"{FAIR_CAP_US:,.0f} µs where that is smaller (bound = max(3·N·p50₁, 2 ms); GIL builds; "
               "pyrt_main_thread, whose calls all run on the interpreter thread, against pyrt's p50 at N=1; "
               "pyrt_unordered, without the admission queue, for comparison)")
    if "t-" in label:
        out.append("  - n/a: a free-threaded build (no GIL to take turns at)")
    else:
        checks = []
        for where, one, cells in pyrt_cells():
            figs = []
            for n, v in cells:
                bound = max(FAIR_FACTOR * n * one[1], FAIR_CAP_US)
                ok = v[2] <= bound
                t = f"N={n} p99 {us(v[2])} {'≤' if ok else '>'} {us(bound)} µs {mark(ok)}"
                figs.append((n, t, ok, v[2], f"≤ {bound:.1f} µs"))
            checks.append((where, f" (p50 at N=1 {us(one[1])} µs)", figs))
        verdict("(a) fairness p99", checks)

    out.append(f"- (b) throughput with N ≥ 2 callers ≥ {KEEP_UP:g} × pyrt's at N=1 (same host and load; "
               "pyrt_main_thread against pyrt's N=1 too; pyrt_unordered for comparison)")
    checks = []
    for where, one, cells in pyrt_cells():
        figs = []
        for n, v in cells:
            r = tput_ratio(v, one)
            figs.append((n, f"N={n} ×{r:.2f} {mark(r >= KEEP_UP)}", r >= KEEP_UP, r, f"≥ {KEEP_UP:g}"))
        checks.append((where, f" (N=1 {one[0]:,.0f}/s)", figs))
    verdict("(b) throughput / N=1", checks)

    for tag, system, base, limit, min_n in (("(c)", "pyrt", "single_worker", VS_SINGLE, 1),
                                             ("(d)", "pyrt_workers", "process_pool", VS_POOL, 2)):
        out.append(f"- {tag} {system} throughput ≥ {limit:g} × {base}'s at every N{' ≥ 2' if min_n > 1 else ''} "
                   f"({BASE_HOST}, where the baselines run; same load)")
        checks = []
        for load in loads:
            for w in works:
                figs = []
                for n in ns:
                    r = tput_ratio(srv(label, load, w, BASE_HOST, system, n), srv(label, load, w, BASE_HOST, base, n))
                    if n < min_n or r is None:
                        continue
                    figs.append((n, f"N={n} ×{r:.2f} {mark(r >= limit)}", r >= limit, r, f"≥ {limit:g}"))
                if figs:
                    checks.append((f"{BASE_HOST}, {load}, {w}", "", figs))
        if not checks:
            out.append(f"  - no data ({system} or {base} not run)")
        verdict(f"{tag} {system} / {base}", checks)
    out.append("")


if server:
    out.append("")
    out.append("## Server benchmark")
    out.append("")
    out.append("N threads (C) or goroutines (Go) call back-to-back for a fixed time per round; rounds "
               f"interleave over N and the systems; medians of {', '.join(map(str, sorted(server_reps)))} rounds. Workloads "
               "(bench/py/server_funcs.py): pure (pure Python, about 15 µs), jinja2 (a compiled template's render), numpy "
               "(4096 doubles: lent zero-copy to pyrt, a JSON list to the worker processes). Systems: pyrt (the default "
               "runtime), pyrt_unordered (the same with PYRT_ADMISSION=0: calls without the admission queue, the "
               "before), pyrt_main_thread (a handle whose calls all run on the interpreter's main thread, one after "
               "another), pyrt_workers (one sub-interpreter per CPU; the main interpreter before 3.12), single_worker (one "
               "python3 process behind a lock, JSON lines on pipes), process_pool (one such process per CPU). Load: idle, or "
               "loaded with one busy-looping process per CPU.")
    out.append("")
    out.append("Each cell: calls/s (× the same host's pyrt at N=1, same load); p50 / p99 / max latency in µs; for the pyrt "
               f"systems also × {BASE_HOST}'s single_worker and process_pool at the same N and load.")
    out.append("")
    for l in labels:
        server_section(l)

text = "\n".join(out) + "\n"
sys.stdout.write(text)
open(md_path, "w").write(text)
open(tsv_path, "w").write("\n".join(tsv) + "\n")
