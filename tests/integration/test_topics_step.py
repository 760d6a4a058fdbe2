"""Topics over the real node: assignment, stored state, stable ids across runs
(the embedder is a stand-in; nlp/topics.py is tested on real e5 vectors in
tests/unit/test_topics.py)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from elasticsearch import helpers

from brandpulse.pipeline.topics import assign_topics, load_state

pytestmark = pytest.mark.integration
SUBJECTS = {"roast": 0, "delivery": 1, "refund": 2}


def embed(texts):
    rng = np.random.default_rng(len(texts))
    out = rng.normal(0, 0.01, (len(texts), 384))
    for i, text in enumerate(texts):
        out[i, 10 * next(v for k, v in SUBJECTS.items() if k in text)] += 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def index(es, prefix, subject, n, start, offset):
    docs = [
        {
            "_index": f"{prefix}-mentions-write",
            "_id": f"x:{offset + i}",
            "_source": {
                "id": f"x:{offset + i}",
                "platform": "x",
                "native_id": str(offset + i),
                "brands": ["acme"],
                "created_at": (start + timedelta(minutes=i)).isoformat(),
                "lang": "en",
                "text": f"acme {subject} words {subject}ing number {i}",
                "enrichment": {"status": "done", "version": "v"},
            },
        }
        for i in range(n)
    ]
    helpers.bulk(es, docs, refresh=True)


def topic_of(es, names, doc_id):
    return es.get(index=names.mentions_write, id=doc_id)["_source"]["topics"][0]


def test_topics_are_assigned_stored_and_stable(ready, settings):
    names, t0 = settings.indices, datetime(2026, 11, 2, tzinfo=UTC)
    index(ready, settings.index_prefix, "roast", 40, t0, 0)
    index(ready, settings.index_prefix, "delivery", 40, t0, 100)
    first = assign_topics(ready, names, "acme", embed)
    assert first["assigned"] == 80 and first["new_topics"] == 2
    roast, delivery = topic_of(ready, names, "x:5"), topic_of(ready, names, "x:105")
    assert roast["id"] != delivery["id"] and "roast" in roast["label"]

    assert assign_topics(ready, names, "acme", embed)["assigned"] == 0  # nothing new, nothing redone

    index(ready, settings.index_prefix, "roast", 10, t0 + timedelta(days=1), 200)
    index(ready, settings.index_prefix, "refund", 30, t0 + timedelta(days=1), 300)
    later = assign_topics(ready, names, "acme", embed)
    assert later["assigned"] == 40 and later["new_topics"] == 1
    assert topic_of(ready, names, "x:205")["id"] == roast["id"]  # joins the existing topic
    state = load_state(ready, names, "acme")
    refund = next(t for t in state.topics if t.id == topic_of(ready, names, "x:305")["id"])
    assert refund.first_seen >= t0 + timedelta(days=1)
