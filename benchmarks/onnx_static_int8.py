"""Static (calibrated) ONNX Runtime int8 against the fp32 graph: does calibration beat dynamic int8?

``onnx_int8_variants.py`` measured dynamic int8 (activation ranges found per batch
at run time). This tries ``quantize_static``: activation ranges fixed beforehand
from calibration texts, QDQ format, per-channel int8 weights, uint8 activations,
7-bit weights (``reduce_range``, for AVX2 CPUs without VNNI). Calibration texts
come from the TRAINING files (160 TweetEval train, 20 per UMSAB language, seed 12,
none of them in the probe set); the probe set and the figures are those of
``onnx_int8_variants.py`` (label agreement with fp32, probability difference,
macro-recall, CPU-time speed-up of the network alone, one thread).

Usage: python benchmarks/onnx_static_int8.py --fp32 DIR [--variants a,b] [--work /tmp/onnx-static-int8]
(DIR: written by ``brandpulse export-onnx``.)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402

DATA = data_dir()
SCORES = ("self/MatMul",)  # attention scores and their product with V: activation x activation
OUTPUTS = ("output/dense",)  # attention-out and FFN-out projections

# name: (calibration method, MatMul name patterns kept float)
VARIANTS = {
    "minmax": ("MinMax", ()),
    "percentile": ("Percentile", ()),
    "minmax_float_scores": ("MinMax", SCORES),
    "percentile_float_scores": ("Percentile", SCORES),
    "percentile_float_scores_and_outputs": ("Percentile", SCORES + OUTPUTS),
}


def main() -> None:
    import numpy as np
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from probe_texts import calibration_texts, macro_recall, onnx_variant_args, probe_set, timed_probabilities

    from nlp.onnx_export import Int8Options, kept_matmuls, quantise_export
    from nlp.onnx_sentiment import MODEL_FILE, OnnxSentiment

    args = onnx_variant_args(__doc__, "/tmp/onnx-static-int8", list(VARIANTS))
    texts, gold = probe_set(DATA)
    reference = OnnxSentiment(args.fp32, threads=1)
    calib = calibration_texts(DATA, set(texts))
    pad_id = reference.tokenizer.token_to_id("<pad>")

    class Batches(CalibrationDataReader):
        """Calibration batches padded to one width (histogram methods need equal shapes)."""

        def __init__(self) -> None:
            batches = [
                reference.encode(reference.model_texts(calib[i : i + 16])) for i in range(0, len(calib), 16)
            ]
            width = max(b["input_ids"].shape[1] for b in batches)
            self.batches = iter(
                {
                    "input_ids": np.pad(
                        b["input_ids"], ((0, 0), (0, width - b["input_ids"].shape[1])), constant_values=pad_id
                    ),
                    "attention_mask": np.pad(
                        b["attention_mask"], ((0, 0), (0, width - b["attention_mask"].shape[1]))
                    ),
                }
                for b in batches
            )

        def get_next(self):
            return next(self.batches, None)

    ref, ref_seconds = timed_probabilities(reference, texts)
    row = {
        "variant": "fp32",
        "n": len(texts),
        "calibration_texts": len(calib),
        "cpu_s": round(ref_seconds, 1),
    }
    print(json.dumps({**row, "macro_recall": macro_recall(ref.argmax(1), gold)}), flush=True)
    graph = onnx.load(str(args.fp32 / MODEL_FILE), load_external_data=False).graph
    for name in args.variants.split(","):
        method, patterns = VARIANTS[name]
        kept = kept_matmuls(graph, patterns)

        def static(source: Path, target: Path, method: str = method, kept: list[str] = kept) -> None:
            quantize_static(
                str(source),
                str(target),
                Batches(),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=["MatMul"],
                per_channel=True,
                reduce_range=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=getattr(CalibrationMethod, method),
                nodes_to_exclude=kept,
                use_external_data_format=True,
            )

        started = time.time()
        # the options record what the static pass did: per-channel 7-bit int8 weights, kept MatMuls
        options = Int8Options(reduce_range=True, keep_float=patterns)
        out = quantise_export(args.fp32, args.work / name, options, quantiser=static)
        probs, seconds = timed_probabilities(OnnxSentiment(out, threads=1), texts)
        row = {
            "variant": name,
            "matmuls_kept_float": len(kept),
            "quantise_s": round(time.time() - started),
            "cpu_s": round(seconds, 1),
            "speedup_cpu": round(ref_seconds / seconds, 2),
            "agree_pct": round(float((probs.argmax(1) == ref.argmax(1)).mean()) * 100, 2),
            "max_diff": round(float(np.abs(probs - ref).max()), 3),
            "macro_recall": macro_recall(probs.argmax(1), gold),
            "load": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
