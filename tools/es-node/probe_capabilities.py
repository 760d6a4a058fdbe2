"""Probe what the project's Elasticsearch node really supports.

Every row is a real request against a running node (nothing is guessed). Usage, with the
project venv, from the repo root:

    python tools/es-node/probe_capabilities.py            # starts a throwaway node
    python tools/es-node/probe_capabilities.py --url http://127.0.0.1:9200
    python tools/es-node/probe_capabilities.py --markdown # table for the README

Exit code 0 whatever is unsupported; non-zero only if the node cannot be reached.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

P = "bp-probe"  # every index/template this script creates starts with this prefix
RUN_ID = str(int(time.time()))
DOCS = f"{P}-docs"

Probe = Callable[[Elasticsearch], Any]
PROBES: list[tuple[str, str, Probe]] = []


def probe(category: str, name: str) -> Callable[[Probe], Probe]:
    def deco(fn: Probe) -> Probe:
        PROBES.append((category, name, fn))
        return fn

    return deco


def check(cond: object, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def search(es: Elasticsearch, **body: Any) -> Any:
    return es.search(index=DOCS, size=body.pop("size", 0), **body)


# --------------------------------------------------------------------------- fixture

DOC_MAPPING = {
    "properties": {
        "text": {"type": "text"},
        "tag": {"type": "keyword"},
        "ts": {"type": "date"},
        "score": {"type": "float"},
        "n": {"type": "integer"},
        "user": {"properties": {"name": {"type": "keyword"}}},
        "comments": {
            "type": "nested",
            "properties": {"author": {"type": "keyword"}, "body": {"type": "text"}},
        },
    }
}


def setup_fixture(es: Elasticsearch) -> None:
    es.indices.delete(index=f"{P}*", ignore_unavailable=True, allow_no_indices=True)
    es.indices.create(index=DOCS, mappings=DOC_MAPPING, settings={"number_of_replicas": 0})
    words = ["great phone", "bad battery", "love the camera", "terrible support", "ok price"]
    ops: list[dict[str, Any]] = []
    for i in range(40):
        ops.append({"index": {"_index": DOCS, "_id": str(i)}})
        ops.append(
            {
                "text": f"{words[i % 5]} acme {'café' if i % 4 == 0 else 'store'} number {i}",
                "tag": ["pos", "neg", "pos", "neg", "neu"][i % 5],
                "ts": f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                "score": (i % 10) / 10,
                "n": i,
                "user": {"name": f"user{i % 7}"},
                "comments": [{"author": f"a{i % 3}", "body": "nice one"}],
            }
        )
    r = es.bulk(operations=ops, refresh=True)
    check(not r["errors"], "fixture bulk had errors")


def teardown(es: Elasticsearch) -> None:
    for fn in (
        lambda: es.indices.delete_data_stream(name=f"{P}*"),
        lambda: es.indices.delete(index=f"{P}*", ignore_unavailable=True, allow_no_indices=True),
        lambda: es.indices.delete_index_template(name=f"{P}*"),
        lambda: es.cluster.delete_component_template(name=f"{P}*"),
        lambda: es.ilm.delete_lifecycle(name=f"{P}-policy"),
        lambda: es.ingest.delete_pipeline(id=f"{P}*"),
    ):
        try:
            fn()
        except Exception:  # noqa: BLE001, S112 - best-effort cleanup of optional features
            continue


# --------------------------------------------------------------------------- aggregations


def agg(name: str, body: dict[str, Any], *, query: dict[str, Any] | None = None) -> None:
    @probe("aggregation", name)
    def _p(es: Elasticsearch) -> Any:
        r = search(es, aggs={"a": body}, **({"query": query} if query else {}))
        check("a" in r["aggregations"], f"no {name} result")
        return r["aggregations"]["a"]


agg("terms", {"terms": {"field": "tag"}})
agg("multi_terms", {"multi_terms": {"terms": [{"field": "tag"}, {"field": "user.name"}]}})
agg("rare_terms", {"rare_terms": {"field": "user.name"}})
agg("date_histogram", {"date_histogram": {"field": "ts", "calendar_interval": "day"}})
agg("auto_date_histogram", {"auto_date_histogram": {"field": "ts", "buckets": 5}})
agg("histogram", {"histogram": {"field": "score", "interval": 0.25}})
agg("range", {"range": {"field": "n", "ranges": [{"to": 10}, {"from": 10}]}})
agg("date_range", {"date_range": {"field": "ts", "ranges": [{"to": "2024-01-15"}]}})
agg("filter", {"filter": {"term": {"tag": "pos"}}})
agg("filters", {"filters": {"filters": {"p": {"term": {"tag": "pos"}}, "n": {"term": {"tag": "neg"}}}}})
agg(
    "adjacency_matrix",
    {"adjacency_matrix": {"filters": {"p": {"term": {"tag": "pos"}}, "n": {"term": {"tag": "neg"}}}}},
)
agg("cardinality", {"cardinality": {"field": "user.name"}})
agg("avg", {"avg": {"field": "score"}})
agg("sum", {"sum": {"field": "score"}})
agg("min/max", {"max": {"field": "score"}})
agg("stats / extended_stats", {"extended_stats": {"field": "score"}})
agg("value_count", {"value_count": {"field": "tag"}})
agg("percentiles", {"percentiles": {"field": "score", "percents": [50, 95]}})
agg("percentile_ranks", {"percentile_ranks": {"field": "score", "values": [0.5]}})
agg("median_absolute_deviation", {"median_absolute_deviation": {"field": "score"}})
agg("significant_terms", {"significant_terms": {"field": "tag"}}, query={"match": {"text": "battery"}})
agg("significant_text", {"significant_text": {"field": "text"}}, query={"match": {"text": "battery"}})
agg(
    "composite",
    {
        "composite": {
            "sources": [
                {"t": {"terms": {"field": "tag"}}},
                {"d": {"date_histogram": {"field": "ts", "calendar_interval": "week"}}},
            ]
        }
    },
)
agg("top_hits", {"top_hits": {"size": 2, "sort": [{"n": "desc"}]}})
agg("nested", {"nested": {"path": "comments"}, "aggs": {"x": {"terms": {"field": "comments.author"}}}})
agg("sampler", {"sampler": {"shard_size": 10}, "aggs": {"x": {"terms": {"field": "tag"}}}})
agg("missing", {"missing": {"field": "nope"}})
agg("weighted_avg", {"weighted_avg": {"value": {"field": "score"}, "weight": {"field": "n"}}})
agg(
    "terms + order by sub-agg",
    {"terms": {"field": "tag", "order": {"s": "desc"}}, "aggs": {"s": {"avg": {"field": "score"}}}},
)


def pipeline(name: str, body: dict[str, Any]) -> None:
    @probe("pipeline agg", name)
    def _p(es: Elasticsearch) -> Any:
        aggs = {
            "h": {
                "date_histogram": {"field": "ts", "calendar_interval": "day"},
                "aggs": {"s": {"sum": {"field": "score"}}, "p": body},
            }
        }
        return search(es, aggs=aggs)["aggregations"]["h"]["buckets"][1]


pipeline("derivative", {"derivative": {"buckets_path": "s"}})
pipeline("cumulative_sum", {"cumulative_sum": {"buckets_path": "s"}})
pipeline(
    "moving_fn",
    {"moving_fn": {"buckets_path": "s", "window": 3, "script": "MovingFunctions.unweightedAvg(values)"}},
)
pipeline(
    "bucket_script (painless)", {"bucket_script": {"buckets_path": {"x": "s"}, "script": "params.x * 2"}}
)
pipeline("bucket_sort", {"bucket_sort": {"size": 3}})


@probe("pipeline agg", "avg_bucket / max_bucket")
def _avg_bucket(es: Elasticsearch) -> Any:
    aggs = {
        "h": {
            "date_histogram": {"field": "ts", "calendar_interval": "day"},
            "aggs": {"s": {"sum": {"field": "score"}}},
        },
        "ab": {"avg_bucket": {"buckets_path": "h>s"}},
    }
    return search(es, aggs=aggs)["aggregations"]["ab"]


# --------------------------------------------------------------------------- analysis


def analyze(
    name: str, expect: list[str] | None = None, text: str = "Café RÉSUMÉ <b>Running</b> the Dogs", **body: Any
) -> None:
    @probe("analysis", name)
    def _p(es: Elasticsearch) -> Any:
        r = es.indices.analyze(text=text, **body)
        tokens = [t["token"] for t in r["tokens"]]
        if expect is not None:
            check(sorted(tokens) == sorted(expect), f"tokens {tokens} != {expect}")
        return tokens


analyze("standard analyzer", analyzer="standard")
analyze("simple / whitespace / stop analyzers", analyzer="stop")
analyze("english analyzer (language analyzers)", analyzer="english")
analyze("lowercase token filter", tokenizer="standard", filter=["lowercase"])
analyze("asciifolding token filter", tokenizer="standard", filter=["lowercase", "asciifolding"])
analyze("stop token filter", tokenizer="standard", filter=["stop"])
analyze(
    "stemmer / porter_stem / kstem / snowball (English)",
    tokenizer="standard",
    filter=["lowercase", "porter_stem"],
)
analyze(
    "stemmer / snowball with language param",
    ["katz"],
    text="katzen",
    tokenizer="standard",
    filter=[{"type": "stemmer", "language": "german"}],
)
analyze("french / german / spanish / italian / portuguese / dutch analyzers", analyzer="french")
analyze("word_delimiter_graph", tokenizer="whitespace", filter=["word_delimiter_graph"])
analyze("shingle filter", tokenizer="standard", filter=["shingle"])
analyze("keyword / whitespace tokenizers", tokenizer="whitespace")
analyze("uax_url_email tokenizer", tokenizer="uax_url_email")
analyze("pattern tokenizer (default \\W+)", tokenizer="pattern")
analyze(
    "pattern tokenizer with custom pattern",
    ["a", "b c"],
    text="a,b c",
    tokenizer={"type": "pattern", "pattern": ","},
)
analyze(
    "edge_ngram tokenizer min_gram/max_gram",
    ["ac", "acm", "acme"],
    text="acme",
    tokenizer={"type": "edge_ngram", "min_gram": 2, "max_gram": 4},
)
analyze(
    "asciifolding preserve_original",
    ["Café", "Cafe"],
    text="Café",
    tokenizer="standard",
    filter=[{"type": "asciifolding", "preserve_original": True}],
)
analyze(
    "html_strip char filter",
    ["hello", "world"],
    text="<p>hello <b>world</b></p>",
    tokenizer="standard",
    char_filter=["html_strip"],
)
analyze("icu_analyzer (analysis-icu)", analyzer="icu_analyzer")


@probe("analysis", "unknown component parameters are rejected (not ignored)")
def _reject(es: Elasticsearch) -> Any:
    try:
        es.indices.analyze(text="x", tokenizer="standard", filter=[{"type": "asciifolding", "bogus": 1}])
    except Exception:  # noqa: BLE001 - an error is the expected outcome
        return "rejected"
    raise AssertionError("bogus parameter silently accepted")


@probe("analysis", "custom analyzer + lowercase normalizer (index)")
def _normalizer(es: Elasticsearch) -> Any:
    idx = f"{P}-norm"
    es.indices.create(
        index=idx,
        settings={
            "analysis": {
                "normalizer": {"lc": {"type": "custom", "filter": ["lowercase"]}},
                "analyzer": {"txt": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]}},
            }
        },
        mappings={
            "properties": {
                "k": {"type": "keyword", "normalizer": "lc"},
                "t": {"type": "text", "analyzer": "txt"},
            }
        },
    )
    es.index(index=idx, document={"k": "ACME Corp", "t": "Hello World"}, refresh=True)
    r = es.search(index=idx, query={"term": {"k": "acme corp"}})
    check(r["hits"]["total"]["value"] == 1, "normalized term not found")
    return "ok"


@probe("analysis", "custom normalizer with asciifolding")
def _normalizer_fold(es: Elasticsearch) -> Any:
    idx = f"{P}-norm-fold"
    es.indices.create(
        index=idx,
        settings={
            "analysis": {"normalizer": {"f": {"type": "custom", "filter": ["lowercase", "asciifolding"]}}}
        },
        mappings={"properties": {"k": {"type": "keyword", "normalizer": "f"}}},
    )
    es.index(index=idx, document={"k": "Café"}, refresh=True)
    check(es.search(index=idx, query={"term": {"k": "cafe"}})["hits"]["total"]["value"] == 1, "fold failed")
    return "ok"


# --------------------------------------------------------------------------- mapping types

TYPE_SAMPLES: list[tuple[str, dict[str, Any], Any]] = [
    ("keyword", {"type": "keyword"}, "abc"),
    ("text", {"type": "text"}, "hello world"),
    ("date", {"type": "date"}, "2024-01-01T00:00:00Z"),
    ("date_nanos", {"type": "date_nanos"}, "2024-01-01T00:00:00.123456789Z"),
    ("long / integer", {"type": "long"}, 42),
    ("float / double", {"type": "float"}, 1.5),
    ("half_float", {"type": "half_float"}, 1.5),
    ("scaled_float", {"type": "scaled_float", "scaling_factor": 100}, 1.25),
    ("boolean", {"type": "boolean"}, True),
    ("object", {"properties": {"a": {"type": "keyword"}}}, {"a": "x"}),
    ("nested", {"type": "nested", "properties": {"a": {"type": "keyword"}}}, [{"a": "x"}]),
    ("flattened", {"type": "flattened"}, {"a": {"b": "x"}}),
    ("match_only_text", {"type": "match_only_text"}, "hello world"),
    (
        "dense_vector",
        {"type": "dense_vector", "dims": 3, "index": True, "similarity": "cosine"},
        [0.1, 0.2, 0.3],
    ),
    ("sparse_vector", {"type": "sparse_vector"}, {"a": 0.5}),
    ("ip", {"type": "ip"}, "127.0.0.1"),
    ("geo_point", {"type": "geo_point"}, {"lat": 1.0, "lon": 2.0}),
    ("geo_shape", {"type": "geo_shape"}, {"type": "point", "coordinates": [2.0, 1.0]}),
    ("completion", {"type": "completion"}, "acme"),
    ("binary", {"type": "binary"}, "aGVsbG8="),
    ("integer_range / date_range", {"type": "date_range"}, {"gte": "2024-01-01", "lte": "2024-02-01"}),
    ("alias", {"type": "alias", "path": "other"}, None),
    ("wildcard", {"type": "wildcard"}, "abc"),
    ("constant_keyword", {"type": "constant_keyword", "value": "x"}, "x"),
    ("version", {"type": "version"}, "1.2.3"),
    ("unsigned_long", {"type": "unsigned_long"}, 42),
    ("search_as_you_type", {"type": "search_as_you_type"}, "hello world"),
    ("token_count", {"type": "token_count", "analyzer": "standard"}, "a b c"),
    ("rank_feature", {"type": "rank_feature"}, 1.0),
    ("percolator", {"type": "percolator"}, {"match": {"other": "x"}}),
    ("join", {"type": "join", "relations": {"q": "a"}}, "q"),
    ("semantic_text", {"type": "semantic_text"}, "hello"),
]


def type_probe(i: int, name: str, mapping: dict[str, Any], value: Any) -> None:
    @probe("mapping type", name)
    def _p(es: Elasticsearch) -> Any:
        idx = f"{P}-type-{i}"
        props: dict[str, Any] = {"f": mapping, "other": {"type": "keyword"}}
        try:
            es.indices.create(index=idx, mappings={"properties": props}, settings={"number_of_replicas": 0})
            doc = {"other": "x"} if value is None else {"f": value, "other": "x"}
            es.index(index=idx, document=doc, refresh=True)
            if mapping.get("type") == "binary":  # neither indexed nor doc_values: just fetch it
                q: dict[str, Any] = {"match_all": {}}
            elif value is None:  # alias: query through the alias field
                q = {"term": {"f": "x"}}
            elif mapping.get("type") == "nested":
                q = {"nested": {"path": "f", "query": {"exists": {"field": "f.a"}}}}
            else:
                q = {"exists": {"field": "f"}}
            r = es.search(index=idx, query=q)
            check(r["hits"]["total"]["value"] == 1, "indexed doc not found by an exists query")
        finally:
            es.indices.delete(index=idx, ignore_unavailable=True)
        return "ok"


for _i, (_n, _m, _v) in enumerate(TYPE_SAMPLES):
    type_probe(_i, _n, _m, _v)


# --------------------------------------------------------------------------- queries & search features


def query(name: str, q: dict[str, Any], min_hits: int = 1, **extra: Any) -> None:
    @probe("query / search", name)
    def _p(es: Elasticsearch) -> Any:
        r = search(es, query=q, size=3, **extra)
        check(r["hits"]["total"]["value"] >= min_hits, f"{r['hits']['total']} hits")
        return r["hits"]["total"]["value"]


query(
    "match / multi_match / bool",
    {
        "bool": {
            "must": [{"multi_match": {"query": "battery", "fields": ["text"]}}],
            "filter": [{"term": {"tag": "neg"}}],
        }
    },
)
query("match_phrase", {"match_phrase": {"text": "bad battery"}})
query("query_string / simple_query_string", {"simple_query_string": {"query": "battery | camera"}})
query("range on date", {"range": {"ts": {"gte": "2024-01-10", "lt": "now"}}})
query("wildcard / prefix / fuzzy", {"fuzzy": {"text": "batery"}})
query("nested query", {"nested": {"path": "comments", "query": {"term": {"comments.author": "a1"}}}})
query(
    "function_score (field_value_factor)",
    {"function_score": {"query": {"match_all": {}}, "field_value_factor": {"field": "score"}}},
)
query(
    "script_score (painless)",
    {"script_score": {"query": {"match_all": {}}, "script": {"source": "doc['score'].value"}}},
)
query("highlight", {"match": {"text": "battery"}}, highlight={"fields": {"text": {}}})
query("collapse", {"match_all": {}}, collapse={"field": "tag"})
query(
    "runtime_mappings (painless)",
    {"term": {"r": "x"}},
    min_hits=0,
    runtime_mappings={"r": {"type": "keyword", "script": "emit('x')"}},
)
query(
    "more_like_this",
    {"more_like_this": {"fields": ["text"], "like": "bad battery", "min_term_freq": 1, "min_doc_freq": 1}},
)


@probe("query / search", "knn search (dense_vector)")
def _knn(es: Elasticsearch) -> Any:
    idx = f"{P}-knn"
    es.indices.create(
        index=idx,
        mappings={
            "properties": {"v": {"type": "dense_vector", "dims": 2, "index": True, "similarity": "cosine"}}
        },
    )
    es.bulk(
        operations=[{"index": {"_index": idx}}, {"v": [1, 0]}, {"index": {"_index": idx}}, {"v": [0, 1]}],
        refresh=True,
    )
    r = es.search(index=idx, knn={"field": "v", "query_vector": [1, 0.1], "k": 1, "num_candidates": 5})
    check(len(r["hits"]["hits"]) == 1, "no knn hit")
    return "ok"


@probe("query / search", "completion suggester")
def _suggest(es: Elasticsearch) -> Any:
    idx = f"{P}-suggest"
    es.indices.create(index=idx, mappings={"properties": {"s": {"type": "completion"}}})
    es.index(index=idx, document={"s": "acme phone"}, refresh=True)
    r = es.search(index=idx, suggest={"x": {"prefix": "acm", "completion": {"field": "s"}}})
    check(r["suggest"]["x"][0]["options"], "no suggestion")
    return "ok"


# --------------------------------------------------------------------------- APIs


@probe("api", "bulk + refresh + count + mget")
def _bulk(es: Elasticsearch) -> Any:
    check(es.count(index=DOCS)["count"] == 40, "count")
    check(len(es.mget(index=DOCS, ids=["1", "2"])["docs"]) == 2, "mget")
    return "ok"


@probe("api", "msearch")
def _msearch(es: Elasticsearch) -> Any:
    r = es.msearch(searches=[{"index": DOCS}, {"query": {"match_all": {}}}])
    check(r["responses"][0]["hits"]["total"]["value"] == 40, "msearch")
    return "ok"


@probe("api", "composable index template + component template")
def _templates(es: Elasticsearch) -> Any:
    es.cluster.put_component_template(
        name=f"{P}-ct", template={"mappings": {"properties": {"x": {"type": "keyword"}}}}
    )
    es.indices.put_index_template(
        name=f"{P}-it",
        index_patterns=[f"{P}-tpl-*"],
        composed_of=[f"{P}-ct"],
        priority=500,
        template={"settings": {"number_of_replicas": 0}},
    )
    es.indices.create(index=f"{P}-tpl-1")
    m = es.indices.get_mapping(index=f"{P}-tpl-1")
    check(m[f"{P}-tpl-1"]["mappings"]["properties"]["x"]["type"] == "keyword", "template not applied")
    return "ok"


@probe("api", "aliases (write alias) + rollover")
def _rollover(es: Elasticsearch) -> Any:
    es.indices.create(index=f"{P}-roll-000001", aliases={f"{P}-roll": {"is_write_index": True}})
    es.index(index=f"{P}-roll", document={"a": 1}, refresh=True)
    r = es.indices.rollover(alias=f"{P}-roll", conditions={"max_docs": 1})
    check(r["rolled_over"] and r["new_index"] == f"{P}-roll-000002", f"rollover: {r}")
    es.indices.update_aliases(actions=[{"add": {"index": DOCS, "alias": f"{P}-read"}}])
    check(es.count(index=f"{P}-read")["count"] == 40, "read alias")
    return "ok"


@probe("api", "point-in-time + search_after")
def _pit(es: Elasticsearch) -> Any:
    pit = es.open_point_in_time(index=DOCS, keep_alive="1m")["id"]
    seen, after = 0, None
    try:
        while True:
            kw: dict[str, Any] = {"search_after": after} if after else {}
            r = es.search(pit={"id": pit, "keep_alive": "1m"}, size=15, sort=[{"n": "asc"}], **kw)
            hits = r["hits"]["hits"]
            if not hits:
                break
            seen += len(hits)
            after = hits[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit)
    check(seen == 40, f"paged {seen}")
    return "ok"


@probe("api", "scroll")
def _scroll(es: Elasticsearch) -> Any:
    r = es.search(index=DOCS, scroll="1m", size=30)
    r2 = es.scroll(scroll_id=r["_scroll_id"], scroll="1m")
    check(len(r["hits"]["hits"]) + len(r2["hits"]["hits"]) == 40, "scroll")
    es.clear_scroll(scroll_id=r2["_scroll_id"])
    return "ok"


@probe("api", "field_caps")
def _field_caps(es: Elasticsearch) -> Any:
    r = es.field_caps(index=DOCS, fields="*")
    check(r["fields"]["tag"]["keyword"]["aggregatable"], "field_caps")
    return "ok"


@probe("api", "update (partial doc) + upsert")
def _update(es: Elasticsearch) -> Any:
    es.update(index=DOCS, id="1", doc={"tag": "pos"})
    es.update(index=DOCS, id="new", doc={"tag": "x"}, doc_as_upsert=True, refresh=True)
    es.delete(index=DOCS, id="new", refresh=True)
    return "ok"


@probe("api", "update with script (painless)")
def _update_script(es: Elasticsearch) -> Any:
    es.update(index=DOCS, id="2", script={"source": "ctx._source.n += 1"})
    return "ok"


@probe("api", "delete_by_query")
def _dbq(es: Elasticsearch) -> Any:
    es.index(index=f"{P}-dbq", document={"a": 1}, refresh=True)
    r = es.delete_by_query(index=f"{P}-dbq", query={"match_all": {}}, refresh=True)
    check(r["deleted"] == 1, "dbq")
    return "ok"


@probe("api", "update_by_query")
def _ubq(es: Elasticsearch) -> Any:
    es.index(index=f"{P}-ubq", document={"a": 1}, refresh=True)
    r = es.update_by_query(index=f"{P}-ubq", query={"match_all": {}}, refresh=True)
    check(r["updated"] == 1, "ubq")
    return "ok"


@probe("api", "reindex")
def _reindex(es: Elasticsearch) -> Any:
    r = es.reindex(source={"index": DOCS}, dest={"index": f"{P}-reindexed"}, refresh=True)
    check(r["created"] == 40, "reindex")
    return "ok"


@probe("api", "painless script_fields")
def _script_fields(es: Elasticsearch) -> Any:
    return search(es, size=1, script_fields={"x": {"script": "doc['n'].value * 2"}})["hits"]["hits"][0][
        "fields"
    ]


@probe("api", "search template (mustache)")
def _search_template(es: Elasticsearch) -> Any:
    return es.search_template(index=DOCS, source='{"query":{"term":{"tag":"{{t}}"}}}', params={"t": "pos"})[
        "hits"
    ]["total"]


@probe("api", "ILM policy")
def _ilm(es: Elasticsearch) -> Any:
    es.ilm.put_lifecycle(
        name=f"{P}-policy", policy={"phases": {"hot": {"actions": {"rollover": {"max_age": "1d"}}}}}
    )
    return "ok"


@probe("api", "data streams: template + create-on-write + search")
def _data_streams(es: Elasticsearch) -> Any:
    # NB: without the data-streams module a data stream cannot be deleted, so each run leaves one behind
    name = f"{P}-ds-{RUN_ID}"
    es.indices.put_index_template(name=f"{P}-ds", index_patterns=[f"{P}-ds-*"], data_stream={}, priority=500)
    es.index(
        index=name, document={"@timestamp": "2024-01-01T00:00:00Z", "a": 1}, op_type="create", refresh=True
    )
    check(es.count(index=name)["count"] == 1, "ds count")
    return "ok"


@probe("api", "data streams: _data_stream get/delete APIs + rollover")
def _data_stream_apis(es: Elasticsearch) -> Any:
    name = f"{P}-ds2-{RUN_ID}"
    es.indices.put_index_template(
        name=f"{P}-ds2", index_patterns=[f"{P}-ds2-*"], data_stream={}, priority=501
    )
    es.index(index=name, document={"@timestamp": "2024-01-01T00:00:00Z"}, op_type="create")
    es.indices.rollover(alias=name)
    check(es.indices.get_data_stream(name=name)["data_streams"], "get_data_stream")
    es.indices.delete_data_stream(name=name)
    return "ok"


@probe("api", "ingest pipeline (set processor)")
def _ingest(es: Elasticsearch) -> Any:
    es.ingest.put_pipeline(id=f"{P}-pipe", processors=[{"set": {"field": "p", "value": "y"}}])
    es.index(index=f"{P}-ingest", document={"a": 1}, pipeline=f"{P}-pipe", refresh=True, id="1")
    check(es.get(index=f"{P}-ingest", id="1")["_source"].get("p") == "y", "pipeline not applied")
    return "ok"


@probe("api", "_analyze / settings update / _cat / _explain / tasks")
def _misc(es: Elasticsearch) -> Any:
    es.indices.put_settings(index=DOCS, settings={"refresh_interval": "2s"})
    es.cat.indices(index=DOCS, format="json")
    es.explain(index=DOCS, id="3", query={"match": {"text": "acme"}})
    es.tasks.list()
    return "ok"


@probe("api", "snapshot to fs repository (path.repo)")
def _snapshot(es: Elasticsearch) -> Any:
    repo_path = es.nodes.info(metric="settings")["nodes"]
    path = next(iter(repo_path.values()))["settings"]["path"]["repo"]
    loc = path[0] if isinstance(path, list) else path
    es.snapshot.create_repository(name=f"{P}-repo", repository={"type": "fs", "settings": {"location": loc}})
    es.snapshot.create(repository=f"{P}-repo", snapshot="s1", indices=DOCS, wait_for_completion=True)
    es.snapshot.delete(repository=f"{P}-repo", snapshot="s1")
    es.snapshot.delete_repository(name=f"{P}-repo")
    return "ok"


@probe("api", "license / _xpack info")
def _license(es: Elasticsearch) -> Any:
    return es.license.get()["license"]["type"]


# --------------------------------------------------------------------------- runner


def short_error(exc: BaseException) -> str:
    info = getattr(exc, "info", None) or getattr(exc, "body", None)
    if isinstance(info, dict) and "error" in info:
        err = info["error"]
        if not isinstance(err, dict):
            return str(err)[:160]
        best = ""
        for cur in [*(err.get("root_cause") or []), err]:
            while isinstance(cur, dict):  # deepest non-empty reason wins
                if cur.get("reason"):
                    best = f"{cur.get('type')}: {cur.get('reason')}"
                cur = cur.get("caused_by")
            if best:
                break
        return best[:160] or str(err)[:160]
    return f"{type(exc).__name__}: {exc}"[:160]


def run(es: Elasticsearch) -> list[tuple[str, str, bool, str]]:
    rows: list[tuple[str, str, bool, str]] = []
    setup_fixture(es)
    try:
        for category, name, fn in PROBES:
            try:
                fn(es)
                rows.append((category, name, True, ""))
            except Exception as exc:  # noqa: BLE001 - the point is to record any failure
                rows.append((category, name, False, short_error(exc)))
    finally:
        teardown(es)
    return rows


def print_rows(rows: list[tuple[str, str, bool, str]], markdown: bool) -> None:
    if markdown:
        print("| area | feature | result | error when unsupported |")
        print("| --- | --- | --- | --- |")
        for cat, name, ok, err in rows:
            err = err.replace("|", "/")
            err = err if len(err) <= 90 else err[:87] + "..."
            print(f"| {cat} | {name} | {'OK' if ok else '**unsupported**'} | {err} |")
    else:
        w = max(len(n) for _, n, _, _ in rows)
        for cat, name, ok, err in rows:
            print(f"{cat:15} {name:{w}}  {'OK' if ok else 'unsupported  ' + err}")
    ok_n = sum(1 for r in rows if r[2])
    print(f"\n{ok_n} OK, {len(rows) - ok_n} unsupported", file=sys.stderr)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="probe this node instead of starting a throwaway one")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args()
    if args.url:
        es = Elasticsearch(args.url, request_timeout=60)
        print(f"node: {es.info()['version']['number']} at {args.url}", file=sys.stderr)
        print_rows(run(es), args.markdown)
        return 0
    from brandpulse.dev import es_node

    with tempfile.TemporaryDirectory(prefix="bp-probe-") as tmp:
        node = es_node.start(port=_free_port(), state_dir=Path(tmp) / "es")
        try:
            es = Elasticsearch(node.url, request_timeout=60)
            print(f"node: {node.version} at {node.url}", file=sys.stderr)
            print_rows(run(es), args.markdown)
        finally:
            es_node.stop(Path(tmp) / "es")
    return 0


if __name__ == "__main__":
    sys.exit(main())
