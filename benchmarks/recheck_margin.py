"""Which recheck margin an int8 export needs, chosen on rows the model never trained on.

``export-onnx --int8 --recheck-margin M`` scores again in fp32 every text whose two
best (blended) probabilities lie closer than M (:mod:`nlp.onnx_recheck`). This
script picks M on the shipped model's blend slice (training-file rows that no
stage of the model fitted on, rebuilt by :mod:`nlp.training.lineage`; never
validation files), ``--per-file`` rows from each training file, leaving out the
int8 benchmarks' probe and calibration texts. For each margin of the grid it
prints the share of texts that would be scored again (the cost) and the labels
that would still differ from fp32, and chooses the smallest margin that leaves
none.

Usage: python benchmarks/recheck_margin.py --fp32 DIR --int8 DIR [--per-file 150]
(both written by ``brandpulse export-onnx``; the int8 one's own margin is ignored.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir, model_blend_slice  # noqa: E402

GRID = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)


def slice_rows(per_file: int, exclude: set[str]):
    """Up to ``per_file`` blend-slice rows of each training file (seed 13), none in ``exclude``."""
    from nlp.sentiment import DEFAULT_MODEL_DIR

    rows, _, _ = model_blend_slice(Path(DEFAULT_MODEL_DIR))
    by_file = defaultdict(list)
    for row in rows:
        if row.text not in exclude:
            by_file[row.source].append(row)
    rng = random.Random(13)
    return [r for f in sorted(by_file) for r in rng.sample(by_file[f], min(per_file, len(by_file[f])))]


def main() -> None:
    from probe_texts import calibration_texts, probe_set

    from nlp.onnx_sentiment import OnnxSentiment

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", type=Path, required=True)
    parser.add_argument("--int8", type=Path, required=True)
    parser.add_argument("--per-file", type=int, default=150)
    args = parser.parse_args()

    probe, _ = probe_set(data_dir())
    exclude = set(probe) | set(calibration_texts(data_dir(), set(probe)))
    rows = slice_rows(args.per_file, exclude)
    texts = [r.text for r in rows]
    ref = OnnxSentiment(args.fp32, threads=1).probabilities(texts)
    int8 = OnnxSentiment(args.int8, threads=1)
    int8.spec = replace(int8.spec, recheck_margin=None)  # int8 alone
    probs = int8.probabilities(texts)
    top = np.sort(probs, axis=1)
    margin = top[:, -1] - top[:, -2]
    flips = probs.argmax(1) != ref.argmax(1)
    files = np.array([f"{Path(r.source).parent.name}/{Path(r.source).name}" for r in rows])
    by_file = dict(zip(*np.unique(files[flips], return_counts=True), strict=True))
    print(
        json.dumps(
            {
                "rows": len(rows),
                "files": len(set(files)),
                "labels_equal_pct": round(100 * float((~flips).mean()), 2),
                "flips": int(flips.sum()),
                "flip_margins": sorted(round(float(m), 3) for m in margin[flips]),
                "flips_by_file": {str(f): int(n) for f, n in by_file.items()},
                "load": round(os.getloadavg()[0], 2),
            }
        ),
        flush=True,
    )
    chosen = None
    for m in GRID:
        left = int((flips & (margin >= m)).sum())
        rechecked = round(100 * float((margin < m).mean()), 1)
        print(json.dumps({"margin": m, "rechecked_pct": rechecked, "flips_left": left}))
        if chosen is None and left == 0:
            chosen = m
    print(json.dumps({"chosen_margin": chosen}))


if __name__ == "__main__":
    main()
