"""The char n-gram model's regularisation (logistic regression ``C``), chosen out of
fold on a model's blend slice; the val files scored for the record.

The shipped char stage fits ``C = 1.0`` on every three-class training row
outside the blend slice. Here each ``--c`` value is fitted on the same rows
and scored out of fold as described in ``blend_slice_scoring.py``.

Usage: python benchmarks/char_regularisation.py [--model DIR] [--init-from DIR] [--c 0.3 1 3] [--val]
Data: ``$BRANDPULSE_DATA_DIR`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.blend_slice_scoring import (  # noqa: E402
    MIN_SLICE_ROWS,
    add_slice_arguments,
    blend_weights,
    load_slice,
    out_of_fold,
    summary,
    val_files,
)


def main() -> None:
    from nlp.blend import blend
    from nlp.char_ngrams import char_counts, fit_counts
    from nlp.training.char import char_rows, file_balanced_weights
    from nlp.training.labelled import LABELS
    from nlp.training.metrics import scores

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_slice_arguments(parser)
    parser.add_argument("--c", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    args = parser.parse_args()

    data = load_slice(args)
    train = char_rows(data.examples, data.rows)
    counts = char_counts([ex.text for ex in train])
    y = np.array([LABELS.index(ex.label) for ex in train])
    weights = file_balanced_weights([ex.source for ex in train])
    sizes = data.sizes()
    fitted = {}
    for c in args.c:
        started = time.monotonic()
        fitted[c] = fit_counts(counts, y, LABELS, weights, c=c)
        per_file = out_of_fold(data, fitted[c].log_proba(data.texts), args.repeats)
        print(
            f"C={c:g}: out-of-fold mean per-file macro-recall {summary(data, per_file)}; "
            f"fit and scoring {time.monotonic() - started:.0f} s",
            flush=True,
        )
        big = sorted(f for f in per_file if sizes[f] >= MIN_SLICE_ROWS)
        print("  " + ", ".join(f"{f.split('/')[0]} {per_file[f]:.2f}" for f in big), flush=True)

    if args.val:
        chosen = {c: blend_weights(data, char.log_proba(data.texts)) for c, char in fitted.items()}
        print("val macro-F1 per C (blend weights chosen on the whole slice):")
        for name, vt, vl, lt, truth in val_files(data):
            line = []
            for c, char in fitted.items():
                pred = blend(lt, char.log_proba(vt), vl, chosen[c]).argmax(1)
                line.append(f"C={c:g} {scores(truth, [LABELS[i] for i in pred], LABELS)['macro_f1']:6.2f}")
            print(f"  {name:22s} " + "  ".join(line), flush=True)


if __name__ == "__main__":
    main()
