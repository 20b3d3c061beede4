"""`sessions sql`: one query on the database file, read-only, as a table, CSV or JSON."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import Any, TextIO

import msgspec

from service.tools.tables import Column, render


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    width: int | None = None,
    colour: bool = False,
) -> list[str]:
    """The rows as an aligned table (NULL as empty, blobs as hex); numbers align right."""
    heads = [Column(name, right=_numeric(rows, i)) for i, name in enumerate(columns)]
    cells = [[_text(value) for value in row] for row in rows]
    return render(heads, cells, width=width, colour=colour)


def write_csv(out: TextIO, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A header line, then one line per row (NULL as empty, blobs as hex)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_text(value) for value in row] for row in rows])


def write_json(out: TextIO, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A JSON array of one object per row, a row per line (blobs as hex)."""
    objects = [
        msgspec.json.encode({name: _plain(value) for name, value in zip(columns, row, strict=True)})
        for row in rows
    ]
    out.write("[" + ",\n ".join(item.decode() for item in objects) + "]\n")


def _numeric(rows: Sequence[Sequence[Any]], index: int) -> bool:
    values = [row[index] for row in rows if row[index] is not None]
    return bool(values) and all(isinstance(v, int | float) for v in values)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _plain(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value
