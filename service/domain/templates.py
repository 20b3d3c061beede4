"""Unreal structured-logging message templates: `{Name}` placeholders filled from fields."""

from __future__ import annotations

import binascii
import datetime as _dt
import json
import math
import re
import struct
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from service.compactbinary import (
    BinaryAttachment,
    CustomById,
    CustomByName,
    DateTime,
    Float32,
    Hash,
    ObjectAttachment,
    ObjectId,
    TimeSpan,
)

MAX_DEPTH: Final = 32
"""Values nested deeper than this (lists, objects, `$format` inside `$format`) render as `...`."""

DEFAULT_BUDGET: Final = 1 << 20
"""Roughly how many characters the values of one render may produce before the rest are `...`."""

ELIDED: Final = "..."

# `{{`, `}}`, or `{Name.Path}`; possessive quantifiers keep a failed match linear.
_TOKEN: Final = re.compile(
    r"\{\{|\}\}|\{([A-Za-z0-9][A-Za-z0-9_]*+(?:\.[A-Za-z0-9][A-Za-z0-9_]*+)*+)\}"
)
_MISSING: Final = object()
# Parsed templates by their text: a program logs from a fixed set of call sites, so the same
# few templates come again and again. Bounded: cleared when full; long ones are not kept.
_PARSED: Final[dict[str, tuple[str, ...]]] = {}
_MAX_PARSED: Final = 1024
_MAX_PARSED_LENGTH: Final = 512
_HEX_TYPES: Final = (ObjectId, Hash, ObjectAttachment, BinaryAttachment)
_BINARY_TYPES: Final = (bytes, bytearray, memoryview)
_quote: Final = json.JSONEncoder(ensure_ascii=False).encode
_F32: Final = struct.Struct("<f")

_TICKS_PER_MS: Final = 10_000
_TICKS_PER_SECOND: Final = 10_000_000
_TICKS_PER_DAY: Final = 86_400 * _TICKS_PER_SECOND
_MAX_DATETIME_TICKS: Final = 3_155_378_975_999_999_999  # 9999-12-31T23:59:59.9999999
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
# Converting a giant integer to decimal is quadratic; no log message needs one.
_MAX_INT_BITS: Final = 1 << 16


def render(template: str, fields: Mapping[str, Any], *, budget: int = DEFAULT_BUDGET) -> str:
    """The template with every placeholder replaced by its field's text; never raises."""
    if "{" not in template and "}" not in template:
        return template
    return _Renderer(budget).template(template, fields, 0)


def render_value(value: Any, *, budget: int = DEFAULT_BUDGET) -> str:
    """One value as a placeholder would show it."""
    return _Renderer(budget).value(value, 0)


class _Renderer:
    """One render's state: a work budget shared by every nested value and template."""

    __slots__ = ("left",)

    def __init__(self, budget: int) -> None:
        self.left = budget

    def template(self, template: str, fields: Mapping[str, Any], depth: int) -> str:
        """The template rendered against fields, its values at the given depth."""
        if "{" not in template and "}" not in template:
            return template
        parts = _parsed(template)
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            value = _lookup(fields, parts[i])
            if value is not _MISSING:
                out.append(self.value(value, depth))
            out.append(parts[i + 1])
        return "".join(out)

    def value(self, value: Any, depth: int) -> str:
        """The text of one value; exact common types first, since this is the ingest hot path."""
        self.left -= 1
        if self.left < 0 or depth > MAX_DEPTH:
            return ELIDED
        kind = type(value)
        if kind is str:
            text: str = value
        elif kind is int:
            text = _integer(value)
        elif kind is float:
            text = float.__repr__(value)
        elif kind is bool:
            text = "true" if value else "false"
        elif value is None:
            text = "null"
        elif kind is dict:
            return self.object(value, depth)
        elif kind is list or kind is tuple:
            return self.array(value, depth)
        else:
            return self.other(value, depth)
        self.left -= len(text)
        return text

    def other(self, value: Any, depth: int) -> str:
        """Subclasses and the compact-binary types, most specific first."""
        if isinstance(value, (CustomById, CustomByName)):
            return self.custom(value, depth)
        if isinstance(value, Mapping):
            return self.object(value, depth)
        if isinstance(value, (list, tuple)):
            return self.array(value, depth)
        text = _scalar(value)
        self.left -= len(text)
        return text

    def array(self, items: list[Any] | tuple[Any, ...], depth: int) -> str:
        """`[a, b]`, items by the same rules (strings unquoted, as Unreal shows them)."""
        parts = []
        for item in items:
            if self.left <= 0:
                parts.append(ELIDED)
                break
            parts.append(self.value(item, depth + 1))
        return "[" + ", ".join(parts) + "]"

    def object(self, value: Mapping[Any, Any], depth: int) -> str:
        """Its `$text`, else its `$format` against itself, else `{"k": v, ...}`."""
        if "$text" in value:
            return self.value(value["$text"], depth + 1)
        template = value.get("$format")
        if isinstance(template, str):
            # Charged up front: one object referenced many times must not multiply its text.
            self.left -= len(template)
            return self.template(template, value, depth + 1)
        parts = []
        for key, item in value.items():
            if self.left <= 0:
                parts.append(ELIDED)
                break
            name = _quote(key if isinstance(key, str) else _scalar(key))
            self.left -= len(name)
            parts.append(f"{name}: {self.value(item, depth + 1)}")
        return "{" + ", ".join(parts) + "}"

    def custom(self, value: CustomById | CustomByName, depth: int) -> str:
        """`{"Id": 7, "Data": "AQID"}` or `{"Name": "x", "Data": "AQID"}`, as UE writes them."""
        if isinstance(value, CustomById):
            head = f'"Id": {self.value(value.type_id, depth + 1)}'
        else:
            name = value.type_name
            head = f'"Name": {_quote(name if isinstance(name, str) else _scalar(name))}'
        data = value.data
        if isinstance(data, _BINARY_TYPES):
            body = f'"{_base64(data)}"'
            self.left -= len(body)
        else:
            body = self.value(data, depth + 1)
        return "{" + head + ', "Data": ' + body + "}"


def _parsed(template: str) -> tuple[str, ...]:
    """Literal text and placeholder names, alternating: (text, name, text, ..., text)."""
    parts = _PARSED.get(template)
    if parts is None:
        parts = _split(template)
        if len(template) <= _MAX_PARSED_LENGTH:
            if len(_PARSED) >= _MAX_PARSED:
                _PARSED.clear()
            _PARSED[template] = parts
    return parts


def _split(template: str) -> tuple[str, ...]:
    parts: list[str] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(template):
        literal.append(template[position : match.start()])
        name = match.group(1)
        if name is None:
            literal.append(match.group()[0])  # `{{` or `}}`
        else:
            parts += ("".join(literal), name)
            literal = []
        position = match.end()
    literal.append(template[position:])
    parts.append("".join(literal))
    return tuple(parts)


def _lookup(fields: Mapping[str, Any], name: str) -> Any:
    """The value at a dotted path, else a flat key spelled with dots, else _MISSING."""
    if "." not in name:
        return fields.get(name, _MISSING)
    node: Any = fields
    for segment in name.split("."):
        if not isinstance(node, Mapping):
            return fields.get(name, _MISSING)
        node = node.get(segment, _MISSING)
    return fields.get(name, _MISSING) if node is _MISSING else node


def _scalar(value: Any) -> str:
    """Leaf values that are not exactly str/int/float/bool/None; order matters for subclasses."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, DateTime):
        return _datetime(value)
    if isinstance(value, TimeSpan):
        return _timespan(value)
    if isinstance(value, int):
        return _integer(value)
    if isinstance(value, Float32):
        return _float32(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, _HEX_TYPES):
        return bytes.hex(value)
    if isinstance(value, _BINARY_TYPES):
        return _base64(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(value)
    except Exception:
        # A foreign object whose __str__ fails must not fail the log batch.
        return f"<{type(value).__name__}>"


def _integer(value: int) -> str:
    """Decimal digits, even past Python's int-to-str digit limit."""
    if value.bit_length() > _MAX_INT_BITS:
        return ELIDED
    try:
        return int.__repr__(value)
    except ValueError:
        return str(Decimal(value))


def _float32(value: float) -> str:
    """The shortest decimal that reads back as the same float32 (0.1f -> `0.1`)."""
    single = _to_float32(float.__float__(value))
    if single is None or not math.isfinite(single):
        return float.__repr__(value)
    for digits in range(9):
        text = f"{single:.{digits}e}"
        if _to_float32(float(text)) == single:
            return float.__repr__(float(text))
    return float.__repr__(single)  # unreachable: 9 significant digits always round-trip


def _to_float32(value: float) -> float | None:
    """The nearest float32, or None when the value is beyond float32's range."""
    try:
        single: float = _F32.unpack(_F32.pack(value))[0]
    except OverflowError:
        return None
    return single


def _base64(data: bytes | bytearray | memoryview) -> str:
    """Standard Base64 with padding, no newline."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _datetime(ticks: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`; ticks outside year 1 to 9999 are clamped, not rejected."""
    ticks = min(max(int.__int__(ticks), 0), _MAX_DATETIME_TICKS)
    days, rest = divmod(ticks, _TICKS_PER_DAY)
    day = _dt.date.fromordinal(days + 1)
    seconds, fraction = divmod(rest, _TICKS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    millis = fraction // _TICKS_PER_MS
    return (
        f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
        f"T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"
    )


def _timespan(ticks: int) -> str:
    """`+HH:MM:SS.nnnnnnnnn`, or `-D.HH:MM:SS.nnnnnnnnn` with days; clamped to int64."""
    ticks = min(max(int.__int__(ticks), _INT64_MIN), _INT64_MAX)
    sign = "-" if ticks < 0 else "+"
    days, rest = divmod(abs(ticks), _TICKS_PER_DAY)
    seconds, fraction = divmod(rest, _TICKS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    clock = f"{hour:02d}:{minute:02d}:{second:02d}.{fraction * 100:09d}"
    return f"{sign}{days}.{clock}" if days else f"{sign}{clock}"
