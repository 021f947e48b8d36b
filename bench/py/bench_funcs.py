"""Functions the benchmarks call, identical for pyrt and for the subprocess worker."""


def add(a, b):
    return a + b


def echo(x):
    return x


def np_sum(mv):
    import numpy as np
    return float(np.frombuffer(mv, dtype=np.float64).sum())


def np_scale_into(src, dst):
    import numpy as np
    np.multiply(np.frombuffer(src, dtype=np.float64), 2.0, out=np.frombuffer(dst, dtype=np.float64))
    return 0.0


def np_scale(mv):
    import numpy as np
    return np.frombuffer(mv, dtype=np.float64) * 2.0


def list_sum(xs):
    import numpy as np
    return float(np.array(xs, dtype=np.float64).sum())


def spin(n):
    """CPU-bound pure Python (about 1 ms for n = 20000): the parallel speed-up benchmark."""
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def int_list(n):
    """n small ints returned as one list: the baseline of streaming the same items."""
    return list(range(n))


def int_gen(n):
    """n small ints yielded one at a time: streamed to the host (pyrt.Stream)."""
    yield from range(n)


async def nap():
    """An awaited sleep of 50 ms: 10,000 of them in flight at once (CallAsync)."""
    import asyncio
    await asyncio.sleep(0.05)
    return 1
