"""Two-class (negative/positive) tweets in 15 languages: macro-F1 per language and the mean.

The two-class files have no validation split, so the rows scored here are
training rows that no stage of the model used: not fitted on by the transformer
or any model it was warm-started from (rebuilt from the ``metrics.json`` chain,
:mod:`nlp.training.lineage`), not in the slice that chose the char blend weights,
and never seen by the char model (which trains on three-class files only). A
seeded sample of ``--per-language`` rows per file; prediction is the likelier
of negative and positive, macro-F1 over those two labels.

Usage: python benchmarks/two_class_sentiment.py [--model default] [--per-language 200]
Data: ``$BRANDPULSE_DATA_DIR`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402


def main() -> None:
    from nlp import sentiment
    from nlp.training.char import blend_slice
    from nlp.training.evaluation import evaluate
    from nlp.training.labelled import read_jsonl
    from nlp.training.lineage import seen_texts

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="default", help="model reference (default: the shipped model)")
    parser.add_argument("--per-language", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rows-of",
        default=None,
        help="score the rows this model left unused (default: --model's own)",
    )
    parser.add_argument(
        "--init-from", type=Path, default=None, help="the warm-start model, where its recorded path is gone"
    )
    args = parser.parse_args()

    data = data_dir()
    root = data / "more-sentiment" / "binary-15lang"
    if not root.is_dir():
        sys.exit(f"no two-class data at {root} (set BRANDPULSE_DATA_DIR)")
    ref = None if args.model == "default" else args.model
    model = sentiment.create(ref)
    _, rows_ref = sentiment.resolve(ref if args.rows_of is None else args.rows_of)
    model_dir = Path(rows_ref or sentiment.DEFAULT_MODEL_DIR)
    metrics = json.loads((model_dir / "metrics.json").read_text())
    seen = seen_texts(model_dir, sorted(data.rglob("train.jsonl")), args.init_from)
    blend = metrics.get("blend") or {}
    print(f"model {model.name} {model.version}; rows unused by {model_dir.name} ({len(seen)} texts seen)")
    results = {}
    for path in sorted(root.glob("*/train.jsonl")):
        rows = read_jsonl(path)
        seed = metrics.get("settings", {}).get("seed", 13)
        chose_blend = {ex.text for ex in blend_slice(rows, seen, blend.get("per_file", 0), seed)}
        unused = [ex for ex in rows if ex.text not in seen and ex.text not in chose_blend]
        sample = random.Random(f"{args.seed}|{path.parent.name}").sample(
            unused, min(args.per_language, len(unused))
        )
        started = time.perf_counter()
        result = evaluate(model, sample, ("negative", "positive"))
        results[path.parent.name] = {
            "n": len(sample),
            "unused": len(unused),
            "macro_f1": result.scores["macro_f1"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        f1 = result.scores["macro_f1"]
        print(f"{path.parent.name}: macro-F1 {f1:.2f} on {len(sample)} of {len(unused)} unused rows")
    mean = sum(r["macro_f1"] for r in results.values()) / len(results)
    print(f"mean macro-F1 over {len(results)} languages: {mean:.2f} (negative/positive, argmax over the two)")
    print(
        json.dumps(
            {"model": f"{model.name}@{model.version}", "mean_macro_f1": round(mean, 2), "languages": results}
        )
    )


if __name__ == "__main__":
    main()
