"""Every DAG under Airflow's own runner, not only `dag.test()` in this process:
`airflow dags test <dag> <logical date>` from the CLI for all three DAGs, and
one run under a running scheduler (`airflow standalone`, started with the
README's own commands), against the real node and a real SMTP server.

Airflow hands tasks pendulum datetimes; only this path shows what the task
boundary does with them.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from brandpulse.dev.sample_data import write_sample

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLE_SCALE = 0.25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


class World:
    """One state folder, index prefix, brands file and SMTP sink for the module."""

    def __init__(self, root: Path, es_url: str, sink: Sink, smtp_port: int) -> None:
        self.root = root
        self.state = root / "state"
        self.sink = sink
        sample, self.incident = write_sample(self.state / "sample", scale=SAMPLE_SCALE)
        self.rows = sum(1 for _ in sample.open())
        self.config = root / "brands.yaml"
        self.config.write_text((REPO / "brands.yaml").read_text())  # the shipped example, as is
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ES_", "BRANDPULSE_"))
        }
        self.env.update(
            BRANDPULSE_STATE_DIR=str(self.state),
            BRANDPULSE_CONFIG=str(self.config),
            BRANDPULSE_INDEX_PREFIX=f"t{uuid.uuid4().hex[:10]}",
            ES_URL=es_url,
            BRANDPULSE_SMTP_HOST="127.0.0.1",
            BRANDPULSE_SMTP_PORT=str(smtp_port),
            BRANDPULSE_SMTP_SECURITY="none",
            BRANDPULSE_SMTP_FROM="alerts@brandpulse.test",
            BRANDPULSE_SMTP_RETRIES="0",
            PATH=os.environ.get("PATH", ""),
        )

    def airflow(self, *args: str, config: Path | None = None, timeout: float = 600) -> str:
        """`airflow ARGS` in the environment the README sets up; returns its output."""
        env = dict(self.env)
        if config is not None:
            env["BRANDPULSE_CONFIG"] = str(config)
        command = f'eval "$({BIN}/brandpulse airflow-env)" && exec {BIN}/airflow ' + " ".join(args)
        done = subprocess.run(
            ["bash", "-c", command],
            env=env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"airflow {' '.join(args)} exited {done.returncode}:\n{output[-4000:]}"
        return output

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.state / "airflow" / "airflow.db")

    def task_states(self, dag_id: str) -> dict[str, tuple[str, int]]:
        """(state, try_number) per task (and map index) of the DAG's latest run."""
        with self.db() as db:
            (run_id,) = db.execute(
                "select run_id from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)
            ).fetchone()
            rows = db.execute(
                "select task_id, map_index, state, try_number from task_instance "
                "where dag_id = ? and run_id = ?",
                (dag_id, run_id),
            ).fetchall()
        return {f"{t}[{m}]" if m >= 0 else t: (s, n) for t, m, s, n in rows}

    def run_state(self, dag_id: str) -> str | None:
        with self.db() as db:
            row = db.execute(
                "select state from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)
            ).fetchone()
        return row[0] if row else None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, es_url: str):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        w = World(tmp_path_factory.mktemp("airflow-runner"), es_url, sink, controller.port)
        w.airflow("db", "migrate")
        yield w
    finally:
        controller.stop()


def es_client(world: World):
    from elasticsearch import Elasticsearch

    return Elasticsearch(world.env["ES_URL"])


def prefix(world: World) -> str:
    return world.env["BRANDPULSE_INDEX_PREFIX"]


def first_alerting_bucket_end(world: World) -> datetime:
    """The end of the first bucket after the sample incident's onset that the
    alerts check itself would judge anomalous (same history, same detector)."""
    from alerts.check import history_from
    from alerts.detector import DetectorParams, detect
    from alerts.series import fetch_series
    from brandpulse.core.config import load_config
    from brandpulse.core.settings import IndexNames

    brand = load_config(world.config).brand(world.incident["brand"])
    params = DetectorParams.from_settings(brand.alerts)
    step = timedelta(minutes=params.bucket_minutes)
    onset = datetime.fromisoformat(world.incident["onset"])
    bucket = onset - (onset - onset.replace(minute=0)) % step
    for _ in range(24):
        start = history_from(
            es_client(world), IndexNames(prefix(world)), brand.name, bucket, params.bucket_minutes
        )
        negatives, totals = fetch_series(
            es_client(world),
            IndexNames(prefix(world)),
            brand.name,
            start,
            bucket + step,
            params.bucket_minutes,
        )
        if detect(negatives, totals, start, params).fired[-1]:
            return bucket + step
        bucket += step
    pytest.fail("the shipped detector does not fire on the sample incident within 6 hours")


def test_ingest_dag_under_airflow_dags_test_indexes_and_enriches_the_sample(world: World):
    output = world.airflow("dags", "test", "brandpulse_ingest", "2026-11-15T00:00:00+00:00")
    assert world.run_state("brandpulse_ingest") == "success"
    # the long steps say how far they are (issue 12.1), and the model loads quietly
    assert "progress: enrich " in output and "progress: topics " in output
    assert "LOAD REPORT" not in output and "Consider training" not in output
    es = es_client(world)
    mentions = f"{prefix(world)}-mentions"
    es.indices.refresh(index=mentions)
    indexed = es.count(index=mentions)["count"]
    quarantined = es.count(index=f"{prefix(world)}-quarantine", ignore_unavailable=True)["count"]
    assert indexed > 0.9 * world.rows and indexed + quarantined >= world.rows * 0.99
    enriched = es.count(index=mentions, query={"exists": {"field": "sentiment.label"}})["count"]
    assert enriched == indexed


def test_alerts_dag_under_airflow_dags_test_delivers_the_incident_mail(world: World):
    logical = first_alerting_bucket_end(world)
    world.airflow("dags", "test", "brandpulse_alerts", logical.isoformat())
    assert world.run_state("brandpulse_alerts") == "success"
    assert world.sink.messages, "no alert e-mail reached the SMTP sink"
    message = world.sink.messages[0]
    assert "Northwind Coffee" in message["Subject"] and "negative" in message["Subject"]
    assert message["Message-ID"].startswith("<northwind-coffee-")
    html = message.get_body(("html",)).get_content()
    assert "far more negative posts than usual" in html or "share of negative posts" in html


def test_maintenance_dag_under_airflow_dags_test(world: World):
    world.airflow("dags", "test", "brandpulse_maintenance", "2026-11-16T00:00:00+00:00")
    assert world.run_state("brandpulse_maintenance") == "success"
    states = world.task_states("brandpulse_maintenance")
    assert {s for s, _ in states.values()} == {"success"}


def test_a_fatal_source_fails_at_once_and_a_source_with_nothing_to_read_is_skipped(world: World):
    config = world.root / "broken.yaml"
    config.write_text(
        "brands:\n"
        "  - name: lost-file\n    query: coffee\n"
        f"    sources:\n      file: {{path: {world.root / 'nowhere' / 'missing.jsonl'}}}\n"
        "  - name: no-keys\n    query: coffee\n    sources:\n      x: {}\n"
    )
    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:  # the run fails, so `dags test` exits non-zero
        world.airflow("dags", "test", "brandpulse_ingest", "2026-11-15T00:15:00+00:00", config=config)
    output = str(failed.value)
    assert "no such file" in output
    assert time.monotonic() - started < 120  # no retries with their backoff
    states = world.task_states("brandpulse_ingest")
    ingest = {k: v for k, v in states.items() if k.startswith("ingest[")}
    assert sorted(s for s, _ in ingest.values()) == ["failed", "skipped"]
    assert all(tries == 1 for s, tries in ingest.values() if s == "failed")


def test_one_run_under_a_running_scheduler_started_with_the_readme_commands(world: World):
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Running the DAGs in Airflow.*?```\n(.*?)```", readme, re.S)
    assert block, "README lost its 'Running the DAGs in Airflow' commands"
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert lines == ['eval "$(.venv/bin/brandpulse airflow-env)"', ".venv/bin/airflow standalone"]
    port = free_port()
    env = dict(world.env, AIRFLOW__API__PORT=str(port))
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    # the README's two lines, verbatim, from the repository root
    script = "set -e\n" + "\n".join(lines).replace(".venv/bin/", f"{BIN}/") + "\n"
    log = (world.root / "standalone.log").open("w")
    server = subprocess.Popen(
        ["bash", "-c", script],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_health(port, server, world.root / "standalone.log")
        sent_before = len(world.sink.messages)
        for dag_id in ("brandpulse_maintenance", "brandpulse_alerts"):
            with world.db() as db:
                db.execute("delete from dag_run where dag_id = ?", (dag_id,))
            world.airflow("dags", "unpause", dag_id)  # unpausing starts the latest run at once
        deadline = time.monotonic() + 420
        states: dict[str, str | None] = {}
        while time.monotonic() < deadline:
            states = {d: world.run_state(d) for d in ("brandpulse_maintenance", "brandpulse_alerts")}
            if all(s in ("success", "failed") for s in states.values()):
                break
            time.sleep(3)
        tail = (world.root / "standalone.log").read_text(errors="replace")[-3000:]
        assert states == {"brandpulse_maintenance": "success", "brandpulse_alerts": "success"}, tail
        # the incident's episode, judged again at today's date, is over: its note went out
        assert len(world.sink.messages) >= sent_before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


def wait_for_health(port: int, server: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"airflow standalone exited {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                health = json.load(response)
            if all(
                (health.get(part) or {}).get("status") == "healthy" for part in ("metadatabase", "scheduler")
            ):
                return
        except OSError:
            pass
        time.sleep(2)
    pytest.fail(f"airflow standalone not healthy after {timeout:.0f} s:\n{log.read_text()[-3000:]}")
