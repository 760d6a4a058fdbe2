"""What a sentiment model returns per text (shared by every backend in :mod:`nlp.sentiment`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

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


class _Scored(Protocol):
    @property
    def labels(self) -> Sequence[str]: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...

    def probabilities(self, texts: Sequence[str], langs: Sequence[str] | None = None) -> Any: ...


class LanguageBlendingPredict:
    """``predict`` for the offline model's backends (torch and ONNX), whose char blend
    weights depend on each text's language: ``enrich_texts`` hands over the languages
    it stores (platform hints included) where ``takes_languages`` is set."""

    takes_languages = True

    def predict(self: _Scored, texts: list[str], langs: Sequence[str] | None = None) -> list[SentimentResult]:
        """Results per text; ``langs`` (detected languages) choose the char blend weights."""
        if not texts:
            return []
        return results_from_probabilities(
            self.probabilities(texts, langs), self.labels, self.name, self.version
        )
