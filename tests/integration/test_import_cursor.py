"""Issue 12, item 6: `brandpulse import` keys its cursor by file and leaves the
configured file source's cursor alone; the summary shows whole reasons."""

import json

import pytest
from typer.testing import CliRunner

from brandpulse.cli.app import EXIT_PARTIAL, app
from indexing.cursors import CursorStore

pytestmark = pytest.mark.integration
runner = CliRunner()


def rows(prefix: str, n: int) -> str:
    return "".join(
        json.dumps({"native_id": f"{prefix}{i}", "created_at": "2026-11-02T10:00:00Z", "text": f"acme {i}"})
        + "\n"
        for i in range(n)
    )


def test_import_does_not_touch_the_configured_file_sources_cursor(es, settings, tmp_path):
    configured = tmp_path / "feed.jsonl"
    configured.write_text(rows("c", 3))
    config = tmp_path / "brands.yaml"
    config.write_text(
        f"brands:\n  - name: acme\n    query: acme\n    sources:\n"
        f"      file: {{path: {configured}, settle_seconds: 0}}\n"
    )
    first = runner.invoke(app, ["ingest", "-c", str(config)])
    assert first.exit_code == 0, first.output
    cursors = CursorStore(es, settings.indices)
    before = cursors.get("acme", "file")
    assert before and before["offset"] == configured.stat().st_size

    other = tmp_path / "other.jsonl"
    other.write_text(
        rows("o", 2) + json.dumps({"native_id": "bad", "created_at": "2026-11-02T10:00:00Z"}) + "\n"
    )
    result = runner.invoke(app, ["import", str(other), "--brand", "acme", "-c", str(config)])
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert "2 new" in result.output
    assert "missing required field text" in result.output  # the whole reason, not 'missing'
    assert cursors.get("acme", "file") == before  # the configured source goes on where it was

    with configured.open("a") as handle:
        handle.write(rows("d", 1))
    again = runner.invoke(app, ["ingest", "-c", str(config)])
    assert again.exit_code == 0 and "1 new" in again.output, again.output
