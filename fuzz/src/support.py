# The Python side of pyrt's fuzz harness (fuzz/src/lib.rs runs this once per fuzz process).
#
# It creates the module `pyrt_fuzz`, the only module whose functions the fuzz inputs may call,
# and a meta-path finder that refuses every module whose name starts with `pyrt_fuzz_blocked`:
# the harness renames any other module a fuzz input names to `pyrt_fuzz_blocked_<name>`, so
# arbitrary module names still travel through pyrt's argument checks and its import error path,
# but no fuzz input can import or call arbitrary library code (os.system, shutil.rmtree, ...).
# Nothing here imports at module level, so `pyrt_fuzz`'s attributes lead nowhere dangerous.

def _setup():
    import sys, types

    m = types.ModuleType("pyrt_fuzz")
    exec(_SOURCE, m.__dict__)
    sys.modules["pyrt_fuzz"] = m

    class _Block:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name.startswith("pyrt_fuzz_blocked"):
                raise ModuleNotFoundError("import blocked by the fuzz harness: " + name, name=name)
            return None

    sys.meta_path.insert(0, _Block)
    # __del__ failures are part of the inputs (BadDel); keep the fuzzer's output readable.
    sys.unraisablehook = m.unraisable
    # Deep `same()` comparisons of 1000-level values.
    sys.setrecursionlimit(5000)


_SOURCE = r'''
def echo(*a, **k):
    if k:
        return [list(a), k]
    return a[0] if len(a) == 1 else list(a)

def tup(*a):
    return a

_KINDS = None

def fail(kind=0, *a):
    kinds = [ValueError, KeyError, TypeError, ZeroDivisionError, RuntimeError, RecursionError,
             MemoryError, SystemExit, KeyboardInterrupt, UnicodeDecodeError, OSError,
             StopIteration, GeneratorExit, ArithmeticError, BaseException]
    try:
        e = kinds[int(kind) % len(kinds)]
    except Exception:
        e = ValueError
    try:
        raise e(*a[:5])
    except TypeError:
        if e is TypeError:
            raise
        raise ValueError(*a[:3])

def recurse(n=0):
    return recurse(n + 1)

class Weird:
    def __repr__(self):
        raise RuntimeError("repr fails")
    def __str__(self):
        return "\ud800"

class Box:
    def __init__(self, v=None):
        self.v = v
    def get(self):
        return self.v
    def set(self, v):
        self.v = v
        return self
    def call(self, *a, **k):
        return [list(a), k]

class BadDel:
    def __del__(self):
        raise RuntimeError("__del__ fails")

class BadHash:
    def __hash__(self):
        raise TypeError("unhashable on purpose")
    def __eq__(self, other):
        raise TypeError("no equality either")

unraisable_count = 0

def unraisable(u):
    global unraisable_count
    unraisable_count += 1

def odd(i=0):
    import collections, datetime, decimal
    vals = [
        b"\x00\xff", bytearray(b"ab"), (1, "a"), {1, 2}, frozenset({"x"}), 1 + 2j,
        float("nan"), float("inf"), -0.0, 10 ** 400, -(10 ** 5000),
        decimal.Decimal("1.5"), decimal.Decimal("NaN"), decimal.Decimal("-Infinity"),
        decimal.Decimal("-0E-1000"),
        datetime.datetime(2024, 1, 2, 3, 4, 5, 6), datetime.date(1, 1, 1), datetime.time(23, 59),
        datetime.timedelta(days=-1, microseconds=1),
        datetime.datetime(9999, 12, 31, tzinfo=datetime.timezone(datetime.timedelta(hours=-23, minutes=-59))),
        object(), Weird(), Box(1), BadDel(), iter([1]), range(3), {(1, 2): "t"},
        {"__pyrt__": "bytes", "v": "AA=="}, collections.OrderedDict(a=1), "\ud800", "\x00",
        [None, True, False], {"k": [Weird()]}, {BadDel(): 1}, [1.5, -1e308, 5e-324],
        collections.namedtuple("P", "x y")(1, 2), memoryview(b"xy"), type, Box, echo, None,
    ]
    try:
        return vals[int(i) % len(vals)]
    except Exception:
        return None

def nested(depth=0):
    try:
        depth = max(0, min(int(depth), 3000))
    except Exception:
        depth = 0
    x = []
    for _ in range(depth):
        x = [x]
    return x

def selfref():
    l = [1]
    l.append(l)
    return l

def fdouble(x=0.0, *rest):
    return float(x)

def fint(x=0, *rest):
    return int(x)

def same(a, b):
    """Equal values of equal types; NaNs equal, 0.0 and -0.0 different, sets unordered."""
    import datetime, decimal, math
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if math.isnan(x) and math.isnan(y):
                continue
            if x != y or math.copysign(1.0, x) != math.copysign(1.0, y):
                return False
        elif isinstance(x, complex):
            stack.append((x.real, y.real))
            stack.append((x.imag, y.imag))
        elif isinstance(x, (list, tuple)):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif isinstance(x, dict):
            if len(x) != len(y):
                return False
            for (k1, v1), (k2, v2) in zip(x.items(), y.items()):
                stack.append((k1, k2))
                stack.append((v1, v2))
        elif isinstance(x, (set, frozenset)):
            if len(x) != len(y):
                return False
            rest = list(y)
            for e in x:
                for j, f in enumerate(rest):
                    if same(e, f):
                        del rest[j]
                        break
                else:
                    return False
        elif isinstance(x, decimal.Decimal):
            if str(x) != str(y):
                return False
        elif isinstance(x, (datetime.datetime, datetime.time)):
            if x.isoformat() != y.isoformat():
                return False
        elif x != y:
            return False
    return True

def compile_eval(src):
    compile(src, "<fuzz>", "eval")
    return True

_saved_main = None

def snapshot_main():
    import sys
    global _saved_main
    _saved_main = dict(sys.modules["__main__"].__dict__)

def reset_main():
    import sys
    d = sys.modules["__main__"].__dict__
    d.clear()
    d.update(_saved_main)
'''

_setup()
del _setup, _SOURCE
