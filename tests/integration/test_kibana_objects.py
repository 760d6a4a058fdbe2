"""The Kibana saved objects against the real mappings: every field a panel, an
annotation, a saved search or a control uses exists in the installed index
mapping (field capabilities API), and is aggregatable where it is aggregated."""

from __future__ import annotations

import json

import pytest

from brandpulse.kibana.objects import ALERT_FIELDS, NDJSON_PATH, build_objects, field_uses, to_ndjson
from indexing.templates import load_template

pytestmark = pytest.mark.integration


def _alerts_template_exists() -> bool:
    try:
        load_template("alerts", "x")
    except FileNotFoundError:
        return False
    return True


def _create_alerts_index(es, prefix: str) -> None:
    """The lead's alerts template when it exists, else the agreed field list."""
    index = f"{prefix}-alerts"
    if es.indices.exists(index=index):
        return
    if _alerts_template_exists():
        es.indices.put_index_template(name=f"{prefix}-alerts", **load_template("alerts", prefix))
        es.indices.create(index=index)
    else:
        mapping = {"dynamic": "strict", "properties": {f: {"type": t} for f, t in ALERT_FIELDS.items()}}
        es.indices.create(index=index, mappings=mapping)


@pytest.fixture
def capabilities(ready, settings) -> dict[str, dict[str, dict]]:
    """data view id -> field -> {searchable, aggregatable, type} from `_field_caps`."""
    _create_alerts_index(ready, settings.index_prefix)
    views = {
        o["id"]: o["attributes"]["title"]
        for o in build_objects(settings.index_prefix)
        if o["type"] == "index-pattern"
    }
    out: dict[str, dict[str, dict]] = {}
    for view_id, pattern in views.items():
        caps = ready.field_caps(index=pattern, fields="*")["fields"]
        out[view_id] = {
            name: {
                "types": sorted(by_type),
                "aggregatable": all(c["aggregatable"] for c in by_type.values()),
                "searchable": all(c["searchable"] for c in by_type.values()),
            }
            for name, by_type in caps.items()
        }
    return out


def test_every_referenced_field_exists_and_is_aggregatable_where_aggregated(capabilities, settings) -> None:
    uses = field_uses(build_objects(settings.index_prefix))
    assert len(uses) > 40
    problems = []
    for use in uses:
        caps = capabilities[use.data_view].get(use.field)
        if caps is None or set(caps["types"]) <= {"object", "nested"}:
            problems.append(f"{use.object_id}: {use.field} not in {use.data_view}")
        elif use.aggregated and not caps["aggregatable"]:
            problems.append(f"{use.object_id}: {use.field} is aggregated but not aggregatable")
    assert not problems, "\n".join(problems)


def test_field_check_catches_a_non_aggregatable_field(capabilities) -> None:
    """The check above can fail: `text` and `url` exist but cannot be aggregated."""
    assert not capabilities["brandpulse-mentions"]["text"]["aggregatable"]
    assert not capabilities["brandpulse-mentions"]["url"]["aggregatable"]
    assert "no.such.field" not in capabilities["brandpulse-mentions"]


def test_committed_file_parses_and_matches_a_fresh_build() -> None:
    lines = NDJSON_PATH.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [o["id"] for o in build_objects()]
    assert NDJSON_PATH.read_text(encoding="utf-8") == to_ndjson(build_objects())


@pytest.mark.skipif(not _alerts_template_exists(), reason="indexing/templates/alerts.json not there yet")
def test_alerts_template_has_the_fields_the_dashboards_use() -> None:
    properties = load_template("alerts", "x")["template"]["mappings"]["properties"]
    types = {name: spec.get("type", "object") for name, spec in properties.items()}
    assert {name: types.get(name) for name in ALERT_FIELDS} == ALERT_FIELDS
