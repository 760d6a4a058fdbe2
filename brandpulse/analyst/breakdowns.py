"""Sentiment per language and emotion shares of one brand's mentions, in one search.

Emotion is optional on a mention (absent for languages where its measured
quality is not useful), so emotion shares are over the mentions that carry one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from brandpulse.analyst.search import SENTIMENTS, MentionFilter
from brandpulse.core.settings import IndexNames


@dataclass
class LanguageSentiment:
    """One language's mentions and their sentiment counts."""

    lang: str
    mentions: int
    counts: dict[str, int]

    @property
    def scored(self) -> int:
        return sum(self.counts.get(label, 0) for label in SENTIMENTS)

    def share(self, label: str) -> float | None:
        """Share of the scored mentions with ``label`` (None when none is scored)."""
        return self.counts.get(label, 0) / self.scored if self.scored else None


@dataclass
class EmotionSummary:
    """Emotion labels over the mentions that carry one, overall and among negatives."""

    with_emotion: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    negative_with_emotion: int = 0
    negative_counts: dict[str, int] = field(default_factory=dict)

    def share(self, label: str) -> float | None:
        return self.counts.get(label, 0) / self.with_emotion if self.with_emotion else None

    def negative_share(self, label: str) -> float | None:
        """Share of ``label`` among negative mentions that carry an emotion."""
        if not self.negative_with_emotion:
            return None
        return self.negative_counts.get(label, 0) / self.negative_with_emotion

    @property
    def top_negative(self) -> str | None:
        """The most frequent emotion among negative mentions (None when none has one)."""
        if not self.negative_counts:
            return None
        return max(sorted(self.negative_counts), key=self.negative_counts.__getitem__)


@dataclass
class Breakdowns:
    languages: list[LanguageSentiment] = field(default_factory=list)
    emotion: EmotionSummary = field(default_factory=EmotionSummary)


def _terms(agg: dict[str, Any]) -> dict[str, int]:
    return {b["key"]: b["doc_count"] for b in agg.get("buckets", [])}


def emotion_aggs(size: int = 12) -> dict[str, Any]:
    """Aggregations: emotion labels overall and among negative mentions."""
    return {
        "emotion": {
            "filter": {"exists": {"field": "emotion.label"}},
            "aggs": {
                "labels": {"terms": {"field": "emotion.label", "size": size}},
                "negative": {
                    "filter": {"term": {"sentiment.label": "negative"}},
                    "aggs": {"labels": {"terms": {"field": "emotion.label", "size": size}}},
                },
            },
        }
    }


def emotion_summary(aggs: dict[str, Any]) -> EmotionSummary:
    """:class:`EmotionSummary` from the result of :func:`emotion_aggs`."""
    emo = aggs.get("emotion") or {}
    negative = emo.get("negative") or {}
    return EmotionSummary(
        with_emotion=emo.get("doc_count", 0),
        counts=_terms(emo.get("labels") or {}),
        negative_with_emotion=negative.get("doc_count", 0),
        negative_counts=_terms(negative.get("labels") or {}),
    )


def breakdowns(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    start: datetime,
    end: datetime,
    languages: int = 12,
) -> Breakdowns:
    """Per-language sentiment (the ``languages`` largest) and the emotion summary."""
    filters = MentionFilter(brand=brand, start=start, end=end)
    result = client.search(
        index=names.mentions,
        size=0,
        query={"bool": {"filter": filters.clauses()}},
        aggs={
            "languages": {
                "terms": {"field": "lang", "size": languages, "missing": "und"},
                "aggs": {"sentiment": {"terms": {"field": "sentiment.label", "size": 3}}},
            },
            **emotion_aggs(),
        },
        ignore_unavailable=True,
    )
    aggs = result.get("aggregations") or {}
    langs = [
        LanguageSentiment(b["key"], b["doc_count"], _terms(b.get("sentiment") or {}))
        for b in (aggs.get("languages") or {}).get("buckets", [])
    ]
    return Breakdowns(languages=langs, emotion=emotion_summary(aggs))
