"""Bulk writes of mentions: streaming, retried on 429, idempotent by `_id`.

Each chunk costs one real-time multi-get over the read alias's indices plus
one bulk request: a mention already stored in an older generation (after a
rollover) is updated where it lives, so re-running the same input never
duplicates a document, and its `brands` / `matched_terms` are merged with what
is stored (a post found for two brands keeps both). Raw writes are partial
updates with `doc_as_upsert`, so a re-fetch refreshes the platform fields
(engagement, text) and keeps what enrichment added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from elasticsearch import Elasticsearch, NotFoundError, helpers

from brandpulse.mention import Mention
from brandpulse.settings import IndexNames
from indexing.lifecycle import subject_hash

log = logging.getLogger(__name__)

#: fields owned by the enrichment step; a raw (re-)write never touches them
ENRICHMENT_FIELDS = frozenset({"sentiment", "topics", "emotion", "enrichment"})
#: list fields that accumulate across writes (one post can match several brands)
MERGED_FIELDS = ("brands", "matched_terms")


@dataclass
class FailedWrite:
    mention: Mention
    status: int | None
    reason: str


@dataclass
class WriteResult:
    created: int = 0
    updated: int = 0
    noop: int = 0
    suppressed: int = 0  # authors erased on request (GDPR) are not collected again
    failed: list[FailedWrite] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.created + self.updated + self.noop

    def add(self, other: WriteResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.noop += other.noop
        self.suppressed += other.suppressed
        self.failed.extend(other.failed)


def raw_document(mention: Mention) -> dict:
    """The platform part of a mention, without the enrichment fields."""
    doc = mention.to_document()
    for name in ENRICHMENT_FIELDS:
        doc.pop(name, None)
    return doc


def _chunks(items: Iterable[Mention], size: int) -> Iterator[list[Mention]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def existing_locations(client: Elasticsearch, names: IndexNames, ids: list[str]) -> dict[str, str]:
    """Concrete index of each id already stored (one search for the chunk)."""
    return {doc_id: index for doc_id, (index, _) in _existing(client, names, ids).items()}


def _existing(client: Elasticsearch, names: IndexNames, ids: list[str]) -> dict[str, tuple[str, dict]]:
    """id -> (concrete index, stored brands/matched_terms) for ids already stored.

    A real-time multi-get over every generation of the read alias (a search
    would miss documents written since the last refresh)."""
    if not ids:
        return {}
    try:
        indices = sorted(client.indices.get_alias(name=names.mentions))
    except NotFoundError:
        return {}
    docs = [{"_index": index, "_id": doc_id} for index in indices for doc_id in ids]
    found = client.mget(docs=docs, source_includes=list(MERGED_FIELDS), realtime=True)
    return {doc["_id"]: (doc["_index"], doc.get("_source", {})) for doc in found["docs"] if doc.get("found")}


def _merged(doc: dict, stored: dict | None) -> dict:
    """A post found for brand A, then for brand B, keeps both (and both term lists)."""
    if stored:
        for name in MERGED_FIELDS:
            old = stored.get(name) or []
            if old:
                doc[name] = list(dict.fromkeys([*old, *doc.get(name, [])]))
    return doc


def erased_authors(client: Elasticsearch, names: IndexNames) -> set[str]:
    """Hashes of authors erased on request (the erasure audit records)."""
    try:
        found = client.search(
            index=names.state,
            query={
                "bool": {"filter": [{"term": {"kind": "erasure"}}, {"term": {"source": "erasure:author"}}]}
            },
            size=10_000,
            source_includes=["data.subject_sha256"],
        )
    except NotFoundError:
        return set()
    return {h["_source"]["data"]["subject_sha256"] for h in found["hits"]["hits"]}


def _is_erased(mention: Mention, erased: set[str]) -> bool:
    authors = {a for a in (mention.author.id, mention.author.handle) if a}
    return any(
        subject_hash("author", f"{scope}:{author}") in erased
        for author in authors
        for scope in (mention.platform, "*")
    )


def _dedupe(chunk: list[Mention]) -> list[Mention]:
    """Last write wins inside a chunk (a bulk request must not race with itself)."""
    return list({m.id: m for m in chunk}.values())


def write_mentions(
    client: Elasticsearch,
    names: IndexNames,
    mentions: Iterable[Mention],
    chunk_size: int = 500,
    refresh: bool = False,
    on_chunk: Callable[[WriteResult], None] | None = None,
) -> WriteResult:
    """Upsert mentions in bulk; return counts and the per-item failures.

    Transport errors (node down, auth) propagate: nothing is acknowledged then,
    so the caller keeps its cursor. Per-item rejections come back in `failed`.
    """
    total = WriteResult()
    erased = erased_authors(client, names)
    for chunk in _chunks(mentions, chunk_size):
        chunk = _dedupe(chunk)
        if erased:
            kept = [m for m in chunk if not _is_erased(m, erased)]
            total.suppressed += len(chunk) - len(kept)
            chunk = kept
        if not chunk:
            continue
        stored = _existing(client, names, [m.id for m in chunk])
        actions = [
            {
                "_op_type": "update",
                "_index": stored[m.id][0] if m.id in stored else names.mentions_write,
                "_id": m.id,
                "doc": _merged(raw_document(m), stored[m.id][1] if m.id in stored else None),
                "doc_as_upsert": True,
            }
            for m in chunk
        ]
        result = WriteResult()
        for mention, (ok, item) in zip(
            chunk,
            helpers.streaming_bulk(
                client,
                actions,
                chunk_size=len(actions),
                max_retries=5,
                initial_backoff=1,
                max_backoff=30,
                raise_on_error=False,
                raise_on_exception=True,
                yield_ok=True,
            ),
            strict=True,
        ):
            info = item.get("update", {})
            if ok:
                outcome = info.get("result")
                if outcome == "created":
                    result.created += 1
                elif outcome == "noop":
                    result.noop += 1
                else:
                    result.updated += 1
            else:
                error = info.get("error", {})
                reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
                kind = error.get("type", "error") if isinstance(error, dict) else "error"
                result.failed.append(FailedWrite(mention, info.get("status"), f"{kind}: {reason}"))
        if on_chunk is not None:
            on_chunk(result)
        total.add(result)
    if refresh:
        client.indices.refresh(index=names.mentions)
    return total
