"""Tests for service.compactbinary against the byte vectors of /work/shared/compact-binary.md."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
import struct
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.compactbinary import (
    MAX_DEPTH,
    MEDIA_TYPE,
    BinaryAttachment,
    CompactBinaryError,
    CustomById,
    CustomByName,
    DateTime,
    Float32,
    Hash,
    ObjectAttachment,
    ObjectId,
    TimeSpan,
    datetime_text,
    decode,
    encode,
    timespan_text,
    to_jsonable,
)

UUID_00_0F = uuid.UUID("00010203-0405-0607-0809-0a0b0c0d0e0f")
HASH_01_14 = Hash(bytes(range(1, 21)))
TICKS_2024 = 638397614456780000  # 2024-01-02T03:04:05.678Z


def h(text: str) -> bytes:
    """Bytes from spaced hex as written in the spec."""
    return bytes.fromhex(text.replace(" ", ""))


def spec_varuint(value: int) -> bytes:
    """The spec's own VarUInt sketch (section 1.2), an oracle independent of the module."""
    n = next((k for k in range(1, 9) if value < 1 << (7 * k)), 9)
    if n == 9:
        return b"\xff" + value.to_bytes(8, "big")
    raw = bytearray(value.to_bytes(n, "big"))
    raw[0] |= (0xFF << (9 - n)) & 0xFF
    return bytes(raw)


def typed(value: Any) -> Any:
    """A comparable form that also tells Float32 from float, list from tuple, -0.0 from 0.0."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if type(value) is list:
        return ("list", [typed(item) for item in value])
    if isinstance(value, float):
        return (type(value), struct.pack(">d", value))
    if isinstance(value, CustomById | CustomByName):
        return (type(value), value[0], type(value.data), bytes(value.data))
    return (type(value), value)


def assert_same(actual: Any, expected: Any) -> None:
    """Equal values with equal types all the way down."""
    assert typed(actual) == typed(expected)


def fits_float32(value: float) -> bool:
    """Rule 3.5.2, restated independently."""
    try:
        return bool(struct.unpack(">f", struct.pack(">f", value))[0] == value)
    except OverflowError:
        return False


def expected_decoded(value: Any) -> Any:
    """What decode(encode(value)) must return: the decoder's type for each encoder input."""
    if isinstance(value, CustomById):
        return CustomById(value.type_id, bytes(value.data))
    if isinstance(value, CustomByName):
        return CustomByName(value.type_name, bytes(value.data))
    if isinstance(value, dict):
        return {key: expected_decoded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [expected_decoded(item) for item in value]
    if type(value) is float and fits_float32(value):
        return Float32(value)
    if isinstance(value, dt.datetime):
        return DateTime.from_datetime(value)
    if type(value) in (bytearray, memoryview):
        return bytes(value)
    return value


# --- section 1: VarUInt --------------------------------------------------------------------

VARUINT_TABLE = [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "80 80"),
    (16383, "bf ff"),
    (16384, "c0 40 00"),
    (2097151, "df ff ff"),
    (2097152, "e0 20 00 00"),
    (2**28 - 1, "ef ff ff ff"),
    (2**28, "f0 10 00 00 00"),
    (2**32, "f1 00 00 00 00"),
    (2**35 - 1, "f7 ff ff ff ff"),
    (2**35, "f8 08 00 00 00 00"),
    (2**42, "fc 04 00 00 00 00 00"),
    (2**49, "fe 02 00 00 00 00 00 00"),
    (2**56 - 1, "fe ff ff ff ff ff ff ff"),
    (2**56, "ff 01 00 00 00 00 00 00 00"),
    (2**63, "ff 80 00 00 00 00 00 00 00"),
    (2**64 - 1, "ff ff ff ff ff ff ff ff ff"),
    # VarInt.h header comment cross-checks (with its 0x123456789ab typo corrected to f9).
    (0x123, "81 23"),
    (0x12345, "c1 23 45"),
    (0x12345678, "f0 12 34 56 78"),
    (0x123456789, "f1 23 45 67 89"),
    (0x123456789AB, "f9 23 45 67 89 ab"),
    (0x123456789ABCDE, "fe 12 34 56 78 9a bc de"),
    (0x123456789ABCDEF, "ff 01 23 45 67 89 ab cd ef"),
]


@pytest.mark.parametrize(("value", "hex_bytes"), VARUINT_TABLE)
def test_varuint_table_as_integer_positive(value: int, hex_bytes: str) -> None:
    assert encode(value) == b"\x08" + h(hex_bytes)
    assert_same(decode(b"\x08" + h(hex_bytes)), value)
    assert spec_varuint(value) == h(hex_bytes)


def test_varint_header_typo_decodes_to_another_value() -> None:
    assert decode(h("08 fb 23 45 67 89 ab")) == 0x323456789AB


@given(st.integers(0, 2**64 - 1))
def test_varuint_matches_spec_sketch(value: int) -> None:
    assert encode(value) == b"\x08" + spec_varuint(value)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ("08 80 01", 1),
        ("08 c0 00 01", 1),
        ("08 ff 00 00 00 00 00 00 00 7f", 127),
        ("09 80 00", -1),
        ("03 05 88 80 01 61 01", {"a": 1}),  # name length 80 01 (validator: InvalidInteger)
        ("02 ff 00 00 00 00 00 00 00 04 88 01 61 01", {"a": 1}),
        ("05 f0 00 00 00 07 c0 00 03 08 01 02 03", [1, 2, 3]),
        ("07 80 01 78", "x"),
        ("1e e0 00 00 03 80 07 aa", CustomById(7, b"\xaa")),
    ],
)
def test_non_minimal_varuints_are_accepted(data: str, value: Any) -> None:
    assert_same(decode(h(data)), value)


# --- section 3.2: integers, floats, fixed-size payloads ------------------------------------


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        (0, "08 00"),
        (-1, "09 00"),
        (-2, "09 01"),
        (-128, "09 7f"),
        (-129, "09 80 80"),
        (-(2**63), "09 ff 7f ff ff ff ff ff ff ff"),
        (True, "0d"),
        (False, "0c"),
        (None, "01"),
        (b"", "06 00"),
        (b"\x01\x02\x03", "06 03 01 02 03"),
        ("", "07 00"),
        (UUID_00_0F, "11 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"),
        (DateTime(TICKS_2024), "12 08 dc 0b 3f 7b 27 34 e0"),
        (DateTime(0x1020304050607080), "12 10 20 30 40 50 60 70 80"),
        (TimeSpan(0x1020304050607080), "13 10 20 30 40 50 60 70 80"),
        (TimeSpan(15_000_000), "13 00 00 00 00 00 e4 e1 c0"),
        (TimeSpan(-15_000_000), "13 ff ff ff ff ff 1b 1e 40"),
        (ObjectId("00112233445566778899aabb"), "14 00 11 22 33 44 55 66 77 88 99 aa bb"),
        (HASH_01_14, "10" + HASH_01_14.hex()),
        (ObjectAttachment(bytes(20)), "0e" + "00" * 20),
        (BinaryAttachment(b"\xff" * 20), "0f" + "ff" * 20),
        (CustomById(0, h("01 02 03 04")), "1e 05 00 01 02 03 04"),
        (CustomById(2**64 - 1, b""), "1e 09 ff ff ff ff ff ff ff ff ff"),
        (CustomByName("ABC", h("01 02 03 04")), "1f 08 03 41 42 43 01 02 03 04"),
    ],
)
def test_scalar_vectors(value: Any, hex_bytes: str) -> None:
    assert encode(value) == h(hex_bytes)
    assert_same(decode(h(hex_bytes)), value)


def test_datetime_examples() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert DateTime.from_datetime(when) == TICKS_2024
    assert encode(when) == h("12 08 dc 0b 3f 7b 27 34 e0")
    assert encode(when.replace(tzinfo=None)) == encode(when)
    assert DateTime(TICKS_2024).to_datetime() == when
    assert DateTime.from_datetime(dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) == 621355968000000000


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        (1.5, "0a 3f c0 00 00"),
        (0.0, "0a 00 00 00 00"),
        (-0.0, "0a 80 00 00 00"),
        (math.inf, "0a 7f 80 00 00"),
        (-math.inf, "0a ff 80 00 00"),
        (0.1, "0b 3f b9 99 99 99 99 99 9a"),
        (math.pi, "0b 40 09 21 fb 54 44 2d 18"),
        (1e300, "0b" + struct.pack(">d", 1e300).hex()),
        (1.9999998807907104, "0a 3f ff ff ff"),
        (1.9999999403953552, "0b 3f ff ff ff f0 00 00 00"),
        (-631475.76888888876, "0b c1 23 45 67 89 ab cd ef"),
    ],
)
def test_float_rule(value: float, hex_bytes: str) -> None:
    assert encode(value) == h(hex_bytes)
    decoded = decode(h(hex_bytes))
    assert_same(decoded, Float32(value) if hex_bytes.startswith("0a") else value)


def test_nan_is_float64() -> None:
    data = encode(math.nan)
    assert data[0] == 0x0B and len(data) == 9
    assert math.isnan(decode(data)) and type(decode(data)) is float


def test_float32_input_is_always_float32() -> None:
    assert encode(Float32(1.5)) == h("0a 3f c0 00 00")
    assert encode(Float32(0.1)) == h("0a 3d cc cc cd")  # rounded to the nearest float32
    assert_same(decode(h("0a 3d cc cc cd")), Float32(struct.unpack(">f", h("3dcccccd"))[0]))


def test_float64_that_fits_float32_decodes_as_float() -> None:
    # Non-canonical (validator: InvalidFloat) but readable, and the type says what was read.
    assert_same(decode(h("0b 3f ff ff ff e0 00 00 00")), 1.9999998807907104)


# --- section 6: worked examples ------------------------------------------------------------

EXAMPLES: list[tuple[Any, str]] = [
    ({}, "02 00"),  # A
    ({"a": 1}, "03 04 88 01 61 01"),  # B
    ({"name": "x", "n": -1}, "02 0c 87 04 6e 61 6d 65 01 78 89 01 6e 00"),  # C
    ({"tags": ["a", "bc"]}, "03 0e 85 04 74 61 67 73 07 02 07 01 61 02 62 63"),  # D
    ({"outer": {"x": 1, "y": 2}}, "03 0f 83 05 6f 75 74 65 72 07 88 01 78 01 01 79 02"),  # E
    (  # F
        {"id": ObjectId("00112233445566778899aabb"), "when": DateTime(TICKS_2024)},
        "02 1e 94 02 69 64 00 11 22 33 44 55 66 77 88 99 aa bb"
        " 92 04 77 68 65 6e 08 dc 0b 3f 7b 27 34 e0",
    ),
    ({"f": Float32(1.5)}, "03 07 8a 01 66 3f c0 00 00"),  # G
    ({"pi": 3.141592653589793}, "03 0c 8b 02 70 69 40 09 21 fb 54 44 2d 18"),
    ({"a": True, "b": True}, "03 05 8d 01 61 01 62"),  # H
    ({"a": True, "b": False}, "02 06 8d 01 61 8c 01 62"),
    ({"v": [1, 2, 3]}, "03 09 85 01 76 05 03 08 01 02 03"),
    ({"m": [1, -1, "x"]}, "03 0c 84 01 6d 08 03 08 01 09 00 07 01 78"),
    (
        {"list": [{"k": 1}, {"k": 2}]},
        "03 13 85 04 6c 69 73 74 0c 02 03 04 88 01 6b 01 04 88 01 6b 02",
    ),
    (
        {"list": [{"k": 1}, {"k": 2, "v": "z"}]},
        "03 19 84 04 6c 69 73 74 12 02 03 04 88 01 6b 01 02 09 88 01 6b 02 87 01 76 01 7a",
    ),
    ([None, None], "04 03 02 01 01"),
    ({"s": "x" * 200}, "03 80 cd 87 01 73 80 c8" + " 78" * 200),
    (  # I
        {"u": UUID_00_0F, "h": HASH_01_14, "t": TimeSpan(15_000_000), "b": b"\x01\x02\x03"},
        "02 3c 91 01 75 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"
        " 90 01 68 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14"
        " 93 01 74 00 00 00 00 00 e4 e1 c0 86 01 62 03 01 02 03",
    ),
    ([True, True], "04 03 02 0d 0d"),  # 3.5.4
    ([1, -1], "04 05 02 08 01 09 00"),
    ([1, 2, 3], "05 05 03 08 01 02 03"),  # J: UE serialization tests
    ({"A": 1, "B": 2, "C": 3}, "03 0a 88 01 41 01 01 42 02 01 43 03"),
    ({"N": None, "I": 0}, "02 07 81 01 4e 88 01 49 00"),  # J: validation tests
    ([None, None], "04 03 02 01 01"),
    ([False, False], "04 03 02 0c 0c"),
    ([], "04 01 00"),
    ({"a": None}, "03 03 81 01 61"),
    ([0], "05 03 01 08 00"),
]


@pytest.mark.parametrize(("value", "hex_bytes"), EXAMPLES)
def test_worked_examples_encode(value: Any, hex_bytes: str) -> None:
    assert encode(value) == h(hex_bytes)


@pytest.mark.parametrize(("value", "hex_bytes"), EXAMPLES)
def test_worked_examples_decode(value: Any, hex_bytes: str) -> None:
    assert_same(decode(h(hex_bytes)), value)


NON_CANONICAL: list[tuple[str, Any, str]] = [
    # (readable bytes, value, canonical bytes)
    ("02 04 88 01 61 01", {"a": 1}, "03 04 88 01 61 01"),
    ("02 03 81 01 41", {"A": None}, "03 03 81 01 41"),
    ("04 03 01 08 00", [0], "05 03 01 08 00"),
    (
        "02 0c 88 01 61 01 88 01 62 02 88 01 63 03",
        {"a": 1, "b": 2, "c": 3},
        "03 0a 88 01 61 01 01 62 02 01 63 03",
    ),
    ("04 07 03 08 01 08 02 08 03", [1, 2, 3], "05 05 03 08 01 02 03"),
    (
        "02 0c 88 01 41 01 88 01 42 02 88 01 43 03",
        {"A": 1, "B": 2, "C": 3},
        "03 0a 88 01 41 01 01 42 02 01 43 03",
    ),
    ("02 04 88 01 46 08", {"F": 8}, "03 04 88 01 46 08"),
    # Named top-level fields: UE's object/array save drops the name, so do we.
    (
        "83 01 4f 0a 88 01 41 01 01 42 02 01 43 03",
        {"A": 1, "B": 2, "C": 3},
        "03 0a 88 01 41 01 01 42 02 01 43 03",
    ),
    ("85 01 41 05 03 08 01 02 03", [1, 2, 3], "05 05 03 08 01 02 03"),
    ("82 03 4b 65 79 04 88 01 46 08", {"F": 8}, "03 04 88 01 46 08"),
    ("88 01 41 2a", 42, "08 2a"),
    # Empty uniform containers: size 0, no shared type, or a shared type with no fields.
    ("03 00", {}, "02 00"),
    ("03 01 88", {}, "02 00"),
    ("05 01 00", [], "04 01 00"),
    ("05 02 00 08", [], "04 01 00"),
    ("0b 3f ff ff ff e0 00 00 00", 1.9999998807907104, "0a 3f ff ff ff"),
]


@pytest.mark.parametrize(("data", "value", "canonical"), NON_CANONICAL)
def test_non_canonical_forms_decode_to_the_same_value(
    data: str, value: Any, canonical: str
) -> None:
    assert_same(decode(h(data)), value)
    assert decode(h(canonical)) == value
    assert encode(decode(h(data))) == h(canonical)


def test_unsync_needs_object() -> None:
    hashes = [i.to_bytes(20, "big") for i in range(1000)]
    data = h("02 c0 4e 2d 85 05 6e 65 65 64 73 c0 4e 23 83 e8 0f") + b"".join(hashes)
    assert len(data) == 20017
    value = decode(data)
    assert_same(value, {"needs": [BinaryAttachment(raw) for raw in hashes]})
    # The canonical writer picks UniformObject for the single field; same length.
    assert encode(value) == b"\x03" + data[1:]


def test_unsync_manifest_object() -> None:
    value = {
        "unsync.manifest": BinaryAttachment(bytes(range(20))),
        "unsync.manifest.parts": [Hash(bytes(range(20, 40)))],
    }
    data = encode(value)
    assert len(data) == 85
    assert data[:4] == h("02 53 8f 0f")
    assert_same(decode(data), value)


# --- rejected input ------------------------------------------------------------------------

INVALID: list[tuple[str, str]] = [
    ("", "empty"),
    ("00", "type byte"),
    ("15", "type byte"),
    ("1d", "type byte"),
    ("21", "type byte"),  # reserved bit 0x20
    ("41", "type byte"),  # HasFieldType 0x40 is never serialized
    ("01 00", "trailing"),  # validator: Padding
    ("02 00 00", "trailing"),
    ("02 02 08 01", "without a name"),
    ("02 03 00 01 61", "type byte"),
    ("02 03 a1 01 61", "type byte"),
    ("02 02 81 00", "empty field name"),
    ("02 08 88 01 61 01 88 01 61 02", "duplicate"),
    ("03 07 88 01 61 01 01 61 02", "duplicate"),
    ("03 03 08 01 61", "shared field type"),
    ("03 03 c8 01 61", "shared field type"),
    ("04 04 01 88 01 61", "with a name"),
    ("04 02 01 00", "type byte"),
    ("05 04 01 88 01 61", "with a name"),
    ("05 03 02 01 01", "zero-length"),
    ("05 02 00 0d", "zero-length"),
    ("05 02 01 08", "claims 1 items in 0 bytes"),
    ("04 01 01", "claims 1 items in 0 bytes"),
    ("04 03 01 01 01", "claims 1 items but holds 2"),
    ("05 04 01 08 01 02", "claims 1 items but holds 2"),
    ("07 01 ff", "UTF-8"),
    ("07 02 c3 28", "UTF-8"),
    ("02 04 87 01 ff 00", "UTF-8"),
    ("09 ff 80 00 00 00 00 00 00 00", "below -2**63"),
    ("0a 00 00 00", "Float32"),
    ("0b 00", "Float64"),
    ("10" + "00" * 19, "Hash"),
    ("11 00", "Uuid"),
    ("12 00 00", "DateTime"),
    ("13", "TimeSpan"),
    ("14" + "00" * 11, "ObjectId"),
    ("08", "truncated VarUInt"),
    ("08 80", "VarUInt"),
    ("08 ff 00 00", "VarUInt"),
    ("07 05 61", "string"),
    ("06 02 00", "binary"),
    ("02 05 87 01 73 7f 78", "string"),
    ("02 04 87 01 73 02 61 62", "string"),  # bounded by the object even with bytes left
    ("1e 00", "truncated VarUInt"),
    ("1e 01 80", "VarUInt"),
    ("1f 01 00", "empty field name"),
    ("1f 02 05 41", "field name"),
    ("1f 02 01 ff", "UTF-8"),
    ("88 00 01", "empty field name"),
    ("88", "truncated VarUInt"),
]


@pytest.mark.parametrize(("data", "message"), INVALID)
def test_invalid_input_is_rejected(data: str, message: str) -> None:
    with pytest.raises(CompactBinaryError, match=re.escape(message)):
        decode(h(data))


def test_errors_carry_an_offset() -> None:
    with pytest.raises(CompactBinaryError, match="at offset 11"):
        decode(h("02 0a 87 01 61 01 78 87 01 62 01 ff"))


def test_decode_accepts_bytes_like_and_rejects_text() -> None:
    assert decode(bytearray(h("03 04 88 01 61 01"))) == {"a": 1}
    assert decode(memoryview(h("03 04 88 01 61 01"))) == {"a": 1}
    with pytest.raises(TypeError):
        decode("02 00")  # type: ignore[arg-type]


def test_forged_huge_lengths_are_rejected() -> None:
    for data in (
        "07 ff ff ff ff ff ff ff ff ff 61",
        "06 fe 7f ff ff ff ff ff ff 00",
        "02 ff ff ff ff ff ff ff ff ff 88 01 61 01",
        "02 0e 88 ff 00 00 00 00 7f ff ff ff 61 01",
        "1f 0b ff ff ff ff ff ff ff ff ff 41",
        "04 fe ff ff ff ff ff ff ff 00",
    ):
        with pytest.raises(CompactBinaryError, match="remain"):
            decode(h(data))


def test_huge_array_count_with_tiny_body_is_rejected() -> None:
    for data in (
        "04 0a ff ff ff ff ff ff ff ff ff 01",
        "05 0b ff ff ff ff ff ff ff ff ff 08 01",
        "05 0a ff ff ff ff ff ff ff ff ff 08",
        "04 05 f0 10 00 00 00",
    ):
        with pytest.raises(CompactBinaryError, match="claims"):
            decode(h(data))


def test_encode_rejects_what_it_cannot_write() -> None:
    for value in (
        2**64,
        -(2**63) - 1,
        {1: 2},
        {"": 1},
        {1, 2},
        object(),
        dt.date(2024, 1, 1),
        "\ud800",
        Float32(1e300),
        DateTime(2**63),
        TimeSpan(-(2**63) - 1),
        CustomById(-1, b""),
        CustomById(2**64, b""),
        CustomById(True, b""),
        CustomByName("", b""),
        CustomByName("x", "not bytes"),  # type: ignore[arg-type]
    ):
        with pytest.raises(CompactBinaryError):
            encode(value)


def test_encode_accepts_tuples_bytes_likes_and_subclasses() -> None:
    assert encode((1, 2, 3)) == encode([1, 2, 3])
    assert encode(bytearray(b"\x01")) == encode(memoryview(b"\x01")) == h("06 01 01")
    assert encode({"A": Float32(1.5), "B": TimeSpan(0)})[0] == 0x02


# --- hostile nesting -----------------------------------------------------------------------


def nested(levels: int, top: int, prefix: bytes, innermost: bytes) -> bytes:
    """`levels` nested containers with correct sizes, built in linear time."""
    headers: list[bytes] = []
    length = len(innermost)
    for _ in range(levels - 1):
        header = spec_varuint(len(prefix) + length) + prefix
        headers.append(header)
        length += len(header)
    return bytes([top]) + b"".join(reversed(headers)) + innermost


NESTINGS = {
    "array": (0x04, b"\x01\x04", b"\x01\x00"),
    "uniform array": (0x05, b"\x01\x05", b"\x01\x00"),
    "object": (0x02, b"\x82\x01a", b"\x00"),
    "uniform object": (0x03, b"\x83\x01a", b"\x00"),
}


@pytest.mark.parametrize("kind", NESTINGS)
def test_nesting_limit(kind: str) -> None:
    top, prefix, innermost = NESTINGS[kind]
    value = decode(nested(MAX_DEPTH, top, prefix, innermost))
    assert decode(encode(value)) == value
    json.dumps(to_jsonable(value))
    with pytest.raises(CompactBinaryError, match="nest deeper"):
        decode(nested(MAX_DEPTH + 1, top, prefix, innermost))


@pytest.mark.parametrize("kind", NESTINGS)
def test_100k_nested_containers_fail_fast(kind: str) -> None:
    data = nested(100_000, *NESTINGS[kind])
    started = time.perf_counter()
    with pytest.raises(CompactBinaryError, match="nest deeper"):
        decode(data)
    assert time.perf_counter() - started < 5  # a guard against hanging, not a speed figure


def test_encode_and_to_jsonable_limit_depth() -> None:
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(CompactBinaryError, match="nest deeper"):
        encode(deep)
    with pytest.raises(CompactBinaryError, match="nest deeper"):
        to_jsonable(deep)
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(CompactBinaryError):
        encode(cyclic)


# --- section 5: JSON mapping ---------------------------------------------------------------


def compact_json(value: Any) -> str:
    """UE's compact JSON form of a decoded value."""
    return json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False)


def test_json_of_example_f() -> None:
    data = EXAMPLES[5][1]
    assert to_jsonable(decode(h(data))) == {
        "id": "00112233445566778899aabb",
        "when": "2024-01-02T03:04:05.678Z",
    }


def test_json_of_mixed_types_compact_form() -> None:
    value = decode(h(EXAMPLES[16][1]))
    assert compact_json(value) == (
        '{"u":"00010203-0405-0607-0809-0a0b0c0d0e0f",'
        '"h":"0102030405060708090a0b0c0d0e0f1011121314",'
        '"t":"+00:00:01.500000000","b":"AQID"}'
    )


def test_json_of_nested_list() -> None:
    value = decode(h(EXAMPLES[12][1]))
    assert compact_json(value) == '{"list":[{"k":1},{"k":2}]}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (2**64 - 1, 2**64 - 1),
        (-1, -1),
        (b"\x01\x02\x03", "AQID"),
        (b"", ""),
        ('a"\\\n/é', 'a"\\\n/é'),
        (HASH_01_14, "0102030405060708090a0b0c0d0e0f1011121314"),
        (ObjectAttachment(b"\xab" * 20), "ab" * 20),
        (BinaryAttachment(b"\x0c" * 20), "0c" * 20),
        (ObjectId("00112233445566778899AABB"), "00112233445566778899aabb"),
        (UUID_00_0F, "00010203-0405-0607-0809-0a0b0c0d0e0f"),
        (DateTime(TICKS_2024), "2024-01-02T03:04:05.678Z"),
        (DateTime(TICKS_2024 + 9999), "2024-01-02T03:04:05.678Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 678999, tzinfo=dt.UTC), "2024-01-02T03:04:05.678Z"),
        (TimeSpan(15_000_000), "+00:00:01.500000000"),
        (
            TimeSpan(-(864_000_000_000 + 2 * 36_000_000_000 + 3 * 600_000_000 + 4 * 10**7 + 5)),
            "-1.02:03:04.000000500",
        ),
        (TimeSpan(0), "+00:00:00.000000000"),
        (CustomById(7, b"\x01\x02\x03"), {"Id": 7, "Data": "AQID"}),
        (CustomByName("ABC", h("01 02 03 04")), {"Name": "ABC", "Data": "AQIDBA=="}),
        (Float32(1.5), 1.5),
        (0.1, 0.1),
        (math.inf, None),
        (Float32(-math.inf), None),
        (math.nan, None),
        ((1, [2]), [1, [2]]),
    ],
)
def test_to_jsonable(value: Any, expected: Any) -> None:
    assert_same(to_jsonable(value), expected)


def test_to_jsonable_rejects_unknown_types() -> None:
    with pytest.raises(CompactBinaryError):
        to_jsonable({"x": object()})


@pytest.mark.parametrize(
    ("ticks", "text"),
    [
        (0, "0001-01-01T00:00:00.000Z"),
        (3_155_378_975_999_999_999, "9999-12-31T23:59:59.999Z"),
        (621355968000000000, "1970-01-01T00:00:00.000Z"),
        (-1, "0001-01-01T00:00:00.000Z"),  # out of range: clamped
        (2**63 - 1, "9999-12-31T23:59:59.999Z"),
        (-(2**63), "0001-01-01T00:00:00.000Z"),
    ],
)
def test_datetime_text(ticks: int, text: str) -> None:
    assert datetime_text(ticks) == text


def test_timespan_text_extremes() -> None:
    assert timespan_text(-(2**63)) == "-10675199.02:48:05.477580800"
    assert timespan_text(2**63 - 1) == "+10675199.02:48:05.477580700"


def test_media_type() -> None:
    assert MEDIA_TYPE == "application/x-ue-cb"


# --- properties ----------------------------------------------------------------------------

INT64 = st.integers(-(2**63), 2**63 - 1)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.floats(width=32, allow_nan=False).map(Float32),
    st.text(),
    st.binary(),
    st.binary(min_size=12, max_size=12).map(ObjectId),
    st.binary(min_size=20, max_size=20).map(Hash),
    st.binary(min_size=20, max_size=20).map(ObjectAttachment),
    st.binary(min_size=20, max_size=20).map(BinaryAttachment),
    st.uuids(),
    INT64.map(DateTime),
    INT64.map(TimeSpan),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.builds(CustomById, st.integers(0, 2**64 - 1), st.binary()),
    st.builds(CustomByName, st.text(min_size=1), st.binary()),
)
TREES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=6),
    ),
    max_leaves=25,
)
# Uniform containers need runs of equal types, which random trees rarely produce.
UNIFORM = st.one_of(
    st.lists(LEAVES.map(lambda leaf: [leaf] * 3)),
    st.dictionaries(st.text(min_size=1, max_size=4), st.integers(0, 2**64 - 1)),
    st.lists(st.dictionaries(st.sampled_from("abc"), st.integers(-5, 5), min_size=1)),
)
PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(st.one_of(TREES, UNIFORM))
def test_round_trip_preserves_values_and_types(value: Any) -> None:
    data = encode(value)
    decoded = decode(data)
    assert_same(decoded, expected_decoded(value))
    assert encode(decoded) == data  # canonical bytes survive a decode/encode cycle
    json.dumps(to_jsonable(decoded), allow_nan=False)


def plain(value: Any, varuint: Any) -> tuple[int, bytes]:
    """A non-canonical writer: plain Object/Array only, VarUInts from `varuint`."""
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            type_id, payload = plain(item, varuint)
            name = key.encode()
            parts.append(bytes([0x80 | type_id]) + varuint(len(name)) + name + payload)
        body = b"".join(parts)
        return 0x02, varuint(len(body)) + body
    if type(value) in (list, tuple):
        items = [plain(item, varuint) for item in value]
        body = varuint(len(items)) + b"".join(bytes([t]) + p for t, p in items)
        return 0x04, varuint(len(body)) + body
    if type(value) is str:
        raw = value.encode()
        return 0x07, varuint(len(raw)) + raw
    if type(value) is bytes:
        return 0x06, varuint(len(value)) + value
    if type(value) is int:
        return (0x08, varuint(value)) if value >= 0 else (0x09, varuint(-value - 1))
    if isinstance(value, CustomById):
        body = varuint(value.type_id) + value.data
        return 0x1E, varuint(len(body)) + body
    if isinstance(value, CustomByName):
        name = value.type_name.encode()
        body = varuint(len(name)) + name + value.data
        return 0x1F, varuint(len(body)) + body
    data = encode(value)  # fixed-size scalars have no VarUInts to vary
    return data[0], data[1:]


def wide_varuint(value: int) -> bytes:
    """The longest (9-byte) VarUInt form of a value."""
    return b"\xff" + value.to_bytes(8, "big")


@PROPERTY
@given(TREES, st.booleans())
def test_non_canonical_writer_output_decodes_to_the_same_values(value: Any, wide: bool) -> None:
    type_id, payload = plain(value, wide_varuint if wide else spec_varuint)
    assert_same(decode(bytes([type_id]) + payload), decode(encode(value)))


# --- fuzzing -------------------------------------------------------------------------------


def check_hostile(data: bytes) -> None:
    """decode() either fails with CompactBinaryError or returns a re-encodable value."""
    try:
        value = decode(data)
    except CompactBinaryError:
        return
    assert_same(decode(encode(value)), expected_decoded(value))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64) | st.binary(max_size=8).map(lambda tail: b"\x02\x10" + tail))
def test_random_bytes_raise_only_compact_binary_error(data: bytes) -> None:
    check_hostile(data)


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One random bit flip, byte change, truncation, insertion, deletion or duplication."""
    buf = bytearray(data)
    at = rng.randrange(len(buf) + 1)
    match rng.randrange(6):
        case 0 if buf:
            buf[min(at, len(buf) - 1)] ^= 1 << rng.randrange(8)
        case 1 if buf:
            buf[min(at, len(buf) - 1)] = rng.choice([0x00, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        case 2:
            del buf[at:]
        case 3:
            buf[at:at] = rng.randbytes(rng.randrange(1, 4))
        case 4:
            del buf[at : at + rng.randrange(1, 4)]
        case _:
            buf[at:at] = buf[rng.randrange(len(buf) + 1) :][: rng.randrange(1, 8)]
    return bytes(buf)


def test_mutated_encodings_raise_only_compact_binary_error() -> None:
    rng = random.Random(20240102)
    corpus = [h(data) for _, data in EXAMPLES] + [h(data) for data, _, _ in NON_CANONICAL]
    corpus.append(encode(log_batch(5)))
    corpus.append(encode({"c": [CustomById(1, b"x"), CustomByName("n", b"y")], "f": [0.1, 0.2]}))
    for _ in range(15_000):
        data = rng.choice(corpus)
        for _ in range(rng.randrange(1, 4)):
            data = mutate(rng, data)
        check_hostile(data)


# --- speed ---------------------------------------------------------------------------------


def log_batch(entries: int) -> dict[str, Any]:
    """A log batch shaped like the ones the server decodes on its hot path."""
    return {
        "entries": [
            {
                "level": "info",
                "message": f"message {i:04d} " + "x" * 87,
                "timestamp": DateTime(TICKS_2024 + i * 10_000),
            }
            for i in range(entries)
        ]
    }


def test_log_batch_round_trips() -> None:
    batch = log_batch(50)
    assert_same(decode(encode(batch)), batch)
