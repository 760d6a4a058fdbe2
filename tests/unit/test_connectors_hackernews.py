"""Hacker News connector (requests) against a `responses` stub of the Algolia HN Search API."""

import pytest

from brandpulse.core.config import Brand
from listeners.base import FatalSourceError
from listeners.hackernews_source import HackerNewsConnector
from tests.fixtures.common import NOW, FakeClock, drain, matching, payload
from tests.fixtures.hackernews_api import HackerNewsStub


@pytest.fixture
def clock():
    return FakeClock()


def connector(clock, query="acme", **options):
    return HackerNewsConnector(Brand(name="acme", query=query), options, retry=clock.policy())


def test_documented_hits_decode_html_and_entities(clock):
    with HackerNewsStub() as stub:
        stub.hits = payload("hackernews", "search_by_date")["hits"]
        run = drain(connector(clock))
    by_id = {m.native_id: m for m in run.mentions}
    comment, story = by_id["40000010"], by_id["40000001"]
    assert (
        comment.text
        == 'I tried the Acme widget & it\'s fine.\n\nBut their API docs are "hard" to find: https://acme.example/docs'
    )
    assert comment.kind == "comment" and comment.thread.parent_id == "40000001"
    assert comment.thread.conversation_id == "40000001"
    assert story.text == "Show HN: Acme widgets\n\nWe built Acme widgets > everything else."
    assert story.kind == "post" and story.engagement.score == 42 and story.engagement.replies == 1
    assert story.url == "https://news.ycombinator.com/item?id=40000001" and story.author.handle == "founder"


def test_window_narrows_page_after_page(clock):
    with HackerNewsStub(posts=250) as stub:
        run = drain(connector(clock))
    params = [r["params"] for r in stub.requests]
    assert len(params) == 3 and all(p["page"] == "0" for p in params)
    assert params[0]["numericFilters"] == f"created_at_i>={int(NOW) - 86400}"
    oldest_first_page = sorted(h["created_at_i"] for h in stub.hits)[-100]
    assert params[1]["numericFilters"].endswith(f"created_at_i<={oldest_first_page}")
    assert params[0]["tags"] == "(story,comment)" and params[0]["query"] == "acme"
    ids = [m.native_id for m in run.mentions]
    assert len(ids) == len(set(ids)) == matching(250)


def test_a_burst_in_one_second_larger_than_a_page_is_not_lost(clock):
    with HackerNewsStub() as stub:
        for i in range(150):
            stub.add_comment(f"acme burst {i}", at=NOW - 100)
        run = drain(connector(clock))
    assert len({m.native_id for m in run.mentions}) == 150
    assert [r["params"]["page"] for r in stub.requests] == ["0", "0", "1"]


def test_restart_resumes_below_the_last_page_and_later_runs_start_at_the_high_mark(clock):
    with HackerNewsStub(posts=250) as stub:
        first = drain(connector(clock), batches=1)
        rest = drain(connector(clock), cursor=first.cursor)
        ids = [m.native_id for m in first.mentions + rest.mentions]
        assert len(ids) == len(set(ids)) == matching(250)
        newest = max(h["created_at_i"] for h in stub.hits)
        stub.add_story("Acme 2.0 is out", at=NOW + 120)
        later = drain(connector(clock), cursor=rest.cursor)
    assert [m.text for m in later.mentions] == ["Acme 2.0 is out"]
    assert stub.requests[-1]["params"]["numericFilters"].startswith(f"created_at_i>={newest}")


def test_alternatives_are_separate_queries_and_tags_are_configurable(clock):
    with HackerNewsStub(posts=10) as stub:
        run = drain(connector(clock, query="acme OR globex", tags=["story"]))
    assert {r["params"]["query"] for r in stub.requests} == {"acme", "globex"}
    assert {r["params"]["tags"] for r in stub.requests} == {"story"}
    assert all(m.kind == "post" for m in run.mentions)


def test_deleted_items_are_rejected_not_dropped(clock):
    with HackerNewsStub() as stub:
        stub.add_comment(None, at=NOW - 5, author=None)
        run = drain(connector(clock))
    (reject,) = run.rejects
    assert "empty text" in reject.reason and reject.location.startswith(
        "https://news.ycombinator.com/item?id="
    )


def test_429_honours_retry_after(clock):
    with HackerNewsStub(posts=5) as stub:
        stub.forced.add(429, {"message": "rate limited"}, {"Retry-After": "20"})
        run = drain(connector(clock))
    assert clock.sleeps == [21.0] and len(run.mentions) == matching(5)


def test_5xx_is_retried(clock):
    with HackerNewsStub(posts=5) as stub:
        stub.forced.add(502, times=3)
        run = drain(connector(clock))
    assert len(clock.sleeps) == 3 and len(run.mentions) == matching(5)


def test_a_rejected_request_is_fatal(clock):
    with HackerNewsStub(posts=5) as stub:
        stub.forced.add(400, {"message": "invalid numericFilters", "status": 400})
        with pytest.raises(FatalSourceError, match="400"):
            drain(connector(clock))


def test_no_credentials_needed():
    assert HackerNewsConnector(Brand(name="acme", query="acme")).missing_credentials() == []
