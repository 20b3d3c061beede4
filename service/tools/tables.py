"""Plain-text tables: aligned columns, cut to the terminal's width, styled only when asked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.tools.terminal import BOLD, paint, printable

GAP = "  "
ELLIPSIS = "…"
MIN_WIDTH = 5


@dataclass(frozen=True, slots=True)
class Column:
    """A column's title, alignment, and whether it may be cut to fit the width."""

    title: str
    right: bool = False
    shrink: bool = True


@dataclass(frozen=True, slots=True)
class Cell:
    """A value with an SGR style (used only when colour is on)."""

    text: str
    style: str | None = None


def render(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Cell]],
    *,
    width: int | None = None,
    colour: bool = False,
) -> list[str]:
    """The table's lines: a header, then one line per row; no wider than `width` if given."""
    body = [[_cell(value) for value in row] for row in rows]
    header = [Cell(column.title, BOLD) for column in columns]
    widths = [max(len(cell.text) for cell in column) for column in zip(header, *body, strict=True)]
    if width is not None:
        widths = fit(columns, widths, width)
    return [_line(columns, widths, cells, colour) for cells in (header, *body)]


def fit(columns: Sequence[Column], widths: list[int], limit: int) -> list[int]:
    """Narrow the widest shrinkable columns, one character at a time, until the line fits."""
    widths = list(widths)
    floors = [min(w, max(MIN_WIDTH, len(c.title))) for c, w in zip(columns, widths, strict=True)]
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - limit
    while excess > 0:
        candidates = [i for i, c in enumerate(columns) if c.shrink and widths[i] > floors[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        others = [widths[i] for i in candidates if i != widest]
        # down to the next widest column at once (or the floor), not one character per round
        step = max(1, min(excess, widths[widest] - max([floors[widest], *others])))
        widths[widest] -= step
        excess -= step
    return widths


def cut(text: str, width: int) -> str:
    """The text, ending in an ellipsis when it is longer than `width`."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + ELLIPSIS


def _cell(value: str | Cell) -> Cell:
    cell = value if isinstance(value, Cell) else Cell(value)
    return Cell(printable(cell.text), cell.style)


def _line(columns: Sequence[Column], widths: list[int], cells: list[Cell], colour: bool) -> str:
    parts = []
    for column, size, cell in zip(columns, widths, cells, strict=True):
        text = cut(cell.text, size)
        pad = " " * (size - len(text))
        styled = paint(text, cell.style, colour)
        parts.append(pad + styled if column.right else styled + pad)
    return GAP.join(parts).rstrip()
