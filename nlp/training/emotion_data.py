"""Labelled emotion data: JSON Lines of ``{"text": ..., "labels": [...]}``.

Two kinds of file, told apart by their rows: a *single-label* file (every row
has exactly one label and none is ``neutral``, e.g. TweetEval emotion) is a
softmax task over the labels it uses; a *multi-label* file (XED) is a
sigmoid task over Plutchik's eight, where ``neutral`` means none of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlp.emotion import EMOTIONS, NEUTRAL


@dataclass(frozen=True)
class EmotionExample:
    """One text with its emotion labels (empty: neutral) and the file it came from."""

    text: str
    labels: frozenset[str]
    source: str


def read_emotion_jsonl(path: Path) -> list[EmotionExample]:
    """Read one emotion file; rejects unknown labels with the line number."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            labels = [str(x).lower() for x in row.get("labels", [])]
            unknown = [x for x in labels if x not in EMOTIONS and x != NEUTRAL]
            if not labels or unknown:
                raise ValueError(f"{path}:{lineno}: labels {row.get('labels')!r} not in {EMOTIONS} + neutral")
            out.append(
                EmotionExample(
                    text=str(row["text"]),
                    labels=frozenset(x for x in labels if x != NEUTRAL),
                    source=str(path),
                )
            )
    return out


def read_emotion_many(paths: Iterable[Path]) -> list[EmotionExample]:
    """Read several emotion files, in order."""
    return [ex for path in paths for ex in read_emotion_jsonl(Path(path))]


def single_label_sets(examples: Sequence[EmotionExample]) -> dict[str, tuple[str, ...]]:
    """``{source: its labels}`` for the single-label files among ``examples``'s sources.

    A file is single-label when every row carries exactly one emotion (no
    neutral rows, no row with two or more); its labels are then exclusive.
    """
    by_source: dict[str, list[EmotionExample]] = {}
    for ex in examples:
        by_source.setdefault(ex.source, []).append(ex)
    single = {}
    for source, rows in by_source.items():
        if all(len(r.labels) == 1 for r in rows):
            used = {label for r in rows for label in r.labels}
            single[source] = tuple(e for e in EMOTIONS if e in used)
    return single
