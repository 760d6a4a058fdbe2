"""Which ONNX Runtime int8 configuration keeps the sentiment model's answers.

Like ``int8_variants.py`` (torch), on texts from the TRAINING files (300 TweetEval
train, 40 per UMSAB language, seed 11), never validation files: label agreement
with the ONNX fp32 graph, probability differences, macro-recall and CPU-time
speed-up of the network alone, one thread. ``smooth_A`` variants scale the graph
first (SmoothQuant, alpha A; :mod:`nlp.onnx_smooth`), calibrated on 320 other
training-file texts (``probe_texts.calibration_texts``); ``per_token`` variants give
each token its own activation scale (:mod:`nlp.onnx_per_token`); ``recheck`` variants
score texts whose best two probabilities lie closer than the margin again in fp32
(:mod:`nlp.onnx_recheck`), and every row says what such a margin would cost
(``close_pct``: share of texts under it) and need (``flip_margin_max``).

Usage: python benchmarks/onnx_int8_variants.py --fp32 DIR [--work /tmp/onnx-int8-variants]
(DIR: written by ``brandpulse export-onnx``; each variant is written under --work.)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402

DATA = data_dir()
SKIP_OUTPUT = ("output/dense",)  # attention-out and FFN-out projections (".../output/dense/MatMul")
SKIP_FFN = ("intermediate/dense", "output/dense")
FFN_OUT_INPUT = ("act_fn",)  # the GELU output that the FFN-out projection reads
SCORES = ("self/MatMul",)  # the attention scores and their product with V (activations only)

VARIANTS = {
    "s8_per_channel": {},
    "s8_per_channel_float_attention_scores": {"keep_float": SCORES},
    "u8u8_per_channel_float_attention_scores": {"unsigned_weights": True, "keep_float": SCORES},
    "s8_per_tensor": {"per_channel": False},
    "s8_per_channel_reduce_range": {"reduce_range": True},
    "u8u8_per_channel": {"unsigned_weights": True},
    "s8_per_channel_skip_output_dense": {"keep_float": SKIP_OUTPUT},
    "s8_per_channel_reduce_range_skip_ffn": {"reduce_range": True, "keep_float": SKIP_FFN},
    "u8u8_per_channel_skip_output_dense": {"unsigned_weights": True, "keep_float": SKIP_OUTPUT},
    "s8_per_channel_smooth_0.5": {"smooth": 0.5},
    "s8_per_channel_smooth_0.7": {"smooth": 0.7},
    "s8_per_channel_smooth_0.8": {"smooth": 0.8},
    "s8_per_channel_smooth_0.9": {"smooth": 0.9},
    "s8_per_channel_reduce_range_smooth_0.7": {"reduce_range": True, "smooth": 0.7},
    "u8u8_per_channel_smooth_0.7": {"unsigned_weights": True, "smooth": 0.7},
    "u8u8_per_channel_smooth_0.8": {"unsigned_weights": True, "smooth": 0.8},
    "s8_per_token": {"per_token": True},
    "s8_per_token_smooth_0.7_not_ffn_out": {"per_token": True, "smooth": 0.7, "smooth_skip": FFN_OUT_INPUT},
    "s8_per_token_smooth_0.8_not_ffn_out": {"per_token": True, "smooth": 0.8, "smooth_skip": FFN_OUT_INPUT},
    # per-token ranges for the FFN-out input alone (its outliers are single tokens'), the rest
    # smoothed per-tensor (ONNX Runtime's fused kernels)
    "s8_per_token_ffn_out_smooth_0.7_elsewhere": {
        "per_token": True,
        "per_token_inputs": FFN_OUT_INPUT,
        "smooth": 0.7,
        "smooth_skip": FFN_OUT_INPUT,
    },
    # the same, texts with a margin under 0.1 scored again by the fp32 graph (nlp.onnx_recheck):
    # 0.1 is the first of 0.05, 0.1, 0.15, 0.2 above every flip's margin in the row before
    "s8_per_token_ffn_out_smooth_0.7_elsewhere_recheck_0.1": {
        "per_token": True,
        "per_token_inputs": FFN_OUT_INPUT,
        "smooth": 0.7,
        "smooth_skip": FFN_OUT_INPUT,
        "recheck_margin": 0.1,
    },
}
RECHECK_GRID = (0.05, 0.1, 0.15, 0.2)


def main() -> None:
    import numpy as np
    from probe_texts import calibration_texts, onnx_variant_args, probe_set, timed_probabilities
    from probe_texts import macro_recall as probe_recall

    from nlp.onnx_export import Int8Options, quantise_export
    from nlp.onnx_sentiment import OnnxSentiment

    args = onnx_variant_args(__doc__, "/tmp/onnx-int8-variants", list(VARIANTS))
    texts, gold = probe_set(DATA)
    calibration = calibration_texts(DATA, set(texts))

    def macro_recall(pred) -> float:
        return probe_recall(pred, gold)

    def top_margin(probs):
        top = np.sort(probs, axis=1)
        return top[:, -1] - top[:, -2]

    ref, ref_seconds = timed_probabilities(OnnxSentiment(args.fp32, threads=1), texts)
    row = {"variant": "fp32", "n": len(texts), "cpu_s": round(ref_seconds, 1)}
    print(json.dumps({**row, "macro_recall": macro_recall(ref.argmax(1))}), flush=True)
    for name in args.variants.split(","):
        options = Int8Options(**VARIANTS[name])
        out = quantise_export(args.fp32, args.work / name, options, calibration=calibration)
        probs, seconds = timed_probabilities(OnnxSentiment(out, threads=1), texts)
        margin, flips = top_margin(probs), probs.argmax(1) != ref.argmax(1)
        row = {
            "variant": name,
            "cpu_s": round(seconds, 1),
            "speedup_cpu": round(ref_seconds / seconds, 2),
            "agree_pct": round(float((~flips).mean()) * 100, 2),
            # what a recheck margin would cost and catch: the largest flip's margin, and the
            # share of texts under each margin of the grid
            "flip_margin_max": round(float(margin[flips].max(initial=0.0)), 3),
            "close_pct": {str(m): round(float((margin < m).mean()) * 100, 1) for m in RECHECK_GRID},
            "max_diff": round(float(np.abs(probs - ref).max()), 3),
            "macro_recall": macro_recall(probs.argmax(1)),
            "weights_mb": round((out / "weights.bin").stat().st_size / 2**20, 1),
            "load": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
