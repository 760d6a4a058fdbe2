"""The CLI as a user runs it, against the real node."""

import json

import pytest
from typer.testing import CliRunner

from brandpulse.cli.app import EXIT_PARTIAL, app
from indexing.queries import count_mentions, quarantine_count

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_import_of_a_bad_file_indexes_good_lines_and_reports_partial(es, settings, tmp_path):
    good = [
        json.dumps({"native_id": str(i), "created_at": "2026-11-02T10:00:00Z", "text": f"acme {i}"})
        for i in range(4)
    ]
    bad = [
        "{not json",
        json.dumps({"native_id": "x", "created_at": "2026-11-02T10:00:00Z"}),
        json.dumps({"native_id": "y", "created_at": "31/12/2026", "text": "acme"}),
        json.dumps({"native_id": "z", "created_at": "2026-11-02T10:00:00Z", "text": "a" * 50_000}),
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(("\n".join(good[:2] + bad + good[2:]) + "\n").encode() + b'{"text": "\xff"}\n')
    result = runner.invoke(app, ["import", str(path), "--brand", "acme", "--platform", "reviews"])
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert "4 new" in result.output and "5 quarantined" in result.output
    assert "malformed JSON" in result.output and "invalid UTF-8" in result.output
    assert count_mentions(es, settings.indices) == 4
    assert quarantine_count(es, settings.indices) == 5
    again = runner.invoke(app, ["import", str(path), "--brand", "acme", "--platform", "reviews"])
    assert again.exit_code == EXIT_PARTIAL and count_mentions(es, settings.indices) == 4
    assert quarantine_count(es, settings.indices) == 5


def test_invalid_config_is_refused_before_anything_is_written(es, settings, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"native_id": "1", "created_at": "2026-11-02T10:00:00Z", "text": "a"}))
    config = tmp_path / "brands.yaml"
    config.write_text(
        f"brands:\n  - name: acme\n    query: acme\n    colour: red\n"
        f"    sources:\n      file: {{path: {data}}}\n"
    )
    result = runner.invoke(app, ["ingest", "--config", str(config)])
    assert result.exit_code == 2
    assert "brand 'acme': colour: unknown field" in result.output
    assert dict(es.indices.get(index=f"{settings.index_prefix}-*")) == {}


def test_sources_lists_the_file_connector():
    result = runner.invoke(app, ["sources"])
    assert result.exit_code == 0 and "file" in result.output
