"""Bulk writer, templates, aliases and quarantine against the real node."""

import hashlib

import pytest

from brandpulse.core.mention import Mention
from indexing import templates
from indexing.quarantine import QuarantineRecord, quarantine
from indexing.queries import count_mentions
from indexing.templates import current_write_index, ensure_indices
from indexing.writer import existing_locations, write_mentions

pytestmark = pytest.mark.integration


def mentions(n, text="acme is great", start=0):
    return [
        Mention(
            platform="x",
            native_id=str(i),
            created_at="2026-11-02T10:00:00Z",
            text=f"{text} {i}",
            brands=["acme"],
        )
        for i in range(start, start + n)
    ]


def test_setup_is_idempotent_and_installs_versioned_templates(es, settings):
    names = settings.indices
    version = templates.template_version("mentions")
    first = ensure_indices(es, names)
    assert first.created_index == names.mentions_index(version, 1)
    assert set(first.installed) == {f"{names.prefix}-{t}" for t in templates.TEMPLATES}
    second = ensure_indices(es, names)
    assert not second.installed and not second.created_index and not second.rolled_over_to
    found = es.indices.get_index_template(name=f"{names.prefix}-mentions")["index_templates"][0]
    assert found["index_template"]["version"] == templates.template_version("mentions")
    mapping = es.indices.get_mapping(index=names.mentions)
    assert mapping[names.mentions_index(version, 1)]["mappings"]["dynamic"] == "strict"


def test_same_input_twice_gives_same_count_and_ids(ready, settings):
    names = settings.indices
    batch = mentions(1200)
    first = write_mentions(ready, names, batch, chunk_size=500, refresh=True)
    assert first.created == 1200 and not first.failed
    second = write_mentions(ready, names, batch, chunk_size=500, refresh=True)
    assert second.created == 0 and second.written == 1200
    assert count_mentions(ready, names) == 1200
    doc = ready.get(index=names.mentions_write, id="x:7")
    assert doc["_source"]["id"] == "x:7" and doc["_source"]["text"] == "acme is great 7"


def test_rewrite_keeps_enrichment_and_updates_platform_fields(ready, settings):
    names = settings.indices
    [m] = mentions(1)
    write_mentions(ready, names, [m], refresh=True)
    ready.update(
        index=names.mentions_write,
        id=m.id,
        refresh=True,
        doc={"sentiment": {"label": "positive", "score": 0.9, "model": "t", "model_version": "1"}},
    )
    m2 = m.model_copy(update={"engagement": m.engagement.model_copy(update={"likes": 42})})
    write_mentions(ready, names, [m2], refresh=True)
    source = ready.get(index=names.mentions_write, id=m.id)["_source"]
    assert source["engagement"]["likes"] == 42 and source["sentiment"]["label"] == "positive"


def test_rollover_does_not_duplicate_on_rewrite(ready, settings):
    names = settings.indices
    write_mentions(ready, names, mentions(50), refresh=True)
    old = current_write_index(ready, names)
    ready.indices.rollover(alias=names.mentions_write, new_index=names.mentions_index(1, 2))
    assert current_write_index(ready, names) == names.mentions_index(1, 2)
    write_mentions(ready, names, mentions(60), refresh=True)  # 50 old + 10 new
    assert count_mentions(ready, names) == 60
    where = existing_locations(ready, names, ["x:0", "x:55"])
    assert where == {"x:0": old, "x:55": names.mentions_index(1, 2)}


def test_template_version_bump_rolls_over(ready, settings, monkeypatch):
    names = settings.indices
    bumped = templates.template_version("mentions") + 1
    monkeypatch.setattr(templates, "template_version", lambda name, prefix="x": bumped)
    report = ensure_indices(ready, names)
    assert report.rolled_over_to == names.mentions_index(bumped, 2)
    assert current_write_index(ready, names) == names.mentions_index(bumped, 2)
    assert ensure_indices(ready, names).rolled_over_to is None


def test_per_item_failures_are_reported_not_dropped(ready, settings):
    names = settings.indices
    index = current_write_index(ready, names)
    ready.indices.put_settings(index=index, settings={"index.blocks.write": True})
    try:
        result = write_mentions(ready, names, mentions(3))
    finally:
        ready.indices.put_settings(index=index, settings={"index.blocks.write": False})
    assert result.written == 0 and len(result.failed) == 3
    assert all("cluster_block_exception" in f.reason for f in result.failed)


def test_quarantine_is_idempotent_and_keeps_raw_input(ready, settings, tmp_path):
    names = settings.indices
    raw = "x" * 50_000 + "\udcff"
    records = [
        QuarantineRecord(source="file", brand="acme", reason="too long", raw=raw, location="in.jsonl", line=6)
    ]
    assert quarantine(ready, names, records, fallback_dir=tmp_path) == 1
    quarantine(ready, names, records, fallback_dir=tmp_path)
    ready.indices.refresh(index=names.quarantine)
    hits = ready.search(index=names.quarantine)["hits"]
    assert hits["total"]["value"] == 1
    source = hits["hits"][0]["_source"]
    # a bounded excerpt (head and tail) plus the hash and size of the whole input
    assert len(source["raw"]) < 20_000 and source["raw"].startswith("x" * 12_000)
    assert source["raw"].endswith("x\\udcff") and "characters left out" in source["raw"]
    assert source["raw_sha256"] == hashlib.sha256(b"x" * 50_000 + b"\xff").hexdigest()
    assert source["raw_bytes"] == 50_001 and source["raw_truncated"] is True
    assert not (tmp_path / "quarantine.jsonl").exists()


def test_single_index_templates_upgrade_mappings_in_place(ready, settings, monkeypatch):
    names = settings.indices
    original = templates.load_template

    def bumped(name, prefix):
        body = original(name, prefix)
        if name == "state":
            body["version"] += 1
            body["template"]["mappings"]["properties"]["added_later"] = {"type": "keyword"}
        return body

    monkeypatch.setattr(templates, "load_template", bumped)
    report = ensure_indices(ready, names)
    assert report.installed == [f"{names.prefix}-state"]
    mapping = ready.indices.get_mapping(index=names.state)[names.state]["mappings"]
    assert mapping["properties"]["added_later"] == {"type": "keyword"}


def test_a_post_found_for_two_brands_keeps_both(ready, settings):
    names = settings.indices
    [m] = mentions(1)
    write_mentions(ready, names, [m.model_copy(update={"brands": ["acme"], "matched_terms": ["acme"]})])
    write_mentions(
        ready,
        names,
        [m.model_copy(update={"brands": ["globex"], "matched_terms": ["#globex"]})],
        refresh=True,
    )
    source = ready.get(index=names.mentions_write, id=m.id)["_source"]
    assert source["brands"] == ["acme", "globex"]
    assert source["matched_terms"] == ["acme", "#globex"]
    assert count_mentions(ready, names, "acme") == count_mentions(ready, names, "globex") == 1


def test_erased_authors_are_not_collected_again(ready, settings):
    from datetime import UTC, datetime

    from indexing.lifecycle import erase_author

    names = settings.indices
    batch = [
        m.model_copy(update={"author": m.author.model_copy(update={"handle": f"u{i % 2}"})})
        for i, m in enumerate(mentions(10))
    ]
    write_mentions(ready, names, batch, refresh=True)
    erase_author(ready, names, "u1", at=datetime(2026, 11, 20, tzinfo=UTC))
    assert count_mentions(ready, names) == 5
    again = write_mentions(ready, names, batch, refresh=True)
    assert again.suppressed == 5 and count_mentions(ready, names) == 5
