"""Evaluate a sentiment model on labelled JSONL files."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp.sentiment import SentimentModel
from nlp.training.labelled import Example, read_jsonl
from nlp.training.metrics import confusion, scores, scores_from_matrix


@dataclass
class Evaluation:
    """Scores, confusion matrix and speed of one model on one set of examples."""

    scores: dict
    matrix: np.ndarray
    seconds: float

    @property
    def posts_per_s(self) -> float:
        return round(self.scores["n"] / self.seconds, 1) if self.seconds > 0 else 0.0

    def summary(self) -> dict:
        """The flat JSON summary: n, macro_recall, macro_f1, accuracy, posts_per_s."""
        return {**self.scores, "posts_per_s": self.posts_per_s}


def evaluate(model: SentimentModel, examples: list[Example]) -> Evaluation:
    """Predict every example once (timed) and score against its label."""
    texts = [ex.text for ex in examples]
    started = time.perf_counter()
    predicted = [r.label for r in model.predict(texts)]
    seconds = time.perf_counter() - started
    gold = [ex.label for ex in examples]
    return Evaluation(scores=scores(gold, predicted), matrix=confusion(gold, predicted), seconds=seconds)


def language_files(root: Path, split: str = "val") -> dict[str, Path]:
    """``{language: root/<language>/<split>.jsonl}`` for every language folder."""
    found = {p.parent.name: p for p in sorted(Path(root).glob(f"*/{split}.jsonl"))}
    if not found:
        raise FileNotFoundError(f"no */{split}.jsonl under {root}")
    return found


def evaluate_by_language(model: SentimentModel, root: Path, split: str = "val") -> dict[str, Evaluation]:
    """:func:`evaluate` for each language folder of a UMSAB-style tree."""
    return {lang: evaluate(model, read_jsonl(path)) for lang, path in language_files(root, split).items()}


def by_language_summary(results: dict[str, Evaluation]) -> dict:
    """Pooled summary over all languages, plus per-language scores and the mean macro-F1."""
    matrices = [r.matrix for r in results.values()]
    if not matrices:
        raise ValueError("no per-language results to summarise")
    pooled = scores_from_matrix(sum(matrices[1:], matrices[0]))
    seconds = sum(r.seconds for r in results.values())
    return {
        **pooled,
        "posts_per_s": round(pooled["n"] / seconds, 1) if seconds > 0 else 0.0,
        "mean_macro_f1": round(float(np.mean([r.scores["macro_f1"] for r in results.values()])), 2),
        "mean_macro_recall": round(float(np.mean([r.scores["macro_recall"] for r in results.values()])), 2),
        "languages": {lang: r.summary() for lang, r in results.items()},
    }
