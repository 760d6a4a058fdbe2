"""Read-side queries used by the CLI, the demo and the tests."""

from __future__ import annotations

from collections import defaultdict

from elasticsearch import Elasticsearch

from brandpulse.core.settings import IndexNames


def count_mentions(client: Elasticsearch, names: IndexNames, brand: str | None = None) -> int:
    query = {"term": {"brands": brand}} if brand else {"match_all": {}}
    client.indices.refresh(index=names.mentions, ignore_unavailable=True, allow_no_indices=True)
    return client.count(index=names.mentions, query=query, ignore_unavailable=True)["count"]


def counts_by_brand_platform_day(
    client: Elasticsearch, names: IndexNames
) -> dict[str, dict[str, dict[str, int]]]:
    """{brand: {day (YYYY-MM-DD): {platform: count}}} over the whole index."""
    client.indices.refresh(index=names.mentions, ignore_unavailable=True, allow_no_indices=True)
    result = client.search(
        index=names.mentions,
        size=0,
        aggs={
            "brand": {
                "terms": {"field": "brands", "size": 100},
                "aggs": {
                    "day": {
                        "date_histogram": {
                            "field": "created_at",
                            "calendar_interval": "day",
                            "format": "yyyy-MM-dd",
                            "min_doc_count": 1,
                        },
                        "aggs": {"platform": {"terms": {"field": "platform", "size": 20}}},
                    }
                },
            }
        },
    )
    out: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for brand in result["aggregations"]["brand"]["buckets"]:
        for day in brand["day"]["buckets"]:
            out[brand["key"]][day["key_as_string"]] = {
                p["key"]: p["doc_count"] for p in day["platform"]["buckets"]
            }
    return dict(out)


def quarantine_count(client: Elasticsearch, names: IndexNames, brand: str | None = None) -> int:
    client.indices.refresh(index=names.quarantine, ignore_unavailable=True)
    query = {"term": {"brand": brand}} if brand else {"match_all": {}}
    return client.count(index=names.quarantine, query=query, ignore_unavailable=True)["count"]
