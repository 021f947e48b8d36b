"""A typed module exercising every mapping of pyrt-gen (see gentest_test.go)."""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from typing import Callable, Generator, Iterator, Literal, NamedTuple, TypedDict

import numpy as np
import numpy.typing as npt


def add(a: int, b: int) -> int:
    """Returns a + b."""
    return a + b


def scale(x: float, factor: float = 2.0) -> float:
    return x * factor


def greet(name: str, *, punctuation: str = "!", loud: bool = False) -> str:
    """Greets someone."""
    s = "hello " + name + punctuation
    return s.upper() if loud else s


def is_even(n: int) -> bool:
    return n % 2 == 0


def checksum(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def nothing(x: int) -> None:
    global last_nothing
    last_nothing = x


last_nothing = 0


def squares(xs: list[int]) -> list[int]:
    return [x * x for x in xs]


def word_lengths(words: list[str]) -> dict[str, int]:
    return {w: len(w) for w in words}


def by_length(words: list[str]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for w in words:
        out.setdefault(len(w), []).append(w)
    return out


def div_mod(a: int, b: int) -> tuple[int, int]:
    return divmod(a, b)


def describe(n: int) -> tuple[str, int, bool]:
    return ("n=%d" % n, n * 10, n > 0)


def first_half(t: tuple[str, int]) -> str:
    return t[0] * t[1]


def find(items: list[str], needle: str) -> int | None:
    return items.index(needle) if needle in items else None


def maybe_name(name: str | None = None) -> str:
    return name or "nobody"


def color(c: Literal["red", "green"]) -> Literal[1, 2]:
    return 1 if c == "red" else 2


class Point(NamedTuple):
    """A point in the plane."""
    x: float
    y: float


@dataclasses.dataclass
class Box:
    name: str
    width: int
    tags: list[str] = dataclasses.field(default_factory=list)


class Movie(TypedDict):
    title: str
    year: int


def midpoint(a: Point, b: Point) -> Point:
    assert isinstance(a, Point), type(a)
    return Point((a.x + b.x) / 2, (a.y + b.y) / 2)


def grow(box: Box, by: int) -> Box:
    assert isinstance(box, Box), type(box)
    return Box(box.name, box.width + by, box.tags + ["grown"])


def movie(title: str, year: int) -> Movie:
    return {"title": title, "year": year}


def titles(ms: list[Movie]) -> list[str]:
    return [m["title"] for m in ms]


def count(n: int) -> Iterator[int]:
    for i in range(n):
        yield i


def pairs(n: int) -> Generator[tuple[int, str], None, None]:
    for i in range(n):
        yield i, str(i)


async def slow_add(a: int, b: int) -> int:
    await asyncio.sleep(0.01)
    return a + b


async def pause() -> None:
    await asyncio.sleep(0)


def mean(xs: npt.NDArray[np.float64]) -> float:
    assert isinstance(xs, np.ndarray)
    return float(xs.mean())


def doubled(xs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return xs * 2


class Counter:
    """A counter that counts."""

    def __init__(self, start: int = 0) -> None:
        self.n = start

    def incr(self, by: int = 1) -> int:
        """Adds by and returns the count."""
        self.n += by
        return self.n

    def value(self) -> int:
        return self.n

    def spawn(self) -> Counter:
        return Counter(self.n)

    def corner(self, p: Point) -> Point:
        return Point(p.x + self.n, p.y + self.n)


def total(c: Counter) -> int:
    return c.n


def untyped(x, y=3):
    return x * y


def apply(f: Callable[[int], int], x: int) -> int:
    return f(x)


def big() -> int:
    return 2**70


def summed(*nums: int) -> int:
    return sum(nums)


def options(**opts: str) -> dict[str, str]:
    return dict(opts)


def fail(msg: str) -> None:
    raise ValueError(msg)
