"""Timestamp normalization: every ISO-8601 spelling becomes the one stored form."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.timestamps import format_timestamp, now_timestamp, parse_timestamp

times = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
zones = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=1)), dt.timezone(-dt.timedelta(hours=9, minutes=30))]
)


@given(times)
def test_the_stored_form_reads_back_unchanged(value: dt.datetime) -> None:
    text = format_timestamp(value)
    assert len(text) == 24 and text.endswith("Z")
    assert parse_timestamp(text) == text
    assert dt.datetime.fromisoformat(text).replace(tzinfo=None) == value.replace(
        microsecond=value.microsecond // 1000 * 1000
    )


@given(times, zones)
def test_every_spelling_of_an_instant_is_stored_alike(value: dt.datetime, zone: dt.tzinfo) -> None:
    aware = value.replace(tzinfo=dt.UTC).astimezone(zone)
    expected = format_timestamp(value)
    assert parse_timestamp(aware.isoformat()) == expected
    assert parse_timestamp(value.isoformat()) == expected  # no zone means UTC
    assert parse_timestamp(f" {value.isoformat(timespec='milliseconds')}Z ") == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-13-01T00:00:00.000Z",  # the stored shape, but no such month
        "2026-02-30T00:00:00.000Z",
        "2026-01-01T24:00:00.000Z",
        "\uff12\uff10\uff12\uff16-01-01T00:00:00.000Z",  # full-width digits
        "2026-01-01T00:00:00.000Zjunk",
        "yesterday",
        "",
    ],
)
def test_what_is_not_a_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_times_are_truncated_to_milliseconds_in_utc() -> None:
    assert parse_timestamp("2026-01-02T03:04:05.6789+01:00") == "2026-01-02T02:04:05.678Z"
    assert now_timestamp(0.9999) == "1970-01-01T00:00:00.999Z"
    assert format_timestamp(dt.datetime(1, 1, 1)) == "0001-01-01T00:00:00.000Z"
