"""The enrich step over Elasticsearch: select mentions not enriched by the
current model version, enrich them in batches, write partial updates by `_id`.

Selection uses a point-in-time snapshot with search_after, so updates made
while iterating neither skip nor repeat documents. A mention whose enrichment
fails is marked `failed` with the error and no version, so the next run retries
it; it is never lost, and the raw fields are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from elasticsearch import Elasticsearch, helpers

from brandpulse.core.progress import Progress
from brandpulse.core.settings import IndexNames
from indexing.pit import pit_pages

log = logging.getLogger(__name__)

EnrichFn = Callable[[Sequence[str], Sequence[str | None]], list[dict]]


@dataclass
class EnrichSummary:
    brand: str | None
    version: str
    selected: int = 0
    enriched: int = 0
    failed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def pending_query(version: str, brand: str | None, reprocess: bool) -> dict:
    filters = [{"term": {"brands": brand}}] if brand else []
    must_not = [] if reprocess else [{"term": {"enrichment.version": version}}]
    return {"bool": {"filter": filters, "must_not": must_not}}


def iter_pending(
    client: Elasticsearch, names: IndexNames, query: dict, page_size: int = 500
) -> Iterator[list[dict]]:
    """Pages of hits (id, index, text, lang_hint) from a point-in-time snapshot."""
    return pit_pages(
        client, names.mentions, query, sort=[], source_includes=["text", "lang_hint"], page_size=page_size
    )


def count_pending(client: Elasticsearch, names: IndexNames, query: dict) -> int:
    client.indices.refresh(index=names.mentions)
    return client.count(index=names.mentions, query=query)["count"]


def enrich_mentions(
    client: Elasticsearch,
    names: IndexNames,
    enrich: EnrichFn,
    version: str,
    brand: str | None = None,
    reprocess: bool = False,
    batch_size: int = 256,
    on_batch: Callable[[int, int], None] | None = None,
) -> EnrichSummary:
    """Enrich every selected mention once; return counts (an XCom-sized dict)."""
    summary = EnrichSummary(brand=brand, version=version)
    query = pending_query(version, brand, reprocess)
    progress = Progress(f"enrich {brand or 'all brands'}", count_pending(client, names, query))
    for hits in iter_pending(client, names, query, page_size=batch_size):
        summary.selected += len(hits)
        now = datetime.now(UTC).isoformat()
        texts = [h["_source"]["text"] for h in hits]
        hints = [h["_source"].get("lang_hint") for h in hits]
        try:
            results: list[dict | Exception] = list(enrich(texts, hints))
        except Exception as exc:  # noqa: BLE001 - isolate the failing mention(s) below
            log.warning("batch enrichment failed (%s); retrying one by one", exc)
            results = [_one(enrich, t, h) for t, h in zip(texts, hints, strict=True)]
        actions = []
        for hit, result in zip(hits, results, strict=True):
            if isinstance(result, Exception):
                doc = {
                    "enrichment": {
                        "status": "failed",
                        "error": f"{type(result).__name__}: {result}"[:500],
                        "enriched_at": now,
                    }
                }
                summary.failed += 1
            else:
                doc = {**result, "enrichment": {"status": "done", "version": version, "enriched_at": now}}
            actions.append({"_op_type": "update", "_index": hit["_index"], "_id": hit["_id"], "doc": doc})
        ok_count = 0
        for ok, item in helpers.streaming_bulk(
            client, actions, chunk_size=len(actions), max_retries=5, raise_on_error=False
        ):
            if ok:
                ok_count += 1
            else:
                log.error("enrichment update refused: %s", item)
        summary.enriched += ok_count - sum(1 for r in results if isinstance(r, Exception))
        if on_batch is not None:
            on_batch(len(hits), summary.failed)
        progress.advance(len(hits))
    client.indices.refresh(index=names.mentions)
    progress.finish()
    return summary


def _one(enrich: EnrichFn, text: str, hint: str | None) -> dict | Exception:
    try:
        return enrich([text], [hint])[0]
    except Exception as exc:  # noqa: BLE001 - recorded on the mention, retried next run
        return exc


def enrich_brand(brand: str | None = None, reprocess: bool = False, on_batch=None) -> dict:
    """Language + sentiment (then topics) for the brand's mentions not yet
    enriched by the current model version; models load once per process."""
    from brandpulse.core.config import load_config
    from brandpulse.core.settings import get_settings
    from brandpulse.pipeline.topics import assign_brand_topics
    from indexing.client import make_client
    from nlp.embeddings import shared_embedder
    from nlp.enrich import EnrichMemo, enrich_texts, enrichment_version
    from nlp.sentiment import get_model

    settings = get_settings()
    client = make_client(settings)
    model = get_model()
    # topics reuse the lower layers sentiment runs (one encoder pass); None: they encode alone
    embedder = shared_embedder(model)
    # a text repeated on later pages (retweets, campaigns, retries) is not run again
    memo = EnrichMemo()

    def enrich(texts, hints):
        return enrich_texts(texts, hints, model=model, memo=memo)

    summary = enrich_mentions(
        client,
        settings.indices,
        enrich,
        enrichment_version(model),
        brand=brand,
        reprocess=reprocess,
        on_batch=on_batch,
    )
    log.info(
        "enrich %s: %s; model run on %d distinct inputs, %d repeats served from them",
        brand or "all brands",
        summary,
        memo.misses,
        memo.hits,
    )
    brands = [brand] if brand else [b.name for b in load_config().brands]
    try:
        topics = [assign_brand_topics(client, settings, b, embedder) for b in brands]
    finally:
        if embedder is not None:
            embedder.forget()  # vectors of mentions no topic run asked for
    return {**summary.to_dict(), "topics": topics}
