"""Accuracy of one sentiment model at several inference precisions, on every val file.

The int8 setting (``BRANDPULSE_INFERENCE_PRECISION=int8``) may become the default
only if, on every validation file, macro-recall and macro-F1 stay within
``--tolerance`` (0.3 points) of the unquantised model. Each precision scores
TweetEval val, each UMSAB ``xlmt-sentiment/<lang>/val.jsonl`` and each
``more-sentiment/*/val.jsonl`` (validation files only, never a test split).

Usage: python benchmarks/precision_accuracy.py [--model default] [--precisions fp32,int8]
Prints one JSON line per (precision, file), then a verdict line per compared precision.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def val_files(root: Path) -> dict[str, Path]:
    """``{short name: path}`` of every validation file used for the check."""
    files = {"tweeteval": root / "tweeteval-sentiment" / "val.jsonl"}
    files |= {f"xlmt/{p.parent.name}": p for p in sorted(root.glob("xlmt-sentiment/*/val.jsonl"))}
    files |= {f"more/{p.parent.name}": p for p in sorted(root.glob("more-sentiment/*/val.jsonl"))}
    return {k: v for k, v in files.items() if v.exists()}


def compare(results: dict[str, dict[str, dict]], reference: str, tolerance: float) -> dict[str, dict]:
    """Per compared precision: the largest drop in macro-recall/F1 and whether all stay within."""
    verdicts = {}
    for precision, by_file in results.items():
        if precision == reference:
            continue
        drops = {
            name: {
                metric: round(results[reference][name][metric] - scores[metric], 2)
                for metric in ("macro_recall", "macro_f1")
            }
            for name, scores in by_file.items()
        }
        worst = max(max(d.values()) for d in drops.values())
        verdicts[precision] = {
            "reference": reference,
            "worst_drop": worst,
            "within_tolerance": worst <= tolerance,
            "tolerance": tolerance,
            "drops": drops,
        }
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--precisions", default="fp32,int8", help="the first is the reference")
    parser.add_argument("--tolerance", type=float, default=0.3)
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("BRANDPULSE_DATA_DIR", REPO.parent / "shared" / "data")),
    )
    args = parser.parse_args()

    from nlp.sentiment import create
    from nlp.training.evaluation import evaluate
    from nlp.training.labelled import read_jsonl

    files = val_files(args.data)
    precisions = args.precisions.split(",")
    results: dict[str, dict[str, dict]] = {}
    for precision in precisions:
        os.environ["BRANDPULSE_INFERENCE_PRECISION"] = precision
        model = create(args.model)
        results[precision] = {}
        for name, path in files.items():
            load = os.getloadavg()[0]
            started = time.perf_counter()
            scores = evaluate(model, read_jsonl(path)).summary()
            row = {"precision": precision, "file": name, **scores, "load_before": round(load, 2)}
            row["seconds"] = round(time.perf_counter() - started, 1)
            results[precision][name] = scores
            print(json.dumps(row), flush=True)
        del model
    for precision, verdict in compare(results, precisions[0], args.tolerance).items():
        print(json.dumps({"precision": precision, **verdict}))


if __name__ == "__main__":
    main()
