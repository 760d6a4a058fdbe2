"""The configuration `make scaleout-check` generates (brandpulse.dev.scaleout.build_config),
checked without starting anything: one shared Airflow environment on CeleryExecutor,
PostgreSQL and Redis on the loopback, a two-node Elasticsearch cluster that the client
reaches through both nodes, and docker-compose.yml describing the same set-up."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from brandpulse.core.config import load_config
from brandpulse.core.settings import Settings
from brandpulse.dev import es_node, scaleout

REPO = Path(__file__).resolve().parents[2]
SECRETS = {name: f"secret-{i}" for i, name in enumerate(scaleout.AIRFLOW_SECRET_NAMES)}
SHARED_DEV_NODE = 9250  # another engineer's node on this machine: never ours


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> scaleout.ScaleoutConfig:
    state = tmp_path_factory.mktemp("scaleout-state")
    return scaleout.build_config(
        secrets=SECRETS, pg_password="pw", state_dir=state, python="/venv/bin/python"
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_ports_are_distinct_loopback_and_not_the_shared_node(cfg) -> None:
    ports = cfg.ports.all()
    assert len(ports) == len(set(ports)) == 10
    assert SHARED_DEV_NODE not in ports and all(1024 < p < 65536 for p in ports)
    env = cfg.env
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
                "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL"):  # fmt: skip
        assert urlsplit(env[key]).hostname == "127.0.0.1", key
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1" and env["BRANDPULSE_SMTP_HOST"] == "127.0.0.1"
    assert "listen_addresses=127.0.0.1" in cfg.postgres.server_options()
    assert cfg.redis_argv[cfg.redis_argv.index("--bind") + 1] == "127.0.0.1"


def test_every_airflow_component_shares_one_environment_on_celery_and_postgres(cfg) -> None:
    names = [s.name for s in cfg.services]
    assert names == ["api-server", "scheduler", "dag-processor", "worker-1", "worker-2"]
    for service in cfg.services:
        for key, value in cfg.env.items():
            assert service.env[key] == value, f"{service.name}: {key}"
        assert service.argv[0] == "/venv/bin/airflow"
    assert {s.env[n] for s in cfg.services for n in scaleout.AIRFLOW_SECRET_NAMES} == set(SECRETS.values())
    env = cfg.env
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (db.scheme, db.port, db.path) == ("postgresql+psycopg2", cfg.ports.postgres, "/airflow")
    assert urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"]).scheme == "db+postgresql+psycopg2"
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).port == cfg.ports.redis
    assert urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).port == cfg.ports.api
    assert env["AIRFLOW__API__PORT"] == str(cfg.ports.api)
    assert env["PYTHONPATH"] == str(REPO) and env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")
    assert env["PATH"].startswith("/venv/bin:")  # airflow spawns `airflow ...`
    # the check triggers its own runs; a killed worker's task is retried within minutes
    assert env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "False"
    assert int(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"]) <= 120


def test_two_celery_workers_with_their_own_names_and_log_ports(cfg) -> None:
    workers = [s for s in cfg.services if s.name.startswith("worker-")]
    assert [w.argv[1:3] for w in workers] == [["celery", "worker"]] * 2
    hostnames = {w.argv[w.argv.index("--celery-hostname") + 1] for w in workers}
    assert len(hostnames) == 2
    log_ports = {w.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] for w in workers}
    assert log_ports == {str(p) for p in cfg.ports.worker_logs}


def test_two_elasticsearch_nodes_discover_each_other(cfg) -> None:
    a, b = cfg.es_nodes
    assert a.name != b.name and a.state_dir != b.state_dir
    transports = {f"127.0.0.1:{p}" for p in cfg.ports.es_transport}
    for node in cfg.es_nodes:
        settings = cfg.es_node_settings[node.name]
        assert settings["discovery.type"] == "multi-node"
        assert settings["transport.port"] == str(node.transport_port)
        assert set(settings["discovery.seed_hosts"].split(",")) == transports
        assert set(settings["cluster.initial_master_nodes"].split(",")) == {a.name, b.name}
    assert cfg.replicas == 1


def test_the_launcher_command_single_node_default_is_unchanged(cfg, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    single = es_node._java_cmd(lib, 9200, tmp_path)
    assert "--setting" not in single and "--node-name" not in single
    assert single[-4:] == ["--state-dir", str(tmp_path), "--port", "9200"]
    node = cfg.es_nodes[1]
    cmd = es_node._java_cmd(lib, node.http_port, node.state_dir, node.name, cfg.cluster_name,
                            cfg.es_node_settings[node.name])  # fmt: skip
    pairs = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--setting"]
    assert f"transport.port={node.transport_port}" in pairs and "discovery.type=multi-node" in pairs
    assert cmd[cmd.index("--node-name") + 1] == node.name
    assert cmd[cmd.index("--cluster-name") + 1] == cfg.cluster_name


def test_the_project_client_is_given_both_nodes(cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ES_API_KEY", "ES_USERNAME", "ES_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(ES_URL=cfg.env["ES_URL"])
    assert settings.es_hosts == [n.url for n in cfg.es_nodes]
    assert cfg.env["BRANDPULSE_INDEX_PREFIX"] == scaleout.INDEX_PREFIX


def test_the_brands_file_validates_with_the_incident_brand_first(cfg, tmp_path: Path) -> None:
    path = tmp_path / "brands.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "brands": cfg.brands}, sort_keys=False))
    config = load_config(path)
    names = [b.name for b in config.brands]
    assert names[0] == scaleout.INCIDENT_BRAND and len(names) >= 4 and len(set(names)) == len(names)


def test_docker_compose_describes_the_same_set_up(cfg, compose) -> None:
    services = compose["services"]
    versions = scaleout.VERSIONS
    # same engines and versions
    assert services["postgres"]["image"] == f"postgres:{versions['postgres']}"
    assert services["redis"]["image"].startswith(f"redis:{versions['redis']}")
    es = [name for name, s in services.items() if "elasticsearch/elasticsearch" in s["image"]
          and "command" not in s]  # fmt: skip
    assert es == ["elasticsearch", "elasticsearch-2"]
    for name in es:
        assert services[name]["image"].endswith(f":${{STACK_VERSION:-{versions['elasticsearch']}}}")
    airflow_image = f"apache/airflow:{versions['airflow']}-python{versions['python']}"
    assert compose["x-airflow-common"]["image"] == f"${{AIRFLOW_IMAGE:-{airflow_image}}}"
    # the cluster: names, discovery, bootstrap
    nodes = [services[name]["environment"] for name in es]
    assert [n["node.name"] for n in nodes] == [n.name for n in cfg.es_nodes]
    for env in nodes:
        assert env["cluster.name"] == cfg.cluster_name
        assert env["discovery.seed_hosts"] == ",".join(es)
        assert env["cluster.initial_master_nodes"] == ",".join(n.name for n in cfg.es_nodes)
        assert "discovery.type" not in env
    # Airflow: the same settings as the check, the client given both nodes, two workers
    airflow_env = compose["x-airflow-common"]["environment"]
    for key in ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__WORKER_CONCURRENCY",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"):  # fmt: skip
        assert str(airflow_env[key]) == cfg.env[key], key
    assert airflow_env["ES_URL"] == ",".join(f"http://{name}:9200" for name in es)
    workers = [name for name, s in services.items() if str(s.get("command")) == "celery worker"]
    assert workers == ["airflow-worker", "airflow-worker-2"]
    # replicas: the same template installer as the check, one replica
    setup = services["es-templates"]
    assert setup["command"][:3] == ["python", "-m", "brandpulse.dev.scaleout"]
    assert setup["command"][-2:] == ["--install-templates", str(cfg.replicas)]
