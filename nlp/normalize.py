"""Inference-time text normalisation (never applied to the stored text).

The sentiment data the models learn from writes user names as ``@user`` and
links as ``http``; mentions are normalised the same way before scoring.
"""

from __future__ import annotations

import re

_USER = re.compile(r"(?<![\w@])@\w{1,30}")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)


def normalise_for_model(text: str) -> str:
    """``@handle`` → ``@user`` and links → ``http``, as in the training data."""
    return _URL.sub("http", _USER.sub("@user", text)).strip()
