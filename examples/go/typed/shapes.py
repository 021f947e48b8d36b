"""Shapes: a small typed module, bound to Go by pyrt-gen (see main.go)."""
from __future__ import annotations

import asyncio
import dataclasses
import math
from typing import Iterator, Literal


@dataclasses.dataclass
class Rect:
    """A rectangle."""
    width: float
    height: float
    label: str = ""


def area(r: Rect) -> float:
    """The area of r."""
    return r.width * r.height


def scaled(r: Rect, factor: float, *, label: str | None = None) -> Rect:
    """r scaled by factor, relabelled if label is given."""
    return Rect(r.width * factor, r.height * factor, label if label is not None else r.label)


def polygon(sides: int, radius: float = 1.0) -> list[tuple[float, float]]:
    """The corners of a regular polygon."""
    return [(round(radius * math.cos(2 * math.pi * i / sides), 6),
             round(radius * math.sin(2 * math.pi * i / sides), 6)) for i in range(sides)]


def unit(kind: Literal["mm", "cm", "in"]) -> float:
    """Millimetres per unit."""
    return {"mm": 1.0, "cm": 10.0, "in": 25.4}[kind]


def tiles(r: Rect, size: float) -> Iterator[Rect]:
    """Yields the tiles covering r, row by row."""
    for y in range(math.ceil(r.height / size)):
        for x in range(math.ceil(r.width / size)):
            yield Rect(size, size, "tile %d,%d" % (x, y))


async def measure(r: Rect) -> float:
    """Pretends to measure r slowly."""
    await asyncio.sleep(0.01)
    return area(r)


class Canvas:
    """A canvas that collects rectangles."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rects: list[Rect] = []

    def add(self, r: Rect) -> int:
        """Adds r; returns how many rectangles the canvas holds."""
        self.rects.append(r)
        return len(self.rects)

    def covered(self) -> float:
        """The total area of the rectangles."""
        return sum(area(r) for r in self.rects)
