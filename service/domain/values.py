"""User values (metadata, template fields) as stored: JSON text, plus compact binary when typed."""

from __future__ import annotations

from typing import Any

import msgspec

from service import compactbinary

_encoder = msgspec.json.Encoder()


def stored(value: Any, *, typed: bool) -> tuple[str, bytes | None]:
    """JSON for the queryable column; for values that came as compact binary, their bytes too."""
    if not typed:
        return _encoder.encode(value).decode(), None
    json = _encoder.encode(compactbinary.to_jsonable(value)).decode()
    return json, compactbinary.encode(value)
