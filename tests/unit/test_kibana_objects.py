"""The Kibana saved objects: committed file = builder output, stable ids, and the
internal consistency Kibana relies on (references, layers, accessors)."""

from __future__ import annotations

import json

import pytest

from brandpulse.kibana.objects import NDJSON_PATH, build_objects, field_uses, kql_fields, to_ndjson


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return build_objects()


def test_committed_file_is_the_builders_output() -> None:
    assert NDJSON_PATH.read_text(encoding="utf-8") == to_ndjson(build_objects()), (
        "run `python -m brandpulse.kibana.objects` and commit "
        "brandpulse/kibana/saved_objects/saved_objects.ndjson"
    )


def test_every_line_parses_into_an_importable_object() -> None:
    lines = NDJSON_PATH.read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        obj = json.loads(line)
        assert {"type", "id", "attributes", "references", "typeMigrationVersion"} <= set(obj)
        assert obj["attributes"]["title"]


def test_ids_are_stable_and_unique_across_builds(objects: list[dict]) -> None:
    again = build_objects()
    assert to_ndjson(again) == to_ndjson(objects)
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(ids) == len(set(ids))


def test_prefix_changes_only_index_titles(objects: list[dict]) -> None:
    other = build_objects("acme")
    assert [o["id"] for o in other] == [o["id"] for o in objects]
    titles = {o["id"]: o["attributes"]["title"] for o in other if o["type"] == "index-pattern"}
    assert titles == {"brandpulse-mentions": "acme-mentions", "brandpulse-alerts": "acme-alerts"}
    changed = [o["id"] for o, p in zip(other, objects, strict=True) if o != p]
    assert sorted(changed) == sorted(titles)


def test_data_views_and_dashboards_required_by_the_issue(objects: list[dict]) -> None:
    views = {o["id"]: o["attributes"] for o in objects if o["type"] == "index-pattern"}
    assert views["brandpulse-mentions"]["timeFieldName"] == "created_at"
    assert views["brandpulse-alerts"]["timeFieldName"] == "opened_at"
    dashboards = {o["attributes"]["title"] for o in objects if o["type"] == "dashboard"}
    assert dashboards == {"Brand overview", "Negative watch", "Topics", "Reviews beside social"}
    searches = [o for o in objects if o["type"] == "search"]
    assert len(searches) == 1
    source = json.loads(searches[0]["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert kql_fields(source["query"]["query"]) == ["sentiment.label"]


def test_references_resolve(objects: list[dict]) -> None:
    known = {(o["type"], o["id"]) for o in objects}
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, f"{obj['id']}: dangling reference {ref}"
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), f"{obj['id']}: duplicate reference names"


def test_dashboard_panels_have_their_references(objects: list[dict]) -> None:
    for dash in (o for o in objects if o["type"] == "dashboard"):
        refs = {r["name"]: r for r in dash["references"]}
        panels = json.loads(dash["attributes"]["panelsJSON"])
        assert panels
        for panel in panels:
            ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert ref["type"] == panel["type"]
            grid = panel["gridData"]
            assert grid["x"] + grid["w"] <= 48 and grid["i"] == panel["panelIndex"]


def test_lens_layers_accessors_and_formula_references_are_consistent(objects: list[dict]) -> None:
    for lens in (o for o in objects if o["type"] == "lens"):
        refs = {r["name"] for r in lens["references"]}
        state = lens["attributes"]["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        for layer_id, layer in layers.items():
            assert f"indexpattern-datasource-layer-{layer_id}" in refs
            assert layer["columnOrder"] == list(layer["columns"])
            for column in layer["columns"].values():
                for ref in column.get("references", []):
                    assert ref in layer["columns"], f"{lens['id']}: formula part {ref} missing"
                order = column.get("params", {}).get("orderBy", {})
                if order.get("type") == "column":
                    assert order["columnId"] in layer["columns"]
        vis = state["visualization"]
        accessors: list[tuple[str, str]] = []
        if lens["attributes"]["visualizationType"] == "lnsXY":
            for layer in vis["layers"]:
                if layer["layerType"] == "annotations":
                    assert f"xy-visualization-layer-{layer['layerId']}" in refs
                    continue
                keys = [layer["xAccessor"], *layer["accessors"], *filter(None, [layer.get("splitAccessor")])]
                accessors += [(layer["layerId"], k) for k in keys]
        elif lens["attributes"]["visualizationType"] == "lnsPie":
            for layer in vis["layers"]:
                accessors += [(layer["layerId"], k) for k in layer["primaryGroups"] + layer["metrics"]]
        elif lens["attributes"]["visualizationType"] == "lnsDatatable":
            accessors += [(vis["layerId"], c["columnId"]) for c in vis["columns"]]
        else:
            accessors.append((vis["layerId"], vis["metricAccessor"]))
        assert accessors
        for layer_id, column_id in accessors:
            assert column_id in layers[layer_id]["columns"], f"{lens['id']}: accessor {column_id} missing"


def test_field_uses_cover_every_kind_of_reference(objects: list[dict]) -> None:
    uses = field_uses(objects)
    fields = {(u.data_view, u.field) for u in uses}
    assert ("brandpulse-alerts", "opened_at") in fields  # data view time field + annotations
    assert ("brandpulse-alerts", "expected_count") in fields
    assert ("brandpulse-mentions", "topics.label") in fields
    assert ("brandpulse-mentions", "url") in fields  # saved-search column
    assert ("brandpulse-mentions", "brands") in fields  # dashboard control
    assert any(u.field == "sentiment.label" and not u.aggregated for u in uses)  # KQL filter


def test_kql_fields_ignores_quoted_values() -> None:
    assert kql_fields('sentiment.label : "neg: ative" and brands:acme') == ["sentiment.label", "brands"]


def test_review_dashboard_sets_ratings_beside_social_negative_share(objects: list[dict]) -> None:
    """Issue 14: daily average rating and 1-2 star share beside the social negative share, per brand."""
    by_id = {o["id"]: o for o in objects}
    board = by_id["brandpulse-dashboard-reviews"]
    panel_ids = {r["id"] for r in board["references"]}
    assert {"brandpulse-lens-reviews-vs-social", "brandpulse-lens-average-rating-daily"} <= panel_ids
    assert "brandpulse-lens-ratings-by-brand" in panel_ids

    def formulas(oid: str) -> list[str]:
        layers = by_id[oid]["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
        return [
            c["params"]["formula"]
            for layer in layers.values()
            for c in layer["columns"].values()
            if c["operationType"] == "formula"
        ]

    daily = formulas("brandpulse-lens-reviews-vs-social")
    # the low-star share is over rated reviews only; the social share leaves reviews out
    assert "count(kql='review.rating : 1 or review.rating : 2') / count(kql='review.rating : *')" in daily
    assert any('not kind : "review"\') / count(kql=\'not kind : "review"\')' in f for f in daily)
    layer = next(
        iter(
            by_id["brandpulse-lens-reviews-vs-social"]["attributes"]["state"]["datasourceStates"][
                "formBased"
            ]["layers"].values()
        )
    )
    assert layer["columns"]["day"]["params"]["interval"] == "1d"
    table = by_id["brandpulse-lens-ratings-by-brand"]["attributes"]["state"]["visualization"]
    shown = [c["columnId"] for c in table["columns"]]
    assert shown == ["brand", "reviews", "rating", "low", "social"]  # formula parts stay hidden


def test_overview_shows_sentiment_and_emotion_per_language(objects: list[dict]) -> None:
    """Issue 16: negative/neutral/positive share per language; emotion of negatives (anger share)."""
    by_id = {o["id"]: o for o in objects}
    panel_ids = {r["id"] for r in by_id["brandpulse-dashboard-brand-overview"]["references"]}
    wanted = {
        "brandpulse-lens-sentiment-by-language",
        "brandpulse-lens-emotion-of-negatives",
        "brandpulse-lens-language-sentiment-table",
    }
    assert wanted <= panel_ids
    bars = by_id["brandpulse-lens-sentiment-by-language"]["attributes"]["state"]["visualization"]
    assert bars["layers"][0]["seriesType"] == "bar_horizontal_percentage_stacked"
    donut = by_id["brandpulse-lens-emotion-of-negatives"]["attributes"]["state"]
    assert donut["query"]["query"] == 'sentiment.label : "negative" and emotion.label : *'
    layers = by_id["brandpulse-lens-language-sentiment-table"]["attributes"]["state"]["datasourceStates"][
        "formBased"
    ]["layers"]
    formulas = [
        c["params"]["formula"]
        for layer in layers.values()
        for c in layer["columns"].values()
        if c["operationType"] == "formula"
    ]
    assert (
        'count(kql=\'sentiment.label : "negative" and emotion.label : "anger"\') / '
        "count(kql='sentiment.label : \"negative\" and emotion.label : *')"
    ) in formulas
    table = by_id["brandpulse-lens-language-sentiment-table"]["attributes"]["state"]["visualization"]
    assert [c["columnId"] for c in table["columns"]] == [
        "lang",
        "mentions",
        "neg",
        "neu",
        "pos",
        "emotion",
        "anger",
    ]
