"""The task functions the three DAGs call: the one place where Airflow meets
the pipeline.

DAG files stay wiring; every function here takes what Airflow hands a task
(pendulum datetimes, params dicts, the run id), turns it into plain values at
the boundary (`brandpulse.core.timeutil.as_utc`), calls the pipeline step, and maps
its outcome to Airflow's: a fatal source error fails the task at once, without
retries (`AirflowFailException`), a source with nothing to read is skipped
(`AirflowSkipException`), anything else raises and is retried. Return values
are small dicts (XComs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from brandpulse.core.errors import FatalSourceError, NothingToRead
from brandpulse.core.timeutil import as_utc
from brandpulse.pipeline import alert_check, enrich, ingest, maintenance

log = logging.getLogger(__name__)

#: the Airflow SMTP connection the alerts DAG reads when BRANDPULSE_SMTP_* is unset
SMTP_CONNECTION = "brandpulse_smtp"


def _airflow_exceptions() -> tuple[type[Exception], type[Exception]]:
    """(fail without retries, skip), imported only inside a task."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    return AirflowFailException, AirflowSkipException


@contextmanager
def airflow_outcomes(what: str) -> Iterator[None]:
    """Map the error classes (`brandpulse.core.errors`) to Airflow task outcomes:
    fatal fails without retries, nothing-to-read skips, retriable (and anything
    else) raises for Airflow's retries."""
    fail, skip = _airflow_exceptions()
    try:
        yield
    except FatalSourceError as exc:
        raise fail(f"{what}: {exc}") from exc
    except NothingToRead as exc:
        raise skip(f"{what}: {exc}") from exc


def _skip_if(summary: dict[str, Any], what: str) -> dict[str, Any]:
    if summary.get("status") == "skipped":
        _, skip = _airflow_exceptions()
        raise skip(summary.get("message") or f"{what}: nothing to read")
    return summary


# -- ingest ---------------------------------------------------------------------------


def prepare_indices() -> str:
    return maintenance.prepare_indices()


def plan_pairs() -> list[dict[str, str]]:
    return ingest.plan_pairs()


def brand_names() -> list[str]:
    return ingest.brand_names()


def ingest_pair(pair: dict[str, str], run_id: str | None = None) -> dict[str, Any]:
    """One (brand, source) pair."""
    what = f"ingest {pair['brand']}/{pair['source']}"
    with airflow_outcomes(what):
        return _skip_if(ingest.ingest_pair(pair["brand"], pair["source"], run_id=run_id), what)


def enrich_brand(brand: str) -> dict[str, Any]:
    return enrich.enrich_brand(brand)


# -- alerts ---------------------------------------------------------------------------


def check_alerts(brand: str, data_interval_end: datetime | str | None, run_id: str | None = None) -> dict:
    """The alerts check of one brand at the end of the run's data interval.

    Deliveries that stay unsent fail the task (Airflow retries it; the retry
    judges nothing twice and only re-sends); no notifier at all is a
    configuration error and fails it at once."""
    if data_interval_end is None:
        raise ValueError("the alerts check needs the run's data interval")
    summary = alert_check.check_alerts_for(
        brand, at=as_utc(data_interval_end), run_id=run_id, smtp_connection=SMTP_CONNECTION
    )
    if summary["unsent"]:
        fail, _ = _airflow_exceptions()
        if summary.get("notifiers", 1) == 0:
            raise fail(
                f"alerts {brand}: {len(summary['unsent'])} alert(s) to send but no notifier configured: "
                f"set BRANDPULSE_SMTP_HOST (or the Airflow connection {SMTP_CONNECTION}) "
                "or BRANDPULSE_WEBHOOK_URL"
            )
        raise RuntimeError(
            f"alerts {brand}: {len(summary['unsent'])} alert(s) unsent ({', '.join(summary['unsent'])}); "
            "they are retried on the next try"
        )
    return summary


# -- maintenance ----------------------------------------------------------------------


def rollover(params: dict[str, Any] | None = None) -> dict:
    keys = ("max_age", "max_primary_shard_size", "max_docs")
    return maintenance.run_rollover({k: (params or {}).get(k) for k in keys})


def retention(data_interval_end: datetime | str | None, params: dict[str, Any] | None = None) -> dict:
    if data_interval_end is None:
        raise ValueError("retention needs the run's data interval")
    dry_run = bool((params or {}).get("retention_dry_run"))
    return maintenance.run_retention(as_utc(data_interval_end), dry_run=dry_run)
