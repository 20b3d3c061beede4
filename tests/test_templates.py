"""Tests for service.domain.templates."""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import struct
import time
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from service.domain.templates import DEFAULT_BUDGET, MAX_DEPTH, _lookup, render, render_value

HASH_BYTES = bytes(range(1, 21))
HASH_HEX = "0102030405060708090a0b0c0d0e0f1011121314"
NESTED_TOO_DEEP = "[" * (MAX_DEPTH + 1) + "..." + "]" * (MAX_DEPTH + 1)


# --- placeholders and braces -------------------------------------------------------------


def test_a_template_without_braces_is_returned_as_is() -> None:
    template = "plain text, no placeholders"
    assert render(template, {"plain": 1}) is template


def test_placeholders_are_replaced() -> None:
    fields = {"Name": "Ada", "Count": 3}
    assert render("Hello {Name}, you have {Count} messages", fields) == (
        "Hello Ada, you have 3 messages"
    )


def test_a_placeholder_may_repeat() -> None:
    assert render("{A}-{A}-{A}", {"A": "x"}) == "x-x-x"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{0}", "zero"),
        ("{my_field}", "under"),
        ("{Field2}", "two"),
        ("{9lives}", "cat"),
    ],
)
def test_names_are_letters_digits_and_underscores(template: str, expected: str) -> None:
    fields = {"0": "zero", "my_field": "under", "Field2": "two", "9lives": "cat"}
    assert render(template, fields) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{", "{"),
        ("}}", "}"),
        ("{{}}", "{}"),
        ("{{Name}}", "{Name}"),
        ("{{{Name}}}", "{Ada}"),
        ("a {{literal}} and {Name}", "a {literal} and Ada"),
        ("{{{{", "{{"),
        ("{Name}}}", "Ada}"),
    ],
)
def test_doubled_braces_are_literal(template: str, expected: str) -> None:
    assert render(template, {"Name": "Ada", "literal": "no"}) == expected


def test_a_dotted_path_reaches_into_nested_objects() -> None:
    fields = {"Asset": {"Path": "/Game/Map", "Size": {"Bytes": 42}}}
    assert render("{Asset.Path} ({Asset.Size.Bytes} B)", fields) == "/Game/Map (42 B)"


def test_a_missing_field_renders_as_empty() -> None:
    assert render("[{Missing}]", {}) == "[]"
    assert render("[{Missing}]", {"missing": "case matters"}) == "[]"


@pytest.mark.parametrize(
    "template",
    ["{Asset.Missing}", "{Nope.Path}", "{Text.Length}", "{List.0}", "{Number.X}", "{Asset.Path.X}"],
)
def test_a_path_through_a_missing_field_or_a_non_object_renders_as_empty(template: str) -> None:
    fields = {"Asset": {"Path": "p"}, "Text": "abc", "List": [1, 2], "Number": 5}
    assert render(f"<{template}>", fields) == "<>"


def test_a_flat_key_spelled_with_dots_is_used_when_the_path_misses() -> None:
    assert render("{a.b}", {"a.b": "flat"}) == "flat"
    assert render("{a.b}", {"a.b": "flat", "a": {"b": "nested"}}) == "nested"


def test_a_null_field_is_present() -> None:
    assert render("{A}", {"A": None}) == "null"


@pytest.mark.parametrize(
    "template",
    [
        "{}",
        "{ bad name}",
        "{bad name}",
        "{ Name}",
        "{Name }",
        "{bad-name}",
        "{_private}",
        "{Name.}",
        "{.Name}",
        "{Name..Path}",
        "{Name._x}",
        "{$format}",
        "{Ünïcode}",
    ],
)
def test_a_malformed_placeholder_is_kept_literally(template: str) -> None:
    fields = {"Name": {"Path": 1}, "bad name": 1, "bad-name": 1, "_private": 1}
    assert render(template, fields) == template


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{", "{"),
        ("}", "}"),
        ("a { b", "a { b"),
        ("a } b", "a } b"),
        ("{Name", "{Name"),
        ("Name}", "Name}"),
        ("{{Name}", "{Name}"),
        ("{Name}}", "Ada}"),
        ("{{{", "{{"),
        ("}{Name}{", "}Ada{"),
        ("{{Name} {Name}", "{Name} Ada"),
        ("{ {Name} }", "{ Ada }"),
    ],
)
def test_unmatched_braces_are_kept_literally(template: str, expected: str) -> None:
    assert render(template, {"Name": "Ada"}) == expected


# --- scalar values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('raw "string" with\nnewline', 'raw "string" with\nnewline'),
        ("", ""),
        (0, "0"),
        (42, "42"),
        (-7, "-7"),
        (18446744073709551615, "18446744073709551615"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1e-7, "1e-07"),
        (math.pi, "3.141592653589793"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
    ],
)
def test_plain_values(value: object, expected: str) -> None:
    assert render_value(value) == expected
    assert render("{V}", {"V": value}) == expected


def test_an_integer_beyond_the_int_to_str_digit_limit_renders_in_decimal() -> None:
    assert render_value(10**5000) == "1" + "0" * 5000
    assert render_value(-(10**5000)) == "-1" + "0" * 5000


def test_an_absurdly_large_integer_is_elided() -> None:
    assert render_value(1 << 100_000) == "..."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"\x01\x02\x03", "AQID"),
        (b"", ""),
        (b"\xff", "/w=="),
        (b"\xfb\xff", "+/8="),
        (bytearray(b"\x01\x02\x03"), "AQID"),
        (memoryview(b"\x01\x02\x03"), "AQID"),
    ],
)
def test_binary_is_standard_base64_with_padding(value: object, expected: str) -> None:
    assert render_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ObjectId("00112233445566778899AABB"), "00112233445566778899aabb"),
        (Hash(HASH_BYTES), HASH_HEX),
        (ObjectAttachment(HASH_BYTES), HASH_HEX),
        (BinaryAttachment(HASH_BYTES), HASH_HEX),
    ],
)
def test_ids_and_hashes_are_lowercase_hex_not_base64(value: bytes, expected: str) -> None:
    assert render_value(value) == expected


def test_uuids_are_lowercase_with_dashes() -> None:
    value = uuid.UUID("00010203-0405-0607-0809-0A0B0C0D0E0F")
    assert render_value(value) == "00010203-0405-0607-0809-0a0b0c0d0e0f"


@pytest.mark.parametrize(
    ("ticks", "expected"),
    [
        (638397614456780000, "2024-01-02T03:04:05.678Z"),
        (638397614456789999, "2024-01-02T03:04:05.678Z"),  # sub-millisecond is truncated
        (0, "0001-01-01T00:00:00.000Z"),
        (621355968000000000, "1970-01-01T00:00:00.000Z"),
        (3155378975999999999, "9999-12-31T23:59:59.999Z"),
        (-1, "0001-01-01T00:00:00.000Z"),  # clamped
        (-(2**63), "0001-01-01T00:00:00.000Z"),
        (2**63 - 1, "9999-12-31T23:59:59.999Z"),
        (10**40, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_datetime_is_iso_8601_with_milliseconds(ticks: int, expected: str) -> None:
    assert render_value(DateTime(ticks)) == expected


@pytest.mark.parametrize(
    ("ticks", "expected"),
    [
        (15_000_000, "+00:00:01.500000000"),
        (-15_000_000, "-00:00:01.500000000"),
        (0, "+00:00:00.000000000"),
        (1, "+00:00:00.000000100"),
        (-((((1 * 24 + 2) * 60 + 3) * 60 + 4) * 10**7 + 5), "-1.02:03:04.000000500"),
        (10 * 86_400 * 10**7, "+10.00:00:00.000000000"),
        (86_400 * 10**7 - 1, "+23:59:59.999999900"),
        (2**63 - 1, "+10675199.02:48:05.477580700"),
        (-(2**63), "-10675199.02:48:05.477580800"),
        (10**40, "+10675199.02:48:05.477580700"),  # clamped to int64
    ],
)
def test_timespan_has_a_sign_and_nanoseconds(ticks: int, expected: str) -> None:
    assert render_value(TimeSpan(ticks)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, "0.1"),
        (1.5, "1.5"),
        (1 / 3, "0.33333334"),
        (16777216.0, "16777216.0"),
        (3.4028234663852886e38, "3.4028235e+38"),
        (1e-45, "1e-45"),
        (-0.0, "-0.0"),
        (-2.5, "-2.5"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (1e300, "1e+300"),  # beyond float32: shown as the float64 it holds
    ],
)
def test_float32_is_the_shortest_text_that_round_trips_through_float32(
    value: float, expected: str
) -> None:
    assert render_value(Float32(value)) == expected


def test_custom_fields_render_as_unreal_writes_them() -> None:
    assert render_value(CustomById(7, b"\x01\x02\x03")) == '{"Id": 7, "Data": "AQID"}'
    assert render_value(CustomByName("Vec", b"\x01\x02\x03")) == ('{"Name": "Vec", "Data": "AQID"}')
    assert render_value(CustomByName('a"b', b"")) == '{"Name": "a\\"b", "Data": ""}'


def test_subclasses_render_by_their_base_type() -> None:
    class Verbosity(enum.IntEnum):
        WARN = 3

    class Label(str):
        def __str__(self) -> str:
            return "not this"

    assert render_value(Verbosity.WARN) == "3"
    assert render_value(Label("label")) == "label"


def test_other_objects_render_by_str_and_never_raise() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    assert render_value(Thing()) == "thing"
    assert render_value(Broken()) == "<Broken>"


# --- arrays and objects --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([], "[]"),
        ([1, 2], "[1, 2]"),
        (("a", "b c"), "[a, b c]"),
        (["quoted?", "no"], "[quoted?, no]"),
        ([[1, [2]], []], "[[1, [2]], []]"),
        ([None, True, 1.5, b"\x01\x02\x03"], "[null, true, 1.5, AQID]"),
        ([Hash(HASH_BYTES), DateTime(0)], f"[{HASH_HEX}, 0001-01-01T00:00:00.000Z]"),
        ([{"k": "v"}], '[{"k": v}]'),
    ],
)
def test_arrays_render_items_by_the_same_rules_with_strings_unquoted(
    value: object, expected: str
) -> None:
    assert render_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({}, "{}"),
        ({"k": "v"}, '{"k": v}'),
        ({"a": 1, "b": [1, "x"], "c": None}, '{"a": 1, "b": [1, x], "c": null}'),
        ({"o": {"i": True}}, '{"o": {"i": true}}'),
        ({'q"k\\': 1}, '{"q\\"k\\\\": 1}'),
        ({"new\nline": 1}, '{"new\\nline": 1}'),
        ({"é": 1}, '{"é": 1}'),
        ({1: 2}, '{"1": 2}'),
        ({"id": ObjectId(bytes(12))}, '{"id": 000000000000000000000000}'),
    ],
)
def test_objects_render_with_quoted_keys_and_unquoted_strings(value: object, expected: str) -> None:
    assert render_value(value) == expected


def test_an_object_with_text_renders_as_its_text() -> None:
    assert render_value({"$text": "Shown", "hidden": 1}) == "Shown"
    assert render_value({"$text": 5}) == "5"
    assert render_value({"$text": ["a", 1]}) == "[a, 1]"
    assert render_value({"$text": "wins", "$format": "loses"}) == "wins"


def test_an_object_with_format_renders_it_against_its_own_fields() -> None:
    value = {"$format": "{Name} at ({Pos.X}, {Pos.Y}) {{raw}}", "Name": "Actor", "Pos": {"X": 1}}
    assert render_value(value) == "Actor at (1, ) {raw}"
    assert render("Spawned {Actor}", {"Actor": value}) == "Spawned Actor at (1, ) {raw}"


def test_a_format_inside_a_format() -> None:
    inner = {"$format": "<{V}>", "V": 2}
    outer = {"$format": "[{Inner}]", "Inner": inner}
    assert render("{Outer}", {"Outer": outer}) == "[<2>]"
    assert render_value([inner, {"k": inner}]) == '[<2>, {"k": <2>}]'


def test_a_format_that_is_not_a_string_is_an_ordinary_key() -> None:
    assert render_value({"$format": 5, "a": "x"}) == '{"$format": 5, "a": x}'


# --- hostile input -------------------------------------------------------------------------


def test_deeply_nested_lists_are_cut_at_the_depth_limit() -> None:
    value: list[Any] = []
    for _ in range(10_000):
        value = [value]
    assert render_value(value) == NESTED_TOO_DEEP
    assert render("{V}", {"V": value}) == NESTED_TOO_DEEP


def test_deeply_nested_objects_are_cut_at_the_depth_limit() -> None:
    value: dict[str, Any] = {}
    for _ in range(10_000):
        value = {"a": value}
    depth = MAX_DEPTH + 1
    assert render_value(value) == '{"a": ' * depth + "..." + "}" * depth


def test_deeply_nested_text_is_cut_at_the_depth_limit() -> None:
    value: Any = "x"
    for _ in range(10_000):
        value = {"$text": value}
    assert render_value(value) == "..."


def test_self_referential_values_terminate() -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert render_value(loop) == NESTED_TOO_DEEP

    fmt: dict[str, Any] = {"$format": "{Self}"}
    fmt["Self"] = fmt
    assert render("{F}", {"F": fmt}) == "..."

    text: dict[str, Any] = {}
    text["$text"] = text
    assert render_value(text) == "..."


def test_repeated_references_cannot_multiply_the_output() -> None:
    # Each level names the one below a thousand times: 1000**6 expansions without a budget.
    node: dict[str, Any] = {"$format": "x"}
    for _ in range(6):
        node = {"$format": "{A}" * 1000, "A": node}
    started = time.perf_counter()
    text = render("{N} {N}", {"N": node})
    assert time.perf_counter() - started < 5
    assert len(text) < 4 * DEFAULT_BUDGET
    assert text.endswith("...")


def test_a_shared_subtree_cannot_multiply_the_output() -> None:
    tree: list[Any] = []
    for _ in range(60):
        tree = [tree, tree]  # 2**60 leaves if walked naively
    text = render_value(tree, budget=10_000)
    assert len(text) < 8 * 10_000
    assert "..." in text


def test_the_budget_cuts_values_not_the_template_text() -> None:
    assert render("{A} and {A}", {"A": "xyz"}, budget=4) == "xyz and ..."
    assert render_value(list(range(10)), budget=5) == "[0, 1, ...]"
    assert render_value({"a": 1, "b": 2, "c": 3}, budget=6) == '{"a": 1, ...}'


def test_a_large_value_within_the_budget_is_kept_whole() -> None:
    big = "x" * (DEFAULT_BUDGET // 2)
    assert render("<{Big}>", {"Big": big}) == f"<{big}>"


@pytest.mark.parametrize(
    "template",
    [
        "{a" * 300_000,
        "{a." * 300_000,
        "{a.a.a.a.a.a" * 100_000,
        "{" * 600_000,
        "}" * 600_000,
        "{{" * 300_000,
        "{ x}" * 150_000,
        "{" + "a" * 600_000,
        "{" + "a." * 300_000 + "}",
    ],
)
def test_a_huge_template_renders_in_linear_time(template: str) -> None:
    started = time.perf_counter()
    render(template, {"a": {"a": "v"}})
    # Quadratic scanning of ~600 kB would take minutes; linear takes milliseconds.
    assert time.perf_counter() - started < 2


def test_many_placeholders_render_in_linear_time() -> None:
    started = time.perf_counter()
    text = render("{a}" * 100_000, {"a": "v"})
    assert time.perf_counter() - started < 2
    assert text == "v" * 100_000


# --- properties ----------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "Name", "a.b", "x_1", "$text", "$format"])
TEMPLATE_PARTS = st.sampled_from(
    ["{a}", "{b}", "{a.b}", "{Name}", "{x_1}", "{{", "}}", "{", "}", "{}", "{ a}", " ", "text"]
)
TEMPLATES = st.text() | st.lists(TEMPLATE_PARTS | st.text(max_size=3)).map("".join)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary(max_size=16)
    | st.builds(DateTime, st.integers(-(2**64), 2**64))
    | st.builds(TimeSpan, st.integers(-(2**64), 2**64))
    | st.builds(Float32, st.floats())
    | st.builds(ObjectId, st.binary(min_size=12, max_size=12))
    | st.builds(Hash, st.binary(min_size=20, max_size=20))
    | st.builds(CustomById, st.integers(min_value=0), st.binary(max_size=8))
    | st.builds(CustomByName, st.text(max_size=8), st.binary(max_size=8))
    | st.uuids()
)


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Plain objects, and objects that carry their own `$format`."""
    keys = NAMES | st.text(max_size=6)
    plain = st.dictionaries(keys, children, max_size=4)
    formatted = st.builds(lambda t, d: {**d, "$format": t}, TEMPLATES, plain)
    return plain | formatted | st.lists(children, max_size=4)


VALUES = st.recursive(SCALARS, _objects, max_leaves=20)
FIELDS = st.dictionaries(NAMES | st.text(max_size=6), VALUES, max_size=5)


@settings(max_examples=300, deadline=None)
@given(TEMPLATES, FIELDS)
def test_render_never_raises(template: str, fields: dict[str, Any]) -> None:
    assert isinstance(render(template, fields), str)


_PLACEHOLDER = re.compile(
    r"\{\{|\}\}|\{([A-Za-z0-9][A-Za-z0-9_]*(?:\.[A-Za-z0-9][A-Za-z0-9_]*)*)\}"
)


def _reference(template: str, fields: dict[str, Any]) -> str:
    """The plain reading of the rules, one substitution per match, nothing cached."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group()[0]
        value = _lookup(fields, match.group(1))
        return "" if value is _lookup({}, "missing") else render_value(value)

    return _PLACEHOLDER.sub(replace, template)


@settings(max_examples=300, deadline=None)
@given(TEMPLATES, FIELDS, FIELDS)
def test_a_template_renders_as_the_rules_say_whatever_fields_come_with_it(
    template: str, first: dict[str, Any], second: dict[str, Any]
) -> None:
    # The second render finds the template parsed by the first.
    for fields in (first, second):
        assert render(template, fields) == _reference(template, fields)


@settings(deadline=None)
@given(VALUES)
def test_a_lone_placeholder_renders_the_value(value: Any) -> None:
    assert render("{V}", {"V": value}) == render_value(value)


@given(st.text(alphabet=st.characters(exclude_characters="{}")), FIELDS)
def test_a_template_without_braces_renders_unchanged(text: str, fields: dict[str, Any]) -> None:
    assert render(text, fields) == text


@given(st.text() | st.lists(TEMPLATE_PARTS).map("".join), FIELDS)
def test_doubled_braces_render_back_the_text(text: str, fields: dict[str, Any]) -> None:
    template = text.replace("{", "{{").replace("}", "}}")
    assert render(template, fields) == text


@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
def test_datetime_matches_the_standard_library(when: dt.datetime) -> None:
    expected = when.isoformat(timespec="milliseconds") + "Z"
    assert render_value(DateTime.from_datetime(when)) == expected


_SPAN = re.compile(r"([+-])(?:(\d+)\.)?(\d\d):(\d\d):(\d\d)\.(\d{9})")


@given(st.integers(-(2**63), 2**63 - 1))
def test_timespan_text_reads_back_as_the_same_ticks(ticks: int) -> None:
    match = _SPAN.fullmatch(render_value(TimeSpan(ticks)))
    assert match is not None
    sign, days, hours, minutes, seconds, nanos = match.groups()
    assert (days is None) == (abs(ticks) < 86_400 * 10**7)
    total = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds)
    magnitude = total * 10**7 + int(nanos) // 100
    assert (-magnitude if sign == "-" else magnitude) == ticks


def _float32(value: float) -> float:
    single: float = struct.unpack("<f", struct.pack("<f", value))[0]
    return single


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_text_reads_back_as_the_same_float32(value: float) -> None:
    text = render_value(Float32(value))
    assert _float32(float(text)) == value
