"""Datetimes at the edges: whatever a caller hands in (Airflow's pendulum
``DateTime``, an ISO string, a naive stdlib ``datetime``) becomes one plain,
timezone-aware stdlib ``datetime`` in UTC before any arithmetic happens."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime | str) -> datetime:
    """A stdlib ``datetime`` in UTC (naive input is taken as UTC).

    Subclasses such as pendulum's ``DateTime`` are rebuilt as plain
    ``datetime``: mixing them with stdlib ``timedelta`` arithmetic fails in
    ways that only show under Airflow's own runner.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime or an ISO 8601 string, got {type(value).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        tzinfo=UTC,
    )
