"""`make scaleout-check`: the scaled-out deployment, run for real on one machine, with faults.

Everything on 127.0.0.1, with the engines themselves (no Docker):

* PostgreSQL (Airflow metadata) and Redis (Celery broker), from Debian packages;
* Airflow 3 with the CeleryExecutor: api-server, scheduler, dag-processor and two
  Celery workers, all sharing one environment (and so one JWT secret);
* a two-node Elasticsearch cluster: two embedded nodes (``brandpulse.dev.es_node``) that
  discover each other over their transport ports, one replica per shard; the project's
  client gets both node URLs (``ES_URL`` comma-separated).

The check generates a file of at least 50,000 mentions for several brands (the sample
data set's two brands, the incident brand at the scale the Airflow runner tests use,
plus extra brands), runs the unchanged ingest DAG over it, SIGKILLs one Celery worker
while it runs an ingest task and one Elasticsearch node while bulk requests are in
flight, restarts both, lets Airflow's retries finish, runs the alerts DAG over the
sample incident and prints one JSON line last (expected, found, duplicates, lost,
quarantined, alert e-mails, episodes, wall time, kill times). Exit status 0 when the
targets hold (found = expected, no duplicates, nothing lost or quarantined, exactly
the e-mails of a fault-free run: one, opening one episode), 1 otherwise.

Enrichment: the ingest DAG maps enrichment over every brand; on two shared cores the
full 50,000 would take far longer than the check may. The check therefore marks the
``enrich`` task instances of the non-incident brands *skipped* through Airflow's REST
API (an operator action, the DAG is unchanged) as soon as they exist; the incident
brand's mentions are all enriched, and the alerts DAG runs over them.

``build_config()`` is pure: it returns every setting, port and command the check uses,
and ``tests/unit/test_scaleout_config.py`` checks it (and its agreement with
docker-compose.yml) in CI. Usage::

    python -m brandpulse.dev.scaleout [--state-dir /tmp/scaleout-state] [--mentions 50000]
    python -m brandpulse.dev.scaleout --print-config     # the generated configuration, as JSON
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brandpulse.dev.es_node import ClusterNode, cluster_settings

if TYPE_CHECKING:
    from elastic_transport import ApiResponse
    from elasticsearch import Elasticsearch

    from brandpulse.dev.mail_sink import MailSink

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = Path("/tmp/scaleout-state")

#: what the check runs; docker-compose.yml uses the same versions (tested)
VERSIONS = {
    "airflow": "3.3.2",
    "python": "3.11",
    "postgres": "15",
    "redis": "7.0",
    "elasticsearch": "8.19.21",
}
CLUSTER_NAME = "brandpulse-scaleout"
ES_NODE_NAMES = ("es01", "es02")
REPLICAS = 1
INDEX_PREFIX = "scaleout"
INCIDENT_BRAND = "northwind-coffee"
#: the incident brand's sample scale (the Airflow runner tests' scale: the detector fires)
INCIDENT_SCALE = 0.25
#: extra brands (display name, tag) made from the sample's second brand, at EXTRA_SCALE
EXTRA_BRANDS = (
    ("globex-tea", "Globex Tea", "globextea"),
    ("initech-phones", "Initech Phones", "initechphones"),
    ("umbrella-travel", "Umbrella Travel", "umbrellatravel"),
)
#: sample scale of each extra brand per 50,000 mentions asked for (~15,700 mentions each)
EXTRA_SCALE = 2.0
AIRFLOW_SECRET_NAMES = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
)
COMPONENTS = ("api-server", "scheduler", "dag-processor", "worker-1", "worker-2")


@dataclass(frozen=True)
class Ports:
    """Every port the check binds on 127.0.0.1 (none of the shared dev node's 9250)."""

    es_http: tuple[int, int] = (9261, 9262)
    es_transport: tuple[int, int] = (9361, 9362)
    redis: int = 6390
    postgres: int = 5440
    api: int = 8090
    smtp: int = 2526
    worker_logs: tuple[int, int] = (8891, 8892)

    def all(self) -> list[int]:
        return [
            *self.es_http,
            *self.es_transport,
            self.redis,
            self.postgres,
            self.api,
            self.smtp,
            *self.worker_logs,
        ]


@dataclass(frozen=True)
class Service:
    """One long-running process: argv and its full environment."""

    name: str
    argv: list[str]
    env: dict[str, str]


@dataclass(frozen=True)
class Postgres:
    bindir: str
    data_dir: Path
    socket_dir: Path
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def celery_result_backend(self) -> str:
        return f"db+postgresql+psycopg2://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def server_options(self) -> str:
        return f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.socket_dir}"


@dataclass(frozen=True)
class ScaleoutConfig:
    state_dir: Path
    ports: Ports
    cluster_name: str
    replicas: int
    es_nodes: list[ClusterNode]
    es_node_settings: dict[str, dict[str, str]]
    postgres: Postgres
    redis_argv: list[str]
    env: dict[str, str]  # shared by every Airflow component and the check's own clients
    services: list[Service]
    brands: list[dict[str, Any]]
    min_mentions: int
    sample_file: Path
    mail_dir: Path
    versions: dict[str, str] = field(default_factory=lambda: dict(VERSIONS))

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in AIRFLOW_SECRET_NAMES:
            data["env"][key] = "***"
        for service in data["services"]:
            for key in AIRFLOW_SECRET_NAMES:
                service["env"][key] = "***"
        return json.loads(json.dumps(data, default=str))


def default_pg_bindir() -> str:
    """The newest /usr/lib/postgresql/<major>/bin, else where `initdb` is on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    if found:
        return str(found[0])
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb else "/usr/lib/postgresql/15/bin"


def build_config(
    *,
    secrets: Mapping[str, str],
    pg_password: str,
    state_dir: Path = DEFAULT_STATE_DIR,
    ports: Ports = Ports(),
    min_mentions: int = 50_000,
    python: str = sys.executable,
    pg_bindir: str = "/usr/lib/postgresql/15/bin",
    base_path: str = "/usr/bin:/bin",
) -> ScaleoutConfig:
    """Every setting, port and command of the check (pure: writes nothing, starts nothing)."""
    state_dir = Path(state_dir)
    bin_dir = str(Path(python).parent)
    airflow = str(Path(bin_dir) / "airflow")
    home = state_dir / "airflow"
    nodes = [
        ClusterNode(name, http, transport, state_dir / "es" / name)
        for name, http, transport in zip(ES_NODE_NAMES, ports.es_http, ports.es_transport, strict=True)
    ]
    postgres = Postgres(
        bindir=pg_bindir,
        data_dir=state_dir / "postgres" / "data",
        socket_dir=state_dir / "postgres" / "run",
        port=ports.postgres,
        user="airflow",
        password=pg_password,
        database="airflow",
    )
    sample_file = state_dir / "sample" / "mentions.jsonl"
    env = {
        # --- Airflow: one environment, one set of secrets, for every component -------------
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_CONFIG": str(REPO_ROOT / "airflow.cfg"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{ports.api}/execution/",
        # the check triggers its runs itself: no scheduled runs, DAGs active at once
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # a SIGKILLed worker's task is failed (and retried) after this many seconds
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # loopback-only check
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{ports.redis}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": postgres.celery_result_backend,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports.api),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        **{name: secrets[name] for name in AIRFLOW_SECRET_NAMES},
        "PYTHONPATH": str(REPO_ROOT),
        "PATH": f"{bin_dir}:{base_path}",
        "HF_HUB_OFFLINE": "1",
        # --- brandpulse (brandpulse/core/settings.py): both nodes of the cluster -----------------
        "ES_URL": ",".join(node.url for node in nodes),
        "ES_TIMEOUT_S": "30",
        "BRANDPULSE_INDEX_PREFIX": INDEX_PREFIX,
        "BRANDPULSE_STATE_DIR": str(state_dir),
        "BRANDPULSE_CONFIG": str(state_dir / "brands.yaml"),
        # --- alert e-mail (alerts/notifiers.py) to the check's SMTP sink --------------------
        "BRANDPULSE_SMTP_HOST": "127.0.0.1",
        "BRANDPULSE_SMTP_PORT": str(ports.smtp),
        "BRANDPULSE_SMTP_SECURITY": "none",
        "BRANDPULSE_SMTP_FROM": "brandpulse@localhost",
    }
    services = [
        Service("api-server", [airflow, "api-server"], dict(env)),
        Service("scheduler", [airflow, "scheduler"], dict(env)),
        Service("dag-processor", [airflow, "dag-processor"], dict(env)),
    ]
    for i, log_port in enumerate(ports.worker_logs, start=1):
        services.append(
            Service(
                f"worker-{i}",
                [airflow, "celery", "worker", "--celery-hostname", f"worker-{i}@%h"],
                {**env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port)},
            )
        )
    redis_argv = [
        "redis-server",
        "--port", str(ports.redis),
        "--bind", "127.0.0.1",
        "--dir", str(state_dir / "redis"),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
    ]  # fmt: skip
    brands: list[dict[str, Any]] = [
        {
            "name": INCIDENT_BRAND,
            "display_name": "Northwind Coffee",
            "query": '"northwind coffee" OR #northwindcoffee OR @northwindcoffee',
            "languages": ["en", "de", "fr", "es", "pt", "it"],
            "sources": {"file": {"path": "{state_dir}/sample/mentions.jsonl"}},
            "alerts": {
                "bucket_minutes": 15,
                "sensitivity": "balanced",
                "min_negative": 5,
                "recipients": ["community@northwind.example"],
            },
        },
        {
            "name": "acme-bikes",
            "display_name": "Acme Bikes",
            "query": '"acme bikes" OR #acmebikes OR @acmebikes',
            "sources": {"file": {"path": "{state_dir}/sample/mentions.jsonl"}},
            "alerts": {"sensitivity": "fewer", "recipients": ["social@acme.example"]},
        },
    ]
    for name, display, tag in EXTRA_BRANDS:
        brands.append(
            {
                "name": name,
                "display_name": display,
                "query": f'"{display.lower()}" OR #{tag} OR @{tag}',
                "sources": {"file": {"path": "{state_dir}/sample/mentions.jsonl"}},
                "alerts": {"sensitivity": "fewer", "recipients": [f"social@{tag}.example"]},
            }
        )
    return ScaleoutConfig(
        state_dir=state_dir,
        ports=ports,
        cluster_name=CLUSTER_NAME,
        replicas=REPLICAS,
        es_nodes=nodes,
        es_node_settings={node.name: cluster_settings(node, nodes) for node in nodes},
        postgres=postgres,
        redis_argv=redis_argv,
        env=env,
        services=services,
        brands=brands,
        min_mentions=min_mentions,
        sample_file=sample_file,
        mail_dir=state_dir / "mail",
    )


# --------------------------------------------------------------------------- replicas


def install_templates(client, prefix: str, replicas: int) -> str:
    """Install the index templates with ``replicas`` replicas per shard, then the indices.

    The template versions stay those of ``indexing/templates``, so the DAGs' own
    ``prepare_indices`` finds them up to date and keeps them; the files themselves
    keep 0 replicas, the single dev node's default."""
    from brandpulse.core.settings import IndexNames
    from indexing.templates import TEMPLATES, ensure_indices, load_template

    names = IndexNames(prefix)
    for name in TEMPLATES:
        body = load_template(name, prefix)
        body["template"].setdefault("settings", {})["number_of_replicas"] = replicas
        client.indices.put_index_template(name=f"{prefix}-{name}", **body)
    report = ensure_indices(client, names)
    for index in (names.mentions, names.state, names.quarantine, names.alerts):  # created before, too
        client.indices.put_settings(index=index, settings={"index": {"number_of_replicas": replicas}})
    return str(report)


# --------------------------------------------------------------------------- data


def generate_rows(min_mentions: int, brands: list[dict[str, Any]]) -> tuple[list[dict], dict]:
    """The sample (incident brand at INCIDENT_SCALE) plus extra brands until >= min_mentions.

    Extra brands are the sample's second brand, generated with other seeds and renamed;
    their native ids get a per-brand digit so that every row is a distinct document."""
    from brandpulse.dev import sample_data

    rows, incident = sample_data.generate(seed=7, scale=INCIDENT_SCALE)
    extras = [b for b in brands if b["name"] not in (INCIDENT_BRAND, "acme-bikes")]
    for k, brand in enumerate(extras, start=1):
        tag = brand["query"].split("#")[1].split()[0]
        scale = EXTRA_SCALE * max(1.0, min_mentions / 50_000)
        more, _ = sample_data.generate(seed=100 + k, scale=scale)
        for row in more:
            if row["brands"] != ["acme-bikes"]:
                continue
            row = dict(row, brands=[brand["name"]], native_id=f"{row['native_id']}{k}")
            row["text"] = row["text"].replace("Acme Bikes", brand["display_name"]).replace("acmebikes", tag)
            row["url"] = f"{row['url']}#{k}"
            rows.append(row)
    if len(rows) < min_mentions:
        raise ValueError(
            f"only {len(rows)} mentions with {len(brands)} brands; add brands or raise EXTRA_SCALE"
        )
    rows.sort(key=lambda r: r["created_at"])
    return rows, incident


def write_data(cfg: ScaleoutConfig) -> tuple[set[str], dict]:
    """Write the mentions file and the brands file; return the expected ids and the incident."""
    import yaml

    from brandpulse.core.mention import mention_id

    rows, incident = generate_rows(cfg.min_mentions, cfg.brands)
    cfg.sample_file.parent.mkdir(parents=True, exist_ok=True)
    with cfg.sample_file.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    (cfg.sample_file.parent / "incident.json").write_text(json.dumps(incident, indent=2) + "\n")
    config = {"version": 1, "kibana_url": "http://localhost:5601", "brands": cfg.brands}
    Path(cfg.env["BRANDPULSE_CONFIG"]).write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    expected = {mention_id(r["platform"], str(r["native_id"])) for r in rows}
    if len(expected) != len(rows):
        raise ValueError(f"generated rows are not unique: {len(rows)} rows, {len(expected)} ids")
    return expected, incident


# --------------------------------------------------------------------------- the run


#: variables of the caller's environment every spawned process keeps (the rest comes from the config)
PASSTHROUGH = ("HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "TZ", "BRANDPULSE_CACHE_DIR")


def _with_passthrough(env: Mapping[str, str]) -> dict[str, str]:
    return {**{k: os.environ[k] for k in PASSTHROUGH if k in os.environ}, **env}


def _log(msg: str) -> None:
    print(f"[scaleout {datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _ancestors(pid: int) -> list[int]:
    chain: list[int] = []
    with contextlib.suppress(OSError, ValueError, IndexError):
        while pid > 1 and len(chain) < 50:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
            chain.append(pid)
    return chain


def _cat_rows(response: ApiResponse[Any]) -> list[dict[str, Any]]:
    """The rows of a cat API answer asked for with format="json"."""
    body = response.body
    if not isinstance(body, list):
        raise TypeError(f"cat API: expected JSON rows, got {type(body).__name__}")
    return body


def _pgid_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class Check:
    def __init__(self, cfg: ScaleoutConfig) -> None:
        self.cfg = cfg
        self.t0 = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Any] = {}
        self.pg_started = False
        self.redis_started = False
        self.es_started = False
        self.sink: MailSink | None = None
        self.client: Elasticsearch | None = None
        self.threads: list[threading.Thread] = []
        self.events: dict[str, Any] = {}

    # -- helpers ------------------------------------------------------------------------

    def since(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    def _as_postgres(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, argv: list[str], env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
        done = subprocess.run(
            argv, env=_with_passthrough(env) if env else None, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[:4])} exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}"
            )
        return done.stdout

    def _pid_file(self, name: str) -> Path:
        return self.cfg.state_dir / "pids" / f"{name}.pgid"

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> subprocess.Popen:
        logs = self.cfg.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = (logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv, env=_with_passthrough(env), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.cfg.state_dir, start_new_session=True,
        )  # fmt: skip
        self.procs[name], self.logs[name] = proc, log
        self._pid_file(name).parent.mkdir(parents=True, exist_ok=True)
        self._pid_file(name).write_text(f"{proc.pid}\n")
        return proc

    def stop_service(self, name: str, timeout: float = 30) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):  # orphans left in the group
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        self.logs.pop(name).close()
        self._pid_file(name).unlink(missing_ok=True)

    # -- clean state --------------------------------------------------------------------

    def clean(self) -> None:
        """Stop what a previous (interrupted) check left running, then remove its state dir."""
        from brandpulse.dev import es_node

        state = self.cfg.state_dir
        for pid_file in sorted((state / "pids").glob("*.pgid")) if (state / "pids").is_dir() else []:
            with contextlib.suppress(ValueError, OSError):
                pgid = int(pid_file.read_text())
                cmd = Path(f"/proc/{pgid}/cmdline").read_bytes()
                if b"airflow" in cmd or b"redis-server" in cmd:
                    _log(f"stopping leftover {pid_file.stem} (process group {pgid})")
                    os.killpg(pgid, signal.SIGKILL)
        for node in self.cfg.es_nodes:
            if es_node.stop(node.state_dir):
                _log(f"stopped leftover Elasticsearch node {node.name}")
        if _port_open(self.cfg.ports.redis):
            subprocess.run(
                ["redis-cli", "-p", str(self.cfg.ports.redis), "shutdown", "nosave"], capture_output=True
            )
        if (self.cfg.postgres.data_dir / "postmaster.pid").exists():
            subprocess.run(
                [*self._as_postgres(), f"{self.cfg.postgres.bindir}/pg_ctl", "-D",
                 str(self.cfg.postgres.data_dir), "-m", "immediate", "-w", "stop"],
                capture_output=True,
            )  # fmt: skip
        shutil.rmtree(state, ignore_errors=True)
        busy = [p for p in self.cfg.ports.all() if _port_open(p)]
        if busy:
            raise RuntimeError(f"ports in use on 127.0.0.1 by other processes: {busy}")
        state.mkdir(parents=True)
        state.chmod(0o755)

    # -- engines ------------------------------------------------------------------------

    def start_postgres(self) -> None:
        pg = self.cfg.postgres
        pg.data_dir.parent.mkdir(parents=True, exist_ok=True)
        pg.socket_dir.mkdir(parents=True, exist_ok=True)
        pwfile = pg.data_dir.parent / "pwfile"
        pwfile.write_text(pg.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pg.data_dir.parent, "postgres")
            shutil.chown(pg.socket_dir, "postgres")
            shutil.chown(pwfile, "postgres")
        as_pg = self._as_postgres()
        self._run([*as_pg, f"{pg.bindir}/initdb", "-D", str(pg.data_dir), "-U", pg.user,
                   f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=trust",
                   "-E", "UTF8", "--locale=C"])  # fmt: skip
        pwfile.unlink()
        self._run([*as_pg, f"{pg.bindir}/pg_ctl", "-D", str(pg.data_dir),
                   "-l", str(pg.data_dir.parent / "postgres.log"),
                   "-o", pg.server_options(), "-w", "start"])  # fmt: skip
        self.pg_started = True
        env = {**os.environ, "PGPASSWORD": pg.password}
        self._run(
            [f"{pg.bindir}/createdb", "-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.user, pg.database], env
        )
        version = self._run([f"{pg.bindir}/postgres", "--version"]).strip()
        self.events["postgres"] = version
        _log(f"PostgreSQL up on 127.0.0.1:{pg.port} ({version})")

    def stop_postgres(self) -> None:
        if self.pg_started:
            pg = self.cfg.postgres
            subprocess.run(
                [
                    *self._as_postgres(),
                    f"{pg.bindir}/pg_ctl",
                    "-D",
                    str(pg.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                timeout=60,
            )
            self.pg_started = False

    def start_redis(self) -> None:
        (self.cfg.state_dir / "redis").mkdir(parents=True, exist_ok=True)
        self.spawn("redis", self.cfg.redis_argv, os.environ)
        self.redis_started = True
        deadline = time.monotonic() + 30
        while not _port_open(self.cfg.ports.redis):
            if time.monotonic() > deadline or self.procs["redis"].poll() is not None:
                raise RuntimeError("redis-server did not start (see logs/redis.log)")
            time.sleep(0.2)
        version = self._run(["redis-server", "--version"]).split()[2]
        self.events["redis"] = version
        _log(f"Redis up on 127.0.0.1:{self.cfg.ports.redis} ({version})")

    def stop_redis(self) -> None:
        if self.redis_started:
            subprocess.run(
                ["redis-cli", "-p", str(self.cfg.ports.redis), "shutdown", "nosave"],
                capture_output=True,
                timeout=30,
            )
            self.stop_service("redis", timeout=10)
            self.redis_started = False

    def start_es(self, only: list[str] | None = None) -> None:
        from brandpulse.dev import es_node

        infos = es_node.start_cluster(
            self.cfg.es_nodes, self.cfg.cluster_name, wait_s=240, progress=_log, only=only
        )
        self.es_started = True
        for info in infos:
            _log(
                f"Elasticsearch {info.version} node on {info.url}: cluster {info.cluster_name}, {info.health}"
            )

    def stop_es(self) -> None:
        from brandpulse.dev import es_node

        if self.es_started:
            for node in self.cfg.es_nodes:
                es_node.stop(node.state_dir)
            self.es_started = False

    def es_client(self) -> Elasticsearch:
        from brandpulse.core.settings import Settings
        from indexing.client import make_client

        if self.client is None:
            self.client = make_client(Settings(es_url=self.cfg.env["ES_URL"]))
        return self.client

    def wait_green(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(Exception):
                health = (
                    self.es_client()
                    .options(request_timeout=40)
                    .cluster.health(
                        wait_for_status="green", wait_for_nodes=str(len(self.cfg.es_nodes)), timeout="30s"
                    )
                )
                if health["status"] == "green" and health["number_of_nodes"] == len(self.cfg.es_nodes):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("the Elasticsearch cluster did not turn green")
            time.sleep(1)

    def prepare_indices(self) -> None:
        """Templates with one replica per shard, then the indices and aliases."""
        report = install_templates(self.es_client(), INDEX_PREFIX, self.cfg.replicas)
        _log(f"index templates with number_of_replicas={self.cfg.replicas}: {report}")
        self.wait_green()

    def choose_victim(self) -> str:
        """The node to kill: not the elected master (a two-node cluster survives only the
        loss of the other node); the mention write index's primary is moved onto it, so
        the kill fails a primary under bulk writes."""
        from brandpulse.core.settings import IndexNames
        from indexing.templates import current_write_index

        client = self.es_client()
        master = _cat_rows(client.cat.master(format="json"))[0]["node"]
        victim = next(n.name for n in self.cfg.es_nodes if n.name != master)
        write_index = current_write_index(client, IndexNames(INDEX_PREFIX))
        shards = _cat_rows(client.cat.shards(index=write_index, format="json"))
        primary = next(s["node"] for s in shards if s["prirep"] == "p")
        if primary != victim:
            with contextlib.suppress(Exception):
                client.cluster.reroute(
                    metric="none",
                    commands=[
                        {"cancel": {"index": write_index, "shard": 0, "node": primary, "allow_primary": True}}
                    ],
                )
            self.wait_green()
            shards = _cat_rows(client.cat.shards(index=write_index, format="json"))
            primary = next(s["node"] for s in shards if s["prirep"] == "p")
        self.events["es_layout"] = {"master": master, "victim": victim, "write_index_primary": primary}
        _log(f"cluster: master {master}; {write_index} primary on {primary}; the node to kill: {victim}")
        return victim

    # -- Airflow ------------------------------------------------------------------------

    def start_airflow(self) -> None:
        airflow = self.cfg.service("scheduler").argv[0]
        Path(self.cfg.env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
        t = time.monotonic()
        self._run([airflow, "db", "migrate"], self.cfg.env, timeout=900)
        _log(f"airflow db migrate on PostgreSQL: {time.monotonic() - t:.0f}s")
        for service in self.cfg.services:
            self.spawn(service.name, service.argv, service.env)
        self.wait_api()
        for dag_id in ("brandpulse_ingest", "brandpulse_alerts"):
            self.wait_dag(dag_id)
        _log("Airflow up: api-server, scheduler, dag-processor, 2 Celery workers (CeleryExecutor)")

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 30) -> Any:
        url = f"http://127.0.0.1:{self.cfg.ports.api}/api/v2{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")

    def wait_api(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited {proc.returncode} (see logs/{name}.log)")
            with contextlib.suppress(OSError, ValueError):
                health = self.api("GET", "/monitor/health", timeout=5)
                if all(
                    (health.get(p) or {}).get("status") == "healthy" for p in ("metadatabase", "scheduler")
                ):
                    return
            time.sleep(2)
        raise RuntimeError("Airflow api-server/scheduler not healthy")

    def wait_dag(self, dag_id: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                if self.api("GET", f"/dags/{dag_id}", timeout=5).get("is_paused") is False:
                    return
            time.sleep(2)
        raise RuntimeError(f"DAG {dag_id} not parsed/active after {timeout:.0f}s")

    def trigger(self, dag_id: str, run_id: str, end: datetime) -> str:
        body = {
            "dag_run_id": run_id,
            "logical_date": end.isoformat(),
            "data_interval_start": (end - timedelta(minutes=15)).isoformat(),
            "data_interval_end": end.isoformat(),
        }
        return self.api("POST", f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")["task_instances"]

    def set_ti_state(self, dag_id: str, run_id: str, task_id: str, map_index: int, state: str) -> None:
        self.api(
            "PATCH",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}",
            {"new_state": state},
        )

    # -- faults -------------------------------------------------------------------------

    def worker_of(self, task_pid: int | None) -> tuple[str, list[int]] | None:
        """(worker name, task process groups) for the worker whose process tree runs task_pid."""
        workers = {name: p.pid for name, p in self.procs.items() if name.startswith("worker-")}
        if task_pid:
            for ancestor in [task_pid, *_ancestors(task_pid)]:
                with contextlib.suppress(OSError):
                    pgid = os.getpgid(ancestor)
                    for name, leader in workers.items():
                        if pgid == leader:
                            return name, [os.getpgid(task_pid)]
        # no pid from the API: the worker with a task process (tasks run in their own group)
        for name, leader in workers.items():
            groups = set()
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit() and leader in _ancestors(int(proc.name)):
                    with contextlib.suppress(OSError):
                        if os.getpgid(int(proc.name)) != leader:
                            groups.add(os.getpgid(int(proc.name)))
            if groups:
                return name, sorted(groups)
        return None

    def kill_worker(self, ti: dict) -> bool:
        found = self.worker_of(ti.get("pid"))
        if found is None:
            return False
        name, task_groups = found
        leader = self.procs[name].pid
        os.killpg(leader, signal.SIGKILL)
        for group in task_groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        at = datetime.now(UTC)
        self.events["worker_kill"] = {
            "worker": name,
            "at": at.isoformat(timespec="seconds"),
            "t_s": self.since(),
            "task": f"{ti['task_id']}[{ti['map_index']}]",
            "try": ti.get("try_number"),
        }
        _log(f"SIGKILL {name} (process group {leader}) while it runs {ti['task_id']}[{ti['map_index']}]")
        self.procs[name].wait(timeout=10)
        self.logs.pop(name).close()
        del self.procs[name]

        def restart() -> None:
            time.sleep(5)
            self.spawn(name, self.cfg.service(name).argv, self.cfg.service(name).env)
            self.events["worker_kill"]["restarted_t_s"] = self.since()
            _log(f"restarted {name}")

        self._background(restart)
        return True

    def kill_es_node(self, victim: str, count: int, phase: str) -> None:
        from brandpulse.dev import es_node

        node = next(n for n in self.cfg.es_nodes if n.name == victim)
        pid = es_node.kill(node.state_dir)
        self.events["es_node_kill"] = {
            "node": victim,
            "pid": pid,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "t_s": self.since(),
            "phase": phase,
            "docs_indexed_before": count,
        }
        _log(f"SIGKILL Elasticsearch node {victim} (pid {pid}) during {phase}, {count} docs indexed so far")

        def restart() -> None:
            time.sleep(10)
            self.start_es(only=[victim])
            self.events["es_node_kill"]["restarted_t_s"] = self.since()

        self._background(restart)

    def _background(self, fn) -> None:
        def guarded() -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - reported in the result
                self.events.setdefault("errors", []).append(repr(exc))
                _log(f"background restart failed: {exc!r}")

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        self.threads.append(thread)

    def count_docs(self) -> int:
        try:
            return int(
                self.es_client().options(request_timeout=10).count(index=f"{INDEX_PREFIX}-mentions")["count"]
            )
        except Exception:  # noqa: BLE001 - a node may be down right now
            return -1

    # -- the DAG runs -------------------------------------------------------------------

    def run_ingest(self, victim: str, expected: int, timeout: float = 1200) -> dict:
        dag = "brandpulse_ingest"
        run_id = self.trigger(dag, "scaleout-ingest", datetime.now(UTC).replace(microsecond=0))
        _log(f"triggered {dag} run {run_id}")
        skipped: set[int] = set()
        deadline = time.monotonic() + timeout
        state = "queued"
        last_count, last_note = 0, 0.0
        while time.monotonic() < deadline:
            state = self.run_state(dag, run_id)
            if state in ("success", "failed"):
                break
            tis = self.task_instances(dag, run_id)
            for ti in tis:  # enrichment of the incident brand only (see the module doc)
                idx = ti["map_index"]
                done = ("success", "failed", "skipped", "upstream_failed", "removed")
                if ti["task_id"] == "enrich" and idx > 0 and idx not in skipped and ti["state"] not in done:
                    with contextlib.suppress(urllib.error.HTTPError):
                        self.set_ti_state(dag, run_id, "enrich", idx, "skipped")
                        skipped.add(idx)
                        _log(f"marked enrich[{idx}] skipped (non-incident brand)")
            now = datetime.now(UTC)
            running_ingest = [
                ti for ti in tis
                if ti["task_id"] == "ingest" and ti["state"] == "running" and ti.get("start_date")
                and (now - datetime.fromisoformat(ti["start_date"])).total_seconds() >= 3
            ]  # fmt: skip
            if "worker_kill" not in self.events and running_ingest:
                self.kill_worker(running_ingest[0])
            count = self.count_docs()
            if (
                "es_node_kill" not in self.events
                and any(ti["task_id"] == "ingest" and ti["state"] == "running" for ti in tis)
                and 0 <= last_count < count < expected * 0.9
            ):
                self.kill_es_node(victim, count, "ingest bulk writes")
            if count >= 0:
                last_count = count
            if time.monotonic() - last_note > 20:
                states: dict[str, int] = {}
                for ti in tis:
                    key = f"{ti['task_id']}:{ti['state']}"
                    states[key] = states.get(key, 0) + 1
                _log(f"ingest run {state}; {count} docs; {dict(sorted(states.items()))}")
                last_note = time.monotonic()
            time.sleep(2)
        tis = self.task_instances(dag, run_id)
        retried = sorted(
            f"{t['task_id']}[{t['map_index']}] try {t['try_number']}" for t in tis if t["try_number"] > 1
        )
        _log(f"ingest run {state}; retried: {retried}")
        return {"state": state, "retried": retried, "skipped_enrich": sorted(skipped)}

    def first_alerting_bucket_end(self, incident: dict) -> datetime:
        """The end of the first bucket after the incident's onset that the alerts check
        itself would judge anomalous (same history, same detector)."""
        from alerts.check import history_from
        from alerts.detector import DetectorParams, detect
        from alerts.series import fetch_series
        from brandpulse.core.config import load_config
        from brandpulse.core.settings import IndexNames

        brand = load_config(Path(self.cfg.env["BRANDPULSE_CONFIG"])).brand(incident["brand"])
        params = DetectorParams.from_settings(brand.alerts)
        step = timedelta(minutes=params.bucket_minutes)
        onset = datetime.fromisoformat(incident["onset"])
        bucket = onset - (onset - onset.replace(minute=0)) % step
        client = self.es_client()
        client.indices.refresh(index=f"{INDEX_PREFIX}-mentions")
        for _ in range(24):
            start = history_from(client, IndexNames(INDEX_PREFIX), brand.name, bucket, params.bucket_minutes)
            negatives, totals = fetch_series(
                client, IndexNames(INDEX_PREFIX), brand.name, start, bucket + step, params.bucket_minutes
            )
            if detect(negatives, totals, start, params).fired[-1]:
                return bucket + step
            bucket += step
        raise RuntimeError("the detector does not fire on the sample incident within 6 hours")

    def run_alerts(self, end: datetime, timeout: float = 600) -> dict:
        dag = "brandpulse_alerts"
        run_id = self.trigger(dag, "scaleout-alerts", end)
        _log(f"triggered {dag} run {run_id} (data interval ends {end.isoformat()})")
        deadline = time.monotonic() + timeout
        state = "queued"
        while time.monotonic() < deadline:
            state = self.run_state(dag, run_id)
            if state in ("success", "failed"):
                break
            time.sleep(2)
        _log(f"alerts run {state}")
        return {"state": state, "at": end.isoformat()}

    # -- measurement --------------------------------------------------------------------

    def measure(self, expected: set[str]) -> dict:
        from elasticsearch import helpers

        from brandpulse.core.settings import IndexNames

        names = IndexNames(INDEX_PREFIX)
        client = self.es_client().options(request_timeout=120)
        client.indices.refresh(index=f"{INDEX_PREFIX}-*")
        hits = helpers.scan(
            client, index=names.mentions, query={"query": {"match_all": {}}}, _source=False, size=5000
        )
        ids = [h["_id"] for h in hits]
        found = set(ids)
        quarantined = client.options(ignore_status=404).count(index=names.quarantine).body
        enriched = client.count(
            index=names.mentions,
            query={
                "bool": {
                    "filter": [{"term": {"brands": INCIDENT_BRAND}}, {"exists": {"field": "sentiment.label"}}]
                }
            },
        )["count"]
        incident_total = client.count(index=names.mentions, query={"term": {"brands": INCIDENT_BRAND}})[
            "count"
        ]
        episodes = client.options(ignore_status=404).count(index=names.alerts).body
        return {
            "found": len(found),
            "duplicates": len(ids) - len(found),
            "lost": len(expected - found),
            "unexpected": len(found - expected),
            "quarantined": int(quarantined.get("count", 0)) if isinstance(quarantined, dict) else 0,
            "episodes": int(episodes.get("count", 0)) if isinstance(episodes, dict) else 0,
            "incident_enriched": f"{enriched}/{incident_total}",
        }

    # -- everything ---------------------------------------------------------------------

    def run(self) -> dict:
        from brandpulse.dev.mail_sink import MailSink

        self.clean()
        os.environ.update({k: v for k, v in self.cfg.env.items() if k.startswith(("ES_", "BRANDPULSE_"))})
        expected, incident = write_data(self.cfg)
        _log(f"generated {len(expected)} mentions, {len(self.cfg.brands)} brands: {self.cfg.sample_file}")
        self.sink = sink = MailSink(self.cfg.mail_dir, port=self.cfg.ports.smtp).__enter__()
        self.start_postgres()
        self.start_redis()
        self.start_es()
        self.wait_green()
        self.prepare_indices()
        victim = self.choose_victim()
        self.start_airflow()
        ingest = self.run_ingest(victim, len(expected))
        for thread in self.threads:
            thread.join(timeout=300)
        self.wait_green()
        alerts = {"state": "not run"}
        if ingest["state"] == "success":
            alerts = self.run_alerts(self.first_alerting_bucket_end(incident))
        time.sleep(1)
        mails = list(sink.saved)
        result = {
            "expected": len(expected),
            **self.measure(expected),
            "alert_emails": len(mails),
            "alert_subjects": [_subject(p) for p in mails],
            "ingest_run": ingest,
            "alerts_run": alerts,
        }
        return result

    def shutdown(self) -> None:
        for name in ("worker-1", "worker-2", "scheduler", "dag-processor", "api-server"):
            with contextlib.suppress(Exception):
                self.stop_service(name)
        for step in (self.stop_es, self.stop_redis, self.stop_postgres):
            with contextlib.suppress(Exception):
                step()
        for name in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop_service(name)
        if self.sink is not None:
            with contextlib.suppress(Exception):
                self.sink.__exit__(None, None, None)
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()


def _subject(path: Path) -> str:
    import email
    import email.policy

    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return str(message.get("Subject", ""))


def targets_met(result: dict) -> bool:
    return (
        result.get("found") == result.get("expected")
        and result.get("duplicates") == 0
        and result.get("lost") == 0
        and result.get("quarantined") == 0
        and result.get("alert_emails") == 1
        and result.get("episodes") == 1
        and "worker_kill_at" in result
        and "es_node_kill_at" in result
    )


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    from brandpulse.airflow_env import ensure_secrets
    from brandpulse.core.settings import Settings

    parser = argparse.ArgumentParser(
        prog="python -m brandpulse.dev.scaleout", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument(
        "--mentions", type=int, default=50_000, help="at least this many mentions (>= 50,000)"
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the generated configuration and exit"
    )
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    placeholder = {name: "generated-at-run-time" for name in AIRFLOW_SECRET_NAMES}
    if args.print_config:
        cfg = build_config(
            secrets=placeholder,
            pg_password="***",
            state_dir=state_dir,
            min_mentions=args.mentions,
            pg_bindir=default_pg_bindir(),
            base_path=os.environ.get("PATH", "/usr/bin:/bin"),
        )
        print(json.dumps(cfg.to_json(), indent=2))
        return 0
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_exit)
    t0 = time.monotonic()
    # secrets outside the state dir that the check removes first: a new set every run
    secrets_root = Path(f"{state_dir}.secrets")
    shutil.rmtree(secrets_root, ignore_errors=True)
    secrets = ensure_secrets(Settings(state_dir=secrets_root))
    import secrets as _secrets

    cfg = build_config(
        secrets=secrets,
        pg_password=_secrets.token_urlsafe(18),
        state_dir=state_dir,
        min_mentions=args.mentions,
        pg_bindir=default_pg_bindir(),
        base_path=os.environ.get("PATH", "/usr/bin:/bin"),
    )
    check = Check(cfg)
    result: dict[str, Any] = {}
    rc = 1
    try:
        result = check.run()
    except BaseException as exc:  # noqa: BLE001 - reported in the JSON line, processes stopped below
        result["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        _log(f"FAILED: {result['error']}")
    finally:
        _log("stopping every process ...")
        check.shutdown()
        shutil.rmtree(secrets_root, ignore_errors=True)
        worker = check.events.get("worker_kill", {})
        node = check.events.get("es_node_kill", {})
        result.update(
            {
                "wall_s": round(time.monotonic() - t0, 1),
                **(
                    {"worker_kill_at": worker.get("at"), "worker_kill_t_s": worker.get("t_s")}
                    if worker
                    else {}
                ),
                **({"es_node_kill_at": node.get("at"), "es_node_kill_t_s": node.get("t_s")} if node else {}),
                "faults": {
                    k: check.events[k]
                    for k in ("worker_kill", "es_node_kill", "es_layout")
                    if k in check.events
                },
                "engines": {k: check.events[k] for k in ("postgres", "redis") if k in check.events},
                **({"errors": check.events["errors"]} if "errors" in check.events else {}),
            }
        )
        result["ok"] = targets_met(result)
        rc = 0 if result["ok"] else 1
        print(json.dumps(result, default=str), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
