"""Credentials are never printed: the real `brandpulse` CLI runs as a subprocess
with a marker secret in every credential variable (ES_URL's user info included),
against an Elasticsearch URL nothing listens on, with --verbose, for several
failing commands; no marker may appear in stdout, stderr or the state folder."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from brandpulse.core.settings import Settings, redact_url
from indexing.client import split_userinfo

REPO = Path(__file__).resolve().parents[2]

MARKERS = {
    "ES_URL_USER": "mkEsUrlUser4711",
    "ES_URL_PASSWORD": "mkEsUrlPw4711",
    "ES_PASSWORD": "mkEsPassword4711",
    "ES_API_KEY": "mkEsApiKey4711",
    "X_BEARER_TOKEN": "mkXBearer4711",
    "REDDIT_CLIENT_ID": "mkRedditId4711",
    "REDDIT_CLIENT_SECRET": "mkRedditSecret4711",
    "MASTODON_ACCESS_TOKEN": "mkMastodonToken4711",
    "BLUESKY_APP_PASSWORD": "mkBlueskyPw4711",
    "BRANDPULSE_SMTP_PASSWORD": "mkSmtpPw4711",
    "KIBANA_PASSWORD": "mkKibanaPw4711",
    "KIBANA_API_KEY": "mkKibanaKey4711",
}

CONFIG = """\
version: 1
brands:
  - name: acme
    query: 'acme OR #acme'
    sources:
      x: {}
      reddit: {user_agent: "linux:brandpulse-tests:0.1 (by /u/brandpulse)", subreddits: [gadgets]}
      mastodon: {instances: [mastodon.social]}
      bluesky: {}
    alerts:
      recipients: [social@acme.example]
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _forms(marker: str) -> list[str]:
    """The marker and the encodings it could leak in (basic auth, URL quoting)."""
    return [marker, base64.b64encode(marker.encode()).decode().rstrip("=")[:12]]


@pytest.fixture
def secret_env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "brands.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ES_", "BRANDPULSE_", "AIRFLOW"))}
    env |= {
        "PYTHONPATH": str(REPO),
        "BRANDPULSE_STATE_DIR": str(state),
        "BRANDPULSE_CONFIG": str(config),
        "BRANDPULSE_INDEX_PREFIX": "secrettest",
        "ES_URL": (
            f"https://{MARKERS['ES_URL_USER']}:{MARKERS['ES_URL_PASSWORD']}@127.0.0.1:{_closed_port()}/"
        ),
        "ES_USERNAME": "elastic",
        "ES_TIMEOUT_S": "2",
        "REDDIT_CLIENT_ID": MARKERS["REDDIT_CLIENT_ID"],
        "MASTODON_API_BASE_URL": "https://mastodon.social",
        "BLUESKY_HANDLE": "brandpulse-bot.bsky.social",
        "BRANDPULSE_SMTP_HOST": "127.0.0.1",
        "BRANDPULSE_SMTP_PORT": str(_closed_port()),
        "BRANDPULSE_SMTP_USER": "alerts",
        "KIBANA_USERNAME": "kibana",
        "COLUMNS": "200",
    }
    for name, marker in MARKERS.items():
        if not name.startswith("ES_URL_") and name != "REDDIT_CLIENT_ID":
            env[name] = marker
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brandpulse.cli.app", "--verbose", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_no_command_prints_a_credential(secret_env: dict[str, str], tmp_path: Path) -> None:
    kibana = f"http://127.0.0.1:{_closed_port()}"
    config = secret_env["BRANDPULSE_CONFIG"]
    commands = [
        ["counts"],
        ["setup"],
        ["search", "acme"],
        ["search", "acme", "--format", "csv", "--out", str(tmp_path / "out.csv")],
        ["stats", "--brand", "acme", "--since", "7d"],
        ["report", "--brand", "acme", "--since", "7d", "--out", str(tmp_path / "report.html")],
        ["ingest", "--config", config],
        ["alerts", "check", "--config", config],
        ["erase", "--author", "someone", "--yes"],
        ["kibana", "import", "--url", kibana],
    ]
    no_user = {k: v for k, v in secret_env.items() if k != "ES_USERNAME"}  # ES_PASSWORD alone
    runs = [(c, secret_env) for c in commands] + [(["counts"], no_user), (["search", "x"], no_user)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda ce: (ce[0], _run(ce[0], ce[1], tmp_path)), runs))

    for args, result in results:
        assert result.returncode != 0, f"{args} should fail: {result.stdout}{result.stderr}"
        output = result.stdout + result.stderr
        for name, marker in MARKERS.items():
            for form in _forms(marker):
                assert form not in output, f"{name} printed by {args}:\n{output[-3000:]}"
    unreachable = results[0][1].stderr  # counts, full environment
    assert "cannot reach Elasticsearch at https://***@127.0.0.1:" in unreachable
    settings_error = results[-1][1].stderr
    assert "ES_USERNAME and ES_PASSWORD must be set together" in settings_error

    state_dir = Path(secret_env["BRANDPULSE_STATE_DIR"])
    for path in [*state_dir.rglob("*"), *tmp_path.glob("*.*")]:
        if path.is_file():
            data = path.read_bytes()
            for name, marker in MARKERS.items():
                assert marker.encode() not in data, f"{name} written to {path}"


def test_settings_errors_and_reprs_hide_secrets(monkeypatch) -> None:
    from pydantic import ValidationError

    for name in ("ES_USERNAME", "ES_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ES_PASSWORD", "mkAlone4711")
    monkeypatch.setenv("ES_URL", "https://u:mkInUrl4711@db.example:9243")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert "mkAlone4711" not in str(raised.value) and "mkInUrl4711" not in str(raised.value)
    monkeypatch.setenv("ES_USERNAME", "elastic")
    settings = Settings()
    assert "mkAlone4711" not in repr(settings) and "mkInUrl4711" not in repr(settings)
    assert settings.es_url_display == "https://***@db.example:9243"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host:9200/x?api_key=k#f", "https://***@host:9200/x"),
        ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
        ("https://:token@[::1]:9243", "https://***@[::1]:9243"),
        ("https://user:p@ss@host", "https://***@host"),
        ("https://user:pw@host:notaport/", "https://***@host:notaport/"),
        (None, ""),
    ],
)
def test_redact_url(url, shown) -> None:
    assert redact_url(url) == shown


def test_user_info_goes_to_basic_auth_not_the_host_url() -> None:
    assert split_userinfo("https://el%40stic:p%3Aw@host:9243/") == ("https://host:9243/", ("el@stic", "p:w"))
    assert split_userinfo("http://127.0.0.1:9200") == ("http://127.0.0.1:9200", None)
