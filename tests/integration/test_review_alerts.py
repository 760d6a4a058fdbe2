"""The rating-drop check (alerts/reviews.py) against the real node: 1-2 star
reviews through the shared detector and episodes, its own episode namespace,
the low-volume guard, and the line in the social e-mail once reviews follow."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import helpers

from alerts.check import check_brand
from alerts.reviews import check_reviews, reviews_following
from alerts.store import AlertStore
from brandpulse.core.config import Brand
from tests.integration.test_alerts_check import notifier, smtp  # noqa: F401 - the SMTP sink fixture

pytestmark = pytest.mark.integration

START = datetime(2026, 10, 20, tzinfo=UTC)
WAVE = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # 1-2 star reviews pour in from here
SOCIAL_SPIKE = WAVE + timedelta(hours=6)


def review(prefix, i, at, rating):
    return {
        "_index": f"{prefix}-mentions-write",
        "_id": f"appstore:{i}",
        "_source": {
            "id": f"appstore:{i}",
            "platform": "appstore",
            "native_id": str(i),
            "kind": "review",
            "created_at": at.isoformat(),
            "brands": ["acme"],
            "text": f"acme app review {i}",
            "author": {"handle": f"reviewer{i}"},
            "engagement": {"likes": i % 7},
            "review": {"rating": rating, "app_id": "1234567890", "country": "us", "app_version": "5.12.0"},
        },
    }


def docs(prefix, wave=True, lone_low=0):
    """14 days of about one review an hour (15 % with 1-2 stars) and steady social
    chatter; then (`wave`) 8 one-star reviews an hour for 6 hours, and a social
    negative spike 6 hours later; or `lone_low` one-star reviews in one hour."""
    rng = random.Random(2)
    at, i = START, 0
    while at < SOCIAL_SPIKE + timedelta(hours=3):
        hour_at = at
        extra = 8 if wave and WAVE <= at < WAVE + timedelta(hours=6) else 0
        extra += lone_low if at == WAVE else 0
        for _ in range(rng.choice((0, 1, 1, 2)) + extra):
            i += 1
            low = extra > 0 or rng.random() < 0.15
            rating = 1 if extra else (rng.choice((1, 2)) if low else rng.choice((3, 4, 5, 5)))
            yield review(prefix, i, hour_at + timedelta(seconds=rng.randrange(3600)), rating)
        for quarter in range(4):
            q_at = at + timedelta(minutes=15 * quarter)
            spike = wave and SOCIAL_SPIKE <= q_at < SOCIAL_SPIKE + timedelta(hours=2)
            for _ in range(rng.randint(4, 8) + (25 if spike else 0)):
                i += 1
                label = "negative" if spike or rng.random() < 0.15 else "neutral"
                yield {
                    "_index": f"{prefix}-mentions-write",
                    "_id": f"x:{i}",
                    "_source": {
                        "id": f"x:{i}",
                        "platform": "x",
                        "native_id": str(i),
                        "kind": "post",
                        "created_at": (q_at + timedelta(seconds=rng.randrange(900))).isoformat(),
                        "brands": ["acme"],
                        "text": f"acme parcel never arrived {i}" if spike else f"acme is fine {i}",
                        "url": f"https://x.com/i/web/status/{i}",
                        "sentiment": {"label": label, "score": 0.9, "model": "test", "model_version": "1"},
                    },
                }
        at += timedelta(hours=1)


def _brand():
    return Brand(name="acme", display_name="Acme", query="acme", alerts={"recipients": ["cm@acme.test"]})


def test_a_wave_of_low_star_reviews_opens_one_review_episode_once(ready, settings, smtp):  # noqa: F811
    sink, port = smtp
    helpers.bulk(ready, docs(settings.index_prefix), chunk_size=2000, refresh=True)
    kwargs = {
        "client": ready,
        "settings": settings,
        "notifiers": [notifier(port)],
        "catch_up": timedelta(days=2),
    }
    at = WAVE + timedelta(hours=5)
    check_reviews(_brand(), WAVE - timedelta(days=1), **kwargs)
    summary = check_reviews(_brand(), at, **kwargs)
    assert summary is not None and summary.brand == "acme:reviews"
    assert len(summary.opened) == 1 and summary.opened[0].startswith("acme:reviews:")
    opened = datetime.strptime(summary.opened[0].split(":")[-1], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    assert WAVE <= opened <= WAVE + timedelta(hours=3)  # caught within hours of the wave
    assert len(sink.messages) == len(summary.sent) >= 1  # the opening mail (and maybe an escalation)
    message = sink.messages[0]
    assert "rating drop" in message["Subject"] and "1-2 star reviews" in message["Subject"]
    body = message.get_payload()[0].get_payload(decode=True).decode()
    assert "1-2 star reviews:" in body and "★" in body

    again = check_reviews(_brand(), at, **kwargs)
    assert again is not None and again.evaluated == 0 and not again.sent
    assert len(sink.messages) == len(summary.sent)
    store = AlertStore(ready, settings.indices)
    assert store.latest("acme") is None  # the social episodes are untouched
    assert [e.id for e in store.episodes("acme:reviews")] == summary.opened


def test_a_few_low_star_reviews_do_not_fire(ready, settings):
    helpers.bulk(ready, docs(settings.index_prefix, wave=False, lone_low=3), chunk_size=2000, refresh=True)
    summary = check_reviews(
        _brand(),
        WAVE + timedelta(hours=6),
        client=ready,
        settings=settings,
        notifiers=[],
        catch_up=timedelta(days=2),
    )
    assert summary is not None and summary.evaluated > 0 and summary.opened == []


def test_no_reviews_no_review_check(ready, settings):
    assert check_reviews(_brand(), WAVE, client=ready, settings=settings, notifiers=[]) is None


def test_social_email_gains_the_reviews_line_once_reviews_follow(ready, settings, smtp):  # noqa: F811
    sink, port = smtp
    helpers.bulk(ready, docs(settings.index_prefix), chunk_size=2000, refresh=True)
    names = settings.indices
    assert reviews_following(ready, names, "acme", WAVE) is None  # before the wave: usual
    line = reviews_following(ready, names, "acme", WAVE + timedelta(hours=6))
    assert line is not None and line.low >= 48 and line.line.startswith("1-2 star reviews: ")

    kwargs = {
        "client": ready,
        "settings": settings,
        "notifiers": [notifier(port)],
        "catch_up": timedelta(days=2),
    }
    check_brand(_brand(), SOCIAL_SPIKE - timedelta(hours=2), **kwargs)
    summary = check_brand(_brand(), SOCIAL_SPIKE + timedelta(hours=1), **kwargs)
    assert summary.opened
    text = sink.messages[0].get_payload()[0].get_payload(decode=True).decode()
    assert "App reviews:       1-2 star reviews: " in text and "in the last 24 h vs" in text


def test_the_sample_review_wave_alerts_hours_after_the_incident(ready, settings):
    from brandpulse.core.mention import Mention
    from brandpulse.dev.sample_data import INCIDENT_ONSET, REVIEW_LAG, START, generate_reviews

    rows, following = generate_reviews()
    assert following > 50
    actions = []
    for row in rows:
        doc = Mention.model_validate(row).to_document()
        actions.append(
            {"_index": f"{settings.index_prefix}-mentions-write", "_id": doc["id"], "_source": doc}
        )
    helpers.bulk(ready, actions, refresh=True)
    brand = Brand(name="northwind-coffee", query='"northwind coffee"', alerts={"recipients": ["a@b.test"]})
    first, end = START + timedelta(days=7), START + timedelta(days=14)
    check_reviews(brand, first, client=ready, settings=settings, notifiers=[])
    summary = check_reviews(brand, end, client=ready, settings=settings, notifiers=[], catch_up=end - first)
    assert summary is not None and summary.opened, "the sample's review wave was not detected"
    opened = [datetime.strptime(i.split(":")[-1], "%Y%m%dT%H%MZ").replace(tzinfo=UTC) for i in summary.opened]
    assert all(t >= INCIDENT_ONSET for t in opened)  # no false alarm over the quiet week
    assert INCIDENT_ONSET + REVIEW_LAG <= opened[0] <= INCIDENT_ONSET + REVIEW_LAG + timedelta(hours=3)


def test_reviews_stay_out_of_the_social_series(ready, settings):
    from alerts.series import fetch_rating_series, fetch_series

    prefix = settings.index_prefix
    rows = [review(prefix, i, WAVE + timedelta(minutes=i), 1) for i in range(1, 7)]
    for row in rows:  # enriched like every mention: a one-star review reads negative
        row["_source"]["sentiment"] = {"label": "negative", "score": 0.9, "model": "t", "model_version": "1"}
    helpers.bulk(ready, rows, refresh=True)
    names, end = settings.indices, WAVE + timedelta(hours=1)
    negatives, totals = fetch_series(ready, names, "acme", WAVE, end, 60)
    low, rated = fetch_rating_series(ready, names, "acme", WAVE, end, 60)
    assert (negatives.sum(), totals.sum()) == (0, 0) and (low.sum(), rated.sum()) == (6, 6)


def test_rating_history_starts_at_the_first_review_not_the_first_post(ready, settings, monkeypatch):
    """Hours before the first rated review are no history of zeros: the rating
    series starts at the first review even when social posts are older."""
    import alerts.reviews

    old_post = {
        "_index": f"{settings.index_prefix}-mentions-write",
        "_id": "x:old",
        "_source": {
            "id": "x:old",
            "platform": "x",
            "native_id": "old",
            "kind": "post",
            "created_at": (START - timedelta(days=10)).isoformat(),
            "brands": ["acme"],
            "text": "acme long ago",
        },
    }
    helpers.bulk(ready, [old_post, *docs(settings.index_prefix, wave=False)], chunk_size=2000, refresh=True)
    starts = []
    real = alerts.reviews.fetch_rating_series

    def spy(client, names, brand, start, end, bucket_minutes):
        starts.append(start)
        return real(client, names, brand, start, end, bucket_minutes)

    monkeypatch.setattr(alerts.reviews, "fetch_rating_series", spy)
    check_reviews(_brand(), WAVE, client=ready, settings=settings, notifiers=[], catch_up=timedelta(days=2))
    first_review = min(
        datetime.fromisoformat(d["_source"]["created_at"])
        for d in docs(settings.index_prefix, wave=False)
        if d["_source"]["kind"] == "review"
    )
    assert starts and starts[0] == first_review.replace(minute=0, second=0, microsecond=0)
