"""Sentiment behind one interface: ``SentimentModel.predict(texts)``.

Backends (see :data:`BACKENDS`, loaded lazily by name):

* ``transformers``: any Hugging Face sequence-classification model, by hub id
  or local path (the production route where a hub is reachable, e.g. a
  multilingual XLM-R tweet sentiment model);
* ``e5``: the offline default, e5-small with fine-tuned top layers, trained by
  ``train-sentiment`` (:mod:`nlp.training.transformer`) and shipped in ``nlp/models``;
* ``vader``: the English lexicon baseline, the floor every model must beat;
* ``onnx``: a directory written by ``export-onnx``, run by ONNX Runtime without
  torch or transformers (:mod:`nlp.onnx_sentiment`; the lean worker's backend).

``BRANDPULSE_SENTIMENT_MODEL`` names the model ``get_model()`` loads (default: ``default``).

:func:`get_model` loads a model once per process. Texts are normalised for
the model only (``@user``, ``http``); the caller's strings are never changed.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from brandpulse.core.settings import LocalSettings
from nlp.normalize import normalise_for_model
from nlp.results import LanguageBlendingPredict, SentimentResult, results_from_probabilities
from nlp.training.labelled import LABELS

DEFAULT_MODEL_DIR = Path(__file__).parent / "models" / "e5-sentiment"
DEFAULT_MODEL = "default"

BACKENDS: dict[str, str] = {
    "transformers": "nlp.sentiment:TransformersSentiment",
    "e5": "nlp.sentiment:E5Sentiment",
    "vader": "nlp.sentiment:VaderSentiment",
    "onnx": "nlp.onnx_sentiment:OnnxSentiment",
}


@runtime_checkable
class SentimentModel(Protocol):
    """Scores texts as negative / neutral / positive."""

    name: str
    version: str

    def predict(self, texts: list[str]) -> list[SentimentResult]:
        """One result per text, in order."""
        ...


def _torch_threads() -> int:
    """``BRANDPULSE_TORCH_THREADS`` (default 1), read at call time."""
    return LocalSettings.load().torch_threads


def _bf16_supported() -> bool:
    from nlp.quantize import bf16_supported

    return bf16_supported()


_STARS = re.compile(r"^([1-5])\s*stars?$")


def label_mapping(id2label: dict[int, str]) -> list[str]:
    """Map a model's class names onto negative/neutral/positive, by class index.

    Understands names starting with neg/neu/pos (any case), ``LABEL_0..2`` in
    the TweetEval order, and 1-5 star ratings (1-2 negative, 3 neutral, 4-5 positive).
    """
    names = [str(id2label[i]).strip().lower() for i in sorted(id2label)]
    if all(re.fullmatch(r"label_\d+", n) for n in names) and len(names) == len(LABELS):
        return list(LABELS)
    mapped = []
    for name in names:
        star = _STARS.match(name)
        if star:
            mapped.append(LABELS[0] if int(star[1]) <= 2 else LABELS[1] if star[1] == "3" else LABELS[2])
            continue
        hit = next((label for label in LABELS if name.startswith(label[:3])), None)
        if hit is None:
            raise ValueError(f"cannot map model labels {names} onto {LABELS}")
        mapped.append(hit)
    return mapped


class TransformersSentiment:
    """Hugging Face sequence classification, run in length-sorted batches."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        batch_size: int = 64,
        max_length: int = 128,
        prefix: str = "",
        name: str | None = None,
        version: str | None = None,
        loaded: tuple | None = None,
        precision: str | None = None,
    ) -> None:
        import torch

        from nlp.quantize import inference_precision, prepare

        torch.set_num_threads(_torch_threads())
        if loaded is None:
            if model is None:
                raise ValueError("a model id or path is needed")
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(model))
            network = AutoModelForSequenceClassification.from_pretrained(str(model))
        else:
            tokenizer, network = loaded
        self.tokenizer = tokenizer
        # fp32, bf16 or dynamic int8 (BRANDPULSE_INFERENCE_PRECISION; see nlp.quantize)
        self.precision = inference_precision(precision)
        self.model = prepare(network, self.precision)
        self.labels = label_mapping(self.model.config.id2label)
        self.batch_size = batch_size
        self.max_length = max_length
        self.prefix = prefix
        self.name = name or str(getattr(self.model.config, "_name_or_path", "") or model)
        self.version = version or str(getattr(self.model.config, "transformers_version", "") or "unknown")

    def model_texts(self, texts: Sequence[str]) -> list[str]:
        """What the network reads: normalised text with the model's prefix."""
        return [self.prefix + normalise_for_model(t) for t in texts]

    def probabilities(self, texts: Sequence[str]):
        """(n, classes) class probabilities, computed in length-sorted batches."""
        import numpy as np
        import torch

        inputs = self.model_texts(texts)
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
        out = np.zeros((len(inputs), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [inputs[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                logits = self.logits(batch, [inputs[i] for i in idx]).float()
                out[idx] = torch.softmax(logits, dim=-1).numpy()
                self._after_batch(idx)
        return out

    def logits(self, batch, model_texts: Sequence[str]):
        """The network's class logits for one tokenised batch (``model_texts``: its inputs)."""
        return self.model(**batch).logits

    def _after_batch(self, idx: list[int]) -> None:
        """Called after each batch's forward pass (rows ``idx``); subclasses read more from it."""

    def predict(self, texts: list[str]) -> list[SentimentResult]:
        if not texts:
            return []
        return results_from_probabilities(self.probabilities(texts), self.labels, self.name, self.version)


class E5Sentiment(LanguageBlendingPredict, TransformersSentiment):
    """The offline default: a model directory written by ``train-sentiment``."""

    def __init__(
        self, model: str | Path | None = None, *, batch_size: int = 64, precision: str | None = None
    ) -> None:
        from nlp import e5_sentiment
        from nlp.char_ngrams import CharNgramModel
        from nlp.quantize import inference_precision, load_dtype

        model_dir = Path(model or DEFAULT_MODEL_DIR)
        precision = inference_precision(precision)
        tokenizer, network, spec = e5_sentiment.load(model_dir, dtype=load_dtype(precision))
        super().__init__(
            loaded=(tokenizer, network),
            batch_size=batch_size,
            max_length=spec.max_length,
            prefix=spec.prefix,
            name=spec.name,
            version=spec.version,
            precision=precision,
        )
        self.spec = spec
        self.blend_weights: dict[str, float] | None = (
            spec.blend if spec.blend and CharNgramModel.present(model_dir) else None
        )
        self.char_model = CharNgramModel.load(model_dir) if self.blend_weights else None
        self.embedder: Any = None
        # emotion head on the classifier's input (see nlp.emotion): same forward pass
        self.emotion_languages = frozenset(spec.emotion_languages or ())
        self.emotion_threshold = spec.emotion_threshold
        self._emotion_rows: Any = None  # (n, emotions) array while predict_with_emotion runs
        self._pooled: Any = None
        if getattr(self.model, "emotion", None) is not None:
            self.model.classifier.register_forward_hook(self._keep_pooled)

    @property
    def has_emotion(self) -> bool:
        """True when the model directory has an emotion head."""
        return getattr(self.model, "emotion", None) is not None

    def _keep_pooled(self, module, args, output) -> None:
        self._pooled = args[0]

    def _after_batch(self, idx: list[int]) -> None:
        if self._emotion_rows is not None and self._pooled is not None:
            self._emotion_rows[idx] = self.model.emotion(self._pooled).float().numpy()

    def predict_with_emotion(self, texts: list[str], langs: Sequence[str] | None = None):
        """(sentiment results, (n, emotions) emotion logits or None), from one forward pass."""
        import numpy as np

        if not self.has_emotion or not texts:
            return self.predict(texts, langs), None
        self._emotion_rows = np.zeros((len(texts), self.model.emotion.out_features), dtype=np.float32)
        try:
            results = self.predict(texts, langs)
            return results, self._emotion_rows
        finally:
            self._emotion_rows = None
            self._pooled = None

    def encoder_front(self) -> tuple[Any, Any, int, int] | None:
        """(tokenizer, ``BertModel``, cut layer, max length) for a topic embedder to share:
        the embeddings and layers below ``cut_layer`` are the frozen base e5's. ``None``
        where the inputs differ from the embedder's (prefix) or the base is another."""
        from nlp import embeddings
        from nlp.e5_base import BASE_NAME

        if self.spec.prefix != embeddings.PREFIX or self.spec.base != BASE_NAME:
            return None
        return self.tokenizer, self.model.bert, self.spec.cut_layer, self.max_length

    def attach_embedder(self, embedder) -> None:
        """From now on every batch also hands its cut-layer states to ``embedder``
        (:meth:`nlp.embeddings.E5Embedder.remember`): one pass of the shared layers."""
        self.embedder = embedder

    def logits(self, batch, model_texts: Sequence[str]):
        """Class logits; with an attached embedder, the lower layers run once for both."""
        if self.embedder is None:
            return super().logits(batch, model_texts)
        from nlp.embeddings import lower_states, run_layers

        bert, cut = self.model.bert, self.spec.cut_layer
        hidden, mask = lower_states(bert, batch, cut)
        self.embedder.remember(model_texts, hidden, mask, batch["attention_mask"])
        top = run_layers(bert.encoder.layer[cut:], hidden, mask)
        return self.model.classifier(self.model.dropout(bert.pooler(top)))

    def transformer_probabilities(self, texts: Sequence[str]):
        """The fine-tuned transformer's probabilities alone (no character n-grams)."""
        return super().probabilities(texts)

    def probabilities(self, texts: Sequence[str], langs: Sequence[str] | None = None):
        """Transformer probabilities, blended with the character n-gram model when the
        directory has one (weights per detected language, see :mod:`nlp.blend`)."""
        from nlp.blend import blend_with_char

        probs = self.transformer_probabilities(texts)
        return blend_with_char(probs, texts, self.char_model, self.blend_weights, langs)


class VaderSentiment:
    """VADER (``nltk-vader-sentiment``), English only: the baseline.

    The label follows VADER's compound score (>= 0.05 positive, <= -0.05
    negative); ``probabilities`` are VADER's neg/neu/pos proportions and
    ``score`` is ``|compound|`` (``1 - |compound|`` for neutral).
    """

    name = "vader"

    def __init__(self, model: str | None = None) -> None:
        import vader

        self._scores = vader.polarity_scores
        self.version = vader.__version__

    def predict(self, texts: list[str]) -> list[SentimentResult]:
        results = []
        for text in texts:
            s = self._scores(text)
            c = s["compound"]
            label = "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"
            results.append(
                SentimentResult(
                    label=label,
                    score=round(abs(c) if label != "neutral" else 1 - abs(c), 4),
                    probabilities={"negative": s["neg"], "neutral": s["neu"], "positive": s["pos"]},
                    model=self.name,
                    model_version=self.version,
                )
            )
        return results


def resolve(model: str | None) -> tuple[str, str | None]:
    """(backend, argument) for a model reference.

    ``None`` → ``BRANDPULSE_SENTIMENT_MODEL``; ``"default"`` → the shipped offline
    model; ``"vader"``; ``"<backend>:<arg>"`` with a registered backend; a directory
    written by ``train-sentiment`` → ``e5``, by ``export-onnx`` → ``onnx``; anything else
    (hub id or HF directory) → ``transformers``.
    """
    from nlp import e5_sentiment
    from nlp.onnx_sentiment import is_onnx_dir

    if model is None:
        model = LocalSettings.load().sentiment_model
    if model in ("", DEFAULT_MODEL):
        return "e5", str(DEFAULT_MODEL_DIR)
    if model in BACKENDS:
        return model, None
    backend, sep, arg = model.partition(":")
    if sep and backend in BACKENDS:
        return backend, arg or None
    if e5_sentiment.is_model_dir(Path(model)):
        return "e5", model
    if is_onnx_dir(Path(model)):
        return "onnx", model
    return "transformers", model


def create(model: str | None = None) -> SentimentModel:
    """A new model instance for a reference (see :func:`resolve`)."""
    backend, arg = resolve(model)
    module, _, cls = BACKENDS[backend].partition(":")
    return getattr(importlib.import_module(module), cls)(arg)


@lru_cache(maxsize=4)
def get_model(model: str | None = None) -> SentimentModel:
    """The process-wide instance for a reference: loaded once, reused."""
    return create(model)
