"""Shared fixtures. Integration tests run against a real Elasticsearch node on
127.0.0.1, started once per session by `brandpulse.dev.es_node` (or an already
running one: set BRANDPULSE_TEST_ES_URL). Each test gets its own index prefix.

Airflow reads its configuration once per process, at its first import, and
any test may be the first to import it: one Airflow home for the whole
session is set before collection (`pytest_configure`), so nothing is read from
or written to ~/airflow and every in-process DAG run uses the same migrated DB."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_ENV: dict[str, str] = {}


def pytest_configure(config: pytest.Config) -> None:
    from brandpulse.airflow_env import airflow_env
    from brandpulse.core.settings import Settings

    root = Path(tempfile.mkdtemp(prefix="brandpulse-tests-airflow-"))
    _AIRFLOW_ENV.update(airflow_env(Settings(state_dir=root)))
    os.environ.update(_AIRFLOW_ENV)


@pytest.fixture(scope="session")
def airflow_home() -> dict[str, str]:
    """The session's Airflow environment, its metadata DB migrated (once)."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        env={**os.environ, **_AIRFLOW_ENV},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return dict(_AIRFLOW_ENV)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Elasticsearch node for this test session."""
    given = os.environ.get("BRANDPULSE_TEST_ES_URL")
    if given:
        yield given
        return
    from brandpulse.dev import es_node

    state_dir = Path(os.environ.get("BRANDPULSE_TEST_ES_STATE", tmp_path_factory.mktemp("es-node")))
    port = int(os.environ.get("BRANDPULSE_TEST_ES_PORT", _free_port()))
    info = es_node.start(port=port, state_dir=state_dir)
    try:
        yield info.url
    finally:
        es_node.stop(state_dir=state_dir)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> pytest.MonkeyPatch:
    """An isolated brandpulse environment (state folder, no real-cluster variables)."""
    for name in ("ES_URL", "ES_API_KEY", "ES_USERNAME", "ES_PASSWORD", "BRANDPULSE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRANDPULSE_STATE_DIR", str(state_dir))
    return monkeypatch


@pytest.fixture
def es_env(env: pytest.MonkeyPatch, es_url: str) -> str:
    """Settings point at the test node with a fresh index prefix; returns the prefix."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env.setenv("ES_URL", es_url)
    env.setenv("BRANDPULSE_INDEX_PREFIX", prefix)
    return prefix


@pytest.fixture
def settings(es_env: str):
    from brandpulse.core.settings import get_settings

    return get_settings()


@pytest.fixture
def es(settings):
    """A client on the test node; the test's indices are deleted afterwards."""
    from indexing.client import make_client

    client = make_client(settings)
    yield client
    client.options(ignore_status=404).indices.delete(index=f"{settings.index_prefix}-*")
    client.options(ignore_status=404).indices.delete_index_template(name=f"{settings.index_prefix}-*")


@pytest.fixture
def ready(es, settings):
    """Templates and aliases installed."""
    from indexing.templates import ensure_indices

    ensure_indices(es, settings.indices)
    return es
