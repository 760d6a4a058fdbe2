"""Keep what could not be indexed, with the reason. Never drop it silently.

Records go to the quarantine index with a deterministic id (the same bad line
quarantined twice is one record). `raw` is stored as a bounded excerpt (head and
tail of the input) together with the SHA-256 and size of the whole input, so a
110 MB line cannot make the quarantine write itself fail; the location and line
number point at the full input. If Elasticsearch refuses a record, or the
request fails in any way, the records not acknowledged are appended to a JSONL
file under the state folder and the caller is told.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

from brandpulse.core.settings import IndexNames

log = logging.getLogger(__name__)

#: characters of `raw` kept in the quarantine document: the head and the tail
RAW_HEAD_CHARS = 12_288
RAW_TAIL_CHARS = 4_096
#: longest reason stored (Elasticsearch error reasons can quote whole documents)
MAX_REASON_CHARS = 2_000
#: records per bulk request and bytes per request
CHUNK_RECORDS = 200
CHUNK_BYTES = 10 * 1024 * 1024


def raw_bytes(raw: str) -> bytes:
    """The bytes `raw` stands for: input decoded with surrogateescape gets its
    original bytes back; other lone surrogates are kept as surrogatepass."""
    try:
        return raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogatepass")


def excerpt(raw: str, head: int = RAW_HEAD_CHARS, tail: int = RAW_TAIL_CHARS) -> tuple[str, bool]:
    """(valid UTF-8 excerpt of `raw`, whether anything was left out)."""
    if len(raw) <= head + tail:
        shown, cut = raw, False
    else:
        left_out = len(raw) - head - tail
        shown = f"{raw[:head]}\n…[{left_out:,} characters left out]…\n{raw[-tail:]}"
        cut = True
    # invalid UTF-8 survives as escapes rather than failing the quarantine write
    return shown.encode("utf-8", "backslashreplace").decode("utf-8"), cut


def bounded(text: str, limit: int = MAX_REASON_CHARS) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class QuarantineRecord:
    source: str
    reason: str
    raw: str
    stage: str = "parse"  # parse (bad input) | index (refused by Elasticsearch)
    brand: str | None = None
    location: str | None = None
    line: int | None = None
    mention_id: str | None = None
    run_id: str | None = None
    quarantined_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    #: set when `raw` is already an excerpt (a line too long to hold in memory)
    raw_sha256: str | None = None
    raw_bytes: int | None = None

    @property
    def doc_id(self) -> str:
        key = "\x1f".join(
            str(v) for v in (self.source, self.brand, self.location, self.line, self.stage, self.raw)
        )
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]

    def to_document(self) -> dict:
        doc = {k: v for k, v in asdict(self).items() if v is not None}
        data = raw_bytes(self.raw)
        shown, cut = excerpt(self.raw)
        doc["raw"] = shown
        doc["raw_sha256"] = self.raw_sha256 or hashlib.sha256(data).hexdigest()
        doc["raw_bytes"] = self.raw_bytes if self.raw_bytes is not None else len(data)
        doc["raw_truncated"] = cut or doc["raw_bytes"] > len(data)
        doc["reason"] = bounded(self.reason)
        for name in ("source", "brand", "location", "mention_id", "run_id", "stage"):
            if name in doc:
                doc[name] = bounded(str(doc[name]), 1_000)
        return doc


def _fallback_document(record: QuarantineRecord, error: str) -> dict:
    try:
        doc = record.to_document()
    except Exception as exc:  # noqa: BLE001 - the record must be kept whatever it holds
        doc = {"source": str(record.source), "reason": bounded(repr(record.reason)), "raw": repr(record.raw)}
        error = f"{error}; to_document failed: {type(exc).__name__}: {exc}"
    return {**doc, "quarantine_error": bounded(error, 500)}


def quarantine(
    client: Elasticsearch,
    names: IndexNames,
    records: Iterable[QuarantineRecord],
    fallback_dir: Path | None = None,
) -> int:
    """Write records to the quarantine index; return how many were kept.

    Anything Elasticsearch refuses, and every record of a request that fails
    (413, 400, timeout, node down), is appended to `fallback_dir/quarantine.jsonl`;
    if that is not possible either, the error propagates (the caller must not
    advance its cursor).
    """
    records = list(records)
    if not records:
        return 0
    refused: list[tuple[QuarantineRecord, str]] = []
    for start in range(0, len(records), CHUNK_RECORDS):
        chunk = records[start : start + CHUNK_RECORDS]
        actions = []
        for record in chunk:
            try:
                actions.append(
                    {
                        "_op_type": "index",
                        "_index": names.quarantine,
                        "_id": record.doc_id,
                        "_source": record.to_document(),
                    }
                )
            except Exception as exc:  # noqa: BLE001 - kept in the fallback file instead
                refused.append((record, f"{type(exc).__name__}: {exc}"))
        kept_ids = {a["_id"] for a in actions}
        confirmed: set[str] = set()
        errors: dict[str, str] = {}
        failure = "no answer from Elasticsearch"
        try:
            for ok, item in helpers.streaming_bulk(
                client,
                actions,
                chunk_size=CHUNK_RECORDS,
                max_chunk_bytes=CHUNK_BYTES,
                max_retries=3,
                raise_on_error=False,
            ):
                info: dict[str, Any] = next(iter(item.values()), {}) if isinstance(item, dict) else {}
                doc_id = info.get("_id")
                if doc_id is None:  # matches no record: that record stays refused (with `failure`)
                    continue
                if ok:
                    confirmed.add(doc_id)
                else:
                    errors[doc_id] = json.dumps(item, default=str)[:500]
        except Exception as exc:  # noqa: BLE001 - any failure: the records go to the file
            failure = f"{type(exc).__name__}: {exc}"
            log.warning("quarantine bulk request failed (%s); using the fallback file", failure[:200])
        refused.extend(
            (r, errors.get(r.doc_id, failure))
            for r in chunk
            if r.doc_id in kept_ids and r.doc_id not in confirmed
        )
    if refused:
        if fallback_dir is None:
            raise RuntimeError(f"{len(refused)} quarantine records refused: {refused[0][1]}")
        fallback_dir.mkdir(parents=True, exist_ok=True)
        path = fallback_dir / "quarantine.jsonl"
        with path.open("a", encoding="utf-8") as out:
            for record, error in refused:
                out.write(json.dumps(_fallback_document(record, error)) + "\n")
        log.error("%d quarantine records refused by Elasticsearch; appended to %s", len(refused), path)
    return len(records)


# --- reading back: list, show, delete (the `brandpulse quarantine` commands) ---------------


def list_quarantined(
    client: Elasticsearch,
    names: IndexNames,
    brand: str | None = None,
    source: str | None = None,
    limit: int = 20,
) -> tuple[int, list[tuple[str, dict]]]:
    """(how many records match, the newest `limit` as (id, document))."""
    filters: list[dict] = []
    if brand:
        filters.append({"term": {"brand": brand}})
    if source:
        filters.append({"term": {"source": source}})
    client.indices.refresh(index=names.quarantine, ignore_unavailable=True, allow_no_indices=True)
    found = client.search(
        index=names.quarantine,
        query={"bool": {"filter": filters}},
        sort=[{"quarantined_at": {"order": "desc", "unmapped_type": "date"}}, {"_doc": "asc"}],
        size=limit,
        track_total_hits=True,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    hits = found["hits"]["hits"]
    return found["hits"]["total"]["value"], [(h["_id"], h["_source"]) for h in hits]


def get_quarantined(client: Elasticsearch, names: IndexNames, record_id: str) -> dict | None:
    """One record by id (None when there is no such record or no index)."""
    from elasticsearch import NotFoundError

    try:
        return client.get(index=names.quarantine, id=record_id)["_source"]
    except NotFoundError:
        return None


def delete_quarantined(client: Elasticsearch, names: IndexNames, record_ids: Iterable[str]) -> int:
    """Delete records by id (those that were replayed); returns how many went."""
    ids = list(record_ids)
    if not ids:
        return 0
    ok, _ = helpers.bulk(
        client,
        ({"_op_type": "delete", "_index": names.quarantine, "_id": i} for i in ids),
        raise_on_error=False,
        refresh=True,
    )
    return int(ok)
