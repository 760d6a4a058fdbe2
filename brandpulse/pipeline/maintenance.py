"""Index maintenance: templates and aliases, rollover, retention (what the
maintenance DAG runs). Settings are read at call time; results are small dicts."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from brandpulse.core.config import load_config
from brandpulse.core.settings import get_settings
from brandpulse.core.timeutil import as_utc
from indexing.client import make_client
from indexing.lifecycle import RolloverConditions, apply_ilm, apply_retention, ilm_supported, rollover
from indexing.templates import ensure_indices

log = logging.getLogger(__name__)


def prepare_indices() -> str:
    """Install/upgrade index templates and aliases (idempotent)."""
    settings = get_settings()
    report = ensure_indices(make_client(settings), settings.indices)
    log.info("indices: %s", report)
    return str(report)


def run_rollover(conditions: dict[str, Any] | None = None) -> dict[str, Any]:
    """ILM where the cluster has it (policy installed/attached), else a conditional rollover."""
    settings = get_settings()
    client = make_client(settings)
    wanted = RolloverConditions(**conditions) if conditions else RolloverConditions()
    if ilm_supported(client):
        return apply_ilm(client, settings.indices, wanted, load_config().retention_days)
    result = rollover(client, settings.indices, wanted)
    return {"mode": "rollover", **asdict(result)}


def run_retention(at: datetime | str, dry_run: bool = False) -> dict[str, Any]:
    """Retention with `retention_days` from the brands config, counted back from `at`."""
    settings = get_settings()
    result = apply_retention(
        make_client(settings), settings.indices, load_config().retention_days, as_utc(at), dry_run=dry_run
    )
    return {**asdict(result), "cutoff": result.cutoff.isoformat()}
