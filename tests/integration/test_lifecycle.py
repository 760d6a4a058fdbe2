"""Rollover, retention and erasure against the real node (no ILM there, so the
rollover/retention path of the maintenance DAG is the one exercised)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import helpers
from typer.testing import CliRunner

from brandpulse.cli.analyst import app
from brandpulse.core.mention import Mention
from indexing.lifecycle import (
    RolloverConditions,
    apply_retention,
    erase_author,
    erase_posts,
    ilm_policy,
    ilm_supported,
    next_index_name,
    rollover,
    subject_hash,
)
from indexing.templates import current_write_index

AT = datetime(2026, 11, 20, tzinfo=UTC)


def mention(i: int, created_at: datetime, author: str = "someone") -> Mention:
    return Mention(
        platform="x",
        native_id=f"p{i}",
        created_at=created_at,
        brands=["acme"],
        text=f"acme post {i}",
        author={"id": f"id-{author}", "handle": author, "followers": 3},
    )


def put(es, names, mentions: list[Mention]) -> None:
    """Index into the current write index, as the writer does for new mentions."""
    helpers.bulk(
        es, ({"_index": names.mentions_write, "_id": m.id, "_source": m.to_document()} for m in mentions)
    )
    es.indices.refresh(index=names.mentions)


def count(es, names, query: dict | None = None) -> int:
    """A count without an explicit refresh: shows whether changes are visible at once."""
    return es.count(index=names.mentions, query=query or {"match_all": {}})["count"]


# --- pure ---------------------------------------------------------------------------------


def test_ilm_policy_and_names() -> None:
    policy = ilm_policy(RolloverConditions(max_age="7d", max_primary_shard_size=None, max_docs=10), 30)
    assert policy["phases"]["hot"]["actions"]["rollover"] == {"max_age": "7d", "max_docs": 10}
    assert policy["phases"]["delete"] == {"min_age": "30d", "actions": {"delete": {}}}

    class Names:
        def mentions_index(self, version: int, generation: int) -> str:
            return f"bp-mentions-v{version}-{generation:06d}"

    assert next_index_name("bp-mentions-v3-000009", Names()) == "bp-mentions-v3-000010"
    with pytest.raises(ValueError):
        next_index_name("bp-mentions", Names())


# --- rollover -----------------------------------------------------------------------------


@pytest.mark.integration
def test_embedded_node_has_no_ilm(ready) -> None:
    assert ilm_supported(ready) is False


@pytest.mark.integration
def test_rollover_by_condition(ready, settings) -> None:
    names = settings.indices
    first = current_write_index(ready, names)
    put(ready, names, [mention(i, AT) for i in range(10)])

    kept = rollover(
        ready, names, RolloverConditions(max_age="30d", max_primary_shard_size="50gb", max_docs=100)
    )
    assert not kept.rolled_over and current_write_index(ready, names) == first

    dry = rollover(ready, names, RolloverConditions(max_age=None, max_docs=5), dry_run=True)
    assert dry.conditions["[max_docs: 5]"] is True and not dry.rolled_over
    assert current_write_index(ready, names) == first

    done = rollover(ready, names, RolloverConditions(max_age=None, max_docs=5))
    assert done.rolled_over and done.old_index == first
    assert current_write_index(ready, names) == done.new_index == next_index_name(first, names)
    assert count(ready, names) == 10  # the read alias spans both generations
    put(ready, names, [mention(99, AT)])
    assert ready.count(index=done.new_index)["count"] == 1


# --- retention ----------------------------------------------------------------------------


@pytest.mark.integration
def test_retention_drops_old_generations_and_old_documents(ready, settings) -> None:
    names = settings.indices
    days = 30
    cutoff = AT - timedelta(days=days)
    old_gen = current_write_index(ready, names)
    put(ready, names, [mention(i, cutoff - timedelta(days=5 + i)) for i in range(4)])
    rollover(ready, names, RolloverConditions(max_age=None, max_docs=1))
    put(ready, names, [mention(10 + i, cutoff - timedelta(hours=1 + i)) for i in range(3)])  # old
    put(ready, names, [mention(20 + i, cutoff + timedelta(hours=1 + i)) for i in range(5)])  # kept

    dry = apply_retention(ready, names, days, AT, dry_run=True)
    assert dry.deleted_indices == [old_gen] and dry.deleted_docs == 3
    assert count(ready, names) == 12

    done = apply_retention(ready, names, days, AT)
    assert done.deleted_indices == [old_gen] and done.deleted_docs == 3 and done.cutoff == cutoff
    assert not ready.indices.exists(index=old_gen)
    assert count(ready, names) == 5
    assert count(ready, names, {"range": {"created_at": {"lt": cutoff.isoformat()}}}) == 0

    again = apply_retention(ready, names, days, AT)
    assert again.deleted_indices == [] and again.deleted_docs == 0


# --- erasure ------------------------------------------------------------------------------


@pytest.mark.integration
def test_erase_author_everywhere_idempotently_with_audit(ready, settings) -> None:
    names = settings.indices
    put(ready, names, [mention(i, AT, author="alice" if i % 2 else "bob") for i in range(6)])
    rollover(ready, names, RolloverConditions(max_age=None, max_docs=1))
    put(ready, names, [mention(10 + i, AT, author="alice") for i in range(2)])
    quarantined = {"platform": "x", "native_id": "q1", "author": {"handle": "alice"}, "text": ""}
    ready.index(index=names.quarantine, document={"source": "x", "raw": json.dumps(quarantined)})
    ready.index(index=names.quarantine, document={"source": "x", "raw": '{"author": {"handle": "bob"}}'})
    ready.indices.refresh(index=names.quarantine)
    alice = {"term": {"author.handle": "alice"}}
    assert count(ready, names, alice) == 5

    result = erase_author(ready, names, "alice", AT, requested_by="ticket-42")
    assert (result.deleted_mentions, result.deleted_quarantine) == (5, 1)
    assert count(ready, names, alice) == 0 and count(ready, names) == 3  # visible at once
    assert ready.count(index=names.quarantine)["count"] == 1

    audit = ready.get(index=names.state, id=result.audit_id)["_source"]
    assert audit["kind"] == "erasure" and audit["data"]["deleted_mentions"] == 5
    assert audit["data"]["subject_sha256"] == subject_hash("author", "*:alice")
    assert "alice" not in json.dumps(audit)

    later = erase_author(ready, names, "alice", AT + timedelta(minutes=1))
    assert (later.deleted_mentions, later.deleted_quarantine) == (0, 0)
    assert later.audit_id != result.audit_id


@pytest.mark.integration
def test_erase_posts_by_id_across_generations(ready, settings) -> None:
    names = settings.indices
    put(ready, names, [mention(i, AT) for i in range(3)])
    rollover(ready, names, RolloverConditions(max_age=None, max_docs=1))
    put(ready, names, [mention(3, AT)])
    ready.index(index=names.quarantine, document={"source": "x", "mention_id": "x:p3"}, refresh=True)

    result = erase_posts(ready, names, ["x:p0", "x:p3", "x:never-indexed"], AT)
    assert (result.deleted_mentions, result.deleted_quarantine) == (2, 1)
    assert sorted(h["_id"] for h in ready.search(index=names.mentions)["hits"]["hits"]) == ["x:p1", "x:p2"]
    assert erase_posts(ready, names, ["x:p0", "x:p3"], AT).deleted_mentions == 0


@pytest.mark.integration
def test_cli_erase_and_retention(ready, settings) -> None:
    names = settings.indices
    put(ready, names, [mention(i, AT - timedelta(days=i * 10), author="carol") for i in range(4)])
    run = CliRunner().invoke(app, ["retention", "--days", "15", "--at", AT.isoformat(), "--dry-run"])
    assert run.exit_code == 0, run.output
    assert "would delete no indices and 2 mentions" in run.output and count(ready, names) == 4
    run = CliRunner().invoke(app, ["erase", "--post", "x:p0", "--yes"])
    assert run.exit_code == 0 and "erased 1 mentions" in run.output
    run = CliRunner().invoke(app, ["erase", "--author", "carol", "--platform", "x", "--yes"])
    assert run.exit_code == 0 and "erased 3 mentions" in run.output and count(ready, names) == 0
    assert CliRunner().invoke(app, ["erase", "--yes"]).exit_code == 2


# --- the DAG ------------------------------------------------------------------------------


@pytest.mark.airflow
@pytest.mark.integration
def test_maintenance_dag_wiring_and_run(es, settings, env, tmp_path, airflow_home) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from brandpulse.core.settings import REPO_ROOT

    config = tmp_path / "brands.yaml"
    config.write_text("retention_days: 30\nbrands:\n  - name: acme\n    query: acme\n")
    env.setenv("BRANDPULSE_CONFIG", str(config))
    from indexing.templates import ensure_indices

    names = settings.indices
    ensure_indices(es, names)
    put(es, names, [mention(1, AT - timedelta(days=60)), mention(2, AT - timedelta(days=1))])

    dag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "brandpulse_maintenance.py")).dags[
        "brandpulse_maintenance"
    ]
    run = dag.test(logical_date=AT)
    assert str(getattr(run.state, "value", run.state)) == "success"
    assert sorted(h["_id"] for h in es.search(index=names.mentions)["hits"]["hits"]) == ["x:p2"]
