"""Delivery against real servers on 127.0.0.1: aiosmtpd (plain+AUTH, STARTTLS,
SSL, transient and permanent refusals) and an http.server webhook."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alerts.detector import BucketResult
from alerts.email_render import AlertContent, Growth, Post
from alerts.notifiers import (
    DeliveryError,
    SmtpConfig,
    SmtpNotifier,
    WebhookNotifier,
    slack_payload,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

USER, PASSWORD = "alerts", "s3cret-pass"
T0 = dt.datetime(2025, 3, 3, 18, 0, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def content() -> AlertContent:
    return AlertContent(
        brand="acme",
        brand_title="Acme <Corp>",
        event="open",
        episode_id="acme:20250303T1800Z",
        event_key="open",
        window_start=T0,
        window_end=T0 + dt.timedelta(hours=1),
        negatives=120,
        expected_negatives=15.0,
        share=0.4,
        expected_share=0.1,
        topics=[Growth("billing", 30, 3.0)],
        posts=[
            Post(
                text="<script>x</script> broken",
                platform="x",
                author="@a",
                url="https://x.com/a/1",
                engagement=50,
            )
        ],
        kibana_url="http://kibana.local/app/discover#/",
        buckets=[
            BucketResult(
                start=T0 + dt.timedelta(minutes=15 * i),
                end=T0 + dt.timedelta(minutes=15 * (i + 1)),
                negatives=30 if i > 6 else 4,
                expected=4.0,
                lower=1.0,
                upper=8.0,
                fired=i > 6,
            )
            for i in range(10)
        ],
    )


class Recorder:
    """aiosmtpd handler: keeps every envelope; can refuse the first N with a code."""

    def __init__(self, refuse: int = 0, code: str = "451 4.3.0 try again later") -> None:
        self.envelopes = []
        self.refuse = refuse
        self.code = code
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.attempts <= self.refuse:
            return self.code
        self.envelopes.append(envelope)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost (also the test CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_context(tls_files) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, tls_files))
    return context


def start(handler, **kwargs) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


def received(handler: Recorder):
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    return envelope, message_from_bytes(envelope.content, policy=policy.default)


def test_plain_smtp_with_auth_delivers_every_part():
    handler = Recorder()
    controller, port = start(handler, authenticator=authenticator, auth_required=True, auth_require_tls=False)
    try:
        config = SmtpConfig(
            host="127.0.0.1",
            port=port,
            security="none",
            username=USER,
            password=PASSWORD,
            sender="alerts@example.org",
        )
        SmtpNotifier(config).notify(content(), ["cm@example.org", "lead@example.org"])
    finally:
        controller.stop()
    envelope, msg = received(handler)
    assert envelope.mail_from == "alerts@example.org"
    assert envelope.rcpt_tos == ["cm@example.org", "lead@example.org"]
    types = [p.get_content_type() for p in msg.walk()]
    assert types == ["multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]
    html = msg.get_body(("html",)).get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "Acme &lt;Corp&gt;" in html
    png = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert png[0].get_payload(decode=True).startswith(b"\x89PNG")
    assert "120" in msg.get_body(("plain",)).get_content()


def test_wrong_password_is_a_delivery_error_without_the_secret():
    handler = Recorder()
    controller, port = start(handler, authenticator=authenticator, auth_required=True, auth_require_tls=False)
    try:
        config = SmtpConfig(
            host="127.0.0.1",
            port=port,
            security="none",
            username=USER,
            password="wrong-password",
            retries=0,
            timeout_s=3,
        )
        with pytest.raises(DeliveryError) as err:
            SmtpNotifier(config).notify(content(), ["cm@example.org"])
    finally:
        controller.stop()
    assert "wrong-password" not in str(err.value) and "wrong-password" not in repr(config)
    assert handler.envelopes == []


def test_starttls_with_a_verified_certificate(tls_files):
    handler = Recorder()
    controller, port = start(
        handler,
        tls_context=server_context(tls_files),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    try:
        config = SmtpConfig(
            host="127.0.0.1",
            port=port,
            security="starttls",
            username=USER,
            password=PASSWORD,
            ca_file=str(tls_files[0]),
        )
        SmtpNotifier(config).notify(content(), ["cm@example.org"])
    finally:
        controller.stop()
    _, msg = received(handler)
    assert msg["Subject"].startswith("[brandpulse] Acme <Corp>")


def test_starttls_refuses_an_untrusted_certificate(tls_files):
    handler = Recorder()
    controller, port = start(handler, tls_context=server_context(tls_files), require_starttls=True)
    try:
        config = SmtpConfig(host="127.0.0.1", port=port, security="starttls", retries=0)
        with pytest.raises(DeliveryError):
            SmtpNotifier(config).notify(content(), ["cm@example.org"])
    finally:
        controller.stop()
    assert handler.envelopes == []


def test_implicit_ssl(tls_files):
    handler = Recorder()
    controller, port = start(handler, ssl_context=server_context(tls_files))
    try:
        config = SmtpConfig(host="127.0.0.1", port=port, security="ssl", ca_file=str(tls_files[0]))
        SmtpNotifier(config).notify(content(), ["cm@example.org"])
    finally:
        controller.stop()
    received(handler)


def test_transient_refusals_are_retried():
    handler = Recorder(refuse=2)
    controller, port = start(handler)
    try:
        config = SmtpConfig(host="127.0.0.1", port=port, security="none", retries=3, backoff_s=0.01)
        SmtpNotifier(config).notify(content(), ["cm@example.org"])
    finally:
        controller.stop()
    assert handler.attempts == 3
    received(handler)


def test_permanent_refusal_is_not_retried():
    handler = Recorder(refuse=10, code="550 5.7.1 rejected")
    controller, port = start(handler)
    try:
        config = SmtpConfig(host="127.0.0.1", port=port, security="none", retries=3, backoff_s=0.01)
        with pytest.raises(DeliveryError, match="550"):
            SmtpNotifier(config).notify(content(), ["cm@example.org"])
    finally:
        controller.stop()
    assert handler.attempts == 1


def test_unreachable_server_fails_after_the_retries():
    config = SmtpConfig(
        host="127.0.0.1", port=free_port(), security="none", retries=2, backoff_s=0.01, timeout_s=2
    )
    with pytest.raises(DeliveryError, match="3 attempts"):
        SmtpNotifier(config).notify(content(), ["cm@example.org"])


def test_config_from_environment():
    config = SmtpConfig.from_env(
        {
            "BRANDPULSE_SMTP_HOST": "mail.example.org",
            "BRANDPULSE_SMTP_SECURITY": "ssl",
            "BRANDPULSE_SMTP_USER": "u",
            "BRANDPULSE_SMTP_PASSWORD": "topsecret",
            "BRANDPULSE_SMTP_FROM": "alerts@example.org",
            "BRANDPULSE_SMTP_VERIFY": "false",
        }
    )
    assert (config.host, config.effective_port, config.verify) == ("mail.example.org", 465, False)
    assert config.password.get_secret_value() == "topsecret"
    assert "topsecret" not in repr(config) and "topsecret" not in str(config.model_dump())
    with pytest.raises(DeliveryError):
        SmtpConfig.from_env({})


def test_config_from_an_airflow_connection(monkeypatch):
    pytest.importorskip("airflow.sdk")
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": 2525,
        "login": "alerts",
        "password": "pw-from-airflow",
        "extra": {
            "disable_ssl": True,
            "disable_tls": False,
            "from_email": "a@example.org",
            "timeout": 7,
            "retry_limit": 1,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_BRANDPULSE_SMTP_TEST", json.dumps(conn))
    config = SmtpConfig.from_airflow_connection("brandpulse_smtp_test")
    assert (config.host, config.port, config.security) == ("127.0.0.1", 2525, "starttls")
    assert (config.username, config.sender, config.timeout_s, config.retries) == (
        "alerts",
        "a@example.org",
        7.0,
        1,
    )
    assert config.password.get_secret_value() == "pw-from-airflow"


class _Hook(BaseHTTPRequestHandler):
    statuses: ClassVar[list[int]] = []
    bodies: ClassVar[list[dict]] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.bodies.append(body)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        return


@pytest.fixture()
def webhook_server():
    _Hook.statuses, _Hook.bodies = [], []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook/T000/B000/token"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_posts_slack_json_and_retries_5xx(webhook_server):
    _Hook.statuses = [503, 200]
    WebhookNotifier(webhook_server, backoff_s=0.01).notify(content())
    assert len(_Hook.bodies) == 1
    body = _Hook.bodies[0]
    assert body == slack_payload(content())
    assert "Acme &lt;Corp&gt;" in body["text"]
    flat = json.dumps(body)
    assert "<script>" not in flat and "&lt;script&gt;" in flat
    assert "<https://x.com/a/1|open>" in flat


def test_webhook_client_errors_are_permanent(webhook_server):
    _Hook.statuses = [404, 200]
    with pytest.raises(DeliveryError, match="404"):
        WebhookNotifier(webhook_server, backoff_s=0.01).notify(content())
    assert _Hook.bodies == []
