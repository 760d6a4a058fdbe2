"""The demo: local Elasticsearch + the sample dataset through the real ingest DAG."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from brandpulse.settings import get_settings


def run_dag(dag_id: str) -> str:
    """Run one DAG in this process with `dag.test()` (no scheduler needed).

    Returns the run's state; raises if the DAG has import errors or fails."""
    from brandpulse.airflow_env import apply_airflow_env, migrate_db

    apply_airflow_env()
    migrate_db()
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    run = bag.dags[dag_id].test()
    state = str(getattr(run.state, "value", run.state))
    if state != "success":
        raise RuntimeError(f"DAG {dag_id} ended {state}")
    return state


def run_dag_logged(dag_id: str, log_file: Path) -> None:
    """`run_dag` in a child process whose (verbose) Airflow output goes to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "brandpulse.demo", dag_id], stdout=sink, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"DAG {dag_id} failed; last lines of {log_file}:\n{tail}")


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
    say(f"running the ingest DAG with dag.test() (Airflow's log: {log_file})")
    started = time.monotonic()
    run_dag_logged("brandpulse_ingest", log_file)
    say(f"ingest DAG finished: success in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":  # used by run_dag_logged
    run_dag(sys.argv[1])
