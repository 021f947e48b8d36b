"""Python side of the pyrt Go binding's tests (put on sys.path by TestMain)."""
import sys

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
