"""Episodes: open, escalate, resolve; idempotent, JSON-serialisable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.detector import BucketResult, alert_onsets
from alerts.episodes import (
    Episode,
    EpisodeSettings,
    advance,
    episode_id,
    mark_notified,
    pending,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SETTINGS = EpisodeSettings(escalate_factor=2.0, resolve_after_minutes=60)


def bucket(i: int, fired: bool, negatives: int = 0, expected: float = 5.0) -> BucketResult:
    start = T0 + timedelta(minutes=15 * i)
    return BucketResult(
        start=start,
        end=start + timedelta(minutes=15),
        negatives=negatives,
        expected=expected / 4,
        window_negatives=negatives,
        window_expected=expected,
        fired=fired,
    )


def run(buckets: list[BucketResult], episode: Episode | None = None):
    events = []
    for b in buckets:
        episode, new = advance(episode, b, SETTINGS, "acme")
        events.extend(new)
    return episode, events


def test_quiet_buckets_open_nothing():
    episode, events = run([bucket(i, False, 2) for i in range(10)])
    assert episode is None and events == []


def test_open_continue_escalate_resolve():
    seq = [bucket(0, False, 3), bucket(1, True, 20), bucket(2, True, 25), bucket(3, True, 45)]
    seq += [bucket(4, True, 60), bucket(5, True, 90)]
    seq += [bucket(i, False, 4) for i in range(6, 10)]
    episode, events = run(seq)
    kinds = [e.kind for e in events]
    assert kinds == ["open", "escalate", "escalate", "resolve"]
    assert episode is not None and episode.status == "resolved"
    assert episode.id == episode_id("acme", T0 + timedelta(minutes=15))
    assert episode.peak_negatives == 90
    assert episode.anomalous_buckets == 5
    assert episode.resolved_at == T0 + timedelta(minutes=15 * 10)
    assert [e.key for e in events] == ["open", "escalate-1", "escalate-2", "resolve"]


def test_escalation_needs_the_configured_factor():
    seq = [bucket(0, True, 20), bucket(1, True, 35), bucket(2, True, 39)]
    _, events = run(seq)
    assert [e.kind for e in events] == ["open"]
    lenient = EpisodeSettings(escalate_factor=1.5)
    episode, first = advance(None, seq[0], lenient, "acme")
    episode, second = advance(episode, seq[1], lenient, "acme")
    assert [e.kind for e in first + second] == ["open", "escalate"]


def test_a_short_gap_keeps_the_episode_open():
    seq = [bucket(0, True, 20), bucket(1, False), bucket(2, False), bucket(3, True, 22)]
    episode, events = run(seq)
    assert [e.kind for e in events] == ["open"]
    assert episode is not None and episode.is_open and episode.quiet_buckets == 0


def test_rerunning_a_bucket_changes_nothing_and_sends_nothing():
    seq = [bucket(0, True, 20), bucket(1, True, 50)]
    episode, events = run(seq)
    assert [e.kind for e in events] == ["open", "escalate"]
    for b in seq:
        again, more = advance(episode, b, SETTINGS, "acme")
        assert more == [] and again == episode
    # a restart: the stored JSON comes back and the same buckets are fed again
    restored = Episode.model_validate_json(episode.model_dump_json())
    assert restored == episode
    again, more = run(seq, restored)
    assert more == [] and again == restored


def test_advance_does_not_mutate_its_input():
    episode, _ = run([bucket(0, True, 20)])
    before = episode.model_dump()
    advance(episode, bucket(1, True, 80), SETTINGS, "acme")
    assert episode.model_dump() == before


def test_pending_and_mark_notified():
    episode, _ = run([bucket(0, True, 20), bucket(1, True, 50)])
    assert [e.key for e in pending(episode)] == ["open", "escalate-1"]
    sent_at = T0 + timedelta(hours=1)
    episode = mark_notified(episode, "open", sent_at)
    assert [e.key for e in pending(episode)] == ["escalate-1"]
    assert mark_notified(episode, "open", sent_at + timedelta(hours=1)).notified["open"] == sent_at
    with pytest.raises(KeyError):
        mark_notified(episode, "resolve", sent_at)


def test_resolved_note_can_be_switched_off():
    quiet = EpisodeSettings(resolve_after_minutes=30, notify_resolved=False)
    episode, events = None, []
    for b in [bucket(0, True, 20), bucket(1, False), bucket(2, False)]:
        episode, new = advance(episode, b, quiet, "acme")
        events += new
    assert [e.kind for e in events] == ["open"] and episode.status == "resolved"


def test_episode_openings_match_alert_onsets():
    rng = np.random.default_rng(0)
    fired = rng.random(400) < 0.08
    episode, opened = None, []
    for i, f in enumerate(fired):
        episode, events = advance(episode, bucket(i, bool(f), 20 if f else 0), SETTINGS, "acme")
        opened += [i for e in events if e.kind == "open"]
    gap = SETTINGS.resolve_after_buckets(15)
    assert opened == alert_onsets(fired, gap).tolist()
