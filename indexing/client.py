"""Create Elasticsearch clients from settings (never at import time)."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from brandpulse.settings import Settings, get_settings


def make_client(settings: Settings | None = None) -> Elasticsearch:
    """A client for the configured cluster: ES_URL (one URL, or several nodes
    comma-separated: the client fails over between them) + API key or basic auth,
    TLS verified by default; without ES_URL, the embedded node on 127.0.0.1."""
    s = settings or get_settings()
    kwargs: dict[str, Any] = {
        "hosts": s.es_hosts,
        "request_timeout": s.es_timeout_s,
        "retry_on_timeout": True,
        "max_retries": 3,
    }
    if s.es_api_key is not None:
        kwargs["api_key"] = s.es_api_key.get_secret_value()
    elif s.es_username is not None and s.es_password is not None:
        kwargs["basic_auth"] = (s.es_username, s.es_password.get_secret_value())
    if any(host.startswith("https") for host in s.es_hosts):
        kwargs["verify_certs"] = s.es_verify_certs
        if s.es_ca_certs is not None:
            kwargs["ca_certs"] = str(s.es_ca_certs)
    return Elasticsearch(**kwargs)
