"""Labelled sentiment data: JSON Lines of ``{"text": ..., "label": ...}``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Example:
    """One labelled text and the file it came from."""

    text: str
    label: str
    source: str


def read_jsonl(path: Path) -> list[Example]:
    """Read one labelled file; rejects unknown labels with the line number."""
    examples = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            label = str(row.get("label", "")).lower()
            if label not in LABELS:
                raise ValueError(f"{path}:{lineno}: label {row.get('label')!r} not in {LABELS}")
            examples.append(Example(text=str(row["text"]), label=label, source=str(path)))
    return examples


def read_many(paths: Iterable[Path]) -> list[Example]:
    """Read several labelled files, in order."""
    return [ex for path in paths for ex in read_jsonl(Path(path))]
