"""The alerts check against the real node and a real SMTP server on 127.0.0.1."""

import email
import random
import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from elasticsearch import helpers

from alerts.check import check_brand
from alerts.notifiers import SmtpConfig, SmtpNotifier
from alerts.store import AlertStore
from brandpulse.core.config import Brand

pytestmark = pytest.mark.integration

START = datetime(2026, 10, 20, tzinfo=UTC)
SPIKE = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


def notifier(port, retries=0):
    return SmtpNotifier(
        SmtpConfig(
            host="127.0.0.1",
            port=port,
            security="none",
            retries=retries,
            backoff_s=0,
            sender="alerts@brandpulse.test",
        )
    )


def docs(prefix):
    """14 days of steady chatter about acme, then a burst of negative posts."""
    rng = random.Random(1)
    at, i = START, 0
    while at < SPIKE + timedelta(hours=3):
        spike = SPIKE <= at < SPIKE + timedelta(hours=2)
        for _ in range(rng.randint(4, 8) + (25 if spike else 0)):
            i += 1
            label = "negative" if spike or rng.random() < 0.15 else "neutral"
            text = "<b>parcel lost</b> acme never arrived" if spike else "acme is fine"
            extra = {"emotion": _emotion(i)} if spike and i % 4 else {}  # every 4th: a language without
            yield {
                "_index": f"{prefix}-mentions-write",
                "_id": f"x:{i}",
                "_source": {
                    "id": f"x:{i}",
                    "platform": "x",
                    "native_id": str(i),
                    "kind": "post",
                    "created_at": (at + timedelta(seconds=rng.randrange(900))).isoformat(),
                    "brands": ["acme"],
                    "text": f"{text} {i}",
                    "author": {"handle": f"user{i}"},
                    "engagement": {"likes": rng.randrange(50), "reposts": rng.randrange(5)},
                    "url": f"https://x.com/i/web/status/{i}",
                    "sentiment": {"label": label, "score": 0.9, "model": "test", "model_version": "1"},
                    **extra,
                },
            }
        at += timedelta(minutes=15)


def _emotion(i: int) -> dict:
    """Fixture emotion of a spike post: anger two times in three, else sadness."""
    label = "sadness" if i % 3 == 0 else "anger"
    return {
        "label": label,
        "score": 0.8,
        "scores": {"anger": 0.8 if label == "anger" else 0.1, "sadness": 0.5},
    }


@pytest.fixture
def brand(ready, settings):
    helpers.bulk(ready, docs(settings.index_prefix), chunk_size=2000, refresh=True)
    return Brand(
        name="acme",
        display_name="Acme <Bikes>",
        query="acme",
        alerts={"recipients": ["cm@acme.test"], "min_negative": 5},
    )


def test_spike_opens_one_episode_and_one_email_and_reruns_send_nothing(brand, ready, settings, smtp):
    sink, port = smtp
    at = SPIKE + timedelta(hours=2)
    kwargs = {
        "client": ready,
        "settings": settings,
        "notifiers": [notifier(port)],
        "kibana_url": "http://kibana.test:5601",
        "catch_up": timedelta(days=2),
    }
    assert not check_brand(brand, SPIKE - timedelta(hours=1), **kwargs).opened  # the scheduler's last run
    summary = check_brand(brand, at, **kwargs)
    assert len(summary.opened) == 1 and summary.sent and not summary.unsent
    [episode] = AlertStore(ready, settings.indices).episodes("acme")
    assert SPIKE <= episode.opened_at <= SPIKE + timedelta(minutes=30)  # within 2 buckets
    assert len(sink.messages) == len(summary.sent)
    message = sink.messages[0]
    assert "Acme" in message["Subject"]
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
    assert b"&lt;b&gt;parcel lost&lt;/b&gt;" in html and b"<b>parcel lost</b>" not in html
    assert b"kibana.test" in html
    assert any(p.get_content_type() == "image/png" for p in message.walk())

    again = check_brand(brand, at, **kwargs)
    assert again.evaluated == 0 and not again.sent and len(sink.messages) == len(summary.sent)


def test_failed_delivery_stays_unsent_and_is_retried_next_run(brand, ready, settings, smtp):
    sink, port = smtp
    at = SPIKE + timedelta(hours=1)
    common = {"client": ready, "settings": settings, "catch_up": timedelta(days=2)}
    check_brand(brand, SPIKE - timedelta(hours=1), notifiers=[], **common)
    down = check_brand(brand, at, notifiers=[notifier(free_port())], **common)
    assert down.opened and down.unsent and not down.sent
    store = AlertStore(ready, settings.indices)
    assert [e.id for e in store.with_pending("acme")] == down.opened
    up = check_brand(brand, at + timedelta(minutes=15), notifiers=[notifier(port)], **common)
    assert up.sent and not store.with_pending("acme")
    assert len(sink.messages) == len(up.sent)


def test_catch_up_after_downtime_judges_each_missed_bucket_once(brand, ready, settings):
    common = {"client": ready, "settings": settings, "notifiers": [], "catch_up": timedelta(days=1)}
    first = check_brand(brand, SPIKE - timedelta(hours=3), **common)
    assert first.evaluated == 1  # a first run judges the last complete bucket only
    later = check_brand(brand, SPIKE + timedelta(hours=3), **common)
    assert later.evaluated == 6 * 4 and later.opened


class CrashAfterSend:
    """Delivers through the real notifier, then dies before the caller can
    record it: the crash between SMTP acceptance and the episode write."""

    def __init__(self, inner):
        self.inner = inner

    def notify(self, content, recipients):
        self.inner.notify(content, recipients)
        raise SystemExit("worker killed after the send")


def test_a_crash_after_the_send_is_recognised_and_resent_with_the_same_message_id(
    brand, ready, settings, smtp
):
    sink, port = smtp
    at = SPIKE + timedelta(hours=1)
    common = {"client": ready, "settings": settings, "catch_up": timedelta(days=2)}
    check_brand(brand, SPIKE - timedelta(hours=1), notifiers=[], **common)
    with pytest.raises(SystemExit):
        check_brand(brand, at, notifiers=[CrashAfterSend(notifier(port))], **common)
    store = AlertStore(ready, settings.indices)
    [episode] = store.with_pending("acme")
    assert "open" in episode.sending and "open" not in episode.notified
    again = check_brand(brand, at, notifiers=[notifier(port)], **common)
    assert again.resent == [f"{episode.id}/open"] and again.sent[0] == f"{episode.id}/open"
    ids = [m["Message-ID"] for m in sink.messages]
    assert ids[0] == ids[1]  # the duplicate is recognisable: mail clients show it once
    assert not store.with_pending("acme")


def test_the_incident_stays_one_open_episode_while_it_runs(brand, ready, settings, smtp):
    sink, port = smtp
    common = {"client": ready, "settings": settings, "catch_up": timedelta(days=2)}
    check_brand(brand, SPIKE - timedelta(hours=1), notifiers=[notifier(port)], **common)
    for minutes in range(15, 121, 15):  # the scheduler, every bucket of the 2-hour incident
        check_brand(brand, SPIKE + timedelta(minutes=minutes), notifiers=[notifier(port)], **common)
    [episode] = AlertStore(ready, settings.indices).episodes("acme")
    assert episode.is_open and not any(e.kind == "resolve" for e in episode.events)
    assert 1 <= len(sink.messages) <= 3
    first = sink.messages[0]["Message-ID"]
    assert all(m["In-Reply-To"] == first for m in sink.messages[1:])


def test_pendulum_datetimes_from_airflow_are_accepted(brand, ready, settings):
    import pendulum

    at = pendulum.datetime(2026, 11, 2, 13, 7, tz="Europe/Berlin")
    summary = check_brand(brand, at, client=ready, settings=settings, notifiers=[])
    assert summary.evaluated == 1
    mark = AlertStore(ready, settings.indices).last_evaluated("acme")
    assert mark == datetime(2026, 11, 2, 11, 45, tzinfo=UTC)


def test_cli_without_smtp_exits_3_and_writes_nothing_outside_the_state_dir(brand, ready, settings, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    home, work, state = tmp_path / "home", tmp_path / "work", tmp_path / "cli-state"
    for folder in (home, work, state):
        folder.mkdir()
    config = tmp_path / "brands.yaml"
    config.write_text(
        "brands:\n  - name: acme\n    display_name: Acme\n    query: acme\n"
        "    alerts: {min_negative: 5, recipients: [cm@acme.test]}\n"
    )
    before = {p: sorted(p.rglob("*")) for p in (home, work)}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRANDPULSE_", "AIRFLOW"))}
    env.update(
        HOME=str(home),
        BRANDPULSE_STATE_DIR=str(state),
        ES_URL=settings.effective_es_url,
        BRANDPULSE_INDEX_PREFIX=settings.index_prefix,
        MPLCONFIGDIR=str(state / "mpl"),
    )
    brandpulse = Path(sys.executable).with_name("brandpulse")
    at = (SPIKE + timedelta(hours=2)).isoformat()
    done = subprocess.run(
        [str(brandpulse), "alerts", "check", "--config", str(config), "--at", at, "--catch-up-hours", "48"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "unsent" in done.stderr and "BRANDPULSE_SMTP_HOST" in done.stderr
    assert {p: sorted(p.rglob("*")) for p in (home, work)} == before


def test_the_email_says_the_share_of_anger_among_negatives_and_nothing_without_emotion(
    brand, ready, settings, smtp
):
    from alerts.explain import negative_emotion

    sink, port = smtp
    kwargs = {
        "client": ready,
        "settings": settings,
        "notifiers": [notifier(port)],
        "catch_up": timedelta(days=2),
    }
    assert not check_brand(brand, SPIKE - timedelta(hours=1), **kwargs).opened
    summary = check_brand(brand, SPIKE + timedelta(hours=1), **kwargs)
    assert len(summary.opened) == 1 and len(sink.messages) == 1
    found = ready.search(
        index=settings.indices.mentions,
        size=0,
        query={"bool": {"filter": [{"exists": {"field": "emotion.label"}}]}},
        aggs={"labels": {"terms": {"field": "emotion.label"}}},
    )
    assert {b["key"] for b in found["aggregations"]["labels"]["buckets"]} == {"anger", "sadness"}
    msg = sink.messages[0]
    text = (
        next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    )
    html = (
        next(p for p in msg.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    )
    line = next(line for line in text.splitlines() if line.startswith("Emotion:"))
    assert "% anger, the most frequent emotion;" in line and "negative mentions carry an emotion" in line
    assert 'id="negative-emotion"' in html and "% anger, the most frequent emotion" in html
    # a quiet window before the spike: negatives without emotion, so the e-mail says nothing
    quiet = negative_emotion(ready, settings.indices, "acme", SPIKE - timedelta(hours=6), SPIKE)
    assert quiet is None
