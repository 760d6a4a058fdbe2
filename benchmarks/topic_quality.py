"""Topic quality on the demo's sample data, whose topics are known, and what cheaper vectors cost.

The sample data (:mod:`brandpulse.dev.sample_data`) writes every social mention
from a template around one of a brand's five topic phrases, translated into six
languages ("the dark roast", "die dunkle Röstung", ...), or from the incident's
own templates. That gives each mention a true topic that is the same across
languages and across sentiments. The topics step (:func:`nlp.topics.update_topics`,
pages of 2,000 in time order, as the enrich step runs it) is scored against it:
NMI over all mentions ("other" counts as one more cluster), the share of mentions
given a topic, and ARI over those.

Vectors: the sentiment model's shared front (its frozen lower layers, up to the
cut layer) followed by the first ``k`` of the base e5's top layers, mean pooled.
``k`` = all of them is what ships (the base e5's last layer); smaller ``k`` saves
``all - k`` layer passes per mention. Thresholds (``join_similarity``,
``merge_similarity``; ``min_member_similarity`` = join - 0.15) are chosen on one brand
and scored on the other, both ways, and the shipped defaults are scored too.

Usage: python benchmarks/topic_quality.py [--keep 0,2,4,6]
Needs no ``../shared``: the sample data is generated.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

JOIN = (0.3, 0.45, 0.6, 0.75)
MERGE = (0.6, 0.75, 0.9)


def brand_docs(brand) -> tuple[list, list[str]]:
    """The brand's social mentions in time order, as topics see them (detected
    language included), and each one's true topic."""
    from brandpulse.dev.sample_data import generate
    from nlp.language import detect_languages
    from nlp.topics import TopicDoc

    rows, _ = generate(reviews=False)
    rows = sorted((r for r in rows if brand.name in r["brands"]), key=lambda r: r["created_at"])
    truth = []
    for row in rows:
        hits = {i for phrases in brand.topics.values() for i, p in enumerate(phrases) if p in row["text"]}
        truth.append(f"topic-{min(hits)}" if hits else "incident")
    langs = detect_languages([r["text"] for r in rows], [r.get("lang_hint") for r in rows])
    docs = [
        TopicDoc(id=str(i), text=r["text"], created_at=datetime.fromisoformat(r["created_at"]), lang=g.lang)
        for i, (r, g) in enumerate(zip(rows, langs, strict=True))
    ]
    return docs, truth


def vectors_by_keep(texts: list[str], keeps: list[int]) -> dict[int, np.ndarray]:
    """Unit vectors of distinct ``texts`` per number of base top layers kept."""
    import torch

    from nlp.embeddings import E5Embedder, shared_embedder
    from nlp.sentiment import get_model

    embedder = shared_embedder(get_model("default"))
    if not isinstance(embedder, E5Embedder):
        raise SystemExit("the default model cannot share its encoder")
    all_top = embedder.top
    out = {}
    for keep in keeps:
        embedder.top = torch.nn.ModuleList(list(all_top)[:keep])
        embedder.forget()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
        vectors[order] = embedder.encode([embedder.model_text(texts[i]) for i in order])
        out[keep] = vectors
    embedder.top = all_top
    return out


def score(docs, truth, vectors, settings) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from brandpulse.core.stopwords import STOPWORDS
    from nlp.topics import OTHER_ID, TopicState, update_topics

    state, found = TopicState(brand="bench"), dict[str, dict]()
    for start in range(0, len(docs), 2000):
        page = docs[start : start + 2000]
        found |= update_topics(state, page, vectors[start : start + 2000], settings, STOPWORDS)
    pred = [found.get(str(i), {}).get("id", OTHER_ID) for i in range(len(docs))]
    covered = [i for i, p in enumerate(pred) if p != OTHER_ID]
    return {
        "nmi": round(100 * normalized_mutual_info_score(truth, pred), 2),
        "covered": round(100 * len(covered) / len(pred), 1),
        "ari_covered": round(
            100 * adjusted_rand_score([truth[i] for i in covered], [pred[i] for i in covered]), 2
        )
        if covered
        else 0.0,
        "topics": len({pred[i] for i in covered}),
    }


def main() -> None:
    from brandpulse.dev.sample_data import BRANDS
    from nlp.topics import TopicSettings

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", default="0,2,4,6", help="base top layers kept after the cut layer")
    args = parser.parse_args()
    keeps = [int(k) for k in args.keep.split(",")]

    data = {b.name: brand_docs(b) for b in BRANDS}
    texts = sorted({d.text for docs, _ in data.values() for d in docs})
    started = time.perf_counter()
    by_keep = vectors_by_keep(texts, keeps)
    print(
        json.dumps({"distinct_texts": len(texts), "encode_seconds": round(time.perf_counter() - started, 1)})
    )
    index = {t: i for i, t in enumerate(texts)}

    def grid_settings(join: float, merge: float) -> TopicSettings:
        return TopicSettings(join_similarity=join, merge_similarity=merge, min_member_similarity=join - 0.15)

    for keep in keeps:
        per_brand = {}
        for name, (docs, truth) in data.items():
            vectors = by_keep[keep][[index[d.text] for d in docs]]
            grid = {
                (j, m): score(docs, truth, vectors, grid_settings(j, m))
                for j, m in itertools.product(JOIN, MERGE)
            }
            per_brand[name] = {"default": score(docs, truth, vectors, TopicSettings()), "grid": grid}
        for tuned_on, scored_on in itertools.permutations(per_brand, 2):
            best = max(per_brand[tuned_on]["grid"], key=lambda k: per_brand[tuned_on]["grid"][k]["nmi"])
            print(
                json.dumps(
                    {
                        "base_top_layers_kept": keep,
                        "scored_on": scored_on,
                        "defaults": per_brand[scored_on]["default"],
                        "tuned_on": tuned_on,
                        "chosen": {"join": best[0], "merge": best[1]},
                        "out_of_sample": per_brand[scored_on]["grid"][best],
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
