"""Runtime settings from the environment (never from the brands YAML).

Every configuration variable is read here, through pydantic-settings, and
nowhere else: `LocalSettings` (paths, threads, the embedded node), `Settings`
(those plus the cluster), `SmtpSettings`, `WebhookSettings` and
`KibanaSettings`. Read them at call time (`get_settings()`, `XSettings.load()`),
never at import time, so tests and tasks see their own environment. An invalid
value fails with the variable's name and never its value (`describe_error`).

Secrets (API keys, passwords) are read here or from Airflow Connections and are
never logged: they are `SecretStr`, whose repr is masked; validation errors
never echo input values (`hide_input_in_errors`), and `ES_URL` may carry
credentials (`https://user:password@host`), so it is printed only through
`redact_url` (`Settings.es_url_display`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "brandpulse"


def describe_error(exc: ValidationError) -> str:
    """`VARIABLE: what is wrong` for each error; never the offending value."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


class EnvSettings(BaseSettings):
    """Base of the settings models: each field is read from the variable named by
    its `validation_alias`; unknown variables are ignored; errors hide inputs."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, hide_input_in_errors=True)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Self:
        """From the process environment, or (when given) from `environ` alone."""
        if environ is None:
            return cls()
        if cls.model_config.get("env_ignore_empty"):
            environ = {k: v for k, v in environ.items() if v != ""}
        return cls.model_validate(dict(environ))


class LocalSettings(EnvSettings):
    """What this machine needs whatever the cluster: state and cache folders,
    torch threads and the embedded dev node. An empty variable means its default."""

    es_port: int = Field(default=9200, ge=1, le=65535, validation_alias="BRANDPULSE_ES_PORT")
    state_dir: Path = Field(default=REPO_ROOT / ".state", validation_alias="BRANDPULSE_STATE_DIR")
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        validation_alias="BRANDPULSE_CACHE_DIR",
        description="build cache of the embedded node, models",
    )
    torch_threads: int = Field(default=1, ge=1, le=1024, validation_alias="BRANDPULSE_TORCH_THREADS")
    inference_precision: Literal["auto", "fp32", "bf16", "int8"] = Field(
        default="auto",
        validation_alias="BRANDPULSE_INFERENCE_PRECISION",
        description="encoder inference: auto (bf16 with AVX-512, else fp32), fp32, bf16 or int8",
    )
    sentiment_model: str = Field(
        default="default",
        validation_alias="BRANDPULSE_SENTIMENT_MODEL",
        description="sentiment model of the enrich step: default, vader, onnx:DIR, a model directory or id",
    )
    es_heap: str = Field(
        default="512m:1g",
        pattern=r"^[0-9]+[kKmMgG]?(:[0-9]+[kKmMgG]?)?$",
        validation_alias="BRANDPULSE_ES_HEAP",
        description="heap of the embedded node: MAX or MIN:MAX",
    )
    es_java_opts: str = Field(default="", validation_alias="BRANDPULSE_ES_JAVA_OPTS")

    @field_validator(
        "es_port",
        "state_dir",
        "cache_dir",
        "torch_threads",
        "inference_precision",
        "sentiment_model",
        "es_heap",
        mode="before",
    )
    @classmethod
    def _empty_means_default(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise PydanticUseDefault()
        return value

    @field_validator("state_dir", "cache_dir")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        return value.expanduser()


class Settings(LocalSettings):
    """Everything that differs between the embedded dev node and a real cluster."""

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


class SmtpSettings(EnvSettings):
    """``BRANDPULSE_SMTP_*``: the mail relay of the alert e-mails (unset host:
    no SMTP from the environment). An empty variable counts as unset."""

    model_config = SettingsConfigDict(
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
        env_ignore_empty=True,
    )
    # every field names its variable (an alias; `env_prefix` would not apply to it)

    host: str | None = Field(default=None, validation_alias="BRANDPULSE_SMTP_HOST")
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        validation_alias="BRANDPULSE_SMTP_PORT",
        description="unset: 465 for ssl, 587 for starttls, 25 for none",
    )
    security: Literal["ssl", "starttls", "none"] = Field(
        default="starttls", validation_alias="BRANDPULSE_SMTP_SECURITY"
    )
    user: str | None = Field(default=None, validation_alias="BRANDPULSE_SMTP_USER")
    password: SecretStr | None = Field(default=None, validation_alias="BRANDPULSE_SMTP_PASSWORD")
    sender: str = Field(default="brandpulse@localhost", validation_alias="BRANDPULSE_SMTP_FROM")
    timeout_s: float = Field(default=30.0, gt=0, validation_alias="BRANDPULSE_SMTP_TIMEOUT")
    retries: int = Field(default=3, ge=0, validation_alias="BRANDPULSE_SMTP_RETRIES")
    verify: bool = Field(default=True, validation_alias="BRANDPULSE_SMTP_VERIFY")
    ca_file: str | None = Field(default=None, validation_alias="BRANDPULSE_SMTP_CA_FILE")


class WebhookSettings(EnvSettings):
    """``BRANDPULSE_WEBHOOK_URL``: a Slack-compatible incoming webhook. The URL
    embeds a token, so it is a secret."""

    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, hide_input_in_errors=True, env_ignore_empty=True
    )

    url: SecretStr | None = Field(default=None, validation_alias="BRANDPULSE_WEBHOOK_URL")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class KibanaSettings(EnvSettings):
    """Credentials of `brandpulse kibana import`: ``KIBANA_API_KEY``, or
    ``KIBANA_USERNAME`` + ``KIBANA_PASSWORD``. An empty variable counts as unset."""

    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, hide_input_in_errors=True, env_ignore_empty=True
    )

    api_key: SecretStr | None = Field(default=None, validation_alias="KIBANA_API_KEY")
    username: str | None = Field(default=None, validation_alias="KIBANA_USERNAME")
    password: SecretStr | None = Field(default=None, validation_alias="KIBANA_PASSWORD")

    @model_validator(mode="after")
    def _auth_pairs(self) -> KibanaSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("KIBANA_USERNAME and KIBANA_PASSWORD must be set together")
        return self


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
