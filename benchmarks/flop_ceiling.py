"""How fast the sentiment encoder could go on one core: FLOPs per mention against the
GEMM rate one thread reaches on this CPU.

1. Tokens per mention on the enrich benchmark's texts (the model's prefix and
   normalisation, truncation at ``max_length``), and the tokens actually computed
   in length-sorted batches of 64 (padding included).
2. FLOPs per mention of the network (every encoder layer's Linear layers and
   attention products; the pooler and head are negligible).
3. One thread's measured rate on the encoder's own GEMM shapes (fp32 ``torch.mm``,
   bf16 ``torch.mm`` where the CPU has bf16 kernels, and the int8 dynamic-quantised
   ``Linear``), timed in process CPU time so that
   other processes on the machine inflate it less than wall time.

The ceiling is (3) / (2): mentions per second if every FLOP ran at the GEMM rate.

Usage: python benchmarks/flop_ceiling.py [--model default] [--n 600]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def flops_per_token(hidden: int, intermediate: int, layers: int, seq: float) -> float:
    """Multiply-adds x 2 of one token through ``layers`` BERT layers at sequence length ``seq``."""
    linear = 4 * hidden * hidden + 2 * hidden * intermediate  # Q, K, V, O; FFN up, down
    attention = 2 * seq * hidden  # QK^T and AV
    return 2.0 * layers * (linear + attention)


def gemm_rate(m: int, k: int, n: int, kind: str, seconds: float = 2.0) -> float:
    """FLOP/s of one thread on (m x k) @ (k x n) in ``kind`` (fp32, bf16, or int8: the
    dynamic-quantised ``Linear``), measured in process CPU time."""
    import torch

    x = torch.randn(m, k)
    if kind == "int8":
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = quantize_dynamic(
                torch.nn.Sequential(torch.nn.Linear(k, n)), {torch.nn.Linear}, torch.qint8
            )
        run = lambda: layer(x)  # noqa: E731
    else:
        dtype = torch.bfloat16 if kind == "bf16" else torch.float32
        x, w = x.to(dtype), torch.randn(k, n, dtype=dtype)
        run = lambda: x @ w  # noqa: E731
    with torch.inference_mode():
        run()
        calls, started = 0, time.process_time()
        while time.process_time() - started < seconds:
            run()
            calls += 1
        return 2.0 * m * k * n * calls / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    import torch

    from benchmarks.enrich_benchmark import conditions, default_files, sample_texts
    from nlp.quantize import bf16_supported
    from nlp.sentiment import create

    torch.set_num_threads(1)
    load_before = os.getloadavg()
    texts = sample_texts(default_files(), args.n, args.seed)
    model = create(args.model)
    config = model.model.config
    inputs = model.model_texts(texts)
    lengths = sorted(
        len(ids) for ids in model.tokenizer(inputs, truncation=True, max_length=model.max_length)["input_ids"]
    )
    padded = sum(
        max(lengths[i : i + args.batch_size]) * len(lengths[i : i + args.batch_size])
        for i in range(0, len(lengths), args.batch_size)
    )
    mean_tokens, mean_padded = sum(lengths) / len(lengths), padded / len(lengths)
    seq = mean_padded
    per_token = flops_per_token(config.hidden_size, config.intermediate_size, config.num_hidden_layers, seq)
    per_mention = per_token * mean_padded
    m = int(args.batch_size * seq)
    shapes = [
        (m, config.hidden_size, config.hidden_size),
        (m, config.hidden_size, config.intermediate_size),
        (m, config.intermediate_size, config.hidden_size),
    ]
    rates = {}
    # bf16 where the CPU has its kernels: the default precision there (nlp.quantize)
    kinds = ("fp32", "bf16", "int8") if bf16_supported() else ("fp32", "int8")
    for name in kinds:
        # weighted as in one layer: 4 square GEMMs, one up and one down projection
        per_shape = [gemm_rate(*shape, kind=name) for shape in shapes]
        work = [4 * shapes[0][1] * shapes[0][2], shapes[1][1] * shapes[1][2], shapes[2][1] * shapes[2][2]]
        seconds = sum(w / r for w, r in zip(work, per_shape, strict=True))
        rates[name] = sum(work) / seconds
    print(
        json.dumps(
            {
                "conditions": {**conditions(), "threads": 1, "load_before": load_before},
                "texts": len(texts),
                "tokens_per_mention": round(mean_tokens, 1),
                "computed_tokens_per_mention": round(mean_padded, 1),
                "gflop_per_mention": round(per_mention / 1e9, 3),
                "gemm_gflops_one_thread": {k: round(v / 1e9, 1) for k, v in rates.items()},
                "ceiling_mentions_per_s": {k: round(v / per_mention, 1) for k, v in rates.items()},
                "load_after": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
