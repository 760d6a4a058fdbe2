"""`brandpulse kibana import` against a local HTTP stub that checks what Kibana
checks (path, overwrite, kbn-xsrf, auth, multipart file) and answers with the
documented response shape; and the dry run, which must not touch the network."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from brandpulse.cli.analyst import app
from brandpulse.kibana.importer import (
    ImportPlan,
    KibanaAuth,
    KibanaImportError,
    import_objects,
    import_url,
    parse_response,
)
from brandpulse.kibana.objects import build_objects

SECRET = "scrubbed"  # a test placeholder, not a credential


class KibanaStub(BaseHTTPRequestHandler):
    """Answers like Kibana's saved-objects import API; records what it received."""

    received: ClassVar[list[dict]] = []
    existing: ClassVar[set[tuple[str, str]]] = set()

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        record = {"path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers)}
        self.received.append(record)
        if self.headers.get("kbn-xsrf") != "true":
            return self._reply(
                400, {"statusCode": 400, "error": "Bad Request", "message": "missing kbn-xsrf"}
            )
        auth = self.headers.get("Authorization", "")
        if auth not in (f"ApiKey {SECRET}", "Basic " + base64.b64encode(b"analyst:pw").decode()):
            return self._reply(401, {"statusCode": 401, "error": "Unauthorized", "message": "no credentials"})
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        files = [
            p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file"
        ]
        assert len(files) == 1
        ndjson = files[0].get_payload(decode=True).decode()
        record["filename"] = files[0].get_filename()
        objects = [json.loads(line) for line in ndjson.splitlines()]
        record["objects"] = objects
        results, errors = [], []
        for obj in objects:
            if obj["id"] == "brandpulse-lens-alert-episodes":  # one documented error shape
                errors.append(
                    {
                        "id": obj["id"],
                        "type": obj["type"],
                        "title": obj["attributes"]["title"],
                        "meta": {"title": obj["attributes"]["title"], "icon": "lensApp"},
                        "error": {
                            "type": "missing_references",
                            "references": [{"type": "index-pattern", "id": "brandpulse-alerts"}],
                        },
                    }
                )
                continue
            item = {"type": obj["type"], "id": obj["id"], "meta": {"title": obj["attributes"]["title"]}}
            if (obj["type"], obj["id"]) in self.existing:
                item["overwrite"] = True
            results.append(item)
        self._reply(
            200,
            {
                "success": not errors,
                "successCount": len(results),
                "successResults": results,
                "errors": errors,
                "warnings": [],
            },
        )

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # keep pytest output clean
        return


@pytest.fixture
def kibana() -> Iterator[str]:
    KibanaStub.received = []
    KibanaStub.existing = {
        ("index-pattern", "brandpulse-mentions"),
        ("dashboard", "brandpulse-dashboard-topics"),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), KibanaStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_kibana_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("KIBANA_API_KEY", "KIBANA_USERNAME", "KIBANA_PASSWORD", "BRANDPULSE_INDEX_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_import_sends_the_documented_request_and_reports_created_updated_errors(
    kibana, no_kibana_env
) -> None:
    objects = build_objects()
    plan = ImportPlan(
        import_url(kibana, "marketing"), objects, KibanaAuth.from_env({"KIBANA_API_KEY": SECRET})
    )
    result = import_objects(plan)

    (request,) = KibanaStub.received
    assert request["path"] == "/s/marketing/api/saved_objects/_import"
    assert request["query"] == {"overwrite": ["true"]}
    assert request["filename"].endswith(".ndjson")
    assert request["objects"] == objects
    assert ("index-pattern", "brandpulse-mentions") in result.updated
    assert ("dashboard", "brandpulse-dashboard-topics") in result.updated
    assert len(result.created) == len(objects) - 3
    assert [(e.id, e.reason) for e in result.errors] == [
        ("brandpulse-lens-alert-episodes", "missing_references (index-pattern:brandpulse-alerts)")
    ]
    assert not result.success


def test_basic_auth_and_default_space(kibana) -> None:
    auth = KibanaAuth.from_env({"KIBANA_USERNAME": "analyst", "KIBANA_PASSWORD": "pw"})
    result = import_objects(ImportPlan(import_url(kibana), build_objects(), auth))
    assert KibanaStub.received[0]["path"] == "/api/saved_objects/_import"
    assert len(result.created) + len(result.updated) == len(build_objects()) - 1


def test_refused_request_raises_with_kibanas_message(kibana) -> None:
    with pytest.raises(KibanaImportError, match="401: no credentials"):
        import_objects(ImportPlan(import_url(kibana), build_objects(), KibanaAuth()))


def test_cli_import_prints_counts_and_never_the_secret(kibana, no_kibana_env) -> None:
    no_kibana_env.setenv("KIBANA_API_KEY", SECRET)
    run = CliRunner().invoke(app, ["kibana", "import", "--url", kibana, "--space", "marketing"])
    assert run.exit_code == 1  # the stub reports one error
    assert f"{len(build_objects()) - 3} created, 2 updated, 1 errors" in run.output
    assert "missing_references" in run.output
    assert SECRET not in run.output


def test_dry_run_makes_no_network_call(no_kibana_env, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    def refuse(*args, **kwargs):
        raise AssertionError("dry run must not open a connection")

    monkeypatch.setattr(requests.Session, "send", refuse)
    no_kibana_env.setenv("KIBANA_API_KEY", SECRET)
    run = CliRunner().invoke(app, ["kibana", "import", "--url", "http://kibana.invalid:5601", "--dry-run"])
    assert run.exit_code == 0, run.output
    assert "POST http://kibana.invalid:5601/api/saved_objects/_import?overwrite=true" in run.output
    assert "ApiKey ***" in run.output and SECRET not in run.output
    for obj in build_objects():
        assert obj["id"] in run.output


def test_bad_space_and_half_basic_auth_are_usage_errors(no_kibana_env) -> None:
    with pytest.raises(KibanaImportError, match="invalid space"):
        import_url("http://k:5601", "Bad Space")
    with pytest.raises(KibanaImportError, match="together"):
        KibanaAuth.from_env({"KIBANA_USERNAME": "a"})


def test_parse_response_uses_destination_id() -> None:
    body = {"success": True, "successResults": [{"type": "lens", "id": "a", "destinationId": "b"}]}
    assert parse_response(body).created == [("lens", "b")]


def test_unreachable_kibana_is_an_import_error_without_credentials(no_kibana_env) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    auth = KibanaAuth.from_env({"KIBANA_USERNAME": "analyst", "KIBANA_PASSWORD": SECRET})
    with pytest.raises(KibanaImportError, match="cannot reach Kibana") as info:
        import_objects(ImportPlan(import_url(f"http://127.0.0.1:{port}"), build_objects(), auth), timeout_s=5)
    assert SECRET not in str(info.value)
