import json
from pathlib import Path

import pytest

from brandpulse.config import Brand
from listeners.base import FatalSourceError
from listeners.file_source import FileConnector, parse_timestamp


def brand(name="acme"):
    return Brand(name=name, query=name)


def good(i, **kw):
    return {
        "native_id": str(i),
        "platform": "x",
        "created_at": f"2026-11-02T10:{i % 60:02d}:00Z",
        "text": f"post {i} about acme",
        **kw,
    }


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def run(connector, cursor=None):
    batches = list(connector.fetch(cursor))
    mentions = [m for b in batches for m in b.mentions]
    rejects = [r for b in batches for r in b.rejects]
    return mentions, rejects, batches[-1].cursor if batches else cursor


def test_bad_lines_are_rejected_with_line_and_reason(tmp_path):
    lines = [
        json.dumps(good(1)).encode(),
        b'{"native_id": "2", "text": ',  # malformed JSON
        json.dumps({k: v for k, v in good(3).items() if k != "text"}).encode(),  # missing field
        json.dumps(good(4, created_at="not a date")).encode(),  # invalid timestamp
        json.dumps(good(5)).encode().replace(b"post", b"p\xff\xfeost"),  # invalid UTF-8
        json.dumps(good(6, text="x" * 50_000)).encode(),  # over-long text
        json.dumps(good(7, text="ünïcödé acme 😀")).encode(),
        b"[1, 2]",
    ]
    path = write_lines(tmp_path / "in.jsonl", lines)
    mentions, rejects, _ = run(FileConnector(brand(), {"path": str(path)}))
    assert [m.native_id for m in mentions] == ["1", "7"]
    by_line = {r.line: r.reason for r in rejects}
    assert set(by_line) == {2, 3, 4, 5, 6, 8}
    assert "malformed JSON" in by_line[2]
    assert "missing required field text" in by_line[3]
    assert "invalid timestamp" in by_line[4]
    assert "invalid UTF-8" in by_line[5]
    assert "too long" in by_line[6] and "50,000" in by_line[6]
    assert all(r.raw for r in rejects) and all(r.location == str(path) for r in rejects)
    assert len(next(r for r in rejects if r.line == 6).raw) > 50_000  # kept whole


def test_cursor_resumes_after_append_and_restarts_on_rewrite(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [json.dumps(good(i)).encode() for i in range(5)])
    connector = FileConnector(brand(), {"path": str(path), "batch_size": 2})
    first, _, cursor = run(connector)
    assert len(first) == 5
    assert run(connector, cursor)[0] == []
    with path.open("ab") as handle:
        handle.write(json.dumps(good(99)).encode() + b"\n")
    again, _, cursor2 = run(connector, cursor)
    assert [m.native_id for m in again] == ["99"]
    write_lines(path, [json.dumps(good(i, text=f"new {i} acme")).encode() for i in range(3)])
    assert len(run(connector, cursor2)[0]) == 3


def test_rows_for_other_brands_are_skipped_not_rejected(tmp_path):
    path = write_lines(
        tmp_path / "in.jsonl",
        [
            json.dumps(good(1, brands=["acme"])).encode(),
            json.dumps(good(2, brands=["other"])).encode(),
            json.dumps(good(3)).encode(),
        ],
    )
    mentions, rejects, _ = run(FileConnector(brand(), {"path": str(path)}))
    assert [m.native_id for m in mentions] == ["1", "3"] and not rejects
    assert all(m.brands == ["acme"] for m in mentions)


def test_csv_with_column_mapping_and_dotted_headers(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        "post_id,body,date,author.handle,engagement.likes,extra\n"
        '1,"hello, acme",2026-11-02T10:00:00Z,alice,5,ignored\n'
        '2,"multi\nline acme",1793613600,bob,,x\n'
        "3,,2026-11-02T10:00:00Z,carol,1,x\n",
        encoding="utf-8",
    )
    options = {
        "path": str(path),
        "platform": "reviews",
        "columns": {"native_id": "post_id", "text": "body", "created_at": "date"},
    }
    mentions, rejects, _ = run(FileConnector(brand(), options))
    assert [(m.id, m.author.handle) for m in mentions] == [("reviews:1", "alice"), ("reviews:2", "bob")]
    assert mentions[0].engagement.likes == 5 and mentions[1].text == "multi\nline acme"
    assert [r.line for r in rejects] == [5] and "text" in rejects[0].reason


def test_missing_file_is_fatal(tmp_path):
    with pytest.raises(FatalSourceError, match="no such file"):
        list(FileConnector(brand(), {"path": str(tmp_path / "nope.jsonl")}).fetch(None))


@pytest.mark.parametrize(
    "value",
    ["2026-11-02T10:00:00Z", "2026-11-02T11:00:00+01:00", 1793613600, "1793613600000", "2026-11-02 10:00:00"],
)
def test_timestamps(value):
    assert parse_timestamp(value).tzinfo is not None


@pytest.mark.parametrize("value", ["", None, "02/11/2026", True])
def test_bad_timestamps(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)
