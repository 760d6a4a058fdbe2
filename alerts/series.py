"""Per-bucket negative and total counts of one brand, from date_histogram aggregations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from elasticsearch import Elasticsearch

from brandpulse.core.settings import IndexNames
from brandpulse.core.timeutil import as_utc

NEGATIVE = {"term": {"sentiment.label": "negative"}}
SCORED = {"exists": {"field": "sentiment.label"}}
#: the social series leave app-store reviews out: they have their own check
#: (`alerts.reviews`, on ratings), so the two alerts stay independent
SOCIAL = {"bool": {"must_not": {"term": {"kind": "review"}}}}


def floor_bucket(at: datetime, minutes: int) -> datetime:
    """Start of the bucket containing `at` (buckets are aligned to UTC midnight)."""
    at = as_utc(at)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(minutes=((at - midnight) // timedelta(minutes=minutes)) * minutes)


def fetch_series(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    start: datetime,
    end: datetime,
    bucket_minutes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(negatives, totals) per bucket over [start, end): one aggregation request.

    Totals count only mentions that have a sentiment, so the negative share is
    not diluted by posts that are not enriched yet; app-store reviews are not
    counted (`SOCIAL`: the rating-drop check judges them)."""
    return _counts(client, names, brand, start, end, bucket_minutes, [SCORED, SOCIAL], NEGATIVE)


def first_bucket(
    client: Elasticsearch, names: IndexNames, brand: str, bucket_minutes: int, kind: dict | None = None
) -> datetime | None:
    """Start of the bucket that holds the brand's first mention of `kind` (default:
    social mentions; `RATED_REVIEW` for the rating series), None without any.

    Before it the brand has no history, which is not the same as a history of
    zeros: a baseline padded with zeros would make every ordinary day look like
    a spike."""
    result = client.search(
        index=names.mentions,
        size=0,
        query={"bool": {"filter": [{"term": {"brands": brand}}, SOCIAL if kind is None else kind]}},
        aggs={"first": {"min": {"field": "created_at"}}},
        ignore_unavailable=True,
    )
    value = result.get("aggregations", {}).get("first", {}).get("value")
    if value is None:
        return None
    return floor_bucket(datetime.fromtimestamp(value / 1000, tz=UTC), bucket_minutes)


#: an app-store review with a star rating; 1-2 stars is a "low" review
RATED_REVIEW = {"exists": {"field": "review.rating"}}
LOW_STARS = {"range": {"review.rating": {"lte": 2}}}


def fetch_rating_series(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    start: datetime,
    end: datetime,
    bucket_minutes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(1-2 star reviews, all rated reviews) per bucket over [start, end): the
    review counterpart of `fetch_series` (ratings, not sentiment), one request."""
    return _counts(client, names, brand, start, end, bucket_minutes, [RATED_REVIEW], LOW_STARS)


def _counts(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    start: datetime,
    end: datetime,
    bucket_minutes: int,
    filters: list[dict],
    part: dict,
) -> tuple[np.ndarray, np.ndarray]:
    """(matching `part`, all) per bucket over [start, end) among the brand's
    mentions that pass `filters`: one date_histogram request, empty buckets 0."""
    n = int((end - start) / timedelta(minutes=bucket_minutes))
    result = client.search(
        index=names.mentions,
        size=0,
        query={
            "bool": {
                "filter": [
                    {"term": {"brands": brand}},
                    {"range": {"created_at": {"gte": start.isoformat(), "lt": end.isoformat()}}},
                    *filters,
                ]
            }
        },
        aggs={
            "buckets": {
                "date_histogram": {
                    "field": "created_at",
                    "fixed_interval": f"{bucket_minutes}m",
                    "min_doc_count": 0,
                    "extended_bounds": {
                        "min": start.isoformat(),
                        "max": (end - timedelta(seconds=1)).isoformat(),
                    },
                },
                "aggs": {"part": {"filter": part}},
            }
        },
        ignore_unavailable=True,
    )
    parts, totals = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    width_ms = bucket_minutes * 60_000
    origin_ms = int(start.timestamp() * 1000)
    for bucket in result.get("aggregations", {}).get("buckets", {}).get("buckets", []):
        i = (int(bucket["key"]) - origin_ms) // width_ms
        if 0 <= i < n:
            totals[i] = bucket["doc_count"]
            parts[i] = bucket["part"]["doc_count"]
    return parts, totals
