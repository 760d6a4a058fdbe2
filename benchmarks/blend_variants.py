"""Two ways to get more out of the blend, measured on a model's blend slice (rows no
stage fitted on) with cross-validation, and on the val files for the record.

1. ``--offsets``: per detected language, class logit offsets added to the blended
   log-probabilities (neutral the reference, a grid of -1..1 for the other two),
   chosen to maximise the language's blend-slice score (the one blend weights
   are chosen on: per-file macro-recall, files weighted by their share of rows
   detected in the language, files under 20 rows skipped). Each language's
   out-of-fold gain comes from ``--repeats`` random halvings of its slice rows
   (choose on one half, score on the other, both ways); offsets chosen on the
   whole slice are kept only where that gain reaches ``--min-cv-gain`` points,
   then scored on the val files.
2. ``--word-ngrams``: the character n-gram model refitted with hashed word 1-2-grams
   beside the char 2-5-grams (same rows: every three-class training row outside
   the slice), blend weights chosen again; prints the blended slice score of both.

Usage: python benchmarks/blend_variants.py [--model DIR] [--init-from DIR] [--offsets] [--word-ngrams]
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

GRID = np.round(np.linspace(-1.0, 1.0, 21), 2)
MIN_TEXTS = 20  # rows of a file in a group for the file to count (as for blend weights)


def group_of(langs, weights: dict[str, float]) -> np.ndarray:
    """Each language's blend group: its own where it has a weight, else ``other``."""
    from nlp.blend import OTHER

    return np.array([lang if lang in weights else OTHER for lang in langs])


def shares(files: np.ndarray, per_file: dict[str, int]) -> dict[str, float]:
    """Each file's share of its slice rows among ``files`` (how :mod:`nlp.blend` weighs files)."""
    names, counts = np.unique(files, return_counts=True)
    return {str(f): int(n) / per_file[str(f)] for f, n in zip(names, counts, strict=True)}


def group_value(logp, gold, files, per_file, offsets) -> float | None:
    """A language group's blend-slice score: per-file macro-recall, files weighted by
    their share of rows in the group, files under 20 rows skipped (as for blend weights)."""
    from nlp.blend import group_score

    return group_score((logp + offsets).argmax(1), gold, files, shares(files, per_file), MIN_TEXTS)


def best_offsets(logp, gold, files, per_file) -> tuple[np.ndarray, float | None, float | None]:
    """(offsets, score without, score with) for one group's rows."""
    before = group_value(logp, gold, files, per_file, np.zeros(3))
    if before is None:
        return np.zeros(3), None, None
    chosen, best = np.zeros(3), before
    for low in GRID:
        for high in GRID:
            offsets = np.array([low, 0.0, high])
            value = group_value(logp, gold, files, per_file, offsets)
            if value is not None and value > best + 1e-9:
                chosen, best = offsets, value
    return chosen, before, best


def out_of_fold_gain(logp, gold, files, per_file, repeats: int, seed: int = 13) -> float | None:
    """Mean points gained on one half by offsets chosen on the other half."""
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(repeats):
        half = np.zeros(len(gold), dtype=bool)
        half[rng.permutation(len(gold))[: len(gold) // 2]] = True
        for fit in (half, ~half):
            offsets, _, _ = best_offsets(logp[fit], gold[fit], files[fit], per_file)
            rest = ~fit
            base = group_value(logp[rest], gold[rest], files[rest], per_file, np.zeros(3))
            moved = group_value(logp[rest], gold[rest], files[rest], per_file, offsets)
            if base is not None and moved is not None:
                gains.append(100 * (moved - base))
    return float(np.mean(gains)) if gains else None


def val_sets() -> list[Path]:
    data = data_dir()
    return [
        data / "tweeteval-sentiment" / "val.jsonl",
        *sorted(data.glob("xlmt-sentiment/*/val.jsonl")),
        *sorted(data.glob("more-sentiment/*/val.jsonl")),
    ]


def main() -> None:
    from nlp.blend import blend, language_groups
    from nlp.sentiment import DEFAULT_MODEL_DIR, E5Sentiment
    from nlp.training.labelled import LABELS, read_jsonl
    from nlp.training.metrics import mean_file_macro_recall, scores

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument(
        "--init-from", type=Path, default=None, help="--model's warm start, where its path is gone"
    )
    parser.add_argument("--offsets", action="store_true")
    parser.add_argument("--word-ngrams", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-cv-gain", type=float, default=0.5)
    args = parser.parse_args()

    rows, allowed, examples = model_blend_slice(args.model, args.init_from)
    model = E5Sentiment(args.model)
    weights = model.blend_weights or {}
    texts = [ex.text for ex in rows]
    gold = np.array([LABELS.index(ex.label) for ex in rows])
    files = np.array([f"{Path(ex.source).parent.name}/{Path(ex.source).name}" for ex in rows])
    langs = language_groups(texts)
    started = time.monotonic()
    log_t = np.where(allowed, np.log(np.clip(model.transformer_probabilities(texts), 1e-9, 1.0)), -1e9)
    log_c = np.where(allowed, model.char_model.log_proba(texts), -1e9)
    print(
        f"{len(rows)} slice rows of {args.model}; transformer pass {time.monotonic() - started:.0f} s",
        flush=True,
    )
    blended = np.log(blend(log_t, log_c, langs, weights) + 1e-12)
    shipped = mean_file_macro_recall(blended.argmax(1), gold, list(files)) or 0.0
    print(f"shipped blend: mean per-file macro-recall {100 * shipped:.2f}")

    if args.offsets:
        groups = group_of(langs, weights)
        per_file = {str(f): int(n) for f, n in zip(*np.unique(files, return_counts=True), strict=True)}
        kept: dict[str, np.ndarray] = {}
        for group in sorted(set(groups)):
            mine = groups == group
            offsets, before, after = best_offsets(blended[mine], gold[mine], files[mine], per_file)
            if before is None or after is None:
                print(f"  {group}: no file with {MIN_TEXTS} rows in it")
                continue
            gain = out_of_fold_gain(blended[mine], gold[mine], files[mine], per_file, args.repeats)
            keep = gain is not None and gain >= args.min_cv_gain and bool(offsets.any())
            if keep:
                kept[group] = offsets
            print(
                f"  {group:6s} {mine.sum():5d} rows: in-sample {100 * before:.2f} -> {100 * after:.2f} "
                f"with {offsets.tolist()}, out-of-fold gain {gain if gain is None else round(gain, 2)}"
                f"{'  KEPT' if keep else ''}",
                flush=True,
            )
        print("val (macro-recall / macro-F1, shipped -> with the kept offsets):")
        for path in val_sets():
            val = read_jsonl(path)
            vt = [ex.text for ex in val]
            vl = language_groups(vt)
            p = np.log(model.probabilities(vt, vl) + 1e-12)
            shift = np.stack([kept.get(g, np.zeros(3)) for g in group_of(vl, weights)])
            truth = [ex.label for ex in val]
            a = scores(truth, [LABELS[i] for i in p.argmax(1)], LABELS)
            b = scores(truth, [LABELS[i] for i in (p + shift).argmax(1)], LABELS)
            print(
                f"  {path.parent.name:22s} {a['macro_recall']:6.2f} -> {b['macro_recall']:6.2f}"
                f"   {a['macro_f1']:6.2f} -> {b['macro_f1']:6.2f}",
                flush=True,
            )

    if args.word_ngrams:
        word_ngrams_variant(rows, examples, log_t, gold, files, langs)


def word_ngrams_variant(rows, examples, log_t, gold, files, langs) -> None:
    """Refit the char model with word 1-2-grams added; blend weights chosen again on the slice."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer

    from nlp.blend import blend, choose_weights
    from nlp.char_ngrams import char_counts, fit_counts
    from nlp.normalize import normalise_for_model
    from nlp.training.char import char_rows, file_balanced_weights
    from nlp.training.labelled import LABELS
    from nlp.training.metrics import mean_file_macro_recall

    train = char_rows(examples, rows)
    words = HashingVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        n_features=2**19,
        alternate_sign=False,
        norm=None,
        token_pattern=r"(?u)\b\w+\b",
        dtype=np.float32,
    )

    def counts(texts):
        return sp.hstack([char_counts(texts), words.transform([normalise_for_model(t) for t in texts])])

    started = time.monotonic()
    model = fit_counts(
        counts([ex.text for ex in train]),
        np.array([LABELS.index(ex.label) for ex in train]),
        LABELS,
        file_balanced_weights([ex.source for ex in train]),
    )
    log_c = np.where(log_t > -1e8, model.log_proba_of_counts(counts([ex.text for ex in rows])), -1e9)
    chosen = choose_weights(log_t, log_c, gold, list(files), langs, min_texts=20)
    weights = {g: c["weight"] for g, c in chosen.items()}
    score = mean_file_macro_recall(blend(log_t, log_c, langs, weights).argmax(1), gold, list(files))
    print(
        f"word n-grams: {len(train)} rows, fit {time.monotonic() - started:.0f} s; "
        f"blended mean per-file macro-recall {100 * score:.2f} (weights chosen on the same slice)"
    )
    for group, c in chosen.items():
        print(f"  {group}: weight {c['weight']}, {c['before']} -> {c['after']}")


if __name__ == "__main__":
    main()
