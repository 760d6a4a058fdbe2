"""User text is always literal: CSV/JSONL exports, the search table and the HTML
report of documents indexed straight into the test node with lone surrogates,
a bare carriage return before a spreadsheet formula, Rich markup, an OSC-8
hyperlink and ANSI colour escapes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch, helpers
from typer.testing import CliRunner

from brandpulse.cli.analyst import app

REPO = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 12, 12, tzinfo=UTC)
OSC8 = "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\"
HOSTILE = {
    "surrogate": "acme a\udfffb broken emoji",
    "cr-formula": "acme fine\r=cmd|' /C calc'!A0",
    "cr-first": "\r=cmd|' /C calc'!A0 acme",
    "markup-close": "acme [/foo] closes nothing",
    "markup-link": "acme [link=http://evil]x[/link]",
    "osc8": f"acme {OSC8} hyperlink",
    "ansi": "acme \x1b[31mred\x1b[0m text",
}


def _doc(i: int, key: str, text: str) -> dict:
    return {
        "id": f"x:{key}",
        "platform": "x",
        "native_id": key,
        "url": f"https://x.com/i/web/status/{i}",
        "kind": "post",
        "created_at": (AT - timedelta(minutes=10 * (i + 1))).isoformat(),
        "collected_at": AT.isoformat(),
        "brands": ["acme"],
        "text": text,
        "lang": "en",
        "author": {"id": f"u{i}", "handle": "h\udfffx" if key == "surrogate" else f"user[{i}]\x1b[1m"},
        "engagement": {"likes": i, "reposts": 0, "replies": 0},
        "sentiment": {
            "label": "negative",
            "score": 0.9,
            "probabilities": {"negative": 0.9, "neutral": 0.05, "positive": 0.05},
            "model": "test",
            "model_version": "1",
        },
        "topics": [{"id": "t-x", "label": "[bold]topic\x1b[31m", "keywords": ["x"]}],
    }


@pytest.fixture
def hostile(ready: Elasticsearch, settings) -> list[dict]:
    docs = [_doc(i, key, text) for i, (key, text) in enumerate(HOSTILE.items())]
    helpers.bulk(
        ready,
        ({"_index": settings.indices.mentions_write, "_id": d["id"], "_source": d} for d in docs),
        refresh=True,
    )
    got = ready.get(index=settings.indices.mentions, id="x:surrogate")["_source"]
    assert got["text"] == HOSTILE["surrogate"]  # the node kept the lone surrogate
    return docs


def _window() -> list[str]:
    return ["--since", "7d", "--at", AT.isoformat()]


def test_csv_export_keeps_every_text_in_its_own_quoted_cell(hostile, tmp_path) -> None:
    out = tmp_path / "mentions.csv"
    run = CliRunner().invoke(app, ["search", "", "--format", "csv", "--out", str(out), *_window()])
    assert run.exit_code == 0, run.output
    with out.open(encoding="utf-8", newline="") as handle:  # \r is a record break, as in spreadsheets
        rows = list(csv.reader(handle))
    assert rows[0][0] == "id" and len(rows) == 1 + len(HOSTILE)
    assert all(row[0].startswith("x:") for row in rows[1:])  # no record began inside a text
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    texts = {row[0]: row[-1] for row in rows[1:]}
    assert texts["x:cr-formula"] == HOSTILE["cr-formula"]  # kept whole, in one cell
    assert texts["x:cr-first"] == "'" + HOSTILE["cr-first"]  # neutralised
    assert texts["x:surrogate"] == "acme a\ufffdb broken emoji"


def test_jsonl_export_to_a_pipe_exits_with_every_document(hostile, settings) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, "-m", "brandpulse.cli.app", "search", "", "--format", "jsonl", *_window()],
        env=env,
        capture_output=True,
        timeout=120,  # the old failure mode: a crash, then a hang closing the point in time
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    docs = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    by_id = {d["id"]: d for d in docs}
    assert len(docs) == len(HOSTILE)
    assert by_id["x:surrogate"]["text"] == "acme a\ufffdb broken emoji"
    assert by_id["x:surrogate"]["author"]["handle"] == "h\ufffdx"
    assert by_id["x:osc8"]["text"] == HOSTILE["osc8"]  # data exports keep the text as it is


def test_csv_export_to_stdout_in_a_subprocess_exits(hostile) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "brandpulse.cli.app", "search", "", "--format", "csv", *_window()],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert b"\xef\xbf\xbd" in result.stdout  # U+FFFD where the lone surrogates were


@pytest.fixture
def wide(monkeypatch):
    """The CLI's console, wide enough that no cell folds."""
    from rich.console import Console

    import brandpulse.cli.analyst as cli_commands

    monkeypatch.setattr(cli_commands, "out", Console(width=400))


def test_search_table_shows_user_text_literally(hostile, wide) -> None:
    run = CliRunner().invoke(app, ["search", "", *_window()])
    assert run.exit_code == 0, run.output
    output = run.output
    assert "\x1b" not in output and "\r" not in output  # no escape reaches the terminal
    assert "[/foo]" in output  # markup shown, not interpreted (and no MarkupError)
    assert "[link=http://evil]x[/link]" in output
    assert "\\x1b]8;;http://evil" in output  # the OSC-8 hyperlink, visible as text
    assert "\\x1b[31mred" in output
    assert "a\ufffdb" in output and "h\ufffdx" in output


def test_stats_show_topic_labels_literally(hostile, wide) -> None:
    run = CliRunner().invoke(app, ["stats", "--brand", "acme", *_window()])
    assert run.exit_code == 0, run.output
    assert "[bold]topic\\x1b[31m" in run.output and "\x1b" not in run.output


def test_report_with_surrogates_is_written_whole(hostile, tmp_path) -> None:
    out = tmp_path / "report.html"
    run = CliRunner().invoke(app, ["report", "--brand", "acme", "--out", str(out), *_window()])
    assert run.exit_code == 0, run.output
    html = out.read_text(encoding="utf-8")
    assert html.rstrip().endswith("</html>")
    assert "a\ufffdb" in html and "h\ufffdx" in html
    assert "[link=http://evil]x[/link]" in html
    assert list(tmp_path.glob(".report.html.*")) == []  # no temporary file left


def test_a_failing_report_leaves_the_previous_file(hostile, tmp_path, monkeypatch) -> None:
    import brandpulse.analyst.report as report

    out = tmp_path / "report.html"
    out.write_text("previous report", encoding="utf-8")

    def broken(data):
        raise RuntimeError("chart failed")

    monkeypatch.setattr(report, "render_html", broken)
    run = CliRunner().invoke(app, ["report", "--brand", "acme", "--out", str(out), *_window()])
    assert run.exit_code != 0
    assert out.read_text(encoding="utf-8") == "previous report"
    assert list(tmp_path.glob(".report.html.*")) == []  # the temporary file was removed


def test_a_failing_export_still_closes_the_point_in_time(hostile, tmp_path, monkeypatch) -> None:
    import brandpulse.analyst.search as analyst

    opened: list[str] = []
    closed: list[str] = []
    real_open, real_close = Elasticsearch.open_point_in_time, Elasticsearch.close_point_in_time

    def spy_open(self, *args, **kwargs):
        response = real_open(self, *args, **kwargs)
        opened.append(response["id"])
        return response

    def spy_close(self, *args, **kwargs):
        closed.append(kwargs.get("id"))
        return real_close(self, *args, **kwargs)

    def failing_writer(docs, sink, safe=True):
        next(iter(docs))
        raise OSError("disk full")

    monkeypatch.setattr(Elasticsearch, "open_point_in_time", spy_open)
    monkeypatch.setattr(Elasticsearch, "close_point_in_time", spy_close)
    monkeypatch.setattr(analyst, "write_csv", failing_writer)
    run = CliRunner().invoke(
        app, ["search", "", "--format", "csv", "--out", str(tmp_path / "x.csv"), *_window()]
    )
    assert run.exit_code != 0 and isinstance(run.exception, OSError)
    assert len(opened) == 1 and len(closed) == 1  # closed before the command returned
