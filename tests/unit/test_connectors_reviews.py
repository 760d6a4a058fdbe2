"""The review connectors (`appstore`, `googleplay`) through requests against
recorded-shape stubs: the record mapping (rating, version, country, title,
developer reply), the feed's warts, paging and pacing, throttling, and
budget-limited runs that skip nothing."""

from __future__ import annotations

import pytest

from brandpulse.core.config import Brand
from listeners import credentials
from listeners.appstore_source import AppStoreConnector
from listeners.googleplay_source import GooglePlayConnector, parse_response, request_body
from tests.fixtures.appstore_api import AppStoreStub
from tests.fixtures.common import NOW, FakeClock, drain, payload
from tests.fixtures.googleplay_api import GooglePlayStub

APPLE = {"app_ids": ["1234567890"], "countries": ["us"]}
GOOGLE = {"app_ids": ["com.northwind.coffee"]}


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)


def _brand(query: str = "northwind") -> Brand:
    return Brand(name="northwind-coffee", query=query)


def _apple(clock: FakeClock, **options) -> AppStoreConnector:
    return AppStoreConnector(_brand(), APPLE | options, retry=clock.policy())


def _google(clock: FakeClock, **options) -> GooglePlayConnector:
    return GooglePlayConnector(_brand(), GOOGLE | options, retry=clock.policy())


# App Store ------------------------------------------------------------------------------


def test_appstore_maps_a_review_and_skips_the_app_entry():
    clock = FakeClock()
    with AppStoreStub() as stub:
        stub.add("Tracking says delivered, nothing came.", NOW - 600, rating=1, title="Never arrived")
        stub.add("Love it", NOW - 1200, rating=5, title="Great")
        run = drain(_apple(clock))
    first, second = run.mentions
    assert (first.kind, first.platform, first.brands) == ("review", "appstore", ["northwind-coffee"])
    assert first.text == "Never arrived\n\nTracking says delivered, nothing came."
    assert first.matched_terms == []  # read per app: no brand-query re-check by default
    assert first.review is not None and first.review.rating == 1 and second.review.rating == 5
    assert first.review.title == "Never arrived" and first.review.app_version == "5.12.0"
    assert first.review.country == "us" and first.review.app_id == "1234567890"
    assert first.review.helpful == 3 and first.review.developer_reply is None  # the feed has no replies
    assert first.created_at.timestamp() == pytest.approx(NOW - 600)
    assert first.url == "https://apps.apple.com/us/app/id1234567890?see-all=reviews"
    assert run.rejects == []
    assert all('"im:name"' not in m.text for m in run.mentions)


def test_appstore_single_entry_page_and_empty_feed():
    clock = FakeClock()
    with AppStoreStub(app_entry=False) as stub:
        assert drain(_apple(clock)).mentions == []  # no `entry` at all
        stub.add("only one", NOW - 60, rating=2)
        run = drain(_apple(clock))  # `entry` is an object, not a list
    assert [m.review.rating for m in run.mentions] == [2]


def test_appstore_pages_until_the_high_water_mark_and_paces_requests():
    clock = FakeClock()
    with AppStoreStub(posts=120, page_size=50) as stub:
        first = drain(_apple(clock, min_interval_s=3.0))
        assert len(first.mentions) == 120
        assert [r["url"].split("/page=")[1].split("/")[0] for r in stub.requests] == ["1", "2", "3"]
        assert clock.sleeps and all(s <= 3.0 for s in clock.sleeps)  # polite: ~20 requests a minute
        stub.requests.clear()
        stub.add("a new one", NOW + 60, rating=4)
        again = drain(_apple(clock), cursor=first.cursor)
    assert [m.text for m in again.mentions] == ["a new one"]
    assert len(stub.requests) == 1  # the first page reaches below the high-water mark


def test_appstore_country_per_listing_and_query_filter_option():
    clock = FakeClock()
    with AppStoreStub(app_entry=False) as stub:
        stub.add("Northwind app crashes", NOW - 60, country="de")
        stub.add("crashes on start", NOW - 120, country="de")
        stub.add("fine", NOW - 60, country="us")
        both = drain(_apple(clock, countries=["us", "DE"]))
        only = drain(_apple(clock, countries=["de"], match_query=True))
    assert sorted(m.review.country for m in both.mentions) == ["de", "de", "us"]
    assert [m.text for m in only.mentions] == ["Northwind app crashes"]
    assert set(both.cursor["apps"]["1234567890"]) == {"us", "de"}


def test_appstore_bad_entries_are_rejected_not_dropped():
    clock = FakeClock()
    with AppStoreStub(app_entry=False) as stub:
        stub.add("rating out of range", NOW - 60, rating=9)
        stub.add("ok", NOW - 120, rating=3)
        bad = stub.add("no time", NOW - 180)
        bad["updated"] = {"label": "yesterday"}
        run = drain(_apple(clock))
    assert [m.text for m in run.mentions] == ["ok"]
    assert len(run.rejects) == 2 and all(r.reason for r in run.rejects)


# Google Play ----------------------------------------------------------------------------


def test_googleplay_request_body_and_recorded_answer_parse():
    body = request_body("com.northwind.coffee", 100, None)["f.req"]
    assert '"oCPfdb"' in body and "com.northwind.coffee" in body and "[100]" in body
    assert '[100,null,\\"tok\\"]' in request_body("com.northwind.coffee", 100, "tok")["f.req"]
    sample = payload("googleplay", "batchexecute_reviews")
    reviews, token = parse_response(sample["body"])
    assert [r[0] for r in reviews] == [r[0] for r in sample["reviews"]] and token == sample["token"]


def test_googleplay_maps_rating_version_reply_and_language():
    clock = FakeClock()
    with GooglePlayStub() as stub:
        stub.add("Order never arrived", NOW - 600, rating=1, reply="Sorry! Please write to us.")
        stub.add("Great beans", NOW - 1200, rating=5)
        run = drain(_google(clock, langs=["de"], countries=["DE"]))
    first, second = run.mentions
    assert (first.kind, first.platform, first.lang_hint) == ("review", "googleplay", "de")
    assert first.review.rating == 1 and first.review.app_version == "5.12.0"
    assert first.review.developer_reply == "Sorry! Please write to us."
    assert first.review.developer_replied_at.timestamp() == pytest.approx(NOW - 600 + 600)
    assert first.review.country == "de" and second.review.developer_reply is None
    assert first.engagement.likes == 7 and first.author.handle == "Reviewer 1"
    assert stub.requests[0]["params"] == {"hl": "de", "gl": "de"}


def test_googleplay_one_document_across_languages_and_continuation_paging():
    clock = FakeClock()
    with GooglePlayStub(posts=25) as stub:
        run = drain(_google(clock, page_size=10, langs=["en", "de"]))
    assert len(run.mentions) == 25  # the same reviews through two listings: one document each
    tokens = [r["token"] for r in stub.requests]
    assert tokens[:3] == [None, "tok-10", "tok-20"]


def test_googleplay_throttle_in_a_200_backs_off_and_retries():
    clock = FakeClock()
    with GooglePlayStub(posts=3) as stub:
        stub.forced.add(200, "gateway", times=2)
        run = drain(_google(clock))
    assert len(run.mentions) == 3 and len(clock.sleeps) >= 2


# both ----------------------------------------------------------------------------------


def _in_progress(cursor) -> bool:
    if isinstance(cursor, dict):
        return bool(cursor.get("in_progress")) or any(_in_progress(v) for v in cursor.values())
    return False


@pytest.mark.parametrize(
    "make_stub, make",
    [
        (lambda: AppStoreStub(posts=120, page_size=50), lambda c: _apple(c, max_pages=1)),
        (lambda: GooglePlayStub(posts=95), lambda c: _google(c, page_size=10, max_pages=3)),
    ],
    ids=["appstore", "googleplay"],
)
def test_budget_limited_runs_resume_at_their_page_and_skip_nothing(make_stub, make):
    clock = FakeClock()
    cursor, runs = None, []
    with make_stub() as stub:
        total = stub.count
        for _ in range(12):
            run = drain(make(clock), cursor=cursor)
            runs.append(run)
            cursor = run.cursor
            if not _in_progress(cursor):
                break
    assert len(runs) >= 3 and _in_progress(runs[0].cursor) and not _in_progress(cursor)
    ids = [m.native_id for r in runs for m in r.mentions]
    assert len(ids) == len(set(ids)) == total


def test_googleplay_expired_resume_token_falls_back_to_the_first_page():
    clock = FakeClock()
    with GooglePlayStub(posts=30) as stub:
        first = drain(_google(clock, page_size=10, max_pages=1))
        assert _in_progress(first.cursor)
        stub.forced.add(400, {"error": "invalid continuation token"})
        rest = []
        cursor = first.cursor
        for _ in range(5):
            run = drain(_google(clock, page_size=10, max_pages=1), cursor=cursor)
            rest += run.mentions
            cursor = run.cursor
            if not _in_progress(cursor):
                break
    ids = [m.native_id for m in first.mentions + rest]
    assert len(ids) == len(set(ids)) == 30
