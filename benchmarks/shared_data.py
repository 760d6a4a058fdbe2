"""Where the benchmarks find ``../shared/data``: ``$BRANDPULSE_DATA_DIR``, else the
``shared/data`` folder beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The development data folder (it may not exist on a clone without ``../shared``)."""
    return Path(os.environ.get("BRANDPULSE_DATA_DIR", REPO.parent / "shared" / "data"))


def model_blend_slice(model: Path, init_from: Path | None = None):
    """A trained model's blend slice, rebuilt: (its rows, a (rows, labels) mask of the
    labels each row's file uses, every row of its training files). Exits with a
    message when the model's training files are not all under :func:`data_dir`."""
    import json
    import sys

    import numpy as np

    from nlp.training.char import blend_slice
    from nlp.training.labelled import LABELS, read_many
    from nlp.training.lineage import seen_texts, sha256_of
    from nlp.training.transformer import source_label_masks

    data = data_dir()
    metrics = json.loads((model / "metrics.json").read_text())
    by_sha = {sha256_of(p): p for p in sorted(data.rglob("train.jsonl"))}
    recorded = [row["sha256"] for row in metrics.get("data") or []]
    if not recorded or any(sha not in by_sha for sha in recorded):
        sys.exit(f"the training files of {model} are not all under {data} (set BRANDPULSE_DATA_DIR)")
    files = [by_sha[sha] for sha in recorded]
    examples = read_many(files)
    seen = seen_texts(model, files, init_from)
    blend = metrics.get("blend") or {}
    rows = blend_slice(examples, seen, blend.get("per_file", 500), metrics["settings"]["seed"])
    present = dict(zip((ex.source for ex in examples), source_label_masks(examples, LABELS), strict=True))
    return rows, np.array([present[ex.source] for ex in rows], dtype=bool), examples
