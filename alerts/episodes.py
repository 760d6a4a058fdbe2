"""Alert episodes as a pure state machine: one incident, one episode.

Anomalous buckets of one brand form one episode::

    (none) --fired--> open --much worse, not too soon--> open (escalate)
                        |
                        +--back in range for `quiet_minutes`--> resolved
                                                                  |
            fired again within `cooldown_minutes` of resolving <--+ (reopen, same id)

`advance(episode, bucket, settings)` returns the next state and the events
that call for a notification: ``open``, ``escalate`` (only when the figures
grew by `escalate_factor` over the last notified ones, by at least
`min_negative` more negatives, and not sooner than `escalate_min_minutes`
after the last mail), ``reopen`` and ``resolve``. A bucket counts as quiet
only when it did not fire *and* its figures are back in range (at most
`in_range_ratio` times the expected negatives, or fewer than `min_negative`),
so a dip inside a running incident does not close it.

Delivery state lives on the episode: an event is `sending` from just before
the notifier is called until it is `notified`; `pending(episode)` lists what
still has to go out (see `alerts.check` for the guarantee). Feeding a bucket
the episode has already seen changes nothing, so re-running a DAG run or
catching up after downtime never sends twice. The model is plain JSON.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alerts.detector import BucketResult

EventKind = Literal["open", "escalate", "reopen", "resolve"]


def severity_label(ratio: float) -> str:
    """Negatives as a multiple of the expected number, in words (one scale for
    the e-mail, the alerts index, the report and Kibana)."""
    if ratio >= 10:
        return "critical"
    if ratio >= 4:
        return "high"
    return "elevated"


class EpisodeSettings(BaseModel):
    """How episodes open, escalate, close and reopen."""

    model_config = ConfigDict(extra="forbid")

    escalate_factor: float = Field(default=2.0, gt=1.0)
    escalate_min_minutes: int = Field(default=60, ge=0)  # at most one escalation mail per this long
    quiet_minutes: int = Field(default=180, ge=1)  # back in range this long closes an episode
    cooldown_minutes: int = Field(default=360, ge=0)  # a spike this soon after closing reopens it
    in_range_ratio: float = Field(default=1.5, ge=1.0)  # "back in range": at most this x expected
    min_negative: int = Field(default=5, ge=1)
    notify_resolved: bool = True

    @classmethod
    def from_alert_settings(cls, alerts: object) -> EpisodeSettings:
        """From a brand's `alerts:` block (fields it lacks keep their defaults)."""
        names = ("escalate_factor", "quiet_minutes", "cooldown_minutes", "min_negative")
        return cls(**{n: getattr(alerts, n) for n in names if getattr(alerts, n, None) is not None})

    def quiet_buckets_needed(self, bucket_minutes: int) -> int:
        """Quiet buckets in a row that close an episode."""
        return max(1, math.ceil(self.quiet_minutes / bucket_minutes))


class EpisodeEvent(BaseModel):
    """One notification-worthy moment of an episode, with the figures the
    e-mail quotes (the alert window ending with `bucket_start`'s bucket)."""

    key: str  # unique within the episode: "open", "escalate-1", "reopen-1", "resolve-1", ...
    kind: EventKind
    bucket_start: datetime
    negatives: int  # in the alert window (the detector's horizon)
    expected: float | None  # expected negatives in that window
    severity: float
    total: int | None = None  # all scored mentions in the bucket
    share: float | None = None  # negative share in the bucket
    expected_share: float | None = None
    fired_on: list[str] = Field(default_factory=list)  # which tests fired: "count", "share"


class Episode(BaseModel):
    """One negative spike of one brand, from its first anomalous bucket until
    its figures have been back in range for the quiet period."""

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
    peak_negatives: int  # alert-window negatives at the peak (the figure the e-mails quote)
    peak_expected: float | None = None
    peak_severity: float
    notified_severity: float
    notified_negatives: int = 0
    last_notified_bucket: datetime | None = None
    reopened: int = 0
    events: list[EpisodeEvent] = Field(default_factory=list)
    sending: dict[str, datetime] = Field(default_factory=dict)
    notified: dict[str, datetime] = Field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def severity_label(self) -> str:
        return severity_label(self.peak_severity)

    def event(self, key: str) -> EpisodeEvent:
        return next(e for e in self.events if e.key == key)


def episode_id(brand: str, opening_bucket: datetime) -> str:
    """Deterministic id: the brand and the start of the opening bucket (UTC)."""
    return f"{brand}:{opening_bucket.strftime('%Y%m%dT%H%MZ')}"


def is_back_in_range(bucket: BucketResult, settings: EpisodeSettings) -> bool:
    """Not anomalous and no longer elevated: what a quiet bucket is."""
    if bucket.fired:
        return False
    if bucket.window_negatives < settings.min_negative or not bucket.window_expected:
        return True
    return bucket.window_negatives <= settings.in_range_ratio * bucket.window_expected


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
        if episode is not None and _within_cooldown(episode, bucket, settings):
            return _reopen(episode, bucket)
        return _open(bucket, brand)

    updated = episode.model_copy(deep=True)
    updated.last_bucket = bucket.start
    if bucket.fired:
        updated.quiet_buckets = 0
        updated.last_anomalous = bucket.start
        updated.anomalous_buckets += 1
        if bucket.severity > updated.peak_severity:
            updated.peak_severity = bucket.severity
            updated.peak_negatives = bucket.window_negatives
            updated.peak_expected = bucket.window_expected
        if _escalates(updated, bucket, settings):
            count = sum(1 for e in updated.events if e.kind == "escalate") + 1
            return _with_event(updated, f"escalate-{count}", "escalate", bucket)
        return updated, []

    if not is_back_in_range(bucket, settings):
        updated.quiet_buckets = 0  # calmer, but not normal yet: the incident goes on
        return updated, []
    updated.quiet_buckets += 1
    if updated.quiet_buckets < settings.quiet_buckets_needed(episode.bucket_minutes):
        return updated, []
    updated.status = "resolved"
    updated.resolved_at = bucket.end
    if not settings.notify_resolved:
        return updated, []
    count = sum(1 for e in updated.events if e.kind == "resolve") + 1
    return _with_event(updated, f"resolve-{count}", "resolve", bucket)


def pending(episode: Episode) -> list[EpisodeEvent]:
    """Events recorded but not yet delivered, oldest first."""
    return [e for e in episode.events if e.key not in episode.notified]


def mark_sending(episode: Episode, key: str, at: datetime) -> Episode:
    """A copy with event `key` marked as handed to the notifiers at `at`
    (stored *before* the send: a crash after it is recognised next run)."""
    if key not in {e.key for e in episode.events}:
        raise KeyError(f"episode {episode.id} has no event {key!r}")
    updated = episode.model_copy(deep=True)
    updated.sending.setdefault(key, at)
    return updated


def mark_notified(episode: Episode, key: str, at: datetime) -> Episode:
    """A copy of the episode with event `key` marked as delivered at `at`."""
    if key not in {e.key for e in episode.events}:
        raise KeyError(f"episode {episode.id} has no event {key!r}")
    if key in episode.notified:
        return episode
    updated = episode.model_copy(deep=True)
    updated.notified[key] = at
    return updated


def thread_keys(episode: Episode, key: str) -> list[str]:
    """Keys of the events before `key` (for the e-mail's References header)."""
    keys = [e.key for e in episode.events]
    return keys[: keys.index(key)] if key in keys else keys


def _escalates(episode: Episode, bucket: BucketResult, settings: EpisodeSettings) -> bool:
    """A real escalation: much worse than the last mail said, by a real number
    of posts, and not a flurry of mails."""
    if bucket.severity < episode.notified_severity * settings.escalate_factor:
        return False
    if bucket.window_negatives < episode.notified_negatives + settings.min_negative:
        return False
    last = episode.last_notified_bucket or episode.opened_at
    return bucket.start - last >= timedelta(minutes=settings.escalate_min_minutes)


def _within_cooldown(episode: Episode, bucket: BucketResult, settings: EpisodeSettings) -> bool:
    if episode.resolved_at is None:
        return False
    return bucket.start - episode.resolved_at < timedelta(minutes=settings.cooldown_minutes)


def _open(bucket: BucketResult, brand: str) -> tuple[Episode, list[EpisodeEvent]]:
    minutes = round((bucket.end - bucket.start).total_seconds() / 60)
    episode = Episode(
        id=episode_id(brand, bucket.start),
        brand=brand,
        opened_at=bucket.start,
        bucket_minutes=minutes,
        last_bucket=bucket.start,
        last_anomalous=bucket.start,
        peak_negatives=bucket.window_negatives,
        peak_expected=bucket.window_expected,
        peak_severity=bucket.severity,
        notified_severity=bucket.severity,
    )
    return _with_event(episode, "open", "open", bucket)


def _reopen(episode: Episode, bucket: BucketResult) -> tuple[Episode, list[EpisodeEvent]]:
    updated = episode.model_copy(deep=True)
    updated.status = "open"
    updated.resolved_at = None
    updated.last_bucket = bucket.start
    updated.last_anomalous = bucket.start
    updated.quiet_buckets = 0
    updated.anomalous_buckets += 1
    updated.reopened += 1
    if bucket.severity > updated.peak_severity:
        updated.peak_severity = bucket.severity
        updated.peak_negatives = bucket.window_negatives
        updated.peak_expected = bucket.window_expected
    return _with_event(updated, f"reopen-{updated.reopened}", "reopen", bucket)


def _with_event(
    episode: Episode, key: str, kind: EventKind, bucket: BucketResult
) -> tuple[Episode, list[EpisodeEvent]]:
    event = EpisodeEvent(
        key=key,
        kind=kind,
        bucket_start=bucket.start,
        negatives=bucket.window_negatives,
        expected=bucket.window_expected,
        severity=bucket.severity,
        total=bucket.total,
        share=bucket.share,
        expected_share=bucket.expected_share,
        fired_on=list(getattr(bucket, "fired_on", None) or []),
    )
    episode.events.append(event)
    if kind in ("open", "escalate", "reopen"):
        episode.notified_severity = bucket.severity
        episode.notified_negatives = bucket.window_negatives
        episode.last_notified_bucket = bucket.start
    return episode, [event]
