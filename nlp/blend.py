"""Blend the transformer with the character n-gram model, per language group.

``log p = (1 - w) * log p_transformer + w * log p_char``, renormalised. The
weight ``w`` depends on whether a text is detected as English (where the
transformer has 45k training tweets) or not (where it has a few thousand per
language); both weights are chosen on the slice held out from the training
files, never on validation files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from nlp.language import detect_language
from nlp.training.metrics import mean_file_macro_recall

if TYPE_CHECKING:
    from nlp.char_ngrams import CharNgramModel

GROUPS = ("en", "si", "other")
GRID = tuple(round(float(w), 2) for w in np.linspace(0.0, 0.6, 13))


def language_groups(texts: Sequence[str]) -> list[str]:
    """``"en"``, ``"si"`` (Sinhala script) or ``"other"`` per text, by detected language."""
    return [g if (g := detect_language(t).lang) in GROUPS else "other" for t in texts]


def blend(
    log_transformer: np.ndarray, log_char: np.ndarray, groups: Sequence[str], weights: dict[str, float]
) -> np.ndarray:
    """Blended class probabilities, (n, classes)."""
    w = np.array([weights.get(g, 0.0) for g in groups], dtype=np.float64).reshape(-1, 1)
    logits = (1.0 - w) * log_transformer + w * log_char
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def blend_with_char(
    probs: np.ndarray,
    texts: Sequence[str],
    char_model: CharNgramModel | None,
    weights: dict[str, float] | None,
) -> np.ndarray:
    """Transformer probabilities blended with the char n-gram model (unchanged without one)."""
    if char_model is None or not weights or not len(texts):
        return probs
    mixed = blend(
        np.log(np.clip(probs, 1e-9, 1.0)), char_model.log_proba(texts), language_groups(texts), weights
    )
    return mixed.astype(np.float32)


class GroupChoice(TypedDict):
    """What :func:`choose_weights` decided for one language group."""

    weight: float
    before: float | None  # held-out score (%) without the char model; None: too few texts
    after: float | None  # held-out score (%) with the chosen weight
    n: int


def choose_weights(
    log_transformer: np.ndarray,
    log_char: np.ndarray,
    gold: np.ndarray,
    sources: Sequence[str],
    groups: Sequence[str],
    min_texts: int = 50,
    min_gain: float = 1.0,
) -> dict[str, GroupChoice]:
    """Per language group, the grid weight with the best held-out score.

    A group's score is the mean per-file macro-recall over its own held-out
    texts, counting files with at least ``min_texts`` texts in the group (a
    handful of, say, Hindi tweets detected as English would only add noise).
    The char model must earn its place: a group keeps weight 0 unless the best
    weight gains at least ``min_gain`` points; ties keep the smaller weight.
    Returns ``{group: {"weight", "before", "after", "n"}}``.
    """
    sources_arr, groups_arr = np.asarray(sources), np.asarray(groups)
    chosen: dict[str, GroupChoice] = {}
    for group in GROUPS:
        mine = groups_arr == group
        lt, lc, g, s = log_transformer[mine], log_char[mine], gold[mine], sources_arr[mine]
        before = mean_file_macro_recall(lt.argmax(1), g, s, min_texts)
        if before is None:
            chosen[group] = {"weight": 0.0, "before": None, "after": None, "n": int(mine.sum())}
            continue
        best_w, best = 0.0, before
        for w in GRID:
            score = mean_file_macro_recall(((1 - w) * lt + w * lc).argmax(1), g, s, min_texts)
            if score is not None and score > best + 1e-9:
                best_w, best = w, score
        if 100 * (best - before) < min_gain:
            best_w, best = 0.0, before
        chosen[group] = {
            "weight": best_w,
            "before": round(100 * before, 2),
            "after": round(100 * best, 2),
            "n": int(mine.sum()),
        }
    return chosen
