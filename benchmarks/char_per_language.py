"""One char n-gram model per detected language instead of one for all, measured on a
model's blend slice (rows no stage fitted on) out of fold, and on val for the record.

The shipped char stage is one logistic regression over hashed char 2-5-grams
of every three-class training row outside the blend slice. Here each language
group with at least ``--min-rows`` of those rows (detected language, as at
inference) gets its own regression on its own rows; other languages keep the
shared one. Both variants are scored out of fold as described in
``blend_slice_scoring.py``; with ``--val`` the val files too (weights chosen
on the whole slice).

Usage: python benchmarks/char_per_language.py [--model DIR] [--init-from DIR] [--val]
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
    add_slice_arguments,
    blend_weights,
    load_slice,
    out_of_fold,
    summary,
    val_files,
)


def per_language_models(train, train_langs, labels, min_rows: int) -> dict:
    """An own char model for each detected language with ``min_rows`` three-class
    training rows (all classes present), fitted on those rows, files balanced."""
    from nlp.char_ngrams import fit_char_ngrams
    from nlp.training.char import file_balanced_weights

    train_langs = np.asarray(train_langs)
    models = {}
    for lang, n in zip(*np.unique(train_langs, return_counts=True), strict=True):
        rows = [ex for ex, g in zip(train, train_langs, strict=True) if g == lang]
        if n < min_rows or len({ex.label for ex in rows}) < len(labels):
            continue
        started = time.monotonic()
        models[str(lang)] = fit_char_ngrams(
            [ex.text for ex in rows],
            np.array([labels.index(ex.label) for ex in rows]),
            labels,
            file_balanced_weights([ex.source for ex in rows]),
        )
        print(f"  {lang}: own char model on {n} rows ({time.monotonic() - started:.0f} s)", flush=True)
    return models


def log_proba(models: dict, shared, texts, langs) -> np.ndarray:
    """Each text scored by its language's own model, else by ``shared``."""
    out = shared.log_proba(texts)
    langs = np.asarray(langs)
    for lang, model in models.items():
        mine = np.flatnonzero(langs == lang)
        if len(mine):
            out[mine] = model.log_proba([texts[i] for i in mine])
    return out


def main() -> None:
    from nlp.blend import blend, language_groups
    from nlp.training.char import char_rows
    from nlp.training.labelled import LABELS
    from nlp.training.metrics import scores

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_slice_arguments(parser)
    parser.add_argument("--min-rows", type=int, default=3000, help="rows for an own model")
    args = parser.parse_args()

    data = load_slice(args)
    shared = data.model.char_model
    if shared is None:
        sys.exit(f"{args.model} has no char n-gram model to compare against")
    train = char_rows(data.examples, data.rows)
    train_langs = language_groups([ex.text for ex in train])
    print(f"{len(data.rows)} slice rows, {len(train)} char training rows", flush=True)
    log_shared = shared.log_proba(data.texts)
    models = per_language_models(train, train_langs, list(LABELS), args.min_rows)
    log_own = log_proba(models, shared, data.texts, data.langs)

    a = out_of_fold(data, log_shared, args.repeats)
    b = out_of_fold(data, log_own, args.repeats)
    print(f"out of fold ({args.repeats} halvings, both ways), per-file macro-recall: shared -> per language")
    for f in sorted(a):
        print(f"  {f:40s} {a[f]:6.2f} -> {b[f]:6.2f}  {b[f] - a[f]:+.2f}")
    print(f"shared: {summary(data, a)}")
    print(f"per language: {summary(data, b)}")

    if args.val:
        weights = {"shared": blend_weights(data, log_shared), "per-language": blend_weights(data, log_own)}
        for name, chosen in weights.items():
            print(f"{name} weights on the whole slice: {chosen}")
        print("val (macro-recall / macro-F1): shared -> per language")
        for name, vt, vl, lt, truth in val_files(data):
            pa = blend(lt, shared.log_proba(vt), vl, weights["shared"]).argmax(1)
            pb = blend(lt, log_proba(models, shared, vt, vl), vl, weights["per-language"]).argmax(1)
            sa = scores(truth, [LABELS[i] for i in pa], LABELS)
            sb = scores(truth, [LABELS[i] for i in pb], LABELS)
            print(
                f"  {name:22s} {sa['macro_recall']:6.2f} -> {sb['macro_recall']:6.2f}"
                f"   {sa['macro_f1']:6.2f} -> {sb['macro_f1']:6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
