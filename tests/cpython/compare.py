"""Compare CPython's tests run standalone and inside pyrt; print the version x module table.

    python3 tests/cpython/compare.py --results build/cpython/results [--versions ...]
            [--hosts standalone,c,go] [--modules ...] [--exclusions tests/cpython/exclusions.txt]
            [--report build/cpython/report.txt]

For every (version, module) the standalone run is the reference. For each embedded host, a test
is an **embedded-only failure** when it passed (or was skipped, or failed as expected)
standalone and failed, errored, succeeded unexpectedly, or never ran (its process was killed,
timed out, or the test is absent) embedded. One that was re-run alone (run.py) and passed there
is reported as flaky instead. One that matches tests/cpython/exclusions.txt is reported as
excluded, with its reason. Tests that fail in both are pyrt's business only as counts.

Exit status 1 when an embedded-only failure is neither flaky nor excluded, or a standalone run
recorded no test at all (the harness itself is broken); else 0.
"""

import argparse
import collections
import fnmatch
import json
import os
import sys

GOOD = {"pass", "skip", "xfail"}
BAD = {"fail", "error", "xpass", "not run"}
RANK = {"pass": 0, "xfail": 0, "skip": 1, "xpass": 2, "fail": 3, "error": 4}


class Cell:
    """One (version, host, module) run: outcomes by test id, how the process ended."""

    def __init__(self, base):
        self.base = base
        self.outcomes = {}
        self.details = {}
        self.env = None
        self.done = False
        self.running = None
        self.meta = None
        self.present = os.path.exists(base + ".jsonl")
        if self.present:
            self._read(base + ".jsonl")
        if os.path.exists(base + ".meta.json"):
            with open(base + ".meta.json") as f:
                self.meta = json.load(f)

    def _read(self, path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a killed process
                kind = rec.get("kind")
                if kind == "env":
                    self.env = rec
                elif kind == "start":
                    self.running = rec["id"]
                elif kind == "result":
                    tid, outcome = rec["id"], rec["outcome"]
                    if tid == self.running:
                        self.running = None
                    old = self.outcomes.get(tid)
                    if old is None or RANK[outcome] > RANK[old]:
                        self.outcomes[tid] = outcome
                        self.details[tid] = rec.get("detail")
                elif kind == "done":
                    self.done = True

    @property
    def ended(self):
        if self.meta is None:
            return "no record"
        return self.meta["ended"]

    @property
    def clean_exit(self):
        return self.meta is not None and self.meta["returncode"] == 0 and self.done

    def outcome(self, tid):
        o = self.outcomes.get(tid)
        if o is not None:
            return o
        return "not run"

    def why_not_run(self):
        if not self.present:
            return "no results"
        if not self.done:
            at = " during {}".format(self.running) if self.running else ""
            return "process {}{}".format(self.ended, at)
        return "absent from this run"

    def counts(self):
        return collections.Counter(self.outcomes.values())


def load(results, labels, hosts, shorts):
    cells = {}
    for label in labels:
        for host in hosts:
            for short in shorts:
                cells[(label, host, short)] = Cell(os.path.join(results, label, host, short))
    return cells


def embedded_only(cells, hosts):
    """{(label, host, short): {id: (standalone outcome, embedded outcome)}} for embedded hosts."""
    diffs = {}
    for (label, host, short), cell in cells.items():
        if host == "standalone":
            continue
        ref = cells.get((label, "standalone", short))
        if ref is None or not ref.present or host not in hosts:
            continue
        d = {}
        for tid, so in ref.outcomes.items():
            eo = cell.outcome(tid)
            if so in GOOD and eo in BAD:
                d[tid] = (so, eo)
        # Tests only the embedded run has (e.g. a module-level error) that went wrong.
        for tid, eo in cell.outcomes.items():
            if tid not in ref.outcomes and eo in BAD:
                d[tid] = ("absent", eo)
        diffs[(label, host, short)] = d
    return diffs


class Exclusions:
    """Lines `test id pattern | hosts | versions | reason` (fnmatch patterns; `*` for all;
    hosts and versions comma-separated; a version is a label such as 3.12-pyenv or a bare 3.12)."""

    def __init__(self, path):
        self.rules = []
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    parts = [p.strip() for p in line.split("|")]
                    if len(parts) != 4 or not parts[3]:
                        raise SystemExit("{}:{}: expected 'pattern | hosts | versions | reason'".format(path, n))
                    self.rules.append((parts[0], parts[1].split(","), parts[2].split(","), parts[3], n))
        self.used = set()

    def rules_for(self, host, label):
        """(pattern, reason) of the rules that apply to this host and version."""
        return [(pattern, reason) for pattern, hosts, versions, reason, n in self.rules
                if (hosts == ["*"] or host in hosts) and (versions == ["*"] or label in versions or label.split("-")[0] in versions)]

    def match(self, tid, host, label):
        for pattern, hosts, versions, reason, n in self.rules:
            if not fnmatch.fnmatchcase(tid, pattern):
                continue
            if hosts != ["*"] and host not in hosts:
                continue
            if versions != ["*"] and label not in versions and label.split("-")[0] not in versions:
                continue
            self.used.add(n)
            return reason
        return None


def first_line(detail, width=110):
    if not detail:
        return ""
    lines = [l for l in detail.strip().splitlines() if l.strip()]
    text = lines[-1].strip() if lines else ""
    return text[:width]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", required=True)
    p.add_argument("--versions", default="")
    p.add_argument("--hosts", default="")
    p.add_argument("--modules", default="")
    p.add_argument("--exclusions", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "exclusions.txt"))
    p.add_argument("--report", default=None)
    args = p.parse_args(argv)

    def listing(value, path_parts):
        if value:
            return [v for v in value.split(",") if v]
        d = os.path.join(args.results, *path_parts)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    labels = listing(args.versions, [])
    hosts = listing(args.hosts, [labels[0]] if labels else [])
    if "standalone" in hosts:
        hosts.remove("standalone")
    shorts = [m for m in args.modules.split(",") if m] if args.modules else sorted(
        {f[:-len(".meta.json")] for f in os.listdir(os.path.join(args.results, labels[0], "standalone")) if f.endswith(".meta.json") and ".rerun" not in f})
    cells = load(args.results, labels, ["standalone"] + hosts, shorts)
    excl = Exclusions(args.exclusions)

    out = []
    emit = out.append
    failures = []        # (label, host, short, id, so, eo, why)
    flaky = []
    excluded = []
    embedded_skips = []  # passed standalone, skipped embedded
    both = collections.Counter()
    standalone_only = collections.Counter()
    table = {}
    broken = []
    for (label, host, short), d in sorted(embedded_only(cells, hosts).items()):
        cell = cells[(label, host, short)]
        rerun = Cell(os.path.join(args.results, label, host, short + ".rerun"))
        n = 0
        for tid, (so, eo) in sorted(d.items()):
            why = cell.details.get(tid) if eo != "not run" else cell.why_not_run()
            reason = excl.match(tid, host, label)
            if reason is not None:
                excluded.append((label, host, short, tid, so, eo, reason))
                continue
            if rerun.present and rerun.outcome(tid) in GOOD:
                flaky.append((label, host, short, tid, so, eo, why))
                continue
            failures.append((label, host, short, tid, so, eo, why))
            n += 1
        table[(label, host, short)] = n
    for (label, host, short), cell in cells.items():
        ref = cells[(label, "standalone", short)]
        if host == "standalone":
            if not ref.outcomes:
                broken.append("{} standalone {}: no test recorded ({})".format(label, short, ref.why_not_run()))
            continue
        for tid, so in ref.outcomes.items():
            eo = cell.outcome(tid)
            if so in BAD and eo in BAD:
                both[(label, host, short)] += 1
            elif so in BAD and eo in GOOD:
                standalone_only[(label, host, short)] += 1
            elif so in GOOD and eo == "skip" and (cell.details.get(tid) or "").startswith("excluded: "):
                excluded.append((label, host, short, tid, so, "skipped", cell.details[tid][len("excluded: "):]))
            elif so == "pass" and eo == "skip":
                if excl.match(tid, host, label) is None:
                    embedded_skips.append((label, host, short, tid, cell.details.get(tid)))

    # ---- the table
    hosts_txt = "/".join(hosts)
    emit("Embedded-only failures (pass standalone, fail/error/not run embedded), per cell {}".format(hosts_txt))
    emit("(K = an embedded process was killed or timed out; - = no results)")
    width = max(7, len(hosts) * 4)
    head = "{:<12}".format("version") + "".join(" {:>{w}}".format(s[:width], w=width) for s in shorts)
    emit(head)
    for label in labels:
        row = "{:<12}".format(label)
        for short in shorts:
            parts = []
            for host in hosts:
                cell = cells[(label, host, short)]
                if not cell.present:
                    parts.append("-")
                    continue
                mark = "K" if cell.meta and (cell.meta["timed_out"] or cell.meta["returncode"] < 0) else ""
                parts.append("{}{}".format(table.get((label, host, short), 0), mark))
            row += " {:>{w}}".format("/".join(parts), w=width)
        emit(row)

    # ---- totals
    emit("")
    emit("Tests per host (results recorded: run = pass+fail+error+xfail+xpass, skipped apart)")
    for host in ["standalone"] + hosts:
        c = collections.Counter()
        for label in labels:
            for short in shorts:
                c.update(cells[(label, host, short)].counts())
        run = sum(v for k, v in c.items() if k != "skip")
        emit("  {:<11} run {:>6}  pass {:>6}  fail {:>4}  error {:>4}  skip {:>5}  xfail {:>3}  xpass {:>3}".format(
            host, run, c["pass"], c["fail"], c["error"], c["skip"], c["xfail"], c["xpass"]))
    emit("")
    emit("Embedded-only failures: {} (flaky, passed when re-run alone: {}; excluded: {})".format(len(failures), len(flaky), len(excluded)))
    for host in hosts:
        emit("  {:<11} {} embedded-only, {} failing in both (pre-existing/environment), {} failing only standalone".format(
            host, sum(1 for f in failures if f[1] == host), sum(v for k, v in both.items() if k[1] == host),
            sum(v for k, v in standalone_only.items() if k[1] == host)))

    # ---- processes that did not end cleanly
    bad_exits = []
    for (label, host, short), cell in sorted(cells.items()):
        if cell.present and not cell.clean_exit:
            bad_exits.append("  {} {} {}: {}{}".format(label, host, short, cell.ended if cell.meta else "no record",
                                                        "" if cell.done else " (unfinished: {})".format(cell.why_not_run())))
    if bad_exits:
        emit("")
        emit("Processes that did not exit 0 after finishing the module:")
        out.extend(bad_exits)

    def listing_of(title, rows):
        if not rows:
            return
        emit("")
        emit(title)
        for label, host, short, tid, so, eo, why in rows:
            emit("  {} {} {}: {} [{} -> {}]".format(label, host, short, tid, so, eo))
            if why:
                emit("      {}".format(first_line(why)))

    listing_of("EMBEDDED-ONLY FAILURES:", failures)
    listing_of("Flaky (embedded-only once, passed when re-run alone):", flaky)
    listing_of("Excluded (tests/cpython/exclusions.txt):", excluded)
    if embedded_skips:
        emit("")
        emit("Passed standalone, skipped embedded: {}".format(len(embedded_skips)))
        for label, host, short, tid, reason in embedded_skips[:60]:
            emit("  {} {} {}: {}: {}".format(label, host, short, tid, first_line(reason, 80)))
        if len(embedded_skips) > 60:
            emit("  ... {} more".format(len(embedded_skips) - 60))

    # ---- environment differences the runner saw (flags, main thread, signals)
    diffs = collections.Counter()
    for (label, host, short), cell in cells.items():
        ref = cells[(label, "standalone", short)]
        if host == "standalone" or not cell.env or not ref.env:
            continue
        for key in ("flags", "is_main_thread", "executable", "sigint_handler", "sigpipe_handler", "blocked_signals", "filesystem_encoding", "stdio_encoding"):
            if cell.env.get(key) != ref.env.get(key):
                if key == "flags":
                    keys = sorted(k for k in ref.env["flags"] if ref.env["flags"].get(k) != cell.env["flags"].get(k))
                    diffs[(host, "flags " + ",".join(keys))] += 1
                else:
                    diffs[(host, "{}: {!r} vs standalone {!r}".format(key, cell.env.get(key), ref.env.get(key)))] += 1
    if diffs:
        emit("")
        emit("Interpreter differences seen by the runner (host: what, number of runs):")
        for (host, what), n in sorted(diffs.items()):
            emit("  {}: {} ({})".format(host, what, n))
    if broken:
        emit("")
        emit("HARNESS PROBLEMS:")
        out.extend("  " + b for b in broken)

    status = 1 if failures or broken else 0
    per_label = []
    for label in labels:
        bad = any(f[0] == label for f in failures) or any(b.startswith(label + " ") for b in broken)
        missing = any(not cells[(label, h, s)].present for h in ["standalone"] + hosts for s in shorts)
        per_label.append((label, "FAIL" if bad or missing else "PASS"))
    emit("")
    emit("cpython comparison: {}".format("FAIL" if status else "PASS"))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if args.report:
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.splitext(args.report)[0] + ".tsv", "w", encoding="utf-8") as f:
            f.write("".join("{}\t{}\n".format(l, st) for l, st in per_label))
        with open(os.path.splitext(args.report)[0] + ".json", "w", encoding="utf-8") as f:
            json.dump({"failures": failures, "flaky": flaky, "excluded": excluded, "table": {"|".join(k): v for k, v in table.items()},
                       "both": {"|".join(k): v for k, v in both.items()}}, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
