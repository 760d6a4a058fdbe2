"""Reddit connector through praw/prawcore against a `responses` stub of Reddit's OAuth API."""

import time

import pytest
from pydantic import ValidationError

from brandpulse.core.config import Brand
from listeners import credentials
from listeners.base import FatalSourceError
from listeners.reddit_source import RedditConnector, RedditOptions
from tests.fixtures.common import NOW, FakeClock, drain, matches_acme, matching
from tests.fixtures.reddit_api import RedditStub

UA = "linux:brandpulse-tests:0.1 (by /u/brandpulse)"


@pytest.fixture(autouse=True)
def reddit_env(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    monkeypatch.setenv("REDDIT_CLIENT_ID", "SCRUBBED-client-id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "SCRUBBED-client-secret")


@pytest.fixture(autouse=True)
def library_sleeps(monkeypatch):
    """prawcore sleeps with time.sleep (rate limiter, its own 5xx retries): record, never sleep."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


@pytest.fixture
def clock():
    return FakeClock()


def connector(clock, query="acme", **options):
    options = {"user_agent": UA, "subreddits": ["gadgets"], **options}
    return RedditConnector(Brand(name="acme", query=query), options, retry=clock.policy())


def test_documented_listings_with_deleted_and_removed_content(clock):
    with RedditStub() as stub:
        stub.add_payload_things()
        c = connector(clock)
        run = drain(c)
    by_id = {m.native_id: m for m in run.mentions}
    review = by_id["t3_1cq0a01"]
    assert (
        review.text
        == "Acme widget v2 review: café-grade build ☕\n\nSix months in, the Acme widget still works."
    )
    assert review.kind == "post" and review.url.startswith(
        "https://www.reddit.com/r/gadgets/comments/1cq0a01/"
    )
    assert review.author.handle == "widget_fan" and review.author.id == "t2_abc123"
    assert review.engagement.score == 57 and review.engagement.replies == 12
    assert review.thread.subreddit == "gadgets"
    removed_body = by_id["t3_1cq0a00"]  # body removed by moderators, the title still matches
    assert removed_body.text == "Acme support deleted my thread?"
    assert removed_body.author.handle == "[deleted]" and removed_body.author.id is None
    comment = by_id["t1_l2x0b01"]
    assert comment.kind == "comment" and comment.text == "My Acme widget died after a week 😡"
    assert comment.thread.parent_id == "t3_1cq0a01" and comment.thread.conversation_id == "t3_1cq0a01"
    assert "t1_l2x0b00" not in by_id  # a removed comment has no text left to check
    (reject,) = run.rejects  # deleted body, title alone no longer matches: quarantined, not dropped
    assert "[deleted]" in reject.reason and "t3_1cq09zz" in reject.raw
    assert c.stats["comment body removed (not checkable)"] == 1


def test_search_and_comments_paginate_with_after(clock):
    with RedditStub(posts=250, comments=120) as stub:
        run = drain(connector(clock))
    listings = [r for r in stub.requests if "what" in r]
    searches = [r for r in listings if r["what"] == "search"]
    comments = [r for r in listings if r["what"] == "comments"]
    assert len(searches) == 3 and len(comments) == 2
    assert [r["params"].get("after") for r in searches] == [None, "t3_p000151", "t3_p000051"]
    first = searches[0]["params"]
    assert (first["q"], first["sort"], first["restrict_sr"], first["limit"]) == ("acme", "new", "True", "100")
    assert all(r["subs"] == "gadgets" for r in listings)
    assert all(UA in r["headers"]["User-Agent"] for r in listings)
    assert all(r["headers"]["Authorization"] == "bearer SCRUBBED-reddit-app-token" for r in listings)
    want = {p["name"] for p in stub.posts if matches_acme(p["title"])}
    want |= {c["name"] for c in stub.comments if matches_acme(c["body"])}
    ids = [m.native_id for m in run.mentions]
    assert len(ids) == len(set(ids)) and set(ids) == want


def test_all_of_reddit_without_subreddits_and_no_comment_listing(clock):
    with RedditStub(posts=5, subreddit="other") as stub:
        run = drain(connector(clock, subreddits=[]))
    assert {r["subs"] for r in stub.requests if "subs" in r} == {"all"}
    assert len(run.mentions) == matching(5)


def test_restart_resumes_below_the_last_yielded_post(clock):
    with RedditStub(posts=250) as stub:
        first = drain(connector(clock, comments=False), batches=1)
        sweep = first.cursor["listings"]["search:acme"]
        assert sweep["in_progress"] and sweep["extra"]["after"] == "t3_p000151"
        rest = drain(connector(clock, comments=False), cursor=first.cursor)
        assert [r["params"].get("after") for r in stub.requests if "what" in r][1] == "t3_p000151"
        ids = [m.native_id for m in first.mentions + rest.mentions]
        assert len(ids) == len(set(ids))
        assert set(ids) == {p["name"] for p in stub.posts if matches_acme(p["title"])}
        stub.add_post("acme is back 🎸", at=NOW + 30)
        later = drain(connector(clock, comments=False), cursor=rest.cursor)
        assert [m.text for m in later.mentions] == ["acme is back 🎸"]


def test_a_vanished_resume_point_restarts_from_the_top_without_repeats(clock):
    with RedditStub(posts=150) as stub:
        first = drain(connector(clock, comments=False), batches=1)
        stub.posts = [
            p for p in stub.posts if p["name"] != first.cursor["listings"]["search:acme"]["extra"]["after"]
        ]
        rest = drain(connector(clock, comments=False), cursor=first.cursor)
    ids = [m.native_id for m in first.mentions + rest.mentions]
    assert len(ids) == len(set(ids))
    assert set(ids) == {p["name"] for p in stub.posts if matches_acme(p["title"])} | {
        m.native_id for m in first.mentions
    }


def test_praw_rate_limiter_paces_requests_from_the_headers(clock, library_sleeps):
    with RedditStub(posts=150) as stub:
        stub.ratelimit = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "600", "x-ratelimit-reset": "42"}
        drain(connector(clock, comments=False))
    waits = [s for s in library_sleeps if s > 1]
    assert waits and all(40 < s <= 42 for s in waits)  # praw waited for the window reset (not for real)


def test_429_waits_for_the_reset_on_our_clock(clock):
    with RedditStub(posts=20) as stub:
        stub.forced.add(429, {"message": "Too Many Requests", "error": 429}, {"x-ratelimit-reset": "37"})
        run = drain(connector(clock, comments=False))
    assert clock.sleeps == [38.0]
    assert len(run.mentions) == len([p for p in stub.posts if matches_acme(p["title"])])


def test_5xx_is_retried(clock, library_sleeps):
    with RedditStub(posts=20) as stub:
        stub.forced.add(503, {"message": "Service Unavailable"}, times=2)
        run = drain(connector(clock, comments=False))
    assert len(run.mentions) == matching(20)
    assert library_sleeps  # prawcore's own retry backoff (recorded, not slept)


def test_bad_client_credentials_are_fatal(clock):
    with RedditStub(posts=5) as stub:
        stub.token_forced.add(401, {"message": "Unauthorized", "error": 401})
        with pytest.raises(FatalSourceError, match="REDDIT_CLIENT_ID"):
            drain(connector(clock))


@pytest.mark.parametrize(("status", "says"), [(403, "refused access"), (404, "not found")])
def test_listing_access_errors_are_fatal(clock, status, says):
    with RedditStub(posts=5) as stub:
        stub.forced.add(status, {"message": "x", "error": status})
        with pytest.raises(FatalSourceError, match=says):
            drain(connector(clock))


def test_options_require_a_user_agent_and_valid_subreddit_names():
    with pytest.raises(ValidationError, match="user_agent"):
        RedditOptions.model_validate({"subreddits": ["gadgets"]})
    with pytest.raises(ValidationError, match="not a subreddit name"):
        RedditOptions.model_validate({"user_agent": UA, "subreddits": ["no spaces allowed"]})
    assert RedditOptions.model_validate({"user_agent": UA, "subreddits": ["r/Gadgets"]}).subreddits == [
        "Gadgets"
    ]


def test_missing_credentials_name_both_variables(monkeypatch):
    monkeypatch.delenv("REDDIT_CLIENT_ID")
    monkeypatch.delenv("REDDIT_CLIENT_SECRET")
    c = RedditConnector(Brand(name="acme", query="acme"), {"user_agent": UA})
    assert [m.split()[0] for m in c.missing_credentials()] == ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"]


def test_a_comment_does_not_take_its_submissions_comment_count(clock):
    with RedditStub() as stub:
        stub.add_payload_things()  # the comment carries num_comments 6707: its thread's count
        run = drain(connector(clock))
    by_id = {m.native_id: m for m in run.mentions}
    assert by_id["t1_l2x0b01"].engagement.replies is None
    assert by_id["t1_l2x0b01"].engagement.score == 4
    assert by_id["t3_1cq0a01"].engagement.replies == 12  # a post's own count is kept


def test_max_items_keeps_the_sweep_in_progress_and_no_post_is_skipped(clock, caplog):
    import logging

    with RedditStub(posts=250) as stub:
        want = {p["name"] for p in stub.posts if matches_acme(p["title"])}
        with caplog.at_level(logging.WARNING, logger="listeners.reddit_source"):
            first = drain(connector(clock, comments=False, max_items=100))
        sweep = first.cursor["listings"]["search:acme"]
        assert sweep["in_progress"] and sweep["extra"]["after"] == "t3_p000151"
        assert "max_items=100 reached" in caplog.text
        second = drain(connector(clock, comments=False, max_items=100), cursor=first.cursor)
        assert second.cursor["listings"]["search:acme"]["in_progress"]
        third = drain(connector(clock, comments=False, max_items=100), cursor=second.cursor)
        assert not third.cursor["listings"]["search:acme"].get("in_progress")
        afters = [r["params"].get("after") for r in stub.requests if "what" in r]
        assert afters == [None, "t3_p000151", "t3_p000051"]  # each run resumed below the last
        ids = [m.native_id for r in (first, second, third) for m in r.mentions]
        assert len(ids) == len(set(ids)) and set(ids) == want  # nothing skipped, nothing repeated
        stub.add_post("acme after the backfill", at=NOW + 30)
        later = drain(connector(clock, comments=False, max_items=100), cursor=third.cursor)
        assert [m.text for m in later.mentions] == ["acme after the backfill"]


def test_a_listing_that_cannot_reach_further_back_ends_the_sweep(clock):
    with RedditStub(posts=150) as stub:
        first = drain(connector(clock, comments=False, max_items=100))
        assert first.cursor["listings"]["search:acme"]["in_progress"]
        stub.posts = stub.posts[100:]  # everything below the resume point is gone (listing cap)
        second = drain(connector(clock, comments=False, max_items=100), cursor=first.cursor)
    assert not second.cursor["listings"]["search:acme"].get("in_progress")


def test_posts_out_of_newest_first_order_after_a_batch_boundary_are_indexed(clock, caplog):
    import logging

    with RedditStub(posts=150) as stub:
        late = stub.add_post("acme arrives late in the listing", at=NOW - 3600 + 140 * 10 + 5)
        stub.listed_at[late["name"]] = NOW - 3600 + 20 * 10 + 5  # listed among much older posts
        with caplog.at_level(logging.INFO, logger="listeners.reddit_source"):
            c = connector(clock, comments=False)
            run = drain(c)
    ids = [m.native_id for m in run.mentions]
    assert late["name"] in ids and len(ids) == len(set(ids))
    assert set(ids) == {p["name"] for p in stub.posts if matches_acme(p["title"])}
    assert c.stats["out of order (indexed)"] == 1
    assert "out of newest-first order" in caplog.text


def test_an_html_400_is_fatal_not_a_praw_exception(clock):
    from tests.fixtures.common import Html

    with RedditStub(posts=5) as stub:
        stub.forced.add(400, Html())
        with pytest.raises(FatalSourceError, match="Reddit rejected") as raised:
            drain(connector(clock))
    assert "<html" not in str(raised.value)
