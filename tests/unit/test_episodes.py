"""Episodes: one incident, one episode; open, escalate, reopen, resolve;
idempotent, JSON-serialisable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.detector import BucketResult
from alerts.episodes import (
    Episode,
    EpisodeSettings,
    advance,
    episode_id,
    is_back_in_range,
    mark_notified,
    mark_sending,
    pending,
    severity_label,
    thread_keys,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SETTINGS = EpisodeSettings(
    escalate_factor=2.0, quiet_minutes=60, escalate_min_minutes=0, cooldown_minutes=120
)


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


def run(buckets: list[BucketResult], episode: Episode | None = None, settings: EpisodeSettings = SETTINGS):
    events = []
    for b in buckets:
        episode, new = advance(episode, b, settings, "acme")
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
    assert [e.kind for e in events] == ["open", "escalate", "escalate", "resolve"]
    assert episode is not None and episode.status == "resolved"
    assert episode.id == episode_id("acme", T0 + timedelta(minutes=15))
    assert episode.peak_negatives == 90  # the alert-window figure the e-mails quote
    assert episode.anomalous_buckets == 5
    assert episode.resolved_at == T0 + timedelta(minutes=15 * 10)
    assert [e.key for e in events] == ["open", "escalate-1", "escalate-2", "resolve-1"]


def test_escalation_needs_the_configured_factor():
    seq = [bucket(0, True, 20), bucket(1, True, 35), bucket(2, True, 39)]
    _, events = run(seq)
    assert [e.kind for e in events] == ["open"]
    lenient = SETTINGS.model_copy(update={"escalate_factor": 1.5})
    _, events = run(seq[:2], settings=lenient)
    assert [e.kind for e in events] == ["open", "escalate"]


def test_escalation_needs_real_posts_and_time_between_mails():
    tiny = [bucket(0, True, 2, expected=0.5), bucket(1, True, 5, expected=0.5)]  # 4x -> 10x, +3 posts
    _, events = run(tiny)
    assert [e.kind for e in events] == ["open"]
    hourly = SETTINGS.model_copy(update={"escalate_min_minutes": 60})
    seq = [bucket(0, True, 20), bucket(1, True, 50), bucket(2, True, 60), bucket(4, True, 110)]
    _, events = run(seq, settings=hourly)
    assert [(e.kind, e.bucket_start) for e in events] == [
        ("open", T0),
        ("escalate", T0 + timedelta(minutes=60)),
    ]


def test_a_dip_inside_the_incident_does_not_resolve_it():
    # not anomalous any more, but still 3x the expected number: the incident goes on
    seq = [bucket(0, True, 40)] + [bucket(i, False, 15) for i in range(1, 12)]
    episode, events = run(seq)
    assert [e.kind for e in events] == ["open"]
    assert episode.is_open and episode.quiet_buckets == 0
    assert not is_back_in_range(bucket(1, False, 15), SETTINGS)
    assert is_back_in_range(bucket(1, False, 7), SETTINGS)  # 1.4x
    assert is_back_in_range(bucket(1, False, 4, expected=0.5), SETTINGS)  # below min_negative


def test_resolves_only_after_the_whole_quiet_period():
    seq = [bucket(0, True, 20), bucket(1, False, 4), bucket(2, False, 4), bucket(3, False, 4)]
    episode, events = run(seq)
    assert episode.is_open and [e.kind for e in events] == ["open"]  # 45 of 60 quiet minutes
    episode, events = run([bucket(4, False, 4)], episode)
    assert episode.status == "resolved" and [e.kind for e in events] == ["resolve"]


def test_a_new_spike_within_the_cooldown_continues_the_same_episode():
    seq = [bucket(0, True, 20)] + [bucket(i, False, 4) for i in range(1, 5)]
    episode, _ = run(seq)
    assert episode.status == "resolved"
    again, events = run([bucket(7, True, 22)], episode)  # 45 min after resolving
    assert again.id == episode.id and again.is_open
    assert [e.key for e in events] == ["reopen-1"]
    later, events = run([bucket(7 + 12, True, 22)], episode)  # 3 h after: a new incident
    assert later.id != episode.id and [e.kind for e in events] == ["open"]


def test_rerunning_a_bucket_changes_nothing_and_sends_nothing():
    seq = [bucket(0, True, 20), bucket(1, True, 50)]
    episode, events = run(seq)
    assert [e.kind for e in events] == ["open", "escalate"]
    for b in seq:
        again, more = advance(episode, b, SETTINGS, "acme")
        assert more == [] and again == episode
    restored = Episode.model_validate_json(episode.model_dump_json())
    assert restored == episode
    again, more = run(seq, restored)
    assert more == [] and again == restored


def test_advance_does_not_mutate_its_input():
    episode, _ = run([bucket(0, True, 20)])
    before = episode.model_dump()
    advance(episode, bucket(1, True, 80), SETTINGS, "acme")
    assert episode.model_dump() == before


def test_sending_then_notified_and_threading():
    episode, _ = run([bucket(0, True, 20), bucket(1, True, 50)])
    assert [e.key for e in pending(episode)] == ["open", "escalate-1"]
    sent_at = T0 + timedelta(hours=1)
    episode = mark_sending(episode, "open", sent_at)
    assert "open" in episode.sending and [e.key for e in pending(episode)] == ["open", "escalate-1"]
    episode = mark_notified(episode, "open", sent_at)
    assert [e.key for e in pending(episode)] == ["escalate-1"]
    assert mark_notified(episode, "open", sent_at + timedelta(hours=1)).notified["open"] == sent_at
    assert thread_keys(episode, "open") == [] and thread_keys(episode, "escalate-1") == ["open"]
    with pytest.raises(KeyError):
        mark_notified(episode, "resolve-1", sent_at)


def test_resolved_note_can_be_switched_off():
    quiet = SETTINGS.model_copy(update={"quiet_minutes": 30, "notify_resolved": False})
    episode, events = run([bucket(0, True, 20), bucket(1, False), bucket(2, False)], settings=quiet)
    assert [e.kind for e in events] == ["open"] and episode.status == "resolved"


def test_settings_come_from_the_brands_alert_block():
    from brandpulse.core.config import AlertSettings

    settings = EpisodeSettings.from_alert_settings(
        AlertSettings(quiet_minutes=90, cooldown_minutes=30, min_negative=8, escalate_factor=3)
    )
    assert (settings.quiet_minutes, settings.cooldown_minutes, settings.min_negative) == (90, 30, 8)
    assert settings.escalate_factor == 3 and settings.quiet_buckets_needed(15) == 6


def test_one_scale_of_severity_words():
    assert [severity_label(r) for r in (1.5, 4, 9.9, 10)] == ["elevated", "high", "high", "critical"]
