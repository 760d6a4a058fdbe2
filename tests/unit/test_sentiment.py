"""Sentiment interface: transformers backend (tiny local model), VADER, registry, metrics, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from nlp import sentiment  # noqa: E402
from nlp.normalize import normalise_for_model  # noqa: E402
from nlp.training.labelled import LABELS  # noqa: E402
from nlp.training.metrics import scores  # noqa: E402

WORDS = ["good", "bad", "fine", "@user", "http", "the", "phone", "is", "not", "great", "awful"]


def _tiny_model(path: Path, id2label: dict[int, str]) -> Path:
    """A randomly initialised BERT classifier with a word-level tokenizer, saved locally."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    BertForSequenceClassification(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("tiny"), {0: "NEG", 1: "NEU", 2: "POS"})


TEXTS = ["good", "the phone is not great at all http://x.y/z", "bad @someone", "", "fine fine fine fine"]


def test_transformers_backend_loads_local_path_and_returns_full_results(tiny_dir):
    model = sentiment.create(str(tiny_dir))
    assert isinstance(model, sentiment.TransformersSentiment)
    assert isinstance(model, sentiment.SentimentModel)
    results = model.predict(list(TEXTS))
    assert len(results) == len(TEXTS)
    for r in results:
        assert r.label in LABELS
        assert set(r.probabilities) == set(LABELS)
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        assert r.score == max(r.probabilities.values())
        assert r.model == str(tiny_dir)
        assert r.model_version
        assert set(r.as_document()) == {"label", "score", "probabilities", "model", "model_version"}


def test_batched_predictions_match_one_at_a_time_in_input_order(tiny_dir):
    model = sentiment.TransformersSentiment(tiny_dir, batch_size=2)
    batched = model.predict(list(TEXTS))
    single = [model.predict([t])[0] for t in TEXTS]
    for b, s in zip(batched, single, strict=True):
        for label in LABELS:
            assert b.probabilities[label] == pytest.approx(s.probabilities[label], abs=0.02)


def test_normalisation_is_for_the_model_only(tiny_dir):
    model = sentiment.TransformersSentiment(tiny_dir)
    texts = ["@Brand_Support see https://t.co/abc now", "www.example.com @x"]
    original = list(texts)
    model.predict(texts)
    assert texts == original
    assert model.model_texts(texts) == ["@user see http now", "http @user"]
    assert normalise_for_model("mail me at a@b.com") == "mail me at a@b.com"


def test_label_mapping_understands_common_conventions():
    assert sentiment.label_mapping({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == list(LABELS)
    assert sentiment.label_mapping({0: "Positive", 1: "Negative"}) == ["positive", "negative"]
    stars = sentiment.label_mapping({i: f"{i + 1} stars" for i in range(5)})
    assert stars == ["negative", "negative", "neutral", "positive", "positive"]
    with pytest.raises(ValueError, match="cannot map"):
        sentiment.label_mapping({0: "joy", 1: "anger"})


def test_two_class_model_gets_zero_neutral(tmp_path):
    path = _tiny_model(tmp_path / "two", {0: "NEGATIVE", 1: "POSITIVE"})
    result = sentiment.create(str(path)).predict(["good"])[0]
    assert result.probabilities["neutral"] == 0.0
    assert result.label in ("negative", "positive")


def test_vader_baseline_orders_obvious_texts():
    vader = sentiment.create("vader")
    pos, neg, neu = vader.predict(
        ["I love this, it is great!", "This is awful, I hate it.", "The box is blue."]
    )
    assert (pos.label, neg.label, neu.label) == ("positive", "negative", "neutral")
    assert pos.model == "vader"


def test_registry_resolves_references(tmp_path, tiny_dir):
    assert sentiment.resolve(None) == ("e5", str(sentiment.DEFAULT_MODEL_DIR))
    assert sentiment.resolve("vader") == ("vader", None)
    assert sentiment.resolve("transformers:org/model") == ("transformers", "org/model")
    assert sentiment.resolve("cardiffnlp/twitter-xlm-roberta-base-sentiment")[0] == "transformers"
    assert sentiment.resolve(str(tiny_dir))[0] == "transformers"
    assert set(sentiment.BACKENDS) >= {"transformers", "e5", "vader"}


def test_get_model_loads_once_per_process(tiny_dir):
    assert sentiment.get_model(str(tiny_dir)) is sentiment.get_model(str(tiny_dir))


def test_metrics_reward_right_answers_only():
    gold = ["negative", "neutral", "positive", "positive"]
    assert scores(gold, gold) == {"n": 4, "macro_recall": 100.0, "macro_f1": 100.0, "accuracy": 100.0}
    constant = scores(gold, ["positive"] * 4)
    assert constant["macro_recall"] == pytest.approx(100 / 3, abs=0.01)
    assert constant["accuracy"] == 50.0
    assert constant["macro_f1"] < constant["macro_recall"]


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows))
    return path


ROWS = [
    ("I love it, great!", "positive"),
    ("awful, I hate it", "negative"),
    ("it is a box", "neutral"),
    ("great great great", "positive"),
]


def test_eval_cli_prints_matrix_then_json_summary(tmp_path):
    from typer.testing import CliRunner

    from brandpulse.cli.nlp import app

    data = _write(tmp_path / "d.jsonl", ROWS)
    result = CliRunner().invoke(app, ["eval-sentiment", "--data", str(data), "--model", "vader"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert "negative" in lines[0] and "positive" in lines[0]
    summary = json.loads(lines[-1])
    assert {"n", "macro_recall", "macro_f1", "accuracy", "posts_per_s"} <= set(summary)
    assert summary["n"] == len(ROWS)
    assert summary["accuracy"] == 100.0


def test_eval_cli_by_language(tmp_path):
    from typer.testing import CliRunner

    from brandpulse.cli.nlp import app

    _write(tmp_path / "umsab" / "english" / "val.jsonl", ROWS)
    _write(tmp_path / "umsab" / "other" / "val.jsonl", [(t, "neutral") for t, _ in ROWS])
    result = CliRunner().invoke(
        app, ["eval-sentiment", "--by-language", str(tmp_path / "umsab"), "--model", "vader"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert set(summary["languages"]) == {"english", "other"}
    assert summary["n"] == 2 * len(ROWS)
    assert summary["languages"]["english"]["macro_f1"] > summary["languages"]["other"]["macro_f1"]
    per_language = [summary["languages"][lang]["macro_f1"] for lang in ("english", "other")]
    assert summary["mean_macro_f1"] == pytest.approx(sum(per_language) / 2, abs=0.01)


def test_labelled_reader_names_bad_line(tmp_path):
    from nlp.training.labelled import read_jsonl

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "positive"}\n{"text": "b", "label": "meh"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        read_jsonl(bad)


def test_enrich_texts_gives_mapping_shaped_partial_documents(tiny_dir):
    from nlp.enrich import enrich_texts, enrichment_version

    model = sentiment.create(str(tiny_dir))
    texts = ["The battery of this phone is great, really happy with it", "good", ""]
    docs = enrich_texts(texts, ["en", "de", "fr"], model=model)
    assert len(docs) == len(texts)
    assert docs[0]["lang"] == "en"
    assert docs[2]["lang"] == "fr"  # nothing to detect: the platform hint is kept
    for doc in docs:
        assert set(doc) == {"lang", "sentiment"}
        assert set(doc["sentiment"]) == {"label", "score", "probabilities", "model", "model_version"}
    assert str(tiny_dir) in enrichment_version(model)
