"""Mastodon connector through Mastodon.py against a `responses` stub of instances' REST APIs."""

import copy
import logging

import pytest

from brandpulse.core.config import Brand
from listeners import credentials
from listeners.base import FatalSourceError
from listeners.mastodon_source import MastodonConnector, MastodonOptions
from tests.fixtures.common import NOW, FakeClock, drain, iso_z, matches_acme, matching, payload
from tests.fixtures.mastodon_api import MastodonStub

TOKEN = "SCRUBBED-mastodon-token"


@pytest.fixture(autouse=True)
def no_airflow(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    monkeypatch.delenv("MASTODON_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("MASTODON_API_BASE_URL", raising=False)


@pytest.fixture
def logged_in(monkeypatch):
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("MASTODON_API_BASE_URL", "https://mastodon.social")


@pytest.fixture
def clock():
    return FakeClock()


def connector(clock, query="acme", **options):
    return MastodonConnector(Brand(name="acme", query=query), options, retry=clock.policy())


def test_documented_status_html_becomes_plain_text(clock):
    with MastodonStub() as stub:
        stub.statuses["mastodon.social"] = payload("mastodon", "tag_timeline")
        run = drain(connector(clock, query="#acme @acmehelp"))
    (m,) = run.mentions
    assert m.text == (
        "Le nouveau widget #Acme est génial & pas cher 🎉\n\n"
        "Test complet : https://blog.example/acme-widget-test-complet\nmerci @acmehelp"
    )
    assert m.matched_terms == ["#acme", "@acmehelp"]
    assert m.native_id == "https://social.example/users/camille/statuses/116550162186240003"
    assert m.url == "https://social.example/@camille/116550162186240003"
    assert m.author.handle == "camille@social.example" and m.author.display_name == "Camille ✨"
    assert m.author.followers == 321 and m.lang_hint == "fr"
    assert (m.engagement.likes, m.engagement.reposts, m.engagement.replies) == (9, 1, 2)
    assert m.thread.instance == "mastodon.social"
    assert stub.requests[0]["params"]["limit"] == "40"


def test_tag_timeline_pages_down_with_max_id(clock):
    with MastodonStub(posts=100) as stub:
        run = drain(connector(clock))
    assert len(stub.requests) == 3  # 40 + 40 + 20 (a short page ends the sweep)
    assert "max_id" not in stub.requests[0]["params"]
    assert [int(r["params"]["max_id"]) for r in stub.requests[1:]] == sorted(
        [int(s["id"]) for s in stub.statuses["mastodon.social"]], reverse=True
    )[39:80:40]
    want = {s["uri"] for s in stub.statuses["mastodon.social"] if matches_acme(s["content"][3:])}
    ids = [m.native_id for m in run.mentions]
    assert len(ids) == len(set(ids)) and set(ids) == want


def test_restart_resumes_and_a_later_run_asks_only_for_newer_ids(clock):
    with MastodonStub(posts=100) as stub:
        first = drain(connector(clock), batches=1)
        rest = drain(connector(clock), cursor=first.cursor)
        ids = [m.native_id for m in first.mentions + rest.mentions]
        assert len(ids) == len(set(ids)) and len(ids) == matching(100)
        newest = max(int(s["id"]) for s in stub.statuses["mastodon.social"])
        stub.add("mastodon.social", "acme on fire 🔥", at=NOW + 30, tags=["acme"])
        later = drain(connector(clock), cursor=rest.cursor)
    assert [m.text for m in later.mentions] == ["acme on fire 🔥"]
    assert int(stub.requests[-1]["params"]["since_id"]) == newest


def test_boosts_and_copies_on_other_instances_are_one_post(clock, logged_in):
    with MastodonStub() as stub:
        original = stub.add("mastodon.social", "acme boosted post", at=NOW - 100, tags=["acme"])
        stub.boost("mastodon.social", original, at=NOW - 50)
        copy_elsewhere = copy.deepcopy(original)
        copy_elsewhere["id"] = "999"  # another instance, another local id, same URI
        stub.statuses["fosstodon.org"] = [copy_elsewhere]
        run = drain(connector(clock, instances=["mastodon.social", "https://fosstodon.org/"]))
    assert [m.native_id for m in run.mentions] == [original["uri"]]
    assert run.mentions[0].text == "acme boosted post"


def test_the_token_only_goes_to_its_own_instance_and_enables_search(clock, logged_in):
    with MastodonStub(posts=3) as stub:
        stub.statuses["fosstodon.org"] = []
        drain(connector(clock, instances=["mastodon.social", "fosstodon.org"]))
    home = [r for r in stub.requests if r["host"] == "mastodon.social"]
    other = [r for r in stub.requests if r["host"] == "fosstodon.org"]
    assert all(r["headers"].get("Authorization") == f"Bearer {TOKEN}" for r in home)
    assert other and all("Authorization" not in r["headers"] for r in other)
    assert {r["kind"] for r in home} == {"tag", "search"} and {r["kind"] for r in other} == {"tag"}


def test_429_waits_for_x_ratelimit_reset_relative_to_the_server_date(clock):
    with MastodonStub(posts=10) as stub:
        stub.forced.add(
            429,
            {"error": "Too many requests"},
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": iso_z(NOW + 30)},
        )
        run = drain(connector(clock))
    assert clock.sleeps == [31.0]
    assert len(run.mentions) == matching(10)


def test_5xx_is_retried_with_backoff(clock):
    with MastodonStub(posts=10) as stub:
        stub.forced.add(502, {"error": "Bad Gateway"}, times=2)
        run = drain(connector(clock))
    assert len(clock.sleeps) == 2 and len(run.mentions) == matching(10)


def test_a_refused_timeline_is_skipped_and_the_others_go_on(clock, caplog):
    with MastodonStub(posts=10) as stub:
        stub.forced.add(404, {"error": "Record not found"})
        with caplog.at_level(logging.WARNING):
            run = drain(connector(clock, hashtags=["gone", "acme"]))
    assert "not found (404)" in caplog.text
    assert len(run.mentions) == matching(10)


def test_every_timeline_refused_is_fatal(clock):
    with MastodonStub(posts=3) as stub:
        stub.forced.add(404, {"error": "Record not found"})
        with pytest.raises(FatalSourceError, match="every timeline failed"):
            drain(connector(clock))


def test_a_rejected_token_is_fatal(clock, logged_in):
    with MastodonStub(posts=3) as stub:
        stub.forced.add(401, {"error": "The access token is invalid"})
        with pytest.raises(FatalSourceError, match="rejected MASTODON_ACCESS_TOKEN"):
            drain(connector(clock))


def test_media_only_posts_are_rejected_not_dropped(clock):
    with MastodonStub() as stub:
        stub.add("mastodon.social", "", at=NOW - 10, tags=["acme"], content="")
        run = drain(connector(clock))
    (reject,) = run.rejects
    assert "empty text" in reject.reason and reject.location.startswith("https://mastodon.social/@camille/")


def test_credentials_are_optional_but_must_come_in_pairs(monkeypatch):
    c = MastodonConnector(Brand(name="acme", query="acme"))
    assert c.missing_credentials() == []
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", TOKEN)
    assert [m.split()[0] for m in c.missing_credentials()] == ["MASTODON_API_BASE_URL"]


def test_options_normalise_instances_and_hashtags():
    options = MastodonOptions.model_validate(
        {"instances": ["https://Fosstodon.org/about"], "hashtags": ["#Acme"]}
    )
    assert options.instances == ["fosstodon.org"] and options.hashtags == ["Acme"]
