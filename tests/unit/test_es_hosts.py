"""ES_URL may name several nodes of one cluster (comma-separated); the client gets them all."""

from __future__ import annotations

import pytest

from brandpulse.core.settings import Settings
from indexing.client import make_client


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ES_URL", "ES_API_KEY", "ES_USERNAME", "ES_PASSWORD", "BRANDPULSE_ES_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_one_url_stays_one_host() -> None:
    settings = Settings(ES_URL="https://es.example.com:9200")
    assert settings.es_hosts == ["https://es.example.com:9200"]
    assert settings.effective_es_url == "https://es.example.com:9200"


def test_embedded_node_default_is_unchanged() -> None:
    settings = Settings(BRANDPULSE_ES_PORT=9333)
    assert settings.embedded and settings.es_hosts == ["http://127.0.0.1:9333"]


def test_comma_separated_urls_are_split_and_trimmed() -> None:
    settings = Settings(ES_URL=" http://127.0.0.1:9261 , http://127.0.0.1:9262,")
    assert settings.es_hosts == ["http://127.0.0.1:9261", "http://127.0.0.1:9262"]
    assert not settings.embedded


def test_the_client_gets_every_node() -> None:
    client = make_client(Settings(ES_URL="http://127.0.0.1:9261,http://127.0.0.1:9262"))
    try:
        ports = sorted(node.config.port for node in client.transport.node_pool.all())
        assert ports == [9261, 9262]
    finally:
        client.close()


def test_https_on_any_node_keeps_certificate_settings() -> None:
    client = make_client(
        Settings(ES_URL="https://a.example:9200,https://b.example:9200", ES_VERIFY_CERTS=True)
    )
    try:
        assert {node.config.scheme for node in client.transport.node_pool.all()} == {"https"}
    finally:
        client.close()
