"""Bluesky connector through the atproto client (httpx) against a `respx` stub of XRPC."""

import logging

import pytest

from brandpulse.core.config import Brand
from listeners import credentials
from listeners.base import FatalSourceError
from listeners.bluesky_source import BlueskyConnector
from tests.fixtures.bluesky_api import BlueskyStub
from tests.fixtures.common import NOW, FakeClock, drain, iso_z, matching, payload

PASSWORD = "scrubbed"


@pytest.fixture(autouse=True)
def anonymous(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    monkeypatch.delenv("BLUESKY_HANDLE", raising=False)
    monkeypatch.delenv("BLUESKY_APP_PASSWORD", raising=False)


@pytest.fixture
def logged_in(monkeypatch):
    monkeypatch.setenv("BLUESKY_HANDLE", "brandpulse-bot.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", PASSWORD)


@pytest.fixture
def clock():
    return FakeClock()


def connector(clock, query="acme", **options):
    return BlueskyConnector(Brand(name="acme", query=query), options, retry=clock.policy())


def test_documented_post_view_maps_url_author_and_language(clock):
    with BlueskyStub() as stub:
        stub.posts = payload("bluesky", "search_posts")["posts"]
        run = drain(connector(clock, query="acme @acmehelp"))
    (m,) = run.mentions
    assert m.url == "https://bsky.app/profile/ana.bsky.social/post/3kwxyzabc2k2a"
    assert m.native_id == "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3kwxyzabc2k2a"
    assert m.author.id == "did:plc:z72i7hdynmk6r22z27h6tvur" and m.author.handle == "ana.bsky.social"
    assert m.author.display_name == "Ana 🌻" and m.lang_hint == "pt"
    assert m.text == "O widget da Acme chegou quebrado 😢 @acmehelp.bsky.social"
    assert m.matched_terms == ["acme", "@acmehelp"]
    assert (m.engagement.likes, m.engagement.reposts, m.engagement.replies) == (4, 1, 0)
    assert m.created_at.isoformat() == "2026-05-10T11:58:30+00:00"


def test_handle_invalid_falls_back_to_the_did_in_the_url(clock):
    with BlueskyStub() as stub:
        post = stub.add("acme", at=NOW - 10, handle="handle.invalid")
        run = drain(connector(clock))
    did, rkey = post["author"]["did"], post["uri"].rsplit("/", 1)[-1]
    assert run.mentions[0].url == f"https://bsky.app/profile/{did}/post/{rkey}"


def test_replies_quotes_and_image_only_posts(clock):
    parent = {"uri": "at://did:plc:x/app.bsky.feed.post/parent", "cid": "bafyreiparent"}
    root = {"uri": "at://did:plc:x/app.bsky.feed.post/root", "cid": "bafyreiroot"}
    quote = {"$type": "app.bsky.embed.record", "record": parent}
    with BlueskyStub() as stub:
        stub.add("acme reply", at=NOW - 30, reply={"root": root, "parent": parent})
        stub.add("acme quote", at=NOW - 20, embed=quote)
        stub.add("", at=NOW - 10)
        run = drain(connector(clock))
    kinds = {m.text: m for m in run.mentions}
    assert kinds["acme reply"].kind == "reply"
    assert kinds["acme reply"].thread.parent_id == parent["uri"]
    assert kinds["acme reply"].thread.conversation_id == root["uri"]
    assert kinds["acme quote"].kind == "quote"
    (reject,) = run.rejects
    assert "empty text" in reject.reason and reject.location.startswith("https://bsky.app/profile/")


def test_cursor_paging_and_query_parameters(clock):
    with BlueskyStub(posts=250) as stub:
        run = drain(connector(clock, query="acme lang:en"))
    assert [r["params"].get("cursor") for r in stub.requests] == [None, "100", "200"]
    first = stub.requests[0]["params"]
    assert first["q"] == "acme" and first["sort"] == "latest" and first["limit"] == "100"
    assert first["lang"] == "en" and first["since"] == iso_z(NOW - 86400)
    assert len(run.mentions) == matching(250)


def test_restart_resumes_with_until_and_later_runs_use_since(clock):
    with BlueskyStub(posts=250) as stub:
        first = drain(connector(clock), batches=1)
        rest = drain(connector(clock), cursor=first.cursor)
        resumed = stub.requests[1]["params"]  # the first run died after one page
        assert "until" in resumed and "cursor" not in resumed
        ids = [m.native_id for m in first.mentions + rest.mentions]
        assert len(ids) == len(set(ids)) == matching(250)
        stub.add("acme tomorrow 🌅", at=NOW + 60)
        later = drain(connector(clock), cursor=rest.cursor)
    assert [m.text for m in later.mentions] == ["acme tomorrow 🌅"]
    assert stub.requests[-1]["params"]["since"] > iso_z(NOW - 3600)


def test_alternatives_become_separate_searches_without_duplicates(clock):
    with BlueskyStub(posts=20) as stub:
        run = drain(connector(clock, query="acme OR #gadget"))
    assert {r["params"]["q"] for r in stub.requests} == {"acme", "#gadget"}
    ids = [m.native_id for m in run.mentions]
    assert len(ids) == len(set(ids)) == matching(20)


def test_login_with_an_app_password_searches_on_the_pds(clock, logged_in, caplog):
    with BlueskyStub(posts=5) as stub, caplog.at_level(logging.DEBUG):
        run = drain(connector(clock))
    login, search = stub.requests[0], stub.requests[1]
    assert login["url"] == "https://bsky.social/xrpc/com.atproto.server.createSession"
    assert search["url"].startswith("https://bsky.social/xrpc/app.bsky.feed.searchPosts")
    assert search["headers"]["authorization"].startswith("Bearer ")
    assert len(run.mentions) == matching(5)
    assert PASSWORD not in caplog.text


def test_a_wrong_app_password_is_fatal(clock, logged_in, monkeypatch):
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "wrong")
    with BlueskyStub(posts=1), pytest.raises(FatalSourceError, match="app password"):
        drain(connector(clock))


def test_anonymous_search_refused_names_the_credentials(clock):
    with BlueskyStub(posts=1) as stub:
        stub.forced.add(403, {"error": "Forbidden", "message": "search requires auth"})
        with pytest.raises(FatalSourceError, match="BLUESKY_HANDLE"):
            drain(connector(clock))


def test_429_waits_for_ratelimit_reset(clock):
    with BlueskyStub(posts=5) as stub:
        stub.forced.add(
            429,
            {"error": "RateLimitExceeded", "message": "slow down"},
            {"ratelimit-reset": str(int(NOW) + 45), "ratelimit-remaining": "0"},
        )
        run = drain(connector(clock))
    assert clock.sleeps == [46.0] and len(run.mentions) == matching(5)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried(clock, status):
    with BlueskyStub(posts=5) as stub:
        stub.forced.add(status, {"error": "InternalServerError", "message": "oops"}, times=2)
        run = drain(connector(clock))
    assert len(clock.sleeps) == 2 and len(run.mentions) == matching(5)


def test_credentials_are_optional_but_come_in_pairs(monkeypatch):
    c = BlueskyConnector(Brand(name="acme", query="acme"))
    assert c.missing_credentials() == []
    monkeypatch.setenv("BLUESKY_HANDLE", "someone.bsky.social")
    assert [m.split()[0] for m in c.missing_credentials()] == ["BLUESKY_APP_PASSWORD"]
