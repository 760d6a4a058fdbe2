"""Ingest DAG: for every (brand, source) in the brands config, fetch new
mentions and write them raw to Elasticsearch (cursor moves after the ack),
then enrich each brand's new mentions (language, sentiment) in place.

Wiring only: the task functions live in brandpulse.tasks, imported
inside the tasks so that parsing this file stays cheap. XComs carry only pairs
and counts; no files are shared between tasks (Local, Celery and Kubernetes
executors run it unchanged).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task

# Enrichment is CPU-bound: each mapped enrich task is one process with
# BRANDPULSE_TORCH_THREADS torch threads. Keep ENRICH_TASKS x threads within the
# cores a worker gives (nlp/README.md, "Parallelism"); the pool caps them across runs.
ENRICH_TASKS = int(os.environ.get("BRANDPULSE_ENRICH_TASKS", "1"))
ENRICH_POOL = os.environ.get("BRANDPULSE_ENRICH_POOL", "default_pool")

DEFAULT_ARGS = {
    "owner": "brandpulse",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id="brandpulse_ingest",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["brandpulse", "ingest"],
    doc_md=__doc__,
)
def brandpulse_ingest():
    @task
    def prepare_indices() -> str:
        from brandpulse import tasks

        return tasks.prepare_indices()

    @task
    def plan_pairs() -> list[dict[str, str]]:
        from brandpulse import tasks

        return tasks.plan_pairs()

    @task(max_active_tis_per_dagrun=4)
    def ingest(pair: dict[str, str], run_id: str | None = None) -> dict:
        from brandpulse import tasks

        return tasks.ingest_pair(pair, run_id=run_id)

    @task
    def brands() -> list[str]:
        from brandpulse import tasks

        return tasks.brand_names()

    # ENRICH_TASKS model processes at a time (default one); a skipped source does not
    # hold enrichment back (a failed one does: the next run enriches what it wrote)
    @task(max_active_tis_per_dagrun=ENRICH_TASKS, pool=ENRICH_POOL, trigger_rule="none_failed")
    def enrich(brand: str) -> dict:
        from brandpulse import tasks

        return tasks.enrich_brand(brand)

    pairs = plan_pairs()
    prepare_indices() >> pairs
    ingest.expand(pair=pairs) >> enrich.expand(brand=brands())


brandpulse_ingest()
