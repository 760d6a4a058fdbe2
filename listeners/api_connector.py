"""What the social-API connectors share: the brand query, credentials, polite
retries with an injectable clock, `fetch` (the sweep loop of
`listeners/loop.py` over the connector's `plan`), and turning one platform
post into a Mention (re-checked against the query) or a Reject (never dropped)."""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field, SecretStr, ValidationError

from brandpulse.core.config import Brand
from brandpulse.core.errors import FatalSourceError, RetriableSourceError, SourceError
from brandpulse.core.mention import Mention
from brandpulse.core.query import Query, QuerySyntaxError, parse_query
from listeners import credentials, loop
from listeners.base import Batch, Connector, ConnectorOptions, Cursor, Reject, dumps
from listeners.credentials import Secret
from listeners.retry import RetryPolicy, Verdict

log = logging.getLogger(__name__)


class ApiOptions(ConnectorOptions):
    """Options every social-API connector accepts (the brand's `sources.<name>`)."""

    query: str | None = Field(
        default=None, description="native search query; replaces the one compiled from the brand query"
    )
    backfill_hours: float = Field(
        default=24.0, gt=0, description="first run without cursor or --since: look back this far"
    )
    max_rate_limit_wait_s: float = Field(
        default=900.0, ge=0, description="wait at most this long for a rate-limit reset, else retry later"
    )


class ApiConnector(Connector):
    """Base of the X, Reddit, Mastodon, Bluesky and Hacker News connectors."""

    Options: ClassVar[type[ConnectorOptions]] = ApiOptions
    secrets: ClassVar[tuple[Secret, ...]] = ()
    options: ApiOptions
    #: counter for a post reached again through another stream (None: not counted)
    duplicate_stat: ClassVar[str | None] = None

    def __init__(
        self,
        brand: Brand,
        options: ConnectorOptions | dict[str, Any] | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(brand, options)
        self.retry = retry or RetryPolicy()
        self.retry.max_rate_limit_wait_s = self.options.max_rate_limit_wait_s
        try:
            self.query: Query = parse_query(brand.query)
        except QuerySyntaxError as exc:
            raise FatalSourceError(f"brand {brand.name!r}: {exc}") from None
        self.stats: Counter[str] = Counter()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.credentials = tuple(s.env for s in cls.secrets if s.required)
        if "fetch" in cls.__dict__:
            cls.fetch = _mapping_errors(cls.__dict__["fetch"])  # type: ignore[method-assign]

    # reading ----------------------------------------------------------------

    def plan(self, cursor: Cursor, since: datetime | None) -> loop.Plan:
        """The streams one run reads (its searches, timelines, listings)."""
        raise NotImplementedError

    def fetch(self, cursor: Cursor | None, since: datetime | None = None) -> Iterator[Batch]:
        """The shared sweep loop (`listeners/loop.py`) over `plan`."""
        yield from loop.run(self, self.plan(cursor or {}, since), cursor, since)

    def call(
        self, fn: Callable[[], Any], classify: Callable[[BaseException], Verdict], what: str, about: str
    ) -> Any:
        """One client call with polite retries (`RetryPolicy`); what the library
        raises leaves as the connector's error class (`map_error(exc, about)`)."""
        try:
            return self.retry.call(fn, classify, what)
        except SourceError:
            raise
        except Exception as exc:
            mapped = self.map_error(exc, about)
            if mapped is None:
                raise
            raise mapped from None

    # errors -----------------------------------------------------------------

    def map_error(self, exc: BaseException, what: str) -> SourceError | None:
        """The one place a connector maps what its client library raises to
        `FatalSourceError` (retrying cannot help) or `RetriableSourceError` (the
        task may retry later). None: not a client-library error (a bug), re-raised.

        Every `fetch` goes through it (see `_mapping_errors`), so no library
        exception leaves a connector unmapped."""
        return None

    # credentials ------------------------------------------------------------

    def missing_credentials(self) -> list[str]:
        return credentials.missing(self.secrets)

    def secret(self, env: str) -> SecretStr | None:
        return credentials.resolve(next(s for s in self.secrets if s.env == env))

    def require(self, env: str) -> str:
        value = self.secret(env)
        if value is None:
            spec = next(s for s in self.secrets if s.env == env)
            raise FatalSourceError(f"{self.name}: missing credential {spec.describe()}")
        return value.get_secret_value()

    # time -------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.retry.clock(), UTC)

    def start_time(self, since: datetime | None) -> datetime:
        """Where a first run (no cursor) starts: `since`, or `backfill_hours` ago."""
        if since is not None:
            return since if since.tzinfo else since.replace(tzinfo=UTC)
        return self.now() - timedelta(hours=self.options.backfill_hours)

    # posts ------------------------------------------------------------------

    def build(
        self,
        raw: Any,
        *,
        native_id: str,
        text: str | None,
        created_at: datetime | str | None,
        lang_hint: str | None = None,
        location: str | None = None,
        **fields: Any,
    ) -> Mention | Reject | None:
        """A Mention if the post matches the brand query, None if it does not,
        a Reject (with the raw payload) if it cannot become a Mention."""
        self.stats["fetched"] += 1
        if not text or not text.strip():
            self.stats["rejected"] += 1
            return Reject("empty text (deleted, removed or media-only post)", dumps(raw), location)
        result = self.query.match(text, lang_hint)
        if not result.matched:
            self.stats["not matching"] += 1
            return None
        try:
            mention = Mention(
                platform=self.name,
                native_id=native_id,
                text=text,
                # pydantic parses a str (lax mode); None fails validation: a Reject below
                created_at=created_at,  # type: ignore[arg-type]
                lang_hint=lang_hint,
                collected_at=self.now(),
                brands=[self.brand.name],
                matched_terms=result.terms,
                **fields,
            )
        except ValidationError as exc:
            self.stats["rejected"] += 1
            reason = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'post'}: {e['msg']}" for e in exc.errors()
            )
            return Reject(f"invalid post: {reason}", dumps(raw), location)
        self.stats["mentions"] += 1
        return mention

    def log_stats(self) -> None:
        if self.stats:
            summary = ", ".join(f"{v} {k}" for k, v in sorted(self.stats.items()))
            log.info("%s/%s: %s", self.brand.name, self.name, summary)


def by_status(status: int | None, message: str) -> SourceError:
    """HTTP status -> class: 408, 425, 429 and 5xx (and no response at all) are
    retriable; other 4xx (bad request, credentials, access, not found) are fatal."""
    if status is None or status in (408, 425, 429) or status >= 500:
        return RetriableSourceError(message)
    return FatalSourceError(message)


def _mapping_errors(fetch: Callable[..., Iterator[Batch]]) -> Callable[..., Iterator[Batch]]:
    """Wrap a connector's `fetch` so any client-library error leaves it as the
    connector's Fatal/RetriableSourceError (batches already yielded stay yielded)."""

    @functools.wraps(fetch)
    def wrapper(self: ApiConnector, cursor: Any, since: datetime | None = None) -> Iterator[Batch]:
        try:
            yield from fetch(self, cursor, since)
        except SourceError:
            raise
        except Exception as exc:
            mapped = self.map_error(exc, self.name)
            if mapped is None:
                raise
            log.warning("%s/%s: %s", self.brand.name, self.name, mapped)
            raise mapped from None

    return wrapper


ApiConnector.fetch = _mapping_errors(ApiConnector.fetch)  # type: ignore[method-assign]


class RedactTokens(logging.Filter):
    """Masks bearer tokens in log records of client libraries that log request
    headers at DEBUG (tweepy does)."""

    PATTERN = re.compile(
        r"""(?P<head>Bearer\s+|['"]?Authorization['"]?\s*[:=]\s*['"]?)"""  # header name or scheme
        r"""[^'"\s,}]+(\s+[^'"\s,}]+)?"""  # the value: "<scheme> <token>" or "<token>"
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Bearer" in message or "Authorization" in message:
            record.msg, record.args = self.PATTERN.sub(r"\g<head>***", message), None
        return True


def redact_tokens(logger_name: str) -> None:
    """Install `RedactTokens` on a library logger (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str | None) -> str:
    """Plain text of a post's HTML: paragraphs and <br> kept as line breaks,
    entities decoded, link texts kept in full (Mastodon hides URL parts in spans)."""
    if not html:
        return ""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for p in soup.find_all("p"):
        p.insert_before("\n\n")
    return _BLANK_LINES.sub("\n\n", soup.get_text()).strip()


def parse_iso(value: str | None) -> datetime | None:
    """ISO-8601 timestamp (Z or offset) as an aware datetime; None if unparseable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
