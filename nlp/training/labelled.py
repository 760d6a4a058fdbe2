"""Labelled sentiment data: JSON Lines of ``{"text": ..., "label": ...}``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Example:
    """One labelled text and the file it came from."""

    text: str
    label: str
    source: str


def read_jsonl(path: Path, limit: int | None = None) -> list[Example]:
    """Read one labelled file (the first ``limit`` rows when given); rejects
    unknown labels with the line number."""
    examples: list[Example] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if limit is not None and len(examples) >= limit:
                break
            if not line.strip():
                continue
            row = json.loads(line)
            label = str(row.get("label", "")).lower()
            if label not in LABELS:
                raise ValueError(f"{path}:{lineno}: label {row.get('label')!r} not in {LABELS}")
            examples.append(Example(text=str(row["text"]), label=label, source=str(path)))
    return examples


def read_many(paths: Iterable[Path], limit: int | None = None) -> list[Example]:
    """Read several labelled files, in order (the first ``limit`` rows of each)."""
    return [ex for path in paths for ex in read_jsonl(Path(path), limit)]


def is_sentiment_file(path: Path) -> bool:
    """Whether the first row of a JSONL file carries a single ``label`` (not an
    emotion file's ``labels`` list)."""
    with Path(path).open(encoding="utf-8") as fh:
        for line in islice(fh, 20):
            if line.strip():
                return "label" in json.loads(line)
    return False


def labels_present(examples: Sequence[Example]) -> tuple[str, ...]:
    """The labels scored on a set of examples: those present, in :data:`LABELS`
    order; all of them when fewer than two are present (argmax over one label
    would always be right)."""
    present = {ex.label for ex in examples}
    if len(present) < 2:
        return LABELS
    return tuple(label for label in LABELS if label in present)
