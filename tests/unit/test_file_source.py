import hashlib
import json
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from brandpulse.core.config import Brand
from listeners.base import FatalSourceError
from listeners.file_source import FileConnector, fingerprint, parse_timestamp
from tests.fixtures import nasty


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


def test_missing_file_in_a_missing_folder_is_fatal(tmp_path):
    with pytest.raises(FatalSourceError, match="no such file"):
        list(FileConnector(brand(), {"path": str(tmp_path / "missing-folder" / "nope.jsonl")}).fetch(None))


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


# --- never blocks, never loses (issue 11) -------------------------------------


def settle(path: Path) -> Path:
    """Make the file look finished (unchanged for an hour)."""
    old = time.time() - 3600
    os.utime(path, (old, old))
    return path


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_nasty_corpus_every_row_is_a_mention_or_a_reject(tmp_path, kind):
    writer = nasty.write_jsonl if kind == "jsonl" else nasty.write_csv
    path = tmp_path / f"nasty.{kind}"
    cases, rows_in = writer(path)
    settle(path)
    connector = FileConnector(brand(), {"path": str(path), "batch_size": 7})
    mentions, rejects, _ = run(connector)
    assert len(mentions) + len(rejects) == rows_in  # nothing vanished, nothing was skipped
    assert all(r.reason and r.line for r in rejects)
    ids = {m.native_id for m in mentions}
    prefix = "good" if kind == "jsonl" else "cgood"
    assert {f"{prefix}{k}" for k in range(len(cases))} <= ids  # no bad row blocked a neighbour
    expected = {c.native_id for c in cases if c.expect == nasty.INDEXED}
    assert expected <= ids
    quarantined = sum(c.expect == nasty.QUARANTINED for c in cases)
    assert len(rejects) == quarantined, sorted((r.line, r.reason[:60]) for r in rejects)


def test_the_corpus_is_big_enough():
    assert len(list(nasty.all_cases())) >= 40


def test_a_110_mb_line_is_rejected_with_an_excerpt_and_hash_in_bounded_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for data in (json.dumps(good(1)).encode() + b"\n", b'{"native_id": "big", "text": "'):
            out.write(data)
        first = b'{"native_id": "big", "text": "'
        digest.update(first)
        block = b"acme " * 209_716  # ~1 MiB
        for _ in range(110):
            out.write(block)
            digest.update(block)
        tail = b'"}\n'
        out.write(tail + json.dumps(good(2)).encode() + b"\n")
        digest.update(tail)
    size = len(first) + 110 * len(block) + len(tail)
    assert size > 110_000_000
    tracemalloc.start()
    try:
        mentions, rejects, cursor = run(FileConnector(brand(), {"path": str(path)}))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024, f"peak {peak:,} bytes"
    assert [m.native_id for m in mentions] == ["1", "2"]
    [reject] = rejects
    assert reject.line == 2 and "line too long" in reject.reason and f"{size:,} bytes" in reject.reason
    assert reject.raw_sha256 == digest.hexdigest() and reject.raw_bytes == size
    assert len(reject.raw) < 20_000 and reject.raw.startswith('{"native_id": "big"')
    assert cursor["offset"] == path.stat().st_size


def test_a_growing_jsonl_file_is_read_line_by_complete_line(tmp_path):
    path = tmp_path / "in.jsonl"
    whole = json.dumps(good(2)).encode()
    path.write_bytes(json.dumps(good(1)).encode() + b"\n" + whole[:20])  # line 2 half-written
    connector = FileConnector(brand(), {"path": str(path)})
    mentions, rejects, cursor = run(connector)
    assert [m.native_id for m in mentions] == ["1"] and not rejects
    assert connector.stats["waiting for an incomplete last line"] == 1
    with path.open("ab") as handle:
        handle.write(whole[20:] + b"\n")
    mentions, rejects, cursor = run(FileConnector(brand(), {"path": str(path)}), cursor)
    assert [m.native_id for m in mentions] == ["2"] and not rejects
    # a finished file whose last line has no newline is read once it settled
    with path.open("ab") as handle:
        handle.write(json.dumps(good(3)).encode())
    assert run(FileConnector(brand(), {"path": str(path)}), cursor)[0] == []
    mentions, _, _ = run(FileConnector(brand(), {"path": str(settle(path))}), cursor)
    assert [m.native_id for m in mentions] == ["3"]


def test_a_growing_csv_row_with_an_open_quoted_field_waits(tmp_path):
    path = tmp_path / "in.csv"
    head = b"native_id,created_at,text\n1,2026-11-02T10:00:00Z,acme one\n"
    path.write_bytes(head + b'2,2026-11-02T10:00:00Z,"acme two\nstill being')
    mentions, rejects, cursor = run(FileConnector(brand(), {"path": str(path)}))
    assert [m.native_id for m in mentions] == ["1"] and not rejects
    path.write_bytes(head + b'2,2026-11-02T10:00:00Z,"acme two\nstill being\n')  # quote still open
    assert run(FileConnector(brand(), {"path": str(path)}), cursor)[:2] == ([], [])
    with path.open("ab") as handle:
        handle.write(b'written"\n3,2026-11-02T10:00:00Z,acme three\n')
    mentions, rejects, _ = run(FileConnector(brand(), {"path": str(path)}), cursor)
    assert [m.text for m in mentions] == ["acme two\nstill being\nwritten", "acme three"] and not rejects


def test_an_unbalanced_quote_does_not_swallow_the_rest_of_the_file(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(
        b"native_id,created_at,text\n"
        b'1,2026-11-02T10:00:00Z,"acme broken\n'
        b"2,2026-11-02T10:00:00Z,acme two\n"
        b"3,2026-11-02T10:00:00Z,acme three\n"
    )
    settle(path)
    mentions, rejects, _ = run(FileConnector(brand(), {"path": str(path)}))
    assert [m.native_id for m in mentions] == ["2", "3"]
    assert [r.line for r in rejects] == [2] and "unbalanced quote" in rejects[0].reason
    # closed by a later quote: the row has more fields than the header
    path.write_bytes(
        b"native_id,created_at,text\n"
        b'1,2026-11-02T10:00:00Z,"acme broken\n'
        b"2,2026-11-02T10:00:00Z,acme two\n"
        b'3,2026-11-02T10:00:00Z,"acme, three"\n'
        b"4,2026-11-02T10:00:00Z,acme four\n"
    )
    mentions, rejects, _ = run(FileConnector(brand(), {"path": str(path)}))
    assert [m.native_id for m in mentions] == ["2", "3", "4"]
    assert [r.line for r in rejects] == [2] and "unbalanced quote" in rejects[0].reason


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_utf8_bom_is_read(tmp_path, kind):
    path = tmp_path / f"in.{kind}"
    if kind == "csv":
        body = "native_id,created_at,text\n1,2026-11-02T10:00:00Z,acme é\n"
    else:
        body = json.dumps(good(1, text="acme é"), ensure_ascii=False) + "\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    mentions, rejects, _ = run(FileConnector(brand(), {"path": str(path)}))
    assert [(m.native_id, m.text) for m in mentions] == [("1", "acme é")] and not rejects


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("utf-16", "UTF-16 LE"),
        ("utf-16-be", "UTF-16 BE"),
        ("utf-16-le", "UTF-16 LE"),
        ("utf-32", "UTF-32 LE"),
    ],
)
def test_utf16_and_utf32_are_refused_with_the_encoding_named(tmp_path, encoding, name):
    path = tmp_path / "in.csv"
    path.write_bytes("native_id,created_at,text\n1,2026-11-02T10:00:00Z,acme\n".encode(encoding))
    with pytest.raises(FatalSourceError, match=name):
        run(FileConnector(brand(), {"path": str(path)}))


def test_epoch_units_are_counted_and_can_be_forced(tmp_path):
    path = write_lines(
        tmp_path / "in.jsonl",
        [
            json.dumps(good(1, created_at=1793613600)).encode(),
            json.dumps(good(2, created_at=1793613600000)).encode(),
        ],
    )
    connector = FileConnector(brand(), {"path": str(path)})
    mentions, _, _ = run(connector)
    assert mentions[0].created_at == mentions[1].created_at
    assert connector.stats["created_at epoch taken as seconds"] == 1
    assert connector.stats["created_at epoch taken as milliseconds"] == 1
    forced = FileConnector(brand(), {"path": str(path), "epoch_unit": "ms"})
    mentions, rejects, _ = run(forced)
    assert [m.native_id for m in mentions] == ["2"]
    assert "taken as epoch milliseconds" in rejects[0].reason  # 1793613600 ms is January 1970


def test_the_brand_query_is_reapplied_unless_the_file_is_trusted(tmp_path):
    path = write_lines(
        tmp_path / "in.jsonl",
        [
            json.dumps(good(1, text="I love #acme")).encode(),
            json.dumps(good(2, text="acmewidgets.com is a different thing")).encode(),
            json.dumps(good(3, text="nothing to see")).encode(),
        ],
    )
    connector = FileConnector(Brand(name="acme", query="acme"), {"path": str(path)})
    mentions, rejects, _ = run(connector)
    assert [(m.native_id, m.matched_terms) for m in mentions] == [("1", ["acme"])] and not rejects
    assert connector.stats["not matching"] == 2
    trusted = FileConnector(Brand(name="acme", query="acme"), {"path": str(path), "trust_file": True})
    assert [m.native_id for m in run(trusted)[0]] == ["1", "2", "3"]


def test_csv_cursor_resumes_by_byte_offset_and_reads_old_row_count_cursors(tmp_path):
    path = tmp_path / "in.csv"
    header = "native_id,created_at,text\n"
    path.write_text(header + "".join(f"{i},2026-11-02T10:00:00Z,acme {i}\n" for i in range(4)))
    connector = FileConnector(brand(), {"path": str(path), "batch_size": 3})
    mentions, _, cursor = run(connector)
    assert len(mentions) == 4 and cursor["offset"] == path.stat().st_size
    with path.open("a") as handle:
        handle.write('9,2026-11-02T10:00:00Z,"acme\nnine"\n')
    mentions, _, _ = run(connector, cursor)
    assert [m.native_id for m in mentions] == ["9"]
    legacy = {"fingerprint": fingerprint(path), "prefix": 65_536, "offset": 0, "rows": 3}
    mentions, _, _ = run(connector, legacy)
    assert [m.native_id for m in mentions] == ["3", "9"]


@pytest.mark.parametrize(
    ("value", "unit"),
    [(1793613600, "s"), (1793613600123, "ms"), (1793613600123456, "us"), (1793613600123456789, "ns")],
)
def test_epoch_unit_by_magnitude(value, unit):
    from listeners.file_source import parse_timestamp_unit

    parsed, assumed = parse_timestamp_unit(value)
    assert assumed == unit and parsed.year == 2026


@pytest.mark.parametrize("value", [1e20, float("nan"), float("inf"), 1e300, "9" * 5000, "2" * 100, {}, []])
def test_hostile_timestamps_raise_value_error_only(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_review_fields_of_a_file_row_reach_the_mention(tmp_path):
    row = {
        "platform": "appstore",
        "native_id": "r1",
        "kind": "review",
        "created_at": "2026-11-02T10:00:00Z",
        "text": "acme app crashes",
        "review": {"rating": 1, "title": "crashes", "app_version": "4.2", "country": "de"},
    }
    path = tmp_path / "reviews.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [batch] = list(FileConnector(brand(), {"path": str(path)}).fetch(None))
    [mention] = batch.mentions
    assert mention.review is not None and mention.review.rating == 1 and mention.review.app_version == "4.2"
