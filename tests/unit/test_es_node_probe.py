"""The embedded node's HTTP probe (`es_node._http_json`, on requests) and its
settings (`LocalSettings`), without a node."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from brandpulse.dev import es_node


class Stub(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {"/_cluster/health": (200, {"status": "yellow"}), "/list": (200, [1, 2])}
        status, body = routes.get(self.path.split("?")[0], (404, {"error": "no"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_probe_reads_json_objects_only(port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy is never used for 127.0.0.1
    assert es_node._http_json(f"http://127.0.0.1:{port}/_cluster/health", 5) == {"status": "yellow"}
    assert es_node._health(port) == "yellow"
    assert es_node._http_json(f"http://127.0.0.1:{port}/missing", 5) is None
    assert es_node._http_json(f"http://127.0.0.1:{port}/list", 5) is None


def test_probe_of_a_closed_port_is_none() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert es_node._http_json(f"http://127.0.0.1:{closed}/", 2) is None


def test_node_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("BRANDPULSE_ES_PORT", "9333")
    monkeypatch.setenv("BRANDPULSE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("BRANDPULSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BRANDPULSE_ES_HEAP", "256m")
    assert es_node.default_port() == 9333
    assert es_node.default_state_dir() == (tmp_path / "es").resolve()
    assert es_node.cache_dir() == tmp_path / "cache"
    assert es_node._heap_opts() == ["-Xms256m", "-Xmx256m"]


def test_invalid_node_settings_are_node_errors_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRANDPULSE_ES_PORT", "mkPort4711")
    with pytest.raises(es_node.EsNodeError, match="BRANDPULSE_ES_PORT") as info:
        es_node.default_port()
    assert "mkPort4711" not in str(info.value)
