"""Every error a connector's client library raises leaves the connector as one
of the two classes of listeners/base.py: FatalSourceError (retrying cannot help)
or RetriableSourceError (the task may retry later).

One test per class of failure per connector, each driven through the real
client library (tweepy, praw/prawcore, Mastodon.py, atproto/httpx, requests)
by an HTTP-level stub: a 401, a 429 whose reset is too far away, a persistent
500, a 400 with an HTML body (a proxy's page, not the API's JSON) and a
connection error."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests

from brandpulse.core.config import Brand
from listeners import credentials
from listeners.appstore_source import AppStoreConnector
from listeners.base import FatalSourceError, RetriableSourceError
from listeners.bluesky_source import BlueskyConnector
from listeners.googleplay_source import GooglePlayConnector
from listeners.hackernews_source import HackerNewsConnector
from listeners.mastodon_source import MastodonConnector
from listeners.reddit_source import RedditConnector
from listeners.x_source import XConnector
from tests.fixtures.appstore_api import AppStoreStub
from tests.fixtures.bluesky_api import BlueskyStub
from tests.fixtures.common import NOW, FakeClock, Html, drain, iso_z, payload
from tests.fixtures.googleplay_api import GooglePlayStub
from tests.fixtures.hackernews_api import HackerNewsStub
from tests.fixtures.mastodon_api import MastodonStub
from tests.fixtures.reddit_api import RedditStub
from tests.fixtures.x_api import XStub

FAR = int(NOW) + 86_400  # a rate-limit reset a day away: more than max_rate_limit_wait_s
MANY = 60  # enough forced failures to outlast every retry (ours and the library's)
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    monkeypatch.setenv("X_BEARER_TOKEN", "SCRUBBED-x-bearer-token")
    monkeypatch.setenv("REDDIT_CLIENT_ID", "SCRUBBED-client-id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "SCRUBBED-client-secret")
    for name in ("MASTODON_ACCESS_TOKEN", "MASTODON_API_BASE_URL", "BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # prawcore's own backoff: never sleep for real


@dataclass
class Platform:
    stub: Callable[[], Any]
    connector: Callable[[FakeClock], Any]
    #: failure name -> forces it on the stub
    force: dict[str, Callable[[Any], None]]


def _brand() -> Brand:
    return Brand(name="acme", query="acme")


def _reddit_401(stub: RedditStub) -> None:
    stub.token_forced.add(401, {"message": "Unauthorized", "error": 401})


PLATFORMS: dict[str, Platform] = {
    "x": Platform(
        stub=lambda: XStub(posts=5),
        connector=lambda clock: XConnector(_brand(), {}, retry=clock.policy()),
        force={
            "401": lambda s: s.forced.add(401, payload("x", "errors")["401"]),
            "429": lambda s: s.forced.add(
                429, payload("x", "errors")["429"], {"x-rate-limit-reset": str(FAR)}
            ),
            "500": lambda s: s.forced.add(500, payload("x", "errors")["503"], times=MANY),
            "html400": lambda s: s.forced.add(400, Html()),
            "connection": lambda s: s.forced.add(
                0, requests.ConnectionError("connection refused"), times=MANY
            ),
        },
    ),
    "reddit": Platform(
        stub=lambda: RedditStub(posts=5),
        connector=lambda clock: RedditConnector(
            _brand(),
            {"user_agent": "linux:brandpulse-tests:0.1", "subreddits": ["gadgets"]},
            retry=clock.policy(),
        ),
        force={
            "401": _reddit_401,
            "429": lambda s: s.forced.add(
                429, {"message": "Too Many Requests"}, {"x-ratelimit-reset": "86400"}
            ),
            "500": lambda s: s.forced.add(500, {"message": "Internal Server Error"}, times=MANY),
            "html400": lambda s: s.forced.add(400, Html()),
            "connection": lambda s: s.forced.add(
                0, requests.ConnectionError("connection refused"), times=MANY
            ),
        },
    ),
    "mastodon": Platform(
        stub=lambda: MastodonStub(),
        connector=lambda clock: MastodonConnector(
            _brand(), {"instances": ["mastodon.social"]}, retry=clock.policy()
        ),
        force={
            "401": lambda s: s.forced.add(401, {"error": "This API requires an authenticated user"}),
            "429": lambda s: s.forced.add(
                429, {"error": "Too many requests"}, {"X-RateLimit-Reset": iso_z(FAR)}
            ),
            "500": lambda s: s.forced.add(500, {"error": "Internal server error"}, times=MANY),
            "html400": lambda s: s.forced.add(400, Html()),
            "connection": lambda s: s.forced.add(
                0, requests.ConnectionError("connection refused"), times=MANY
            ),
        },
    ),
    "bluesky": Platform(
        stub=lambda: BlueskyStub(posts=5),
        connector=lambda clock: BlueskyConnector(_brand(), {}, retry=clock.policy()),
        force={
            "401": lambda s: s.forced.add(
                401, {"error": "AuthMissing", "message": "Authentication Required"}
            ),
            "429": lambda s: s.forced.add(
                429,
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                {"ratelimit-reset": str(FAR)},
            ),
            "500": lambda s: s.forced.add(500, {"error": "InternalServerError", "message": "x"}, times=MANY),
            "html400": lambda s: s.forced.add(400, Html()),
            "connection": lambda s: s.forced.add(0, httpx.ConnectError("connection refused"), times=MANY),
        },
    ),
    "hackernews": Platform(
        stub=lambda: HackerNewsStub(posts=5),
        connector=lambda clock: HackerNewsConnector(_brand(), {}, retry=clock.policy()),
        force={
            "401": lambda s: s.forced.add(
                401, {"message": "Invalid Application-ID or API key", "status": 401}
            ),
            "429": lambda s: s.forced.add(
                429, {"message": "Too many requests", "status": 429}, {"Retry-After": "86400"}
            ),
            "500": lambda s: s.forced.add(500, {"message": "Internal error", "status": 500}, times=MANY),
            "html400": lambda s: s.forced.add(400, Html()),
            "connection": lambda s: s.forced.add(
                0, requests.ConnectionError("connection refused"), times=MANY
            ),
        },
    ),
    # the review feeds have no credentials: a 401/403 is an access refusal (fatal all the same)
    "appstore": Platform(
        stub=lambda: AppStoreStub(posts=5),
        connector=lambda clock: AppStoreConnector(
            _brand(), {"app_ids": ["1234567890"]}, retry=clock.policy()
        ),
        force={
            "401": lambda s: s.forced.add(403, {"errorMessage": "Forbidden"}),
            "429": lambda s: s.forced.add(429, {}, {"Retry-After": "86400"}),
            "500": lambda s: s.forced.add(500, {}, times=MANY),
            "html400": lambda s: s.forced.add(400, Html()),
            "connection": lambda s: s.forced.add(
                0, requests.ConnectionError("connection refused"), times=MANY
            ),
        },
    ),
    "googleplay": Platform(
        stub=lambda: GooglePlayStub(posts=5),
        connector=lambda clock: GooglePlayConnector(
            _brand(), {"app_ids": ["com.northwind.coffee"]}, retry=clock.policy()
        ),
        force={
            "401": lambda s: s.forced.add(401, {"error": "unauthorized"}),
            "429": lambda s: s.forced.add(429, {}, {"Retry-After": "86400"}),
            "500": lambda s: s.forced.add(500, {}, times=MANY),
            "html400": lambda s: s.forced.add(400, Html()),
            "connection": lambda s: s.forced.add(
                0, requests.ConnectionError("connection refused"), times=MANY
            ),
        },
    ),
}

#: a persistent 502 from a proxy, with its HTML page, must not end up in the message
for _spec in PLATFORMS.values():
    _spec.force["html502"] = lambda s: s.forced.add(502, Html(HTML_502), times=MANY)

EXPECTED: dict[str, type[Exception]] = {
    "401": FatalSourceError,  # credentials / access: fix the configuration
    "429": RetriableSourceError,  # reset too far away: Airflow retries later
    "500": RetriableSourceError,  # still failing after the backoff
    "html400": FatalSourceError,  # a bad request stays bad, whatever the body looks like
    "connection": RetriableSourceError,  # the network may come back
    "html502": RetriableSourceError,
}


@pytest.mark.parametrize("failure", list(EXPECTED))
@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_library_errors_map_to_the_connector_error_classes(platform: str, failure: str) -> None:
    spec = PLATFORMS[platform]
    clock = FakeClock()
    with spec.stub() as stub:
        spec.force[failure](stub)
        with pytest.raises((FatalSourceError, RetriableSourceError)) as raised:
            drain(spec.connector(clock))
    assert type(raised.value) is EXPECTED[failure], f"{platform} {failure}: {raised.value!r}"
    message = str(raised.value)
    assert "<html" not in message.lower() and "SCRUBBED" not in message  # no page, no secret
    assert len(message) < 800


def test_every_connector_has_one_mapping_place() -> None:
    for cls in (XConnector, RedditConnector, MastodonConnector, BlueskyConnector, HackerNewsConnector):
        assert "map_error" in cls.__dict__, cls.__name__
    for cls in (AppStoreConnector, GooglePlayConnector):  # one shared mapping (listeners/review_source.py)
        assert "map_error" not in cls.__dict__ and "map_error" in cls.__mro__[1].__dict__, cls.__name__
