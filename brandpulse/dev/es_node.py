"""A real, project-managed Elasticsearch 8 node for tests, CI and the demo.

The node is a small Java launcher (``tools/es-node``) around the official
``org.elasticsearch:elasticsearch`` server jar from Maven Central. ``build()``
compiles it once into ``~/.cache/brandpulse/es-node/<content hash>/lib``;
``start()`` runs it detached on ``127.0.0.1:<port>`` with its data, logs and pid
file under a git-ignored state dir (default ``<repo>/.state/es``).

Environment (read at call time through `LocalSettings` in
brandpulse/core/settings.py): ``BRANDPULSE_ES_PORT`` (default port),
``BRANDPULSE_STATE_DIR`` (project state dir; the node uses its ``es/`` subdir),
``BRANDPULSE_ES_HEAP`` (``MAX`` or ``MIN:MAX``, default ``512m:1g``),
``BRANDPULSE_ES_JAVA_OPTS`` (extra JVM flags), ``BRANDPULSE_CACHE_DIR``
(default ``~/.cache/brandpulse``).

Several nodes form one cluster when each gets its own state dir, HTTP and
transport ports, a node name, and the same cluster name, seed hosts and initial
master nodes: see :class:`ClusterNode` and :func:`start_cluster`. Without them a
node is the single-node cluster it always was (``discovery.type=single-node``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from brandpulse.core.settings import LocalSettings, describe_error

REPO_ROOT = Path(__file__).resolve().parents[2]
ES_NODE_DIR = REPO_ROOT / "tools" / "es-node"
MAIN_CLASS = "io.brandpulse.esnode.Main"
DEFAULT_PORT: int = LocalSettings.model_fields["es_port"].default
DEFAULT_HEAP: str = LocalSettings.model_fields["es_heap"].default
_COMPLETE_MARKER = ".complete"
_PID_FILE = "node.pid"
_META_FILE = "node.json"

Progress = Callable[[str], None]


class EsNodeError(RuntimeError):
    """The node could not be built, started or stopped."""


@dataclass(frozen=True)
class NodeInfo:
    """A running node started from a state dir."""

    pid: int
    port: int
    url: str
    version: str
    cluster_name: str
    health: str
    state_dir: Path


# --------------------------------------------------------------------------- paths and defaults


def _settings() -> LocalSettings:
    """The node's settings from the environment, now; an invalid value is an
    `EsNodeError` naming the variable."""
    try:
        return LocalSettings.load()
    except ValidationError as exc:
        raise EsNodeError(f"invalid settings: {describe_error(exc)}") from None


def cache_dir() -> Path:
    """Root of the build cache (``$BRANDPULSE_CACHE_DIR`` or ``~/.cache/brandpulse``)."""
    return _settings().cache_dir


def default_port() -> int:
    """``$BRANDPULSE_ES_PORT`` or 9200."""
    return _settings().es_port


def default_state_dir() -> Path:
    """``$BRANDPULSE_STATE_DIR/es`` or ``<repo>/.state/es``."""
    return (_settings().state_dir / "es").resolve()


def source_key() -> str:
    """First 16 hex digits of the sha256 over pom.xml and the Java sources."""
    h = hashlib.sha256()
    files = [ES_NODE_DIR / "pom.xml", *sorted((ES_NODE_DIR / "src").rglob("*"))]
    for f in files:
        if f.is_file():
            h.update(f.relative_to(ES_NODE_DIR).as_posix().encode() + b"\0")
            h.update(f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def lib_dir() -> Path:
    """Where ``build()`` puts (or has put) the launcher and dependency jars."""
    return cache_dir() / "es-node" / source_key() / "lib"


def is_built() -> bool:
    """Whether the launcher for this checkout's sources is already built (no Maven run)."""
    return (lib_dir() / _COMPLETE_MARKER).exists()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _say(progress: Progress | None, msg: str) -> None:
    if progress is None:
        print(msg, file=sys.stderr, flush=True)
    else:
        progress(msg)


def _tail(path: Path, lines: int = 40, offset: int = 0) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------- build


def build(progress: Progress | None = None) -> Path:
    """Build the node launcher if not cached; return the lib dir (jars for ``-cp lib/*``).

    Progress lines go to ``progress`` (default: stderr). The cache is keyed by the content
    of pom.xml and the Java sources, so an unchanged checkout never rebuilds. The first
    build downloads ~80 MB from Maven Central.
    """
    lib = lib_dir()
    if (lib / _COMPLETE_MARKER).exists():
        return lib
    java, mvn = shutil.which("java"), shutil.which("mvn")
    if java is None or mvn is None:
        missing = " and ".join(n for n, p in (("java", java), ("mvn", mvn)) if p is None)
        raise EsNodeError(
            f"cannot build the Elasticsearch node: {missing} not found on PATH "
            "(needs a JDK 17+ and Maven 3.8+, e.g. `apt-get install openjdk-17-jdk-headless maven`)"
        )
    key_dir = lib.parent
    with _locked(key_dir.parent / ".build.lock"):
        if (lib / _COMPLETE_MARKER).exists():
            return lib
        key_dir.mkdir(parents=True, exist_ok=True)
        tmp = key_dir / f"lib.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        log = key_dir / "build.log"
        _say(progress, f"es-node: building launcher into {lib}")
        _say(
            progress,
            "es-node: Maven resolves Elasticsearch jars (first time: downloads ~80 MB, "
            "can take a few minutes; cached afterwards) ...",
        )
        cmd = [
            mvn, "-B", "--no-transfer-progress",
            f"-Dmaven.repo.local={cache_dir() / 'm2'}",
            f"-Desnode.lib.dir={tmp}",
            "-f", str(ES_NODE_DIR / "pom.xml"),
            "clean", "package",
        ]  # fmt: skip
        t0 = time.monotonic()
        with log.open("wb") as out:
            rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if rc != 0 or not (tmp / "brandpulse-es-node.jar").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise EsNodeError(f"Maven build failed (exit {rc}); see {log}:\n{_tail(log)}")
        (tmp / _COMPLETE_MARKER).write_text(f"{source_key()}\n")
        shutil.rmtree(lib, ignore_errors=True)
        tmp.rename(lib)
        n = len(list(lib.glob("*.jar")))
        _say(progress, f"es-node: built {n} jars in {time.monotonic() - t0:.0f}s")
    return lib


# --------------------------------------------------------------------------- process helpers


def _spawn_detached(cmd: list[str], log: Path) -> int:
    """Start ``cmd`` in a new session (like ``Popen(start_new_session=True)``), output to ``log``.

    ``os.posix_spawn`` rather than ``Popen``: the node is meant to outlive this Python
    process, and a ``Popen`` object would warn "subprocess is still running" at exit.
    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(cmd[0], cmd, dict(os.environ), file_actions=actions, setsid=True)


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our exited child (so it does not linger as a zombie)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_our_node(pid: int, state_dir: Path) -> bool:
    """True if ``pid`` is a live launcher JVM for ``state_dir`` (guards against pid reuse)."""
    if not _alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid file
    args = [a.decode(errors="replace") for a in cmdline]
    return MAIN_CLASS in args and str(state_dir) in args


def _read_meta(state_dir: Path) -> dict[str, Any] | None:
    pid_file, meta_file = state_dir / _PID_FILE, state_dir / _META_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    meta: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads(meta_file.read_text())
    meta["pid"] = pid
    return meta


def _clear_meta(state_dir: Path) -> None:
    for name in (_PID_FILE, _META_FILE):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_json(url: str, timeout: float) -> dict[str, Any] | None:
    """GET a local URL's JSON object; None when unreachable, non-2xx or not JSON."""
    import requests

    try:
        with requests.Session() as session:
            session.trust_env = False  # 127.0.0.1: never through a proxy from the environment
            resp = session.get(url, timeout=timeout)
            if not resp.ok:
                return None
            data = resp.json()
    except (OSError, ValueError, requests.RequestException):
        return None
    return data if isinstance(data, dict) else None


def _health(port: int, wait_s: float = 0.0) -> str | None:
    q = f"?wait_for_status=yellow&timeout={max(int(wait_s), 0)}s" if wait_s > 0 else ""
    data = _http_json(f"http://127.0.0.1:{port}/_cluster/health{q}", timeout=wait_s + 5)
    status = data.get("status") if data else None
    return status if isinstance(status, str) else None


def _client_info(port: int) -> dict[str, Any]:
    """``info()`` through the official client (which checks ``X-Elastic-Product``)."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(f"http://127.0.0.1:{port}", request_timeout=10)
    try:
        return dict(client.info())
    finally:
        client.close()


def _logs_hint(state_dir: Path, offsets: dict[str, int] | None = None) -> str:
    """Tails of the node logs (from ``offsets``, i.e. this start only, when given)."""
    out = []
    for name, lines in (("es-node.log", 40), ("stdout.log", 20)):
        path = state_dir / "logs" / name
        out.append(f"--- {path} (tail) ---\n{_tail(path, lines, (offsets or {}).get(name, 0))}")
    return "\n".join(out)


def _heap_opts() -> list[str]:
    spec = _settings().es_heap
    lo, _, hi = spec.partition(":")
    return [f"-Xms{lo}", f"-Xmx{hi or lo}"]


def _java_cmd(
    lib: Path,
    port: int,
    state_dir: Path,
    node_name: str | None = None,
    cluster_name: str | None = None,
    settings: dict[str, str] | None = None,
) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise EsNodeError("java not found on PATH (needs a JDK/JRE 17+)")
    extra = _settings().es_java_opts.split()
    return [
        java,
        *_heap_opts(),
        "-Xss1m",
        "-XX:+UseG1GC",
        "-XX:-OmitStackTraceInFastThrow",
        "-Djava.awt.headless=true",
        "-Dfile.encoding=UTF-8",
        "-Djava.locale.providers=SPI,CLDR",
        f"-Djava.io.tmpdir={state_dir / 'tmp'}",
        f"-XX:ErrorFile={state_dir / 'logs' / 'hs_err_pid%p.log'}",
        "-Dio.netty.noUnsafe=true",
        "-Dio.netty.noKeySetOptimization=true",
        "-Dio.netty.recycler.maxCapacityPerThread=0",
        "-Dlog4j.shutdownHookEnabled=false",
        "-Dlog4j2.disable.jmx=true",
        "-Dlog4j2.formatMsgNoLookups=true",
        "-Des.networkaddress.cache.ttl=60",
        *extra,
        "-cp",
        f"{lib}/*",
        MAIN_CLASS,
        "--state-dir",
        str(state_dir),
        "--port",
        str(port),
        *(["--node-name", node_name] if node_name else []),
        *(["--cluster-name", cluster_name] if cluster_name else []),
        *(arg for key, value in (settings or {}).items() for arg in ("--setting", f"{key}={value}")),
    ]


# --------------------------------------------------------------------------- public API


def status(port: int | None = None, state_dir: Path | None = None) -> NodeInfo | None:
    """The node running from ``state_dir`` (and answering on ``port``, if given), else None."""
    state_dir = Path(state_dir).resolve() if state_dir else default_state_dir()
    meta = _read_meta(state_dir)
    if meta is None:
        return None
    pid = int(meta["pid"])
    if not _is_our_node(pid, state_dir):
        return None
    node_port = int(meta.get("port") or port or default_port())
    if port is not None and port != node_port:
        return None
    health = _health(node_port)
    if health is None:
        return None
    try:
        info = _client_info(node_port)
    except Exception:  # noqa: BLE001 - any client failure means "not usable"
        return None
    version = info.get("version")
    return NodeInfo(
        pid=pid,
        port=node_port,
        url=f"http://127.0.0.1:{node_port}",
        version=str(version.get("number") if isinstance(version, dict) else "?"),
        cluster_name=str(info.get("cluster_name", "?")),
        health=health,
        state_dir=state_dir,
    )


def start(
    port: int | None = None,
    state_dir: Path | None = None,
    wait_s: float = 120,
    progress: Progress | None = None,
    node_name: str | None = None,
    cluster_name: str | None = None,
    settings: dict[str, str] | None = None,
) -> NodeInfo:
    """Start the node (building it first if needed) and wait until it is healthy.

    Idempotent: if a healthy node from ``state_dir`` already runs on ``port`` it is returned.
    Raises ``EsNodeError`` (with the node log tail) if the node fails to come up, or if the
    port is taken by another process. ``node_name``, ``cluster_name`` and ``settings``
    (extra ``key=value`` node settings, e.g. from :func:`cluster_settings`) default to the
    single dev node's.
    """
    spawned = _spawn(port, state_dir, progress, node_name, cluster_name, settings, wait_s)
    if isinstance(spawned, NodeInfo):
        return spawned
    pid, port, state_dir, offsets = spawned
    try:
        return _wait_ready(pid, port, state_dir, wait_s, offsets)
    except BaseException:
        stop(state_dir)
        raise


def _spawn(
    port: int | None,
    state_dir: Path | None,
    progress: Progress | None,
    node_name: str | None = None,
    cluster_name: str | None = None,
    settings: dict[str, str] | None = None,
    ready_wait_s: float = 120,
) -> NodeInfo | tuple[int, int, Path, dict[str, int]]:
    """Spawn the node JVM (or return the healthy node already running from ``state_dir``)."""
    port = int(port) if port is not None else default_port()
    state_dir = Path(state_dir).resolve() if state_dir else default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    lib = build(progress)
    with _locked(state_dir / ".start.lock"):
        meta = _read_meta(state_dir)
        if meta is not None:
            pid = int(meta["pid"])
            if _is_our_node(pid, state_dir):
                running_port = int(meta.get("port") or 0)
                if running_port != port:
                    raise EsNodeError(
                        f"a node from {state_dir} already runs (pid {pid}) on port {running_port}; "
                        f"stop() it before starting on port {port}"
                    )
                return _wait_ready(pid, port, state_dir, ready_wait_s)
            _clear_meta(state_dir)
        if _port_in_use(port):
            raise EsNodeError(
                f"port {port} on 127.0.0.1 is already in use by another process "
                f"(not a node from {state_dir}); pick another port (BRANDPULSE_ES_PORT)"
            )
        for sub in ("logs", "tmp"):
            (state_dir / sub).mkdir(exist_ok=True)
        cmd = _java_cmd(lib, port, state_dir, node_name, cluster_name, settings)
        _say(progress, f"es-node: starting Elasticsearch on 127.0.0.1:{port} (state {state_dir})")
        offsets = {n: _size(state_dir / "logs" / n) for n in ("es-node.log", "stdout.log")}
        pid = _spawn_detached(cmd, state_dir / "logs" / "stdout.log")
        (state_dir / _PID_FILE).write_text(f"{pid}\n")
        meta = {"pid": pid, "port": port, "lib": str(lib), "started": time.time()}
        if node_name or cluster_name or settings:
            meta.update(node_name=node_name, cluster_name=cluster_name, settings=settings or {})
        (state_dir / _META_FILE).write_text(json.dumps(meta))
        return pid, port, state_dir, offsets


def _wait_ready(
    pid: int, port: int, state_dir: Path, wait_s: float, offsets: dict[str, int] | None = None
) -> NodeInfo:
    deadline = time.monotonic() + wait_s
    while True:
        if not _alive(pid):
            _clear_meta(state_dir)
            raise EsNodeError(
                f"Elasticsearch node exited during startup (port {port}).\n{_logs_hint(state_dir, offsets)}"
            )
        left = deadline - time.monotonic()
        if left <= 0:
            raise EsNodeError(
                f"Elasticsearch node not healthy after {wait_s:.0f}s on port {port}.\n"
                f"{_logs_hint(state_dir, offsets)}"
            )
        if _health(port, wait_s=min(left, 2.0)) in ("yellow", "green"):
            break
        time.sleep(0.5)
    try:
        _client_info(port)  # product check by the official client
    except Exception as exc:
        raise EsNodeError(f"node on port {port} failed the client check: {exc!r}") from exc
    info = status(port, state_dir)
    if info is None:
        raise EsNodeError(f"node on port {port} started but status() cannot see it")
    return info


def stop(state_dir: Path | None = None, timeout_s: float = 30) -> bool:
    """Stop the node of ``state_dir``: SIGTERM its process group, SIGKILL after ``timeout_s``.

    Returns True if a running node was stopped, False if none was running (idempotent).
    """
    state_dir = Path(state_dir).resolve() if state_dir else default_state_dir()
    meta = _read_meta(state_dir)
    if meta is None:
        return False
    pid = int(meta["pid"])
    if not _is_our_node(pid, state_dir):
        _clear_meta(state_dir)
        return False

    def _signal(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:  # started with start_new_session: it leads its group
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    _signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        _signal(signal.SIGKILL)
        kill_deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < kill_deadline:
            time.sleep(0.1)
    _reap(pid)
    _clear_meta(state_dir)
    return True


# --------------------------------------------------------------------------- several nodes, one cluster


@dataclass(frozen=True)
class ClusterNode:
    """One member of a multi-node cluster on 127.0.0.1 (its own ports and state dir)."""

    name: str
    http_port: int
    transport_port: int
    state_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def transport_address(self) -> str:
        return f"127.0.0.1:{self.transport_port}"


def cluster_settings(node: ClusterNode, members: list[ClusterNode]) -> dict[str, str]:
    """Node settings that make ``node`` discover ``members`` over their transport ports.

    Every member is master-eligible and listed in ``cluster.initial_master_nodes`` (used
    only the first time the cluster forms). With two members the voting configuration
    holds one of them: the cluster survives the loss of the other, not of the elected
    master (as with any two-node Elasticsearch cluster).
    """
    return {
        "discovery.type": "multi-node",
        "transport.port": str(node.transport_port),
        "discovery.seed_hosts": ",".join(m.transport_address for m in members),
        "cluster.initial_master_nodes": ",".join(m.name for m in members),
    }


def start_cluster(
    members: list[ClusterNode],
    cluster_name: str,
    wait_s: float = 180,
    progress: Progress | None = None,
    only: list[str] | None = None,
) -> list[NodeInfo]:
    """Start every member (or the ``only`` names, e.g. to restart one) and wait until each
    answers with yellow or green health. A failure stops the nodes this call started."""
    build(progress)
    started: list[tuple[ClusterNode, int, dict[str, int]]] = []
    infos: list[NodeInfo] = []
    try:
        for node in members:
            if only is not None and node.name not in only:
                continue
            spawned = _spawn(
                node.http_port,
                node.state_dir,
                progress,
                node_name=node.name,
                cluster_name=cluster_name,
                settings=cluster_settings(node, members),
                ready_wait_s=wait_s,
            )
            if isinstance(spawned, NodeInfo):
                infos.append(spawned)
            else:
                started.append((node, spawned[0], spawned[3]))
        for node, pid, offsets in started:
            infos.append(_wait_ready(pid, node.http_port, node.state_dir.resolve(), wait_s, offsets))
    except BaseException:
        for node, _, _ in started:
            stop(node.state_dir)
        raise
    return infos


def kill(state_dir: Path | None = None) -> int | None:
    """SIGKILL the node of ``state_dir`` (fault injection: no shutdown hook runs).

    Returns the killed pid, or None if no node from ``state_dir`` was running."""
    state_dir = Path(state_dir).resolve() if state_dir else default_state_dir()
    meta = _read_meta(state_dir)
    if meta is None or not _is_our_node(int(meta["pid"]), state_dir):
        return None
    pid = int(meta["pid"])
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _clear_meta(state_dir)
    return pid
