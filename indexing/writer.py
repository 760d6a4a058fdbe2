"""Bulk writes of mentions: streaming, retried on 429, idempotent by `_id`.

Each chunk costs one `ids` lookup on the read alias plus one bulk request: a
mention already stored in an older generation (after a rollover) is updated
where it lives, so re-running the same input never duplicates a document.
Raw writes are partial updates with `doc_as_upsert`, so a re-fetch refreshes
the platform fields (engagement, text) and keeps what enrichment added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from elasticsearch import Elasticsearch, helpers

from brandpulse.mention import Mention
from brandpulse.settings import IndexNames

log = logging.getLogger(__name__)

#: fields owned by the enrichment step; a raw (re-)write never touches them
ENRICHMENT_FIELDS = frozenset({"sentiment", "topics", "emotion", "enrichment"})


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
    failed: list[FailedWrite] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.created + self.updated + self.noop

    def add(self, other: WriteResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.noop += other.noop
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
    if not ids:
        return {}
    found = client.search(
        index=names.mentions,
        query={"ids": {"values": ids}},
        size=len(ids),
        source=False,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return {hit["_id"]: hit["_index"] for hit in found["hits"]["hits"]}


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
    for chunk in _chunks(mentions, chunk_size):
        chunk = _dedupe(chunk)
        where = existing_locations(client, names, [m.id for m in chunk])
        actions = [
            {
                "_op_type": "update",
                "_index": where.get(m.id, names.mentions_write),
                "_id": m.id,
                "doc": raw_document(m),
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
