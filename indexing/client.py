"""Create Elasticsearch clients from settings (never at import time)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from elasticsearch import Elasticsearch

from brandpulse.core.settings import Settings, get_settings


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """`https://user:pw@host:9200` -> (`https://host:9200`, ("user", "pw")): the
    credentials go to the client as basic auth, never inside the host URL (which
    the client and its errors may print)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, (unquote(user), unquote(password))


def make_client(settings: Settings | None = None) -> Elasticsearch:
    """A client for the configured cluster: ES_URL (one URL, or several nodes
    comma-separated: the client fails over between them) + API key or basic auth,
    TLS verified by default; without ES_URL, the embedded node on 127.0.0.1."""
    s = settings or get_settings()
    hosts: list[str] = []
    userinfo: tuple[str, str] | None = None
    for raw in s.es_hosts:  # user:password in a URL becomes basic auth, never logged
        url, info = split_userinfo(raw)
        hosts.append(url)
        userinfo = userinfo or info
    kwargs: dict[str, Any] = {
        "hosts": hosts,
        "request_timeout": s.es_timeout_s,
        "retry_on_timeout": True,
        "max_retries": 3,
    }
    if s.es_api_key is not None:
        kwargs["api_key"] = s.es_api_key.get_secret_value()
    elif s.es_username is not None and s.es_password is not None:
        kwargs["basic_auth"] = (s.es_username, s.es_password.get_secret_value())
    elif userinfo is not None:
        kwargs["basic_auth"] = userinfo
    if any(host.startswith("https") for host in hosts):
        kwargs["verify_certs"] = s.es_verify_certs
        if s.es_ca_certs is not None:
            kwargs["ca_certs"] = str(s.es_ca_certs)
    return Elasticsearch(**kwargs)
