"""Connector credentials: the environment first, then an Airflow Connection.

A connector declares the secrets it needs as `Secret`s: an environment variable
(``X_BEARER_TOKEN``) and where the same value lives in an Airflow Connection
(``brandpulse_x``, field ``password``). Values are returned as `SecretStr`
(masked in reprs and logs) and are never logged here.

Airflow is asked only when it is importable and configured for this process
(``AIRFLOW_HOME`` or an ``AIRFLOW_CONN_*`` variable is set, or Airflow is
already imported, as in a task); importing it is otherwise skipped, so the CLI
and tests do not pay for it or create an Airflow home by accident.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

log = logging.getLogger(__name__)

Field = Literal["login", "password", "host", "schema", "port"]


@dataclass(frozen=True)
class Secret:
    """One credential: its environment variable and its Airflow Connection field."""

    env: str
    conn_id: str
    field: Field | str = "password"  # a Connection attribute, or "extra.<key>"
    required: bool = True

    def describe(self) -> str:
        return f"{self.env} (or Airflow Connection {self.conn_id!r} {self.field})"


def airflow_configured() -> bool:
    """True when this process may ask Airflow for Connections."""
    if "airflow" in sys.modules:
        return True
    if not (os.environ.get("AIRFLOW_HOME") or any(k.startswith("AIRFLOW_CONN_") for k in os.environ)):
        return False
    return importlib.util.find_spec("airflow") is not None


def _from_connection(secret: Secret) -> str | None:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(secret.conn_id)
    except AirflowNotFoundException:
        return None
    if secret.field.startswith("extra."):
        extra = conn.extra_dejson if conn.extra else {}
        value = extra.get(secret.field.removeprefix("extra."))
    else:
        value = getattr(conn, secret.field, None)
    return None if value in (None, "") else str(value)


def resolve(secret: Secret) -> SecretStr | None:
    """The secret's value (environment first, then Airflow), or None when unset."""
    value = os.environ.get(secret.env)
    if value:
        return SecretStr(value)
    if airflow_configured():
        found = _from_connection(secret)
        if found is not None:
            log.debug("credential %s taken from Airflow Connection %s", secret.env, secret.conn_id)
            return SecretStr(found)
    return None


def missing(secrets: tuple[Secret, ...]) -> list[str]:
    """Readable names of required secrets that are not available (no values)."""
    return [s.describe() for s in secrets if s.required and resolve(s) is None]


def connection_json(**fields: str) -> str:
    """The JSON form of an Airflow Connection (for AIRFLOW_CONN_<ID>; docs and tests)."""
    return json.dumps({"conn_type": "generic", **fields})
