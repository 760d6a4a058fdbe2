"""Runtime settings from the environment (never from the brands YAML).

Secrets (API keys, passwords) are read here or from Airflow Connections and are
never logged: they are `SecretStr`, whose repr is masked; validation errors
never echo input values (`hide_input_in_errors`), and `ES_URL` may carry
credentials (`https://user:password@host`), so it is printed only through
`redact_url` (`Settings.es_url_display`).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything that differs between the embedded dev node and a real cluster."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, hide_input_in_errors=True)

    es_url: str | None = Field(
        default=None,
        repr=False,  # may carry user:password
        validation_alias="ES_URL",
        description="URL of a real cluster; unset means the embedded node on 127.0.0.1",
    )
    es_api_key: SecretStr | None = Field(default=None, validation_alias="ES_API_KEY")
    es_username: str | None = Field(default=None, validation_alias="ES_USERNAME")
    es_password: SecretStr | None = Field(default=None, validation_alias="ES_PASSWORD")
    es_verify_certs: bool = Field(default=True, validation_alias="ES_VERIFY_CERTS")
    es_ca_certs: Path | None = Field(default=None, validation_alias="ES_CA_CERTS")
    es_timeout_s: float = Field(default=30.0, gt=0, validation_alias="ES_TIMEOUT_S")

    es_port: int = Field(default=9200, ge=1, le=65535, validation_alias="BRANDPULSE_ES_PORT")
    state_dir: Path = Field(default=REPO_ROOT / ".state", validation_alias="BRANDPULSE_STATE_DIR")
    config_path: Path = Field(default=REPO_ROOT / "brands.yaml", validation_alias="BRANDPULSE_CONFIG")
    index_prefix: str = Field(
        default="brandpulse", pattern=r"^[a-z][a-z0-9_-]*$", validation_alias="BRANDPULSE_INDEX_PREFIX"
    )
    bulk_chunk_size: int = Field(default=500, ge=1, le=10_000, validation_alias="BRANDPULSE_BULK_CHUNK")

    @model_validator(mode="after")
    def _auth_pairs(self) -> Settings:
        if (self.es_username is None) != (self.es_password is None):
            raise ValueError("ES_USERNAME and ES_PASSWORD must be set together")
        return self

    @property
    def embedded(self) -> bool:
        """True when no ES_URL is given: the project's own node on 127.0.0.1."""
        return self.es_url is None

    @property
    def effective_es_url(self) -> str:
        """The URL as configured, credentials included: for the client only, never print it."""
        return self.es_url or f"http://127.0.0.1:{self.es_port}"

    @property
    def es_url_display(self) -> str:
        """The cluster URL(s) safe to print (user info, query and fragment removed)."""
        return ",".join(redact_url(url) for url in self.es_hosts)

    @property
    def es_hosts(self) -> list[str]:
        """The node URLs of the cluster: ES_URL may list several, comma-separated."""
        return [url.strip() for url in self.effective_es_url.split(",") if url.strip()]

    @cached_property
    def indices(self) -> IndexNames:
        return IndexNames(self.index_prefix)


class IndexNames:
    """Names of the indices, aliases and templates, derived from one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.mentions = f"{prefix}-mentions"  # read alias over every generation
        self.mentions_write = f"{prefix}-mentions-write"  # write alias (one index)
        self.quarantine = f"{prefix}-quarantine"
        self.state = f"{prefix}-state"
        self.alerts = f"{prefix}-alerts"

    def mentions_index(self, version: int, generation: int = 1) -> str:
        """Concrete mention index: template version + rollover generation."""
        return f"{self.prefix}-mentions-v{version}-{generation:06d}"


_USERINFO = re.compile(r"(?<=//)[^/?#@\s]*@")


def redact_url(url: str | None) -> str:
    """`https://user:secret@host:9200/p?api_key=x` -> `https://***@host:9200/p`:
    credentials in the user info, the query or the fragment are never printed."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        if ":" in host:  # IPv6
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # unparseable (bad port, brackets): drop anything like user info
        return _USERINFO.sub("***@", url.split("?", 1)[0].split("#", 1)[0])
    auth = "***@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, f"{auth}{host}{port}", parts.path, "", ""))


def get_settings() -> Settings:
    """Read settings now (not at import time), so tests and tasks see their env."""
    return Settings()
