"""Analyst search / export / stats against the real node, with enriched mentions
generated here (expected results are computed from the generated data)."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import helpers
from typer.testing import CliRunner

from brandpulse.analyst.search import (
    CSV_COLUMNS,
    AnalystError,
    MentionFilter,
    build_query,
    count_matches,
    export_mentions,
    flatten,
    mention_stats,
    parse_duration,
    pick_interval,
    resolve_window,
    sparkline,
    write_csv,
    write_jsonl,
)
from brandpulse.cli.analyst import app
from brandpulse.core.mention import Mention

START = datetime(2026, 11, 10, tzinfo=UTC)
TOPICS = ("delivery", "pricing", "app", "taste")
WORDS = {"delivery": "parcel late", "pricing": "price hike", "app": "login crash", "taste": "bitter roast"}


def enriched_mentions(n: int = 240, seed: int = 11) -> list[Mention]:
    """Deterministic mentions over three days with sentiment and topics."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        brand = "northwind" if i % 3 else "acme"
        topic = TOPICS[i % len(TOPICS)]
        label = ("negative", "neutral", "positive")[rng.randrange(3)]
        text = f"{brand} {WORDS[topic]} post{i}"
        if i == 5:
            text = '=HYPERLINK("http://evil.example") northwind parcel late'
        out.append(
            Mention(
                platform=("x", "reddit", "mastodon")[i % 3 if i % 5 else 1],
                native_id=f"n{i:05d}",
                url=f"https://example.org/p/{i}",
                created_at=START + timedelta(minutes=17 * i),
                brands=[brand],
                text=text,
                lang="en",
                author={"id": f"u{i % 17}", "handle": f"user{i % 17}", "followers": i * 10},
                engagement={"likes": (i * 7) % 50, "reposts": i % 5, "replies": i % 3},
                sentiment={
                    "label": label,
                    "score": 0.9,
                    "probabilities": {"negative": 0.1, "neutral": 0.1, "positive": 0.8},
                    "model": "test",
                    "model_version": "1",
                },
                topics=[{"id": f"t-{topic}", "label": topic, "keywords": WORDS[topic].split()}],
            )
        )
    return out


def index_mentions(es, names, mentions: list[Mention]) -> None:
    helpers.bulk(
        es,
        ({"_index": names.mentions_write, "_id": m.id, "_source": m.to_document()} for m in mentions),
        refresh=True,
    )


@pytest.fixture
def indexed(ready, settings) -> list[Mention]:
    mentions = enriched_mentions()
    index_mentions(ready, settings.indices, mentions)
    return mentions


def _ids(docs) -> list[str]:
    return [d["id"] for d in docs]


def _expected(mentions, pred) -> list[str]:
    return [m.id for m in sorted(mentions, key=lambda m: m.created_at, reverse=True) if pred(m)]


# --- pure ---------------------------------------------------------------------------------


def test_durations_and_windows() -> None:
    assert parse_duration("24h") == timedelta(hours=24)
    assert parse_duration("2w") == timedelta(days=14)
    for bad in ("", "7", "0d", "3y", "-1d"):
        with pytest.raises(AnalystError):
            parse_duration(bad)
    at = datetime(2026, 11, 13, tzinfo=UTC)
    assert resolve_window("1d", None, None, at) == (at - timedelta(days=1), at)
    assert resolve_window("1d", None, START, at) == (START - timedelta(days=1), START)
    with pytest.raises(AnalystError):
        resolve_window("1d", START, None, at)
    with pytest.raises(AnalystError):
        resolve_window(None, at, START, at)


def test_query_is_limited_to_text_fields_and_term_filters() -> None:
    query = build_query("refund OR delay", MentionFilter(brand="acme", sentiment="negative"))
    either = query["bool"]["must"][0]["bool"]["should"]  # OR as a word: the brand query grammar
    assert [m["multi_match"]["query"] for m in either] == ["refund", "delay"]
    for match in either:
        assert match["multi_match"]["fields"] == [
            "text",
            "author.handle",
            "author.display_name",
            "matched_terms",
        ]
    text = json.dumps(query)
    assert "query_string" not in text and "index" not in text and "fuzz" not in text
    assert build_query("refund | delay", MentionFilter()) == build_query("refund OR delay", MentionFilter())
    with pytest.raises(AnalystError, match="closing parenthesis"):
        build_query("refund OR (delay", MentionFilter())
    assert {"term": {"brands": "acme"}} in query["bool"]["filter"]
    with pytest.raises(AnalystError):
        MentionFilter(sentiment="angry")


def test_sparkline_scales_to_the_maximum() -> None:
    assert sparkline([0, 0]) == "▁▁"
    line = sparkline([0, 1, 2, 4, 8])
    assert line[0] == "▁" and line[-1] == "█"
    assert list(line) == sorted(line)
    assert sparkline([]) == ""


def test_pick_interval_bounds_bucket_count() -> None:
    week = (START, START + timedelta(days=7))
    name, step = pick_interval(*week, max_buckets=60)
    assert (week[1] - week[0]) / step <= 60 and name == "3h"


# --- against Elasticsearch -----------------------------------------------------------------


@pytest.mark.integration
def test_search_combines_free_text_and_filters(ready, settings, indexed) -> None:
    names = settings.indices
    cases = [
        ("parcel late", MentionFilter(), lambda m: "parcel late" in m.text),
        (
            '"price hike"',
            MentionFilter(brand="acme"),
            lambda m: "price hike" in m.text and m.brands == ["acme"],
        ),
        (
            "",
            MentionFilter(sentiment="negative", platform="reddit"),
            lambda m: m.sentiment.label == "negative" and m.platform == "reddit",
        ),
        ("", MentionFilter(topic="app"), lambda m: m.topics[0].label == "app"),
        ("", MentionFilter(topic="t-taste"), lambda m: m.topics[0].id == "t-taste"),
        ("login -crash", MentionFilter(), lambda m: False),
        ("post1*", MentionFilter(), lambda m: m.text.split()[-1].startswith("post1")),
        # issue 12: AND / OR / NOT as words, the brand query grammar (and | + - still work)
        ("parcel OR crash", MentionFilter(), lambda m: "parcel" in m.text or "crash" in m.text),
        ("parcel | crash", MentionFilter(), lambda m: "parcel" in m.text or "crash" in m.text),
        (
            "acme AND (parcel OR price)",
            MentionFilter(),
            lambda m: m.text.startswith("acme") and ("parcel" in m.text or "price" in m.text),
        ),
        ("acme NOT parcel", MentionFilter(), lambda m: m.text.startswith("acme") and "parcel" not in m.text),
        ("+acme -parcel", MentionFilter(), lambda m: m.text.startswith("acme") and "parcel" not in m.text),
        ("-parcel", MentionFilter(brand="acme"), lambda m: m.brands == ["acme"] and "parcel" not in m.text),
        (
            '"login crash" OR "bitter roast"',
            MentionFilter(),
            lambda m: "login" in m.text or "bitter" in m.text,
        ),
    ]
    for text, filters, pred in cases:
        got = _ids(export_mentions(ready, names, build_query(text, filters)))
        assert got == _expected(indexed, pred), (text, filters)
    window = MentionFilter(start=START + timedelta(hours=10), end=START + timedelta(hours=20))
    got = _ids(export_mentions(ready, names, build_query(None, window)))
    assert got == _expected(indexed, lambda m: window.start <= m.created_at < window.end)
    assert got


@pytest.mark.integration
def test_search_cannot_use_field_syntax_or_reach_other_indices(ready, settings, indexed) -> None:
    names = settings.indices
    ready.index(
        index=names.quarantine,
        document={"source": "file", "reason": "parcel late secret", "raw": "parcel late"},
        refresh=True,
    )
    for text in ("platform:reddit", "_index:" + names.quarantine, "reason:secret", "secret"):
        assert count_matches(ready, names, build_query(text, MentionFilter())) == 0, text
    hits = list(export_mentions(ready, names, build_query("parcel late", MentionFilter())))
    assert hits and all("reason" not in h for h in hits)


@pytest.mark.integration
def test_export_pages_with_pit_and_search_after(ready, settings, indexed) -> None:
    names = settings.indices
    pages: list[int] = []
    docs = list(
        export_mentions(ready, names, build_query(None, MentionFilter()), page_size=37, on_page=pages.append)
    )
    assert _ids(docs) == _expected(indexed, lambda m: True)
    assert len(set(_ids(docs))) == len(indexed) and sum(pages) == len(indexed) and len(pages) > 5
    limited = list(export_mentions(ready, names, build_query(None, MentionFilter()), limit=50, page_size=20))
    assert _ids(limited) == _ids(docs)[:50]


@pytest.mark.integration
def test_csv_and_jsonl_writers(ready, settings, indexed) -> None:
    docs = list(export_mentions(ready, settings.indices, build_query("northwind", MentionFilter())))
    buf = io.StringIO()
    assert write_csv(docs, buf) == len(docs)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == len(docs)
    by_id = {r["id"]: r for r in rows}
    formula = next(m.id for m in indexed if m.text.startswith("="))
    assert by_id[formula]["text"].startswith("'=HYPERLINK")  # formula neutralised
    raw = io.StringIO()
    write_csv(docs, raw, safe=False)
    assert '"=HYPERLINK(""http://evil.example"")' in raw.getvalue()
    sample = flatten(docs[0])
    assert by_id[sample["id"]]["likes"] == str(sample["likes"]) and sample["topics"]
    lines = io.StringIO()
    write_jsonl(docs, lines)
    assert [json.loads(line)["id"] for line in lines.getvalue().splitlines()] == _ids(docs)


@pytest.mark.integration
def test_stats_match_the_generated_data(ready, settings, indexed) -> None:
    brand, start, end = "northwind", START, START + timedelta(days=2)
    stats = mention_stats(ready, settings.indices, brand, start, end)
    mine = [m for m in indexed if brand in m.brands and start <= m.created_at < end]
    assert stats.total == len(mine)
    for label in ("negative", "neutral", "positive"):
        assert stats.sentiment[label] == sum(m.sentiment.label == label for m in mine)
    assert stats.sentiment["unscored"] == 0
    assert sum(stats.negative) == stats.sentiment["negative"] and sum(stats.volume) == stats.total
    assert stats.buckets[0] <= start and stats.buckets[-1] < end
    steps = {b - a for a, b in zip(stats.buckets, stats.buckets[1:], strict=False)}
    assert len(steps) == 1  # contiguous, empty buckets included
    top = stats.topics[0]
    assert top.mentions == sum(m.topics[0].label == top.label for m in mine)
    assert top.negative == sum(
        m.topics[0].label == top.label and m.sentiment.label == "negative" for m in mine
    )


@pytest.mark.integration
def test_cli_search_export_and_stats_are_deterministic_with_at(ready, settings, indexed, tmp_path) -> None:
    at = (START + timedelta(days=1)).isoformat()
    out = tmp_path / "neg.csv"
    run = CliRunner().invoke(
        app,
        [
            "search",
            "",
            "--sentiment",
            "negative",
            "--since",
            "24h",
            "--at",
            at,
            "--format",
            "csv",
            "--out",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    expected = _expected(
        indexed,
        lambda m: m.sentiment.label == "negative" and START <= m.created_at < START + timedelta(days=1),
    )
    assert [r["id"] for r in rows] == expected
    run = CliRunner().invoke(app, ["stats", "--brand", "acme", "--since", "1d", "--at", at])
    assert run.exit_code == 0, run.output
    acme = [m for m in indexed if m.brands == ["acme"] and m.created_at < START + timedelta(days=1)]
    assert f"mentions  {len(acme):,}" in run.output
    assert any(ch in run.output for ch in "▂▃▄▅▆▇█")
    run = CliRunner().invoke(app, ["search", "x", "--since", "1d", "--from", at])
    assert run.exit_code == 2
