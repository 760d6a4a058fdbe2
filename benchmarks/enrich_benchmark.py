"""Enrichment throughput: our batched path vs a plain per-text loop, in one run.

Each mode runs in its own subprocess (so peak RSS is per mode) over the same
texts with the same model and the same number of torch threads:

* ``batched``  : ``nlp.enrich.enrich_texts`` (language id + sentiment; the model
                 loaded once, length-sorted batches, bfloat16 where the CPU has it);
* ``pipeline`` : the plain Hugging Face loop, ``pipeline("text-classification")``
                 called once per text on the same network and inputs, plus language
                 id and (for a blended model) the char n-gram blend, per text;
* ``single``   : our own ``predict([text])`` once per text (batching effect only).

``--model onnx:DIR`` runs the ONNX Runtime backend (a directory written by
``brandpulse export-onnx``) in the ``batched``, ``single`` and ``topics`` modes;
it needs neither torch nor transformers (the lean worker).

* ``topics``   : the enrich step as it runs with topics: ``enrich_texts`` with the topic
                 embedder sharing the sentiment model's lower layers (one pass), then
                 ``nlp.topics.update_topics`` over those embeddings (timed apart);
* ``topics-alone``: topics the old way, a separate full encoder pass
                 (``get_embedder().embed``) then ``update_topics``.

Usage: python benchmarks/enrich_benchmark.py [--model default] [--n 600] [--threads 1]
       [--repeat 3] [--precision auto|fp32|bf16|int8] [--modes batched,pipeline,single]
Texts come from labelled JSONL (``--data``; default: TweetEval + UMSAB val under
``$BRANDPULSE_DATA_DIR``, default ``../shared/data``), or with ``--sample-brand NAME``
from the demo's sample data (one brand's mentions, in time order). ``enrich_texts``
runs each distinct input once, so texts that repeat (the demo's do: its 18,884
mentions hold 1,701 distinct texts) raise ``batched`` and ``topics`` rates, and not
the per-text modes'; each run prints ``distinct``, and ``--distinct`` keeps the first
``--n`` distinct texts to time the model on new inputs only.

It prints the conditions first (CPU model and flags, torch and transformers
versions, torch's CPU kernels, threads, precision), then one JSON line per run
(with the load average before and after it and the dtype/kernels the network
actually used), then the median of the ``--repeat`` runs per mode. Runs
interleave the modes so that a change in machine load hits them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.shared_data import data_dir  # noqa: E402


def default_files() -> list[Path]:
    root = data_dir()
    return [root / "tweeteval-sentiment" / "val.jsonl", *sorted(root.glob("xlmt-sentiment/*/val.jsonl"))]


def sample_texts(files: list[Path], n: int, seed: int, distinct: bool = False) -> list[str]:
    from nlp.training.labelled import read_many

    texts = [ex.text for ex in read_many(files)]
    random.Random(seed).shuffle(texts)
    return first(texts, n, distinct)


def sample_brand_texts(brand: str, n: int, seed: int, distinct: bool = False) -> list[str]:
    """The first ``n`` mentions of one brand of the demo's sample data, in time order
    (``distinct``: the first ``n`` distinct texts)."""
    from brandpulse.dev.sample_data import generate

    rows, _ = generate(seed=seed)
    return first([r["text"] for r in rows if brand in (r.get("brands") or [r.get("brand")])], n, distinct)


def first(texts: list[str], n: int, distinct: bool) -> list[str]:
    """The first ``n`` texts, or the first ``n`` distinct ones."""
    return (list(dict.fromkeys(texts)) if distinct else texts)[:n]


CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8")


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def torch_kernels() -> dict:
    """torch's CPU kernels, or ``{}`` where torch is not installed (the lean worker)."""
    try:
        import torch
    except ImportError:
        return {}
    return {
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "quantized_engine": torch.backends.quantized.engine,
        "mkldnn_bf16": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
    }


def conditions() -> dict:
    """What the figures depend on: CPU, kernels, library versions, threads, load."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() not in info:
                info[key.strip()] = value.strip()
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    cpu = info.get("model name") or platform.processor()
    # under a hypervisor the name can be generic ("AMD EPYC"): family/model tell the generation
    cpu += f" (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_flags": {f: f in flags for f in CPU_FLAGS},
        "python": platform.python_version(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "onnxruntime": _version("onnxruntime"),
        **torch_kernels(),
        "load_avg": os.getloadavg(),
    }


def _topic_docs(texts: list[str]):
    from datetime import UTC, datetime, timedelta

    from nlp.topics import TopicDoc

    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        TopicDoc(id=str(i), text=t, created_at=start + timedelta(seconds=30 * i)) for i, t in enumerate(texts)
    ]


def worker(mode: str, model_ref: str, texts: list[str]) -> dict:
    from nlp.sentiment import create, resolve

    warm = texts[:8]
    extra: dict = {}
    network = None
    if mode == "batched":
        from nlp.enrich import enrich_texts

        model = create(model_ref)
        network = getattr(model, "model", None)
        enrich_texts(warm, model=model)
        started, cpu_started = time.perf_counter(), time.process_time()
        out = enrich_texts(texts, model=model)
    elif mode in ("topics", "topics-alone"):
        from nlp.embeddings import get_embedder, shared_embedder
        from nlp.enrich import enrich_texts
        from nlp.topics import TopicState, update_topics

        model = create(model_ref)
        network = getattr(model, "model", None)
        embedder = shared_embedder(model) if mode == "topics" else get_embedder()
        if embedder is None:
            raise SystemExit(f"{model_ref}: cannot share its encoder with the topic embedder")
        enrich_texts(warm, model=model)
        embedder.embed(warm)
        started, cpu_started = time.perf_counter(), time.process_time()
        out = enrich_texts(texts, model=model)
        enriched = time.perf_counter()
        # pages of 2000 in time order, as brandpulse.pipeline.topics.assign_topics reads them
        state, docs, assignments = TopicState(brand="bench"), _topic_docs(texts), {}
        for start in range(0, len(docs), 2000):
            page = docs[start : start + 2000]
            assignments |= update_topics(state, page, embedder.embed([d.text for d in page]))
        extra = {
            "enrich_seconds": round(enriched - started, 2),
            "topics_seconds": round(time.perf_counter() - enriched, 2),
            "topics_found": len({a["id"] for a in assignments.values()}),
        }
    elif mode == "pipeline":
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

        from nlp import e5_sentiment
        from nlp.normalize import normalise_for_model

        # the plain loop: the network as Hugging Face loads it (float32), one text per call
        torch.set_num_threads(int(os.environ.get("BRANDPULSE_TORCH_THREADS", "1")))
        backend, arg = resolve(model_ref)
        if backend == "e5":
            from benchmarks.tokenizer_parity import hf_tokenizer

            _, network, spec = e5_sentiment.load(Path(arg))
            # the pipeline needs a Hugging Face tokenizer: the tokenizers build of the same
            # vocabulary (the batched path's SentencePiece ids differ only in exact ties)
            tokenizer = hf_tokenizer()
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
        network = classify.model
        classify(inputs[0])
        started, cpu_started = time.perf_counter(), time.process_time()
        out = [
            plain_one(classify, inp, text, char, blend_weights)
            for inp, text in zip(inputs, texts, strict=True)
        ]
    elif mode == "single":
        model = create(model_ref)
        network = getattr(model, "model", None)
        model.predict(warm[:1])
        started, cpu_started = time.perf_counter(), time.process_time()
        out = [model.predict([text])[0] for text in texts]
    else:
        raise ValueError(mode)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    assert len(out) == len(texts)
    kernels = {}
    if network is not None:  # a torch network (the onnx backend has none)
        from nlp.quantize import describe

        kernels = describe(network)
    return {
        "mode": mode,
        "n": len(texts),
        "distinct": len(set(texts)),
        "seconds": round(seconds, 2),
        "mentions_per_s": round(len(texts) / seconds, 1),
        # CPU time of this process (all its threads): what a busy machine inflates least
        "cpu_seconds": round(cpu_seconds, 2),
        "mentions_per_cpu_s": round(len(texts) / cpu_seconds, 1),
        **extra,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **rss_split(),
        "threads": _threads(locals().get("model")),
        "precision": getattr(locals().get("model"), "precision", "fp32"),
        "param_dtypes": kernels.get("param_dtypes"),
        "int8_linear": kernels.get("int8_linear"),
        "attention": kernels.get("attention"),
    }


def rss_split() -> dict:
    """RSS at the end of the run split into private memory (``rss_anon_mb``) and file
    pages mapped from disk (``rss_file_mb``: the ONNX weights file, shared by every
    process that maps it, and how many of its pages count depends on how the kernel
    caches the file), and the proportional set size (``pss_mb``: each page divided by
    the mappings that share it, so a file page two sessions map counts once; RSS counts
    it twice). Linux only; empty elsewhere."""
    try:
        with open("/proc/self/status") as status:
            fields = dict(line.split(":", 1) for line in status if line.startswith(("RssAnon", "RssFile")))
        with open("/proc/self/smaps_rollup") as rollup:
            pss = next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return {}
    split = {f"rss_{k[3:].lower()}_mb": round(int(v.split()[0]) / 1024, 1) for k, v in fields.items()}
    return {**split, "pss_mb": round(pss / 1024, 1)}


def _threads(model) -> int:
    """Threads the network ran with: ONNX Runtime's intra-op threads, else torch's."""
    if getattr(model, "threads", None):
        return model.threads
    import torch

    return torch.get_num_threads()


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
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker process")
    parser.add_argument("--procs", type=int, default=1, help="worker processes at once (each --n texts)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; the median is reported")
    parser.add_argument("--precision", help="BRANDPULSE_INFERENCE_PRECISION for the runs (default: as set)")
    parser.add_argument("--data", type=Path, nargs="*")
    parser.add_argument("--sample-brand", help="texts: this brand's mentions from the demo's sample data")
    parser.add_argument("--distinct", action="store_true", help="no repeated texts (first --n distinct)")
    parser.add_argument("--modes", default="batched,pipeline,single")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sample_brand:
        texts = sample_brand_texts(args.sample_brand, args.n, args.seed, args.distinct)
    else:
        texts = sample_texts(args.data or default_files(), args.n, args.seed, args.distinct)
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, texts)))
        return
    env = {
        **os.environ,
        "BRANDPULSE_TORCH_THREADS": str(args.threads),
        "OMP_NUM_THREADS": str(args.threads),
        "TRANSFORMERS_VERBOSITY": "error",
        "HF_HUB_OFFLINE": "1",
        "PYTHONWARNINGS": "ignore",
    }
    if args.precision:
        env["BRANDPULSE_INFERENCE_PRECISION"] = args.precision
    print(
        json.dumps(
            {
                "conditions": {
                    **conditions(),
                    "threads": args.threads,
                    "procs": args.procs,
                    "precision": args.precision or os.environ.get("BRANDPULSE_INFERENCE_PRECISION", "auto"),
                }
            }
        ),
        flush=True,
    )
    modes = args.modes.split(",")
    rows: dict[str, list[dict]] = {m: [] for m in modes}
    for run in range(args.repeat):
        for mode in modes:
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
                *(["--sample-brand", args.sample_brand] if args.sample_brand else []),
                *(["--distinct"] if args.distinct else []),
            ]
            before = os.getloadavg()[0]
            row = {"run": run + 1, **run_workers(cmd, env, args.procs)}
            row["load_before"], row["load_after"] = round(before, 2), round(os.getloadavg()[0], 2)
            rows[mode].append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps(summary(rows, args)))


def run_workers(cmd: list[str], env: dict, procs: int) -> dict:
    """One worker process, or ``procs`` at once (each on the same texts): the aggregate
    rate is all their mentions over the slowest one's time (processes vs threads)."""
    started = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(procs)]
    outs = []
    for proc in started:
        stdout, _ = proc.communicate()
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    if procs == 1:
        return outs[0]
    slowest = max(o["seconds"] for o in outs)
    total = sum(o["n"] for o in outs)
    return {
        **outs[0],
        "procs": procs,
        "n": total,
        "seconds": slowest,
        "mentions_per_s": round(total / slowest, 1),
        "cpu_seconds": round(sum(o["cpu_seconds"] for o in outs), 2),
        "mentions_per_cpu_s": round(total / sum(o["cpu_seconds"] for o in outs), 1),
        "peak_rss_mb": max(o["peak_rss_mb"] for o in outs),
        "total_rss_mb": round(sum(o["peak_rss_mb"] for o in outs), 1),
    }


def summary(rows: dict[str, list[dict]], args: argparse.Namespace) -> dict:
    """Medians per mode over the runs, and the batched speed-ups on the medians."""
    medians = {
        mode: {
            key: statistics.median(r[key] for r in runs)
            for key in (
                "mentions_per_s",
                "mentions_per_cpu_s",
                "peak_rss_mb",
                "rss_anon_mb",
                "rss_file_mb",
                "pss_mb",
                "enrich_seconds",
                "topics_seconds",
            )
            if all(key in r for r in runs)
        }
        for mode, runs in rows.items()
        if runs
    }
    rate = {m: v["mentions_per_s"] for m, v in medians.items()}
    speedups = {}
    if "batched" in rate:
        speedups = {
            f"batched_vs_{m}": round(rate["batched"] / v, 2) for m, v in rate.items() if m != "batched"
        }
    cpu_rate = {m: v["mentions_per_cpu_s"] for m, v in medians.items() if "mentions_per_cpu_s" in v}
    if "batched" in cpu_rate:
        speedups |= {
            f"batched_vs_{m}_cpu_time": round(cpu_rate["batched"] / v, 2)
            for m, v in cpu_rate.items()
            if m != "batched"
        }
    return {
        "summary": "median of runs",
        "model": args.model,
        "n": args.n,
        "threads": args.threads,
        "procs": getattr(args, "procs", 1),
        "repeat": args.repeat,
        "medians": medians,
        **speedups,
        "load_avg_end": os.getloadavg(),
    }


if __name__ == "__main__":
    main()
