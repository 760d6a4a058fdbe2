"""Issue 12, item 6: small things a newcomer trips on."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from brandpulse.airflow_env import GRAPHVIZ_WARNING, airflow_env
from brandpulse.cli.app import app, credentials_text
from brandpulse.pipeline.ingest import _reason_key
from listeners.registry import registry

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_sources_shows_required_and_optional_credentials_literally():
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert lines["file"].endswith("[no credentials]")
    assert "[needs X_BEARER_TOKEN]" in lines["x"]
    assert "[needs REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET]" in lines["reddit"]
    assert credentials_text(registry.get("mastodon")).startswith("optional MASTODON_ACCESS_TOKEN")
    assert credentials_text(registry.get("bluesky")) == "optional BLUESKY_HANDLE, BLUESKY_APP_PASSWORD"


def test_ingest_summary_reasons_keep_the_whole_reason_grouped_by_kind():
    assert _reason_key("text: String should have at least 1 character") == (
        "text: String should have at least 1 character"
    )
    assert _reason_key("malformed JSON: Expecting value at column 5") == _reason_key(
        "malformed JSON: Expecting value at column 17"
    )
    assert _reason_key("implausible created_at '31/12/2026': x") == "implausible created_at '…': x"
    assert len(_reason_key("x: " + "y" * 500)) == 100


def test_kibana_import_takes_the_url_from_the_brands_config(tmp_path, monkeypatch):
    for name in ("KIBANA_API_KEY", "KIBANA_USERNAME", "KIBANA_PASSWORD", "BRANDPULSE_INDEX_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "brands.yaml"
    config.write_text("kibana_url: http://kibana.example:5601\nbrands:\n  - name: acme\n    query: acme\n")
    run = runner.invoke(app, ["kibana", "import", "--dry-run", "-c", str(config)])
    assert run.exit_code == 0, run.output
    assert "POST http://kibana.example:5601/api/saved_objects/_import?overwrite=true" in run.output
    config.write_text("brands:\n  - name: acme\n    query: acme\n")
    run = runner.invoke(app, ["kibana", "import", "--dry-run", "-c", str(config)])
    assert run.exit_code == 2 and "pass --url, or set kibana_url" in run.output


def test_airflow_api_server_listens_on_the_loopback_by_default():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "airflow.cfg")
    assert cfg["api"]["host"] == "127.0.0.1"


def test_airflow_cli_environment_silences_the_graphviz_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("BRANDPULSE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    env = airflow_env()
    assert env["PYTHONWARNINGS"] == f"{GRAPHVIZ_WARNING},error::DeprecationWarning"  # the user's kept
    code = (
        "import warnings; warnings.warn('Could not import graphviz. Rendering graph ...', UserWarning); "
        "warnings.warn('another warning', UserWarning)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONWARNINGS": env["PYTHONWARNINGS"]},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "graphviz" not in done.stderr and "another warning" in done.stderr


def test_rich_never_eats_brackets_in_messages(tmp_path, monkeypatch):
    config = tmp_path / "brands.yaml"
    config.write_text('brands:\n  - name: acme\n    query: acme "[bold]x[/bold]"\n')
    run = runner.invoke(app, ["check-config", "-c", str(config)])
    assert run.exit_code == 0 and '"[bold]x[/bold]"' in run.output
    config.write_text(
        "brands:\n  - name: Acme [EU]\n    query: acme\n    languages: [english]\n"
        "    alerts: {bucket_minutes: 7}\n    sources: {file: {path: '[x].jsonl', fromat: csv}}\n"
    )
    run = runner.invoke(app, ["check-config", "-c", str(config)], env={"COLUMNS": "300"})
    assert run.exit_code == 2
    lines = [line for line in run.output.splitlines() if line.startswith("  ")]
    assert len(lines) == 4, run.output  # every mistake in one run
    assert all(line.strip().startswith(f"{config}:") for line in lines)
    assert "brand 'Acme [EU]'" in run.output and "(got 'Acme [EU]')" in run.output
    monkeypatch.setenv("BRANDPULSE_STATE_DIR", str(tmp_path / "[state]"))
    env = runner.invoke(app, ["airflow-env"])
    assert "[state]" in env.output


def test_enrich_progress_shows_a_rate():
    from rich.progress import Progress

    from brandpulse.cli.app import RateColumn

    clock = {"t": 0.0}
    progress = Progress(RateColumn(), disable=True, get_time=lambda: clock["t"])
    task_id = progress.add_task("enriching", total=1000)
    assert RateColumn().render(progress.tasks[0]).plain == "–/s"
    for _ in range(4):
        clock["t"] += 1.0
        progress.advance(task_id, 250)
    assert RateColumn().render(progress.tasks[0]).plain == "250/s"
