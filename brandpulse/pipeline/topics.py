"""Topics over Elasticsearch: per brand, mentions without a topic are embedded
and assigned by `nlp.topics.update_topics` in time order; the topic state
(centroids, ids, first-seen times, pending outliers) is stored per brand in the
state index, so topic ids stay stable across runs and new topics are created
only when a new cluster emerges. Outliers get the topic "other" and are
re-labelled when they later join a topic."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import numpy as np
from elasticsearch import Elasticsearch, NotFoundError, helpers

from brandpulse.core.progress import Progress
from brandpulse.core.settings import IndexNames
from brandpulse.core.stopwords import STOPWORDS
from indexing.pit import pit_pages
from indexing.writer import existing_locations
from nlp.topics import TopicDoc, TopicSettings, TopicState, update_topics

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]


def _state_id(brand: str) -> str:
    return f"topics:{brand}"


def load_state(client: Elasticsearch, names: IndexNames, brand: str) -> TopicState:
    try:
        doc = client.get(index=names.state, id=_state_id(brand))
    except NotFoundError:
        return TopicState(brand=brand)
    return TopicState.from_dict(doc["_source"]["data"])


def save_state(client: Elasticsearch, names: IndexNames, state: TopicState) -> None:
    body = {
        "kind": "topics",
        "brand": state.brand,
        "data": state.to_dict(),
        "updated_at": datetime.now(UTC).isoformat(),
    }
    client.index(index=names.state, id=_state_id(state.brand), document=body, refresh=True)


def _untopiced_query(brand: str) -> dict:
    return {
        "bool": {
            "filter": [{"term": {"brands": brand}}, {"term": {"enrichment.status": "done"}}],
            "must_not": [{"exists": {"field": "topics.id"}}],
        }
    }


def _untopiced(client: Elasticsearch, names: IndexNames, brand: str, page_size: int) -> Iterator[list[dict]]:
    """Enriched mentions of the brand without a topic, oldest first (PIT + search_after)."""
    query = _untopiced_query(brand)
    return pit_pages(
        client,
        names.mentions,
        query,
        sort=[{"created_at": "asc"}],
        source_includes=["text", "created_at", "lang"],
        page_size=page_size,
    )


def assign_topics(
    client: Elasticsearch,
    names: IndexNames,
    brand: str,
    embed: Embed,
    settings: TopicSettings | None = None,
    stopwords: Sequence[str] = (),
    page_size: int = 2000,
) -> dict:
    """Give every enriched mention of `brand` a topic; return small counts."""
    client.indices.refresh(index=names.mentions)  # see what enrichment just wrote
    state = load_state(client, names, brand)
    before = {t.id for t in state.topics}
    assigned = relabelled = 0
    total = client.count(index=names.mentions, query=_untopiced_query(brand))["count"]
    progress = Progress(f"topics {brand}", total)
    for hits in _untopiced(client, names, brand, page_size):
        docs = [
            TopicDoc(
                id=h["_id"],
                text=h["_source"]["text"],
                created_at=datetime.fromisoformat(h["_source"]["created_at"]),
                lang=h["_source"].get("lang") or "und",
            )
            for h in hits
        ]
        assignments = update_topics(state, docs, embed([d.text for d in docs]), settings, stopwords)
        where = {h["_id"]: h["_index"] for h in hits}
        others = [i for i in assignments if i not in where]
        where.update(existing_locations(client, names, others))
        actions = [
            {"_op_type": "update", "_index": where[i], "_id": i, "doc": {"topics": [topic]}}
            for i, topic in assignments.items()
            if i in where
        ]
        for ok, item in helpers.streaming_bulk(client, actions, chunk_size=1000, raise_on_error=False):
            if not ok:
                log.error("topic update refused: %s", item)
        assigned += len(hits)
        relabelled += len(others)
        save_state(client, names, state)  # after the updates: a crash re-assigns, never loses
        progress.advance(len(hits))
    client.indices.refresh(index=names.mentions)
    progress.finish()
    created = [t.id for t in state.topics if t.id not in before]
    return {
        "brand": brand,
        "assigned": assigned,
        "relabelled": relabelled,
        "new_topics": len(created),
        "topics": len(state.topics),
    }


def assign_brand_topics(client: Elasticsearch, settings, brand: str, embedder=None) -> dict:
    """Topics for the brand's enriched mentions that have none yet (stable ids).

    ``embedder``: one sharing the sentiment model's encoder (its cache holds the vectors
    of the mentions just enriched); default: the process-wide stand-alone embedder."""
    from nlp.embeddings import get_embedder

    embedder = embedder or get_embedder()  # loaded once per process
    result = assign_topics(client, settings.indices, brand, embedder.embed, stopwords=STOPWORDS)
    log.info("topics %s: %s", brand, result)
    return result
