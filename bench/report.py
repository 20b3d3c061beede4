"""Figures (one measured quantity over several runs) and the Markdown table of them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.common import spread


@dataclass
class Figure:
    """One quantity: its value in every run, and optionally a target its median must meet."""

    scenario: str
    name: str
    unit: str
    runs: list[float]
    target: str = ""
    passed: bool | None = None
    note: str = ""
    stats: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stats = spread(self.runs)

    @property
    def median(self) -> float:
        return self.stats["median"]

    def at_least(self, bound: float, text: str) -> Figure:
        """Target: the median is at least the bound."""
        self.target = text
        self.passed = not math.isnan(self.median) and self.median >= bound
        return self

    def at_most(self, bound: float, text: str) -> Figure:
        """Target: the median is at most the bound."""
        self.target = text
        self.passed = not math.isnan(self.median) and self.median <= bound
        return self

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def ratio(
    scenario: str,
    name: str,
    numerators: Sequence[float],
    denominators: Sequence[float],
    *,
    note: str = "",
) -> Figure:
    """A ratio taken run by run (each pair measured in the same round), as a percentage."""
    runs = [
        100.0 * n / d if d and not math.isnan(n) and not math.isnan(d) else math.nan
        for n, d in zip(numerators, denominators, strict=True)
    ]
    return Figure(scenario, name, "%", runs, note=note)


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit in ("entries/s", "req/s", "rows/s", "frames/s"):
        return f"{value:,.0f}"
    if unit == "%":
        return f"{value:.1f}"
    if unit in ("MB", "KB", "ms", "us", "s", "x"):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:.3g}"


_MARK: dict[bool | None, str] = {True: "PASS", False: "**FAIL**", None: ""}


def table(figures: Sequence[Figure]) -> str:
    """The Markdown table: median, min and max of each figure, its target and the verdict."""
    lines = [
        "| scenario | figure | unit | median | min | max | target | pass |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for f in figures:
        name = f"{f.name} ({f.note})" if f.note else f.name
        cells = [_number(f.stats[k], f.unit) for k in ("median", "min", "max")]
        lines.append(
            f"| {f.scenario} | {name} | {f.unit} | {' | '.join(cells)} | {f.target} "
            f"| {_MARK[f.passed]} |"
        )
    return "\n".join(lines)
