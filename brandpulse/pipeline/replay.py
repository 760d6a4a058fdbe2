"""Replay quarantined records after a fix (`brandpulse quarantine replay`).

What can be replayed:

* documents Elasticsearch refused (`stage: index`): the stored mention JSON is
  validated again and written;
* file rows that failed to parse (`source: file`, `stage: parse`) of JSON Lines
  files: the stored line goes through the file source's own row parser
  (`FileConnector.row_to_mention`), with the configured file source's options
  when the record came from that file.

What cannot: records kept only as an excerpt (too long), CSV rows (their header
is not kept: re-import the file) and rows of the API connectors (fetch again).
Records that now index are deleted from the quarantine; the others stay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch
from pydantic import ValidationError

from brandpulse.core.config import Brand, BrandsConfig
from brandpulse.core.mention import Mention
from brandpulse.core.settings import IndexNames
from indexing.quarantine import bounded, delete_quarantined
from indexing.writer import write_mentions
from listeners.file_source import FileConnector


@dataclass
class ReplayOutcome:
    replayed: list[str] = field(default_factory=list)  # indexed, removed from the quarantine
    failing: dict[str, str] = field(default_factory=dict)  # id -> why it still fails
    skipped: dict[str, str] = field(default_factory=dict)  # id -> why it cannot be replayed


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
    return str(exc) or type(exc).__name__


def _file_connector(config: BrandsConfig | None, doc: dict[str, Any], platform: str) -> FileConnector:
    name = doc.get("brand") or ""
    brand = next((b for b in (config.brands if config else []) if b.name == name), None)
    brand = brand or Brand(name=name, query=name)
    configured = brand.sources.get("file") or {}
    if configured.get("path") == doc.get("location"):
        options = dict(configured)
    else:  # an ad-hoc `brandpulse import`: its rows were taken as the brand's
        options = {"path": doc.get("location") or "", "trust_file": True, "platform": platform}
    return FileConnector(brand, options)


def _mention(config: BrandsConfig | None, doc: dict[str, Any], platform: str) -> Mention | str | None:
    """The record as a mention now; a str says why it cannot be replayed."""
    if doc.get("raw_truncated"):
        return "only an excerpt is kept (the input was too long): fix the input and import it again"
    if doc.get("stage") == "index":  # the mention as dumped, its computed id included
        data = json.loads(doc["raw"])
        if not isinstance(data, dict):
            raise ValueError("the stored mention is not a JSON object")
        data.pop("id", None)
        return Mention.model_validate(data)
    if doc.get("source") != "file":
        return f"a {doc.get('source')} record: fetch it again (ingest --reset-cursor)"
    location = str(doc.get("location") or "")
    if location.lower().endswith((".csv", ".tsv")):
        return "a CSV row (its header is not kept): import the corrected file again"
    row = json.loads(doc["raw"])
    if not isinstance(row, dict):
        raise ValueError("expected a JSON object per line")
    return _file_connector(config, doc, platform).row_to_mention(row)


def replay_records(
    client: Elasticsearch,
    names: IndexNames,
    records: list[tuple[str, dict[str, Any]]],
    config: BrandsConfig | None = None,
    platform: str = "file",
    dry_run: bool = False,
) -> ReplayOutcome:
    """Re-validate `records` ((id, document) from the quarantine index); index what
    now validates and delete those records (neither with `dry_run`)."""
    outcome = ReplayOutcome()
    ready: dict[str, Mention] = {}
    for record_id, doc in records:
        try:
            mention = _mention(config, doc, platform)
        except (ValidationError, ValueError, RecursionError) as exc:
            outcome.failing[record_id] = bounded(_why(exc), 500)
            continue
        except Exception as exc:  # noqa: BLE001 - one record never stops the others
            outcome.failing[record_id] = bounded(f"unexpected {type(exc).__name__}: {exc}", 500)
            continue
        if isinstance(mention, str):
            outcome.skipped[record_id] = mention
        elif mention is None:
            outcome.failing[record_id] = "not this brand's mention (names another brand or misses the query)"
        else:
            ready[record_id] = mention
    if dry_run or not ready:
        outcome.replayed = list(ready)
        return outcome
    result = write_mentions(client, names, list(ready.values()), refresh=True)
    refused = {f.mention.id: f.reason for f in result.failed}
    for record_id, mention in ready.items():
        if mention.id in refused:
            outcome.failing[record_id] = bounded(refused[mention.id], 500)
        else:
            outcome.replayed.append(record_id)
    delete_quarantined(client, names, outcome.replayed)
    return outcome
