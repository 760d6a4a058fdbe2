"""Which training texts a model (and every model it was warm-started from) learnt from.

A blend weight or any other setting chosen on texts the transformer has
already trained on is chosen on flattering figures. Each training run records
its settings and its files (name and sha256, in order) in ``metrics.json``;
with the seeded caps and hold-out split that is enough to rebuild which rows it
fitted on. :func:`seen_texts` does that for a model directory and walks its
``init_from`` chain, so a run can pick blend rows no stage has seen.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path

from nlp.training.labelled import Example, read_jsonl

log = logging.getLogger(__name__)


class UnknownLineage(Exception):
    """A model in the chain cannot be rebuilt (no metrics, a missing warm start, missing files)."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fitted_texts(examples: list[Example], settings) -> set[str]:
    """Texts of the rows a run with ``settings`` fitted on, given the rows it read in order."""
    from nlp.training.transformer import cap_per_source, split_holdout

    capped = cap_per_source(examples, settings)
    _, fit = split_holdout(len(capped), settings)
    return {capped[i].text for i in fit}


def seen_texts(model_dir: Path, files: Iterable[Path], init_from: Path | None = None) -> set[str]:
    """Texts that the transformer in ``model_dir`` or any of its warm starts trained on.

    ``files`` are the training files at hand; a recorded file is matched by its
    sha256 (the name alone may point at other content). ``init_from`` stands in
    for the warm-start directory ``model_dir`` recorded (a path on the machine it
    was trained on). Raises :class:`UnknownLineage` when a run cannot be rebuilt
    exactly: then no text of the files can be called unseen.
    """
    by_sha = {sha256_of(p): Path(p) for p in files}  # each file hashed once for the whole chain
    return _seen(Path(model_dir), by_sha, init_from, 0)


def _seen(model_dir: Path, by_sha: dict[str, Path], init_from: Path | None, depth: int) -> set[str]:
    from nlp.training.transformer import TrainSettings

    if depth > 10:
        raise UnknownLineage(f"{model_dir}: warm-start chain deeper than 10")
    metrics_path = Path(model_dir) / "metrics.json"
    if not metrics_path.is_file():
        raise UnknownLineage(f"{model_dir} has no metrics.json")
    metrics = json.loads(metrics_path.read_text())
    recorded = metrics.get("data") or []
    missing = [row["file"] for row in recorded if row.get("sha256") not in by_sha]
    if missing:
        raise UnknownLineage(f"{model_dir} trained on files not given here: {', '.join(missing[:5])}")
    fields = {f.name for f in dataclasses.fields(TrainSettings)}
    raw = {k: v for k, v in (metrics.get("settings") or {}).items() if k in fields}
    raw["caps"] = tuple(tuple(c) for c in raw.get("caps") or ())
    settings = TrainSettings(**raw)
    examples = [ex for row in recorded for ex in read_jsonl(by_sha[row["sha256"]])]
    seen = fitted_texts(examples, settings)
    if settings.init_from:
        parent = Path(init_from or settings.init_from)
        if not parent.is_dir():
            raise UnknownLineage(f"{model_dir} was warm-started from {parent}, which is not here")
        seen |= _seen(parent, by_sha, None, depth + 1)
    return seen
