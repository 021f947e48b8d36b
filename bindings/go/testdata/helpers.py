"""Python side of the pyrt Go binding's tests (put on sys.path by TestMain)."""
import sys
import threading

counter = 0


def echo(x):
    return x


def typeof(x):
    return type(x).__name__


def echo_typed(*args):
    return [[a, type(a).__name__] for a in args]


def kw(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


def raise_value(msg):
    raise ValueError(msg)


def bump():
    global counter
    counter += 1
    return counter


def get_counter():
    return counter


def add(a, b):
    return a + b


def person(name, age):
    return {"name": name, "age": age, "tags": ["x", "y"], "score": 1.5}


def exit_with(code):
    sys.exit(code)


# ---- object handles (object_test.go) ----
import datetime as _datetime
import struct as _struct

live_tracked = 0


class Tracked:
    """Counts live instances: proves handles dropped without Close are released."""

    def __init__(self):
        global live_tracked
        live_tracked += 1

    def __del__(self):
        global live_tracked
        live_tracked -= 1


def live():
    import gc
    gc.collect()
    return live_tracked


class Greeter:
    def __init__(self, greeting):
        self.greeting = greeting
        self.calls = 0
        # `self.calls += 1` is a read and a write: a thread switch between them loses a count
        # when 16 goroutines call at once (TestObjectConcurrent), so the count takes a lock.
        self._lock = threading.Lock()

    def greet(self, name, punctuation="!"):
        with self._lock:
            self.calls += 1
        return f"{self.greeting}, {name}{punctuation}"


def same(a, b):
    """Equality that also checks types, float bits and tz offsets."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return _struct.pack('<d', a) == _struct.pack('<d', b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (set, frozenset)):
        return a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (_datetime.datetime, _datetime.time)):
        return a == b and a.utcoffset() == b.utcoffset()
    return a == b
