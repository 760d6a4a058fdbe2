"""Index lifecycle: rollover, retention, and erasure (GDPR / platform deletions).

* Rollover: where the cluster has ILM (`GET _ilm/status` answers), an ILM policy
  rolls the write alias over and deletes old generations; otherwise the
  maintenance DAG calls `rollover()` with the same conditions. A template
  version bump rolls over too (`indexing.templates.ensure_indices`).
* Retention: whole generations whose newest `created_at` is older than the cutoff
  are deleted; older documents in the remaining ones are deleted by search + bulk
  delete (the embedded node has no `_delete_by_query`).
* Erasure by author or by post id: deletes from every generation and from the
  quarantine, is idempotent, refreshes (counts change at once) and leaves an
  audit record (`kind: erasure`, details in `data`) in the state index
  holding a hash of the subject, never the subject itself.

Times are passed in (the DAG's data interval, the CLI's `--at`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from brandpulse.core.settings import IndexNames
from indexing.templates import current_write_index

log = logging.getLogger(__name__)

_GENERATION = re.compile(r"-v(\d+)-(\d+)$")


# --- rollover ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RolloverConditions:
    """Roll the write index over when any condition is met."""

    max_age: str | None = "30d"
    max_primary_shard_size: str | None = "50gb"
    max_docs: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def ilm_supported(client: Elasticsearch) -> bool:
    """True when the cluster answers `GET _ilm/status` (the embedded node does not)."""
    try:
        client.ilm.get_status()
    except ApiError as exc:
        log.info("no ILM on this cluster (%s): rollover and retention run from the maintenance DAG", exc)
        return False
    return True


def ilm_policy_name(names: IndexNames) -> str:
    return f"{names.prefix}-mentions-lifecycle"


def ilm_policy(conditions: RolloverConditions, retention_days: int) -> dict[str, Any]:
    """Hot phase with rollover; delete phase `retention_days` after rollover."""
    return {
        "phases": {
            "hot": {"min_age": "0ms", "actions": {"rollover": conditions.as_dict()}},
            "delete": {"min_age": f"{retention_days}d", "actions": {"delete": {}}},
        },
        "_meta": {"managed_by": "brandpulse"},
    }


def apply_ilm(
    client: Elasticsearch, names: IndexNames, conditions: RolloverConditions, retention_days: int
) -> dict[str, Any]:
    """Install the ILM policy and attach it: to future generations through a component
    template composed into the installed mentions template (same version, so set-up
    does not see a change), and to the current write index through its settings."""
    policy = ilm_policy_name(names)
    client.ilm.put_lifecycle(name=policy, policy=ilm_policy(conditions, retention_days))
    settings = {"index.lifecycle.name": policy, "index.lifecycle.rollover_alias": names.mentions_write}
    component = f"{names.prefix}-mentions-lifecycle"
    client.cluster.put_component_template(name=component, template={"settings": settings})
    template_name = f"{names.prefix}-mentions"
    found = client.indices.get_index_template(name=template_name)["index_templates"][0]["index_template"]
    if component not in found.get("composed_of", []):
        found["composed_of"] = [*found.get("composed_of", []), component]
        client.indices.put_index_template(name=template_name, **found)
    write_index = current_write_index(client, names)
    if write_index:
        client.indices.put_settings(index=write_index, settings=settings)
    return {"mode": "ilm", "policy": policy, "write_index": write_index}


def next_index_name(current: str, names: IndexNames) -> str:
    """`<prefix>-mentions-v<version>-<generation + 1>`: same template version."""
    match = _GENERATION.search(current)
    if not match:
        raise ValueError(f"unexpected mention index name {current!r}")
    return names.mentions_index(int(match.group(1)), int(match.group(2)) + 1)


@dataclass
class RolloverResult:
    rolled_over: bool
    old_index: str | None
    new_index: str | None
    conditions: dict[str, bool] = field(default_factory=dict)
    dry_run: bool = False


def rollover(
    client: Elasticsearch, names: IndexNames, conditions: RolloverConditions, dry_run: bool = False
) -> RolloverResult:
    """Roll the write alias over when a condition is met (Elasticsearch checks them)."""
    current = current_write_index(client, names)
    if current is None:
        raise RuntimeError(f"no write index behind {names.mentions_write}: run `brandpulse setup` first")
    target = next_index_name(current, names)
    answer = client.indices.rollover(
        alias=names.mentions_write, new_index=target, conditions=conditions.as_dict(), dry_run=dry_run
    )
    rolled = bool(answer.get("rolled_over"))
    if rolled:
        log.info("rolled %s over to %s (%s)", current, target, answer.get("conditions"))
    return RolloverResult(
        rolled_over=rolled,
        old_index=answer.get("old_index", current),
        new_index=answer.get("new_index", target),
        conditions=answer.get("conditions", {}),
        dry_run=dry_run,
    )


# --- retention -----------------------------------------------------------------------------


@dataclass
class RetentionResult:
    cutoff: datetime
    deleted_indices: list[str] = field(default_factory=list)
    deleted_docs: int = 0
    dry_run: bool = False


def _generations(client: Elasticsearch, names: IndexNames) -> list[str]:
    try:
        return sorted(client.indices.get_alias(name=names.mentions))
    except NotFoundError:
        return []


def _newest(client: Elasticsearch, index: str) -> datetime | None:
    found = client.search(index=index, size=0, aggs={"newest": {"max": {"field": "created_at"}}})
    value = found["aggregations"]["newest"].get("value")
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def _bulk_delete(client: Elasticsearch, hits: Iterable[dict[str, Any]]) -> int:
    """Delete the given hits by (_index, _id); a document already gone counts as done."""
    actions = ({"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in hits)
    deleted = 0
    for ok, item in helpers.streaming_bulk(
        client, actions, chunk_size=1000, raise_on_error=False, max_retries=3, yield_ok=True
    ):
        info = item.get("delete", {})
        if ok and info.get("result") == "deleted":
            deleted += 1
        elif not ok and info.get("status") != 404:
            raise RuntimeError(f"bulk delete failed for {info.get('_id')}: {info.get('error')}")
    return deleted


def apply_retention(
    client: Elasticsearch, names: IndexNames, retention_days: int, at: datetime, dry_run: bool = False
) -> RetentionResult:
    """Delete mentions whose `created_at` is older than `at - retention_days`."""
    cutoff = at - timedelta(days=retention_days)
    result = RetentionResult(cutoff=cutoff, dry_run=dry_run)
    write_index = current_write_index(client, names)
    old = {"range": {"created_at": {"lt": cutoff.isoformat()}}}
    for index in _generations(client, names):
        newest = _newest(client, index)
        if index != write_index and (newest is None or newest < cutoff):
            result.deleted_indices.append(index)
            if not dry_run:
                client.indices.delete(index=index)
                log.info("retention: deleted index %s (newest mention %s < %s)", index, newest, cutoff)
            continue
        if dry_run:
            result.deleted_docs += client.count(index=index, query=old)["count"]
            continue
        hits = helpers.scan(client, index=index, query={"query": old}, _source=False, size=1000)
        result.deleted_docs += _bulk_delete(client, hits)
    if not dry_run:
        client.indices.refresh(index=names.mentions, ignore_unavailable=True, allow_no_indices=True)
    if result.deleted_docs:
        log.info("retention: deleted %d mentions older than %s", result.deleted_docs, cutoff)
    return result


# --- erasure -------------------------------------------------------------------------------


@dataclass
class ErasureResult:
    kind: str  # "author" or "post"
    subject_hash: str
    deleted_mentions: int
    deleted_quarantine: int
    audit_id: str | None


def subject_hash(kind: str, subject: str) -> str:
    return hashlib.sha256(f"{kind}:{subject}".encode()).hexdigest()


def _raw_mentions_author(raw: str, author: str) -> bool:
    """Whether a quarantined raw record names `author` as author id or handle."""
    try:
        record = json.loads(raw)
    except (TypeError, ValueError):
        return json.dumps(author) in (raw or "")
    found = record.get("author") if isinstance(record, dict) else None
    if isinstance(found, dict):
        return author in (found.get("id"), found.get("handle"))
    return json.dumps(author) in raw


def _quarantine_hits(
    client: Elasticsearch, names: IndexNames, mention_ids: list[str], author: str | None
) -> list[dict[str, Any]]:
    if not client.indices.exists(index=names.quarantine):
        return []
    hits: list[dict[str, Any]] = []
    if mention_ids:
        for start in range(0, len(mention_ids), 1000):
            query = {"terms": {"mention_id": mention_ids[start : start + 1000]}}
            hits.extend(helpers.scan(client, index=names.quarantine, query={"query": query}, _source=False))
    if author is not None:  # raw input is not indexed: read it back and look for the author
        seen = {h["_id"] for h in hits}
        for hit in helpers.scan(client, index=names.quarantine, _source=["raw"], size=1000):
            if hit["_id"] not in seen and _raw_mentions_author(hit["_source"].get("raw", ""), author):
                hits.append(hit)
    return hits


def _audit(
    client: Elasticsearch,
    names: IndexNames,
    kind: str,
    digest: str,
    counts: dict[str, int],
    at: datetime,
    run_id: str | None,
    requested_by: str | None,
) -> str:
    audit_id = f"erasure:{kind}:{digest[:16]}:{at.isoformat()}"
    body = {
        "kind": "erasure",
        "source": f"erasure:{kind}",
        "data": {"subject_sha256": digest, "requested_by": requested_by, **counts},
        "message": (
            f"erased {counts['deleted_mentions']} mentions and {counts['deleted_quarantine']} quarantined "
            f"records by {kind} (subject sha256 {digest[:16]}...)"
        ),
        "updated_at": at.isoformat(),
    }
    if run_id:
        body["run_id"] = run_id
    client.index(index=names.state, id=audit_id, document=body, refresh=True)
    return audit_id


def _erase(
    client: Elasticsearch,
    names: IndexNames,
    kind: str,
    subject: str,
    query: dict[str, Any],
    author: str | None,
    at: datetime,
    run_id: str | None,
    requested_by: str | None,
) -> ErasureResult:
    mention_hits = list(
        helpers.scan(
            client,
            index=names.mentions,
            query={"query": query},
            _source=False,
            size=1000,
            ignore_unavailable=True,
        )
    )
    ids = sorted({h["_id"] for h in mention_hits})
    deleted_mentions = _bulk_delete(client, mention_hits)
    quarantine_ids = sorted(set(ids) | set(query.get("ids", {}).get("values", [])))
    quarantine = _quarantine_hits(client, names, quarantine_ids, author)
    deleted_quarantine = _bulk_delete(client, quarantine)
    client.indices.refresh(index=f"{names.mentions},{names.quarantine}", ignore_unavailable=True)
    digest = subject_hash(kind, subject)
    counts = {"deleted_mentions": deleted_mentions, "deleted_quarantine": deleted_quarantine}
    audit_id = _audit(client, names, kind, digest, counts, at, run_id, requested_by)
    log.info("erasure %s %s: %s (audit %s)", kind, digest[:16], counts, audit_id)
    return ErasureResult(kind, digest, deleted_mentions, deleted_quarantine, audit_id)


def erase_author(
    client: Elasticsearch,
    names: IndexNames,
    author: str,
    at: datetime,
    platform: str | None = None,
    run_id: str | None = None,
    requested_by: str | None = None,
) -> ErasureResult:
    """Delete every mention whose `author.id` or `author.handle` is `author`
    (optionally on one platform), and the author's quarantined records."""
    match: dict[str, Any] = {
        "bool": {
            "should": [{"term": {"author.id": author}}, {"term": {"author.handle": author}}],
            "minimum_should_match": 1,
        }
    }
    if platform:
        match["bool"]["filter"] = [{"term": {"platform": platform}}]
    subject = f"{platform or '*'}:{author}"
    return _erase(client, names, "author", subject, match, author, at, run_id, requested_by)


def erase_posts(
    client: Elasticsearch,
    names: IndexNames,
    mention_ids: list[str],
    at: datetime,
    run_id: str | None = None,
    requested_by: str | None = None,
) -> ErasureResult:
    """Delete mentions by id (`<platform>:<native id>`), e.g. after a platform deletion."""
    if not mention_ids:
        raise ValueError("no post ids given")
    subject = ",".join(sorted(mention_ids))
    query = {"ids": {"values": sorted(set(mention_ids))}}
    return _erase(client, names, "post", subject, query, None, at, run_id, requested_by)
