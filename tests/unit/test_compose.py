"""docker-compose.yml (Docker is not available here): it parses, has the services
and ports the docs promise, and its environment is the one the code reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from alerts.notifiers import SmtpConfig
from brandpulse.airflow_env import SECRET_NAMES
from brandpulse.core.settings import Settings
from brandpulse.kibana.importer import KibanaAuth

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-worker-2",
)
ES_NODES = ("elasticsearch", "elasticsearch-2")
_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error}; `$$` is a literal `$`."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in env and (env[name] or not (op or "").startswith(":")):
            return env[name]
        if op and op.endswith("?"):
            raise AssertionError(f"${{{name}}} is required but not in .env.example")
        return arg or ""

    return _VAR.sub(one, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def service_env(compose: dict, name: str) -> dict[str, str]:
    raw = compose["services"][name].get("environment", {})
    return {k: interpolate(str(v), env_example()) for k, v in raw.items()}


def test_services_and_published_ports(compose) -> None:
    services = compose["services"]
    required = {*ES_NODES, "kibana", "postgres", "redis", "mailpit", *AIRFLOW}
    assert required <= set(services)
    published = {name: {p.split(":")[-1] for p in spec.get("ports", [])} for name, spec in services.items()}
    assert published["elasticsearch"] == {"9200"} and published["elasticsearch-2"] == set()
    assert published["kibana"] == {"5601"}
    assert published["airflow-apiserver"] == {"8080"}
    assert published["mailpit"] == {"8025"}
    for name, spec in services.items():
        for port in spec.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert "elasticsearch" in services["elasticsearch"]["image"] and "kibana" in services["kibana"]["image"]
    for name in AIRFLOW:
        assert interpolate(services[name]["image"], env_example()).startswith("apache/airflow:3.")


def test_airflow_components_share_secrets_and_run_celery_on_postgres(compose) -> None:
    envs = {name: service_env(compose, name) for name in AIRFLOW}
    for name in SECRET_NAMES:
        values = {env[name] for env in envs.values()}
        assert len(values) == 1 and values != {""}, f"{name} differs between Airflow components"
    commands = {name: str(compose["services"][name]["command"]) for name in AIRFLOW}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-worker"] == commands["airflow-worker-2"] == "celery worker"
    for env in envs.values():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres"
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
        api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (api.hostname, str(api.port)) == ("airflow-apiserver", "8080")
        mount = "/opt/brandpulse"
        assert env["PYTHONPATH"] == mount and env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{mount}/dags"
    volumes = compose["services"]["airflow-worker"]["volumes"]
    assert any(v.split(":")[1] == "/opt/brandpulse" for v in volumes)


def test_brandpulse_environment_matches_the_settings(compose, monkeypatch: pytest.MonkeyPatch) -> None:
    aliases = {f.validation_alias for f in Settings.model_fields.values() if f.validation_alias}
    for name in AIRFLOW:
        env = service_env(compose, name)
        ours = {
            k for k in env if k.startswith(("ES_", "BRANDPULSE_")) and not k.startswith("BRANDPULSE_SMTP_")
        }
        assert ours <= aliases, f"{name}: unknown settings {ours - aliases}"
        for key in list(env):
            monkeypatch.delenv(key, raising=False)
        settings = Settings(**{k: v for k, v in env.items() if k in aliases})
        nodes = [urlsplit(url) for url in settings.es_hosts]
        assert [(es.hostname, es.port) for es in nodes] == [(n, 9200) for n in ES_NODES]
        assert not settings.embedded
        assert settings.es_password is not None
        for node in ES_NODES:
            assert settings.es_password.get_secret_value() == service_env(compose, node)["ELASTIC_PASSWORD"]
        assert settings.config_path.as_posix().startswith("/opt/brandpulse/")
        smtp = SmtpConfig.from_env(env)
        assert (smtp.host, smtp.effective_port, smtp.security) == ("mailpit", 1025, "none")
    mailpit = service_env(compose, "mailpit")
    assert mailpit["MP_SMTP_BIND_ADDR"].endswith(":1025")


def test_connector_credentials_are_passed_through(compose) -> None:
    from listeners.registry import registry

    env = service_env(compose, "airflow-worker")
    needed: set[str] = set()
    for name in registry.names():
        connector = registry.get(name)
        needed |= set(connector.credentials) | {s.env for s in getattr(connector, "secrets", ())}
    assert needed
    assert needed <= set(env), f"credentials not passed to the workers: {needed - set(env)}"
    assert needed <= set(env_example())


def test_kibana_and_dashboard_import(compose) -> None:
    kibana = service_env(compose, "kibana")
    hosts = json.loads(kibana["ELASTICSEARCH_HOSTS"])
    assert [urlsplit(h).hostname for h in hosts] == list(ES_NODES)
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"
    setup = compose["services"]["kibana-setup"]
    assert setup["command"][-4:] == ["kibana", "import", "--url", "http://kibana:5601"]
    auth = KibanaAuth.from_env(service_env(compose, "kibana-setup"))
    assert auth.username == "elastic" and auth.basic() is not None


def test_env_example_defines_every_required_variable(compose) -> None:
    text = (REPO / "docker-compose.yml").read_text()
    required = {m.group(1) for m in _VAR.finditer(text) if (m.group(2) or "").endswith("?") or not m.group(2)}
    assert required <= set(env_example()), f"missing from .env.example: {required - set(env_example())}"
    secrets = ("ELASTIC_PASSWORD", "POSTGRES_PASSWORD", *SECRET_NAMES)
    assert all(env_example()[name].startswith("change-me") for name in secrets)
