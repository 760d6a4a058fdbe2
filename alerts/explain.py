"""What an alert e-mail says beyond the numbers: which topics and terms grew,
and which negative posts to answer first. Everything comes from Elasticsearch
aggregations over the alert window against the brand's previous week."""

from __future__ import annotations

from datetime import datetime, timedelta

from elasticsearch import Elasticsearch

from alerts.email_render import Growth, Post
from alerts.series import NEGATIVE
from brandpulse.settings import IndexNames

BASELINE = timedelta(days=7)
#: frequent function words of the supported languages, never "terms that grew"
STOPWORDS = sorted(
    set(
        """
a an and are as at be been but by for from had has have i in is it its me my no not of on or our
so that the their there this to was we were what when where which who why will with you your
der die das und ist nicht ein eine mit von zu den dem des ich mein meine auf für im es sie wir
le la les un une et est pas de du des je mon ma mes pour en que qui avec sur il elle nous
el los las y es no de del un una que en mi por con para lo se al
o os as e é não de do da um uma que em meu minha por com para
il lo gli i e è non di del un una che in mio mia per con
""".split()
    )
)


def _window(brand: str, start: datetime, end: datetime, *extra: dict) -> dict:
    return {
        "bool": {
            "filter": [
                {"term": {"brands": brand}},
                {"range": {"created_at": {"gte": start.isoformat(), "lt": end.isoformat()}}},
                *extra,
            ]
        }
    }


def top_negative_posts(
    client: Elasticsearch, names: IndexNames, brand: str, start: datetime, end: datetime, size: int = 5
) -> list[Post]:
    """The most-engaged negative posts of the window (reposts, likes, then reach)."""
    found = client.search(
        index=names.mentions,
        query=_window(brand, start, end, NEGATIVE),
        sort=[
            {"engagement.reposts": {"order": "desc", "missing": "_last"}},
            {"engagement.likes": {"order": "desc", "missing": "_last"}},
            {"author.followers": {"order": "desc", "missing": "_last"}},
        ],
        size=size,
        source_includes=["text", "platform", "author.handle", "url", "engagement", "created_at"],
    )
    posts = []
    for hit in found["hits"]["hits"]:
        s = hit["_source"]
        e = s.get("engagement", {})
        posts.append(
            Post(
                text=s["text"],
                platform=s["platform"],
                author=s.get("author", {}).get("handle"),
                url=s.get("url"),
                engagement=sum(int(e.get(k) or 0) for k in ("likes", "reposts", "replies")),
                created_at=datetime.fromisoformat(s["created_at"]),
            )
        )
    return posts


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
    return [
        Growth(label=b["key"], current=b["doc_count"], baseline=b["bg_count"] * scale)
        for b in found["aggregations"]["terms"]["buckets"]
    ]
