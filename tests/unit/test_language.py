"""Language identification of mentions."""

from __future__ import annotations

import pytest

pytest.importorskip("py3langid")

from nlp.language import UNDETERMINED, detect_language, detect_languages, language_text

SAMPLES = {
    "en": "The new update drained my battery overnight, really disappointed with the support",
    "fr": "Le service client ne répond jamais, je suis vraiment déçu de cette marque",
    "de": "Der Kundenservice antwortet nie, ich bin wirklich enttäuscht von dieser Marke",
    "es": "El servicio al cliente nunca responde, estoy muy decepcionado con esta marca",
    "pt": "O atendimento ao cliente nunca responde, estou muito decepcionado com essa marca",
    "it": "Il servizio clienti non risponde mai, sono davvero deluso da questo marchio",
    "ar": "خدمة العملاء لا ترد أبدا وأنا محبط جدا من هذه الشركة",
    "hi": "ग्राहक सेवा कभी जवाब नहीं देती, मैं इस ब्रांड से बहुत निराश हूँ",
}


@pytest.mark.parametrize(("lang", "text"), SAMPLES.items())
def test_detects_the_languages_we_score(lang, text):
    guess = detect_language(text)
    assert guess.lang == lang
    assert 0.5 <= guess.confidence <= 1.0
    assert not guess.from_hint


def test_links_and_handles_do_not_count_as_language():
    assert language_text("@Acme_Help https://t.co/xyz #fail now") == "fail now"


def test_no_language_falls_back_to_hint_or_und():
    assert detect_language("https://t.co/x @acme 👍👍").lang == UNDETERMINED
    hinted = detect_language("https://t.co/x @acme 👍👍", hint="ja")
    assert (hinted.lang, hinted.from_hint) == ("ja", True)


def test_confident_detection_overrides_a_wrong_hint():
    assert detect_language(SAMPLES["de"], hint="en").lang == "de"


def test_many_texts_keep_order_and_require_aligned_hints():
    texts = [SAMPLES["fr"], SAMPLES["en"]]
    assert [g.lang for g in detect_languages(texts)] == ["fr", "en"]
    with pytest.raises(ValueError):
        detect_languages(texts, hints=["fr"])
