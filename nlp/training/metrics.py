"""Classification metrics of the sentiment benchmarks (TweetEval, UMSAB)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nlp.training.labelled import LABELS


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] = LABELS) -> np.ndarray:
    """Confusion matrix, rows = gold, columns = predicted."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g], index[p]] += 1
    return matrix


def scores(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] = LABELS) -> dict:
    """n, macro_recall (TweetEval's metric), macro_f1 (UMSAB's) and accuracy, in percent."""
    return scores_from_matrix(confusion(gold, pred, labels))


def scores_from_matrix(m: np.ndarray) -> dict:
    """:func:`scores` from a confusion matrix (rows gold); absent gold classes are skipped."""
    tp = np.diag(m).astype(float)
    support, predicted = m.sum(1), m.sum(0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    n = int(m.sum())
    return {
        "n": n,
        "macro_recall": round(100 * float(recall[present].mean()), 2) if n else 0.0,
        "macro_f1": round(100 * float(f1[present].mean()), 2) if n else 0.0,
        "accuracy": round(100 * float(tp.sum() / n), 2) if n else 0.0,
    }


def mean_file_macro_recall(
    pred: np.ndarray, gold: np.ndarray, files: Sequence[str], min_texts: int = 0
) -> float | None:
    """Mean over files of macro-recall (0-1) on class ids; files with fewer than
    ``min_texts`` texts are skipped (``None`` when none is left)."""
    files_arr = np.asarray(files)
    recalls = []
    for f in np.unique(files_arr):
        mine = files_arr == f
        if mine.sum() < min_texts:
            continue
        g, p = gold[mine], pred[mine]
        recalls.append(np.mean([np.mean(p[g == c] == c) for c in np.unique(g)]))
    return float(np.mean(recalls)) if recalls else None


def sub_matrix(matrix: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """The rows and columns of a :data:`LABELS` confusion matrix for ``labels`` only."""
    idx = [LABELS.index(label) for label in labels]
    return matrix[np.ix_(idx, idx)]


def format_confusion(matrix: np.ndarray, labels: Sequence[str] = LABELS) -> str:
    """The confusion matrix as a small text table (rows gold, columns predicted)."""
    width = max(len(label) for label in labels) + 2
    head = "gold \\ pred".ljust(width + 4) + "".join(label.rjust(width) for label in labels)
    rows = [
        label.ljust(width + 4) + "".join(str(v).rjust(width) for v in matrix[i])
        for i, label in enumerate(labels)
    ]
    return "\n".join([head, *rows])
