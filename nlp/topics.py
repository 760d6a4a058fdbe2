"""Per-brand topics with stable ids: embeddings + density clustering + c-TF-IDF labels.

An online variant of the BERTopic recipe built from well-kept parts
(multilingual-e5 embeddings, scikit-learn's HDBSCAN, class-based TF-IDF):

1. a new mention joins the existing topic whose centroid is nearest, when the
   cosine similarity reaches ``join_similarity``;
2. the rest, together with recent unassigned mentions kept in the state
   (``pending``), are clustered with HDBSCAN; a dense cluster becomes a new topic
   (id ``<brand>-NNN``, first-seen time = its earliest mention), or joins an
   existing topic it turns out to be close to; new clusters closer than
   ``merge_similarity`` to each other (the same story in two languages) merge;
3. whatever is left is ``other`` (outliers), and stays pending for later runs.

Labels are the topic's most distinctive terms by c-TF-IDF over all topics of
the brand (outliers as a background class). :class:`TopicState` is plain JSON
(``to_dict``/``from_dict``) so the caller can keep it in Elasticsearch.
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

OTHER_ID = "other"
_WORD = re.compile(r"[^\W\d_]{3,}")
_ALWAYS_STOP = frozenset({"user", "http", "https", "amp"})


@dataclass(frozen=True)
class TopicDoc:
    """A mention as topics see it."""

    id: str
    text: str
    created_at: datetime
    lang: str = "und"


@dataclass(frozen=True)
class TopicSettings:
    """Thresholds (cosine similarities of e5 embeddings) and cluster sizes."""

    join_similarity: float = 0.45
    merge_similarity: float = 0.6
    min_member_similarity: float = 0.3
    min_cluster_size: int = 10
    min_language_docs: int = 30
    pending_limit: int = 3000
    pending_hours: float = 72.0
    keywords: int = 5
    label_terms: int = 3
    max_terms: int = 300


@dataclass
class Topic:
    """One topic of one brand; ``terms`` are (capped) word counts for c-TF-IDF."""

    id: str
    centroid: np.ndarray
    size: int
    first_seen: datetime
    last_seen: datetime
    terms: Counter = field(default_factory=Counter)
    keywords: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return " · ".join(self.keywords[:3]) or self.id


@dataclass
class Pending:
    """An outlier kept for later clustering."""

    id: str
    created_at: datetime
    embedding: np.ndarray
    words: list[str]


@dataclass
class TopicState:
    """Everything a brand's topics need between runs.

    ``means`` holds the running mean embedding and count per language: vectors
    are compared after subtracting their language's mean. e5's raw cosines are
    all high (every mention of a brand shares its name and style) and grouped
    by language; centring per language leaves what a mention is about.
    """

    brand: str
    topics: list[Topic] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    next_id: int = 1
    means: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "brand": self.brand,
            "next_id": self.next_id,
            "means": {lang: [_pack(m), n] for lang, (m, n) in self.means.items()},
            "topics": [
                {
                    "id": t.id,
                    "centroid": _pack(t.centroid),
                    "size": t.size,
                    "first_seen": t.first_seen.isoformat(),
                    "last_seen": t.last_seen.isoformat(),
                    "terms": dict(t.terms),
                    "keywords": t.keywords,
                }
                for t in self.topics
            ],
            "pending": [
                {
                    "id": p.id,
                    "created_at": p.created_at.isoformat(),
                    "embedding": _pack(p.embedding),
                    "words": p.words,
                }
                for p in self.pending
            ],
        }

    @classmethod
    def from_dict(cls, raw: dict) -> TopicState:
        return cls(
            brand=raw["brand"],
            next_id=int(raw["next_id"]),
            means={lang: (_unpack(m), int(n)) for lang, (m, n) in raw.get("means", {}).items()},
            topics=[
                Topic(
                    id=t["id"],
                    centroid=_unpack(t["centroid"]),
                    size=int(t["size"]),
                    first_seen=datetime.fromisoformat(t["first_seen"]),
                    last_seen=datetime.fromisoformat(t["last_seen"]),
                    terms=Counter(t["terms"]),
                    keywords=list(t["keywords"]),
                )
                for t in raw["topics"]
            ],
            pending=[
                Pending(
                    id=p["id"],
                    created_at=datetime.fromisoformat(p["created_at"]),
                    embedding=_unpack(p["embedding"]),
                    words=list(p["words"]),
                )
                for p in raw["pending"]
            ],
        )


def _pack(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype=np.float16).tobytes()).decode()


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float16).astype(np.float32)


ALL_LANGUAGES = "*"


def _centre_by_language(
    state: TopicState, docs: Sequence[TopicDoc], vectors: np.ndarray, min_docs: int
) -> np.ndarray:
    """Update the running means, then subtract each doc's language mean (or the overall one)."""
    if not len(vectors):
        return vectors
    keys = [d.lang for d in docs]
    for key in {*keys, ALL_LANGUAGES}:
        rows = vectors if key == ALL_LANGUAGES else vectors[[k == key for k in keys]]
        mean, n = state.means.get(key, (rows.mean(0), 0))
        state.means[key] = ((mean * n + rows.sum(0)) / (n + len(rows)), n + len(rows))
    means = np.stack(
        [state.means[k][0] if state.means[k][1] >= min_docs else state.means[ALL_LANGUAGES][0] for k in keys]
    )
    shifted = vectors - means
    return shifted / np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-12)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def words(text: str, stopwords: Iterable[str] = ()) -> list[str]:
    """Lower-cased words of 3+ letters, without stop words (brand names, @user, http)."""
    stop = _ALWAYS_STOP | {s.lower() for s in stopwords}
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in stop]


def c_tf_idf(classes: dict[str, Counter], top: int) -> dict[str, list[str]]:
    """Most distinctive terms per class: tf(t, c) * log(1 + A / f(t)) (BERTopic's c-TF-IDF)."""
    totals = {c: sum(cnt.values()) for c, cnt in classes.items()}
    frequency: Counter = Counter()
    for cnt in classes.values():
        frequency.update(cnt)
    average = sum(totals.values()) / max(1, len(classes))
    out = {}
    for c, cnt in classes.items():
        weight = {t: (n / totals[c]) * math.log(1 + average / frequency[t]) for t, n in cnt.items()}
        out[c] = [t for t, _ in sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    return out


def _clusters(vectors: np.ndarray, min_size: int) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    if len(vectors) < min_size:
        return np.full(len(vectors), -1)
    return (
        HDBSCAN(min_cluster_size=min_size, metric="euclidean", allow_single_cluster=True, copy=True)
        .fit(vectors)
        .labels_
    )


def _merge_groups(centroids: list[np.ndarray], threshold: float) -> list[int]:
    """Union of clusters whose centroids are closer than ``threshold``; returns a group per cluster."""
    parent = list(range(len(centroids)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(centroids)):
        for j in range(i + 1, len(centroids)):
            if float(centroids[i] @ centroids[j]) >= threshold:
                parent[find(j)] = find(i)
    return [find(i) for i in range(len(centroids))]


def _assignment(topic: Topic | None, score: float) -> dict:
    if topic is None:
        return {"id": OTHER_ID, "label": OTHER_ID, "keywords": [], "score": round(score, 4)}
    return {"id": topic.id, "label": topic.label, "keywords": list(topic.keywords), "score": round(score, 4)}


def update_topics(
    state: TopicState,
    docs: Sequence[TopicDoc],
    embeddings: np.ndarray,
    settings: TopicSettings | None = None,
    stopwords: Iterable[str] = (),
) -> dict[str, dict]:
    """Assign ``docs`` to topics, creating topics for new dense clusters; updates ``state``.

    ``embeddings`` are unit vectors aligned with ``docs``. Returns
    ``{mention id: topic}`` (``id``, ``label``, ``keywords``, ``score``) for every
    new doc, plus earlier outliers that now joined a new topic (re-label them).
    """
    settings = settings or TopicSettings()
    if len(docs) != len(embeddings):
        raise ValueError("embeddings must align with docs")
    stop = list(stopwords)
    embeddings = _centre_by_language(
        state, docs, np.asarray(embeddings, dtype=np.float32), settings.min_language_docs
    )
    doc_words = [words(d.text, stop) for d in docs]
    result: dict[str, tuple[str, float]] = {}  # mention id -> (topic id, similarity)
    touched: set[str] = set()
    by_id = {t.id: t for t in state.topics}

    def join(topic: Topic, vectors: np.ndarray, times: list[datetime], terms: list[list[str]]) -> None:
        topic.centroid = _unit(topic.centroid * topic.size + vectors.sum(0))
        topic.size += len(vectors)
        topic.first_seen = min([topic.first_seen, *times])
        topic.last_seen = max([topic.last_seen, *times])
        for ws in terms:
            topic.terms.update(ws)
        touched.add(topic.id)

    # 1. join existing topics
    unassigned = list(range(len(docs)))
    if state.topics and len(docs):
        centroids = np.stack([t.centroid for t in state.topics])
        sims = embeddings @ centroids.T
        best = sims.argmax(1)
        unassigned = []
        for i, d in enumerate(docs):
            if sims[i, best[i]] >= settings.join_similarity:
                topic = state.topics[int(best[i])]
                join(topic, embeddings[i : i + 1], [d.created_at], [doc_words[i]])
                result[d.id] = (topic.id, float(sims[i, best[i]]))
            else:
                unassigned.append(i)

    # 2. cluster the rest together with recent outliers
    newest = max((d.created_at for d in docs), default=None)
    pool = [Pending(docs[i].id, docs[i].created_at, embeddings[i], doc_words[i]) for i in unassigned]
    if newest is not None:
        horizon = newest - timedelta(hours=settings.pending_hours)
        state.pending = [p for p in state.pending if p.created_at >= horizon][-settings.pending_limit :]
    pool = state.pending + pool
    labels: np.ndarray | list[int] = (
        _clusters(np.stack([p.embedding for p in pool]), settings.min_cluster_size) if pool else []
    )
    clusters = sorted({int(c) for c in labels if c >= 0})
    members = {c: [k for k, lab in enumerate(labels) if lab == c] for c in clusters}
    cluster_centroids = [_unit(np.stack([pool[k].embedding for k in members[c]]).mean(0)) for c in clusters]
    grouped: dict[int, list[int]] = {}
    for c, group in zip(clusters, _merge_groups(cluster_centroids, settings.merge_similarity), strict=True):
        grouped.setdefault(group, []).extend(members[c])
    placed: set[int] = set()
    for members_of_group in sorted(grouped.values(), key=lambda ks: min(pool[k].created_at for k in ks)):
        centre = _unit(np.stack([pool[k].embedding for k in members_of_group]).mean(0))
        # HDBSCAN may attach stragglers far from the cluster's centre: they stay outliers
        floor = settings.min_member_similarity
        ks = [k for k in members_of_group if float(pool[k].embedding @ centre) >= floor]
        if len(ks) < settings.min_cluster_size:
            continue
        vectors = np.stack([pool[k].embedding for k in ks])
        centre = _unit(vectors.mean(0))
        near = max(state.topics, key=lambda t: float(t.centroid @ centre), default=None)
        if near is not None and float(near.centroid @ centre) >= settings.join_similarity:
            topic = near
        else:
            first = min(pool[k].created_at for k in ks)
            topic = Topic(
                id=f"{state.brand}-{state.next_id:03d}",
                centroid=centre,
                size=0,
                first_seen=first,
                last_seen=first,
            )
            state.next_id += 1
            state.topics.append(topic)
            by_id[topic.id] = topic
        join(topic, vectors, [pool[k].created_at for k in ks], [pool[k].words for k in ks])
        for k in ks:
            result[pool[k].id] = (topic.id, float(topic.centroid @ pool[k].embedding))
        placed.update(ks)
    # outliers close enough to a topic (often one just created) join it
    rest = [k for k in range(len(pool)) if k not in placed]
    if rest and state.topics:
        centres = np.stack([t.centroid for t in state.topics])
        sims = np.stack([pool[k].embedding for k in rest]) @ centres.T
        for row, k in enumerate(rest):
            j = int(sims[row].argmax())
            if sims[row, j] >= settings.join_similarity:
                topic = state.topics[j]
                join(topic, pool[k].embedding[None, :], [pool[k].created_at], [pool[k].words])
                result[pool[k].id] = (topic.id, float(sims[row, j]))
                placed.add(k)
    state.pending = [p for k, p in enumerate(pool) if k not in placed]

    # 3. keywords by c-TF-IDF (outliers are the background class)
    for topic in state.topics:
        if len(topic.terms) > settings.max_terms:
            topic.terms = Counter(dict(topic.terms.most_common(settings.max_terms)))
    classes = {t.id: t.terms for t in state.topics if t.terms}
    background: Counter = Counter()
    for p in state.pending:
        background.update(p.words)
    if background:
        classes[OTHER_ID] = background
    keywords = c_tf_idf(classes, settings.keywords)
    for topic in state.topics:
        if topic.id in touched or not topic.keywords:
            topic.keywords = keywords.get(topic.id, [])

    out = {d.id: _assignment(None, 0.0) for d in docs}
    out.update({doc_id: _assignment(by_id[tid], score) for doc_id, (tid, score) in result.items()})
    return out
