"""Enrichment throughput: our batched path vs a plain per-text loop, in one run.

Each mode runs in its own subprocess (so peak RSS is per mode) over the same
texts with the same model and the same number of torch threads:

* ``batched``  : ``nlp.enrich.enrich_texts`` (language id + sentiment; the model
                 loaded once, length-sorted batches, bfloat16 where the CPU has it);
* ``pipeline`` : the plain Hugging Face loop, ``pipeline("text-classification")``
                 called once per text on the same network and inputs, plus language
                 id and (for a blended model) the char n-gram blend, per text;
* ``single``   : our own ``predict([text])`` once per text (batching effect only).

Usage: python benchmarks/enrich_benchmark.py [--model default] [--n 600] [--threads 1]
Texts come from labelled JSONL (``--data``; default: TweetEval + UMSAB val under
``$BRANDPULSE_DATA_DIR``, default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def default_files() -> list[Path]:
    root = Path(os.environ.get("BRANDPULSE_DATA_DIR", REPO.parent / "shared" / "data"))
    return [root / "tweeteval-sentiment" / "val.jsonl", *sorted(root.glob("xlmt-sentiment/*/val.jsonl"))]


def sample_texts(files: list[Path], n: int, seed: int) -> list[str]:
    from nlp.training.labelled import read_many

    texts = [ex.text for ex in read_many(files)]
    random.Random(seed).shuffle(texts)
    return texts[:n]


def worker(mode: str, model_ref: str, texts: list[str]) -> dict:
    import torch

    from nlp.sentiment import create, resolve

    warm = texts[:8]
    if mode == "batched":
        from nlp.enrich import enrich_texts

        model = create(model_ref)
        enrich_texts(warm, model=model)
        started = time.perf_counter()
        out = enrich_texts(texts, model=model)
    elif mode == "pipeline":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

        from nlp import e5_sentiment
        from nlp.normalize import normalise_for_model

        # the plain loop: the network as Hugging Face loads it (float32), one text per call
        torch.set_num_threads(int(os.environ.get("BRANDPULSE_TORCH_THREADS", "1")))
        backend, arg = resolve(model_ref)
        if backend == "e5":
            tokenizer, network, spec = e5_sentiment.load(Path(arg))
            prefix, max_length = spec.prefix, spec.max_length
        else:
            tokenizer = AutoTokenizer.from_pretrained(arg)
            network = AutoModelForSequenceClassification.from_pretrained(arg)
            prefix, max_length = "", 128
        classify = pipeline(
            "text-classification",
            model=network,
            tokenizer=tokenizer,
            device=-1,
            top_k=None,
            truncation=True,
            max_length=max_length,
        )
        inputs = [prefix + normalise_for_model(t) for t in texts]
        char = blend_weights = None
        if backend == "e5" and spec.blend:
            from nlp.char_ngrams import CharNgramModel

            char, blend_weights = CharNgramModel.load(Path(arg)), spec.blend
        classify(inputs[0])
        started = time.perf_counter()
        out = [
            plain_one(classify, inp, text, char, blend_weights)
            for inp, text in zip(inputs, texts, strict=True)
        ]
    elif mode == "single":
        model = create(model_ref)
        model.predict(warm[:1])
        started = time.perf_counter()
        out = [model.predict([text])[0] for text in texts]
    else:
        raise ValueError(mode)
    seconds = time.perf_counter() - started
    assert len(out) == len(texts)
    return {
        "mode": mode,
        "n": len(texts),
        "seconds": round(seconds, 2),
        "mentions_per_s": round(len(texts) / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch_threads": torch.get_num_threads(),
    }


def plain_one(classify, model_input: str, text: str, char, blend_weights) -> dict:
    """One text through the plain loop: the pipeline, then (for a blended model) the same
    character n-gram blend the batched path applies, also one text at a time."""
    import numpy as np

    from nlp.blend import blend, language_groups
    from nlp.language import detect_language

    scores = {d["label"]: d["score"] for d in classify(model_input)[0]}
    lang = detect_language(text).lang
    if char is None:
        return {"lang": lang, "scores": scores}
    labels = list(char.labels)
    logp = np.log(np.clip(np.array([[scores[label] for label in labels]]), 1e-9, 1.0))
    mixed = blend(logp, char.log_proba([text]), language_groups([text]), blend_weights)[0]
    return {"lang": lang, "scores": dict(zip(labels, mixed.tolist(), strict=True))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, nargs="*")
    parser.add_argument("--modes", default="batched,pipeline,single")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    texts = sample_texts(args.data or default_files(), args.n, args.seed)
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, texts)))
        return
    env = {
        **os.environ,
        "BRANDPULSE_TORCH_THREADS": str(args.threads),
        "OMP_NUM_THREADS": str(args.threads),
        "TRANSFORMERS_VERBOSITY": "error",
        "HF_HUB_OFFLINE": "1",
    }
    rows = []
    for mode in args.modes.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            mode,
            "--model",
            args.model,
            "--n",
            str(args.n),
            "--seed",
            str(args.seed),
            *(["--data", *map(str, args.data)] if args.data else []),
        ]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    base = {r["mode"]: r["mentions_per_s"] for r in rows}
    if "batched" in base:
        speedups = {
            f"batched_vs_{m}": round(base["batched"] / v, 2) for m, v in base.items() if m != "batched"
        }
        print(
            json.dumps(
                {
                    "model": args.model,
                    "n": args.n,
                    "threads": args.threads,
                    "cpu_count": os.cpu_count(),
                    **speedups,
                }
            )
        )


if __name__ == "__main__":
    main()
