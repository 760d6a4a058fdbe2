"""Inference precision for the encoder models: fp32, bfloat16 or dynamic int8.

``BRANDPULSE_INFERENCE_PRECISION`` picks one (see :func:`inference_precision`):

* ``auto`` (default): bfloat16 where the CPU has AVX-512 (the previous
  behaviour), float32 elsewhere;
* ``fp32``, ``bf16``: the whole network in that dtype;
* ``int8``: torch dynamic quantisation of every ``nn.Linear`` (int8 weights with
  per-channel scales, activations quantised per batch, fbgemm/oneDNN kernels;
  VNNI where the CPU has it); the word-embedding table is kept in bfloat16 (a
  lookup, no GEMM). Opt-in: it costs accuracy (nlp/README.md, "Speed").

:func:`prepare` applies a precision to a loaded network; :func:`describe`
reports what actually runs (dtypes, quantised layers, kernels), for benchmarks.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

PRECISIONS = ("auto", "fp32", "bf16", "int8")


def bf16_supported() -> bool:
    """True where torch dispatches AVX-512 kernels and oneDNN is built in."""
    import torch

    return "AVX512" in torch.backends.cpu.get_cpu_capability() and torch.backends.mkldnn.is_available()


def inference_precision(setting: str | None = None) -> str:
    """The concrete precision (``fp32``, ``bf16`` or ``int8``) for a setting.

    ``setting`` defaults to ``BRANDPULSE_INFERENCE_PRECISION``.
    """
    if setting is None:
        from brandpulse.core.settings import LocalSettings

        setting = LocalSettings.load().inference_precision
    setting = setting.strip().lower() or "auto"
    if setting not in PRECISIONS:
        raise ValueError(f"inference precision {setting!r}: expected one of {', '.join(PRECISIONS)}")
    if setting == "auto":
        return "bf16" if bf16_supported() else "fp32"
    return setting


def load_dtype(precision: str):
    """The dtype to load weights in for a concrete precision (int8 quantises from fp32)."""
    import torch

    return torch.bfloat16 if precision == "bf16" else torch.float32


class CompactEmbedding:
    """Factory for an ``nn.Embedding`` replacement that stores its table in bfloat16
    and returns float32 rows (the 250k x 384 vocabulary table halves; lookups only)."""

    @staticmethod
    def replace(embedding) -> Any:
        import torch

        class _Bf16Embedding(torch.nn.Module):
            table: torch.Tensor

            def __init__(self, weight: torch.Tensor, padding_idx: int | None) -> None:
                super().__init__()
                self.register_buffer("table", weight.detach().to(torch.bfloat16), persistent=False)
                self.padding_idx = padding_idx
                self.embedding_dim = weight.shape[1]
                self.num_embeddings = weight.shape[0]

            def forward(self, ids: torch.Tensor) -> torch.Tensor:
                return torch.nn.functional.embedding(ids, self.table).float()

        return _Bf16Embedding(embedding.weight, embedding.padding_idx)


def prepare(network, precision: str):
    """``network`` (eval mode) converted to a concrete precision; returns the network to use."""
    import torch

    network = network.eval()
    if precision == "bf16":
        return network.to(torch.bfloat16)
    network = network.float()
    if precision == "fp32":
        return network
    if precision != "int8":
        raise ValueError(f"unknown precision {precision!r}")
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch.ao's eager quantisation is deprecated in favour of torchao (not installed);
        # it still ships and runs in torch 2.13
        warnings.simplefilter("ignore")
        # per-channel weight scales: on held-out training texts 90.0% of labels agreed with
        # fp32, against 85.2% with one scale per tensor (nlp/README.md, "Speed")
        network = quantize_dynamic(
            network, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
    _compact_word_embeddings(network)
    return network


def _compact_word_embeddings(network) -> None:
    """Swap the (large) word-embedding table of a BERT-style network for a bf16 copy."""
    import torch

    for module in network.modules():
        holder = getattr(module, "word_embeddings", None)
        if isinstance(holder, torch.nn.Embedding) and holder.weight.shape[0] >= 10_000:
            module.word_embeddings = CompactEmbedding.replace(holder)


def describe(network) -> dict:
    """What runs: parameter dtypes, quantised Linear count, attention and CPU kernels."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as Int8Linear

    dtypes = Counter(str(p.dtype).removeprefix("torch.") for p in network.parameters())
    modules = list(network.modules())
    config = getattr(network, "config", None)
    return {
        "param_dtypes": dict(dtypes),
        "int8_linear": sum(isinstance(m, Int8Linear) for m in modules),
        "float_linear": sum(isinstance(m, torch.nn.Linear) for m in modules),
        "attention": getattr(config, "_attn_implementation", None),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "quantized_engine": torch.backends.quantized.engine,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "bf16_kernels": bf16_supported(),
    }
