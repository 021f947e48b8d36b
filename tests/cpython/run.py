"""Run CPython's own tests in the standalone interpreter and inside pyrt, one process per
(version, host, module), with a timeout; then compare (compare.py).

    python3 tests/cpython/run.py [--modules json,signal] [--hosts standalone,c,go]
                                 [--versions 3.12-pyenv,...] [--jobs 2] [--out build/cpython]

Hosts (see tests/cpython/README.md):
  standalone  <prefix>/bin/python3.X -I -X utf8 -u runner.py ...  (the real interpreter of the
              version, never a pyenv shim; -I and -X utf8 match pyrt's isolated, UTF-8 mode
              config, -u its write-through stdio)
  c           build/cpython/host_c <libpython> host runner.py ...    pyrt, main_thread, signals "host"
  c-pysig     build/cpython/host_c <libpython> python runner.py ...  pyrt, main_thread, signals "python"
  go          build/cpython/host_go <libpython> host runner.py ...   Go (purego), WithMainThread
  go-pysig    build/cpython/host_go <libpython> python runner.py ... Go, WithSignals("python")

Each process gets the same environment, default signal dispositions and an empty signal mask
(whatever the harness inherited), stdin from /dev/null, its own session (so a timeout
kills its whole process group, children included) and a log file. How it ended is recorded
beside its results: exit status, "killed by signal N", or "timeout". An embedded-only failure
(compare.py) is run once more, alone, in the same host (and the standalone run of the same ids
alongside); a test that passes there is reported as flaky rather than failed, as regrtest's
--rerun does.
"""

import argparse
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import compare  # noqa: E402

# short name -> (module for 3.8-3.10, module for 3.11+)
MODULES = {
    "threading": "test.test_threading",
    "threading_local": "test.test_threading_local",
    "thread": "test.test_thread",
    "signal": "test.test_signal",
    "subprocess": "test.test_subprocess",
    "asyncio_unix_events": "test.test_asyncio.test_unix_events",
    "json": "test.test_json",
    "decimal": "test.test_decimal",
    "datetime": "test.test_datetime",
    "sqlite3": ("test.test_sqlite", "test.test_sqlite3"),
    "os": "test.test_os",
    "sys": "test.test_sys",
    "tempfile": "test.test_tempfile",
}
# Module time limits (seconds); the runner's faulthandler fires 30 s earlier with all tracebacks.
TIMEOUTS = {"subprocess": 1200, "decimal": 1200}
DEFAULT_TIMEOUT = 600
# test.support resources: what a sequential `python -m test -u subprocess` would enable. The
# expensive ones (cpu, decimal, largefile) and those needing a network or a display are off,
# in every host alike.
RESOURCES = "subprocess"
HOSTS = {
    "standalone": None,
    "c": ("host_c", "host"),
    "c-pysig": ("host_c", "python"),
    "go": ("host_go", "host"),
    "go-pysig": ("host_go", "python"),
}


def module_for(short, minor):
    m = MODULES[short]
    if isinstance(m, tuple):
        return m[0] if minor <= 10 else m[1]
    return m


def pythons(selected):
    out = subprocess.run([os.path.join(ROOT, "scripts", "pythons.sh")], check=True, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        if not line.strip():
            continue
        label, lib = line.split(" ", 1)
        if selected and label not in selected:
            continue
        found.append((label, lib))
    return found


def interpreter_for(lib):
    """The real interpreter of the library's version: <prefix>/bin/python3.X (pyenv, /usr/local)
    or /usr/bin/python3.X for Debian's /usr/lib/<multiarch>/libpython3.X.so.1.0."""
    base = os.path.basename(lib)
    version = base[len("libpython"):].split(".so")[0]
    d = os.path.dirname(lib)
    prefix = os.path.dirname(d) if os.path.basename(d) == "lib" else os.path.dirname(os.path.dirname(d))
    exe = os.path.join(prefix, "bin", "python" + version)
    if not os.path.exists(exe):
        raise SystemExit("no interpreter {} for {}".format(exe, lib))
    return exe, version


def skip_file(exclusions, host, label, results):
    """The exclusions that apply to this host and version, as the runner's --skip-file."""
    rules = exclusions.rules_for(host, label)
    if not rules:
        return None
    path = os.path.join(results, label, host, "exclusions.skip")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join("{}\t{}\n".format(p, r) for p, r in rules))
    return path


def command(host, label, lib, module, out, match_file, bindir, timeout, skips=None):
    runner = os.path.join(HERE, "runner.py")
    args = ["--module", module, "--out", out, "--resources", RESOURCES, "--timeout", str(max(timeout - 30, 10))]
    if match_file:
        args += ["--match-file", match_file]
    if skips:
        args += ["--skip-file", skips]
    if host == "standalone":
        exe, _ = interpreter_for(lib)
        return [exe, "-I", "-X", "utf8", "-u", runner] + args
    binary, signals = HOSTS[host]
    return [os.path.join(bindir, binary), lib, signals, runner] + args


def clean_signal_state():
    """In the child before exec: default dispositions for the signals a launcher may have set
    (a shell's background job ignores SIGINT and SIGQUIT, nohup ignores SIGHUP) and no blocked
    signal, so every host starts as from a terminal, however the harness was started."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def run_one(job):
    """Runs one process; returns its meta record (also written to <base>.meta.json)."""
    cmd, base, timeout = job["cmd"], job["base"], job["timeout"]
    os.makedirs(os.path.dirname(base), exist_ok=True)
    for suffix in (".jsonl", ".log", ".meta.json"):
        if os.path.exists(base + suffix):
            os.unlink(base + suffix)
    env = dict(os.environ)
    env["PYRT_LIBRARY"] = job["library"]
    start = time.monotonic()
    with open(base + ".log", "wb") as log:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                             start_new_session=True, preexec_fn=clean_signal_state)
        timed_out = False
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(p.pid, signal.SIGKILL)
            rc = p.wait()
        # Whatever the tests left running in that session goes too.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if timed_out:
        ended = "timeout after {}s".format(timeout)
    elif rc < 0:
        ended = "killed by signal {} ({})".format(-rc, signal.Signals(-rc).name)
    else:
        ended = "exit {}".format(rc)
    meta = {"cmd": cmd, "returncode": rc, "timed_out": timed_out, "ended": ended, "seconds": round(time.monotonic() - start, 1)}
    with open(base + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    return job, meta


def run_jobs(jobs, n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        for fut in concurrent.futures.as_completed([pool.submit(run_one, j) for j in jobs]):
            job, meta = fut.result()
            print("  {:<12} {:<9} {:<20} {:>7.1f}s  {}".format(job["label"], job["host"], job["short"] + job.get("tag", ""), meta["seconds"], meta["ended"]), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modules", default=",".join(MODULES))
    p.add_argument("--hosts", default="standalone,c,c-pysig,go")
    p.add_argument("--versions", default="", help="labels of scripts/pythons.sh (default: all)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "cpython"))
    p.add_argument("--bindir", default=None, help="where host_c and host_go are (default: --out)")
    p.add_argument("--library", default=os.path.join(ROOT, "target", "release", "libpyrt.so"))
    p.add_argument("--no-rerun", action="store_true", help="do not re-run embedded-only failures")
    p.add_argument("--exclusions", default=os.path.join(HERE, "exclusions.txt"))
    p.add_argument("--report", default=None, help="report file (default: <out>/report.txt)")
    args = p.parse_args()
    shorts = [m for m in args.modules.split(",") if m]
    for m in shorts:
        if m not in MODULES:
            raise SystemExit("unknown module {!r}; known: {}".format(m, ", ".join(MODULES)))
    hosts = [h for h in args.hosts.split(",") if h]
    for h in hosts:
        if h not in HOSTS:
            raise SystemExit("unknown host {!r}; known: {}".format(h, ", ".join(HOSTS)))
    if "standalone" not in hosts:
        hosts.insert(0, "standalone")
    versions = pythons(set(v for v in args.versions.split(",") if v))
    if not versions:
        raise SystemExit("no CPython selected")
    args.out = os.path.abspath(args.out)
    bindir = os.path.abspath(args.bindir or args.out)
    results = os.path.join(args.out, "results")

    exclusions = compare.Exclusions(args.exclusions)
    t0 = time.monotonic()
    jobs = []
    for label, lib in versions:
        minor = int(interpreter_for(lib)[1].split(".")[1].rstrip("t"))  # "3.13t": free-threaded
        for short in shorts:
            for host in hosts:
                timeout = TIMEOUTS.get(short, DEFAULT_TIMEOUT)
                base = os.path.join(results, label, host, short)
                skips = None if host == "standalone" else skip_file(exclusions, host, label, results)
                jobs.append({"label": label, "host": host, "short": short, "base": base, "timeout": timeout, "library": args.library,
                             "cmd": command(host, label, lib, module_for(short, minor), base + ".jsonl", None, bindir, timeout, skips)})
    print("== {} runs: {} x {} x {} (jobs {})".format(len(jobs), len(versions), "/".join(hosts), len(shorts), args.jobs), flush=True)
    run_jobs(jobs, args.jobs)

    if not args.no_rerun:
        reruns = []
        cells = compare.load(results, [v[0] for v in versions], hosts, shorts)
        for (label, host, short), diff in compare.embedded_only(cells, [h for h in hosts if h != "standalone"]).items():
            ids = sorted(diff)
            if not ids:
                continue
            lib = dict(versions)[label]
            minor = int(interpreter_for(lib)[1].split(".")[1].rstrip("t"))  # "3.13t": free-threaded
            for h in (host, "standalone"):
                base = os.path.join(results, label, host, short + ".rerun" + ("" if h == host else "-standalone"))
                os.makedirs(os.path.dirname(base), exist_ok=True)
                match = base + ".ids"
                with open(match, "w") as f:
                    f.write("".join(i + "\n" for i in ids))
                timeout = TIMEOUTS.get(short, DEFAULT_TIMEOUT)
                skips = None if h == "standalone" else skip_file(exclusions, h, label, results)
                reruns.append({"label": label, "host": h, "short": short, "tag": " (rerun)", "base": base, "timeout": timeout, "library": args.library,
                               "cmd": command(h, label, lib, module_for(short, minor), base + ".jsonl", match, bindir, timeout, skips)})
        if reruns:
            print("== re-running embedded-only failures alone: {} runs".format(len(reruns)), flush=True)
            run_jobs(reruns, args.jobs)

    print("== ran in {:.0f}s".format(time.monotonic() - t0), flush=True)
    report = args.report or os.path.join(args.out, "report.txt")
    return compare.main(["--results", results, "--versions", ",".join(v[0] for v in versions), "--hosts", ",".join(hosts),
                         "--modules", ",".join(shorts), "--exclusions", args.exclusions, "--report", report])


if __name__ == "__main__":
    sys.exit(main())
