"""Analyst queries over the mention index: search, export and summary stats.

Pure functions over an Elasticsearch client; the CLI (`brandpulse.cli.analyst`)
adds formatting and progress. Safety of free-text search: the user's text goes
only into a `simple_query_string` over a fixed list of text fields (no field
syntax, no regex, no scripts), every other option is a term filter, and the
index is always the mentions read alias, so a query cannot reach other indices.
Times are passed in (`at`), never read from the clock here.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from elasticsearch import Elasticsearch

from brandpulse.core.query import (
    And,
    Hashtag,
    Lang,
    Mention,
    Node,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Term,
    parse_query,
)
from brandpulse.core.settings import IndexNames
from indexing.pit import pit_pages

#: the fields free text is matched against
SEARCH_FIELDS = ("text", "author.handle", "author.display_name", "matched_terms")
MAX_QUERY_CHARS = 1000
SENTIMENTS = ("negative", "neutral", "positive")
SOURCE_FIELDS = (
    "id",
    "created_at",
    "platform",
    "brands",
    "lang",
    "sentiment.label",
    "sentiment.score",
    "topics.label",
    "author.handle",
    "author.followers",
    "engagement",
    "url",
    "text",
)
CSV_COLUMNS = (
    "id",
    "created_at",
    "platform",
    "brands",
    "lang",
    "sentiment",
    "sentiment_score",
    "topics",
    "author",
    "followers",
    "likes",
    "reposts",
    "replies",
    "url",
    "text",
)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class AnalystError(ValueError):
    """Bad user input (a time, a duration, a filter value)."""


# --- times -------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """`90m`, `24h`, `7d`, `2w` -> timedelta."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise AnalystError(f"not a duration: {text!r} (use e.g. 30m, 24h, 7d, 2w)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; naive values are UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AnalystError(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-12T09:00Z)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve_window(
    since: str | None, start: datetime | None, end: datetime | None, at: datetime
) -> tuple[datetime | None, datetime | None]:
    """`--since D` means [end - D, end) with end = `--to` or `at`; else `--from/--to` as given."""
    if since and start:
        raise AnalystError("use either --since or --from, not both")
    if since:
        stop = end or at
        return stop - parse_duration(since), stop
    if start and end and start >= end:
        raise AnalystError("--from must be before --to")
    return start, end


# --- queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MentionFilter:
    """Exact filters (term queries) and a half-open time window [start, end)."""

    brand: str | None = None
    sentiment: str | None = None
    platform: str | None = None
    topic: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.sentiment is not None and self.sentiment not in SENTIMENTS:
            raise AnalystError(f"sentiment must be one of {', '.join(SENTIMENTS)} (got {self.sentiment!r})")

    def clauses(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.brand:
            out.append({"term": {"brands": self.brand}})
        if self.sentiment:
            out.append({"term": {"sentiment.label": self.sentiment}})
        if self.platform:
            out.append({"term": {"platform": self.platform}})
        if self.topic:
            out.append(
                {
                    "bool": {
                        "should": [
                            {"term": {"topics.label": self.topic}},
                            {"term": {"topics.id": self.topic}},
                        ],
                        "minimum_should_match": 1,
                    }
                }
            )
        if self.start or self.end:
            window: dict[str, str] = {}
            if self.start:
                window["gte"] = self.start.isoformat()
            if self.end:
                window["lt"] = self.end.isoformat()
            out.append({"range": {"created_at": window}})
        return out


_SYMBOLS = re.compile(r'"[^"]*"|(?<![^\s(])\+(?=[^\s)])|\|')


def _words_for_symbols(text: str) -> str:
    """`a | b` and `+a` (the symbolic forms the help also promises) as OR / AND,
    outside phrases; everything else is the brand query language."""
    return _SYMBOLS.sub(
        lambda m: m.group() if m.group().startswith('"') else (" OR " if m.group() == "|" else ""), text
    )


def _match(text: str, kind: str) -> dict[str, Any]:
    return {"multi_match": {"query": text, "type": kind, "fields": list(SEARCH_FIELDS), "lenient": True}}


def _es_node(node: Node) -> dict[str, Any]:
    """One node of a parsed query as Elasticsearch DSL: atoms are phrase (or
    phrase-prefix) matches over the fixed text fields, never a query string."""
    if isinstance(node, Term):
        if node.text.endswith("*") and node.text.rstrip("*"):
            # every completion (a phrase_prefix would stop at 50): only the prefix
            # operator is on, so nothing else in the term is query syntax
            return {
                "simple_query_string": {
                    "query": node.text.rstrip("*") + "*",
                    "fields": list(SEARCH_FIELDS),
                    "default_operator": "and",
                    "flags": "PREFIX|WHITESPACE",
                    "lenient": True,
                }
            }
        return _match(node.text, "phrase")
    if isinstance(node, Phrase):
        return _match(node.text, "phrase")
    if isinstance(node, Hashtag):
        return _match(f"#{node.tag}", "phrase")
    if isinstance(node, Mention):
        return _match(f"@{node.handle}", "phrase")
    if isinstance(node, Lang):
        code = node.code.split("-")[0]
        return {"term": {"lang": code}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [_es_node(node.child)]}}
    if isinstance(node, And):
        must = [_es_node(c) for c in node.children if not isinstance(c, Not)]
        must_not = [_es_node(c.child) for c in node.children if isinstance(c, Not)]
        return {"bool": {"must": must or [{"match_all": {}}], "must_not": must_not}}
    if isinstance(node, Or):
        return {"bool": {"should": [_es_node(c) for c in node.children], "minimum_should_match": 1}}
    raise TypeError(f"not a query node: {node!r}")


def build_query(text: str | None, filters: MentionFilter) -> dict[str, Any]:
    """A bool query: the free text in the brand query language (the same parser:
    terms, "phrases", AND/OR/NOT, parentheses, -exclusion, prefix*, lang:xx; also
    `|` and `+`), filters as terms."""
    must: list[dict[str, Any]] = []
    if text and text.strip() and text.strip() != "*":
        if len(text) > MAX_QUERY_CHARS:
            raise AnalystError(f"query longer than {MAX_QUERY_CHARS} characters")
        try:
            parsed = parse_query(_words_for_symbols(text), require_positive=False)
        except QuerySyntaxError as exc:
            raise AnalystError(f"search {exc}") from None
        must.append(_es_node(parsed.root))
    return {"bool": {"must": must or [{"match_all": {}}], "filter": filters.clauses()}}


def count_matches(client: Elasticsearch, names: IndexNames, query: dict[str, Any]) -> int:
    return client.count(index=names.mentions, query=query, ignore_unavailable=True)["count"]


def export_mentions(
    client: Elasticsearch,
    names: IndexNames,
    query: dict[str, Any],
    limit: int | None = None,
    page_size: int = 5000,
    keep_alive: str = "2m",
    on_page: Callable[[int], None] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Matching mentions, newest first, through a point in time + `search_after`
    (consistent across pages, no result-window limit). Yields `_source` dicts.
    Close the generator (or exhaust it) to release the point in time."""
    pages = pit_pages(
        client,
        names.mentions,
        query,
        sort=[{"created_at": "desc"}],
        source_includes=list(SOURCE_FIELDS),
        page_size=page_size,
        keep_alive=keep_alive,
        limit=limit,
        track_total_hits=False,
        filter_path=["pit_id", "hits.hits._source", "hits.hits.sort"],
    )
    try:
        for hits in pages:
            for hit in hits:
                yield hit["_source"]
            if on_page is not None:
                on_page(len(hits))
    finally:
        pages.close()  # closes the point in time now, also when the consumer failed


# --- rows and writers ----------------------------------------------------------------------


def flatten(doc: dict[str, Any]) -> dict[str, Any]:
    """One mention as a flat row with the CSV columns."""
    sentiment = doc.get("sentiment") or {}
    author = doc.get("author") or {}
    engagement = doc.get("engagement") or {}
    topics = doc.get("topics") or []
    if isinstance(topics, dict):
        topics = [topics]
    return {
        "id": doc.get("id"),
        "created_at": doc.get("created_at"),
        "platform": doc.get("platform"),
        "brands": "|".join(doc.get("brands") or []),
        "lang": doc.get("lang"),
        "sentiment": sentiment.get("label"),
        "sentiment_score": sentiment.get("score"),
        "topics": "|".join(t.get("label", "") for t in topics),
        "author": author.get("handle"),
        "followers": author.get("followers"),
        "likes": engagement.get("likes"),
        "reposts": engagement.get("reposts"),
        "replies": engagement.get("replies"),
        "url": doc.get("url"),
        "text": doc.get("text"),
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_SURROGATES = re.compile("[\ud800-\udfff]")
#: C0/C1 controls (ESC starts ANSI/OSC sequences), DEL, and the bidi overrides and
#: isolates that reorder what a terminal shows; \n and \t are handled by callers
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(value: str) -> str:
    """`value` encodable as UTF-8: lone surrogates (invalid in UTF-8, e.g. half an
    emoji cut by a platform) become U+FFFD. Everything else is kept."""
    return _SURROGATES.sub("\ufffd", value) if _SURROGATES.search(value) else value


def clean(value: Any) -> Any:
    """`clean_text` over every string in a JSON-like value (keys too)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def terminal_text(value: Any) -> str:
    """User text made literal for a terminal: control characters (ANSI/OSC escape
    sequences, carriage returns, bidi overrides) shown as `\\xNN`/`\\uNNNN`,
    surrogates replaced. Print it with markup off (or as `rich.text.Text`)."""
    text = clean_text("" if value is None else str(value))
    return _TERMINAL_UNSAFE.sub(lambda m: ascii(m.group())[1:-1], text)


def neutralise_formula(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with `'` (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(docs: Iterable[dict[str, Any]], out: TextIO, safe: bool = True) -> int:
    """Header + one row per mention; returns the number of rows.

    Any cell holding a line break (`\n` or a bare `\r`, which spreadsheets also
    take as a new record) is quoted, so a text can never start a record of its own
    (and with it a formula); strings are made valid UTF-8 (`clean_text`)."""
    writer = csv.writer(out, lineterminator="\n")
    # csv quotes a cell for \n but not for a bare \r (not in the line terminator):
    # rows holding one are written with every cell quoted
    quoting_all = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    n = 0
    for doc in docs:
        row = flatten(doc)
        cells = []
        for c in CSV_COLUMNS:
            value = clean_text(row[c]) if isinstance(row[c], str) else row[c]
            cells.append(neutralise_formula(value) if safe else value)
        has_cr = any(isinstance(v, str) and "\r" in v for v in cells)
        (quoting_all if has_cr else writer).writerow(cells)
        n += 1
    return n


def write_jsonl(docs: Iterable[dict[str, Any]], out: TextIO) -> int:
    n = 0
    for doc in docs:
        out.write(json.dumps(clean(doc), ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n


# --- stats ---------------------------------------------------------------------------------

_INTERVALS = (
    ("1m", timedelta(minutes=1)),
    ("5m", timedelta(minutes=5)),
    ("15m", timedelta(minutes=15)),
    ("30m", timedelta(minutes=30)),
    ("1h", timedelta(hours=1)),
    ("3h", timedelta(hours=3)),
    ("6h", timedelta(hours=6)),
    ("12h", timedelta(hours=12)),
    ("1d", timedelta(days=1)),
    ("7d", timedelta(days=7)),
)


def pick_interval(start: datetime, end: datetime, max_buckets: int = 60) -> tuple[str, timedelta]:
    """The finest fixed interval giving at most `max_buckets` buckets over [start, end)."""
    span = end - start
    for name, step in _INTERVALS:
        if span / step <= max_buckets:
            return name, step
    return _INTERVALS[-1]


@dataclass
class TopicStat:
    label: str
    mentions: int
    negative: int


@dataclass
class Stats:
    """Summary of one brand's mentions over [start, end)."""

    brand: str
    start: datetime
    end: datetime
    interval: str
    total: int
    sentiment: dict[str, int]  # negative/neutral/positive/unscored
    platforms: dict[str, int]
    languages: dict[str, int]
    topics: list[TopicStat]
    buckets: list[datetime] = field(default_factory=list)
    volume: list[int] = field(default_factory=list)
    negative: list[int] = field(default_factory=list)

    def share(self, label: str) -> float:
        scored = sum(v for k, v in self.sentiment.items() if k in SENTIMENTS)
        return self.sentiment.get(label, 0) / scored if scored else 0.0


def _bucket_key(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)


def mention_stats(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    start: datetime,
    end: datetime,
    max_buckets: int = 60,
    top_topics: int = 10,
) -> Stats:
    """Volume, sentiment split, platforms, languages, top topics (with their negative
    count) and per-bucket volume / negative volume, in one search."""
    interval, _ = pick_interval(start, end, max_buckets)
    filters = MentionFilter(brand=brand, start=start, end=end)
    negative = {"term": {"sentiment.label": "negative"}}
    bounds = {"min": int(start.timestamp() * 1000), "max": int(end.timestamp() * 1000) - 1}
    client.indices.refresh(index=names.mentions, ignore_unavailable=True, allow_no_indices=True)
    result = client.search(
        index=names.mentions,
        size=0,
        track_total_hits=True,
        query={"bool": {"filter": filters.clauses()}},
        aggs={
            "sentiment": {"terms": {"field": "sentiment.label", "size": 3}},
            "unscored": {"missing": {"field": "sentiment.label"}},
            "platforms": {"terms": {"field": "platform", "size": 20}},
            "languages": {"terms": {"field": "lang", "size": 20}},
            "topics": {
                "terms": {"field": "topics.label", "size": top_topics},
                "aggs": {"negative": {"filter": negative}},
            },
            "timeline": {
                "date_histogram": {
                    "field": "created_at",
                    "fixed_interval": interval,
                    "min_doc_count": 0,
                    "extended_bounds": bounds,  # the query bounds the data; no hard_bounds
                },
                "aggs": {"negative": {"filter": negative}},
            },
        },
        ignore_unavailable=True,
    )
    aggs = result.get("aggregations", {})

    def buckets(name: str) -> dict[str, int]:
        return {b["key"]: b["doc_count"] for b in aggs.get(name, {}).get("buckets", [])}

    sentiment = {label: buckets("sentiment").get(label, 0) for label in SENTIMENTS}
    sentiment["unscored"] = aggs.get("unscored", {}).get("doc_count", 0)
    timeline = aggs.get("timeline", {}).get("buckets", [])
    return Stats(
        brand=brand,
        start=start,
        end=end,
        interval=interval,
        total=result["hits"]["total"]["value"],
        sentiment=sentiment,
        platforms=buckets("platforms"),
        languages=buckets("languages"),
        topics=[
            TopicStat(b["key"], b["doc_count"], b["negative"]["doc_count"])
            for b in aggs.get("topics", {}).get("buckets", [])
        ],
        buckets=[_bucket_key(b["key"]) for b in timeline],
        volume=[b["doc_count"] for b in timeline],
        negative=[b["negative"]["doc_count"] for b in timeline],
    )


def newest_mention(client: Elasticsearch, names: IndexNames, brand: str | None = None) -> datetime | None:
    """When the newest indexed mention (of `brand`) was posted; None when there is none."""
    filters = MentionFilter(brand=brand).clauses()
    result = client.search(
        index=names.mentions,
        size=0,
        query={"bool": {"filter": filters}},
        aggs={"newest": {"max": {"field": "created_at"}}},
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    value = (result.get("aggregations") or {}).get("newest", {}).get("value")
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[int]) -> str:
    """A one-line bar chart; zero is the lowest bar, the maximum the highest."""
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, round(v / top * (len(SPARK) - 1)))] for v in values)
