"""One char n-gram model per detected language instead of one for all, measured on a
model's blend slice (rows no stage fitted on) out of fold, and on val for the record.

The shipped char stage is one logistic regression over hashed char 2-5-grams
of every three-class training row outside the blend slice. Here each language
group with at least ``--min-rows`` of those rows (detected language, as at
inference) gets its own regression on its own rows; other languages keep the
shared one. Blend weights are chosen per language on one half of the slice
and scored on the other (``--repeats`` seeded halvings, both ways), for the
shared model and for the per-language models alike, so both get the same
tuning freedom. Prints the out-of-fold mean per-file macro-recall, overall
and per file, and with ``--val`` the val files (weights chosen on the whole
slice).

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

from benchmarks.shared_data import data_dir, model_blend_slice  # noqa: E402

MIN_SLICE_ROWS = 200  # the UMSAB files have 2-4 slice rows: their recall is noise


def file_name(source: str) -> str:
    """``<folder>/<file>``: how the slice's files are told apart."""
    return f"{Path(source).parent.name}/{Path(source).name}"


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


def macro_recall(pred: np.ndarray, gold: np.ndarray) -> float:
    """Mean recall over the classes present in ``gold``."""
    return float(np.mean([np.mean(pred[gold == c] == c) for c in np.unique(gold)]))


def out_of_fold(log_t, log_c, gold, files, langs, repeats: int, seed: int = 13):
    """Blend weights chosen on one half, scored on the other: per-file macro-recall
    of every held-out half, averaged per file over the halvings."""
    from nlp.blend import blend, choose_weights

    rng = np.random.default_rng(seed)
    per_file: dict[str, list[float]] = {}
    langs = np.asarray(langs)
    for _ in range(repeats):
        half = np.zeros(len(gold), dtype=bool)
        half[rng.permutation(len(gold))[: len(gold) // 2]] = True
        for fit in (half, ~half):
            chosen = choose_weights(log_t[fit], log_c[fit], gold[fit], list(files[fit]), list(langs[fit]))
            weights = {g: c["weight"] for g, c in chosen.items()}
            rest = ~fit
            pred = blend(log_t[rest], log_c[rest], list(langs[rest]), weights).argmax(1)
            for f in np.unique(files[rest]):
                mine = files[rest] == f
                per_file.setdefault(str(f), []).append(macro_recall(pred[mine], gold[rest][mine]))
    return {f: 100 * float(np.mean(v)) for f, v in per_file.items()}


def main() -> None:
    from nlp.blend import blend, choose_weights, language_groups
    from nlp.sentiment import DEFAULT_MODEL_DIR, E5Sentiment
    from nlp.training.char import char_rows
    from nlp.training.labelled import LABELS, read_jsonl
    from nlp.training.metrics import scores

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--init-from", type=Path, default=None, help="--model's warm start, if moved")
    parser.add_argument("--min-rows", type=int, default=3000, help="rows for an own model")
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
        started = time.monotonic()
        log_t = np.log(np.clip(model.transformer_probabilities(texts), 1e-9, 1.0))
        print(f"transformer pass: {len(texts)} rows, {time.monotonic() - started:.0f} s", flush=True)
        if args.cache:
            np.savez(args.cache, log_t=log_t)
    log_t = np.where(allowed, log_t, -1e9)
    shared = model.char_model
    if shared is None:
        sys.exit(f"{args.model} has no char n-gram model to compare against")
    train = char_rows(examples, rows)
    train_langs = language_groups([ex.text for ex in train])
    print(f"{len(rows)} slice rows, {len(train)} char training rows", flush=True)
    log_shared = np.where(allowed, shared.log_proba(texts), -1e9)
    models = per_language_models(train, train_langs, list(LABELS), args.min_rows)
    log_own = np.where(allowed, log_proba(models, shared, texts, langs), -1e9)

    a = out_of_fold(log_t, log_shared, gold, files, langs, args.repeats)
    b = out_of_fold(log_t, log_own, gold, files, langs, args.repeats)
    print(f"out of fold ({args.repeats} halvings, both ways), per-file macro-recall: shared -> per language")
    for f in sorted(a):
        print(f"  {f:40s} {a[f]:6.2f} -> {b[f]:6.2f}  {b[f] - a[f]:+.2f}")
    print(f"  {'mean over files':40s} {np.mean(list(a.values())):6.2f} -> {np.mean(list(b.values())):6.2f}")
    sizes = dict(zip(*np.unique(files, return_counts=True), strict=True))
    big = [f for f in a if sizes[f] >= MIN_SLICE_ROWS]
    print(
        f"  {f'mean over the {len(big)} files with {MIN_SLICE_ROWS}+ slice rows':40s} "
        f"{np.mean([a[f] for f in big]):6.2f} -> {np.mean([b[f] for f in big]):6.2f}"
    )

    if args.val:
        weights = {}
        for name, log_c in (("shared", log_shared), ("per-language", log_own)):
            chosen = choose_weights(log_t, log_c, gold, list(files), langs)
            weights[name] = {g: c["weight"] for g, c in chosen.items()}
            print(f"{name} weights on the whole slice: {weights[name]}")
        print("val (macro-recall / macro-F1): shared -> per language")
        for path in [
            data_dir() / "tweeteval-sentiment" / "val.jsonl",
            *sorted(data_dir().glob("xlmt-sentiment/*/val.jsonl")),
            *sorted(data_dir().glob("more-sentiment/*/val.jsonl")),
        ]:
            val = read_jsonl(path)
            vt = [ex.text for ex in val]
            vl = language_groups(vt)
            lt = np.log(np.clip(model.transformer_probabilities(vt), 1e-9, 1.0))
            cs = shared.log_proba(vt)
            co = log_proba(models, shared, vt, vl)
            truth = [ex.label for ex in val]
            pa = blend(lt, cs, vl, weights["shared"]).argmax(1)
            pb = blend(lt, co, vl, weights["per-language"]).argmax(1)
            sa = scores(truth, [LABELS[i] for i in pa], LABELS)
            sb = scores(truth, [LABELS[i] for i in pb], LABELS)
            print(
                f"  {path.parent.name:22s} {sa['macro_recall']:6.2f} -> {sb['macro_recall']:6.2f}"
                f"   {sa['macro_f1']:6.2f} -> {sb['macro_f1']:6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
