"""Maintenance DAG: keep the mention indices healthy and lawful, daily.

1. install/upgrade index templates (a template version bump rolls over);
2. rollover: an ILM policy where the cluster supports ILM, otherwise a
   conditional rollover of the write alias (params `max_age`,
   `max_primary_shard_size`, `max_docs`);
3. retention: delete mentions older than `retention_days` (brands config),
   counted back from the end of the data interval, so a re-run is repeatable.

Wiring only: the logic lives in indexing.lifecycle, imported inside the tasks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

DEFAULT_ARGS = {
    "owner": "brandpulse",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


@dag(
    dag_id="brandpulse_maintenance",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["brandpulse", "maintenance"],
    params={
        "max_age": Param("30d", type="string"),
        "max_primary_shard_size": Param("50gb", type="string"),
        "max_docs": Param(None, type=["null", "integer"]),
        "retention_dry_run": Param(False, type="boolean"),
    },
    doc_md=__doc__,
)
def brandpulse_maintenance():
    @task
    def prepare_indices() -> str:
        from brandpulse.pipeline import prepare_indices

        return prepare_indices()

    @task
    def rollover(params: dict | None = None) -> dict:
        from indexing.lifecycle import run_rollover

        keys = ("max_age", "max_primary_shard_size", "max_docs")
        return run_rollover({k: (params or {}).get(k) for k in keys})

    @task
    def retention(data_interval_end: datetime | None = None, params: dict | None = None) -> dict:
        from indexing.lifecycle import run_retention

        if data_interval_end is None:
            raise ValueError("retention needs the run's data interval")
        return run_retention(data_interval_end, dry_run=bool((params or {}).get("retention_dry_run")))

    prepare_indices() >> rollover() >> retention()


brandpulse_maintenance()
