"""The demo: local Elasticsearch + the sample dataset through the real ingest DAG."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from brandpulse.settings import get_settings


def run_dag(dag_id: str, log_file: Path | None = None) -> str:
    """Run one DAG in-process with `dag.test()` (no scheduler needed); return its state.

    Airflow's task logs go to `log_file` when given (they are verbose)."""
    import contextlib

    from brandpulse.airflow_env import apply_airflow_env, migrate_db

    apply_airflow_env()
    migrate_db()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags[dag_id]
    if log_file is None:
        run = dag.test()
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            run = dag.test()
    state = str(getattr(run.state, "value", run.state))
    if state != "success":
        raise RuntimeError(f"DAG {dag_id} ended {state}; see {log_file or 'the output above'}")
    return state


def run_demo(port: int | None, config_path: Path, say: Callable[[str], None]) -> None:
    from brandpulse import es_node
    from brandpulse.pipeline import prepare_indices
    from brandpulse.sample_data import write_sample

    os.environ["BRANDPULSE_CONFIG"] = str(config_path)
    if port:
        os.environ["BRANDPULSE_ES_PORT"] = str(port)
    settings = get_settings()

    say(f"starting Elasticsearch on 127.0.0.1:{settings.es_port} (first run builds it: a few minutes)")
    info = es_node.start(port=settings.es_port, state_dir=settings.state_dir / "es")
    say(f"Elasticsearch {info.version} is {info.health}")

    path, incident = write_sample(settings.state_dir / "sample")
    say(f"sample dataset: {path}")
    say(f"injected incident: {incident['kind']} for {incident['brand']} from {incident['onset']}")

    say(f"index templates: {prepare_indices()}")
    log_file = settings.state_dir / "airflow" / "demo-dag.log"
    say(f"running the ingest DAG with dag.test() (task logs: {log_file})")
    run_dag("brandpulse_ingest", log_file=log_file)
    say("ingest DAG finished: success")
