"""Issue 12, item 6: `brandpulse quarantine list|show|replay`."""

import json

import pytest
from typer.testing import CliRunner

from brandpulse.cli.app import EXIT_PARTIAL, app
from indexing.quarantine import QuarantineRecord, list_quarantined, quarantine
from indexing.queries import count_mentions, quarantine_count

pytestmark = pytest.mark.integration
runner = CliRunner(env={"COLUMNS": "250"})


def test_list_show_and_replay_after_a_fix(es, settings, tmp_path, monkeypatch):
    import brandpulse.pipeline.replay as replay

    good = {"native_id": "1", "created_at": "2026-11-02T10:00:00Z", "text": "acme fine"}
    fixable = {"native_id": "2", "created_at": "2026-11-02T10:00:00Z", "text": "acme [bold]x[/]"}
    hopeless = "{not json"
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([json.dumps(good), json.dumps(fixable), hopeless]) + "\n")
    config = tmp_path / "brands.yaml"
    config.write_text("brands:\n  - name: acme\n    query: acme\n")

    # the fixable row is refused by a rule that is then "fixed" (the parser is patched)
    real = replay.FileConnector.row_to_mention
    from listeners.file_source import FileConnector

    def strict(self, row):
        if row.get("native_id") == "2":
            raise ValueError("text: rejected by an overly strict rule")
        return real(self, row)

    monkeypatch.setattr(FileConnector, "row_to_mention", strict)
    result = runner.invoke(app, ["import", str(path), "--brand", "acme", "-c", str(config)])
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert "text: rejected by an overly strict rule" in result.output
    assert quarantine_count(es, settings.indices) == 2

    listed = runner.invoke(app, ["quarantine", "list", "--brand", "acme"])
    assert listed.exit_code == 0, listed.output
    assert "2 of 2 quarantined records" in listed.output and "malformed JSON" in listed.output
    _, records = list_quarantined(es, settings.indices, "acme")
    by_line = {doc["line"]: record_id for record_id, doc in records}

    shown = runner.invoke(app, ["quarantine", "show", by_line[2]])
    assert shown.exit_code == 0, shown.output
    assert "[bold]x[/]" in shown.output  # user text is literal, never Rich markup
    assert f"{path}:2" in shown.output and "overly strict rule" in shown.output
    missing = runner.invoke(app, ["quarantine", "show", "nope"])
    assert missing.exit_code == 1 and "no quarantined record 'nope'" in missing.output

    dry = runner.invoke(app, ["quarantine", "replay", "--dry-run", "-c", str(config)])
    assert "would replay 0 of 2" in dry.output  # the rule is still there

    monkeypatch.setattr(FileConnector, "row_to_mention", real)  # the fix
    replayed = runner.invoke(app, ["quarantine", "replay", "--brand", "acme", "-c", str(config)])
    assert replayed.exit_code == 1, replayed.output  # the malformed line still fails
    assert "replayed 1 of 2 records (indexed, removed from the quarantine); 1 still failing" in (
        replayed.output
    )
    assert "Expecting property name" in replayed.output
    assert count_mentions(es, settings.indices) == 2
    assert quarantine_count(es, settings.indices) == 1


def test_refused_documents_replay_and_excerpts_do_not(es, settings, ready):
    from brandpulse.core.mention import Mention

    mention = Mention(
        platform="x", native_id="9", created_at="2026-11-02T10:00:00Z", brands=["acme"], text="acme"
    )
    records = [
        QuarantineRecord(
            source="x",
            brand="acme",
            stage="index",
            reason="mapper_parsing_exception",
            raw=mention.model_dump_json(),
        ),
        QuarantineRecord(source="x", brand="acme", reason="invalid post: no text", raw="{}"),
    ]
    quarantine(es, settings.indices, records)
    result = runner.invoke(app, ["quarantine", "replay", "--source", "x"])
    assert result.exit_code == 0, result.output
    assert "replayed 1 of 2" in result.output and "1 not replayable" in result.output
    assert "fetch it again" in result.output
    assert count_mentions(es, settings.indices) == 1
