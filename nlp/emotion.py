"""Emotion per mention: Plutchik's 8 emotions plus TweetEval's ``optimism``.

The default model carries an optional emotion head on the same pooled encoder
output as its sentiment classifier (one forward pass gives both). Its logits
become an :class:`EmotionResult`; which languages get one is stored in the
model directory (languages where the measured quality is useful).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

EMOTIONS: tuple[str, ...] = (
    "anger",
    "anticipation",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "trust",
    "optimism",
)
PLUTCHIK: tuple[str, ...] = EMOTIONS[:8]
NEUTRAL = "neutral"  # XED's label for "none of the eight"


@dataclass(frozen=True)
class EmotionResult:
    """One text's emotion, shaped like the ``emotion`` field of a mention."""

    label: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)

    def as_document(self) -> dict:
        """The ``emotion`` object stored on a mention."""
        return asdict(self)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function, numerically safe."""
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))


def results_from_logits(logits: np.ndarray) -> list[EmotionResult]:
    """Per row of (n, 9) emotion logits: each emotion's score (sigmoid) and the top one."""
    probs = sigmoid(np.asarray(logits, dtype=np.float64))
    out = []
    for row in probs:
        top = int(row.argmax())
        out.append(
            EmotionResult(
                label=EMOTIONS[top],
                score=round(float(row[top]), 4),
                scores={e: round(float(p), 4) for e, p in zip(EMOTIONS, row, strict=True)},
            )
        )
    return out


def multi_label_sets(logits: np.ndarray, threshold: float) -> list[frozenset[str]]:
    """The Plutchik emotions whose sigmoid score reaches ``threshold`` (empty set: neutral)."""
    probs = sigmoid(np.asarray(logits, dtype=np.float64)[:, : len(PLUTCHIK)])
    return [frozenset(PLUTCHIK[j] for j in np.flatnonzero(row >= threshold)) for row in probs]


def micro_f1(gold: Sequence[frozenset[str]], pred: Sequence[frozenset[str]]) -> float:
    """Micro-averaged F1 (percent) over label sets; a neutral row is the empty set."""
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    n_pred = sum(len(p) for p in pred)
    n_gold = sum(len(g) for g in gold)
    if not n_pred or not n_gold:
        return 0.0
    precision, recall = tp / n_pred, tp / n_gold
    return round(100 * 2 * precision * recall / (precision + recall), 2) if tp else 0.0


def macro_f1_single(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Macro-F1 (percent) over ``labels`` for single-label predictions."""
    f1s = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == label and p == label)
        n_pred = sum(1 for p in pred if p == label)
        n_gold = sum(1 for g in gold if g == label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return round(100 * float(np.mean(f1s)), 2) if f1s else 0.0


def argmax_within(logits: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Per row, the highest-scoring emotion among ``labels`` (a single-label task's classes)."""
    cols = [EMOTIONS.index(label) for label in labels]
    picks = np.asarray(logits)[:, cols].argmax(1)
    return [labels[int(j)] for j in picks]
