"""The listener contract: fetch since a cursor -> batches of Mentions + next cursor."""

from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from brandpulse.core.errors import FatalSourceError, NothingToRead, RetriableSourceError, SourceError
from brandpulse.core.mention import Mention

if TYPE_CHECKING:
    from brandpulse.core.config import Brand

__all__ = [
    "Batch",
    "Connector",
    "ConnectorOptions",
    "Cursor",
    "FatalSourceError",
    "NothingToRead",
    "Reject",
    "RetriableSourceError",
    "SourceError",
]

Cursor = dict[str, Any]
"""JSON-serialisable connector state; stored durably per (brand, source)."""


@dataclass(frozen=True)
class Reject:
    """Input that could not become a Mention. Kept (quarantined), never dropped."""

    reason: str
    raw: str
    location: str | None = None  # file path, URL, API endpoint
    line: int | None = None


@dataclass
class Batch:
    """What one fetch step yields. `cursor` is the state *after* this batch.

    The runner writes `mentions` (and quarantines `rejects`) first and stores
    `cursor` only once Elasticsearch has acknowledged them.
    """

    mentions: list[Mention]
    cursor: Cursor
    rejects: list[Reject] = field(default_factory=list)


class ConnectorOptions(BaseModel):
    """Base for each connector's options (the brand's `sources.<name>` mapping)."""

    model_config = ConfigDict(extra="forbid")


class Connector(ABC):
    """One platform. Subclasses set `name`, `Options` and `fetch`."""

    name: ClassVar[str]
    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions
    #: environment variables that must all be set (or an Airflow Connection of
    #: the same purpose exists) for the connector to run; empty = none needed
    credentials: ClassVar[tuple[str, ...]] = ()

    def __init__(self, brand: Brand, options: ConnectorOptions | dict[str, Any] | None = None):
        self.brand = brand
        if not isinstance(options, ConnectorOptions):
            options = self.Options.model_validate(options or {})
        self.options = options

    def missing_credentials(self) -> list[str]:
        """Names of required credentials that are not available."""
        return [name for name in self.credentials if not os.environ.get(name)]

    @abstractmethod
    def fetch(self, cursor: Cursor | None, since: datetime | None = None) -> Iterator[Batch]:
        """Yield batches of new mentions after `cursor` (or after `since` if no cursor)."""


def short(exc: BaseException, limit: int = 300) -> str:
    """`Type: message`, cut, tags dropped (an HTML error page is not a message)."""
    return brief_body(f"{type(exc).__name__}: {exc}", limit)


_TAGS = re.compile(r"<[^>]*>")


def brief_body(text: str | None, limit: int = 200) -> str:
    """An error response body for a message: tags of an HTML page dropped, white
    space collapsed, cut at `limit` characters."""
    plain = " ".join(_TAGS.sub(" ", text or "").split())
    return plain if len(plain) <= limit else plain[:limit] + "..."


def dumps(raw: Any) -> str:
    """A platform payload as JSON text for the quarantine."""
    return json.dumps(raw, ensure_ascii=False, default=str, sort_keys=True)
