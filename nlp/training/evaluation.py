"""Evaluate a sentiment model on labelled JSONL files.

A file whose labels are a subset of negative/neutral/positive (two-class data
such as ``binary-15lang``) is scored over the labels present in it: the
prediction is the argmax of the model's probabilities over those labels, and
macro averages run over those labels only (:func:`scored_over` says so).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp.sentiment import SentimentModel, SentimentResult
from nlp.training.labelled import LABELS, Example, is_sentiment_file, labels_present, read_jsonl
from nlp.training.metrics import confusion, scores_from_matrix


@dataclass
class Evaluation:
    """Scores, confusion matrix (over all of :data:`LABELS`), scored labels and speed."""

    scores: dict
    matrix: np.ndarray
    seconds: float
    labels: tuple[str, ...] = LABELS

    @property
    def posts_per_s(self) -> float:
        return round(self.scores["n"] / self.seconds, 1) if self.seconds > 0 else 0.0

    def summary(self) -> dict:
        """The flat JSON summary: n, macro_recall, macro_f1, accuracy, posts_per_s, labels."""
        return {**self.scores, "posts_per_s": self.posts_per_s, "labels": list(self.labels)}


def scored_over(labels: tuple[str, ...] | list[str]) -> str:
    """One line saying which labels the macro averages run over."""
    if tuple(labels) == LABELS:
        return "macro over " + ", ".join(LABELS)
    return "macro over " + ", ".join(labels) + ": labels present in the file"


def restrict(result: SentimentResult, labels: tuple[str, ...]) -> str:
    """The label among ``labels`` with the highest probability (the model's own
    label when it gives no probabilities for them)."""
    if tuple(labels) == LABELS:
        return result.label
    known = {k: v for k, v in result.probabilities.items() if k in labels}
    if not known:
        return result.label
    return max(labels, key=lambda label: known.get(label, float("-inf")))


def evaluate(
    model: SentimentModel, examples: list[Example], labels: tuple[str, ...] | None = None
) -> Evaluation:
    """Predict every example once (timed) and score against its label, over
    ``labels`` (default: the labels present in ``examples``)."""
    texts = [ex.text for ex in examples]
    started = time.perf_counter()
    results = model.predict(texts)
    return score_results(results, examples, labels, time.perf_counter() - started)


def score_results(
    results: list[SentimentResult],
    examples: list[Example],
    labels: tuple[str, ...] | None = None,
    seconds: float = 0.0,
) -> Evaluation:
    """Score predictions already made (one per example) as :func:`evaluate` does."""
    labels = labels or labels_present(examples)
    predicted = [restrict(r, labels) for r in results]
    gold = [ex.label for ex in examples]
    matrix = confusion(gold, predicted)
    return Evaluation(scores=scores_from_matrix(matrix), matrix=matrix, seconds=seconds, labels=labels)


def labelled_files(
    root: Path, split: str = "val", pattern: str | None = None
) -> tuple[dict[str, Path], list[Path]]:
    """``({name: file}, skipped)`` for the sentiment files under ``root``.

    Files are ``root/**/<split>.jsonl`` (nested folders included), or those
    matching ``pattern`` (a glob relative to ``root``). A file's name is its
    folder relative to ``root`` (``arabic``, ``binary-15lang/bos``), or its path
    without ``.jsonl`` where folders repeat. Files whose rows carry a
    ``labels`` list (emotion data) are skipped.
    """
    root = Path(root)
    paths = sorted(p for p in root.glob(pattern or f"**/{split}.jsonl") if p.is_file())
    keep = [p for p in paths if is_sentiment_file(p)]
    skipped = [p for p in paths if p not in keep]
    if not keep:
        raise FileNotFoundError(f"no labelled sentiment files {pattern or f'**/{split}.jsonl'} under {root}")

    def folder(p: Path) -> str:
        rel = p.parent.relative_to(root).as_posix()
        return root.name if rel == "." else rel

    names = [folder(p) for p in keep]
    if len(set(names)) < len(names):
        names = [p.relative_to(root).with_suffix("").as_posix() for p in keep]
    return dict(zip(names, keep, strict=True)), skipped


def language_files(root: Path, split: str = "val", pattern: str | None = None) -> dict[str, Path]:
    """``{name: file}`` of :func:`labelled_files`."""
    return labelled_files(root, split, pattern)[0]


def evaluate_by_language(
    model: SentimentModel,
    root: Path,
    split: str = "val",
    pattern: str | None = None,
    limit: int | None = None,
) -> dict[str, Evaluation]:
    """:func:`evaluate` for each file of :func:`language_files` (first ``limit`` rows of each)."""
    return {
        name: evaluate(model, read_jsonl(path, limit))
        for name, path in language_files(root, split, pattern).items()
    }


def by_language_summary(results: dict[str, Evaluation]) -> dict:
    """Pooled summary over all files, plus per-file scores and the mean macro-F1.

    Pooled macro averages run over every label present in any file.
    """
    matrices = [r.matrix for r in results.values()]
    if not matrices:
        raise ValueError("no per-language results to summarise")
    pooled_matrix = sum(matrices[1:], matrices[0])
    pooled = scores_from_matrix(pooled_matrix)
    seconds = sum(r.seconds for r in results.values())
    labels = [label for i, label in enumerate(LABELS) if pooled_matrix[i].sum() > 0]
    return {
        **pooled,
        "posts_per_s": round(pooled["n"] / seconds, 1) if seconds > 0 else 0.0,
        "labels": labels,
        "mean_macro_f1": round(float(np.mean([r.scores["macro_f1"] for r in results.values()])), 2),
        "mean_macro_recall": round(float(np.mean([r.scores["macro_recall"] for r in results.values()])), 2),
        "languages": {lang: r.summary() for lang, r in results.items()},
    }
