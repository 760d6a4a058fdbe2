"""Transformers alone, compared on a model's blend slice: training rows no stage fitted on.

The blend slice of a model (``metrics.json``: up to ``per_file`` rows of each
training file that no stage of its warm-start chain fitted on, rebuilt by
:mod:`nlp.training.lineage`) is also unseen by every model earlier in that
chain, so it can choose between a new transformer and the one it was
warm-started from without touching validation files. Prints the mean per-file
macro-recall (over the labels each file uses) of each model's transformer part,
without the char blend, and the figure per file.

Usage: python benchmarks/slice_transformers.py [--model DIR] --against DIR [--init-from DIR]
Data: ``$BRANDPULSE_DATA_DIR`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import model_blend_slice  # noqa: E402


def main() -> None:
    from nlp.sentiment import DEFAULT_MODEL_DIR, E5Sentiment
    from nlp.training.labelled import LABELS
    from nlp.training.metrics import scores

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="whose blend slice is scored")
    parser.add_argument("--against", type=Path, nargs="+", required=True, help="other model directories")
    parser.add_argument(
        "--init-from", type=Path, default=None, help="--model's warm start, where its recorded path is gone"
    )
    args = parser.parse_args()

    rows, allowed, _ = model_blend_slice(args.model, args.init_from)
    present = {ex.source: mask for ex, mask in zip(rows, allowed, strict=True)}
    sources = sorted({ex.source for ex in rows})
    print(f"{len(rows)} slice rows of {args.model} from {len(sources)} files")
    table: dict[str, dict[str, float]] = {}
    for model_dir in [args.model, *args.against]:
        probs = E5Sentiment(model_dir).transformer_probabilities([ex.text for ex in rows])
        pred = np.where(allowed, probs, -1.0).argmax(axis=1)
        per_file = {}
        for source in sources:
            idx = [i for i, ex in enumerate(rows) if ex.source == source]
            labels = [label for label, ok in zip(LABELS, present[source], strict=True) if ok]
            gold, guess = [rows[i].label for i in idx], [LABELS[pred[i]] for i in idx]
            per_file[f"{Path(source).parent.name} ({len(idx)})"] = scores(gold, guess, labels)["macro_recall"]
        table[str(model_dir)] = per_file
        print(f"{model_dir}: mean per-file macro-recall {np.mean(list(per_file.values())):.2f}", flush=True)
    names = list(table)
    for key in table[names[0]]:
        print(f"  {key:28s}", *(f"{table[n][key]:7.2f}" for n in names))
    means = {n: round(float(np.mean(list(v.values()))), 2) for n, v in table.items()}
    print(json.dumps({"rows": len(rows), "mean_per_file_macro_recall": means}))


if __name__ == "__main__":
    main()
