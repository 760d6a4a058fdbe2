"""The Mention record: one post about a brand, as stored in the mentions index.

Field names and meaning match the mentions index template
(`indexing/templates/mentions.json`). `text` is the original text and is
never altered (except that lone surrogates, which no UTF-8 consumer can read,
become U+FFFD); models normalise a copy for inference only.

Record boundary: every string of a Mention, nested objects included, is valid
UTF-8 once the record is built (lone surrogates such as "a\udfffb" are replaced
by U+FFFD), so exports, search, reports and e-mails never see one. Ids are the
exception: a `native_id` with a lone surrogate is refused (replacing it could
merge two posts), and so is an id over Elasticsearch's 512-byte `_id` limit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

#: Longest text accepted. Reddit self-posts (40,000 characters) are the longest
#: legitimate posts among the supported platforms; anything longer is bad input.
MAX_TEXT_CHARS = 40_000

#: Elasticsearch refuses a whole bulk request when one `_id` is longer than this (bytes)
MAX_ID_BYTES = 512
#: Elasticsearch `long` range: larger counts are bad input, not a mapping error later
MAX_LONG = 2**63 - 1

_SURROGATES = re.compile("[\ud800-\udfff]")


def has_surrogates(value: str) -> bool:
    """True when `value` holds a lone surrogate (cannot be encoded as UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(value: str) -> str:
    """`value` as valid UTF-8: every lone surrogate becomes U+FFFD."""
    return _SURROGATES.sub("\ufffd", value) if has_surrogates(value) else value


def clean_strings(value: Any, _depth: int = 0) -> Any:
    """Recursively `clean_text` every string (dict keys too) of a JSON-like value."""
    if isinstance(value, str):
        return clean_text(value)
    if _depth > 64:
        raise ValueError("value nested more than 64 levels deep")
    if isinstance(value, dict):
        return {clean_strings(k, _depth + 1): clean_strings(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_strings(v, _depth + 1) for v in value]
    return value


class _Clean(BaseModel):
    """Models whose strings are valid UTF-8 once built: lone surrogates in the
    input become U+FFFD before validation (pydantic refuses them otherwise).
    Nested models clean their own input; ids are refused instead (`_ID_FIELDS`)."""

    @model_validator(mode="before")
    @classmethod
    def _valid_utf8(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cleaned = {}
        for key, value in data.items():
            if isinstance(value, str) and has_surrogates(value):
                if key in _ID_FIELDS:
                    raise ValueError(f"{key} holds a lone surrogate (invalid UTF-8); ids are not repaired")
                value = clean_text(value)
            elif isinstance(value, list) and any(isinstance(v, str) for v in value):
                value = [clean_text(v) if isinstance(v, str) else v for v in value]
            cleaned[key] = value
        return cleaned


_ID_FIELDS = frozenset({"native_id", "platform"})


Kind = Literal["post", "reply", "comment", "quote", "repost", "review"]
SentimentLabel = Literal["negative", "neutral", "positive"]


class _Part(_Clean):
    model_config = ConfigDict(extra="forbid")


class Author(_Part):
    id: str | None = None
    handle: str | None = None
    display_name: str | None = None
    followers: int | None = Field(default=None, ge=0, le=MAX_LONG)
    verified: bool | None = None


class Engagement(_Part):
    likes: int | None = Field(default=None, ge=0, le=MAX_LONG)
    reposts: int | None = Field(default=None, ge=0, le=MAX_LONG)
    replies: int | None = Field(default=None, ge=0, le=MAX_LONG)
    score: int | None = Field(default=None, ge=-MAX_LONG, le=MAX_LONG)  # Reddit/HN score can be negative
    views: int | None = Field(default=None, ge=0, le=MAX_LONG)


class Thread(_Part):
    conversation_id: str | None = None
    parent_id: str | None = None
    subreddit: str | None = None
    instance: str | None = None


class Review(_Part):
    """What an app-store review adds to a mention (`kind` review): the star
    rating (mapped for aggregation: daily average, share of 1-2 stars), the app
    and its version, the storefront country, the title (also the first
    paragraph of `text`) and the developer's reply where the store has one."""

    rating: int | None = Field(default=None, ge=1, le=5)
    title: str | None = None
    app_id: str | None = None
    app_version: str | None = None
    country: str | None = None
    helpful: int | None = Field(default=None, ge=0, le=MAX_LONG)  # "useful" votes / thumbs up
    developer_reply: str | None = None
    developer_replied_at: datetime | None = None

    @field_validator("developer_replied_at")
    @classmethod
    def _reply_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)


class Sentiment(_Part):
    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0)
    probabilities: dict[SentimentLabel, float]
    model: str
    model_version: str


class Topic(_Part):
    id: str
    label: str
    keywords: list[str] = Field(default_factory=list)
    score: float | None = None


class Emotion(_Part):
    label: str
    score: float = Field(ge=0.0, le=1.0)
    #: one score per emotion label (the index maps anger ... trust, optimism)
    scores: dict[str, float] | None = None


class Enrichment(_Part):
    status: Literal["pending", "done", "failed"] = "pending"
    version: str | None = None
    enriched_at: datetime | None = None
    error: str | None = None


def _as_utc(value: datetime) -> datetime:
    """Aware datetimes are converted to UTC; naive ones are taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Mention(_Clean):
    """One mention. `id` (= Elasticsearch `_id`) is `<platform>:<native_id>`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    platform: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    native_id: str = Field(min_length=1, max_length=512, pattern=r"^\S+$")
    url: str | None = None
    kind: Kind = "post"
    created_at: datetime
    collected_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    brands: list[str] = Field(default_factory=list)
    matched_terms: list[str] = Field(default_factory=list)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    lang: str | None = None
    lang_hint: str | None = None
    author: Author = Field(default_factory=Author)
    engagement: Engagement = Field(default_factory=Engagement)
    thread: Thread = Field(default_factory=Thread)
    review: Review | None = None  # app-store reviews only
    sentiment: Sentiment | None = None
    topics: list[Topic] = Field(default_factory=list)
    emotion: Emotion | None = None
    enrichment: Enrichment = Field(default_factory=Enrichment)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return mention_id(self.platform, self.native_id)

    @field_validator("native_id")
    @classmethod
    def _id_fits(cls, value: str, info: ValidationInfo) -> str:
        platform = info.data.get("platform")
        if platform is not None:
            size = len(mention_id(platform, value).encode("utf-8"))
            if size > MAX_ID_BYTES:
                raise ValueError(
                    f"id is {size:,} bytes in UTF-8; Elasticsearch ids are limited to {MAX_ID_BYTES} bytes"
                )
        return value

    @field_validator("created_at", "collected_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is blank")
        return value

    def to_document(self) -> dict:
        """The JSON document written to Elasticsearch (None fields left out).

        Strings are cleaned again here: a copy made with `model_copy(update=...)`
        skips validation, and what leaves the record must be valid UTF-8."""
        return clean_strings(self.model_dump(mode="json", exclude_none=True))


def mention_id(platform: str, native_id: str) -> str:
    """The deterministic document id shared by every write of the same post."""
    return f"{platform}:{native_id}"
