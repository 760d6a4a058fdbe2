"""What the API connectors share: credentials, retries, the sweep cursor and loop, HTML, log redaction."""

import logging
import os
import sys
from datetime import UTC, datetime

import pytest

from brandpulse.core.config import Brand
from listeners import credentials
from listeners.api_connector import ApiConnector, html_to_text, redact_tokens
from listeners.base import RetriableSourceError
from listeners.credentials import Secret, connection_json, missing, resolve
from listeners.loop import Page, Plan, Post, Stream
from listeners.retry import RateLimited, Transient
from listeners.sweep import Sweep
from tests.fixtures.common import NOW, FakeClock, drain

SECRET = Secret("BRANDPULSE_TEST_TOKEN", "brandpulse_test", "password")


# --- credentials ---------------------------------------------------------------


def test_environment_first(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    monkeypatch.setenv("BRANDPULSE_TEST_TOKEN", "from-env")
    value = resolve(SECRET)
    assert value.get_secret_value() == "from-env"
    assert "from-env" not in repr(value) and "from-env" not in str(value)


def test_missing_names_the_variable_and_the_connection(monkeypatch):
    monkeypatch.setattr(credentials, "airflow_configured", lambda: False)
    monkeypatch.delenv("BRANDPULSE_TEST_TOKEN", raising=False)
    assert resolve(SECRET) is None
    assert missing((SECRET,)) == ["BRANDPULSE_TEST_TOKEN (or Airflow Connection 'brandpulse_test' password)"]
    assert missing((Secret("OPTIONAL_ONE", "c", required=False),)) == []


def test_airflow_is_not_imported_when_not_configured(monkeypatch):
    for name in list(os.environ):
        if name == "AIRFLOW_HOME" or name.startswith("AIRFLOW_CONN_"):
            monkeypatch.delenv(name)
    monkeypatch.delitem(sys.modules, "airflow", raising=False)  # as in a process that never imported it
    assert credentials.airflow_configured() is False


def test_falls_back_to_an_airflow_connection(monkeypatch, tmp_path):
    monkeypatch.delenv("BRANDPULSE_TEST_TOKEN", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv(
        "AIRFLOW_CONN_BRANDPULSE_TEST",
        connection_json(login="bot", password="from-airflow", extra='{"region": "eu"}'),
    )
    assert credentials.airflow_configured()
    assert resolve(SECRET).get_secret_value() == "from-airflow"
    assert resolve(Secret("X_LOGIN", "brandpulse_test", "login")).get_secret_value() == "bot"
    assert resolve(Secret("X_REGION", "brandpulse_test", "extra.region")).get_secret_value() == "eu"
    assert resolve(Secret("X_NONE", "brandpulse_absent", "password")) is None


# --- retries -------------------------------------------------------------------


class Boom(Exception):
    pass


def flaky(failures: list[BaseException], result="ok"):
    calls = []

    def fn():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def test_rate_limits_wait_for_the_reset_and_transients_back_off():
    clock = FakeClock()
    verdicts = {"rate": RateLimited(clock.now + 10), "5xx": Transient()}
    fn, calls = flaky([Boom("rate"), Boom("5xx"), Boom("5xx")])
    policy = clock.policy(backoff_s=1, backoff_max_s=4)
    assert policy.call(fn, lambda e: verdicts.get(str(e)), "test") == "ok"
    assert len(calls) == 4
    assert clock.sleeps[0] == 11.0 and all(0 <= s <= 4 for s in clock.sleeps[1:])


def test_other_errors_are_not_retried():
    clock = FakeClock()
    fn, calls = flaky([Boom("fatal")])
    with pytest.raises(Boom):
        clock.policy().call(fn, lambda e: None, "test")
    assert len(calls) == 1 and clock.sleeps == []


def test_giving_up_is_a_retriable_source_error():
    clock = FakeClock()
    fn, calls = flaky([Boom("5xx")] * 10)
    with pytest.raises(RetriableSourceError, match="still failing after 3 attempts"):
        clock.policy(attempts=3).call(fn, lambda e: Transient(), "test")
    assert len(calls) == 3


# --- the sweep cursor ------------------------------------------------------------


def test_sweep_yields_each_item_once_across_interruptions():
    items = [(100, "a"), (100, "b"), (90, "c"), (80, "d"), (80, "e"), (70, "f")]  # newest first
    sweep = Sweep()
    sweep.start(floor=0)
    taken = []
    for key, item in items[:3]:  # run 1 stops after three
        assert sweep.pending(key, item)
        sweep.took(key, item)
        taken.append(item)
    resumed = Sweep.from_json(sweep.to_json())
    resumed.start(floor=999)  # a later run: the stored floor is kept
    assert resumed.floor == 0 and resumed.low.key == 90
    for key, item in items:
        if resumed.pending(key, item):
            resumed.took(key, item)
            taken.append(item)
    resumed.finish()
    assert taken == ["a", "b", "c", "d", "e", "f"]
    assert resumed.high.key == 100 and resumed.high.ids == {"a", "b"}
    assert (
        not resumed.pending(100, "a")
        and resumed.pending(100, "late-same-second")
        and resumed.pending(101, "g")
    )
    assert resumed.to_json() == {"high": {"key": "100", "ids": ["a", "b"]}}


# --- text and logs -----------------------------------------------------------------


def test_html_to_text_keeps_paragraphs_breaks_and_full_links():
    html = (
        '<p>Hi &amp; bye <a href="https://x.example/long"><span class="invisible">https://</span>'
        '<span class="ellipsis">x.example/lo</span><span class="invisible">ng</span></a></p>'
        "<p>line<br>two 😀</p>first<p>HN style &#x27;quoted&#x27;"
    )
    assert html_to_text(html) == "Hi & bye https://x.example/long\n\nline\ntwo 😀first\n\nHN style 'quoted'"
    assert html_to_text(None) == "" and html_to_text("") == ""


def test_tokens_in_library_logs_are_masked(caplog):
    redact_tokens("some.client")
    redact_tokens("some.client")  # idempotent
    log = logging.getLogger("some.client")
    with caplog.at_level(logging.DEBUG, logger="some.client"):
        log.debug("Headers: %s", {"Authorization": "Bearer abc.DEF-123", "Accept": "json"})
        log.debug("Authorization: Bearer xyz")
    assert "abc.DEF-123" not in caplog.text and "xyz" not in caplog.text
    assert "'Accept': 'json'" in caplog.text
    assert len(log.filters) == 1


# --- the shared sweep loop (listeners/loop.py) ----------------------------------------


class Listing(ApiConnector):
    """A connector over an in-memory listing: pages of {"k", "id", "text"} items,
    in the order the "platform" lists them. Not registered."""

    name = "listing"

    def __init__(self, pages: list[list[dict]], clock: FakeClock) -> None:
        super().__init__(Brand(name="acme", query="acme"), retry=clock.policy())
        self.pages = pages

    def plan(self, cursor, since):
        def fetch(sweep, token):
            n = token or 0
            return Page(self.pages[n], next=n + 1 if n + 1 < len(self.pages) else None)

        def to_post(item):
            if item["text"] == "boom":
                raise ValueError("the mapping broke on this one")
            created = datetime.fromtimestamp(item["k"], UTC)
            return Post(item, native_id=item["id"], text=item["text"], created_at=created)

        stream = Stream(
            path=("listing", "all"),
            fetch=fetch,
            key=lambda item: item["k"],
            item_id=lambda item: item["id"],
            to_post=to_post,
        )
        return Plan([stream])


def _item(k: int, text: str = "acme") -> dict:
    return {"k": int(NOW) - 1000 + k, "id": f"i{k}", "text": f"{text} {k}" if text != "boom" else text}


def test_an_item_whose_mapping_raises_is_a_reject_and_the_page_goes_on():
    c = Listing([[_item(9), _item(8, "boom"), _item(7)]], FakeClock())
    run = drain(c)
    assert [m.native_id for m in run.mentions] == ["i9", "i7"]
    (reject,) = run.rejects
    assert reject.reason.startswith("cannot map post: ValueError") and '"boom"' in reject.raw
    assert not run.cursor["listing"]["all"].get("in_progress")  # the sweep finished


def test_items_out_of_newest_first_order_are_indexed_by_every_connector():
    late = _item(8)  # newer than page 1's oldest item, listed on page 2
    c = Listing([[_item(9), _item(7), _item(6)], [late, _item(5)]], FakeClock())
    run = drain(c)
    assert sorted(m.native_id for m in run.mentions) == ["i5", "i6", "i7", "i8", "i9"]
    assert c.stats["out of order (indexed)"] == 1
    again = drain(Listing(c.pages, FakeClock()), cursor=run.cursor)
    assert again.mentions == []  # the finished sweep covers the late item too


def test_error_classes_are_defined_once():
    from brandpulse.core import errors
    from listeners import base

    assert base.FatalSourceError is errors.FatalSourceError
    assert base.RetriableSourceError is errors.RetriableSourceError
    assert base.NothingToRead is errors.NothingToRead
    for cls in (errors.FatalSourceError, errors.RetriableSourceError, errors.NothingToRead):
        assert issubclass(cls, errors.SourceError)
