"""Identical inputs are enriched once: within a call, and across calls with a memo."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.emotion import EMOTIONS
from nlp.enrich import EnrichMemo, enrich_texts
from nlp.results import SentimentResult


class _Recording:
    """A blending model whose answer depends on the text and language, recording what it ran."""

    name, version = "recording", "1"
    takes_languages = True
    emotion_languages = frozenset({"en", "de"})

    def __init__(self, fail: bool = False) -> None:
        self.runs: list[tuple[str, str]] = []
        self.fail = fail

    def predict_with_emotion(self, texts, langs=None):
        if self.fail:
            raise RuntimeError("model down")
        self.runs.extend(zip(texts, langs, strict=True))
        results, logits = [], np.zeros((len(texts), len(EMOTIONS)))
        for i, (text, lang) in enumerate(zip(texts, langs, strict=True)):
            neg = (len(text) % 7) / 10 + (0.2 if lang == "de" else 0.0)
            results.append(SentimentResult("negative", neg, {"negative": neg, "positive": 1 - neg}))
            logits[i, len(text) % len(EMOTIONS)] = 3.0
        return results, logits


EN = "The new app lost my order again, really annoying"
EN2 = "Loving the dark roast this morning, great start"
DE = "Die neue App hat meine Bestellung schon wieder verloren"


def test_repeated_texts_run_once_and_every_mention_gets_its_own_answer():
    texts = [EN, EN2, EN, DE, EN, EN2]
    hints = ["en", "en", "en", "de", "en", "en"]
    model = _Recording()
    docs = enrich_texts(texts, hints, model=model)
    assert sorted(model.runs) == sorted({(EN, "en"), (EN2, "en"), (DE, "de")})
    one_by_one = [enrich_texts([t], [h], model=_Recording())[0] for t, h in zip(texts, hints, strict=True)]
    assert docs == one_by_one


def test_a_memo_carries_across_calls_and_counts_hits():
    model, memo = _Recording(), EnrichMemo()
    enrich_texts([EN, DE], ["en", "de"], model=model, memo=memo)
    second = enrich_texts([DE, EN, EN2], ["de", "en", "en"], model=model, memo=memo)
    assert model.runs == [(EN, "en"), (DE, "de"), (EN2, "en")]
    assert (memo.misses, memo.hits) == (3, 2)
    assert [d["lang"] for d in second] == ["de", "en", "en"]


def test_the_same_text_in_two_languages_is_two_inputs():
    model = _Recording()
    # a platform hint decides a text too short for language id
    docs = enrich_texts(["ok", "ok"], ["de", "en"], model=model)
    assert [d["lang"] for d in docs] == ["de", "en"]
    assert docs[0]["sentiment"]["score"] != docs[1]["sentiment"]["score"]
    assert len(model.runs) == 2


def test_documents_are_independent_copies():
    memo = EnrichMemo()
    first, second = enrich_texts([EN, EN], ["en", "en"], model=_Recording(), memo=memo)
    first["sentiment"]["label"] = "changed by the caller"
    assert second["sentiment"]["label"] == "negative"
    assert enrich_texts([EN], ["en"], model=_Recording(), memo=memo)[0]["sentiment"]["label"] == "negative"


def test_the_memo_is_bounded_and_forgets_the_least_recently_used():
    model, memo = _Recording(), EnrichMemo(limit=2)
    enrich_texts([EN, EN2], ["en", "en"], model=model, memo=memo)
    enrich_texts([EN], ["en"], model=model, memo=memo)  # EN is now the most recent
    enrich_texts([DE], ["de"], model=model, memo=memo)  # drops EN2
    assert len(memo.docs) == 2 and len(memo.langs) == 2
    model.runs.clear()
    enrich_texts([EN, EN2], ["en", "en"], model=model, memo=memo)
    assert model.runs == [(EN2, "en")]


def test_a_page_larger_than_the_memo_still_gets_every_answer():
    texts = [EN, EN2, DE, EN]
    docs = enrich_texts(texts, ["en", "en", "de", "en"], model=_Recording(), memo=EnrichMemo(limit=1))
    assert [d["lang"] for d in docs] == ["en", "en", "de", "en"] and docs[0] == docs[3]


def test_a_failed_model_run_leaves_nothing_in_the_memo():
    memo = EnrichMemo()
    with pytest.raises(RuntimeError):
        enrich_texts([EN], ["en"], model=_Recording(fail=True), memo=memo)
    assert len(memo.docs) == 0 and memo.misses == 0
    model = _Recording()
    enrich_texts([EN], ["en"], model=model, memo=memo)
    assert model.runs == [(EN, "en")]


def test_misaligned_hints_are_refused():
    with pytest.raises(ValueError, match="hints"):
        enrich_texts([EN, DE], ["en"], model=_Recording())


def test_the_shipped_model_gives_a_repeat_the_same_document_as_the_text_alone():
    from nlp.sentiment import get_model

    model = get_model("default")
    texts = [EN, DE, EN, "Northwind Coffee announced changes to the espresso beans today", DE]
    docs = enrich_texts(texts, [None] * len(texts), model=model)
    assert docs[0] == docs[2] and docs[1] == docs[4]
    alone = enrich_texts([EN], [None], model=model)[0]
    assert alone["lang"] == docs[0]["lang"] and alone["sentiment"]["label"] == docs[0]["sentiment"]["label"]
    for label, p in alone["sentiment"]["probabilities"].items():
        assert docs[0]["sentiment"]["probabilities"][label] == pytest.approx(p, abs=1e-3)
    assert ("emotion" in alone) == ("emotion" in docs[0])
