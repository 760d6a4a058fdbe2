"""Accuracy of one sentiment model at several inference precisions, on every val file.

The int8 setting (``BRANDPULSE_INFERENCE_PRECISION=int8``) may become the default
only if, on every validation file, macro-recall and macro-F1 stay within
``--tolerance`` (0.3 points) of the unquantised model. Each precision scores
TweetEval val, each UMSAB ``xlmt-sentiment/<lang>/val.jsonl`` and each
``more-sentiment/*/val.jsonl`` (validation files only, never a test split).
``--models NAME=REF`` adds other model references to compare, e.g. the ONNX
exports (``ort-fp32=onnx:/tmp/e5-onnx``); each line then also says how many
labels equal the reference's (the first entry) and the largest probability difference;
``one_label_pts`` is how far a single changed label can move the file's macro-recall.

Usage: python benchmarks/precision_accuracy.py [--model default] [--precisions fp32,int8]
       [--models NAME=REF ...] [--limit N]
Prints one JSON line per (entry, file), then a verdict line per compared entry.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402


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


def entries(model: str, precisions: str, models: list[str]) -> list[tuple[str, str, str | None]]:
    """(name, model reference, precision or None) per compared entry; the first is the reference."""
    out: list[tuple[str, str, str | None]] = [(p, model, p) for p in precisions.split(",") if p]
    for item in models:
        name, sep, ref = item.partition("=")
        if not sep:
            raise SystemExit(f"--models {item!r}: expected NAME=REF")
        out.append((name, ref, None))
    return out


def agreement(probs, reference) -> dict:
    """Labels equal to the reference's (percent, count) and the largest probability difference."""
    import numpy as np

    same = probs.argmax(1) == reference.argmax(1)
    return {
        "labels_equal_pct": round(float(same.mean()) * 100, 2),
        "labels_differ": int((~same).sum()),
        "max_prob_diff": round(float(np.abs(probs - reference).max()), 5),
    }


def one_label_points(rows) -> float:
    """How far one changed label moves macro-recall at most: 100 / (classes x smallest class)."""
    counts = Counter(ex.label for ex in rows)
    return round(100 / (len(counts) * min(counts.values())), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--precisions", default="fp32,int8", help="the first is the reference")
    parser.add_argument("--models", nargs="*", default=[], help="NAME=REF: more entries to compare")
    parser.add_argument("--limit", type=int, help="score only the first N rows of each file")
    parser.add_argument("--tolerance", type=float, default=0.3)
    parser.add_argument(
        "--data",
        type=Path,
        default=data_dir(),
    )
    args = parser.parse_args()

    from nlp.sentiment import create, results_from_probabilities
    from nlp.training.evaluation import score_results
    from nlp.training.labelled import read_jsonl

    files = val_files(args.data)
    examples = {name: read_jsonl(path, args.limit) for name, path in files.items()}
    compared = entries(args.model, args.precisions, args.models)
    results: dict[str, dict[str, dict]] = {}
    reference_probs: dict[str, object] = {}
    totals: dict[str, list[int]] = {}
    for entry, ref, precision in compared:
        if precision is not None:
            os.environ["BRANDPULSE_INFERENCE_PRECISION"] = precision
        model = create(ref)
        results[entry] = {}
        for name, rows in examples.items():
            load = os.getloadavg()[0]
            started = time.perf_counter()
            probs = model.probabilities([ex.text for ex in rows])
            seconds = time.perf_counter() - started
            predicted = results_from_probabilities(probs, model.labels, model.name, model.version)
            scores = score_results(predicted, rows, seconds=seconds).summary()
            row = {"entry": entry, "model": ref, "file": name, **scores, "load_before": round(load, 2)}
            row["seconds"] = round(seconds, 1)
            row["one_label_pts"] = one_label_points(rows)
            if name in reference_probs:
                row |= agreement(probs, reference_probs[name])
                total = totals.setdefault(entry, [0, 0])
                total[0] += row["labels_differ"]
                total[1] += len(rows)
            else:
                reference_probs[name] = probs
            results[entry][name] = scores
            print(json.dumps(row), flush=True)
        del model
    for entry, verdict in compare(results, compared[0][0], args.tolerance).items():
        differ, n = totals.get(entry, [0, 0])
        equal = round(100 * (1 - differ / n), 2) if n else None
        print(json.dumps({"entry": entry, **verdict, "labels_equal_pct": equal, "texts": n}))


if __name__ == "__main__":
    main()
