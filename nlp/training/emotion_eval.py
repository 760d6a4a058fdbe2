"""Evaluate a model's emotion head, and choose the languages that get an emotion field.

Metrics: a single-label file (TweetEval emotion) is scored with macro-F1 over
its own labels (argmax among them), the metric its README names; a
multi-label file (XED) with micro-F1 over Plutchik's eight at the model's
threshold (a neutral row is the empty set). Each file also gets the same
metric for a constant baseline (every row labelled with the file's most
frequent emotion), so "useful" has a floor to beat.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from pathlib import Path

from nlp.emotion import argmax_within, macro_f1_single, micro_f1, multi_label_sets
from nlp.training.emotion_data import read_emotion_jsonl, single_label_sets

# XED folder names that are not ISO 639-1 codes (py3langid's codes)
XED_LANGUAGE = {"br": "pt", "cn": "zh"}
# a language gets emotion when a file in it beats its constant baseline by this many points
USEFUL_MARGIN = 10.0


def file_language(path: Path) -> str:
    """Language of an emotion file: its folder name (XED), ``en`` for TweetEval."""
    folder = Path(path).parent.name
    return "en" if folder == "tweeteval" else XED_LANGUAGE.get(folder, folder)


def evaluate_emotion_files(model_dir: Path, files: list[Path], cap: int | None = None) -> dict:
    """Per file (``folder/name``): n, language, metric name, score, baseline, posts/s."""
    from nlp.sentiment import E5Sentiment

    model = E5Sentiment(model_dir)
    if not model.has_emotion:
        raise ValueError(f"{model_dir} has no emotion head")
    threshold = model.emotion_threshold if model.emotion_threshold is not None else 0.5
    out = {}
    for path in files:
        rows = read_emotion_jsonl(path)
        single = single_label_sets(rows).get(str(path))  # decided on the whole file, not the sample
        if cap is not None and len(rows) > cap:
            rows = random.Random(0).sample(rows, cap)
        texts = [r.text for r in rows]
        started = time.perf_counter()
        _, logits = model.predict_with_emotion(texts)
        seconds = time.perf_counter() - started
        assert logits is not None
        if single:
            gold = [next(iter(r.labels)) for r in rows]
            score = macro_f1_single(gold, argmax_within(logits, single), single)
            top = Counter(gold).most_common(1)[0][0]
            baseline = macro_f1_single(gold, [top] * len(gold), single)
            metric = "macro_f1"
        else:
            gold_sets = [r.labels for r in rows]
            score = micro_f1(gold_sets, multi_label_sets(logits, threshold))
            counts = Counter(label for g in gold_sets for label in g)
            top = counts.most_common(1)[0][0] if counts else "joy"
            baseline = micro_f1(gold_sets, [frozenset([top])] * len(rows))
            metric = f"micro_f1@{threshold}"
        out[f"{Path(path).parent.name}/{Path(path).name}"] = {
            "n": len(rows),
            "lang": file_language(path),
            "metric": metric,
            "score": score,
            "baseline": baseline,
            "posts_per_s": round(len(rows) / seconds, 1) if seconds > 0 else 0.0,
        }
    return out


def useful_languages(results: dict, margin: float = USEFUL_MARGIN) -> tuple[str, ...]:
    """Languages with a file whose score beats its constant baseline by ``margin`` points."""
    return tuple(sorted({r["lang"] for r in results.values() if r["score"] >= r["baseline"] + margin}))


def choose_emotion_languages(model_dir: Path, results: dict) -> tuple[str, ...]:
    """Write the useful languages into the model's ``config.json``; returns them."""
    from nlp import e5_sentiment

    spec = e5_sentiment.ModelSpec.read(model_dir)
    chosen = useful_languages(results)
    dataclasses.replace(spec, emotion_languages=chosen).write(model_dir)
    return chosen
