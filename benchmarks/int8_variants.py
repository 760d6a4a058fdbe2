"""Which int8 configuration keeps the sentiment model's answers: fidelity to fp32.

Chosen on texts from the TRAINING files (300 TweetEval train, 40 per UMSAB
language, seed 11), never on validation files: label agreement with the fp32
network, probability differences, macro-recall, and CPU-time speed-up, one thread.

Usage: python benchmarks/int8_variants.py
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402

DATA = data_dir()


def main() -> None:
    import numpy as np
    import torch
    from probe_texts import macro_recall as probe_recall
    from probe_texts import probe_set
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    from nlp.sentiment import E5Sentiment

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    texts, gold = probe_set(DATA)

    def macro_recall(pred) -> float:
        return probe_recall(pred, gold)

    model = E5Sentiment(precision="fp32")
    base = model.model
    started = time.process_time()
    ref = model.transformer_probabilities(texts)
    ref_seconds = time.process_time() - started
    print(
        json.dumps(
            {
                "variant": "fp32",
                "n": len(texts),
                "cpu_s": round(ref_seconds, 1),
                "macro_recall": macro_recall(ref.argmax(1)),
            }
        )
    )
    variants = {
        "per_tensor_all": (default_dynamic_qconfig, ()),
        "per_channel_all": (per_channel_dynamic_qconfig, ()),
        "per_channel_skip_output_dense": (per_channel_dynamic_qconfig, (".output.dense",)),
        "per_channel_skip_output_dense_head": (
            per_channel_dynamic_qconfig,
            (".output.dense", "pooler", "classifier"),
        ),
        "per_channel_skip_ffn_and_output": (
            per_channel_dynamic_qconfig,
            (".output.dense", ".intermediate.dense"),
        ),
    }
    for name, (qconfig, skip) in variants.items():
        net = copy.deepcopy(base)
        spec = {
            n: qconfig
            for n, module in net.named_modules()
            if isinstance(module, torch.nn.Linear) and not any(s in n for s in skip)
        }
        model.model = quantize_dynamic(net, spec, dtype=torch.qint8, inplace=True)
        started = time.process_time()
        probs = model.transformer_probabilities(texts)
        seconds = time.process_time() - started
        row = {
            "variant": name,
            "quantised_linear": len(spec),
            "cpu_s": round(seconds, 1),
            "speedup_cpu": round(ref_seconds / seconds, 2),
            "agree_pct": round(float((probs.argmax(1) == ref.argmax(1)).mean()) * 100, 2),
            "max_diff": round(float(np.abs(probs - ref).max()), 3),
            "macro_recall": macro_recall(probs.argmax(1)),
            "load": os.getloadavg()[0],
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
