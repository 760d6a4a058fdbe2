"""Blend the transformer with the character n-gram model, per detected language.

``log p = (1 - w) * log p_transformer + w * log p_char``, renormalised. The
weight ``w`` depends on the detected language: a language with enough texts in
the blend slice gets its own weight, every other language shares ``"other"``.
The weights are chosen on rows that neither model trained on (see
:mod:`nlp.training.lineage`), never on validation files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from nlp.language import detect_language

if TYPE_CHECKING:
    from nlp.char_ngrams import CharNgramModel

OTHER = "other"
GRID = tuple(round(float(w), 2) for w in np.linspace(0.0, 0.8, 17))


def language_groups(texts: Sequence[str]) -> list[str]:
    """The detected language of each text (``blend`` maps unweighted ones to ``"other"``)."""
    return [detect_language(t).lang for t in texts]


def weight_of(lang: str, weights: dict[str, float]) -> float:
    """The char weight for a detected language: its own, else the ``"other"`` one."""
    return weights.get(lang, weights.get(OTHER, 0.0))


def blend(
    log_transformer: np.ndarray, log_char: np.ndarray, groups: Sequence[str], weights: dict[str, float]
) -> np.ndarray:
    """Blended class probabilities, (n, classes); ``groups`` are detected languages."""
    w = np.array([weight_of(g, weights) for g in groups], dtype=np.float64).reshape(-1, 1)
    logits = (1.0 - w) * log_transformer + w * log_char
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def blend_with_char(
    probs: np.ndarray,
    texts: Sequence[str],
    char_model: CharNgramModel | None,
    weights: dict[str, float] | None,
    langs: Sequence[str] | None = None,
) -> np.ndarray:
    """Transformer probabilities blended with the char n-gram model (unchanged without one).

    ``langs``: the texts' languages as the caller detected them (with platform
    hints, say); detected here from the text alone when not given.
    """
    if char_model is None or not weights or not len(texts):
        return probs
    groups = list(langs) if langs is not None else language_groups(texts)
    mixed = blend(np.log(np.clip(probs, 1e-9, 1.0)), char_model.log_proba(texts), groups, weights)
    return mixed.astype(np.float32)


class GroupChoice(TypedDict):
    """What :func:`choose_weights` decided for one language group."""

    weight: float
    before: float | None  # blend-slice score (%) without the char model; None: too few texts
    after: float | None  # blend-slice score (%) with the chosen weight
    n: int
    files: dict[str, int]  # texts per file that counted in the score


def group_score(pred, gold, files, share: dict[str, float], min_texts: int) -> float | None:
    """Mean over files of macro-recall, each file weighted by the share of its
    slice texts that fall in this group; files under ``min_texts`` texts skipped."""
    total, weight = 0.0, 0.0
    for f in np.unique(files):
        mine = files == f
        if mine.sum() < min_texts:
            continue
        g, p = gold[mine], pred[mine]
        total += share[f] * float(np.mean([np.mean(p[g == c] == c) for c in np.unique(g)]))
        weight += share[f]
    return total / weight if weight else None


def group_names(langs: Sequence[str], min_group_texts: int) -> list[str]:
    """Languages with at least ``min_group_texts`` texts get their own group, plus ``"other"``."""
    values, counts = np.unique(np.asarray(langs), return_counts=True)
    own = sorted(str(v) for v, c in zip(values, counts, strict=True) if c >= min_group_texts and v != OTHER)
    return [*own, OTHER]


def choose_weights(
    log_transformer: np.ndarray,
    log_char: np.ndarray,
    gold: np.ndarray,
    sources: Sequence[str],
    langs: Sequence[str],
    min_texts: int = 50,
    min_gain: float = 1.0,
    min_group_texts: int = 150,
) -> dict[str, GroupChoice]:
    """Per language group, the grid weight with the best blend-slice score.

    A group's score is the mean per-file macro-recall over its own texts,
    counting files with at least ``min_texts`` texts in the group, each weighted
    by the share of that file's texts detected in the group: a Hindi-English
    file whose few romanised tweets are detected as English counts little for
    English. The char model must earn its place: a group keeps weight 0 unless
    the best weight gains at least ``min_gain`` points; ties keep the smaller
    weight. Returns ``{group: {"weight", "before", "after", "n", "files"}}``.
    """
    names = group_names(langs, min_group_texts)
    named = set(names)
    groups_arr = np.array([lang if lang in named else OTHER for lang in langs])
    sources_arr = np.asarray(sources)
    per_file = dict(zip(*np.unique(sources_arr, return_counts=True), strict=True))
    chosen: dict[str, GroupChoice] = {}
    for group in names:
        mine = groups_arr == group
        lt, lc, g, s = log_transformer[mine], log_char[mine], gold[mine], sources_arr[mine]
        in_group = dict(zip(*np.unique(s, return_counts=True), strict=True))
        share = {f: in_group[f] / per_file[f] for f in in_group}
        counted = {str(f): int(n) for f, n in in_group.items() if n >= min_texts}
        before = group_score(lt.argmax(1), g, s, share, min_texts)
        if before is None:
            chosen[group] = {"weight": 0.0, "before": None, "after": None, "n": int(mine.sum()), "files": {}}
            continue
        best_w, best = 0.0, before
        for w in GRID:
            score = group_score(((1 - w) * lt + w * lc).argmax(1), g, s, share, min_texts)
            if score is not None and score > best + 1e-9:
                best_w, best = w, score
        if 100 * (best - before) < min_gain:
            best_w, best = 0.0, before
        chosen[group] = {
            "weight": best_w,
            "before": round(100 * before, 2),
            "after": round(100 * best, 2),
            "n": int(mine.sum()),
            "files": counted,
        }
    return chosen
