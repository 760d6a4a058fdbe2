"""What a sentiment model returns per text (shared by every backend in :mod:`nlp.sentiment`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from nlp.training.labelled import LABELS


@dataclass(frozen=True)
class SentimentResult:
    """One text's sentiment, shaped like the ``sentiment`` field of a mention."""

    label: str
    score: float
    probabilities: dict[str, float] = field(default_factory=dict)
    model: str = ""
    model_version: str = ""

    def as_document(self) -> dict:
        """The ``sentiment`` object stored on a mention."""
        return asdict(self)


def results_from_probabilities(
    rows: Any, labels: Sequence[str], name: str, version: str
) -> list[SentimentResult]:
    """One result per row of (n, classes) probabilities (columns: ``labels``, mapped onto :data:`LABELS`)."""
    results = []
    for row in rows:
        probs = dict.fromkeys(LABELS, 0.0)
        for label, p in zip(labels, row, strict=True):
            probs[label] += float(p)
        label = max(probs, key=probs.__getitem__)
        results.append(
            SentimentResult(
                label=label,
                score=round(probs[label], 4),
                probabilities={k: round(v, 4) for k, v in probs.items()},
                model=name,
                model_version=version,
            )
        )
    return results
