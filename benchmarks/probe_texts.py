"""The int8 benchmarks' probe set: texts from the TRAINING files, never validation files.

300 TweetEval train tweets and 40 per UMSAB language (seed 11), and macro-recall
over them. Shared by ``int8_variants.py`` (torch), ``onnx_int8_variants.py`` and
``onnx_static_int8.py``, with the ONNX benchmarks' calibration texts (other
training-file texts), arguments and timing.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

from nlp.training.labelled import LABELS, read_jsonl


def probe_set(data: Path) -> tuple[list[str], np.ndarray]:
    """(texts, gold class ids) of the probe set under the data folder ``data``."""
    rng = random.Random(11)
    examples = rng.sample(read_jsonl(data / "tweeteval-sentiment" / "train.jsonl"), 300)
    for path in sorted(data.glob("xlmt-sentiment/*/train.jsonl")):
        examples += rng.sample(read_jsonl(path), 40)
    return [e.text for e in examples], np.array([LABELS.index(e.label) for e in examples])


def calibration_texts(data: Path, exclude: set[str]) -> list[str]:
    """320 training-file texts outside ``exclude`` (the probe set): 160 TweetEval train,
    20 per UMSAB language (seed 12)."""
    rng = random.Random(12)
    pool = rng.sample(read_jsonl(data / "tweeteval-sentiment" / "train.jsonl"), 400)
    texts = [e.text for e in pool if e.text not in exclude][:160]
    for path in sorted(data.glob("xlmt-sentiment/*/train.jsonl")):
        texts += [e.text for e in rng.sample(read_jsonl(path), 30) if e.text not in exclude][:20]
    return texts


def macro_recall(pred: np.ndarray, gold: np.ndarray) -> float:
    """Macro-recall in % over the three classes, rounded to 2 decimals."""
    return round(float(np.mean([(pred[gold == c] == c).mean() for c in range(len(LABELS))])) * 100, 2)


def onnx_variant_args(doc: str, work: str, variants: list[str]) -> argparse.Namespace:
    """``--fp32 DIR --work DIR --variants a,b`` of the ONNX int8 benchmarks."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--fp32", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path(work))
    parser.add_argument("--variants", default=",".join(variants))
    return parser.parse_args()


def timed_probabilities(model, texts: list[str]) -> tuple[np.ndarray, float]:
    """(transformer probabilities, CPU seconds) after a small warm-up batch."""
    model.transformer_probabilities(texts[:8])
    started = time.process_time()
    probs = model.transformer_probabilities(texts)
    return probs, time.process_time() - started
