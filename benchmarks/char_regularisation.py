"""The char n-gram model's regularisation (logistic regression ``C``), chosen out of
fold on a model's blend slice; the val files scored for the record.

The shipped char stage fits ``C = 1.0`` on every three-class training row
outside the blend slice. Here each ``--c`` value is fitted on the same rows;
blend weights are chosen per language on one half of the slice and scored on
the other (``--repeats`` seeded halvings, both ways), as in
``char_per_language.py``, and the mean per-file macro-recall over the files
with 200+ slice rows is printed per value.

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

from benchmarks.char_per_language import MIN_SLICE_ROWS, file_name, out_of_fold  # noqa: E402
from benchmarks.shared_data import data_dir, model_blend_slice  # noqa: E402


def main() -> None:
    from nlp.blend import blend, choose_weights, language_groups
    from nlp.char_ngrams import char_counts, fit_counts
    from nlp.sentiment import DEFAULT_MODEL_DIR, E5Sentiment
    from nlp.training.char import char_rows, file_balanced_weights
    from nlp.training.labelled import LABELS, read_jsonl
    from nlp.training.metrics import scores

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--init-from", type=Path, default=None, help="--model's warm start, if moved")
    parser.add_argument("--c", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=None, help="npz of slice log-probs")
    parser.add_argument("--val", action="store_true", help="also score the val files (for the record)")
    args = parser.parse_args()

    rows, allowed, examples = model_blend_slice(args.model, args.init_from)
    model = E5Sentiment(args.model)
    texts = [ex.text for ex in rows]
    gold = np.array([LABELS.index(ex.label) for ex in rows])
    files = np.array([file_name(ex.source) for ex in rows])
    langs = language_groups(texts)
    if args.cache and args.cache.exists():
        log_t = np.load(args.cache)["log_t"]
    else:
        log_t = np.log(np.clip(model.transformer_probabilities(texts), 1e-9, 1.0))
        if args.cache:
            np.savez(args.cache, log_t=log_t)
    log_t = np.where(allowed, log_t, -1e9)
    train = char_rows(examples, rows)
    counts = char_counts([ex.text for ex in train])
    y = np.array([LABELS.index(ex.label) for ex in train])
    weights = file_balanced_weights([ex.source for ex in train])
    sizes = dict(zip(*np.unique(files, return_counts=True), strict=True))
    fitted = {}
    for c in args.c:
        started = time.monotonic()
        char = fit_counts(counts, y, LABELS, weights, c=c)
        fitted[c] = char
        log_c = np.where(allowed, char.log_proba(texts), -1e9)
        per_file = out_of_fold(log_t, log_c, gold, files, langs, args.repeats)
        big = [f for f in per_file if sizes[f] >= MIN_SLICE_ROWS]
        print(
            f"C={c:g}: out-of-fold mean per-file macro-recall {np.mean([per_file[f] for f in big]):.2f} "
            f"over {len(big)} files ({np.mean(list(per_file.values())):.2f} over all {len(per_file)}); "
            f"fit {time.monotonic() - started:.0f} s",
            flush=True,
        )
        print("  " + ", ".join(f"{f.split('/')[0]} {per_file[f]:.2f}" for f in sorted(big)), flush=True)

    if args.val:
        chosen = {}
        for c, char in fitted.items():
            log_c = np.where(allowed, char.log_proba(texts), -1e9)
            picked = choose_weights(log_t, log_c, gold, list(files), langs)
            chosen[c] = {g: p["weight"] for g, p in picked.items()}
        print("val macro-F1 per C (blend weights chosen on the whole slice):")
        for path in [
            data_dir() / "tweeteval-sentiment" / "val.jsonl",
            *sorted(data_dir().glob("xlmt-sentiment/*/val.jsonl")),
            *sorted(data_dir().glob("more-sentiment/*/val.jsonl")),
        ]:
            val = read_jsonl(path)
            vt = [ex.text for ex in val]
            vl = language_groups(vt)
            lt = np.log(np.clip(model.transformer_probabilities(vt), 1e-9, 1.0))
            truth = [ex.label for ex in val]
            line = []
            for c, char in fitted.items():
                pred = blend(lt, char.log_proba(vt), vl, chosen[c]).argmax(1)
                line.append(f"C={c:g} {scores(truth, [LABELS[i] for i in pred], LABELS)['macro_f1']:6.2f}")
            print(f"  {path.parent.name:22s} " + "  ".join(line), flush=True)


if __name__ == "__main__":
    main()
