"""The ingest runner end to end: file source → Elasticsearch, cursors, quarantine."""

import json

import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import Elasticsearch

from brandpulse.core.config import BrandsConfig
from brandpulse.pipeline.ingest import run_ingest
from indexing.cursors import CursorStore
from indexing.queries import count_mentions, quarantine_count

pytestmark = pytest.mark.integration


def config_for(path, batch_size=100):
    return BrandsConfig.model_validate(
        {
            "brands": [
                {
                    "name": "acme",
                    "query": "acme",
                    "sources": {"file": {"path": str(path), "batch_size": batch_size}},
                },
            ]
        }
    )


def rows(n, start=0):
    return [
        json.dumps(
            {
                "native_id": str(i),
                "platform": "x",
                "created_at": "2026-11-02T10:00:00Z",
                "text": f"acme post {i}",
            }
        )
        for i in range(start, start + n)
    ]


def test_ingest_writes_moves_cursor_and_is_idempotent(ready, settings, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(rows(250)) + "\n")
    config = config_for(path)
    summary = run_ingest(config, "acme", "file", client=ready, settings=settings)
    assert (summary.status, summary.fetched, summary.created, summary.batches) == ("ok", 250, 250, 3)
    assert CursorStore(ready, settings.indices).get("acme", "file")["rows"] == 250
    again = run_ingest(config, "acme", "file", client=ready, settings=settings)
    assert again.fetched == 0
    replay = run_ingest(config, "acme", "file", client=ready, settings=settings, reset_cursor=True)
    assert replay.fetched == 250 and replay.created == 0
    assert count_mentions(ready, settings.indices, "acme") == 250


def test_bad_input_is_quarantined_with_line_numbers(ready, settings, tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [*rows(3), "{oops", json.dumps({"native_id": "9", "text": "acme"}), *rows(2, start=10)]
    path.write_text("\n".join(lines) + "\n")
    summary = run_ingest(config_for(path), "acme", "file", client=ready, settings=settings)
    assert summary.status == "partial" and summary.created == 5 and summary.quarantined == 2
    assert quarantine_count(ready, settings.indices, "acme") == 2
    found = ready.search(index=settings.indices.quarantine, sort=[{"line": "asc"}])["hits"]["hits"]
    assert [(h["_source"]["line"], h["_source"]["stage"]) for h in found] == [(4, "parse"), (5, "parse")]
    assert "malformed JSON" in found[0]["_source"]["reason"]
    assert "created_at" in found[1]["_source"]["reason"]


def test_cursor_does_not_move_when_elasticsearch_fails(ready, settings, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(rows(10)) + "\n")
    config = config_for(path)
    run_ingest(config, "acme", "file", client=ready, settings=settings)
    with path.open("a") as handle:
        handle.write("\n".join(rows(5, start=100)) + "\n")
    dead = Elasticsearch("http://127.0.0.1:9", max_retries=0, request_timeout=2)
    store = CursorStore(ready, settings.indices)
    before = store.get("acme", "file")
    with pytest.raises(TransportConnectionError):
        run_ingest(config, "acme", "file", client=dead, settings=settings)
    assert store.get("acme", "file") == before
    after = run_ingest(config, "acme", "file", client=ready, settings=settings)
    assert after.created == 5
    assert count_mentions(ready, settings.indices) == 15


def test_missing_credentials_skip_with_a_message(ready, settings, tmp_path, monkeypatch):
    from listeners.file_source import FileConnector

    monkeypatch.setattr(FileConnector, "credentials", ("BRANDPULSE_TEST_NO_SUCH_TOKEN",))
    summary = run_ingest(config_for(tmp_path / "x.jsonl"), "acme", "file", client=ready, settings=settings)
    assert summary.status == "skipped" and "BRANDPULSE_TEST_NO_SUCH_TOKEN" in summary.message


def test_brand_languages_keep_unknown_and_listed_languages_only(ready, settings, tmp_path):
    path = tmp_path / "in.jsonl"
    langs = ["en", "de", None, "ja", "en-GB"]
    path.write_text(
        "".join(
            json.dumps(
                {
                    "native_id": str(i),
                    "created_at": "2026-11-02T10:00:00Z",
                    "text": f"acme {i}",
                    **({"lang_hint": lang} if lang else {}),
                }
            )
            + "\n"
            for i, lang in enumerate(langs)
        )
    )
    config = BrandsConfig.model_validate(
        {
            "brands": [
                {
                    "name": "acme",
                    "query": "acme",
                    "languages": ["en", "de"],
                    "sources": {"file": {"path": str(path)}},
                }
            ]
        }
    )
    summary = run_ingest(config, "acme", "file", client=ready, settings=settings)
    assert summary.created == 4 and summary.other_language == 1
