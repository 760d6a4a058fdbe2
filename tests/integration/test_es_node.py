"""The project-managed Elasticsearch node: start, use with the official client, stop."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from brandpulse.dev import es_node

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_start_use_stop(tmp_path: Path) -> None:
    state_dir = tmp_path / "es"
    port = _free_port()
    node = es_node.start(port=port, state_dir=state_dir, wait_s=180)
    try:
        assert node.port == port
        assert node.url == f"http://127.0.0.1:{port}"
        assert node.version.startswith("8.")
        assert node.health in ("yellow", "green")
        assert (state_dir / "node.pid").read_text().strip() == str(node.pid)

        # idempotent: a second start returns the same running node
        assert es_node.start(port=port, state_dir=state_dir).pid == node.pid
        # a different port for the same state dir is refused
        with pytest.raises(es_node.EsNodeError):
            es_node.start(port=_free_port(), state_dir=state_dir, wait_s=5)

        es = Elasticsearch(node.url, request_timeout=30)
        info = es.info()  # the 8.x client verifies the X-Elastic-Product header here
        assert info["version"]["number"] == node.version
        assert info["tagline"] == "You Know, for Search"

        es.indices.create(
            index="bp-test",
            mappings={"properties": {"text": {"type": "text"}, "brand": {"type": "keyword"}}},
            settings={"number_of_replicas": 0},
        )
        es.index(index="bp-test", id="1", document={"text": "Loving my new Acme phone", "brand": "acme"})
        es.indices.refresh(index="bp-test")
        hits = es.search(index="bp-test", query={"match": {"text": "phone"}})["hits"]
        assert hits["total"]["value"] == 1
        assert hits["hits"][0]["_source"]["brand"] == "acme"
        aggs = es.search(index="bp-test", size=0, aggs={"b": {"terms": {"field": "brand"}}})
        assert aggs["aggregations"]["b"]["buckets"][0]["key"] == "acme"
        es.close()

        status = es_node.status(port=port, state_dir=state_dir)
        assert status is not None and status.pid == node.pid
    finally:
        stopped = es_node.stop(state_dir)

    assert stopped is True
    assert es_node.status(port=port, state_dir=state_dir) is None
    assert not (state_dir / "node.pid").exists()
    assert es_node.stop(state_dir) is False  # idempotent
    with socket.socket() as s:  # nothing listens on the port any more
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_port_taken_by_something_else(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        with pytest.raises(es_node.EsNodeError, match="already in use"):
            es_node.start(port=port, state_dir=tmp_path / "es", wait_s=30)
    assert es_node.status(state_dir=tmp_path / "es") is None
