"""Sentiment quality and speed on the validation files, for several models in one run.

Prints one JSON line per model: TweetEval val macro-recall (its official
metric), UMSAB val macro-F1 per language and their mean (the XLM-T paper's
metric), and posts/s through ``predict``.

Usage: python benchmarks/sentiment_benchmark.py [--models default,vader]
Data: ``$BRANDPULSE_DATA_DIR`` (default ``../shared/data``). Validation splits
only; test splits are kept for independent evaluation and never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402


def main() -> None:
    from nlp.sentiment import create
    from nlp.training.evaluation import by_language_summary, evaluate, evaluate_by_language
    from nlp.training.labelled import read_jsonl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="default,vader")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=data_dir(),
    )
    args = parser.parse_args()
    tweeteval = read_jsonl(args.data_dir / "tweeteval-sentiment" / "val.jsonl")
    for ref in args.models.split(","):
        model = create(ref)
        english = evaluate(model, tweeteval)
        umsab = by_language_summary(evaluate_by_language(model, args.data_dir / "xlmt-sentiment"))
        print(
            json.dumps(
                {
                    "model": ref,
                    "name": model.name,
                    "version": model.version,
                    "tweeteval_val": english.summary(),
                    "umsab_val_mean_macro_f1": umsab["mean_macro_f1"],
                    "umsab_val_macro_f1": {lang: s["macro_f1"] for lang, s in umsab["languages"].items()},
                    "umsab_posts_per_s": umsab["posts_per_s"],
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
