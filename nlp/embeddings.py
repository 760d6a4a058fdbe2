"""Sentence embeddings for topics: multilingual-e5-small (mean pooled, L2-normalised).

The encoder is split at a layer: the *front* (token embeddings and layers
``[0, cut)``) and the *top* (layers ``[cut, 12)`` of the base e5, then mean
pooling). On its own (:func:`get_embedder`) the embedder owns the whole base
encoder (``cut = 0``). Built from the sentiment model
(:func:`shared_embedder`), it reuses that model's front, which is the frozen
base e5 (only layers ``>= cut_layer`` were fine-tuned), so one pass of the
lower layers serves sentiment and topics: :class:`nlp.sentiment.E5Sentiment`
hands each batch's cut-layer states to :meth:`E5Embedder.remember`, and
:meth:`E5Embedder.embed` later takes those vectors from its cache instead of
encoding the texts again.

Precision follows ``BRANDPULSE_INFERENCE_PRECISION`` (see :mod:`nlp.quantize`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from nlp.normalize import normalise_for_model

PREFIX = "query: "


def lower_states(bert, batch, cut: int):
    """(hidden states after layer ``cut - 1``, attention mask for the layers) of a
    ``BertModel`` for a tokenised batch: the embeddings and the first ``cut`` layers."""
    from transformers.masking_utils import create_bidirectional_mask

    hidden = bert.embeddings(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids"))
    mask = create_bidirectional_mask(
        config=bert.config, inputs_embeds=hidden, attention_mask=batch["attention_mask"]
    )
    return run_layers(bert.encoder.layer[:cut], hidden, mask), mask


def run_layers(layers, hidden, mask):
    """``hidden`` through ``layers`` (BERT layers) in order."""
    for layer in layers:
        hidden = layer(hidden, mask)
    return hidden


def mean_pool(hidden, attention_mask):
    """Mask-aware mean over tokens, L2-normalised, float32."""
    import torch

    mask = attention_mask.unsqueeze(-1).float()
    pooled = (hidden.float() * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _base_layers(indices: Sequence[int], config, dtype) -> Any:
    """Layers ``indices`` of the base e5 as a ``ModuleList``, read alone from its safetensors
    (the rest of the base, mostly the 250k-word embedding table, is never loaded).
    ``config`` is the sharing model's (same shape; its attention implementation)."""
    import torch
    from safetensors import safe_open
    from transformers.models.bert.modeling_bert import BertLayer

    from nlp.e5_base import ensure_encoder

    path = ensure_encoder()
    layers = torch.nn.ModuleList()
    with safe_open(str(path / "model.safetensors"), "pt") as weights:
        names = list(weights.keys())
        for i in indices:
            prefix = f"encoder.layer.{i}."
            layer = BertLayer(config, layer_idx=i)
            state = {k[len(prefix) :]: weights.get_tensor(k) for k in names if k.startswith(prefix)}
            layer.load_state_dict(state, strict=True)
            layers.append(layer.to(dtype).eval())
    return layers


class VectorCache:
    """Topic vectors by model input: kept from a sharing model's passes (float16, oldest
    dropped past ``cache_limit``), encoded by :meth:`encode` for texts not seen."""

    def __init__(self, cache_limit: int = 50_000, dim: int = 384) -> None:
        self.cache_limit = cache_limit
        self.dim = dim
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def model_text(self, text: str) -> str:
        return PREFIX + normalise_for_model(text)

    def encode(self, model_texts: Sequence[str]) -> np.ndarray:
        """(n, dim) unit vectors of model inputs (length-sorted by the caller)."""
        raise NotImplementedError

    def keep(self, model_texts: Sequence[str], vectors: np.ndarray) -> None:
        """Keep one batch's vectors (float16) for :meth:`embed`."""
        for text, vector in zip(model_texts, np.asarray(vectors).astype(np.float16), strict=True):
            self._cache[text] = vector
            self._cache.move_to_end(text)
        while len(self._cache) > self.cache_limit:
            self._cache.popitem(last=False)

    def forget(self) -> None:
        """Drop every cached vector."""
        self._cache.clear()

    @property
    def cached(self) -> int:
        """How many vectors wait in the cache."""
        return len(self._cache)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors in input order: from the cache where a sharing model already
        computed them, encoded now (length-sorted) otherwise."""
        inputs = [self.model_text(t) for t in texts]
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        missing = []
        for i, text in enumerate(inputs):
            hit = self._cache.get(text)  # not popped: a repeated text hits again
            if hit is None:
                missing.append(i)
            else:
                out[i] = hit
        order = sorted(missing, key=lambda i: len(inputs[i]))
        if order:
            out[order] = self.encode([inputs[i] for i in order])
        # float16 cache rounding: re-normalise so every row is a unit vector
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class E5Embedder(VectorCache):
    """``embed(texts) -> (n, 384)`` unit vectors, comparable across languages."""

    name = "multilingual-e5-small"

    def __init__(
        self,
        batch_size: int = 64,
        max_length: int = 128,
        *,
        precision: str | None = None,
        shared: tuple[Any, Any, int] | None = None,
        cache_limit: int = 50_000,
    ) -> None:
        """``shared``: (tokenizer, front ``BertModel``, cut layer) of a model whose
        embeddings and layers ``[0, cut)`` are the base e5's; ``None``: load the base."""
        import torch

        from brandpulse.core.settings import LocalSettings
        from nlp.quantize import inference_precision, load_dtype, prepare

        torch.set_num_threads(LocalSettings.load().torch_threads)
        self.precision = inference_precision(precision)
        if shared is None:
            from transformers import AutoModel

            from nlp.e5_base import encoder_tokenizer, ensure_encoder, quiet_loading

            dtype = load_dtype(self.precision)
            path = ensure_encoder(dtype)
            self.tokenizer = encoder_tokenizer()
            with quiet_loading():  # mean pooling: the pooler layer is not used (nor loaded)
                base = AutoModel.from_pretrained(path, dtype=dtype, add_pooling_layer=False)
            bert = prepare(base, self.precision)
            self.front, self.cut, self.top = bert, bert.config.num_hidden_layers, torch.nn.ModuleList()
        else:
            self.tokenizer, self.front, self.cut = shared
            config = self.front.config
            layers = _base_layers(
                range(self.cut, config.num_hidden_layers), config, load_dtype(self.precision)
            )
            self.top = prepare(layers, self.precision)
        super().__init__(cache_limit, dim=self.front.config.hidden_size)
        self.batch_size = batch_size
        self.max_length = max_length

    def from_lower(self, hidden, mask, attention_mask) -> np.ndarray:
        """Unit vectors from the front's cut-layer states of one batch."""
        return mean_pool(run_layers(self.top, hidden, mask), attention_mask).numpy()

    def remember(self, model_texts: Sequence[str], hidden, mask, attention_mask) -> None:
        """Embed one batch from the cut-layer states a sharing model computed, and keep
        the vectors (float16) for :meth:`embed` (oldest dropped past ``cache_limit``)."""
        self.keep(model_texts, self.from_lower(hidden, mask, attention_mask))

    def encode(self, model_texts: Sequence[str]) -> np.ndarray:
        """Vectors through the front and the base top layers, in batches."""
        import torch

        out = np.zeros((len(model_texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(model_texts), self.batch_size):
                batch = self.tokenizer(
                    list(model_texts[start : start + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden, mask = lower_states(self.front, batch, self.cut)
                out[start : start + self.batch_size] = self.from_lower(hidden, mask, batch["attention_mask"])
        return out


@lru_cache(maxsize=1)
def get_embedder() -> E5Embedder:
    """The process-wide stand-alone embedder (the whole base encoder)."""
    return E5Embedder()


def shared_embedder(model) -> VectorCache | None:
    """An embedder sharing ``model``'s lower layers, attached to it, or ``None`` where the
    model cannot share (another backend, another base, another prefix or length)."""
    if getattr(model, "embedder", None) is not None:
        return model.embedder
    make = getattr(model, "make_embedder", None)  # nlp.onnx_sentiment: vectors from its own graph
    if make is not None:
        embedder = make()
        model.attach_embedder(embedder)
        return embedder
    share = getattr(model, "encoder_front", None)
    if share is None:
        return None
    front = share()
    if front is None:
        return None
    embedder = E5Embedder(max_length=front[3], precision=model.precision, shared=front[:3])
    model.attach_embedder(embedder)
    return embedder
