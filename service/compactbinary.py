"""Unreal Engine compact binary (application/x-ue-cb): value types, encoder, decoder."""

from __future__ import annotations

import base64
import datetime as _dt
import math
import struct
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

MEDIA_TYPE = "application/x-ue-cb"

TICKS_PER_SECOND = 10_000_000
_TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000
_UNIX_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class CompactBinaryError(ValueError):
    """Raised for any bytes that are not valid compact binary, or a value that cannot be encoded."""


class Float32(float):
    """A float that is written as (and was read from) a Float32 field."""


class ObjectId(bytes):
    """A 12-byte ObjectId (a Zen Oid); text form is 24 lowercase hex digits."""

    def __new__(cls, value: bytes | str) -> ObjectId:
        raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
        if len(raw) != 12:
            raise CompactBinaryError(f"ObjectId needs 12 bytes, got {len(raw)}")
        return super().__new__(cls, raw)

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"ObjectId('{self.hex()}')"


class _Hash20(bytes):
    def __new__(cls, value: bytes | str) -> _Hash20:
        raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
        if len(raw) != 20:
            raise CompactBinaryError(f"{cls.__name__} needs 20 bytes, got {len(raw)}")
        return super().__new__(cls, raw)

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.hex()}')"


class Hash(_Hash20):
    """A 20-byte hash value (IoHash)."""


class ObjectAttachment(_Hash20):
    """The 20-byte hash of an external compact-binary object."""


class BinaryAttachment(_Hash20):
    """The 20-byte hash of external raw binary data."""


class DateTime(int):
    """A point in time as 100-ns ticks since 0001-01-01T00:00:00 UTC."""

    @classmethod
    def from_datetime(cls, value: _dt.datetime) -> DateTime:
        """Ticks of an aware datetime (a naive one is taken as UTC)."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        delta = value - _UNIX_EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return cls(_TICKS_AT_UNIX_EPOCH + micros * 10)

    def to_datetime(self) -> _dt.datetime:
        """The aware UTC datetime, truncated to microseconds."""
        micros = (int(self) - _TICKS_AT_UNIX_EPOCH) // 10
        return _UNIX_EPOCH + _dt.timedelta(microseconds=micros)


class TimeSpan(int):
    """A signed duration in 100-ns ticks."""


class CustomById(NamedTuple):
    """An application-defined field identified by an integer sub-type id."""

    type_id: int
    data: bytes


class CustomByName(NamedTuple):
    """An application-defined field identified by a sub-type name."""

    type_name: str
    data: bytes


# --- type ids (spec 2.2) -------------------------------------------------------------------

_NULL = 0x01
_OBJECT = 0x02
_UNIFORM_OBJECT = 0x03
_ARRAY = 0x04
_UNIFORM_ARRAY = 0x05
_BINARY = 0x06
_STRING = 0x07
_INTEGER_POSITIVE = 0x08
_INTEGER_NEGATIVE = 0x09
_FLOAT32 = 0x0A
_FLOAT64 = 0x0B
_BOOL_FALSE = 0x0C
_BOOL_TRUE = 0x0D
_OBJECT_ATTACHMENT = 0x0E
_BINARY_ATTACHMENT = 0x0F
_HASH = 0x10
_UUID = 0x11
_DATETIME = 0x12
_TIMESPAN = 0x13
_OBJECT_ID = 0x14
_CUSTOM_BY_ID = 0x1E
_CUSTOM_BY_NAME = 0x1F

_NAME_FLAG = 0x80
_TYPE_MASK = 0x1F

MAX_DEPTH = 128
"""Deepest container nesting encode(), decode() and to_jsonable() accept (top level is 1)."""

MAX_DATETIME_TICKS = 3_155_378_975_999_999_999
"""Ticks of 9999-12-31T23:59:59.9999999, the last instant UE's FDateTime can represent."""

_TICKS_PER_DAY = 86_400 * TICKS_PER_SECOND
_DATETIME_ZERO = _dt.datetime(1, 1, 1)
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1

_VALID_IDS = frozenset([*range(_NULL, _OBJECT_ID + 1), _CUSTOM_BY_ID, _CUSTOM_BY_NAME])
_UNNAMED_TYPES = _VALID_IDS
_NAMED_TYPES = frozenset(_NAME_FLAG | t for t in _VALID_IDS)
# Null and bool items carry no payload, so without their own type byte they would take zero
# bytes and a uniform array of them could never be walked (spec 3.5.4 and 3.6).
_EMPTY_PAYLOAD_IDS = frozenset([_NULL, _BOOL_FALSE, _BOOL_TRUE])
_UNIFORM_ITEM_TYPES = _UNNAMED_TYPES - _EMPTY_PAYLOAD_IDS

_FLOAT32_STRUCT = struct.Struct(">f")
_FLOAT64_STRUCT = struct.Struct(">d")
_TYPE_BYTES = tuple(bytes([b]) for b in range(256))

# A VarUInt's length is 1 + the leading one-bits of its first byte (at most 9); the mask keeps
# the value bits of an n-byte big-endian read (spec 1.2).
_VARUINT_SIZE = tuple(9 - ((~b) & 0xFF).bit_length() for b in range(256))
_VARUINT_MASK = (0, *((1 << (7 * n)) - 1 for n in range(1, 9)), _UINT64_MAX)


# --- encoding ------------------------------------------------------------------------------


def _varuint(value: int) -> bytes:
    """The shortest VarUInt encoding of 0 <= value < 2**64."""
    if value < 0x80:
        return _TYPE_BYTES[value]
    size = min(((value | 1).bit_length() - 1) // 7 + 1, 9)
    if size == 9:
        return b"\xff" + value.to_bytes(8, "big")
    prefix = (0xFF << (9 - size)) & 0xFF
    return (value | prefix << (8 * (size - 1))).to_bytes(size, "big")


def encode(value: Any) -> bytes:
    """Encode one value as a single unnamed compact-binary field (usually an object)."""
    try:
        type_id, payload = _encode_value(value, 0)
    except RecursionError:
        raise CompactBinaryError("value nests too deeply for the Python stack") from None
    return _TYPE_BYTES[type_id] + payload


def _encode_value(value: Any, depth: int) -> tuple[int, bytes]:
    """The type id and payload of one value; exact built-in types first, as they are common."""
    cls = type(value)
    if cls is str:
        return _encode_string(value)
    if cls is dict:
        return _encode_object(value, depth + 1)
    if cls is list:
        return _encode_array(value, depth + 1)
    if cls is int:
        return _encode_int(value)
    if value is None:
        return _NULL, b""
    if cls is bool:
        return (_BOOL_TRUE if value else _BOOL_FALSE), b""
    return _encode_other(value, depth)


def _encode_other(value: Any, depth: int) -> tuple[int, bytes]:
    """Encode subclasses and the wrapper types; order matters (ints and tuples are bases)."""
    if isinstance(value, DateTime):
        return _DATETIME, _encode_int64(value, "DateTime")
    if isinstance(value, TimeSpan):
        return _TIMESPAN, _encode_int64(value, "TimeSpan")
    if isinstance(value, int):
        return _encode_int(int(value))
    if isinstance(value, Float32):
        return _FLOAT32, _pack_float32(value)
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, str):
        return _encode_string(str(value))
    if isinstance(value, CustomById):
        return _encode_custom_by_id(value)
    if isinstance(value, CustomByName):
        return _encode_custom_by_name(value)
    if isinstance(value, dict):
        return _encode_object(value, depth + 1)
    if isinstance(value, list | tuple):
        return _encode_array(value, depth + 1)
    if isinstance(value, ObjectId):
        return _OBJECT_ID, bytes(value)
    if isinstance(value, Hash):
        return _HASH, bytes(value)
    if isinstance(value, ObjectAttachment):
        return _OBJECT_ATTACHMENT, bytes(value)
    if isinstance(value, BinaryAttachment):
        return _BINARY_ATTACHMENT, bytes(value)
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return _BINARY, _varuint(len(data)) + data
    if isinstance(value, uuid.UUID):
        return _UUID, value.bytes
    if isinstance(value, _dt.datetime):
        return _DATETIME, _encode_int64(DateTime.from_datetime(value), "DateTime")
    raise CompactBinaryError(f"cannot encode a value of type {type(value).__name__}")


def _encode_string(value: str) -> tuple[int, bytes]:
    """A String payload: UTF-8 byte length, then the bytes."""
    try:
        raw = value.encode()
    except UnicodeEncodeError as exc:
        raise CompactBinaryError(f"string is not encodable as UTF-8: {exc.reason}") from None
    return _STRING, _varuint(len(raw)) + raw


def _encode_int(value: int) -> tuple[int, bytes]:
    """IntegerPositive, or IntegerNegative holding the ones' complement (spec 3.2)."""
    if 0 <= value <= _UINT64_MAX:
        return _INTEGER_POSITIVE, _varuint(value)
    if _INT64_MIN <= value < 0:
        return _INTEGER_NEGATIVE, _varuint(-value - 1)
    raise CompactBinaryError(f"integer {value} is outside -2**63 .. 2**64-1")


def _encode_int64(value: int, what: str) -> bytes:
    """Big-endian signed 64-bit ticks."""
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise CompactBinaryError(f"{what} ticks {int(value)} do not fit in int64")
    return int(value).to_bytes(8, "big", signed=True)


def _pack_float32(value: float) -> bytes:
    """Binary32 bytes; a value that is not exactly a float32 is rounded to the nearest one."""
    try:
        return _FLOAT32_STRUCT.pack(value)
    except OverflowError:
        raise CompactBinaryError(f"Float32 value {value!r} is out of float32 range") from None


def _encode_float(value: float) -> tuple[int, bytes]:
    """Float32 when the double survives the float32 round trip exactly, else Float64."""
    try:
        packed = _FLOAT32_STRUCT.pack(value)
    except OverflowError:
        return _FLOAT64, _FLOAT64_STRUCT.pack(value)
    # NaN never equals itself, so it always takes this Float64 branch (spec 3.5.2).
    if _FLOAT32_STRUCT.unpack(packed)[0] != value:
        return _FLOAT64, _FLOAT64_STRUCT.pack(value)
    return _FLOAT32, packed


def _custom_data(data: Any) -> bytes:
    """The data bytes of a custom field."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CompactBinaryError(f"custom field data must be bytes, not {type(data).__name__}")
    return bytes(data)


def _encode_custom_by_id(value: CustomById) -> tuple[int, bytes]:
    """VarUInt size, VarUInt sub-type id, data."""
    type_id = value.type_id
    if isinstance(type_id, bool) or not isinstance(type_id, int):
        raise CompactBinaryError("CustomById type_id must be an int")
    if not 0 <= type_id <= _UINT64_MAX:
        raise CompactBinaryError(f"CustomById type_id {type_id} is outside 0 .. 2**64-1")
    body = _varuint(type_id) + _custom_data(value.data)
    return _CUSTOM_BY_ID, _varuint(len(body)) + body


def _encode_custom_by_name(value: CustomByName) -> tuple[int, bytes]:
    """VarUInt size, VarUInt name length, UTF-8 name, data."""
    if not isinstance(value.type_name, str) or not value.type_name:
        raise CompactBinaryError("CustomByName type_name must be a non-empty str")
    _, name = _encode_string(value.type_name)
    body = name + _custom_data(value.data)
    return _CUSTOM_BY_NAME, _varuint(len(body)) + body


def _encode_object(value: dict[Any, Any], depth: int) -> tuple[int, bytes]:
    """Object or UniformObject: uniform iff non-empty with one shared type (spec 3.5.4)."""
    if depth > MAX_DEPTH:
        raise CompactBinaryError(f"containers nest deeper than {MAX_DEPTH} levels")
    types: list[int] = []
    fields: list[bytes] = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise CompactBinaryError(f"object keys must be str, not {type(key).__name__}")
        if not key:
            raise CompactBinaryError("object keys must not be empty")
        type_id, payload = _encode_value(item, depth)
        types.append(type_id)
        fields.append(_encode_string(key)[1] + payload)
    if not fields:
        return _OBJECT, b"\x00"
    first = types[0]
    if types.count(first) == len(types):
        # Named fields are never empty, so one shared type is enough for uniformity.
        body = _TYPE_BYTES[_NAME_FLAG | first] + b"".join(fields)
        return _UNIFORM_OBJECT, _varuint(len(body)) + body
    parts: list[bytes] = []
    for type_id, field in zip(types, fields, strict=True):
        parts.append(_TYPE_BYTES[_NAME_FLAG | type_id])
        parts.append(field)
    body = b"".join(parts)
    return _OBJECT, _varuint(len(body)) + body


def _encode_array(value: list[Any] | tuple[Any, ...], depth: int) -> tuple[int, bytes]:
    """Array or UniformArray: uniform iff non-empty, one shared type, non-empty items."""
    if depth > MAX_DEPTH:
        raise CompactBinaryError(f"containers nest deeper than {MAX_DEPTH} levels")
    types: list[int] = []
    items: list[bytes] = []
    for item in value:
        type_id, payload = _encode_value(item, depth)
        types.append(type_id)
        items.append(payload)
    count = _varuint(len(items))
    if items:
        first = types[0]
        if first not in _EMPTY_PAYLOAD_IDS and types.count(first) == len(types):
            body = count + _TYPE_BYTES[first] + b"".join(items)
            return _UNIFORM_ARRAY, _varuint(len(body)) + body
    parts = [count]
    for type_id, payload in zip(types, items, strict=True):
        parts.append(_TYPE_BYTES[type_id])
        parts.append(payload)
    body = b"".join(parts)
    return _ARRAY, _varuint(len(body)) + body


# --- decoding ------------------------------------------------------------------------------
#
# Every reader takes (buf, pos, end, depth): the whole input, the offset of the payload, the end
# of the enclosing container (never past len(buf)) and the nesting depth of the enclosing
# container; it returns (value, offset after the payload). Positions are absolute, so error
# offsets point into the caller's bytes. Lengths are compared with `end` before anything is
# sliced, so a forged length can never make us allocate or read beyond the input.

_Reader = Callable[[bytes, int, int, int], tuple[Any, int]]


def decode(data: bytes | bytearray | memoryview) -> Any:
    """Decode exactly one compact-binary field (any type, usually an object)."""
    if not isinstance(data, bytes):
        if not isinstance(data, bytearray | memoryview):
            raise TypeError(f"decode() needs bytes, not {type(data).__name__}")
        data = bytes(data)
    end = len(data)
    if not end:
        raise CompactBinaryError("empty input: expected one field")
    type_byte = data[0]
    if type_byte not in _UNNAMED_TYPES and type_byte not in _NAMED_TYPES:
        raise _bad_type(type_byte, 0)
    pos = 1
    if type_byte & _NAME_FLAG:
        # UE may save a plain named field at top level; the name has nowhere to go, so it is
        # checked and dropped (as UE's object load does for a named object).
        _, pos = _read_name(data, pos, end)
    try:
        value, pos = _READERS[type_byte & _TYPE_MASK](data, pos, end, 0)
    except RecursionError:
        raise CompactBinaryError("input nests too deeply for the Python stack") from None
    if pos != end:
        raise CompactBinaryError(f"{end - pos} trailing bytes after the field at offset {pos}")
    return value


def _bad_type(type_byte: int, pos: int) -> CompactBinaryError:
    """The error for an invalid type byte."""
    return CompactBinaryError(f"invalid field type byte 0x{type_byte:02x} at offset {pos}")


def _overrun(what: str, pos: int, size: int, end: int) -> CompactBinaryError:
    """The error for a length that runs past the enclosing container or the input."""
    return CompactBinaryError(
        f"{what} at offset {pos} needs {size} bytes but only {max(end - pos, 0)} remain"
    )


def _read_varuint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A VarUInt; non-minimal encodings are accepted (spec 1.2)."""
    if pos >= end:
        raise CompactBinaryError(f"truncated VarUInt at offset {pos}")
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    size = _VARUINT_SIZE[first]
    stop = pos + size
    if stop > end:
        raise _overrun("VarUInt", pos, size, end)
    return int.from_bytes(buf[pos:stop], "big") & _VARUINT_MASK[size], stop


def _read_utf8(buf: bytes, pos: int, stop: int, what: str) -> str:
    """Decode buf[pos:stop] as strict UTF-8."""
    try:
        return buf[pos:stop].decode()
    except UnicodeDecodeError as exc:
        raise CompactBinaryError(f"invalid UTF-8 in {what} at offset {pos + exc.start}") from None


def _read_name(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    """A field name: VarUInt byte length, then non-empty UTF-8."""
    size, start = _read_varuint(buf, pos, end)
    if not size:
        raise CompactBinaryError(f"empty field name at offset {pos}")
    stop = start + size
    if stop > end:
        raise _overrun("field name", start, size, end)
    return _read_utf8(buf, start, stop, "field name"), stop


def _read_sized(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """A VarUInt size prefix; returns (start, stop) of the bytes it covers."""
    size = buf[pos] if pos < end else 0x80
    if size < 0x80:  # inline fast path for one-byte sizes; the hot path of small fields
        start = pos + 1
    else:
        size, start = _read_varuint(buf, pos, end)
    stop = start + size
    if stop > end:
        raise _overrun(what, start, size, end)
    return start, stop


def _read_null(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    return None, pos


def _read_false(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    return False, pos


def _read_true(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    return True, pos


def _read_string(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    start, stop = _read_sized(buf, pos, end, "string")
    try:
        return buf[start:stop].decode(), stop
    except UnicodeDecodeError as exc:
        raise CompactBinaryError(f"invalid UTF-8 in string at offset {start + exc.start}") from None


def _read_binary(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    start, stop = _read_sized(buf, pos, end, "binary")
    return buf[start:stop], stop


def _read_integer_positive(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    return _read_varuint(buf, pos, end)


def _read_integer_negative(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    complement, stop = _read_varuint(buf, pos, end)
    if complement > _INT64_MAX:
        # Below int64's minimum: UE cannot read it and encode() could not write it back.
        raise CompactBinaryError(f"negative integer at offset {pos} is below -2**63")
    return -complement - 1, stop


def _fixed(size: int, convert: Callable[[bytes], Any], what: str) -> _Reader:
    """A reader for a fixed-size payload."""

    def read(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
        stop = pos + size
        if stop > end:
            raise _overrun(what, pos, size, end)
        return convert(buf[pos:stop]), stop

    return read


def _read_custom_by_id(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    start, stop = _read_sized(buf, pos, end, "CustomById")
    type_id, data_start = _read_varuint(buf, start, stop)
    return CustomById(type_id, buf[data_start:stop]), stop


def _read_custom_by_name(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    start, stop = _read_sized(buf, pos, end, "CustomByName")
    name, data_start = _read_name(buf, start, stop)
    return CustomByName(name, buf[data_start:stop]), stop


def _read_object(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    return _read_fields(buf, pos, end, depth, uniform=False)


def _read_uniform_object(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    return _read_fields(buf, pos, end, depth, uniform=True)


def _read_fields(buf: bytes, pos: int, end: int, depth: int, uniform: bool) -> tuple[Any, int]:
    """The fields of an Object or UniformObject, as a dict in stored order."""
    depth += 1
    if depth > MAX_DEPTH:
        raise CompactBinaryError(f"containers nest deeper than {MAX_DEPTH} levels at {pos}")
    pos, stop = _read_sized(buf, pos, end, "object")
    shared = 0
    if uniform and pos < stop:  # a UniformObject of size 0 is an empty object
        shared = buf[pos]
        if shared not in _NAMED_TYPES:
            raise CompactBinaryError(
                f"invalid shared field type 0x{shared:02x} in object at offset {pos}"
            )
        pos += 1
    readers = _READERS
    result: dict[str, Any] = {}
    while pos < stop:
        type_byte = shared
        if not type_byte:
            type_byte = buf[pos]
            if type_byte not in _NAMED_TYPES:
                if type_byte in _UNNAMED_TYPES:
                    raise CompactBinaryError(f"object field without a name at offset {pos}")
                raise _bad_type(type_byte, pos)
            pos += 1
        # Inline fast path for the common one-byte name length; _read_name does the rest.
        size = buf[pos] if pos < stop else 0
        if 0 < size < 0x80 and pos + 1 + size <= stop:
            start = pos + 1
            pos = start + size
            try:
                name = buf[start:pos].decode()
            except UnicodeDecodeError as exc:
                raise CompactBinaryError(
                    f"invalid UTF-8 in field name at offset {start + exc.start}"
                ) from None
        else:
            start = pos
            name, pos = _read_name(buf, pos, stop)
        if name in result:
            raise CompactBinaryError(f"duplicate field name {name!r} at offset {start}")
        result[name], pos = readers[type_byte & _TYPE_MASK](buf, pos, stop, depth)
    return result, pos


def _read_array(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    """The items of an Array, each with its own type byte."""
    depth += 1
    if depth > MAX_DEPTH:
        raise CompactBinaryError(f"containers nest deeper than {MAX_DEPTH} levels at {pos}")
    body, stop = _read_sized(buf, pos, end, "array")
    count, pos = _read_varuint(buf, body, stop)
    # Every item takes at least its type byte, so this bounds count by the real input size.
    if count > stop - pos:
        raise CompactBinaryError(
            f"array at offset {body} claims {count} items in {stop - pos} bytes"
        )
    readers = _READERS
    items: list[Any] = []
    append = items.append
    while pos < stop:
        type_byte = buf[pos]
        if type_byte not in _UNNAMED_TYPES:
            if type_byte in _NAMED_TYPES:
                raise CompactBinaryError(f"array item with a name at offset {pos}")
            raise _bad_type(type_byte, pos)
        item, pos = readers[type_byte](buf, pos + 1, stop, depth)
        append(item)
    return _check_count(items, count, body), pos


def _read_uniform_array(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    """The items of a UniformArray, sharing one type byte."""
    depth += 1
    if depth > MAX_DEPTH:
        raise CompactBinaryError(f"containers nest deeper than {MAX_DEPTH} levels at {pos}")
    body, stop = _read_sized(buf, pos, end, "array")
    count, pos = _read_varuint(buf, body, stop)
    items: list[Any] = []
    if pos < stop:  # otherwise there is no shared type and no item
        shared = buf[pos]
        if shared not in _UNIFORM_ITEM_TYPES:
            if shared in _EMPTY_PAYLOAD_IDS:
                raise CompactBinaryError(
                    f"uniform array of zero-length items (type 0x{shared:02x}) at offset {pos}"
                )
            if shared in _NAMED_TYPES:
                raise CompactBinaryError(f"array item with a name at offset {pos}")
            raise _bad_type(shared, pos)
        pos += 1
        # Every item payload takes at least one byte, so count cannot exceed what is left.
        if count > stop - pos:
            raise CompactBinaryError(
                f"array at offset {body} claims {count} items in {stop - pos} bytes"
            )
        read = _READERS[shared]
        append = items.append
        while pos < stop:
            item, pos = read(buf, pos, stop, depth)
            append(item)
    return _check_count(items, count, body), pos


def _check_count(items: list[Any], count: int, pos: int) -> list[Any]:
    """The items, if there are as many as the array's count says."""
    if len(items) != count:
        raise CompactBinaryError(
            f"array at offset {pos} claims {count} items but holds {len(items)}"
        )
    return items


def _read_invalid(buf: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    # Unreachable: type bytes are checked against _NAMED_TYPES/_UNNAMED_TYPES first.
    raise CompactBinaryError(f"invalid field type before offset {pos}")


def _float32(raw: bytes) -> Float32:
    return Float32(_FLOAT32_STRUCT.unpack(raw)[0])


def _float64(raw: bytes) -> float:
    return float(_FLOAT64_STRUCT.unpack(raw)[0])


def _ticks(raw: bytes) -> int:
    return int.from_bytes(raw, "big", signed=True)


def _uuid(raw: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=raw)


_READERS: tuple[_Reader, ...] = tuple(
    {
        _NULL: _read_null,
        _OBJECT: _read_object,
        _UNIFORM_OBJECT: _read_uniform_object,
        _ARRAY: _read_array,
        _UNIFORM_ARRAY: _read_uniform_array,
        _BINARY: _read_binary,
        _STRING: _read_string,
        _INTEGER_POSITIVE: _read_integer_positive,
        _INTEGER_NEGATIVE: _read_integer_negative,
        _FLOAT32: _fixed(4, _float32, "Float32"),
        _FLOAT64: _fixed(8, _float64, "Float64"),
        _BOOL_FALSE: _read_false,
        _BOOL_TRUE: _read_true,
        _OBJECT_ATTACHMENT: _fixed(20, ObjectAttachment, "ObjectAttachment"),
        _BINARY_ATTACHMENT: _fixed(20, BinaryAttachment, "BinaryAttachment"),
        _HASH: _fixed(20, Hash, "Hash"),
        _UUID: _fixed(16, _uuid, "Uuid"),
        _DATETIME: _fixed(8, lambda raw: DateTime(_ticks(raw)), "DateTime"),
        _TIMESPAN: _fixed(8, lambda raw: TimeSpan(_ticks(raw)), "TimeSpan"),
        _OBJECT_ID: _fixed(12, ObjectId, "ObjectId"),
        _CUSTOM_BY_ID: _read_custom_by_id,
        _CUSTOM_BY_NAME: _read_custom_by_name,
    }.get(type_id, _read_invalid)
    for type_id in range(32)
)


# --- JSON mapping (spec 5) -----------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Convert a decoded value tree to plain JSON-compatible values (spec section 5)."""
    return _jsonable(value, 0)


def _jsonable(value: Any, depth: int) -> Any:
    """One value of to_jsonable(); containers count towards MAX_DEPTH."""
    cls = type(value)
    if cls is str or cls is int or cls is bool or value is None:
        return value
    if cls is dict or cls is list:
        depth += 1
        if depth > MAX_DEPTH:
            raise CompactBinaryError(f"containers nest deeper than {MAX_DEPTH} levels")
        if cls is dict:
            return {key: _jsonable(item, depth) for key, item in value.items()}
        return [_jsonable(item, depth) for item in value]
    return _jsonable_other(value, depth)


def _jsonable_other(value: Any, depth: int) -> Any:
    """to_jsonable() for the wrapper types and subclasses; order matters as in encode."""
    if isinstance(value, DateTime):
        return datetime_text(value)
    if isinstance(value, TimeSpan):
        return timespan_text(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        # UE prints non-finite floats with printf ("inf", "nan"), which is not JSON; None
        # (null) is the closest valid JSON value.
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, CustomById):
        return {"Id": value.type_id, "Data": _base64(value.data)}
    if isinstance(value, CustomByName):
        return {"Name": value.type_name, "Data": _base64(value.data)}
    if isinstance(value, ObjectId | _Hash20):
        return value.hex()
    if isinstance(value, bytes | bytearray | memoryview):
        return _base64(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, _dt.datetime):
        return datetime_text(DateTime.from_datetime(value))
    if isinstance(value, dict | list | tuple):
        depth += 1
        if depth > MAX_DEPTH:
            raise CompactBinaryError(f"containers nest deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            return {key: _jsonable(item, depth) for key, item in value.items()}
        return [_jsonable(item, depth) for item in value]
    raise CompactBinaryError(f"cannot convert a value of type {type(value).__name__} to JSON")


def _base64(data: bytes | bytearray | memoryview) -> str:
    """Standard base64 with padding (RFC 4648), as UE's JSON writer uses for binary."""
    return base64.b64encode(data).decode("ascii")


def datetime_text(ticks: int) -> str:
    """UE's JSON text of DateTime ticks, YYYY-MM-DDTHH:MM:SS.mmmZ (out-of-range ticks clamp)."""
    # Clamping keeps a hostile or corrupt timestamp from breaking a whole rendering.
    ticks = min(max(int(ticks), 0), MAX_DATETIME_TICKS)
    # isoformat() pads the year to 4 digits and truncates (never rounds) to milliseconds.
    moment = _DATETIME_ZERO + _dt.timedelta(microseconds=ticks // 10)
    return moment.isoformat(timespec="milliseconds") + "Z"


def timespan_text(ticks: int) -> str:
    """UE's JSON text of TimeSpan ticks: always signed, [D.]HH:MM:SS.nnnnnnnnn."""
    sign = "-" if ticks < 0 else "+"
    days, rest = divmod(abs(int(ticks)), _TICKS_PER_DAY)
    seconds, fraction = divmod(rest, TICKS_PER_SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    clock = f"{hour:02d}:{minute:02d}:{second:02d}.{fraction * 100:09d}"
    return f"{sign}{days}.{clock}" if days else f"{sign}{clock}"
