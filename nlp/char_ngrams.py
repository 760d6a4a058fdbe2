"""Character n-gram sentiment: hashed char 2-5-grams, TF-IDF, logistic regression.

The companion of the fine-tuned transformer in the offline default model. It
learns spellings the subword encoder sees little of (romanised, code-mixed and
other low-resource tweets) from the same training files, costs well under a
millisecond per text, and is stored as plain arrays (no pickle):
``char_ngrams.npz`` in the model directory. :mod:`nlp.blend` combines the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp.normalize import normalise_for_model

FILE = "char_ngrams.npz"
N_FEATURES = 2**20
NGRAMS = (2, 5)


def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAMS,
        n_features=N_FEATURES,
        alternate_sign=False,
        norm=None,
        lowercase=True,
        dtype=np.float32,
    )


def char_counts(texts: Sequence[str]):
    """Hashed char n-gram counts of the normalised texts, (n, N_FEATURES) sparse."""
    return _vectorizer().transform([normalise_for_model(t) for t in texts])


def _tfidf(counts, idf: np.ndarray):
    """Sublinear term frequency times idf, L2-normalised rows."""
    from sklearn.feature_extraction.text import TfidfTransformer

    transformer = TfidfTransformer(sublinear_tf=True)
    transformer.idf_ = idf
    return transformer.transform(counts)


@dataclass
class CharNgramModel:
    """idf per hashed feature (0 = ignored), and a linear layer over the classes."""

    labels: tuple[str, ...]
    idf: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    def log_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, classes) log-probabilities."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.log_proba_of_counts(char_counts(texts))

    def log_proba_of_counts(self, counts) -> np.ndarray:
        """(n, classes) log-probabilities from a count matrix of this model's features."""
        logits = _tfidf(counts, self.idf) @ self.coef.T.astype(np.float32) + self.intercept
        logits = np.asarray(logits, dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)

    def save(self, model_dir: Path) -> Path:
        path = Path(model_dir) / FILE
        np.savez_compressed(
            path,
            labels=np.array(self.labels),
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float16),
            intercept=self.intercept.astype(np.float32),
        )
        return path

    @classmethod
    def load(cls, model_dir: Path) -> CharNgramModel:
        with np.load(Path(model_dir) / FILE) as data:
            return cls(
                labels=tuple(str(x) for x in data["labels"]),
                idf=data["idf"],
                coef=data["coef"].astype(np.float32),
                intercept=data["intercept"],
            )

    @staticmethod
    def present(model_dir: Path) -> bool:
        return (Path(model_dir) / FILE).exists()


def fit_char_ngrams(
    texts: Sequence[str],
    y: np.ndarray,
    labels: Sequence[str],
    sample_weight: np.ndarray | None = None,
    *,
    min_df: int = 3,
    c: float = 1.0,
) -> CharNgramModel:
    """Train on ``texts`` with class ids ``y``; n-grams in fewer than ``min_df`` texts are dropped.

    Classes are balanced (``class_weight="balanced"``), and ``sample_weight``
    can balance the training files against each other.
    """
    return fit_counts(char_counts(texts), y, labels, sample_weight, min_df=min_df, c=c)


def fit_counts(
    counts,
    y: np.ndarray,
    labels: Sequence[str],
    sample_weight: np.ndarray | None = None,
    *,
    min_df: int = 3,
    c: float = 1.0,
) -> CharNgramModel:
    """:func:`fit_char_ngrams` on a ready count matrix (any hashed features, for experiments)."""
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    counts = counts.tocsr()
    idf = TfidfTransformer().fit(counts).idf_.astype(np.float32)  # smooth idf
    idf[np.bincount(counts.indices, minlength=counts.shape[1]) < min_df] = 0.0
    x = _tfidf(counts, idf)
    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    clf.fit(x, y, sample_weight=sample_weight)
    order = [list(clf.classes_).index(i) for i in range(len(labels))]
    return CharNgramModel(
        labels=tuple(labels),
        idf=idf,
        coef=clf.coef_[order].astype(np.float32),
        intercept=clf.intercept_[order].astype(np.float32),
    )
