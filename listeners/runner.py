"""Run one (brand, source) ingest: fetch → bulk write → quarantine → cursor.

The order is the no-data-loss contract: a batch's mentions are acknowledged by
Elasticsearch (and its rejects quarantined) before its cursor is stored, so a
crash at any point replays at most one batch, and replays are idempotent.
Used by the ingest DAG, the CLI and the tests alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from elasticsearch import Elasticsearch

from brandpulse.config import BrandsConfig
from brandpulse.settings import Settings, get_settings
from indexing.cursors import CursorStore
from indexing.quarantine import QuarantineRecord, quarantine
from indexing.writer import WriteResult, write_mentions
from listeners.base import Batch
from listeners.registry import registry

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """Small, JSON-serialisable result (safe as an Airflow XCom)."""

    brand: str
    source: str
    status: str = "ok"  # ok | partial (something quarantined) | skipped
    fetched: int = 0
    created: int = 0
    updated: int = 0
    quarantined: int = 0
    other_language: int = 0  # platform says another language than the brand's `languages`
    batches: int = 0
    message: str = ""
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _in_languages(hint: str | None, languages: list[str] | None) -> bool:
    """Keep a post unless the platform names a language outside the brand's list
    (no hint: kept; language detection runs at enrichment)."""
    if not languages or not hint:
        return True
    return hint.split("-")[0].lower() in {lang.lower() for lang in languages}


def _reason_key(reason: str) -> str:
    return reason.split(":")[0][:60]


def run_ingest(
    config: BrandsConfig,
    brand_name: str,
    source: str,
    *,
    client: Elasticsearch | None = None,
    settings: Settings | None = None,
    since: datetime | None = None,
    reset_cursor: bool = False,
    run_id: str | None = None,
    on_batch: Callable[[Batch, WriteResult], None] | None = None,
) -> IngestSummary:
    """Fetch everything new for one brand from one source and index it."""
    settings = settings or get_settings()
    names = settings.indices
    brand = config.brand(brand_name)
    summary = IngestSummary(brand=brand_name, source=source)
    if source not in brand.sources:
        raise KeyError(f"brand {brand_name!r} has no source {source!r} configured")
    connector = registry.get(source)(brand, brand.sources[source])
    missing = connector.missing_credentials()
    if missing:
        summary.status = "skipped"
        summary.message = f"skipped {source} for {brand_name}: missing credentials {', '.join(missing)}"
        log.warning(summary.message)
        return summary

    if client is None:
        from indexing.client import make_client

        client = make_client(settings)
    cursors = CursorStore(client, names)
    if reset_cursor:
        cursors.reset(brand_name, source)
    cursor = cursors.get(brand_name, source)
    log.info("ingest %s/%s from cursor %s", brand_name, source, cursor)

    for batch in connector.fetch(cursor, since=since):
        wanted = [m for m in batch.mentions if _in_languages(m.lang_hint, brand.languages)]
        summary.other_language += len(batch.mentions) - len(wanted)
        result = write_mentions(client, names, wanted, chunk_size=settings.bulk_chunk_size)
        records = [
            QuarantineRecord(
                source=source,
                brand=brand_name,
                reason=r.reason,
                raw=r.raw,
                location=r.location,
                line=r.line,
                run_id=run_id,
            )
            for r in batch.rejects
        ] + [
            QuarantineRecord(
                source=source,
                brand=brand_name,
                stage="index",
                reason=f.reason,
                raw=f.mention.model_dump_json(),
                mention_id=f.mention.id,
                run_id=run_id,
            )
            for f in result.failed
        ]
        quarantine(client, names, records, fallback_dir=settings.state_dir / "quarantine")
        cursors.set(brand_name, source, batch.cursor, run_id=run_id)  # only after the acks above

        summary.batches += 1
        summary.fetched += len(wanted)
        summary.created += result.created
        summary.updated += result.updated + result.noop
        summary.quarantined += len(records)
        for record in records:
            key = _reason_key(record.reason)
            summary.reasons[key] = summary.reasons.get(key, 0) + 1
        if on_batch is not None:
            on_batch(batch, result)

    if summary.quarantined:
        summary.status = "partial"
    summary.message = (
        f"{brand_name}/{source}: {summary.fetched} fetched, {summary.created} new, "
        f"{summary.updated} updated, {summary.quarantined} quarantined"
    )
    log.info(summary.message)
    return summary
