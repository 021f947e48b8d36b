"""A user module for the venv tests: added with WithSitePaths, imported by
multiprocessing workers (which run the venv's bin/python) by name."""
import os
import sys


def square(x):
    return x * x


def where(_):
    """Which interpreter and prefix a worker runs with."""
    return [sys.executable, sys.prefix, os.getpid()]


def pool_map(method, n):
    """Pool.map of square over range(n) with the given start method, plus what
    the workers report about themselves."""
    import multiprocessing

    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        squares = pool.map(square, range(n))
        workers = pool.map(where, range(2))
    return {"squares": squares, "workers": workers, "parent": os.getpid()}
