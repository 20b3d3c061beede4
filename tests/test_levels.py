"""Tests for service.domain.levels."""

from __future__ import annotations

import enum
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.levels import LEVELS, OFF, parse_level


def test_levels_are_the_zen_scale() -> None:
    assert LEVELS == ("trace", "debug", "info", "warn", "error", "critical")
    assert OFF == 6


@pytest.mark.parametrize("name", LEVELS)
def test_canonical_names_map_to_themselves(name: str) -> None:
    assert parse_level(name) == name


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("INFO", "info"),
        ("Info", "info"),
        ("iNfO", "info"),
        ("WARN", "warn"),
        ("Critical", "critical"),
        ("TrAcE", "trace"),
    ],
)
def test_names_are_case_insensitive(given: str, expected: str) -> None:
    assert parse_level(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [(" info", "info"), ("warn ", "warn"), ("\terror\r\n", "error"), ("  Fatal  ", "critical")],
)
def test_surrounding_whitespace_is_ignored(given: str, expected: str) -> None:
    assert parse_level(given) == expected


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("warning", "warn"),
        ("err", "error"),
        ("fatal", "critical"),
        ("display", "info"),
        ("log", "debug"),
        ("verbose", "trace"),
        ("veryverbose", "trace"),
    ],
)
def test_aliases(alias: str, expected: str) -> None:
    assert parse_level(alias) == expected
    assert parse_level(alias.upper()) == expected
    assert parse_level(alias.capitalize()) == expected


def test_unreal_verbosity_spellings() -> None:
    assert parse_level("VeryVerbose") == "trace"
    assert parse_level("Warning") == "warn"
    assert parse_level("Display") == "info"
    assert parse_level("Log") == "debug"
    assert parse_level("Fatal") == "critical"


@pytest.mark.parametrize("value", ["off", "OFF", "Off", " off ", "", "   ", None, 6])
def test_no_level(value: str | int | None) -> None:
    assert parse_level(value) is None


@pytest.mark.parametrize(("value", "expected"), list(enumerate(LEVELS)))
def test_integers_zero_to_five(value: int, expected: str) -> None:
    assert parse_level(value) == expected


@pytest.mark.parametrize("value", [7, 9, -1, 100, 2**63])
def test_integers_out_of_range_are_rejected(value: int) -> None:
    with pytest.raises(ValueError, match=rf"^level {value} is out of range 0-6$"):
        parse_level(value)


def test_a_huge_integer_is_rejected_without_printing_it() -> None:
    with pytest.raises(ValueError, match=r"^level is out of range 0-6$"):
        parse_level(10**5000)


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_levels(value: bool) -> None:
    with pytest.raises(ValueError, match="not bool"):
        parse_level(value)


@pytest.mark.parametrize("value", [1.0, b"info", ["info"]])
def test_other_types_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="name or an integer 0-6"):
        parse_level(value)  # type: ignore[arg-type]


def test_int_subclasses_are_integers() -> None:
    class Verbosity(enum.IntEnum):
        WARN = 3

    assert parse_level(Verbosity.WARN) == "warn"


@pytest.mark.parametrize(
    ("given", "expected"),
    [("Audit", "audit"), ("AUDIT", "audit"), (" Audit ", "audit"), ("3", "3"), ("Wärn", "wärn")],
)
def test_unknown_names_are_kept_lower_cased(given: str, expected: str) -> None:
    assert parse_level(given) == expected


@given(st.text())
def test_any_string_is_a_level_name_or_none(text: str) -> None:
    level = parse_level(text)
    assert level is None or level in LEVELS or level == text.strip().lower()


@given(st.sampled_from(LEVELS), st.sampled_from([str.lower, str.upper, str.title, str.swapcase]))
def test_any_casing_of_a_name(name: str, case: Callable[[str], str]) -> None:
    assert parse_level(case(name)) == name
