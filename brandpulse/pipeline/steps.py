"""The steps the DAGs run, callable without Airflow (CLI, tests, notebooks).

Each function reads its configuration at call time and returns a small
JSON-serialisable value (safe as an XCom).
"""

from __future__ import annotations

import logging

from brandpulse.core.config import load_config
from brandpulse.core.settings import get_settings
from brandpulse.core.timeutil import as_utc

log = logging.getLogger(__name__)


def prepare_indices() -> str:
    """Install/upgrade index templates and aliases (idempotent)."""
    from indexing.client import make_client
    from indexing.templates import ensure_indices

    settings = get_settings()
    report = ensure_indices(make_client(settings), settings.indices)
    log.info("indices: %s", report)
    return str(report)


def plan_pairs() -> list[dict[str, str]]:
    """Every (brand, source) pair of the brands config, as small dicts."""
    config = load_config()
    return [{"brand": brand, "source": source} for brand, source in config.pairs()]


def ingest_pair(brand: str, source: str, run_id: str | None = None) -> dict:
    """Ingest one (brand, source) pair; returns the summary as a dict."""
    from brandpulse.pipeline.ingest import run_ingest

    return run_ingest(load_config(), brand, source, run_id=run_id).to_dict()


def brand_names() -> list[str]:
    return [b.name for b in load_config().brands]


def check_alerts_for(brand: str, at, run_id: str | None = None, smtp_connection: str | None = None) -> dict:
    """Alerts check of one brand at the end of a data interval."""
    from alerts.check import check_alerts, default_notifiers

    notifiers = default_notifiers(smtp_connection)
    [summary] = check_alerts(load_config(), as_utc(at), brand, run_id=run_id, notifiers=notifiers)
    return {**summary.to_dict(), "notifiers": len(notifiers)}


def rollover(conditions: dict) -> dict:
    """Roll the write alias over when a condition is met (or let ILM do it)."""
    from indexing.lifecycle import run_rollover

    return run_rollover(conditions)


def retention(until, dry_run: bool = False) -> dict:
    """Delete mentions older than the configured retention, counted back from `until`."""
    from indexing.lifecycle import run_retention

    return run_retention(as_utc(until), dry_run=dry_run)


def enrich_brand(brand: str | None = None, reprocess: bool = False, on_batch=None) -> dict:
    """Language + sentiment for mentions not yet enriched by the current model version."""
    from brandpulse.pipeline.enrich import enrich_mentions
    from indexing.client import make_client
    from nlp.enrich import enrich_texts, enrichment_version
    from nlp.sentiment import get_model

    settings = get_settings()
    model = get_model()  # loaded once per process

    def enrich(texts, hints):
        return enrich_texts(texts, hints, model=model)

    client = make_client(settings)
    summary = enrich_mentions(
        client,
        settings.indices,
        enrich,
        enrichment_version(model),
        brand=brand,
        reprocess=reprocess,
        on_batch=on_batch,
    )
    log.info("enrich %s: %s", brand or "all brands", summary)
    topics = [assign_brand_topics(client, settings, b) for b in ([brand] if brand else brand_names())]
    return {**summary.to_dict(), "topics": topics}


def assign_brand_topics(client, settings, brand: str) -> dict:
    """Topics for the brand's enriched mentions that have none yet (stable ids)."""
    from alerts.explain import STOPWORDS
    from brandpulse.pipeline.topics import assign_topics
    from nlp.embeddings import get_embedder

    embedder = get_embedder()  # loaded once per process
    result = assign_topics(client, settings.indices, brand, embedder.embed, stopwords=STOPWORDS)
    log.info("topics %s: %s", brand, result)
    return result
