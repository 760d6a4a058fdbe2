"""Maintenance DAG: keep the mention indices healthy and lawful, daily.

1. install/upgrade index templates (a template version bump rolls over);
2. rollover: an ILM policy where the cluster supports ILM, otherwise a
   conditional rollover of the write alias (params `max_age`,
   `max_primary_shard_size`, `max_docs`);
3. retention: delete mentions older than `retention_days` (brands config),
   counted back from the end of the data interval, so a re-run is repeatable.

Wiring only: the task functions live in brandpulse.tasks, imported inside the tasks.
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
        from brandpulse import tasks

        return tasks.prepare_indices()

    @task
    def rollover(params: dict | None = None) -> dict:
        from brandpulse import tasks

        return tasks.rollover(params)

    @task
    def retention(data_interval_end=None, params: dict | None = None) -> dict:
        from brandpulse import tasks

        return tasks.retention(data_interval_end, params)

    prepare_indices() >> rollover() >> retention()


brandpulse_maintenance()
