"""Run one (brand, source) ingest: fetch → bulk write → quarantine → cursor.

The order is the no-data-loss contract: a batch's mentions are acknowledged by
Elasticsearch (and its rejects quarantined) before its cursor is stored, so a
crash at any point replays at most one batch, and replays are idempotent.
Used by the ingest DAG, the CLI and the tests alike.

Nothing a row holds can stop the rows around it: rejects are quarantined with
their reason, documents Elasticsearch refuses (alone, or by failing a whole
request) come back from the writer and are quarantined too, and the
quarantine itself falls back to a local file. Only failures that are not about
the data (Elasticsearch unreachable, auth, a fatal source error) stop a run,
before its cursor moves.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from elasticsearch import Elasticsearch

from brandpulse.core.config import BrandsConfig
from brandpulse.core.mention import Mention
from brandpulse.core.settings import Settings, get_settings
from brandpulse.pipeline.config import load_checked_config
from indexing.cursors import CursorStore
from indexing.quarantine import QuarantineRecord, bounded, quarantine
from indexing.writer import WriteResult, write_mentions
from listeners.base import Batch, Reject
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
    not_matching: int = 0  # fetched posts / file rows the brand query does not match (counted only)
    batches: int = 0
    message: str = ""
    reasons: dict[str, int] = field(default_factory=dict)
    source_stats: dict[str, int] = field(default_factory=dict)  # the connector's own counters

    def to_dict(self) -> dict:
        return asdict(self)


def _in_languages(hint: str | None, languages: list[str] | None) -> bool:
    """Keep a post unless the platform names a language outside the brand's list
    (no hint: kept; language detection runs at enrichment)."""
    if not languages or not hint:
        return True
    return hint.split("-")[0].lower() in {lang.lower() for lang in languages}


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_POSITION = re.compile(r"\b(line|column|col|byte|char|position|offset) \d+")
REASON_KEY_CHARS = 100


def _reason_key(reason: str) -> str:
    """The reason as the summary groups it: the whole first line (never cut at its
    first colon), with quoted values and positions generalised so that one kind
    of problem is one group: `malformed JSON: Expecting value at column N`."""
    lines = str(reason).strip().splitlines()
    key = _QUOTED.sub("'…'", lines[0] if lines else "unknown")
    key = _POSITION.sub(lambda m: f"{m.group(1)} N", key)
    return key if len(key) <= REASON_KEY_CHARS else key[: REASON_KEY_CHARS - 1] + "…"


def _mention_raw(mention: Mention) -> str:
    """The mention as JSON for its quarantine record, whatever it holds. Without
    `collected_at`, so that a re-run quarantines the same record (same id)."""
    try:
        return mention.model_dump_json(exclude={"collected_at"})
    except Exception:  # noqa: BLE001 - a record is kept even when the mention cannot be dumped
        return repr(mention)


def _reject_record(reject: Reject, source: str, brand: str, run_id: str | None) -> QuarantineRecord:
    return QuarantineRecord(
        source=source,
        brand=brand,
        reason=bounded(str(reject.reason)),
        raw=reject.raw if isinstance(reject.raw, str) else repr(reject.raw),
        location=reject.location,
        line=reject.line,
        run_id=run_id,
        raw_sha256=getattr(reject, "raw_sha256", None),
        raw_bytes=getattr(reject, "raw_bytes", None),
    )


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
    cursor_key: str | None = None,
) -> IngestSummary:
    """Fetch everything new for one brand from one source and index it.

    `cursor_key` stores the cursor under another name than the source's (an ad-hoc
    `brandpulse import` keys it by file, leaving the configured source's alone)."""
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
    key = cursor_key or source
    if reset_cursor:
        cursors.reset(brand_name, key)
    cursor = cursors.get(brand_name, key)
    log.info("ingest %s/%s from cursor %s", brand_name, source, cursor)

    for batch in connector.fetch(cursor, since=since):
        wanted = [m for m in batch.mentions if _in_languages(m.lang_hint, brand.languages)]
        summary.other_language += len(batch.mentions) - len(wanted)
        result = write_mentions(client, names, wanted, chunk_size=settings.bulk_chunk_size)
        records = [_reject_record(r, source, brand_name, run_id) for r in batch.rejects] + [
            QuarantineRecord(
                source=source,
                brand=brand_name,
                stage="index",
                reason=bounded(f.reason),
                raw=_mention_raw(f.mention),
                mention_id=f.mention.id,
                run_id=run_id,
            )
            for f in result.failed
        ]
        quarantine(client, names, records, fallback_dir=settings.state_dir / "quarantine")
        cursors.set(brand_name, key, batch.cursor, run_id=run_id)  # only after the acks above

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

    stats = getattr(connector, "stats", None) or {}
    summary.source_stats = {str(k): int(v) for k, v in stats.items()}
    summary.not_matching = summary.source_stats.get("not matching", 0)
    if summary.quarantined:
        summary.status = "partial"
    summary.message = (
        f"{brand_name}/{source}: {summary.fetched} fetched, {summary.created} new, "
        f"{summary.updated} updated, {summary.quarantined} quarantined"
    )
    if summary.not_matching:
        summary.message += f", {summary.not_matching} not matching the brand query"
    log.info(summary.message)
    return summary


def plan_pairs() -> list[dict[str, str]]:
    """Every (brand, source) pair of the brands config, as small dicts."""
    config = load_checked_config()
    return [{"brand": brand, "source": source} for brand, source in config.pairs()]


def brand_names() -> list[str]:
    return [b.name for b in load_checked_config().brands]


def ingest_pair(brand: str, source: str, run_id: str | None = None) -> dict:
    """Ingest one (brand, source) pair; returns the summary as a dict."""
    return run_ingest(load_checked_config(), brand, source, run_id=run_id).to_dict()
