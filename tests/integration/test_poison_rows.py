"""Issue 11: ingest never blocks and never loses, against the real node.

Every input row ends up indexed or quarantined (with a reason), a re-run does
the same, one bad row never stops the rows around it, and a request-level
refusal caused by one document is narrowed down to that document."""

import hashlib
import io
import json
import os
import time
from datetime import UTC, datetime

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, Elasticsearch

from brandpulse.core.config import BrandsConfig
from brandpulse.core.mention import Engagement, Mention
from brandpulse.pipeline.ingest import run_ingest
from indexing import writer
from indexing.quarantine import QuarantineRecord, quarantine
from indexing.queries import count_mentions, quarantine_count
from tests.fixtures import nasty

pytestmark = pytest.mark.integration


def config_for(path, **options):
    return BrandsConfig.model_validate(
        {"brands": [{"name": "acme", "query": "acme", "sources": {"file": {"path": str(path), **options}}}]}
    )


def settle(path):
    old = time.time() - 3600
    os.utime(path, (old, old))


def mentions(n, start=0, **kw):
    return [
        Mention(platform="x", native_id=str(i), created_at="2026-11-02T10:00:00Z", text=f"acme {i}", **kw)
        for i in range(start, start + n)
    ]


def stored_ids(es, names, ids):
    found = es.mget(index=names.mentions_write, ids=ids)["docs"]
    return {d["_id"] for d in found if d.get("found")}


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_nasty_corpus_rows_in_equal_indexed_plus_quarantined_and_a_rerun_does_the_same(
    ready, settings, tmp_path, kind, capsys
):
    names = settings.indices
    path = tmp_path / f"nasty.{kind}"
    cases, rows_in = (nasty.write_jsonl if kind == "jsonl" else nasty.write_csv)(path)
    settle(path)
    config = config_for(path, batch_size=10)
    figures = []
    for attempt, reset in (("first run", False), ("re-run", True)):
        summary = run_ingest(config, "acme", "file", client=ready, settings=settings, reset_cursor=reset)
        indexed = count_mentions(ready, names, "acme")
        quarantined = quarantine_count(ready, names, "acme")
        figures.append((indexed, quarantined))
        with capsys.disabled():
            print(
                f"\n[{kind} {attempt}] rows in = {rows_in}, indexed = {indexed}, "
                f"quarantined = {quarantined}, sum = {indexed + quarantined}"
            )
        assert indexed + quarantined == rows_in, summary.reasons
        assert summary.status == "partial" and summary.not_matching == 0
    assert figures[0] == figures[1]  # the re-run neither duplicates nor loses anything
    assert summary.created == 0  # everything indexed the first time is found again
    prefix = "good" if kind == "jsonl" else "cgood"
    goods = [f"file:{prefix}{k}" for k in range(len(cases))]
    assert stored_ids(ready, names, goods) == set(goods)
    wanted = [
        f"{'reddit' if c.native_id.startswith('bbb') else 'file'}:{c.native_id}"
        for c in cases
        if c.expect == nasty.INDEXED
    ]
    assert stored_ids(ready, names, wanted) == set(wanted)
    hits = ready.search(index=names.quarantine, size=500)["hits"]["hits"]
    assert all(h["_source"]["reason"] and h["_source"]["raw_sha256"] for h in hits)
    if kind == "jsonl":  # the immense author.handle is refused by Elasticsearch, per document
        [immense] = [h["_source"] for h in hits if h["_source"].get("mention_id") == "file:s17"]
        assert immense["stage"] == "index" and "author.handle" in immense["reason"]


def test_a_110_mb_line_is_quarantined_as_an_excerpt_and_the_rest_is_indexed(ready, settings, tmp_path):
    path = tmp_path / "big.jsonl"
    row = {"platform": "x", "created_at": "2026-11-02T10:00:00Z"}
    digest = hashlib.sha256()
    with path.open("wb") as out:
        out.write(json.dumps({**row, "native_id": "1", "text": "acme 1"}).encode() + b"\n")
        chunks = [b'{"native_id": "big", "text": "'] + [b"acme " * 209_716] * 110 + [b'"}\n']
        for chunk in chunks:
            out.write(chunk)
            digest.update(chunk)
        out.write(json.dumps({**row, "native_id": "2", "text": "acme 2"}).encode() + b"\n")
    size = sum(len(c) for c in chunks)
    summary = run_ingest(config_for(path), "acme", "file", client=ready, settings=settings)
    assert (summary.created, summary.quarantined) == (2, 1)
    ready.indices.refresh(index=settings.indices.quarantine)
    [hit] = ready.search(index=settings.indices.quarantine)["hits"]["hits"]
    doc = hit["_source"]
    assert doc["line"] == 2 and "line too long" in doc["reason"]
    assert doc["raw_bytes"] == size > 110_000_000 and doc["raw_sha256"] == digest.hexdigest()
    assert doc["raw_truncated"] is True and len(doc["raw"]) < 40_000
    assert not (settings.state_dir / "quarantine" / "quarantine.jsonl").exists()


def test_a_request_level_400_is_bisected_down_to_the_document(ready, settings, monkeypatch):
    names = settings.indices
    monkeypatch.setattr(writer, "MAX_ID_BYTES", 10**6)  # let the poison reach Elasticsearch
    batch = mentions(9)
    batch.insert(4, batch[0].model_copy(update={"native_id": "p" * 600}))  # skips validation
    result = writer.write_mentions(ready, names, batch, refresh=True)
    assert result.created == 9
    [failed] = result.failed
    assert failed.mention.native_id == "p" * 600 and failed.status == 400
    assert "request refused" in failed.reason and "too long" in failed.reason
    assert count_mentions(ready, names) == 9


def test_ids_over_512_bytes_fail_alone_before_any_request(ready, settings):
    batch = mentions(3)
    batch.append(batch[0].model_copy(update={"native_id": "€" * 200}))
    result = writer.write_mentions(ready, settings.indices, batch, refresh=True)
    assert result.created == 3
    [failed] = result.failed
    assert failed.status is None and failed.reason.startswith("id_too_long: id is 602 bytes")


def _refused(status: int) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "127.0.0.1", 9250))
    return ApiError("Request Entity Too Large", meta=meta, body={"error": "request too large"})


def test_a_413_from_one_large_document_is_bisected(ready, settings, monkeypatch):
    names = settings.indices
    real_bulk = ready.bulk

    def bulk(*, operations, **kw):  # a node whose http.max_content_length is ~200 KB
        if sum(len(line) for line in operations) > 200_000:
            raise _refused(413)
        return real_bulk(operations=operations, **kw)

    monkeypatch.setattr(ready, "bulk", bulk)
    batch = mentions(20)
    batch[7] = batch[7].model_copy(update={"text": "acme " + "😀" * 39_000})  # ~160 KB
    batch[12] = batch[12].model_copy(update={"text": "acme " + "😀" * 39_000})
    result = writer.write_mentions(ready, names, batch, refresh=True)
    assert result.created == 20 and not result.failed  # split until every request fits
    monkeypatch.setattr(writer, "MAX_DOC_BYTES", 10**7)
    huge = batch[0].model_copy(update={"native_id": "huge", "text": "acme " + "x" * 300_000})
    result = writer.write_mentions(ready, names, [*mentions(5, start=100), huge], refresh=True)
    assert result.created == 5 and [(f.mention.native_id, f.status) for f in result.failed] == [("huge", 413)]


def test_a_document_that_cannot_be_serialised_fails_alone(ready, settings):
    batch = mentions(4)
    batch[1] = batch[1].model_copy(update={"url": b"\xff\xfe"})  # copies skip validation
    batch[2] = batch[2].model_copy(update={"engagement": Engagement.model_construct(likes=object())})
    result = writer.write_mentions(ready, settings.indices, batch, refresh=True)
    assert result.created == 2
    assert [(f.mention.native_id, f.reason.split(":")[:2]) for f in result.failed] == [
        ("1", ["unserialisable", " UnicodeDecodeError"]),
        ("2", ["unserialisable", " PydanticSerializationError"]),
    ]


def test_quarantine_falls_back_to_the_local_file_on_any_error(ready, settings, tmp_path, monkeypatch):
    records = [
        QuarantineRecord(source="file", brand="acme", reason=f"bad {i}", raw=f"row {i}", line=i)
        for i in range(3)
    ]
    dead = Elasticsearch("http://127.0.0.1:9", max_retries=0, request_timeout=2)
    assert quarantine(dead, settings.indices, records, fallback_dir=tmp_path / "a") == 3
    lines = (tmp_path / "a" / "quarantine.jsonl").read_text().splitlines()
    assert [json.loads(x)["reason"] for x in lines] == ["bad 0", "bad 1", "bad 2"]
    assert all("ConnectionError" in json.loads(x)["quarantine_error"] for x in lines)

    def too_large(*args, **kwargs):
        raise _refused(413)

    monkeypatch.setattr("indexing.quarantine.helpers.streaming_bulk", too_large)
    assert quarantine(ready, settings.indices, records, fallback_dir=tmp_path / "b") == 3
    assert len((tmp_path / "b" / "quarantine.jsonl").read_text().splitlines()) == 3


def test_rows_not_matching_the_brand_query_are_counted_unless_the_file_is_trusted(ready, settings, tmp_path):
    path = tmp_path / "in.jsonl"
    texts = ["acme is great", "acmewidgets.com spam", "unrelated", "#acme again"]
    path.write_text(
        "".join(
            json.dumps({"native_id": str(i), "created_at": "2026-11-02T10:00:00Z", "text": t}) + "\n"
            for i, t in enumerate(texts)
        )
    )
    summary = run_ingest(config_for(path), "acme", "file", client=ready, settings=settings)
    assert (summary.created, summary.not_matching, summary.quarantined) == (2, 2, 0)
    assert "2 not matching the brand query" in summary.message
    trusted = run_ingest(
        config_for(path, trust_file=True), "acme", "file", client=ready, settings=settings, reset_cursor=True
    )
    assert (trusted.created, trusted.not_matching) == (2, 0)
    assert count_mentions(ready, settings.indices, "acme") == 4


def test_lone_surrogates_in_nested_fields_are_indexed_clean_and_export_and_render(ready, settings, tmp_path):
    from brandpulse.analyst.report import write_report
    from brandpulse.analyst.search import export_mentions, write_csv, write_jsonl

    names = settings.indices
    path = tmp_path / "in.jsonl"
    row = {
        "native_id": "s1",
        "platform": "x",
        "created_at": "2026-11-02T10:00:00Z",
        "text": "acme a\udfffb",
        "author": {"handle": "h\udfffx", "display_name": "\ud800name"},
        "engagement": {"likes": 3},
    }
    path.write_text(json.dumps(row) + "\n")  # "\udfff" as a JSON escape, the way encoders write it
    summary = run_ingest(config_for(path), "acme", "file", client=ready, settings=settings)
    assert summary.created == 1 and summary.quarantined == 0
    ready.update(
        index=names.mentions_write,
        id="x:s1",
        refresh=True,
        doc={"sentiment": {"label": "negative", "score": 0.9, "model": "t", "model_version": "1"}},
    )
    source = ready.get(index=names.mentions_write, id="x:s1")["_source"]
    assert source["text"] == "acme a\ufffdb" and source["author"]["handle"] == "h\ufffdx"
    docs = list(export_mentions(ready, names, {"match_all": {}}))
    csv_out, jsonl_out = io.StringIO(), io.StringIO()
    assert write_csv(docs, csv_out) == 1 and write_jsonl(docs, jsonl_out) == 1
    for text in (csv_out.getvalue(), jsonl_out.getvalue()):
        text.encode("utf-8")  # strict: no surrogate reached the export
    assert "h\ufffdx" in csv_out.getvalue()
    out = tmp_path / "report.html"
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    write_report(ready, names, "acme", start, end, out, generated_at=end)
    html = out.read_bytes().decode("utf-8")  # strict
    assert "h\ufffdx" in html and "acme a\ufffdb" in html
