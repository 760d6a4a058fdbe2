"""Keep what could not be indexed, with the reason. Never drop it silently.

Records go to the quarantine index with a deterministic id (the same bad line
quarantined twice is one record). If Elasticsearch refuses them too, they are
appended to a JSONL file under the state folder and the caller is told.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

from brandpulse.settings import IndexNames

log = logging.getLogger(__name__)


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

    @property
    def doc_id(self) -> str:
        key = "\x1f".join(
            str(v) for v in (self.source, self.brand, self.location, self.line, self.stage, self.raw)
        )
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]

    def to_document(self) -> dict:
        doc = {k: v for k, v in asdict(self).items() if v is not None}
        # invalid UTF-8 survives as escapes rather than failing the quarantine write
        doc["raw"] = self.raw.encode("utf-8", "backslashreplace").decode("utf-8")
        return doc


def quarantine(
    client: Elasticsearch,
    names: IndexNames,
    records: Iterable[QuarantineRecord],
    fallback_dir: Path | None = None,
) -> int:
    """Write records to the quarantine index; return how many were kept.

    Anything Elasticsearch refuses is appended to `fallback_dir/quarantine.jsonl`;
    if that is not possible either, the error propagates (the caller must not
    advance its cursor).
    """
    records = list(records)
    if not records:
        return 0
    actions = (
        {"_op_type": "index", "_index": names.quarantine, "_id": r.doc_id, "_source": r.to_document()}
        for r in records
    )
    refused: list[tuple[QuarantineRecord, str]] = []
    for record, (ok, item) in zip(
        records,
        helpers.streaming_bulk(client, actions, chunk_size=200, max_retries=3, raise_on_error=False),
        strict=True,
    ):
        if not ok:
            refused.append((record, json.dumps(item)[:500]))
    if refused:
        if fallback_dir is None:
            raise RuntimeError(f"{len(refused)} quarantine records refused: {refused[0][1]}")
        fallback_dir.mkdir(parents=True, exist_ok=True)
        path = fallback_dir / "quarantine.jsonl"
        with path.open("a", encoding="utf-8") as out:
            for record, error in refused:
                out.write(json.dumps({**record.to_document(), "quarantine_error": error}) + "\n")
        log.error("%d quarantine records refused by Elasticsearch; appended to %s", len(refused), path)
    return len(records)
