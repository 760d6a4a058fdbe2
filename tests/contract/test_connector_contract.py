"""The listener contract, checked for every registered connector.

Each connector runs through its real client library against its HTTP stub
(or, for `file`, a real file). A connector in the registry without a contract
fixture below fails, so new connectors cannot skip the suite."""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from brandpulse.core.config import Brand
from brandpulse.core.mention import Mention
from listeners import credentials
from listeners.base import Batch, Connector, ConnectorOptions, Reject
from listeners.registry import registry
from tests.fixtures.appstore_api import AppStoreStub
from tests.fixtures.bluesky_api import BlueskyStub
from tests.fixtures.common import NOW, FakeClock, drain, iso_z, text_for
from tests.fixtures.googleplay_api import GooglePlayStub
from tests.fixtures.hackernews_api import HackerNewsStub
from tests.fixtures.mastodon_api import MastodonStub
from tests.fixtures.reddit_api import RedditStub
from tests.fixtures.x_api import XStub

REPO = Path(__file__).resolve().parents[2]
POSTS = 45


class FileStub:
    """A JSONL export on disk: the `file` connector's "platform"."""

    def __init__(self, directory: Path, posts: int) -> None:
        self.path = directory / "mentions.jsonl"
        self.count = 0
        self.path.write_text("", encoding="utf-8")
        for i in range(posts):
            self.add(text_for(i), NOW - 3600 + 10 * i)

    def add(self, text: str, at: float) -> None:
        self.count += 1
        row = {"native_id": f"f{self.count}", "platform": "file", "created_at": iso_z(at), "text": text}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def __enter__(self) -> FileStub:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass
class Fixture:
    """How to run one connector against its stub."""

    module: str
    library: str | None  # client library that must not load at import time
    stub: Callable[[Path], Any]
    add: Callable[[Any, str, float], None]
    options: Callable[[Any], dict[str, Any]] = lambda stub: {}
    env: dict[str, str] = field(default_factory=dict)
    rechecks: bool = True  # re-applies the brand query (API connectors; reviews are read per app)
    clocked: bool = True  # takes a retry policy (the tests' clock): every API connector


FIXTURES: dict[str, Fixture] = {
    "x": Fixture(
        "listeners.x_source",
        "tweepy",
        stub=lambda tmp: XStub(posts=POSTS),
        add=lambda s, text, at: s.add(text, at),
        options=lambda s: {"page_size": 10},
        env={"X_BEARER_TOKEN": "SCRUBBED"},
    ),
    "reddit": Fixture(
        "listeners.reddit_source",
        "praw",
        stub=lambda tmp: RedditStub(posts=POSTS, comments=5),
        add=lambda s, text, at: s.add_post(text, at),
        options=lambda s: {
            "user_agent": "test:brandpulse:0.1 (by /u/test)",
            "subreddits": ["gadgets"],
            "page_size": 10,
        },
        env={"REDDIT_CLIENT_ID": "SCRUBBED", "REDDIT_CLIENT_SECRET": "SCRUBBED"},
    ),
    "mastodon": Fixture(
        "listeners.mastodon_source",
        "mastodon",
        stub=lambda tmp: MastodonStub(posts=POSTS),
        add=lambda s, text, at: s.add("mastodon.social", text, at, tags=["acme"]),
        options=lambda s: {"page_size": 10},
    ),
    "bluesky": Fixture(
        "listeners.bluesky_source",
        "atproto",
        stub=lambda tmp: BlueskyStub(posts=POSTS),
        add=lambda s, text, at: s.add(text, at),
        options=lambda s: {"page_size": 10},
    ),
    "hackernews": Fixture(
        "listeners.hackernews_source",
        "requests",
        stub=lambda tmp: HackerNewsStub(posts=POSTS),
        add=lambda s, text, at: s.add_story(text, at),
        options=lambda s: {"page_size": 10},
    ),
    "file": Fixture(
        "listeners.file_source",
        None,
        stub=lambda tmp: FileStub(tmp, POSTS),
        add=lambda s, text, at: s.add(text, at),
        options=lambda s: {"path": str(s.path), "batch_size": 10},
        rechecks=False,
        clocked=False,
    ),
    "appstore": Fixture(
        "listeners.appstore_source",
        "requests",
        stub=lambda tmp: AppStoreStub(posts=POSTS, page_size=10),
        add=lambda s, text, at: s.add(text, at),
        options=lambda s: {"app_ids": ["1234567890"]},
        rechecks=False,
    ),
    "googleplay": Fixture(
        "listeners.googleplay_source",
        "requests",
        stub=lambda tmp: GooglePlayStub(posts=POSTS),
        add=lambda s, text, at: s.add(text, at),
        options=lambda s: {"app_ids": ["com.northwind.coffee"], "page_size": 10},
        rechecks=False,
    ),
}
NAMES = sorted(set(registry.names()) | set(FIXTURES))


@pytest.fixture(autouse=True)
def isolated_credentials(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    for fixture in FIXTURES.values():
        for name in fixture.env:
            monkeypatch.delenv(name, raising=False)


def fixture_for(name: str) -> Fixture:
    if name not in FIXTURES:
        pytest.fail(f"connector {name!r} is registered but has no contract fixture in {__file__}")
    return FIXTURES[name]


def connector_class(name: str) -> type[Connector]:
    if name not in registry:
        __import__(fixture_for(name).module)  # registers itself on import
    return registry.get(name)


@contextlib.contextmanager
def running(name: str, tmp_path: Path, monkeypatch) -> Iterator[tuple[Any, Callable[..., Connector]]]:
    fixture = fixture_for(name)
    for key, value in fixture.env.items():
        monkeypatch.setenv(key, value)
    cls = connector_class(name)
    clock = FakeClock()
    with fixture.stub(tmp_path) as stub:

        def make() -> Connector:
            kwargs = {"retry": clock.policy()} if fixture.clocked else {}
            return cls(Brand(name="acme", query="acme"), fixture.options(stub), **kwargs)

        yield stub, make


@functools.cache
def fresh_interpreter() -> dict[str, list[str]]:
    """In a new process: the registry's names before any connector is imported, and
    which client libraries are loaded once every connector module is imported."""
    libraries = sorted({f.library for f in FIXTURES.values() if f.library})
    modules = sorted(f.module for f in FIXTURES.values())
    script = f"""
import importlib, json, sys
from listeners.registry import registry
import brandpulse.core.config
builtins = registry.names()
for module in {modules!r}:
    importlib.import_module(module)
print(json.dumps({{"builtins": builtins, "loaded": [m for m in {libraries!r} if m in sys.modules]}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    return json.loads(done.stdout)


def test_importing_connectors_loads_no_client_library():
    """DAG parsing and config validation import connector modules: no client library may load."""
    assert fresh_interpreter()["loaded"] == []


def test_every_connector_is_a_registry_builtin():
    builtins = fresh_interpreter()["builtins"]
    missing = sorted(set(FIXTURES) - set(builtins))
    assert not missing, f"add to _BUILTINS in listeners/registry.py: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_class_shape(name):
    cls = connector_class(name)
    assert cls.name == name
    assert issubclass(cls.Options, ConnectorOptions)
    assert isinstance(cls.credentials, tuple) and all(isinstance(c, str) for c in cls.credentials)


@pytest.mark.parametrize("name", NAMES)
def test_missing_credentials_are_named_and_clear_once_set(name, monkeypatch, tmp_path):
    fixture = fixture_for(name)
    cls = connector_class(name)
    options = fixture.options(fixture.stub(tmp_path))  # built, not entered: no HTTP here
    connector = cls(Brand(name="acme", query="acme"), options)
    missing = connector.missing_credentials()
    assert all(any(env in m for m in missing) for env in cls.credentials)
    for key, value in fixture.env.items():
        monkeypatch.setenv(key, value)
    assert connector.missing_credentials() == []


@pytest.mark.parametrize("name", NAMES)
def test_fetch_yields_valid_batches_and_cursors(name, tmp_path, monkeypatch):
    with running(name, tmp_path, monkeypatch) as (stub, make):
        run = drain(make())
        assert run.batches and all(isinstance(b, Batch) for b in run.batches)
        assert run.mentions and all(isinstance(m, Mention) for m in run.mentions)
        assert all(isinstance(r, Reject) and r.reason for r in run.rejects)
        ids = [m.id for m in run.mentions]
        assert len(ids) == len(set(ids))
        assert {m.platform for m in run.mentions} == {name}
        assert all(m.brands == ["acme"] and m.created_at.tzinfo is not None for m in run.mentions)
        if fixture_for(name).rechecks:
            assert all(m.matched_terms == ["acme"] for m in run.mentions)
            assert all("acmewidgets.com" not in m.text for m in run.mentions)  # the local re-check
        for batch in run.batches:
            assert json.loads(json.dumps(batch.cursor)) == batch.cursor  # storable as JSON

        again = drain(make(), cursor=run.cursor)
        assert again.mentions == []  # nothing new: nothing yielded twice

        fixture_for(name).add(stub, "acme, one more time 🎉", NOW + 60)
        newer = drain(make(), cursor=run.cursor)
        assert [m.text for m in newer.mentions] == ["acme, one more time 🎉"]


@pytest.mark.parametrize("name", NAMES)
def test_a_restart_after_any_batch_loses_and_repeats_nothing(name, tmp_path, monkeypatch):
    with running(name, tmp_path, monkeypatch) as (_stub, make):
        full = drain(make())
        reference = {m.id for m in full.mentions}
        assert len(full.batches) >= 3  # small pages: several boundaries to restart from
        for k in range(1, len(full.batches)):
            before = drain(make(), batches=k)
            after = drain(make(), cursor=before.cursor)
            seen_before = {m.id for m in before.mentions}
            seen_after = [m.id for m in after.mentions]
            assert not seen_before & set(seen_after), f"repeated after a restart at batch {k}"
            assert seen_before | set(seen_after) == reference, f"lost after a restart at batch {k}"


@pytest.mark.parametrize("name", NAMES)
def test_options_reject_unknown_fields(name):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        connector_class(name).Options.model_validate({"no_such_option": 1})
    assert "extra_forbidden" in {e["type"] for e in info.value.errors()}
