"""Alerts DAG: every bucket (15 minutes), per brand, judge the new buckets of
negative volume, advance alert episodes and send what is due.

Wiring only (the task functions live in brandpulse.tasks). Idempotent for its
data interval: the check runs at the end of the interval, and episodes plus
evaluation marks live in Elasticsearch, so a re-run or a restarted scheduler
sends nothing twice; after downtime the missed buckets are judged once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task

DEFAULT_ARGS = {
    "owner": "brandpulse",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
}


@dag(
    dag_id="brandpulse_alerts",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["brandpulse", "alerts"],
    doc_md=__doc__,
)
def brandpulse_alerts():
    @task
    def brands() -> list[str]:
        from brandpulse import tasks

        return tasks.brand_names()

    @task(max_active_tis_per_dagrun=4)
    def check(brand: str, data_interval_end=None, run_id: str | None = None) -> dict:
        from brandpulse import tasks

        return tasks.check_alerts(brand, data_interval_end, run_id=run_id)

    check.expand(brand=brands())


brandpulse_alerts()
