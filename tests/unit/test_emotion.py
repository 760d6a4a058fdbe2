"""Emotion per mention: labels, metrics, data reading, language choice and the enrich field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nlp.emotion import (
    EMOTIONS,
    argmax_within,
    macro_f1_single,
    micro_f1,
    multi_label_sets,
    results_from_logits,
)
from nlp.sentiment import SentimentResult
from nlp.training.emotion_data import read_emotion_jsonl, single_label_sets
from nlp.training.emotion_eval import file_language, useful_languages


def test_results_carry_every_lowercase_label_and_the_top_one():
    logits = np.full((2, len(EMOTIONS)), -3.0)
    logits[0, EMOTIONS.index("anger")] = 2.0
    logits[1, EMOTIONS.index("optimism")] = 1.0
    first, second = results_from_logits(logits)
    assert first.label == "anger" and second.label == "optimism"
    assert set(first.scores) == set(EMOTIONS) and all(e == e.lower() for e in EMOTIONS)
    assert first.score == first.scores["anger"] == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-4)
    assert set(first.as_document()) == {"label", "score", "scores"}


def test_multi_label_reading_and_micro_f1_treat_neutral_as_the_empty_set():
    logits = np.full((3, len(EMOTIONS)), -5.0)
    logits[0, EMOTIONS.index("joy")] = 5.0
    logits[0, EMOTIONS.index("trust")] = 5.0
    logits[1, EMOTIONS.index("optimism")] = 5.0  # not one of Plutchik's eight: ignored here
    pred = multi_label_sets(logits, 0.5)
    assert pred == [frozenset({"joy", "trust"}), frozenset(), frozenset()]
    gold = [frozenset({"joy"}), frozenset(), frozenset({"fear"})]
    # tp 1, predicted 2, gold 2 -> precision 0.5, recall 0.5
    assert micro_f1(gold, pred) == 50.0
    assert micro_f1(gold, [frozenset()] * 3) == 0.0


def test_single_label_macro_f1_and_argmax_within_a_files_labels():
    labels = ("anger", "joy", "optimism", "sadness")
    logits = np.zeros((2, len(EMOTIONS)))
    logits[:, EMOTIONS.index("fear")] = 9.0  # not a label of this task: never predicted
    logits[0, EMOTIONS.index("joy")] = 1.0
    logits[1, EMOTIONS.index("sadness")] = 1.0
    assert argmax_within(logits, labels) == ["joy", "sadness"]
    assert macro_f1_single(["joy", "sadness"], ["joy", "sadness"], ["joy", "sadness"]) == 100.0
    assert macro_f1_single(["joy", "joy"], ["joy", "anger"], ["joy", "anger"]) == pytest.approx(
        33.33, abs=0.01
    )


def test_emotion_files_are_read_and_classified_single_or_multi_label(tmp_path):
    single = tmp_path / "tweeteval" / "train.jsonl"
    multi = tmp_path / "fi" / "train.jsonl"
    single.parent.mkdir()
    multi.parent.mkdir()
    single.write_text(
        "".join(json.dumps({"text": t, "labels": [e]}) + "\n" for t, e in [("a", "joy"), ("b", "optimism")])
    )
    multi.write_text(
        json.dumps({"text": "c", "labels": ["joy", "trust"]})
        + "\n"
        + json.dumps({"text": "d", "labels": ["neutral"]})
        + "\n"
    )
    rows = read_emotion_jsonl(single) + read_emotion_jsonl(multi)
    assert rows[3].labels == frozenset()  # neutral: none of the eight
    assert single_label_sets(rows) == {str(single): ("joy", "optimism")}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "labels": ["bored"]}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_emotion_jsonl(bad)
    assert file_language(single) == "en" and file_language(tmp_path / "br" / "val.jsonl") == "pt"


def test_a_language_gets_emotion_only_when_it_beats_the_constant_baseline():
    results = {
        "tweeteval/val.jsonl": {"lang": "en", "score": 60.0, "baseline": 15.0},
        "de/val.jsonl": {"lang": "de", "score": 30.0, "baseline": 25.0},
        "fi/val.jsonl": {"lang": "fi", "score": 45.0, "baseline": 30.0},
    }
    assert useful_languages(results) == ("en", "fi")


class _FakeEmotionModel:
    """Stands in for E5Sentiment: sentiment plus emotion logits from one call."""

    name, version = "fake", "0"
    emotion_languages = frozenset({"en"})

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, texts):
        raise AssertionError("predict_with_emotion should be used")

    def predict_with_emotion(self, texts):
        self.calls += 1
        results = [
            SentimentResult("negative", 0.9, {"negative": 0.9, "neutral": 0.05, "positive": 0.05})
        ] * len(texts)
        logits = np.zeros((len(texts), len(EMOTIONS)))
        logits[:, 0] = 3.0
        return results, logits


def test_enrich_adds_emotion_for_the_models_languages_only_from_one_pass():
    from nlp.enrich import enrich_texts

    model = _FakeEmotionModel()
    docs = enrich_texts(
        ["This is the worst airline ever, lost my bags again", "Das ist die schlechteste Marke, nie wieder."],
        ["en", "de"],
        model=model,
    )
    assert model.calls == 1
    assert docs[0]["lang"] == "en" and docs[0]["emotion"]["label"] == "anger"
    assert set(docs[0]["emotion"]) == {"label", "score", "scores"}
    assert "emotion" not in docs[1]
    assert docs[1]["sentiment"]["label"] == "negative"


def test_enrich_without_an_emotion_head_has_no_emotion_field():
    from nlp.enrich import enrich_texts

    class Plain:
        name, version = "plain", "0"

        def predict(self, texts):
            return [SentimentResult("neutral", 1.0, {"neutral": 1.0})] * len(texts)

    docs = enrich_texts(["hello there my friend"], ["en"], model=Plain())
    assert docs == [{"lang": docs[0]["lang"], "sentiment": docs[0]["sentiment"]}]


def test_enrich_hands_the_stored_languages_to_models_that_blend_by_language():
    from nlp.enrich import enrich_texts

    class Blending(_FakeEmotionModel):
        takes_languages = True

        def predict_with_emotion(self, texts, langs=None):
            self.langs = list(langs)
            return super().predict_with_emotion(texts)

    model = Blending()
    docs = enrich_texts(["Das ist die schlechteste Marke, nie wieder.", "ok"], ["de", "hi"], model=model)
    assert model.langs == [d["lang"] for d in docs]
