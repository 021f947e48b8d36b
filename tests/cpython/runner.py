"""Run one module of CPython's own test suite and record every test's outcome as JSON lines.

The same file runs in every host (the standalone interpreter, the C host, the Go host), so the
only difference between their results is how Python is embedded:

    python3.X -I -X utf8 -u runner.py --module test.test_json --out out.jsonl
    host_c <libpython> <signals> runner.py --module test.test_json --out out.jsonl

What it sets up is what CPython's own test driver (Lib/test/libregrtest, setup.py and main.py
of 3.8-3.13) sets up for a sequential run, minus what only reports (leak hunting, environment
change checks) and what only matters on Windows:
  * faulthandler enabled for all threads, and registered (chained) for SIGALRM and SIGUSR1;
  * test.support: verbose 0, failfast off, PGO off, use_resources = --resources, the original
    stdout recorded;
  * an audit hook (regrtest adds one to exercise PySys_Audit);
  * the PYTHONREGRTEST_UNICODE_GUARD environment variable (3.11+ regrtest; set for every version
    here so that all versions see the same environment);
  * the current directory is a fresh temporary directory "test_python_<pid>" (regrtest's
    temp_cwd), removed afterwards;
  * tests are loaded as regrtest loads them: a module's test_main() when it has one (3.8-3.10
    only; support's runner is redirected to the recording result), else
    unittest.TestLoader().loadTestsFromModule(), which honours load_tests().

Output (--out), one JSON object per line, flushed as it is written so that a process killed in
the middle still leaves what it ran:
  {"kind": "env", ...}                                    interpreter facts, first line
  {"kind": "start", "id": ...}                            a test started
  {"kind": "result", "id": ..., "outcome": ..., "detail": ...}
       outcome: pass | fail | error | skip | xfail (expected failure) | xpass (unexpected
       success); subtest failures are recorded under the subtest's id
  {"kind": "done", "tests_run": N, "seconds": S}          the module finished
"""

import argparse
import faulthandler
import fnmatch
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import unittest

DETAIL_CHARS = 3000


class Recorder:
    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8")

    def write(self, **obj):
        self.f.write(json.dumps(obj, sort_keys=True) + "\n")
        self.f.flush()


class RecordingResult(unittest.TestResult):
    """A TestResult that writes each outcome as it happens."""

    def __init__(self, recorder, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorder = recorder

    def _record(self, test, outcome, detail=None):
        tid = test.id() if hasattr(test, "id") else str(test)
        if detail is not None:
            detail = detail[-DETAIL_CHARS:]
        self.recorder.write(kind="result", id=tid, outcome=outcome, detail=detail)

    def startTest(self, test):
        super().startTest(test)
        self.recorder.write(kind="start", id=test.id())

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "fail", self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skip", str(reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "xpass")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            if issubclass(err[0], test.failureException):
                self._record(subtest, "fail", self.failures[-1][1])
            else:
                self._record(subtest, "error", self.errors[-1][1])


def env_facts(args):
    """What the interpreter looks like from inside, to check that hosts agree where it matters."""
    facts = {
        "version": sys.version.split()[0],
        "executable": sys.executable,
        "prefix": sys.prefix,
        "argv": sys.argv,
        "flags": {k: getattr(sys.flags, k) for k in dir(sys.flags) if not k.startswith("_") and not callable(getattr(sys.flags, k))},
        "is_main_thread": threading.current_thread() is threading.main_thread(),
        "current_thread": repr(threading.current_thread()),
        "sigint_handler": repr(signal.getsignal(signal.SIGINT)),
        "sigpipe_handler": repr(signal.getsignal(signal.SIGPIPE)),
        "blocked_signals": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "stdout_line_buffering": getattr(sys.stdout, "line_buffering", None),
        "filesystem_encoding": sys.getfilesystemencoding(),
        "stdio_encoding": getattr(sys.stdout, "encoding", None),
        "pid": os.getpid(),
        "resources": args.resources,
    }
    try:
        facts["sigpipe_ignored"] = signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
    except Exception:  # pragma: no cover - informational only
        pass
    return facts


def setup_like_regrtest(resources):
    from test import support

    try:
        stderr_fd = sys.__stderr__.fileno()
    except (ValueError, AttributeError):
        stderr_fd = None
    else:
        faulthandler.enable(all_threads=True, file=stderr_fd)
        for signum in (signal.SIGALRM, signal.SIGUSR1):
            faulthandler.register(signum, chain=True, file=stderr_fd)
    support.record_original_stdout(sys.stdout)
    support.verbose = 0
    support.failfast = False
    support.PGO = False
    support.use_resources = list(resources)
    if hasattr(support, "junit_xml_list"):
        support.junit_xml_list = None
    if hasattr(support, "match_tests"):
        support.match_tests = None
    if hasattr(sys, "addaudithook"):
        def _test_audit_hook(name, args):
            pass
        sys.addaudithook(_test_audit_hook)
    os.environ.setdefault("PYTHONREGRTEST_UNICODE_GUARD", "\xe6")
    return support


def skip_excluded(suite, rules):
    """Marks the tests matching an exclusion rule (fnmatch pattern, reason) as skipped, so a test
    that would kill this host (e.g. SIGINT sent to itself while SIGINT is the host's) does not
    take the rest of the module with it. The skip reason starts with "excluded:"."""
    if isinstance(suite, unittest.TestSuite):
        for t in suite:
            skip_excluded(t, rules)
        return
    name = getattr(suite, "_testMethodName", None)
    if name is None:
        return
    tid = suite.id()
    for pattern, reason in rules:
        if fnmatch.fnmatchcase(tid, pattern):
            @unittest.skip("excluded: " + reason)
            def excluded(*args, **kwargs):
                pass
            setattr(suite, name, excluded)
            return


class MatchFilter:
    """Keeps only the tests whose ids (or whose id prefix before a subtest) are listed."""

    def __init__(self, ids):
        self.ids = set(ids)

    def wanted(self, test):
        tid = test.id()
        return tid in self.ids or any(i.startswith(tid + " ") for i in self.ids)

    def filter(self, suite):
        if isinstance(suite, unittest.TestSuite):
            kept = unittest.TestSuite()
            for t in suite:
                f = self.filter(t)
                if f is not None:
                    kept.addTest(f)
            return kept
        return suite if self.wanted(suite) else None


def run(args, recorder):
    support = setup_like_regrtest(args.resources)
    match = None
    if args.match_file:
        with open(args.match_file, encoding="utf-8") as f:
            match = MatchFilter(line.rstrip("\n") for line in f if line.strip())
    skips = []
    if args.skip_file:
        with open(args.skip_file, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    pattern, _, reason = line.rstrip("\n").partition("\t")
                    skips.append((pattern, reason))
    result = RecordingResult(recorder)

    def run_suite(suite):
        if match is not None:
            suite = match.filter(suite)
        if skips:
            skip_excluded(suite, skips)
        suite(result)
        return result

    # 3.8-3.10 test_main() modules run through support.run_unittest -> support._run_suite.
    if hasattr(support, "_run_suite"):
        support._run_suite = run_suite
    if hasattr(support, "run_doctest"):
        original_run_doctest = support.run_doctest

        def run_doctest(module, *a, **kw):
            tid = "doctest:" + getattr(module, "__name__", str(module))
            if match is not None and tid not in match.ids:
                return (0, 0)
            recorder.write(kind="start", id=tid)
            try:
                failed, attempted = original_run_doctest(module, *a, **kw)
            except support.TestFailed as e:
                recorder.write(kind="result", id=tid, outcome="fail", detail=str(e)[-DETAIL_CHARS:])
                return (1, 1)
            recorder.write(kind="result", id=tid, outcome="pass" if not failed else "fail", detail=None)
            return failed, attempted
        support.run_doctest = run_doctest

    try:
        module = __import__(args.module, fromlist=["*"])
    except unittest.SkipTest as e:
        recorder.write(kind="result", id=args.module, outcome="skip", detail=str(e))
        return
    except BaseException:
        recorder.write(kind="result", id=args.module, outcome="error", detail=traceback.format_exc()[-DETAIL_CHARS:])
        return
    test_main = getattr(module, "test_main", None)
    if test_main is not None:
        try:
            test_main()
        except unittest.SkipTest as e:
            recorder.write(kind="result", id=args.module, outcome="skip", detail=str(e))
        except support.TestFailed as e:
            if result.wasSuccessful():  # not merely the summary of failures already recorded
                recorder.write(kind="result", id=args.module + ".test_main", outcome="error", detail=str(e)[-DETAIL_CHARS:])
        except BaseException:
            recorder.write(kind="result", id=args.module + ".test_main", outcome="error", detail=traceback.format_exc()[-DETAIL_CHARS:])
        return
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(module)
    for error in loader.errors:
        recorder.write(kind="result", id=args.module + ".load", outcome="error", detail=str(error)[-DETAIL_CHARS:])
    try:
        run_suite(suite)
    except BaseException:
        recorder.write(kind="result", id=args.module + ".run", outcome="error", detail=traceback.format_exc()[-DETAIL_CHARS:])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--module", required=True, help="e.g. test.test_json")
    p.add_argument("--out", required=True, help="JSON lines file to write")
    p.add_argument("--resources", default="", help="comma-separated test.support resources")
    p.add_argument("--match-file", help="run only the test ids listed in this file, one a line")
    p.add_argument("--skip-file", help="tests to skip as excluded: lines 'fnmatch pattern<TAB>reason'")
    p.add_argument("--timeout", type=float, default=0, help="faulthandler dumps all threads and exits after this many seconds")
    args = p.parse_args(argv)
    args.resources = [r for r in args.resources.split(",") if r]
    # Same for every host: no .pyc files written into the interpreters' test directories.
    sys.dont_write_bytecode = True
    out = os.path.abspath(args.out)
    # The tests run in a temporary directory: resolve the input files first.
    args.match_file = args.match_file and os.path.abspath(args.match_file)
    args.skip_file = args.skip_file and os.path.abspath(args.skip_file)
    recorder = Recorder(out)
    recorder.write(kind="env", **env_facts(args))
    if args.timeout > 0:
        faulthandler.dump_traceback_later(args.timeout, exit=True)
    start = time.monotonic()
    saved_cwd = os.getcwd()
    cwd = os.path.join(tempfile.gettempdir(), "test_python_{}".format(os.getpid()))
    # A directory of this name was left by an earlier process with our pid that was killed.
    shutil.rmtree(cwd, ignore_errors=True)
    os.mkdir(cwd)
    os.chdir(cwd)
    try:
        run(args, recorder)
    finally:
        os.chdir(saved_cwd)
        shutil.rmtree(cwd, ignore_errors=True)
        if args.timeout > 0:
            faulthandler.cancel_dump_traceback_later()
    recorder.write(kind="done", seconds=round(time.monotonic() - start, 3))
    recorder.f.close()


if __name__ == "__main__":
    main()
