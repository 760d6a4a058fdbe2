"""Install the versioned index templates and the mention aliases, idempotently.

Mentions are written through a write alias (`<prefix>-mentions-write`) that
points at one concrete index `<prefix>-mentions-v<template version>-<generation>`;
every generation joins the read alias `<prefix>-mentions` through the template.
A template version bump installs the new template and rolls the alias over.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from brandpulse.core.settings import IndexNames

log = logging.getLogger(__name__)

TEMPLATES = ("mentions", "quarantine", "state", "alerts")


def load_template(name: str, prefix: str) -> dict[str, Any]:
    """A template body from `indexing/templates/<name>.json` with the prefix filled in."""
    text = resources.files("indexing").joinpath("templates", f"{name}.json").read_text("utf-8")
    body = json.loads(text.replace("{prefix}", prefix))
    body.pop("_comment", None)
    return body


def template_version(name: str, prefix: str = "x") -> int:
    return int(load_template(name, prefix)["version"])


@dataclass
class SetupReport:
    installed: list[str]
    unchanged: list[str]
    rolled_over_to: str | None = None
    created_index: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.installed:
            parts.append(f"installed templates: {', '.join(self.installed)}")
        if self.unchanged:
            parts.append(f"up to date: {', '.join(self.unchanged)}")
        if self.created_index:
            parts.append(f"created {self.created_index}")
        if self.rolled_over_to:
            parts.append(f"rolled over to {self.rolled_over_to}")
        return "; ".join(parts)


def _installed_version(client: Elasticsearch, name: str) -> int | None:
    try:
        found = client.indices.get_index_template(name=name)
    except NotFoundError:
        return None
    templates = found.get("index_template_patterns") or found.get("index_templates") or []
    return templates[0]["index_template"].get("version") if templates else None


def _generation(index: str) -> tuple[int, int]:
    match = re.search(r"-v(\d+)-(\d+)$", index)
    if not match:
        raise ValueError(f"unexpected mention index name {index!r}")
    return int(match.group(1)), int(match.group(2))


def current_write_index(client: Elasticsearch, names: IndexNames) -> str | None:
    """The concrete index behind the write alias, or None before set-up."""
    try:
        aliases = client.indices.get_alias(name=names.mentions_write)
    except NotFoundError:
        return None
    for index, body in aliases.items():
        if body["aliases"][names.mentions_write].get("is_write_index", True):
            return index
    return None


def ensure_indices(client: Elasticsearch, names: IndexNames) -> SetupReport:
    """Install templates whose version changed, create the first mention index
    and the state/quarantine indices, roll over on a template version bump."""
    report = SetupReport(installed=[], unchanged=[])
    for name in TEMPLATES:
        body = load_template(name, names.prefix)
        template_name = f"{names.prefix}-{name}"
        if _installed_version(client, template_name) == body["version"]:
            report.unchanged.append(template_name)
            continue
        client.indices.put_index_template(name=template_name, **body)
        report.installed.append(template_name)
        single = getattr(names, name)
        if name != "mentions" and client.indices.exists(index=single):
            # single-index kinds take additive mapping changes in place
            client.indices.put_mapping(index=single, **body["template"]["mappings"])
        log.info("installed index template %s v%s", template_name, body["version"])

    for index in (names.state, names.quarantine, names.alerts):
        if not client.indices.exists(index=index):
            client.options(ignore_status=400).indices.create(index=index)

    version = template_version("mentions")
    write_index = current_write_index(client, names)
    if write_index is None:
        first = names.mentions_index(version, 1)
        client.options(ignore_status=400).indices.create(
            index=first, aliases={names.mentions_write: {"is_write_index": True}}
        )
        report.created_index = first
    else:
        index_version, generation = _generation(write_index)
        if index_version < version:
            target = names.mentions_index(version, generation + 1)
            client.indices.rollover(alias=names.mentions_write, new_index=target)
            report.rolled_over_to = target
            log.info("template v%s > index v%s: rolled over to %s", version, index_version, target)
    return report
