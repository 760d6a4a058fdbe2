"""Issue 12, item 5: one line, not a traceback, for every expected failure."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from brandpulse.cli.app import main


@pytest.fixture
def unauthorized_es() -> Iterator[str]:
    """An HTTP server that answers every request like a secured cluster without credentials."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"error": {"type": "security_exception", "reason": "missing credentials"}})
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        do_POST = do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["brandpulse", *args])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    return int(info.value.code or 0), err


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_es_url_without_a_scheme(env, monkeypatch, capsys):
    env.setenv("ES_URL", "localhost:9200")
    code, err = run_main(monkeypatch, capsys, "counts")
    assert code == 2 and "ES_URL must start with http:// or https://" in one_line(err)


def test_unreachable_real_cluster_does_not_suggest_es_start(env, monkeypatch, capsys):
    env.setenv("ES_URL", "http://127.0.0.1:1")
    env.setenv("ES_TIMEOUT_S", "1")
    code, err = run_main(monkeypatch, capsys, "counts")
    line = one_line(err)
    assert code == 1 and "cannot reach Elasticsearch at http://127.0.0.1:1" in line
    assert "es start" not in line and "check ES_URL" in line


def test_unreachable_embedded_node_suggests_es_start(env, monkeypatch, capsys):
    env.setenv("BRANDPULSE_ES_PORT", "1")
    code, err = run_main(monkeypatch, capsys, "counts")
    assert code == 1 and "brandpulse es start" in one_line(err)


def test_elasticsearch_401_is_one_line_naming_the_credentials(env, monkeypatch, capsys, unauthorized_es):
    env.setenv("ES_URL", unauthorized_es)
    code, err = run_main(monkeypatch, capsys, "counts")
    line = one_line(err)
    assert code == 1 and "refused the credentials (401" in line and "ES_API_KEY" in line


def test_enrich_checks_the_cluster_before_loading_the_model(env, monkeypatch, capsys):
    import nlp.sentiment

    def no_model(*a, **k):
        raise AssertionError("the model was loaded before the cluster was checked")

    monkeypatch.setattr(nlp.sentiment, "get_model", no_model)
    env.setenv("ES_URL", "http://127.0.0.1:1")
    env.setenv("ES_TIMEOUT_S", "1")
    code, err = run_main(monkeypatch, capsys, "enrich")
    assert code == 1 and "cannot reach Elasticsearch" in one_line(err)


def test_a_query_nested_500_levels_in_check_config(env, monkeypatch, capsys, tmp_path):
    config = tmp_path / "brands.yaml"
    config.write_text(f'brands:\n  - name: acme\n    query: "{"NOT " * 500}acme"\n')
    code, err = run_main(monkeypatch, capsys, "check-config", "-c", str(config))
    assert code == 2 and "nested too deeply" in err and "Traceback" not in err


@pytest.mark.integration
def test_missing_source_file_is_one_line(es_env, monkeypatch, capsys, tmp_path):
    config = tmp_path / "brands.yaml"
    config.write_text(
        "brands:\n  - name: acme\n    query: acme\n    sources:\n"
        f"      file: {{path: {tmp_path}/nope/x.jsonl}}\n"
    )
    code, err = run_main(monkeypatch, capsys, "ingest", "-c", str(config))
    [line] = [line for line in err.splitlines() if "Error" in line]  # after the progress line
    assert code == 1 and "Traceback" not in err
    assert line.startswith("FatalSourceError: file source: no such file") and line.endswith("x.jsonl")
