"""How learnable a training file's labels are: cross-validated macro-F1 within the file.

For each training file, stratified k-fold cross-validation (seeded) of two
learners that see nothing but that file: the char n-gram companion
(:func:`nlp.char_ngrams.fit_char_ngrams`, as shipped: hashed char 2-5-grams,
TF-IDF, balanced logistic regression) and, with ``--embeddings``, a balanced
logistic regression on the frozen base e5's sentence vectors
(:func:`nlp.embeddings.get_embedder`). A file where both stay near chance
(33.3 for three balanced classes) has labels these representations cannot
find, whatever the model on top; a file where they reach far above chance
does not. Training rows only; validation files are not read.

Usage: python benchmarks/label_signal.py [--files xlmt-sentiment/hindi ...] [--folds 5]
       [--embeddings] [--also-from more-sentiment/hinglish-sentimix]
Data: ``$BRANDPULSE_DATA_DIR`` (default ``../shared/data``); each name is a folder with
``train.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402

DEFAULT_FILES = (
    "xlmt-sentiment/hindi",
    "xlmt-sentiment/english",
    "xlmt-sentiment/german",
    "more-sentiment/hinglish-sentimix",
)


def cross_validated(fit_predict, n: int, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold class ids: ``fit_predict(train_idx, test_idx)`` per fold."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(n, dtype=int)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(n), y):
        out[test] = fit_predict(train, test)
    return out


def macro_f1(gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> float:
    """Macro-F1 in percent over ``labels`` of class ids."""
    from nlp.training.metrics import scores

    return scores([labels[i] for i in gold], [labels[i] for i in pred], labels)["macro_f1"]


def file_signal(name: str, folds: int, seed: int, embeddings: bool, also_from: str | None = None) -> dict:
    """The cross-validated figures for one training file (and, with ``also_from``, the
    char model fitted on that other training file, scored on this one's rows)."""
    from nlp.char_ngrams import fit_char_ngrams
    from nlp.training.labelled import labels_present, read_jsonl

    rows = read_jsonl(data_dir() / name / "train.jsonl")
    texts = [r.text for r in rows]
    labels = list(labels_present(rows))
    y = np.array([labels.index(r.label) for r in rows])
    started = time.perf_counter()

    def char(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = fit_char_ngrams([texts[i] for i in train], y[train], labels)
        return model.log_proba([texts[i] for i in test]).argmax(1)

    result: dict = {
        "file": name,
        "rows": len(rows),
        "class_shares": {lab: round(float(np.mean(y == i)), 3) for i, lab in enumerate(labels)},
        "folds": folds,
        "char_ngrams_macro_f1": macro_f1(y, cross_validated(char, len(y), y, folds, seed), labels),
    }
    if embeddings:
        from sklearn.linear_model import LogisticRegression

        from nlp.embeddings import get_embedder

        vectors = get_embedder().embed(texts)

        def frozen(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            clf = LogisticRegression(max_iter=3000, class_weight="balanced").fit(vectors[train], y[train])
            return clf.predict(vectors[test])

        result["e5_vectors_macro_f1"] = macro_f1(y, cross_validated(frozen, len(y), y, folds, seed), labels)
    if also_from:
        other = read_jsonl(data_dir() / also_from / "train.jsonl")
        other = [r for r in other if r.label in labels]
        model = fit_char_ngrams(
            [r.text for r in other], np.array([labels.index(r.label) for r in other]), labels
        )
        result[f"char_ngrams_from_{also_from}_macro_f1"] = macro_f1(
            y, model.log_proba(texts).argmax(1), labels
        )
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", nargs="*", default=list(DEFAULT_FILES), help="folders under the data dir")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embeddings", action="store_true", help="also the frozen e5 vectors (slower)")
    parser.add_argument(
        "--also-from", help="also a char model fitted on this training folder, scored on each file"
    )
    args = parser.parse_args()
    for name in args.files:
        print(
            json.dumps(file_signal(name, args.folds, args.seed, args.embeddings, args.also_from)), flush=True
        )


if __name__ == "__main__":
    main()
