"""A model's blend slice with its transformer log-probabilities, and out-of-fold
scoring of char-model variants on it (shared by ``char_per_language.py`` and
``char_regularisation.py``).

Blend weights are chosen per language on one half of the slice and scored on
the other (seeded halvings, both ways), so every variant gets the same tuning
freedom; the summary is the mean per-file macro-recall over the files with
``MIN_SLICE_ROWS`` or more slice rows (the UMSAB files have 2-4).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.shared_data import model_blend_slice

MIN_SLICE_ROWS = 200


def file_name(source: str) -> str:
    """``<folder>/<file>``: how the slice's files are told apart."""
    return f"{Path(source).parent.name}/{Path(source).name}"


def add_slice_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every slice benchmark takes."""
    from nlp.sentiment import DEFAULT_MODEL_DIR

    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--init-from", type=Path, default=None, help="--model's warm start, if moved")
    parser.add_argument("--repeats", type=int, default=3, help="halvings of the slice")
    parser.add_argument("--cache", type=Path, default=None, help="npz of slice log-probs")
    parser.add_argument("--val", action="store_true", help="also score the val files (for the record)")


@dataclass
class BlendSlice:
    """The slice's rows and what scoring them needs."""

    rows: list
    allowed: np.ndarray  # (rows, labels): the labels each row's file uses
    examples: list  # every row of the model's training files
    model: Any  # the E5Sentiment
    texts: list[str]
    gold: np.ndarray
    files: np.ndarray
    langs: list[str]
    log_t: np.ndarray  # transformer log-probabilities, -1e9 outside ``allowed``

    def sizes(self) -> dict[str, int]:
        return {str(f): int(n) for f, n in zip(*np.unique(self.files, return_counts=True), strict=True)}


def load_slice(args: argparse.Namespace) -> BlendSlice:
    """The model's blend slice and one transformer pass over it (read from ``--cache``
    when that file exists, written there otherwise)."""
    from nlp.blend import language_groups
    from nlp.sentiment import E5Sentiment
    from nlp.training.labelled import LABELS

    rows, allowed, examples = model_blend_slice(args.model, args.init_from)
    model = E5Sentiment(args.model)
    texts = [ex.text for ex in rows]
    if args.cache and args.cache.exists():
        log_t = np.load(args.cache)["log_t"]
    else:
        started = time.monotonic()
        log_t = np.log(np.clip(model.transformer_probabilities(texts), 1e-9, 1.0))
        print(f"transformer pass: {len(texts)} rows, {time.monotonic() - started:.0f} s", flush=True)
        if args.cache:
            np.savez(args.cache, log_t=log_t)
    return BlendSlice(
        rows=rows,
        allowed=allowed,
        examples=examples,
        model=model,
        texts=texts,
        gold=np.array([LABELS.index(ex.label) for ex in rows]),
        files=np.array([file_name(ex.source) for ex in rows]),
        langs=language_groups(texts),
        log_t=np.where(allowed, log_t, -1e9),
    )


def macro_recall(pred: np.ndarray, gold: np.ndarray) -> float:
    """Mean recall over the classes present in ``gold``."""
    return float(np.mean([np.mean(pred[gold == c] == c) for c in np.unique(gold)]))


def out_of_fold(data: BlendSlice, log_c: np.ndarray, repeats: int, seed: int = 13) -> dict[str, float]:
    """Per-file macro-recall (%) of the blend with char log-probabilities ``log_c``,
    weights chosen on one half and scored on the other, averaged over the halvings."""
    from nlp.blend import blend, choose_weights

    rng = np.random.default_rng(seed)
    per_file: dict[str, list[float]] = {}
    langs = np.asarray(data.langs)
    log_c = np.where(data.allowed, log_c, -1e9)
    for _ in range(repeats):
        half = np.zeros(len(data.gold), dtype=bool)
        half[rng.permutation(len(data.gold))[: len(data.gold) // 2]] = True
        for fit in (half, ~half):
            chosen = choose_weights(
                data.log_t[fit], log_c[fit], data.gold[fit], list(data.files[fit]), list(langs[fit])
            )
            weights = {g: c["weight"] for g, c in chosen.items()}
            rest = ~fit
            pred = blend(data.log_t[rest], log_c[rest], list(langs[rest]), weights).argmax(1)
            for f in np.unique(data.files[rest]):
                mine = data.files[rest] == f
                per_file.setdefault(str(f), []).append(macro_recall(pred[mine], data.gold[rest][mine]))
    return {f: 100 * float(np.mean(v)) for f, v in per_file.items()}


def summary(data: BlendSlice, per_file: dict[str, float]) -> str:
    """``mean A over N files with 200+ slice rows (B over all M)``."""
    sizes = data.sizes()
    big = [f for f in per_file if sizes[f] >= MIN_SLICE_ROWS]
    return (
        f"{np.mean([per_file[f] for f in big]):.2f} over the {len(big)} files with {MIN_SLICE_ROWS}+ "
        f"slice rows ({np.mean(list(per_file.values())):.2f} over all {len(per_file)})"
    )


def blend_weights(data: BlendSlice, log_c: np.ndarray) -> dict[str, float]:
    """Blend weights chosen on the whole slice (for the val record)."""
    from nlp.blend import choose_weights

    log_c = np.where(data.allowed, log_c, -1e9)
    chosen = choose_weights(data.log_t, log_c, data.gold, list(data.files), data.langs)
    return {g: c["weight"] for g, c in chosen.items()}


def val_files(data: BlendSlice):
    """Each val file as ``(name, texts, detected languages, transformer log-probs, gold
    labels)``: for the record only, never to choose anything."""
    from benchmarks.blend_variants import val_sets
    from nlp.blend import language_groups
    from nlp.training.labelled import read_jsonl

    for path in val_sets():
        val = read_jsonl(path)
        texts = [ex.text for ex in val]
        log_t = np.log(np.clip(data.model.transformer_probabilities(texts), 1e-9, 1.0))
        yield path.parent.name, texts, language_groups(texts), log_t, [ex.label for ex in val]
