"""Bulk writes of mentions: streaming, retried on 429, idempotent by `_id`.

Each chunk costs one real-time multi-get over the read alias's indices plus
one bulk request: a mention already stored in an older generation (after a
rollover) is updated where it lives, so re-running the same input never
duplicates a document, and its `brands` / `matched_terms` are merged with what
is stored (a post found for two brands keeps both). Raw writes are partial
updates with `doc_as_upsert`, so a re-fetch refreshes the platform fields
(engagement, text) and keeps what enrichment added.

Poison documents never block the rows around them: every action is serialised
on its own first (a document that cannot be encoded, is over `MAX_DOC_BYTES` or
has an id over Elasticsearch's 512-byte limit fails alone, before any request),
requests are bounded in bytes, and a request Elasticsearch refuses as a whole
(a 4xx such as 400 or 413) is split in halves until the document that causes
it stands alone: that one is reported as failed (the caller quarantines it),
every other document is written. Transport errors, 5xx, 401/403 and
persistent 429s propagate: nothing is acknowledged then and the caller keeps
its cursor.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from brandpulse.core.mention import MAX_ID_BYTES, Mention
from brandpulse.core.settings import IndexNames
from indexing.lifecycle import subject_hash

log = logging.getLogger(__name__)

#: fields owned by the enrichment step; a raw (re-)write never touches them
ENRICHMENT_FIELDS = frozenset({"sentiment", "topics", "emotion", "enrichment"})
#: list fields that accumulate across writes (one post can match several brands)
MERGED_FIELDS = ("brands", "matched_terms")
#: one document larger than this (serialised) is refused before any request
MAX_DOC_BYTES = 1024 * 1024
#: bytes per bulk request (Elasticsearch refuses requests over http.max_content_length, 100 MB)
MAX_REQUEST_BYTES = 10 * 1024 * 1024
#: request-level statuses that are not about the documents: never bisected
NOT_BISECTED = frozenset({401, 403, 404, 408, 429})
RETRIES_429 = 5
_sleep = time.sleep


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
    return _mget(client, indices, ids)


def _mget(client: Elasticsearch, indices: list[str], ids: list[str]) -> dict[str, tuple[str, dict]]:
    docs = [{"_index": index, "_id": doc_id} for index in indices for doc_id in ids]
    try:
        found = client.mget(docs=docs, source_includes=list(MERGED_FIELDS), realtime=True)
    except ApiError as exc:
        if not _bisectable(exc):
            raise
        if len(ids) == 1:  # the bulk write of this id will fail alone and be reported
            log.warning("multi-get refused for id %.80r: %s", ids[0], _describe(exc)[:200])
            return {}
        half = len(ids) // 2
        return {**_mget(client, indices, ids[:half]), **_mget(client, indices, ids[half:])}
    return {doc["_id"]: (doc["_index"], doc.get("_source", {})) for doc in found["docs"] if doc.get("found")}


def _bisectable(exc: ApiError) -> bool:
    status = getattr(exc.meta, "status", None) if getattr(exc, "meta", None) else None
    return isinstance(status, int) and 400 <= status < 500 and status not in NOT_BISECTED


def _status(exc: ApiError) -> int | None:
    return getattr(getattr(exc, "meta", None), "status", None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        body = exc.body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
            return f"{error.get('type', 'error')}: {error.get('reason', '')}"
        return f"{exc.message}: {str(body)[:500]}"
    return f"{type(exc).__name__}: {exc}"


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


def _encode(action: dict) -> bytes:
    """One NDJSON line, strictly valid UTF-8 and strict JSON (no NaN)."""
    return json.dumps(action, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


@dataclass
class _Prepared:
    mention: Mention
    lines: bytes  # action line + document line

    @property
    def size(self) -> int:
        return len(self.lines)


def _prepare(mention: Mention, index: str, stored: dict | None) -> _Prepared:
    meta = {"update": {"_index": index, "_id": mention.id}}
    body = {"doc": _merged(raw_document(mention), stored), "doc_as_upsert": True}
    return _Prepared(mention, _encode(meta) + b"\n" + _encode(body) + b"\n")


def _id_problem(mention: Mention) -> str | None:
    size = len(mention.id.encode("utf-8"))  # raises on a lone surrogate: reported by the caller
    if size > MAX_ID_BYTES:
        return f"id_too_long: id is {size:,} bytes; Elasticsearch ids are limited to {MAX_ID_BYTES} bytes"
    return None


def _groups(items: list[_Prepared], max_bytes: int) -> Iterator[list[_Prepared]]:
    group: list[_Prepared] = []
    size = 0
    for item in items:
        if group and size + item.size > max_bytes:
            yield group
            group, size = [], 0
        group.append(item)
        size += item.size
    if group:
        yield group


def _count(result: WriteResult, outcome: str | None) -> None:
    if outcome == "created":
        result.created += 1
    elif outcome == "noop":
        result.noop += 1
    else:
        result.updated += 1


def _send(client: Elasticsearch, group: list[_Prepared], result: WriteResult) -> None:
    """One bulk request for `group`; bisects a request-level refusal down to the
    document that causes it; retries 429s (request or item) with backoff."""
    pending = group
    for attempt in range(RETRIES_429 + 1):
        try:
            # pre-encoded ndjson lines: the client's serializer sends bytes as they are, but
            # `operations` is typed as mappings only
            response = client.bulk(operations=[p.lines for p in pending])  # type: ignore[misc]
        except ApiError as exc:
            if _status(exc) == 429 and attempt < RETRIES_429:
                _sleep(min(2**attempt, 30))
                continue
            if not _bisectable(exc):
                raise
            if len(pending) == 1:
                result.failed.append(
                    FailedWrite(pending[0].mention, _status(exc), f"request refused: {_describe(exc)}")
                )
                return
            half = len(pending) // 2
            log.warning("bulk request of %d documents refused (%s); splitting it", len(pending), _status(exc))
            _send(client, pending[:half], result)
            _send(client, pending[half:], result)
            return
        retry: list[_Prepared] = []
        for prepared, item in zip(pending, response["items"], strict=True):
            info = item.get("update", {})
            status = info.get("status")
            if 200 <= (status or 0) < 300:
                _count(result, info.get("result"))
            elif status == 429 and attempt < RETRIES_429:
                retry.append(prepared)
            else:
                error = info.get("error", {})
                reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
                kind = error.get("type", "error") if isinstance(error, dict) else "error"
                result.failed.append(FailedWrite(prepared.mention, status, f"{kind}: {reason}"))
        if not retry:
            return
        pending = retry
        _sleep(min(2**attempt, 30))


def write_mentions(
    client: Elasticsearch,
    names: IndexNames,
    mentions: Iterable[Mention],
    chunk_size: int = 500,
    refresh: bool = False,
    on_chunk: Callable[[WriteResult], None] | None = None,
) -> WriteResult:
    """Upsert mentions in bulk; return counts and the per-document failures.

    Transport errors (node down, auth) propagate: nothing is acknowledged then,
    so the caller keeps its cursor. Documents Elasticsearch refuses, alone or by
    failing a whole request, come back in `failed`, each with its reason.
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
        result = WriteResult()
        valid: list[Mention] = []
        for mention in chunk:
            try:
                problem = _id_problem(mention)
            except Exception as exc:  # noqa: BLE001 - whatever it is, it is this document's
                problem = f"invalid_id: {type(exc).__name__}: {exc}"
            if problem:
                result.failed.append(FailedWrite(mention, None, problem))
            else:
                valid.append(mention)
        stored = _existing(client, names, [m.id for m in valid])
        prepared: list[_Prepared] = []
        for mention in valid:
            index, merged = stored.get(mention.id, (names.mentions_write, None))
            try:
                item = _prepare(mention, index, merged)
            except Exception as exc:  # noqa: BLE001 - an unencodable document fails alone
                reason = f"unserialisable: {type(exc).__name__}: {exc}"
                result.failed.append(FailedWrite(mention, None, reason))
                continue
            if item.size > MAX_DOC_BYTES:
                result.failed.append(
                    FailedWrite(
                        mention,
                        None,
                        f"document_too_large: {item.size:,} bytes serialised (limit {MAX_DOC_BYTES:,})",
                    )
                )
                continue
            prepared.append(item)
        for group in _groups(prepared, MAX_REQUEST_BYTES):
            _send(client, group, result)
        if on_chunk is not None:
            on_chunk(result)
        total.add(result)
    if refresh:
        client.indices.refresh(index=names.mentions)
    return total
