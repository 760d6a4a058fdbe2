"""A run that stops at a read budget (`max_pages`, `max_items`, `max_reads_per_run`)
leaves its sweep in progress: the next runs resume below it, and across the
budget-limited runs no post is skipped or repeated."""

from __future__ import annotations

import time

import pytest

from brandpulse.core.config import Brand
from listeners import credentials
from listeners.bluesky_source import BlueskyConnector
from listeners.hackernews_source import HackerNewsConnector
from listeners.mastodon_source import MastodonConnector
from listeners.reddit_source import RedditConnector
from listeners.x_source import XConnector
from tests.fixtures.bluesky_api import BlueskyStub
from tests.fixtures.common import FakeClock, drain, matching
from tests.fixtures.hackernews_api import HackerNewsStub
from tests.fixtures.mastodon_api import MastodonStub
from tests.fixtures.reddit_api import RedditStub
from tests.fixtures.x_api import XStub

POSTS = 95

CASES = {
    "x": (lambda: XStub(posts=POSTS), XConnector, {"page_size": 10, "max_reads_per_run": 30}),
    "reddit": (
        lambda: RedditStub(posts=POSTS),
        RedditConnector,
        {
            "user_agent": "linux:brandpulse-tests:0.1",
            "subreddits": ["gadgets"],
            "comments": False,
            "page_size": 10,
            "max_items": 30,
        },
    ),
    "mastodon": (lambda: MastodonStub(posts=POSTS), MastodonConnector, {"page_size": 10, "max_pages": 3}),
    "bluesky": (lambda: BlueskyStub(posts=POSTS), BlueskyConnector, {"page_size": 10, "max_pages": 3}),
    "hackernews": (
        lambda: HackerNewsStub(posts=POSTS),
        HackerNewsConnector,
        {"page_size": 10, "max_pages": 3},
    ),
}


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    monkeypatch.setenv("X_BEARER_TOKEN", "SCRUBBED-x-bearer-token")
    monkeypatch.setenv("REDDIT_CLIENT_ID", "SCRUBBED-client-id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "SCRUBBED-client-secret")
    for name in ("MASTODON_ACCESS_TOKEN", "MASTODON_API_BASE_URL", "BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(time, "sleep", lambda s: None)


def _in_progress(cursor) -> bool:
    def walk(value):
        if isinstance(value, dict):
            if value.get("in_progress"):
                return True
            return any(walk(v) for v in value.values())
        return False

    return walk(cursor)


@pytest.mark.parametrize("platform", list(CASES))
def test_budget_limited_runs_skip_nothing(platform: str) -> None:
    make_stub, cls, options = CASES[platform]
    clock = FakeClock()
    cursor, runs = None, []
    with make_stub():
        for _ in range(12):
            run = drain(cls(Brand(name="acme", query="acme"), options, retry=clock.policy()), cursor=cursor)
            runs.append(run)
            cursor = run.cursor
            if not _in_progress(cursor):
                break
    assert len(runs) >= 3, "the budget should have stopped the first runs"
    assert _in_progress(runs[0].cursor) and _in_progress(runs[1].cursor)
    assert not _in_progress(cursor)
    ids = [m.native_id for r in runs for m in r.mentions]
    assert len(ids) == len(set(ids)) == matching(POSTS)
