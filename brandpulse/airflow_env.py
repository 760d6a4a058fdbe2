"""The environment every Airflow component must share.

Airflow 3 signs task tokens with a JWT secret: the scheduler, api-server,
dag-processor, workers and `dags test` must all see the same
AIRFLOW__API_AUTH__JWT_SECRET (and API secret key and Fernet key), or every task
fails with "Signature verification failed". They are generated once into a
git-ignored file under the state folder and read from there.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

from brandpulse.core.settings import REPO_ROOT, Settings, get_settings

SECRET_NAMES = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")


def _new_secret(name: str) -> str:
    if name == "AIRFLOW__CORE__FERNET_KEY":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(48)


def secrets_file(settings: Settings) -> Path:
    return settings.state_dir / "airflow" / "secrets.env"


def ensure_secrets(settings: Settings) -> dict[str, str]:
    """Read the shared secrets, generating the file (mode 600) the first time."""
    path = secrets_file(settings)
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in SECRET_NAMES and value:
                values[key] = value
    missing = [n for n in SECRET_NAMES if n not in values]
    if missing:
        values.update({n: _new_secret(n) for n in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text("".join(f"{k}={values[k]}\n" for k in SECRET_NAMES))
    return values


def _prepend(first: str, rest: str | None) -> str:
    parts = [first, *(p for p in (rest or "").split(os.pathsep) if p and p != first)]
    return os.pathsep.join(parts)


#: a PYTHONWARNINGS filter (the message is matched as a prefix)
GRAPHVIZ_WARNING = "ignore:Could not import graphviz:UserWarning"


def _warning_filters(existing: str | None) -> str:
    """PYTHONWARNINGS with the graphviz filter first, the user's own filters kept."""
    others = [w for w in (existing or "").split(",") if w and w != GRAPHVIZ_WARNING]
    return ",".join([GRAPHVIZ_WARNING, *others])


def airflow_env(settings: Settings | None = None) -> dict[str, str]:
    """Variables to export for any Airflow command of this project.

    Values already set in the environment win (a real deployment sets its own
    secrets, e.g. from a secret manager)."""
    settings = settings or get_settings()
    home = settings.state_dir / "airflow"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_CONFIG": str(REPO_ROOT / "airflow.cfg"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "PYTHONPATH": _prepend(str(REPO_ROOT), os.environ.get("PYTHONPATH")),
        # `airflow standalone` spawns `airflow ...`: the venv's bin must be on PATH
        "PATH": _prepend(str(Path(sys.executable).parent), os.environ.get("PATH")),
        # the DAG-graph renderer warns on every CLI call when the optional graphviz is absent
        "PYTHONWARNINGS": _warning_filters(os.environ.get("PYTHONWARNINGS")),
        **ensure_secrets(settings),
    }
    return {k: os.environ.get(k, v) if k in SECRET_NAMES else v for k, v in env.items()}


def apply_airflow_env(settings: Settings | None = None) -> dict[str, str]:
    """Export the Airflow environment into this process (before importing airflow)."""
    env = airflow_env(settings)
    os.environ.update(env)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return env


def migrate_db(settings: Settings | None = None) -> None:
    """`airflow db migrate` (idempotent, a few seconds on SQLite)."""
    env = {**os.environ, **airflow_env(settings)}
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], env=env, check=True, capture_output=True)
