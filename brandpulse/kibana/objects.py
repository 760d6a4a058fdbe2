"""Kibana 8.x saved objects (data views, Lens panels, dashboards, a saved search)
built in Python so that every id is stable across builds.

`build_objects(prefix)` returns the objects; `write_ndjson()` writes them to
`brandpulse/kibana/saved_objects/saved_objects.ndjson` (the committed file; a test checks that it
equals the builder's output). Run `python -m brandpulse.kibana.objects` after a change.

Format notes (Kibana's own sample data and Lens migrations are the reference):
Lens panels are `lens` saved objects whose layers live in
`state.datasourceStates.formBased.layers` and point to their data view through
references named `indexpattern-datasource-layer-<layer id>` (annotation layers:
`xy-visualization-layer-<layer id>`); dashboards reference panels as
`<panel index>:panel_<panel index>`. The migration versions below say which
Kibana migrations the objects already satisfy, so they import into Kibana 8.9+.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

MENTIONS_VIEW = "brandpulse-mentions"
ALERTS_VIEW = "brandpulse-alerts"
NDJSON_PATH = Path(__file__).resolve().parent / "saved_objects" / "saved_objects.ndjson"

CORE_MIGRATION = "8.8.0"
TYPE_MIGRATION = {"index-pattern": "7.11.0", "search": "7.9.3", "lens": "8.9.0", "dashboard": "8.7.0"}
PANEL_VERSION = "8.9.0"
RECORDS = "___records___"  # Lens' pseudo-field of `count`

NEGATIVE = 'sentiment.label : "negative"'
#: social mentions (everything but app-store reviews) and their negative part
SOCIAL = 'not kind : "review"'
SOCIAL_NEGATIVE = 'sentiment.label : "negative" and not kind : "review"'
#: reviews with a star rating, and the 1-2 star ones
RATED = "review.rating : *"
LOW_STARS = "review.rating : 1 or review.rating : 2"

#: The alerts index fields (indexing/templates/alerts.json holds exactly these).
ALERT_FIELDS: dict[str, str] = {
    "brand": "keyword",
    "status": "keyword",
    "severity": "keyword",
    "opened_at": "date",
    "updated_at": "date",
    "resolved_at": "date",
    "window_start": "date",
    "window_end": "date",
    "negative_count": "long",
    "expected_count": "float",
    "negative_share": "float",
    "expected_share": "float",
    "title": "text",
}


# --- Lens columns ------------------------------------------------------------------------


def date_histogram(field: str, interval: str = "auto") -> dict[str, Any]:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": field,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": interval, "includeEmptyRows": True, "dropPartials": False},
    }


def terms(
    field: str, label: str, size: int = 10, order_by: str | None = None, significant: bool = False
) -> dict[str, Any]:
    """Top values of `field`, ordered by another column, alphabetically or by significance."""
    if significant:
        order: dict[str, Any] = {"type": "significant"}
    elif order_by:
        order = {"type": "column", "columnId": order_by}
    else:
        order = {"type": "alphabetical", "fallback": True}
    return {
        "label": label,
        "customLabel": True,
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": order,
            "orderDirection": "desc",
            "otherBucket": not significant,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def count(label: str, kql: str | None = None, time_shift: str | None = None) -> dict[str, Any]:
    column: dict[str, Any] = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": RECORDS,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }
    if kql:
        column["filter"] = {"query": kql, "language": "kuery"}
    if time_shift:
        column["timeShift"] = time_shift
    return column


def metric(operation: str, field: str, label: str) -> dict[str, Any]:
    """`max`, `sum`, `average`, ... of a numeric field."""
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": operation,
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def share_formula(column_id: str, label: str, kql: str, of: str | None = None) -> dict[str, dict[str, Any]]:
    """A Lens formula `count(kql='...') / count()` (or `/ count(kql='<of>')`, the share
    within a subset) with the hidden columns Lens persists."""
    part = f"Part of {label}"
    x0, x1, x2 = (f"{column_id}X{i}" for i in range(3))
    denominator = f"count(kql='{of}')" if of else "count()"
    text = f"count(kql='{kql}') / {denominator}"
    hidden_count = {**count(part), "params": {"emptyAsNull": False}}
    whole = {**hidden_count, "filter": {"query": of, "language": "kuery"}} if of else hidden_count
    return {
        x0: {**hidden_count, "filter": {"query": kql, "language": "kuery"}},
        x1: whole,
        x2: {
            "label": part,
            "customLabel": True,
            "dataType": "number",
            "operationType": "math",
            "isBucketed": False,
            "scale": "ratio",
            "params": {
                "tinymathAst": {
                    "type": "function",
                    "name": "divide",
                    "args": [x0, x1],
                    "location": {"min": 0, "max": len(text)},
                    "text": text,
                }
            },
            "references": [x0, x1],
        },
        column_id: {
            "label": label,
            "customLabel": True,
            "dataType": "number",
            "operationType": "formula",
            "isBucketed": False,
            "scale": "ratio",
            "params": {
                "formula": text,
                "isFormulaBroken": False,
                "format": {"id": "percent", "params": {"decimals": 1}},
            },
            "references": [x2],
        },
    }


# --- Lens objects ------------------------------------------------------------------------


@dataclass
class Layer:
    """One form-based Lens layer over a data view; `columns` keep their order."""

    id: str
    data_view: str
    columns: dict[str, dict[str, Any]]
    ignore_global_filters: bool = False

    def persisted(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "columns": self.columns,
            "columnOrder": list(self.columns),
            "incompleteColumns": {},
        }
        if self.ignore_global_filters:
            body["ignoreGlobalFilters"] = True
        return body


@dataclass
class Lens:
    id: str
    title: str
    visualization_type: str
    layers: list[Layer]
    visualization: dict[str, Any]
    description: str = ""
    query: str = ""
    extra_references: list[dict[str, str]] = field(default_factory=list)

    def saved_object(self) -> dict[str, Any]:
        references = [
            {
                "type": "index-pattern",
                "id": layer.data_view,
                "name": f"indexpattern-datasource-layer-{layer.id}",
            }
            for layer in self.layers
        ]
        return saved_object(
            "lens",
            self.id,
            {
                "title": self.title,
                "description": self.description,
                "visualizationType": self.visualization_type,
                "state": {
                    "datasourceStates": {
                        "formBased": {"layers": {layer.id: layer.persisted() for layer in self.layers}}
                    },
                    "visualization": self.visualization,
                    "query": {"query": self.query, "language": "kuery"},
                    "filters": [],
                    "internalReferences": [],
                    "adHocDataViews": {},
                },
            },
            references + self.extra_references,
        )


def saved_object(kind: str, oid: str, attributes: dict[str, Any], references: list[dict]) -> dict[str, Any]:
    return {
        "type": kind,
        "id": oid,
        "attributes": attributes,
        "references": references,
        "managed": False,
        "coreMigrationVersion": CORE_MIGRATION,
        "typeMigrationVersion": TYPE_MIGRATION[kind],
    }


def xy_layer(
    layer_id: str, series: str, x: str, accessors: list[str], split: str | None = None
) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "layerId": layer_id,
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": accessors,
    }
    if split:
        layer["splitAccessor"] = split
        layer["palette"] = {"type": "palette", "name": "default"}
    return layer


def xy_state(preferred: str, layers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": preferred,
        "layers": layers,
    }


def single_layer_xy(
    oid: str,
    title: str,
    series: str,
    data_view: str,
    x: tuple[str, dict],
    y: list[tuple[str, dict]],
    split: tuple[str, dict] | None = None,
    query: str = "",
    description: str = "",
) -> Lens:
    layer_id = f"{oid}-layer"
    columns = dict([x, *([split] if split else []), *y])
    return Lens(
        id=oid,
        title=title,
        description=description,
        visualization_type="lnsXY",
        layers=[Layer(layer_id, data_view, columns)],
        visualization=xy_state(
            series, [xy_layer(layer_id, series, x[0], [c for c, _ in y], split[0] if split else None)]
        ),
        query=query,
    )


def _visible(columns: dict[str, dict[str, Any]]) -> list[str]:
    """Column ids a visualisation shows: not the hidden parts of a formula."""
    hidden = {ref for column in columns.values() for ref in column.get("references", [])}
    hidden |= {ref for cid in hidden for ref in columns.get(cid, {}).get("references", [])}
    return [cid for cid in columns if cid not in hidden]


def datatable(
    oid: str,
    title: str,
    data_view: str,
    columns: list[tuple[str, dict]],
    query: str = "",
    description: str = "",
) -> Lens:
    layer_id = f"{oid}-layer"
    return Lens(
        id=oid,
        title=title,
        description=description,
        visualization_type="lnsDatatable",
        layers=[Layer(layer_id, data_view, dict(columns))],
        visualization={
            "layerId": layer_id,
            "layerType": "data",
            "columns": [{"columnId": cid, "isTransposed": False} for cid in _visible(dict(columns))],
            "rowHeight": "single",
            "rowHeightLines": 1,
        },
        query=query,
    )


def metric_panel(oid: str, title: str, data_view: str, columns: dict[str, dict], accessor: str) -> Lens:
    layer_id = f"{oid}-layer"
    return Lens(
        id=oid,
        title=title,
        visualization_type="lnsMetric",
        layers=[Layer(layer_id, data_view, columns)],
        visualization={"layerId": layer_id, "layerType": "data", "metricAccessor": accessor},
    )


def donut(oid: str, title: str, data_view: str, group: tuple[str, dict], value: tuple[str, dict]) -> Lens:
    layer_id = f"{oid}-layer"
    return Lens(
        id=oid,
        title=title,
        visualization_type="lnsPie",
        layers=[Layer(layer_id, data_view, dict([group, value]))],
        visualization={
            "shape": "donut",
            "layers": [
                {
                    "layerId": layer_id,
                    "layerType": "data",
                    "primaryGroups": [group[0]],
                    "metrics": [value[0]],
                    "numberDisplay": "percent",
                    "categoryDisplay": "default",
                    "legendDisplay": "default",
                    "nestedLegend": False,
                }
            ],
        },
    )


# --- the panels ----------------------------------------------------------------------------


def _overview_panels() -> list[Lens]:
    return [
        metric_panel(
            "brandpulse-lens-mentions-total",
            "Mentions",
            MENTIONS_VIEW,
            {"mentions": count("Mentions")},
            "mentions",
        ),
        metric_panel(
            "brandpulse-lens-negative-share-total",
            "Negative share",
            MENTIONS_VIEW,
            share_formula("share", "Negative share", NEGATIVE),
            "share",
        ),
        donut(
            "brandpulse-lens-language-mix",
            "Language mix",
            MENTIONS_VIEW,
            ("lang", terms("lang", "Language", size=10, order_by="mentions")),
            ("mentions", count("Mentions")),
        ),
        single_layer_xy(
            "brandpulse-lens-volume-by-platform",
            "Volume by platform",
            "bar_stacked",
            MENTIONS_VIEW,
            ("time", date_histogram("created_at")),
            [("mentions", count("Mentions"))],
            split=("platform", terms("platform", "Platform", size=10, order_by="mentions")),
        ),
        single_layer_xy(
            "brandpulse-lens-sentiment-over-time",
            "Sentiment over time",
            "area_stacked",
            MENTIONS_VIEW,
            ("time", date_histogram("created_at")),
            [("mentions", count("Mentions"))],
            split=("sentiment", terms("sentiment.label", "Sentiment", size=3, order_by="mentions")),
        ),
        _negative_share_over_time(),
        single_layer_xy(
            "brandpulse-lens-top-topics",
            "Top topics",
            "bar_horizontal",
            MENTIONS_VIEW,
            ("topic", terms("topics.label", "Topic", size=10, order_by="mentions")),
            [("mentions", count("Mentions"))],
        ),
        datatable(
            "brandpulse-lens-top-authors",
            "Top authors by reach",
            MENTIONS_VIEW,
            [
                ("author", terms("author.handle", "Author", size=20, order_by="followers")),
                ("followers", metric("max", "author.followers", "Followers")),
                ("mentions", count("Mentions")),
                ("likes", metric("sum", "engagement.likes", "Likes")),
            ],
        ),
    ]


def _negative_share_over_time() -> Lens:
    oid = "brandpulse-lens-negative-share"
    layer_id = f"{oid}-layer"
    columns = {"time": date_histogram("created_at"), **share_formula("share", "Negative share", NEGATIVE)}
    return Lens(
        id=oid,
        title="Negative share over time",
        visualization_type="lnsXY",
        layers=[Layer(layer_id, MENTIONS_VIEW, columns)],
        visualization=xy_state("line", [xy_layer(layer_id, "line", "time", ["share"])]),
    )


def _negative_vs_expected() -> Lens:
    """Negative mentions per bucket, the detector's expected count at alert windows,
    and alert episodes (opened_at) as annotations."""
    oid = "brandpulse-lens-negative-vs-expected"
    negative = Layer(
        f"{oid}-negative",
        MENTIONS_VIEW,
        {"time": date_histogram("created_at"), "negative": count("Negative mentions", kql=NEGATIVE)},
    )
    expected = Layer(
        f"{oid}-expected",
        ALERTS_VIEW,
        {
            "window": date_histogram("window_start"),
            "expected": metric("max", "expected_count", "Expected negatives (alert windows)"),
            "observed": metric("max", "negative_count", "Negatives in alert windows"),
        },
        ignore_global_filters=True,
    )
    annotations_id = f"{oid}-episodes"
    visualization = xy_state(
        "line",
        [
            xy_layer(negative.id, "bar", "time", ["negative"]),
            xy_layer(expected.id, "line", "window", ["expected", "observed"]),
            {
                "layerId": annotations_id,
                "layerType": "annotations",
                "ignoreGlobalFilters": True,
                "annotations": [
                    {
                        "type": "query",
                        "id": f"{oid}-episode-opened",
                        "label": "Alert episode",
                        "key": {"type": "point_in_time"},
                        "timeField": "opened_at",
                        "icon": "alert",
                        "color": "#BD271E",
                        "filter": {"type": "kibana_query", "query": "status : *", "language": "kuery"},
                        "extraFields": ["brand", "severity", "status"],
                    }
                ],
            },
        ],
    )
    return Lens(
        id=oid,
        title="Negative volume against expected",
        description="Alert-window layers and annotations come from the alerts index (all brands).",
        visualization_type="lnsXY",
        layers=[negative, expected],
        visualization=visualization,
        extra_references=[
            {"type": "index-pattern", "id": ALERTS_VIEW, "name": f"xy-visualization-layer-{annotations_id}"}
        ],
    )


def _negative_watch_panels() -> list[Lens]:
    return [
        _negative_vs_expected(),
        datatable(
            "brandpulse-lens-engaged-negative",
            "Most-engaged negative posts",
            MENTIONS_VIEW,
            [
                ("post", terms("text.keyword", "Post", size=20, order_by="likes")),
                ("likes", metric("max", "engagement.likes", "Likes")),
                ("reposts", metric("max", "engagement.reposts", "Reposts")),
                ("replies", metric("max", "engagement.replies", "Replies")),
                ("followers", metric("max", "author.followers", "Author followers")),
            ],
            query=NEGATIVE,
        ),
        datatable(
            "brandpulse-lens-alert-episodes",
            "Alert episodes",
            ALERTS_VIEW,
            [
                ("brand", terms("brand", "Brand", size=20, order_by="episodes")),
                ("severity", terms("severity", "Severity", size=5, order_by="episodes")),
                ("episodes", count("Episodes")),
                ("negatives", metric("max", "negative_count", "Max negatives")),
                ("share", metric("max", "negative_share", "Max negative share")),
            ],
        ),
    ]


def _topic_panels() -> list[Lens]:
    return [
        single_layer_xy(
            "brandpulse-lens-topic-volume",
            "Topic volume over time",
            "area_stacked",
            MENTIONS_VIEW,
            ("time", date_histogram("created_at")),
            [("mentions", count("Mentions"))],
            split=("topic", terms("topics.label", "Topic", size=10, order_by="mentions")),
        ),
        datatable(
            "brandpulse-lens-emerging-topics",
            "Emerging topics",
            MENTIONS_VIEW,
            [
                ("topic", terms("topics.label", "Topic", size=15, significant=True)),
                ("mentions", count("Mentions")),
                ("previous", count("Previous week", time_shift="1w")),
                ("negative", count("Negative", kql=NEGATIVE)),
            ],
            description="Topics ranked by significance in the time range against the whole index.",
        ),
        single_layer_xy(
            "brandpulse-lens-topic-sentiment",
            "Sentiment by topic",
            "bar_horizontal_stacked",
            MENTIONS_VIEW,
            ("topic", terms("topics.label", "Topic", size=10, order_by="mentions")),
            [("mentions", count("Mentions"))],
            split=("sentiment", terms("sentiment.label", "Sentiment", size=3, order_by="mentions")),
        ),
    ]


#: mentions that carry an emotion (absent for languages without useful emotion quality)
HAS_EMOTION = "emotion.label : *"
NEGATIVE_WITH_EMOTION = 'sentiment.label : "negative" and emotion.label : *'
NEGATIVE_ANGER = 'sentiment.label : "negative" and emotion.label : "anger"'


def _language_panels() -> list[Lens]:
    """Sentiment share per language, emotion among negatives, both per language in a table."""
    lang = ("lang", terms("lang", "Language", size=12, order_by="mentions"))
    return [
        single_layer_xy(
            "brandpulse-lens-sentiment-by-language",
            "Sentiment by language",
            "bar_horizontal_percentage_stacked",
            MENTIONS_VIEW,
            lang,
            [("mentions", count("Mentions"))],
            split=("sentiment", terms("sentiment.label", "Sentiment", size=3, order_by="mentions")),
            description="Negative, neutral and positive share of each language's mentions.",
        ),
        replace(
            donut(
                "brandpulse-lens-emotion-of-negatives",
                "Emotion of negative mentions",
                MENTIONS_VIEW,
                ("emotion", terms("emotion.label", "Emotion", size=9, order_by="mentions")),
                ("mentions", count("Mentions")),
            ),
            query=NEGATIVE_WITH_EMOTION,
            description="Negative mentions that carry an emotion (none for languages where "
            "emotion quality is not useful).",
        ),
        datatable(
            "brandpulse-lens-language-sentiment-table",
            "Sentiment and emotion by language",
            MENTIONS_VIEW,
            [
                lang,
                ("mentions", count("Mentions")),
                *share_formula("neg", "Negative share", NEGATIVE).items(),
                *share_formula("neu", "Neutral share", 'sentiment.label : "neutral"').items(),
                *share_formula("pos", "Positive share", 'sentiment.label : "positive"').items(),
                ("emotion", count("With emotion", kql=HAS_EMOTION)),
                *share_formula(
                    "anger", "Anger among negatives", NEGATIVE_ANGER, of=NEGATIVE_WITH_EMOTION
                ).items(),
            ],
        ),
    ]


# --- data views, saved search, dashboards --------------------------------------------------


def _review_panels() -> list[Lens]:
    """Review ratings beside social negativity, per day and per brand."""
    day = ("day", date_histogram("created_at", "1d"))
    low_share = share_formula("low", "1-2 star share of reviews", LOW_STARS, of=RATED)
    social_share = share_formula("social", "Negative share of social mentions", SOCIAL_NEGATIVE, of=SOCIAL)
    oid = "brandpulse-lens-reviews-vs-social"
    layer_id = f"{oid}-layer"
    return [
        metric_panel(
            "brandpulse-lens-average-rating",
            "Average rating",
            MENTIONS_VIEW,
            {"rating": metric("average", "review.rating", "Average rating")},
            "rating",
        ),
        metric_panel(
            "brandpulse-lens-low-star-share", "1-2 star share", MENTIONS_VIEW, dict(low_share), "low"
        ),
        Lens(
            id=oid,
            title="1-2 star reviews against social negative share, per day",
            visualization_type="lnsXY",
            layers=[Layer(layer_id, MENTIONS_VIEW, {"day": day[1], **low_share, **social_share})],
            visualization=xy_state("line", [xy_layer(layer_id, "line", "day", ["low", "social"])]),
        ),
        single_layer_xy(
            "brandpulse-lens-average-rating-daily",
            "Average rating per day",
            "line",
            MENTIONS_VIEW,
            day,
            [("rating", metric("average", "review.rating", "Average rating"))],
            query=RATED,
        ),
        datatable(
            "brandpulse-lens-ratings-by-brand",
            "Ratings and social negativity by brand",
            MENTIONS_VIEW,
            [
                ("brand", terms("brands", "Brand", size=20, order_by="reviews")),
                ("reviews", count("Rated reviews", kql=RATED)),
                ("rating", metric("average", "review.rating", "Average rating")),
                *share_formula("low", "1-2 star share", LOW_STARS, of=RATED).items(),
                *share_formula("social", "Social negative share", SOCIAL_NEGATIVE, of=SOCIAL).items(),
            ],
        ),
    ]


def data_view(oid: str, title: str, time_field: str, name: str, formats: dict | None = None) -> dict:
    return saved_object(
        "index-pattern",
        oid,
        {
            "title": title,
            "name": name,
            "timeFieldName": time_field,
            "fields": "[]",
            "fieldFormatMap": json.dumps(formats or {}, sort_keys=True),
            "runtimeFieldMap": "{}",
            "typeMeta": "{}",
        },
        [],
    )


NEGATIVE_SEARCH_ID = "brandpulse-search-negative-mentions"


def negative_search() -> dict[str, Any]:
    source = {
        "query": {"query": NEGATIVE, "language": "kuery"},
        "filter": [],
        "highlightAll": True,
        "version": True,
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return saved_object(
        "search",
        NEGATIVE_SEARCH_ID,
        {
            "title": "Negative mentions",
            "description": "Mentions scored negative, newest first.",
            "columns": [
                "brands",
                "platform",
                "author.handle",
                "engagement.likes",
                "emotion.label",
                "text",
                "url",
            ],
            "sort": [["created_at", "desc"]],
            "hits": 0,
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source, sort_keys=True)},
        },
        [
            {
                "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
                "type": "index-pattern",
                "id": MENTIONS_VIEW,
            }
        ],
    )


@dataclass
class Panel:
    kind: str  # "lens" or "search"
    ref_id: str
    w: int
    h: int


def dashboard(oid: str, title: str, description: str, panels: list[Panel]) -> dict[str, Any]:
    """Panels are laid out left to right on Kibana's 48-column grid."""
    items, references = [], []
    x = y = row_h = 0
    for n, panel in enumerate(panels, start=1):
        if x + panel.w > 48:
            x, y, row_h = 0, y + row_h, 0
        index = str(n)
        items.append(
            {
                "version": PANEL_VERSION,
                "type": panel.kind,
                "gridData": {"x": x, "y": y, "w": panel.w, "h": panel.h, "i": index},
                "panelIndex": index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{index}",
            }
        )
        references.append({"name": f"{index}:panel_{index}", "type": panel.kind, "id": panel.ref_id})
        x += panel.w
        row_h = max(row_h, panel.h)
    control_id = f"{oid}-brand-control"
    controls = {
        control_id: {
            "order": 0,
            "width": "medium",
            "grow": True,
            "type": "optionsListControl",
            "explicitInput": {"id": control_id, "fieldName": "brands", "title": "Brand", "enhancements": {}},
        }
    }
    references.append(
        {
            "name": f"controlGroup_{control_id}:optionsListDataView",
            "type": "index-pattern",
            "id": MENTIONS_VIEW,
        }
    )
    return saved_object(
        "dashboard",
        oid,
        {
            "title": title,
            "description": description,
            "panelsJSON": json.dumps(items, sort_keys=True),
            "optionsJSON": json.dumps(
                {"useMargins": True, "syncColors": False, "syncCursor": True, "hidePanelTitles": False},
                sort_keys=True,
            ),
            "controlGroupInput": {
                "controlStyle": "oneLine",
                "chainingSystem": "HIERARCHICAL",
                "panelsJSON": json.dumps(controls, sort_keys=True),
                "ignoreParentSettingsJSON": json.dumps(
                    {
                        "ignoreFilters": False,
                        "ignoreQuery": False,
                        "ignoreTimerange": False,
                        "ignoreValidations": False,
                    },
                    sort_keys=True,
                ),
            },
            "timeRestore": True,
            "timeFrom": "now-7d",
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 60000},
            "version": 1,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
        },
        references,
    )


def _lens_panels(lenses: list[Lens], sizes: list[tuple[int, int]]) -> list[Panel]:
    return [Panel("lens", lens.id, w, h) for lens, (w, h) in zip(lenses, sizes, strict=True)]


def build_objects(prefix: str = "brandpulse") -> list[dict[str, Any]]:
    """Every saved object, dependencies first; only index titles depend on `prefix`."""
    overview, watch, topics = _overview_panels(), _negative_watch_panels(), _topic_panels()
    reviews = _review_panels()
    languages = _language_panels()
    objects = [
        data_view(
            MENTIONS_VIEW, f"{prefix}-mentions", "created_at", "brandpulse mentions", {"url": {"id": "url"}}
        ),
        data_view(ALERTS_VIEW, f"{prefix}-alerts", "opened_at", "brandpulse alert episodes"),
        negative_search(),
        *(lens.saved_object() for lens in [*overview, *watch, *topics, *reviews, *languages]),
        dashboard(
            "brandpulse-dashboard-brand-overview",
            "Brand overview",
            "Volume, sentiment, topics, authors and languages of brand mentions; sentiment and "
            "emotion per language.",
            [
                *_lens_panels(
                    overview, [(12, 9), (12, 9), (24, 9), (24, 12), (24, 12), (24, 12), (24, 12), (48, 14)]
                ),
                *_lens_panels(languages, [(24, 12), (24, 12), (48, 12)]),
            ],
        ),
        dashboard(
            "brandpulse-dashboard-negative-watch",
            "Negative watch",
            "Negative volume against the alert baseline, alert episodes and the posts to answer first.",
            [
                *_lens_panels(watch, [(48, 14), (32, 16), (16, 16)]),
                Panel("search", NEGATIVE_SEARCH_ID, 48, 18),
            ],
        ),
        dashboard(
            "brandpulse-dashboard-topics",
            "Topics",
            "Topic volume over time, emerging topics and sentiment per topic.",
            _lens_panels(topics, [(48, 14), (24, 14), (24, 14)]),
        ),
        dashboard(
            "brandpulse-dashboard-reviews",
            "Reviews beside social",
            "App-store ratings per day (average, 1-2 star share) beside social negative share.",
            _lens_panels(reviews, [(12, 8), (12, 8), (48, 14), (24, 12), (24, 12)]),
        ),
    ]
    return objects


def to_ndjson(objects: Iterable[dict[str, Any]]) -> str:
    """One object per line, keys sorted: byte-identical across builds."""
    return "".join(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n" for obj in objects)


def write_ndjson(path: Path = NDJSON_PATH, prefix: str = "brandpulse") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_ndjson(build_objects(prefix)), encoding="utf-8")
    return path


# --- field references (used by the tests and `kibana import --dry-run`) --------------------


@dataclass(frozen=True)
class FieldUse:
    """A field an object uses, on which data view, and whether it is aggregated/sorted."""

    object_id: str
    data_view: str
    field: str
    aggregated: bool


_KQL_FIELD = re.compile(r"([A-Za-z_@][\w.@]*)\s*:")


def kql_fields(query: str) -> list[str]:
    """Field names in a KQL query (`field : value` clauses)."""
    return _KQL_FIELD.findall(re.sub(r'"(?:[^"\\]|\\.)*"', '""', query))


def field_uses(objects: list[dict[str, Any]]) -> list[FieldUse]:
    """Every field referenced by the data views, Lens layers, annotations, saved searches
    and dashboard controls."""
    uses: list[FieldUse] = []
    for obj in objects:
        oid, attrs = obj["id"], obj["attributes"]
        refs = {r["name"]: r["id"] for r in obj["references"]}
        if obj["type"] == "index-pattern":
            uses.append(FieldUse(oid, oid, attrs["timeFieldName"], True))
        elif obj["type"] == "lens":
            uses.extend(_lens_field_uses(oid, attrs, refs))
        elif obj["type"] == "search":
            view = refs["kibanaSavedObjectMeta.searchSourceJSON.index"]
            source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
            uses.extend(FieldUse(oid, view, f, False) for f in attrs["columns"])
            uses.extend(FieldUse(oid, view, f, True) for f, _ in attrs["sort"])
            uses.extend(FieldUse(oid, view, f, False) for f in kql_fields(source["query"]["query"]))
        elif obj["type"] == "dashboard":
            controls = json.loads(attrs["controlGroupInput"]["panelsJSON"])
            for cid, control in controls.items():
                view = refs[f"controlGroup_{cid}:optionsListDataView"]
                uses.append(FieldUse(oid, view, control["explicitInput"]["fieldName"], True))
    return uses


def _lens_field_uses(oid: str, attrs: dict, refs: dict[str, str]) -> list[FieldUse]:
    uses: list[FieldUse] = []
    state = attrs["state"]
    layers = state["datasourceStates"]["formBased"]["layers"]
    views = set()
    for layer_id, layer in layers.items():
        view = refs[f"indexpattern-datasource-layer-{layer_id}"]
        views.add(view)
        for column in layer["columns"].values():
            if column.get("sourceField") not in (None, RECORDS):
                uses.append(FieldUse(oid, view, column["sourceField"], True))
            if "filter" in column:
                uses.extend(FieldUse(oid, view, f, False) for f in kql_fields(column["filter"]["query"]))
    for f in kql_fields(state["query"]["query"]):
        uses.extend(FieldUse(oid, view, f, False) for view in sorted(views))
    for layer in state["visualization"].get("layers", []):
        if layer.get("layerType") != "annotations":
            continue
        view = refs[f"xy-visualization-layer-{layer['layerId']}"]
        for note in layer["annotations"]:
            uses.append(FieldUse(oid, view, note["timeField"], True))
            uses.extend(FieldUse(oid, view, f, False) for f in note.get("extraFields", []))
            uses.extend(FieldUse(oid, view, f, False) for f in kql_fields(note["filter"]["query"]))
    return uses


if __name__ == "__main__":  # pragma: no cover - regenerate the committed file
    print(write_ndjson())
