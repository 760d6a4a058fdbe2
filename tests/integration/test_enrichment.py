"""The enrich step against the real node (the model is a stand-in function:
the models themselves are tested in tests/unit/test_sentiment*.py)."""

import pytest

from brandpulse.core.mention import Mention
from brandpulse.pipeline.enrich import count_pending, enrich_mentions, pending_query
from indexing.writer import write_mentions

pytestmark = pytest.mark.integration


def fake_enrich(texts, hints):
    if any(t == "boom" for t in texts):
        raise RuntimeError("model crashed")
    return [
        {
            "lang": h or "en",
            "sentiment": {
                "label": "negative" if "bad" in t else "positive",
                "score": 0.9,
                "probabilities": {"negative": 0.05, "neutral": 0.05, "positive": 0.9},
                "model": "fake",
                "model_version": "1",
            },
        }
        for t, h in zip(texts, hints, strict=True)
    ]


def seed(es, names, n=30):
    mentions = [
        Mention(
            platform="x",
            native_id=str(i),
            created_at="2026-11-02T10:00:00Z",
            text="bad acme" if i % 3 == 0 else ("boom" if i == 7 else f"acme {i}"),
            lang_hint="de" if i % 2 else None,
            brands=["acme"],
        )
        for i in range(n)
    ]
    write_mentions(es, names, mentions, refresh=True)
    return mentions


def test_enrich_updates_in_place_records_failures_and_is_idempotent(ready, settings):
    names = settings.indices
    seed(ready, names)
    first = enrich_mentions(ready, names, fake_enrich, "v1", brand="acme", batch_size=8)
    assert (first.selected, first.enriched, first.failed) == (30, 29, 1)
    assert ready.count(index=names.mentions)["count"] == 30  # nothing added, nothing lost
    doc = ready.get(index=names.mentions_write, id="x:3")["_source"]
    assert doc["sentiment"]["label"] == "negative" and doc["lang"] == "de"
    assert doc["enrichment"]["status"] == "done" and doc["enrichment"]["version"] == "v1"
    assert doc["text"] == "bad acme"
    failed = ready.get(index=names.mentions_write, id="x:7")["_source"]["enrichment"]
    assert failed["status"] == "failed" and "model crashed" in failed["error"]

    again = enrich_mentions(ready, names, fake_enrich, "v1", brand="acme")
    assert again.selected == 1 and again.failed == 1  # only the failed one is retried

    assert count_pending(ready, names, pending_query("v2", "acme", False)) == 30
    upgraded = enrich_mentions(ready, names, fake_enrich, "v2", brand="acme", batch_size=100)
    assert upgraded.selected == 30 and upgraded.enriched == 29
    assert ready.count(index=names.mentions)["count"] == 30


def test_mentions_written_just_before_are_selected(ready, settings):
    names = settings.indices
    ready.indices.put_settings(index=names.mentions, settings={"index.refresh_interval": "-1"})
    write_mentions(
        ready,
        names,
        [
            Mention(
                platform="x",
                native_id="fresh",
                created_at="2026-11-02T10:00:00Z",
                text="acme fresh",
                brands=["acme"],
            )
        ],
    )
    assert enrich_mentions(ready, names, fake_enrich, "v1", brand="acme").enriched == 1


def test_enrich_reports_progress_with_counts_rate_and_time_left(ready, settings, monkeypatch, caplog):
    """Issue 12.1: a long enrichment says how far it is (every N seconds and at the end)."""
    import logging

    monkeypatch.setenv("BRANDPULSE_PROGRESS_SECONDS", "0")  # a line per batch
    names = settings.indices
    seed(ready, names, n=30)
    with caplog.at_level(logging.INFO, logger="brandpulse.progress"):
        enrich_mentions(ready, names, fake_enrich, "v1", brand="acme", batch_size=8)
    lines = [r.getMessage() for r in caplog.records if r.name == "brandpulse.progress"]
    assert lines[0].startswith("progress: enrich acme: 8/30 mentions (27%), ")
    assert "/s, about " in lines[0] and lines[0].endswith(" left")
    assert lines[-1].startswith("progress: enrich acme: 30/30 mentions (100%), ")
    assert "done in" in lines[-1]


def test_repeated_texts_across_pages_run_once_and_a_bad_one_still_stops_nobody(ready, settings):
    """Each distinct input runs once per enrich run (nlp.enrich.EnrichMemo); a page whose
    model call fails is still retried mention by mention, the memo serving the rest."""
    from nlp.enrich import EnrichMemo, enrich_texts
    from nlp.results import SentimentResult

    class Recording:
        name, version = "recording", "1"

        def __init__(self):
            self.ran: list[str] = []

        def predict(self, texts):
            if "boom" in texts:
                raise RuntimeError("model crashed")
            self.ran.extend(texts)
            return [
                SentimentResult(
                    "negative" if "bad" in t else "positive", 0.9, {"negative": 0.1, "positive": 0.9}
                )
                for t in texts
            ]

    names = settings.indices
    seed(ready, names, n=30)  # "bad acme" 10 times, "boom" once, 19 distinct others
    model, memo = Recording(), EnrichMemo()
    summary = enrich_mentions(
        ready,
        names,
        lambda texts, hints: enrich_texts(texts, hints, model=model, memo=memo),
        "memo-v1",
        brand="acme",
        batch_size=8,
    )
    assert (summary.selected, summary.enriched, summary.failed) == (30, 29, 1)
    docs = ready.search(index=names.mentions, query={"match_phrase": {"text": "bad acme"}}, size=20)["hits"][
        "hits"
    ]
    assert len(docs) == 10
    assert {d["_source"]["sentiment"]["label"] for d in docs} == {"negative"}
    # ten "bad acme" (half with a "de" hint) run once per language they were given
    bad_langs = {d["_source"]["lang"] for d in docs}
    assert model.ran.count("bad acme") == len(bad_langs)
    assert len(model.ran) == 19 + len(bad_langs) and len(set(model.ran)) == 20
    assert memo.hits == 10 - len(bad_langs)
    assert all(d["_source"]["enrichment"]["status"] == "done" for d in docs)
    failed = ready.get(index=names.mentions_write, id="x:7")["_source"]["enrichment"]
    assert failed["status"] == "failed" and "model crashed" in failed["error"]
