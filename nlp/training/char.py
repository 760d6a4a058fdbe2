"""Second training stage: the character n-gram model and its blend weights."""

from __future__ import annotations

import dataclasses
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


def add_char_ngrams(
    model_dir: Path,
    examples: Sequence[Example],
    hold: Sequence[int],
    fit: Sequence[int],
    char_examples: Sequence[Example] | None = None,
) -> dict:
    """Train the char n-gram model on ``fit`` (or on ``char_examples``, which must not
    contain held-out texts), choose blend weights on ``hold``, write both into
    ``model_dir`` (whose transformer part is already saved). Returns what was chosen.

    Held-out rows of a file without some class (two-class data) are predicted
    among that file's labels only.
    """
    from nlp.sentiment import E5Sentiment
    from nlp.training.transformer import source_label_masks

    started = time.monotonic()
    spec = e5_sentiment.ModelSpec.read(model_dir)
    label_id = {label: i for i, label in enumerate(spec.labels)}
    y = np.array([label_id[ex.label] for ex in examples])
    train_rows = list(char_examples) if char_examples is not None else [examples[i] for i in fit]
    char = fit_char_ngrams(
        [ex.text for ex in train_rows],
        np.array([label_id[ex.label] for ex in train_rows]),
        spec.labels,
        file_balanced_weights([ex.source for ex in train_rows]),
    )
    texts = [examples[i].text for i in hold]
    allowed = source_label_masks(examples, spec.labels)[list(hold)]
    transformer = E5Sentiment(model_dir).transformer_probabilities(texts)
    chosen = choose_weights(
        np.where(allowed, np.log(np.clip(transformer, 1e-9, 1.0)), -1e9),
        np.where(allowed, char.log_proba(texts), -1e9),
        y[list(hold)],
        [examples[i].source for i in hold],
        language_groups(texts),
        min_texts=20,
    )
    char.save(model_dir)
    weights = {group: c["weight"] for group, c in chosen.items()}
    dataclasses.replace(spec, blend=weights).write(model_dir)
    return {
        "groups": chosen,
        "weights": weights,
        "n_char_train": len(train_rows),
        "seconds": round(time.monotonic() - started, 1),
    }
