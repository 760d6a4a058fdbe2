"""Pure enrichment functions the enrich step (CLI/DAG) wires to Elasticsearch.

``enrich_texts`` turns texts into partial mention documents (``lang`` and
``sentiment``, shaped like the mentions mapping, plus ``emotion`` where the
model has an emotion head and the detected language is in its emotion set);
the caller sets the ``enrichment`` status fields and writes the updates by ``_id``.

Identical inputs are enriched once. Within a call, language id runs once per
distinct (text, hint) and the model once per distinct (text, language); with an
:class:`EnrichMemo` shared across calls (the enrich step keeps one per run),
an input seen on an earlier page is not run again either. Social streams repeat
themselves (retweets, copy-paste campaigns, bots, a page retried), and the
results are the same model's on the same input, so nothing is approximated.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from importlib.metadata import version as package_version
from typing import Any, TypeVar

from cachetools import LRUCache

from nlp.emotion import results_from_logits
from nlp.language import RULES_VERSION, detect_languages
from nlp.sentiment import SentimentModel, get_model

K = TypeVar("K")
V = TypeVar("V")


def enrichment_version(model: SentimentModel | None = None) -> str:
    """A string that changes whenever a model behind ``enrich_texts`` changes.

    Mentions whose ``enrichment.version`` differs are due for re-enrichment.
    """
    model = model or get_model()
    precision = getattr(model, "precision", None)  # int8 and fp32 do not label quite alike
    sentiment = f"{model.name}@{model.version}" + (f"+{precision}" if precision else "")
    return f"sentiment={sentiment};lang=py3langid@{package_version('py3langid')}+{RULES_VERSION}"


class EnrichMemo:
    """What one enrich run has already worked out, for one model: the language of each
    (text, hint) and the document of each (text, language), at most ``limit`` of each
    (least recently used dropped). Create one per run and model; never share it
    between models. ``hits`` and ``misses`` count documents served and computed.
    An entry costs about 1.5 KB (document with emotion scores, key, links), so the
    default bound is about 30 MB."""

    def __init__(self, limit: int = 20_000) -> None:
        self.langs: LRUCache[tuple[str, str | None], str] = LRUCache(maxsize=limit)
        self.docs: LRUCache[tuple[str, str], dict] = LRUCache(maxsize=limit)
        self.hits = 0
        self.misses = 0


def enrich_texts(
    texts: Sequence[str],
    lang_hints: Sequence[str | None] | None = None,
    model: SentimentModel | None = None,
    memo: EnrichMemo | None = None,
) -> list[dict]:
    """Language and sentiment per text, as partial documents, in input order.

    ``model`` defaults to the process-wide default sentiment model (loaded once);
    batching and length sorting happen inside the model. Each distinct input runs
    once (see the module docstring); ``memo`` carries that across calls.
    """
    texts = list(texts)
    hints: list[str | None] = list(lang_hints) if lang_hints is not None else [None] * len(texts)
    if len(hints) != len(texts):
        raise ValueError("hints must align with texts")
    model = model or get_model()
    memo = memo if memo is not None else EnrichMemo()
    langs = _languages(texts, hints, memo)
    keys = list(zip(texts, langs, strict=True))
    found, todo = _known(memo.docs, keys)
    computed = _model_documents([t for t, _ in todo], [g for _, g in todo], model)
    for key, doc in zip(todo, computed, strict=True):
        found[key] = memo.docs[key] = doc
    memo.misses += len(todo)
    memo.hits += len(keys) - len(todo)
    return [copy.deepcopy(found[k]) for k in keys]


def _known(cache: LRUCache[K, V], keys: list[K]) -> tuple[dict[K, V], list[K]]:
    """(what ``cache`` already holds for ``keys``, the distinct keys it lacks, in first-seen order)."""
    found: dict[K, V] = {}
    todo: list[K] = []
    for key in dict.fromkeys(keys):
        value = cache.get(key)
        if value is None:
            todo.append(key)
        else:
            found[key] = value
    return found, todo


def _languages(texts: list[str], hints: list[str | None], memo: EnrichMemo) -> list[str]:
    """The detected language per text, detecting each distinct (text, hint) once."""
    pairs = list(zip(texts, hints, strict=True))
    found, todo = _known(memo.langs, pairs)
    for pair, guess in zip(todo, detect_languages([t for t, _ in todo], [h for _, h in todo]), strict=True):
        found[pair] = memo.langs[pair] = guess.lang
    return [found[p] for p in pairs]


def _model_documents(texts: list[str], langs: list[str], model: SentimentModel) -> list[dict]:
    """One partial document per (text, language), from one model run over all of them."""
    if not texts:
        return []
    emotion_langs: frozenset[str] = getattr(model, "emotion_languages", frozenset())
    predict_with_emotion = getattr(model, "predict_with_emotion", None)
    # our models blend by language: give them the languages stored on the documents
    kwargs: dict[str, Any] = {"langs": langs} if getattr(model, "takes_languages", False) else {}
    if predict_with_emotion is not None and emotion_langs:
        results, emotion_logits = predict_with_emotion(texts, **kwargs)
    else:
        results, emotion_logits = model.predict(texts, **kwargs), None
    emotions = results_from_logits(emotion_logits) if emotion_logits is not None else [None] * len(texts)
    docs = []
    for lang, result, emotion in zip(langs, results, emotions, strict=True):
        doc = {"lang": lang, "sentiment": result.as_document()}
        if emotion is not None and lang in emotion_langs:
            doc["emotion"] = emotion.as_document()
        docs.append(doc)
    return docs
