"""The Mention record: one post about a brand, as stored in the mentions index.

Field names and meaning follow DESIGN.md. `text` is the original text and is
never altered; models normalise a copy for inference only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

#: Longest text accepted. Reddit self-posts (40,000 characters) are the longest
#: legitimate posts among the supported platforms; anything longer is bad input.
MAX_TEXT_CHARS = 40_000

Kind = Literal["post", "reply", "comment", "quote", "repost", "review"]
SentimentLabel = Literal["negative", "neutral", "positive"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Author(_Part):
    id: str | None = None
    handle: str | None = None
    display_name: str | None = None
    followers: int | None = Field(default=None, ge=0)
    verified: bool | None = None


class Engagement(_Part):
    likes: int | None = Field(default=None, ge=0)
    reposts: int | None = Field(default=None, ge=0)
    replies: int | None = Field(default=None, ge=0)
    score: int | None = None  # Reddit/HN score can be negative
    views: int | None = Field(default=None, ge=0)


class Thread(_Part):
    conversation_id: str | None = None
    parent_id: str | None = None
    subreddit: str | None = None
    instance: str | None = None


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


class Mention(BaseModel):
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
    sentiment: Sentiment | None = None
    topics: list[Topic] = Field(default_factory=list)
    emotion: Emotion | None = None
    enrichment: Enrichment = Field(default_factory=Enrichment)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return mention_id(self.platform, self.native_id)

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
        """The JSON document written to Elasticsearch (None fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)


def mention_id(platform: str, native_id: str) -> str:
    """The deterministic document id shared by every write of the same post."""
    return f"{platform}:{native_id}"
