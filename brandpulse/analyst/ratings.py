"""App-store ratings beside social negativity, per day, for the report.

One search: a daily histogram with the social mentions (everything but
``kind: review``) and their negative part, and the rated reviews with their
average rating and 1-2 star count. Reviews are left out of the social share,
so a wave of bad reviews never counts twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from elasticsearch import Elasticsearch

from brandpulse.analyst.search import MentionFilter
from brandpulse.core.settings import IndexNames

SOCIAL = {"bool": {"must_not": [{"term": {"kind": "review"}}]}}
SCORED = {"exists": {"field": "sentiment.label"}}
NEGATIVE = {"term": {"sentiment.label": "negative"}}
RATED = {"exists": {"field": "review.rating"}}
LOW_STARS = {"range": {"review.rating": {"lte": 2}}}


@dataclass(frozen=True, kw_only=True)
class RatingCounts:
    """Social mentions scored and negative, rated reviews and their ratings."""

    social_scored: int = 0
    social_negative: int = 0
    reviews: int = 0
    low_reviews: int = 0
    average_rating: float | None = None

    @property
    def social_negative_share(self) -> float | None:
        return self.social_negative / self.social_scored if self.social_scored else None

    @property
    def low_share(self) -> float | None:
        return self.low_reviews / self.reviews if self.reviews else None


@dataclass(frozen=True, kw_only=True)
class RatingDay(RatingCounts):
    """One UTC day."""

    day: datetime


@dataclass(frozen=True, kw_only=True)
class RatingSummary(RatingCounts):
    """The window's totals and its days (only days with social mentions or reviews)."""

    days: list[RatingDay] = field(default_factory=list)


def _parts() -> dict:
    return {
        "social": {
            "filter": {"bool": {"filter": [SOCIAL, SCORED]}},
            "aggs": {"negative": {"filter": NEGATIVE}},
        },
        "rated": {
            "filter": RATED,
            "aggs": {"rating": {"avg": {"field": "review.rating"}}, "low": {"filter": LOW_STARS}},
        },
    }


def _counts(bucket: dict) -> dict:
    return {
        "social_scored": bucket["social"]["doc_count"],
        "social_negative": bucket["social"]["negative"]["doc_count"],
        "reviews": bucket["rated"]["doc_count"],
        "low_reviews": bucket["rated"]["low"]["doc_count"],
        "average_rating": bucket["rated"]["rating"]["value"],
    }


def rating_summary(
    client: Elasticsearch, names: IndexNames, brand: str, start: datetime, end: datetime
) -> RatingSummary:
    """Daily and window totals of social negativity and review ratings for ``brand``."""
    filters = MentionFilter(brand=brand, start=start, end=end).clauses()
    result = client.search(
        index=names.mentions,
        size=0,
        query={"bool": {"filter": filters}},
        aggs={
            **_parts(),
            "days": {
                "date_histogram": {"field": "created_at", "calendar_interval": "1d", "min_doc_count": 1},
                "aggs": _parts(),
            },
        },
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    aggs = result.get("aggregations")
    if not aggs:
        return RatingSummary()
    days = [
        RatingDay(day=datetime.fromtimestamp(b["key"] / 1000, tz=UTC), **_counts(b))
        for b in aggs["days"]["buckets"]
    ]
    return RatingSummary(days=days, **_counts(aggs))
