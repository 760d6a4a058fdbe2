"""X connector through tweepy against a `responses` stub of API v2 recent search."""

import logging

import pytest

from brandpulse.core.config import Brand
from brandpulse.core.query import compile_x, parse_query
from listeners import credentials
from listeners.base import FatalSourceError, RetriableSourceError
from listeners.x_source import XConnector
from tests.fixtures.common import NOW, FakeClock, drain, matches_acme, payload
from tests.fixtures.x_api import XStub

TOKEN = "SCRUBBED-x-bearer-token"


@pytest.fixture(autouse=True)
def x_env(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)


@pytest.fixture
def clock():
    return FakeClock()


def connector(clock, query="acme", **options):
    return XConnector(Brand(name="acme", query=query), options, retry=clock.policy())


def expected_ids(stub):
    return {t["id"] for t in stub.tweets if matches_acme(t["text"])}


def test_documented_payload_maps_kind_author_metrics_and_entities(clock):
    with XStub() as stub:
        stub.add_sample_page()
        run = drain(connector(clock, query="acme OR @AcmeSupport"))
    by_id = {m.native_id: m for m in run.mentions}
    post = by_id["1786000000000000010"]
    repost = by_id["1786000000000000009"]
    reply = by_id["1786000000000000008"]
    assert post.text == "Loving the new Acme widget & its battery 🔋 #acme"  # &amp; decoded, emoji kept
    assert (post.kind, repost.kind, reply.kind) == ("post", "repost", "reply")
    assert reply.thread.parent_id == "1785999999999999500"
    assert reply.thread.conversation_id == "1785999999999999500"
    assert post.author.handle == "XDevelopers" and post.author.followers == 570000 and post.author.verified
    assert reply.author.display_name == "Jo Élève"
    assert post.engagement.likes == 12 and post.engagement.views == 440 and post.engagement.reposts == 3
    assert post.url == "https://x.com/XDevelopers/status/1786000000000000010"
    assert post.lang_hint == "en" and post.brands == ["acme"]
    assert post.matched_terms == ["acme"] and reply.matched_terms == ["acme", "@AcmeSupport"]
    assert post.collected_at.timestamp() == NOW


def test_pagination_follows_next_token_and_sends_the_compiled_query(clock):
    with XStub(posts=250) as stub:
        run = drain(connector(clock, query="acme -refund"))
    assert len(stub.requests) == 3  # 250 posts, 100 per page
    assert [r["params"].get("next_token") for r in stub.requests] == [None, "tok-100", "tok-200"]
    assert {r["params"]["query"] for r in stub.requests} == set(compile_x(parse_query("acme -refund")))
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in stub.requests)
    want = {t["id"] for t in stub.tweets if matches_acme(t["text"]) and "refund" not in t["text"]}
    assert {m.native_id for m in run.mentions} == want  # the local re-check applies the exclusion
    assert len(run.mentions) == len(want)


def test_restart_after_a_crash_resumes_without_loss_or_repeats(clock):
    with XStub(posts=250) as stub:
        first = drain(connector(clock), batches=1)  # the process dies after one batch
        assert first.cursor["queries"]  # an in-progress sweep was stored
        rest = drain(connector(clock), cursor=first.cursor)
        assert stub.requests[-1]["params"]["until_id"]  # resumed below what was yielded
        ids = [m.native_id for m in first.mentions + rest.mentions]
        assert len(ids) == len(set(ids))
        assert set(ids) == expected_ids(stub)
        stub.add("acme after the restart 🚀", at=NOW + 60)
        later = drain(connector(clock), cursor=rest.cursor)
        assert [m.text for m in later.mentions] == ["acme after the restart 🚀"]
        assert "since_id" in stub.requests[-1]["params"] and "start_time" not in stub.requests[-1]["params"]


def test_first_run_starts_at_since_clamped_to_the_recent_window(clock):
    from datetime import UTC, datetime

    with XStub(posts=10) as stub:
        drain(connector(clock), since=datetime(2020, 1, 1, tzinfo=UTC))
    assert stub.requests[0]["params"]["start_time"] == "2026-05-03T12:01:00Z"  # now - 7 days + 1 min


def test_per_run_budget_stops_with_a_warning_and_the_next_run_continues(clock, caplog):
    with XStub(posts=250) as stub:
        runs = []
        cursor = None
        for _ in range(3):
            with caplog.at_level(logging.WARNING, logger="listeners.x_source"):
                runs.append(drain(connector(clock, max_reads_per_run=100), cursor=cursor))
            cursor = runs[-1].cursor
        assert [len(r.batches) for r in runs][:2] == [2, 2]  # one page + the final cursor
        assert "read budget reached" in caplog.text
        assert [int(r["params"]["max_results"]) for r in stub.requests] == [100, 100, 100]
        ids = [m.native_id for r in runs for m in r.mentions]
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(stub)
        assert cursor["budget"] == {"month": "2026-05", "reads": 250}


def test_monthly_budget_is_kept_in_the_cursor_and_resets_next_month():
    clock = FakeClock(now=NOW + 21 * 86400 + 11 * 3600)  # 2026-05-31T23:00Z
    with XStub(posts=250, start=clock.now - 3600) as stub:
        options = {"max_reads_per_month": 150, "max_reads_per_run": None}
        first = drain(connector(clock, **options))
        assert first.cursor["budget"] == {"month": "2026-05", "reads": 150}
        calls = len(stub.requests)
        blocked = drain(connector(clock, **options), cursor=first.cursor)
        assert blocked.mentions == [] and len(stub.requests) == calls  # no request once spent
        clock.now += 2 * 3600  # June
        june = drain(connector(clock, **options), cursor=first.cursor)
        assert june.cursor["budget"] == {"month": "2026-06", "reads": 100}
        ids = [m.native_id for r in (first, june) for m in r.mentions]
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(stub)


def test_429_waits_until_the_reset_header_without_sleeping(clock):
    with XStub(posts=30) as stub:
        stub.forced.add(429, payload("x", "errors")["429"], {"x-rate-limit-reset": str(int(NOW) + 120)})
        run = drain(connector(clock))
    assert clock.sleeps == [121.0]  # until the reset, plus one second
    assert len(stub.requests) == 2
    assert {m.native_id for m in run.mentions} == expected_ids(stub)


def test_a_reset_too_far_away_is_a_retriable_error(clock):
    with XStub(posts=30) as stub:
        stub.forced.add(429, payload("x", "errors")["429"], {"x-rate-limit-reset": str(int(NOW) + 86400)})
        with pytest.raises(RetriableSourceError, match="rate limited until"):
            drain(connector(clock))
    assert clock.sleeps == []


def test_5xx_is_retried_with_backoff_and_jitter(clock):
    with XStub(posts=30) as stub:
        stub.forced.add(503, payload("x", "errors")["503"], times=2)
        run = drain(connector(clock))
    assert len(clock.sleeps) == 2 and all(0 <= s <= 60 for s in clock.sleeps)
    assert {m.native_id for m in run.mentions} == expected_ids(stub)


def test_persistent_5xx_gives_up_as_retriable(clock):
    with XStub(posts=30) as stub:
        stub.forced.add(503, payload("x", "errors")["503"], times=20)
        with pytest.raises(RetriableSourceError, match="still failing"):
            drain(connector(clock))
    assert len(stub.requests) == 6


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (401, "401", "bearer token"),
        (403, "403", "access level"),
        (403, "453", "code 453"),
    ],
)
def test_access_errors_are_fatal_and_name_the_problem(clock, status, body, says):
    with XStub(posts=30) as stub:
        stub.forced.add(status, payload("x", "errors")[body])
        with pytest.raises(FatalSourceError, match=says):
            drain(connector(clock))
    assert len(stub.requests) == 1  # not retried


def test_a_rejected_query_is_fatal(clock):
    with XStub(posts=5) as stub:
        stub.forced.add(400, payload("x", "errors")["400"])
        with pytest.raises(FatalSourceError, match="rejected the query"):
            drain(connector(clock))


def test_suspended_author_and_bad_posts(clock):
    with XStub() as stub:
        stub.add("acme from a suspended account", at=NOW - 60, author_id="999")  # no user in includes
        stub.add("   ", at=NOW - 50)  # blank text (media-only)
        run = drain(connector(clock))
    (mention,) = run.mentions
    assert mention.author.id == "999" and mention.author.handle is None
    assert mention.url == f"https://x.com/i/web/status/{mention.native_id}"
    (reject,) = run.rejects
    assert "empty text" in reject.reason and '"   "' in reject.raw


def test_long_queries_are_split_and_posts_deduplicated(clock):
    words = " OR ".join(f"product{i:03d}" for i in range(80))
    with XStub() as stub:
        stub.add("product001 and product079 😀", at=NOW - 30)
        run = drain(connector(clock, query=words))
    queries = {r["params"]["query"] for r in stub.requests}
    assert len(queries) > 1 and all(len(q) <= 512 for q in queries)
    assert [m.matched_terms for m in run.mentions] == [["product001", "product079"]]  # once, not per query
    assert len(run.cursor["queries"]) == len(queries)


def test_missing_credentials_are_reported_without_values(monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")
    c = XConnector(Brand(name="acme", query="acme"))
    assert c.missing_credentials() == ["X_BEARER_TOKEN (or Airflow Connection 'brandpulse_x' password)"]
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    assert c.missing_credentials() == []


def test_the_token_never_reaches_the_logs(clock, caplog):
    with XStub(posts=5), caplog.at_level(logging.DEBUG):
        drain(connector(clock))
    assert "'Authorization': '***'" in caplog.text  # tweepy logged the headers ...
    assert TOKEN not in caplog.text  # ... masked


def test_an_edited_post_is_one_document_with_the_latest_text(clock):
    with XStub() as stub:
        original = stub.add("acme widget arived today", at=NOW - 120)
        edit = stub.add("acme widget arrived today (edited)", at=NOW - 60)
        history = [original["id"], edit["id"]]  # X lists every version on each of them
        original["edit_history_tweet_ids"] = edit["edit_history_tweet_ids"] = history
        c = connector(clock)
        run = drain(c)
    (mention,) = run.mentions
    assert mention.id == f"x:{original['id']}" and mention.native_id == original["id"]
    assert mention.text == "acme widget arrived today (edited)"
    assert mention.url.endswith(f"/status/{edit['id']}")  # the version taken
    assert c.stats["older edit version (superseded)"] == 1


def test_an_edit_after_an_earlier_run_updates_the_same_document(clock):
    with XStub() as stub:
        original = stub.add("acme order never arrived", at=NOW - 120)
        first = drain(connector(clock))
        assert [m.id for m in first.mentions] == [f"x:{original['id']}"]
        edit = stub.add("acme order never arrived, 3 weeks now", at=NOW - 60)
        original["edit_history_tweet_ids"] = edit["edit_history_tweet_ids"] = [original["id"], edit["id"]]
        second = drain(connector(clock), cursor=first.cursor)
    (mention,) = second.mentions
    assert mention.id == f"x:{original['id']}"  # the same document, updated
    assert mention.text == "acme order never arrived, 3 weeks now"
