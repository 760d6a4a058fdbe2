"""Alert episodes as a pure state machine.

Consecutive anomalous buckets of one brand form one episode::

    (none) --fired--> open --severity x escalate_factor--> open (escalated)
                        \\--resolve_after quiet buckets--> resolved

`advance(episode, bucket, settings)` returns the next state and the events
that call for a notification: ``open``, ``escalate`` (only when severity grew
by `escalate_factor` over the last notified severity) and ``resolve``. The
episode records its events and, in `notified`, the ones that were delivered;
`pending(episode)` lists what still has to be sent (a failed send is retried
on the next run). Feeding a bucket that the episode has already seen changes
nothing, so re-running a DAG run or catching up after downtime never sends
twice. Persistence is the caller's: the model is plain JSON.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alerts.detector import BucketResult

EventKind = Literal["open", "escalate", "resolve"]


class EpisodeSettings(BaseModel):
    """How episodes open, escalate and close."""

    model_config = ConfigDict(extra="forbid")

    escalate_factor: float = Field(default=2.0, gt=1.0)
    resolve_after_minutes: int = Field(default=180, ge=1)  # quiet time that closes an episode
    notify_resolved: bool = True

    def resolve_after_buckets(self, bucket_minutes: int) -> int:
        """Quiet buckets in a row that close an episode."""
        return max(1, math.ceil(self.resolve_after_minutes / bucket_minutes))


class EpisodeEvent(BaseModel):
    """One notification-worthy moment of an episode."""

    key: str  # unique within the episode: "open", "escalate-1", ..., "resolve"
    kind: EventKind
    bucket_start: datetime
    negatives: int
    expected: float | None
    severity: float


class Episode(BaseModel):
    """One negative spike of one brand, from its first to its last anomalous bucket."""

    id: str
    brand: str
    status: Literal["open", "resolved"] = "open"
    opened_at: datetime
    resolved_at: datetime | None = None
    bucket_minutes: int
    last_bucket: datetime
    last_anomalous: datetime
    quiet_buckets: int = 0
    anomalous_buckets: int = 1
    peak_negatives: int
    peak_expected: float | None = None
    peak_severity: float
    notified_severity: float
    events: list[EpisodeEvent] = Field(default_factory=list)
    notified: dict[str, datetime] = Field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status == "open"


def episode_id(brand: str, opening_bucket: datetime) -> str:
    """Deterministic id: the brand and the start of the opening bucket (UTC)."""
    return f"{brand}:{opening_bucket.strftime('%Y%m%dT%H%MZ')}"


def advance(
    episode: Episode | None,
    bucket: BucketResult,
    settings: EpisodeSettings,
    brand: str,
) -> tuple[Episode | None, list[EpisodeEvent]]:
    """Feed one bucket (in time order); return the new state and new events.

    The input episode is never modified. A bucket at or before the episode's
    last bucket is a repeat: nothing changes and no event is returned.
    """
    if episode is not None and bucket.start <= episode.last_bucket:
        return episode, []
    if episode is None or not episode.is_open:
        if not bucket.fired:
            return episode, []
        return _open(bucket, brand)

    updated = episode.model_copy(deep=True)
    updated.last_bucket = bucket.start
    minutes = episode.bucket_minutes
    if bucket.fired:
        updated.quiet_buckets = 0
        updated.last_anomalous = bucket.start
        updated.anomalous_buckets += 1
        severity = bucket.severity
        if severity > updated.peak_severity:
            updated.peak_severity = severity
            updated.peak_negatives = bucket.negatives
            updated.peak_expected = bucket.expected
        if severity >= updated.notified_severity * settings.escalate_factor:
            updated.notified_severity = severity
            count = sum(1 for e in updated.events if e.kind == "escalate") + 1
            return _with_event(updated, f"escalate-{count}", "escalate", bucket)
        return updated, []

    updated.quiet_buckets += 1
    if updated.quiet_buckets < settings.resolve_after_buckets(minutes):
        return updated, []
    updated.status = "resolved"
    updated.resolved_at = bucket.end
    if not settings.notify_resolved:
        return updated, []
    return _with_event(updated, "resolve", "resolve", bucket)


def pending(episode: Episode) -> list[EpisodeEvent]:
    """Events recorded but not yet delivered, oldest first."""
    return [e for e in episode.events if e.key not in episode.notified]


def mark_notified(episode: Episode, key: str, at: datetime) -> Episode:
    """A copy of the episode with event `key` marked as delivered at `at`."""
    if key not in {e.key for e in episode.events}:
        raise KeyError(f"episode {episode.id} has no event {key!r}")
    if key in episode.notified:
        return episode
    updated = episode.model_copy(deep=True)
    updated.notified[key] = at
    return updated


def _open(bucket: BucketResult, brand: str) -> tuple[Episode, list[EpisodeEvent]]:
    minutes = round((bucket.end - bucket.start).total_seconds() / 60)
    episode = Episode(
        id=episode_id(brand, bucket.start),
        brand=brand,
        opened_at=bucket.start,
        bucket_minutes=minutes,
        last_bucket=bucket.start,
        last_anomalous=bucket.start,
        peak_negatives=bucket.negatives,
        peak_expected=bucket.expected,
        peak_severity=bucket.severity,
        notified_severity=bucket.severity,
    )
    return _with_event(episode, "open", "open", bucket)


def _with_event(
    episode: Episode, key: str, kind: EventKind, bucket: BucketResult
) -> tuple[Episode, list[EpisodeEvent]]:
    event = EpisodeEvent(
        key=key,
        kind=kind,
        bucket_start=bucket.start,
        negatives=bucket.negatives,
        expected=bucket.expected,
        severity=bucket.severity,
    )
    episode.events.append(event)
    return episode, [event]
