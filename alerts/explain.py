"""What an alert e-mail says beyond the numbers: which topics and terms grew,
and which negative posts to answer first. Everything comes from Elasticsearch
aggregations over the alert window against the brand's previous week."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from elasticsearch import Elasticsearch

from alerts.email_render import Growth, NegativeEmotion, Post, ReviewsFollowing
from alerts.series import LOW_STARS, NEGATIVE, RATED_REVIEW, SOCIAL
from brandpulse.core.settings import IndexNames
from brandpulse.core.stopwords import STOPWORDS
from brandpulse.core.timeutil import as_utc

BASELINE = timedelta(days=7)


def _window(brand: str, start: datetime, end: datetime, *extra: dict) -> dict:
    """The brand's social mentions in [start, end) (reviews have their own e-mails)."""
    return {
        "bool": {
            "filter": [
                {"term": {"brands": brand}},
                {"range": {"created_at": {"gte": start.isoformat(), "lt": end.isoformat()}}},
                SOCIAL,
                *extra,
            ]
        }
    }


def top_negative_posts(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    start: datetime,
    end: datetime,
    size: int = 5,
    scan: int = 500,
) -> list[Post]:
    """The window's negative posts to answer first: ordered by the interactions
    the e-mail shows beside them (likes + reposts + replies), near-identical
    posts folded into the first of their group ("+4 similar")."""
    found = client.search(
        index=names.mentions,
        query=_window(brand, start, end, NEGATIVE),
        sort=[
            {"engagement.likes": {"order": "desc", "missing": "_last"}},
            {"engagement.reposts": {"order": "desc", "missing": "_last"}},
            {"created_at": {"order": "asc"}},
        ],
        size=scan,
        source_includes=["text", "platform", "author.handle", "url", "engagement", "created_at"],
    )
    posts = []
    for hit in found["hits"]["hits"]:
        s = hit["_source"]
        e = s.get("engagement") or {}
        posts.append(
            Post(
                text=s["text"],
                platform=s["platform"],
                author=(s.get("author") or {}).get("handle"),
                url=s.get("url"),
                engagement=sum(_int(e.get(k)) for k in ("likes", "reposts", "replies")),
                created_at=datetime.fromisoformat(s["created_at"]),
            )
        )
    posts.sort(key=lambda p: (-p.engagement, p.created_at or start))
    return group_similar(posts)[:size]


def group_similar(posts: list[Post], threshold: float = 0.6) -> list[Post]:
    """Fold near-duplicates (word-set Jaccard >= `threshold`, links, @handles
    and numbers ignored) into the first post of their group, keeping order."""
    groups: list[tuple[frozenset[str], Post, int]] = []
    for post in posts:
        words = _shingle(post.text)
        for i, (rep_words, rep, similar) in enumerate(groups):
            union = len(words | rep_words)
            if union and len(words & rep_words) / union >= threshold:
                groups[i] = (rep_words, rep, similar + 1)
                break
        else:
            groups.append((words, post, 0))
    return [replace(rep, similar=similar) for _, rep, similar in groups]


def _shingle(text: str) -> frozenset[str]:
    text = re.sub(r"https?://\S+|[@#]\w+|\d+", " ", text.casefold())
    return frozenset(re.findall(r"\w+", text))


def _int(value: object) -> int:
    try:
        return max(0, int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 0


def grown_topics(
    client: Elasticsearch, names: IndexNames, brand: str, start: datetime, end: datetime, size: int = 5
) -> list[Growth]:
    """Negative mentions per topic in the window vs the same span's average over the last week."""
    scale = (end - start) / BASELINE
    found = client.search(
        index=names.mentions,
        size=0,
        query=_window(brand, start - BASELINE, end, NEGATIVE),
        aggs={
            "period": {
                "filters": {
                    "filters": {
                        "now": {"range": {"created_at": {"gte": start.isoformat()}}},
                        "before": {"range": {"created_at": {"lt": start.isoformat()}}},
                    }
                },
                "aggs": {"topic": {"terms": {"field": "topics.label", "size": 50}}},
            }
        },
    )
    buckets = found["aggregations"]["period"]["buckets"]
    before = {b["key"]: b["doc_count"] for b in buckets["before"]["topic"]["buckets"]}
    growth = [
        Growth(label=b["key"], current=b["doc_count"], baseline=before.get(b["key"], 0) * scale)
        for b in buckets["now"]["topic"]["buckets"]
    ]
    growth.sort(key=lambda g: g.current - g.baseline, reverse=True)
    return [g for g in growth if g.current > g.baseline][:size]


def grown_terms(
    client: Elasticsearch, names: IndexNames, brand: str, start: datetime, end: datetime, size: int = 8
) -> list[Growth]:
    """Words unusually frequent in the window's negative posts (significant_text
    against the brand's previous week)."""
    scale = (end - start) / BASELINE
    found = client.search(
        index=names.mentions,
        size=0,
        query=_window(brand, start, end, NEGATIVE),
        aggs={
            "terms": {
                "significant_text": {
                    "field": "text",
                    "size": size,
                    "min_doc_count": 3,
                    "exclude": STOPWORDS,
                    "background_filter": _window(brand, start - BASELINE, start),
                }
            }
        },
    )
    grown = [
        Growth(label=b["key"], current=b["doc_count"], baseline=b["bg_count"] * scale)
        for b in found["aggregations"]["terms"]["buckets"]
    ]
    return [g for g in grown if g.current > g.baseline]


#: the social e-mail's reviews line (`reviews_following`): the last day against
#: the usual day of the week before, shown from this many 1-2 star reviews and
#: this many times the usual number
FOLLOW_WINDOW = timedelta(hours=24)
FOLLOW_BASELINE_DAYS = 7
FOLLOW_MIN = 5
FOLLOW_RATIO = 2.0


def reviews_following(
    client: Elasticsearch, names: IndexNames, brand: str, at: datetime
) -> ReviewsFollowing | None:
    """1-2 star reviews in the 24 h up to `at` against the usual 24 h (the 7 days
    before), when they are already following: at least `FOLLOW_MIN` and at
    least `FOLLOW_RATIO` times the usual number. None otherwise (or no reviews)."""
    at = as_utc(at)
    since = at - FOLLOW_WINDOW
    baseline_start = since - timedelta(days=FOLLOW_BASELINE_DAYS)
    found = client.search(
        index=names.mentions,
        size=0,
        query={
            "bool": {
                "filter": [
                    {"term": {"brands": brand}},
                    {"range": {"created_at": {"gte": baseline_start.isoformat(), "lt": at.isoformat()}}},
                    RATED_REVIEW,
                    LOW_STARS,
                ]
            }
        },
        aggs={"recent": {"filter": {"range": {"created_at": {"gte": since.isoformat()}}}}},
        track_total_hits=True,
        ignore_unavailable=True,
    )
    aggs = found.get("aggregations") or {}
    recent = int((aggs.get("recent") or {}).get("doc_count") or 0)
    total = found["hits"]["total"]
    everything = int(total["value"] if isinstance(total, dict) else total)
    expected = (everything - recent) / FOLLOW_BASELINE_DAYS
    if recent < FOLLOW_MIN or recent < FOLLOW_RATIO * expected:
        return None
    return ReviewsFollowing(low=recent, expected=expected, hours=int(FOLLOW_WINDOW.total_seconds() // 3600))


_LABEL = re.compile(r"[^a-z_-]+")


def negative_emotion(
    client: Elasticsearch, names: IndexNames, brand: str, start: datetime, end: datetime
) -> NegativeEmotion | None:
    """Emotion labels of the window's negative social mentions; None when none of
    them carries an emotion (the e-mail then says nothing about emotion)."""
    found = client.search(
        index=names.mentions,
        size=0,
        query=_window(brand, start, end, NEGATIVE),
        aggs={
            "emotion": {
                "filter": {"exists": {"field": "emotion.label"}},
                "aggs": {"labels": {"terms": {"field": "emotion.label", "size": 12}}},
            }
        },
        track_total_hits=True,
        ignore_unavailable=True,
    )
    emotion = (found.get("aggregations") or {}).get("emotion") or {}
    with_emotion = int(emotion.get("doc_count") or 0)
    if not with_emotion:
        return None
    total = found["hits"]["total"]
    counts: dict[str, int] = {}
    for bucket in (emotion.get("labels") or {}).get("buckets", []):
        label = _LABEL.sub("", str(bucket["key"]).lower())[:24] or "other"  # labels are a closed set
        counts[label] = counts.get(label, 0) + int(bucket["doc_count"])
    return NegativeEmotion(
        negatives=int(total["value"] if isinstance(total, dict) else total),
        with_emotion=with_emotion,
        counts=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
