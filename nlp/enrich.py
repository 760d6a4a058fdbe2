"""Pure enrichment functions the enrich step (CLI/DAG) wires to Elasticsearch.

``enrich_texts`` turns texts into partial mention documents (``lang`` and
``sentiment``, shaped like the mentions mapping, plus ``emotion`` where the
model has an emotion head and the detected language is in its emotion set);
the caller sets the ``enrichment`` status fields and writes the updates by ``_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version as package_version

from nlp.emotion import results_from_logits
from nlp.language import RULES_VERSION, detect_languages
from nlp.sentiment import SentimentModel, get_model


def enrichment_version(model: SentimentModel | None = None) -> str:
    """A string that changes whenever a model behind ``enrich_texts`` changes.

    Mentions whose ``enrichment.version`` differs are due for re-enrichment.
    """
    model = model or get_model()
    precision = getattr(model, "precision", None)  # int8 and fp32 do not label quite alike
    sentiment = f"{model.name}@{model.version}" + (f"+{precision}" if precision else "")
    return f"sentiment={sentiment};lang=py3langid@{package_version('py3langid')}+{RULES_VERSION}"


def enrich_texts(
    texts: Sequence[str], lang_hints: Sequence[str | None] | None = None, model: SentimentModel | None = None
) -> list[dict]:
    """Language and sentiment per text, as partial documents, in input order.

    ``model`` defaults to the process-wide default sentiment model (loaded once);
    batching and length sorting happen inside the model.
    """
    texts = list(texts)
    langs = detect_languages(texts, lang_hints)
    model = model or get_model()
    emotion_langs: frozenset[str] = getattr(model, "emotion_languages", frozenset())
    predict_with_emotion = getattr(model, "predict_with_emotion", None)
    # our models blend by language: give them the languages stored on the documents
    kwargs = {"langs": [g.lang for g in langs]} if getattr(model, "takes_languages", False) else {}
    if predict_with_emotion is not None and emotion_langs:
        results, emotion_logits = predict_with_emotion(texts, **kwargs)
    else:
        results, emotion_logits = model.predict(texts, **kwargs), None
    emotions = results_from_logits(emotion_logits) if emotion_logits is not None else [None] * len(texts)
    docs = []
    for guess, result, emotion in zip(langs, results, emotions, strict=True):
        doc = {"lang": guess.lang, "sentiment": result.as_document()}
        if emotion is not None and guess.lang in emotion_langs:
            doc["emotion"] = emotion.as_document()
        docs.append(doc)
    return docs
