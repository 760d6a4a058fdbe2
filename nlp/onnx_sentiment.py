"""The ``onnx`` sentiment backend: the default model run by ONNX Runtime, without torch.

A directory written by ``brandpulse export-onnx`` (:mod:`nlp.onnx_export`) is
scored with ``onnxruntime``, ``sentencepiece`` and numpy only (no torch, no
transformers): the lean Airflow worker's backend (``requirements-worker.txt``).
It reads texts as :class:`nlp.sentiment.E5Sentiment` does (normalisation, the
``query:`` prefix, length-sorted batches, the char n-gram blend, emotion from
the same pass) and, with an :class:`OnnxEmbedder` attached
(:func:`nlp.embeddings.shared_embedder`), keeps every batch's topic vector from
that same pass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nlp.e5_tokenizer import TOKENIZER_FILE, E5Tokenizer
from nlp.embeddings import VectorCache
from nlp.normalize import normalise_for_model
from nlp.onnx_recheck import RECHECK_FILE, close_calls
from nlp.results import LanguageBlendingPredict, results_from_probabilities

MODEL_FILE = "model.onnx"
# the same graph without the topic-embedding branch; both read WEIGHTS_FILE
SENTIMENT_FILE = "sentiment.onnx"
WEIGHTS_FILE = "weights.bin"
LEGACY_TOKENIZER = "tokenizer.json"  # exports before the SentencePiece tokeniser
CONFIG_FILE = "config.json"
KIND = "e5-sentiment-onnx"
INPUTS = ("input_ids", "attention_mask")
EMBEDDING = "embedding"


@dataclass(frozen=True)
class OnnxSpec:
    """``config.json`` of an exported directory (the source model's spec plus what ran the export)."""

    name: str
    version: str
    labels: tuple[str, ...]
    prefix: str
    max_length: int
    precision: str
    outputs: tuple[str, ...]
    blend: dict[str, float] | None = None
    emotions: tuple[str, ...] | None = None
    emotion_threshold: float | None = None
    emotion_languages: tuple[str, ...] | None = None
    recheck_margin: float | None = None  # int8 close calls scored again in fp32 (nlp.onnx_recheck)

    @classmethod
    def read(cls, model_dir: Path) -> OnnxSpec:
        raw = json.loads((Path(model_dir) / CONFIG_FILE).read_text())
        if raw.get("kind") != KIND:
            raise ValueError(f"{model_dir} is not an {KIND} directory (brandpulse export-onnx)")
        tuples = ("labels", "outputs", "emotions", "emotion_languages")
        values: dict[str, Any] = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        values |= {k: tuple(values[k]) for k in tuples if values.get(k) is not None}
        return cls(**values)


def is_onnx_dir(path: Path) -> bool:
    """True when ``path`` is a directory written by ``export-onnx``."""
    return (Path(path) / MODEL_FILE).exists() and (Path(path) / CONFIG_FILE).exists()


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


class OnnxSentiment(LanguageBlendingPredict):
    """An exported e5-sentiment directory, scored by ONNX Runtime in length-sorted batches."""

    def __init__(self, model: str | Path | None = None, *, batch_size: int = 64, threads: int | None = None):
        from brandpulse.core.settings import LocalSettings
        from nlp.char_ngrams import CharNgramModel

        if model is None:
            raise ValueError("onnx:DIR needs the directory written by brandpulse export-onnx")
        self.model_dir = Path(model)
        self.spec = spec = OnnxSpec.read(self.model_dir)
        self.name, self.version = spec.name, spec.version
        # tells the ONNX graphs apart from torch's in enrichment_version (int8 labels differ)
        self.precision = f"onnx-{spec.precision}"
        if spec.recheck_margin is not None:
            if not (self.model_dir / RECHECK_FILE).exists():
                raise ValueError(
                    f"{self.model_dir}: config.json sets recheck_margin but {RECHECK_FILE} is missing"
                )
            self.precision += f"-recheck-{spec.recheck_margin:g}"
        self.labels = list(spec.labels)
        self.batch_size = batch_size
        self.threads = threads or LocalSettings.load().torch_threads
        self.tokenizer = self._tokenizer(spec.max_length)
        self.blend_weights = spec.blend if spec.blend and CharNgramModel.present(self.model_dir) else None
        self.char_model = CharNgramModel.load(self.model_dir) if self.blend_weights else None
        self.emotion_languages = frozenset(spec.emotion_languages or ())
        self.emotion_threshold = spec.emotion_threshold
        self.embedder: OnnxEmbedder | None = None
        self._sessions: dict[str, Any] = {}
        self._recheck: Any = None

    def _tokenizer(self, max_length: int) -> E5Tokenizer:
        path = self.model_dir / TOKENIZER_FILE
        if not path.exists() and (self.model_dir / LEGACY_TOKENIZER).exists():
            raise ValueError(
                f"{self.model_dir} was exported by an older brandpulse ({LEGACY_TOKENIZER}, no "
                f"{TOKENIZER_FILE}): export it again with brandpulse export-onnx"
            )
        return E5Tokenizer(path, max_length=max_length)

    @property
    def has_emotion(self) -> bool:
        """True when the exported graph has an emotion output."""
        return "emotion_logits" in self.spec.outputs

    def session(self, with_embedding: bool):
        """The ONNX Runtime session: the whole graph, or the one without the topic branch
        (where the export wrote it). Only one is kept (they share the weights file)."""
        file = MODEL_FILE
        if not with_embedding and (self.model_dir / SENTIMENT_FILE).exists():
            file = SENTIMENT_FILE
        if file not in self._sessions:
            self._sessions.clear()
            self._sessions[file] = self._open(file)
        return self._sessions[file]

    def _open(self, file: str):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(self.model_dir / file), options, providers=["CPUExecutionProvider"])

    def model_texts(self, texts: Sequence[str]) -> list[str]:
        """What the network reads: normalised text with the model's prefix."""
        return [self.spec.prefix + normalise_for_model(t) for t in texts]

    def encode(self, inputs: Sequence[str]) -> dict[str, np.ndarray]:
        """Token ids and attention mask of one batch, padded to its longest text."""
        return self.tokenizer(inputs, padding=True, truncation=True, return_tensors="np")

    def recheck_session(self):
        """The fp32 sentiment graph kept for int8 close calls (made on first use)."""
        if self._recheck is None:
            self._recheck = self._open(RECHECK_FILE)
        return self._recheck

    def run(self, texts: Sequence[str], outputs: Sequence[str], *, session=None) -> dict[str, np.ndarray]:
        """``{output: (n, ...) array}`` in input order, computed over length-sorted batches;
        with an embedder attached its vectors are kept from the same pass. ``session``:
        another graph to run (the recheck graph), whose passes feed no embedder."""
        inputs = self.model_texts(texts)
        embed = session is None and (self.embedder is not None or EMBEDDING in outputs)
        wanted = [*outputs, EMBEDDING] if embed and EMBEDDING not in outputs else list(outputs)
        session = session or self.session(with_embedding=embed)
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch_inputs = [inputs[i] for i in idx]
            values = session.run(wanted, self.encode(batch_inputs))
            for name, value in zip(wanted, values, strict=True):
                if name not in out:
                    out[name] = np.zeros((len(inputs), *value.shape[1:]), dtype=np.float32)
                out[name][idx] = value
            if embed and self.embedder is not None:
                self.embedder.keep(batch_inputs, values[wanted.index(EMBEDDING)])
        return out

    def _heads(self) -> list[str]:
        return ["sentiment_logits", *(["emotion_logits"] if self.has_emotion else [])]

    def _scores(
        self, texts: Sequence[str], emotion: bool, langs: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        from nlp.blend import blend_with_char

        outputs = self._heads() if emotion else ["sentiment_logits"]
        values = self.run(texts, outputs)
        probs = _softmax(values["sentiment_logits"])
        probs = blend_with_char(probs, texts, self.char_model, self.blend_weights, langs)
        self._recheck_close_calls(probs, texts, langs)
        return probs, values.get("emotion_logits") if emotion else None

    def _recheck_close_calls(
        self, probs: np.ndarray, texts: Sequence[str], langs: Sequence[str] | None, *, blend: bool = True
    ) -> None:
        """With a recheck margin, score the close calls of the int8 ``probs`` again with the
        fp32 graph, in place (``blend``: ``probs`` are blended with the char model)."""
        from nlp.blend import blend_with_char

        if self.spec.recheck_margin is None:
            return
        close = close_calls(probs, self.spec.recheck_margin)
        if not close.size:
            return
        some = [texts[i] for i in close]
        logits = self.run(some, ["sentiment_logits"], session=self.recheck_session())["sentiment_logits"]
        again = _softmax(logits)
        if blend:
            some_langs = [langs[i] for i in close] if langs is not None else None
            again = blend_with_char(again, some, self.char_model, self.blend_weights, some_langs)
        probs[close] = again

    def transformer_probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """The network's probabilities alone (no character n-grams; close calls rechecked
        on these when the directory has a recheck margin)."""
        if not len(texts):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        probs = _softmax(self.run(texts, ["sentiment_logits"])["sentiment_logits"])
        self._recheck_close_calls(probs, texts, None, blend=False)
        return probs

    def probabilities(self, texts: Sequence[str], langs: Sequence[str] | None = None) -> np.ndarray:
        """(n, classes) probabilities, blended with the char n-gram model as the torch backend does."""
        if not len(texts):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self._scores(texts, emotion=False, langs=langs)[0]

    def predict_with_emotion(self, texts: list[str], langs: Sequence[str] | None = None):
        """(sentiment results, (n, emotions) emotion logits or None), from one pass."""
        if not self.has_emotion or not texts:
            return self.predict(texts, langs), None
        probs, emotion = self._scores(texts, emotion=True, langs=langs)
        return results_from_probabilities(probs, self.labels, self.name, self.version), emotion

    def make_embedder(self) -> OnnxEmbedder:
        """A topic embedder fed by this model's passes (see :func:`nlp.embeddings.shared_embedder`)."""
        return OnnxEmbedder(self)

    def attach_embedder(self, embedder: OnnxEmbedder) -> None:
        """From now on every pass also hands its topic vectors to ``embedder``."""
        self.embedder = embedder


class OnnxEmbedder(VectorCache):
    """Topic vectors (the base e5's, as :class:`nlp.embeddings.E5Embedder` gives them) from an
    exported model: kept from the sentiment passes, computed by the same graph otherwise."""

    name = "multilingual-e5-small"

    def __init__(self, model: OnnxSentiment, cache_limit: int = 50_000) -> None:
        output = next(o for o in model.session(with_embedding=True).get_outputs() if o.name == EMBEDDING)
        super().__init__(cache_limit, dim=int(output.shape[1]))
        self.model = model

    def model_text(self, text: str) -> str:
        return self.model.model_texts([text])[0]

    def encode(self, model_texts: Sequence[str]) -> np.ndarray:
        """Vectors of texts no pass has seen (already prefixed and normalised)."""
        batches = []
        session = self.model.session(with_embedding=True)
        for start in range(0, len(model_texts), self.model.batch_size):
            batch = self.model.encode(model_texts[start : start + self.model.batch_size])
            batches.append(session.run([EMBEDDING], batch)[0])
        return np.concatenate(batches) if batches else np.zeros((0, 0), dtype=np.float32)
