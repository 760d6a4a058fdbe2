"""The demo prints the social alert's time and the later review-drop alert's."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from brandpulse.dev.demo import report_review_drop
from brandpulse.dev.sample_data import INCIDENT_BRAND, INCIDENT_ONSET, generate


def test_demo_reports_both_alert_times():
    _, incident = generate(scale=0.05)
    opened = datetime(2026, 11, 12, 14, 0, tzinfo=UTC)
    episode = SimpleNamespace(
        id=f"{INCIDENT_BRAND}:reviews:20261112T1400Z", opened_at=opened, bucket_minutes=60
    )
    asked = []
    store = SimpleNamespace(episodes=lambda key: asked.append(key) or [episode])
    lines: list[str] = []
    report_review_drop(store, incident, INCIDENT_ONSET + timedelta(minutes=25), lines.append)
    assert asked == [f"{INCIDENT_BRAND}:reviews"]
    assert lines[0] == "social alert: 2026-11-12 09:45 UTC (negative mentions)"
    assert lines[1].startswith("review-drop alert: 2026-11-12 15:00 UTC (1-2 star reviews, episode ")
    assert "5.2 h after the social alert" in lines[1] and "following at 13:20 UTC" in lines[1]


def test_demo_says_when_the_review_drop_was_missed():
    _, incident = generate(scale=0.05)
    lines: list[str] = []
    report_review_drop(SimpleNamespace(episodes=lambda key: []), incident, INCIDENT_ONSET, lines.append)
    assert "NOT detected" in lines[-1]
