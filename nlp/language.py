"""Language identification of mentions (py3langid, model bundled in the package).

The detected language is stored as ``lang``; a platform's own hint is kept
separately by the caller. Links, user names and hashtag marks are removed
before detection (they are not language); texts with nothing left, or whose
best guess is below ``min_confidence``, fall back to the hint or ``"und"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

UNDETERMINED = "und"
_NOISE = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@\w+|\bhttp\b|#|&amp;|&lt;|&gt;", re.IGNORECASE)


@dataclass(frozen=True)
class LanguageGuess:
    """ISO 639-1 code (or ``und``), the model's confidence and whether it came from the hint."""

    lang: str
    confidence: float
    from_hint: bool = False


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_text(text: str) -> str:
    """The part of a post that carries language: no links, user names or '#'."""
    return " ".join(_NOISE.sub(" ", text).split())


def detect_language(text: str, hint: str | None = None, min_confidence: float = 0.5) -> LanguageGuess:
    """Best language of one text; the hint (if any) wins when detection is unsure."""
    cleaned = language_text(text)
    if not any(ch.isalpha() for ch in cleaned):
        return LanguageGuess(hint or UNDETERMINED, 0.0, from_hint=bool(hint))
    lang, confidence = _identifier().classify(cleaned)
    if confidence < min_confidence:
        return LanguageGuess(hint or UNDETERMINED, round(confidence, 4), from_hint=bool(hint))
    return LanguageGuess(lang, round(confidence, 4))


def detect_languages(
    texts: Sequence[str], hints: Sequence[str | None] | None = None, min_confidence: float = 0.5
) -> list[LanguageGuess]:
    """:func:`detect_language` over many texts (``hints`` aligned with ``texts``)."""
    hints = hints if hints is not None else [None] * len(texts)
    if len(hints) != len(texts):
        raise ValueError("hints must align with texts")
    return [detect_language(t, h, min_confidence) for t, h in zip(texts, hints, strict=True)]
