"""Sentence embeddings for topics: multilingual-e5-small (mean pooled, L2-normalised).

Runs the dequantised encoder from :mod:`nlp.e5_base` in length-sorted batches,
in bfloat16 where the CPU supports it. Loaded once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from nlp.normalize import normalise_for_model


class E5Embedder:
    """``embed(texts) -> (n, 384)`` unit vectors, comparable across languages."""

    name = "multilingual-e5-small"

    def __init__(self, batch_size: int = 64, max_length: int = 128) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from nlp.e5_base import ensure_encoder, quiet_loading
        from nlp.sentiment import _bf16_supported, _torch_threads

        torch.set_num_threads(_torch_threads())
        path = ensure_encoder()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        with quiet_loading():  # mean pooling: the pooler layer is not used (nor loaded)
            self.model = AutoModel.from_pretrained(path, add_pooling_layer=False).eval()
        if _bf16_supported():
            self.model = self.model.to(torch.bfloat16)
        self.batch_size = batch_size
        self.max_length = max_length

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        inputs = ["query: " + normalise_for_model(t) for t in texts]
        out = np.zeros((len(inputs), self.model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
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
                hidden = self.model(**batch).last_hidden_state.float()
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
                out[idx] = pooled.numpy()
        return out


@lru_cache(maxsize=1)
def get_embedder() -> E5Embedder:
    """The process-wide embedder."""
    return E5Embedder()
