"""Second training stage: the character n-gram model and its blend weights."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp import e5_sentiment
from nlp.blend import choose_weights, language_groups
from nlp.char_ngrams import fit_char_ngrams
from nlp.training.labelled import Example


def file_balanced_weights(sources: Sequence[str]) -> np.ndarray:
    """Sample weights that give every training file the same total weight (mean 1)."""
    from sklearn.utils.class_weight import compute_sample_weight

    return compute_sample_weight("balanced", list(sources))


def blend_slice(examples: Sequence[Example], seen: set[str], per_file: int, seed: int = 13) -> list[Example]:
    """Up to ``per_file`` rows of each file whose text the transformer never trained
    on (``seen``: every stage of its warm-start chain), a seeded random sample."""
    by_source: dict[str, list[Example]] = {}
    for ex in examples:
        if ex.text not in seen:
            by_source.setdefault(ex.source, []).append(ex)
    picked: list[Example] = []
    for source, rows in by_source.items():
        rng = random.Random(f"{seed}|blend|{Path(source).parent.name}/{Path(source).name}")
        picked += rows if len(rows) <= per_file else rng.sample(rows, per_file)
    return picked


def char_rows(examples: Sequence[Example], blend_rows: Sequence[Example]) -> list[Example]:
    """What the char model learns from: every row of a three-class file (one using all
    the labels) whose text is not in the blend slice."""
    from nlp.training.labelled import LABELS

    used: dict[str, set[str]] = {}
    for ex in examples:
        used.setdefault(ex.source, set()).add(ex.label)
    held = {ex.text for ex in blend_rows}
    return [ex for ex in examples if ex.text not in held and len(used[ex.source]) == len(LABELS)]


def add_char_ngrams(
    model_dir: Path,
    blend_rows: Sequence[Example],
    char_examples: Sequence[Example],
    all_examples: Sequence[Example],
) -> dict:
    """Train the char n-gram model on ``char_examples`` (which must not contain a
    ``blend_rows`` text), choose blend weights on ``blend_rows``, write both into
    ``model_dir`` (whose transformer part is already saved). Returns what was chosen.

    ``all_examples`` tell which labels each file uses: blend rows of a file
    without some class (two-class data) are predicted among its labels only.
    """
    from nlp.sentiment import E5Sentiment
    from nlp.training.transformer import source_label_masks

    started = time.monotonic()
    held = {ex.text for ex in blend_rows}
    if any(ex.text in held for ex in char_examples):
        raise ValueError("a blend-slice text is among the char model's training rows")
    spec = e5_sentiment.ModelSpec.read(model_dir)
    label_id = {label: i for i, label in enumerate(spec.labels)}
    char = fit_char_ngrams(
        [ex.text for ex in char_examples],
        np.array([label_id[ex.label] for ex in char_examples]),
        spec.labels,
        file_balanced_weights([ex.source for ex in char_examples]),
    )
    texts = [ex.text for ex in blend_rows]
    masks = source_label_masks(all_examples, spec.labels)
    present = {ex.source: mask for ex, mask in zip(all_examples, masks, strict=True)}
    allowed = np.array([present[ex.source] for ex in blend_rows], dtype=bool).reshape(-1, len(spec.labels))
    transformer = E5Sentiment(model_dir).transformer_probabilities(texts)
    chosen = choose_weights(
        np.where(allowed, np.log(np.clip(transformer, 1e-9, 1.0)), -1e9),
        np.where(allowed, char.log_proba(texts), -1e9),
        np.array([label_id[ex.label] for ex in blend_rows]),
        [f"{Path(ex.source).parent.name}/{Path(ex.source).name}" for ex in blend_rows],
        language_groups(texts),
        min_texts=20,
    )
    char.save(model_dir)
    weights = {group: c["weight"] for group, c in chosen.items()}
    dataclasses.replace(spec, blend=weights).write(model_dir)
    return {
        "groups": chosen,
        "weights": weights,
        "n_char_train": len(char_examples),
        "n_blend": len(blend_rows),
        "seconds": round(time.monotonic() - started, 1),
    }
