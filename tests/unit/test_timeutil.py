"""Datetimes at the task boundary: pendulum (what Airflow hands tasks), strings, naive."""

from datetime import UTC, datetime, timedelta, timezone

import pendulum
import pytest

from alerts.series import floor_bucket
from brandpulse.core.timeutil import as_utc


def test_pendulum_becomes_a_plain_utc_datetime():
    value = as_utc(pendulum.datetime(2026, 11, 12, 11, 7, 30, tz="Europe/Berlin"))
    assert type(value) is datetime and value == datetime(2026, 11, 12, 10, 7, 30, tzinfo=UTC)
    assert floor_bucket(value, 15) == datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
    assert value - timedelta(minutes=15) < value  # stdlib arithmetic works


def test_strings_naive_and_offsets():
    assert as_utc("2026-11-12T10:00:00Z") == datetime(2026, 11, 12, 10, tzinfo=UTC)
    assert as_utc(datetime(2026, 11, 12, 10)) == datetime(2026, 11, 12, 10, tzinfo=UTC)
    plus2 = datetime(2026, 11, 12, 12, tzinfo=timezone(timedelta(hours=2)))
    assert as_utc(plus2) == datetime(2026, 11, 12, 10, tzinfo=UTC)
    with pytest.raises(TypeError):
        as_utc(3)  # type: ignore[arg-type]
