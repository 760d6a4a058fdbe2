"""Bluesky through the atproto client: `app.bsky.feed.searchPosts` (sort=latest).

searchPosts has no OR, so the brand query becomes one search per alternative
(see `compile_bluesky`); each has its own newest-first `Sweep` cursor over the
post's sort time (the earlier of createdAt and indexedAt, as the server sorts),
paged with the API cursor within a run and `since`/`until` across runs.

Credentials are optional: without them the public AppView is used
(https://public.api.bsky.app, which may refuse search to anonymous callers);
with BLUESKY_HANDLE + BLUESKY_APP_PASSWORD the client logs in to the PDS and
searches there. A 429 waits for the `ratelimit-reset` header.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from brandpulse.core.errors import FatalSourceError, RetriableSourceError, SourceError
from brandpulse.core.mention import Author, Engagement, Kind, Thread
from brandpulse.core.query import compile_bluesky
from listeners.api_connector import ApiConnector, ApiOptions, by_status, iso, parse_iso
from listeners.base import Cursor, brief_body, short
from listeners.credentials import Secret
from listeners.loop import Limit, Page, Plan, Post, Stream
from listeners.registry import registry
from listeners.retry import RateLimited, Transient, Verdict
from listeners.sweep import Sweep

log = logging.getLogger(__name__)

PUBLIC_APPVIEW = "https://public.api.bsky.app"
QUOTE_EMBEDS = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")


class BlueskyOptions(ApiOptions):
    service_url: str = Field(default=PUBLIC_APPVIEW, description="AppView used without login")
    pds_url: str = Field(default="https://bsky.social", description="PDS used with login")
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=50, ge=1, description="per search per run")


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def post_url(handle: str | None, did: str, uri: str) -> str:
    """https://bsky.app/profile/<handle or DID>/post/<rkey>."""
    who = handle if handle and handle != "handle.invalid" else did
    return f"https://bsky.app/profile/{who}/post/{uri.rsplit('/', 1)[-1]}"


class BlueskyConnector(ApiConnector):
    """searchPosts per brand through the atproto client."""

    name = "bluesky"
    Options = BlueskyOptions
    options: BlueskyOptions
    secrets: ClassVar[tuple[Secret, ...]] = (
        Secret("BLUESKY_HANDLE", "brandpulse_bluesky", "login", required=False),
        Secret("BLUESKY_APP_PASSWORD", "brandpulse_bluesky", "password", required=False),
    )

    def missing_credentials(self) -> list[str]:
        values = [self.secret(s.env) for s in self.secrets]
        if any(v is None for v in values) and any(v is not None for v in values):
            return [s.describe() for s, v in zip(self.secrets, values, strict=True) if v is None]
        return []

    def searches(self) -> list[dict[str, str]]:
        return [{"q": self.options.query}] if self.options.query else compile_bluesky(self.query)

    def _client(self) -> Any:
        from atproto import Client

        handle, password = self.secret("BLUESKY_HANDLE"), self.secret("BLUESKY_APP_PASSWORD")
        if handle is None or password is None:
            return Client(base_url=self.options.service_url)
        client = Client(base_url=self.options.pds_url)
        login, secret = handle.get_secret_value(), password.get_secret_value()
        self._call(lambda: client.login(login, secret, fetch_bsky_profile=False), "login")
        return client

    def plan(self, cursor: Cursor, since: datetime | None) -> Plan:
        client = self._client()
        return Plan([self._stream(client, _key(p), p) for p in self.searches()])

    def _stream(self, client: Any, key: str, search: dict[str, str]) -> Stream:
        params: dict[str, Any] = {}

        def fetch(sweep: Sweep, token: Any) -> Page:
            if token is None:  # since / until are set once per run; pages follow the API cursor
                floor = datetime.fromtimestamp(sweep.floor or 0, UTC)
                params.update(search, sort="latest", limit=self.options.page_size)
                params["since"] = iso(from_micros(sweep.high.key) if sweep.high is not None else floor)
                if sweep.low is not None:  # resume below what an earlier run yielded (until is exclusive)
                    params["until"] = iso(from_micros(sweep.low.key) + timedelta(milliseconds=1))
            else:
                params["cursor"] = token
            response = self._call(lambda p=dict(params): client.app.bsky.feed.search_posts(p), "searchPosts")
            return Page(list(response.posts), next=response.cursor if response.posts else None)

        return Stream(
            path=("searches", key),
            fetch=fetch,
            key=self._sort_key,
            item_id=lambda post: post.uri,
            to_post=self._to_post,
            budget=Limit(max_pages=self.options.max_pages),
        )

    @staticmethod
    def _sort_key(post: Any) -> int:
        moments = [parse_iso(post.indexed_at), parse_iso(getattr(post.record, "created_at", None))]
        known = [m for m in moments if m is not None]
        return micros(min(known)) if known else 0

    def _to_post(self, post: Any) -> Post:
        record = post.record
        author = post.author
        reply = getattr(record, "reply", None)
        embed = getattr(record, "embed", None)
        embed_type = getattr(embed, "py_type", None)
        if embed_type is None and isinstance(embed, dict):
            embed_type = embed.get("$type")
        kind: Kind = "reply" if reply else "quote" if embed_type in QUOTE_EMBEDS else "post"
        langs = getattr(record, "langs", None) or []
        url = post_url(author.handle, author.did, post.uri)
        created = parse_iso(getattr(record, "created_at", None))
        indexed = parse_iso(post.indexed_at)
        return Post(
            post.model_dump(mode="json", by_alias=True),
            native_id=post.uri,
            text=getattr(record, "text", None),
            created_at=created if created is not None and created <= (indexed or created) else indexed,
            lang_hint=langs[0] if langs else None,
            location=url,
            url=url,
            kind=kind,
            author=Author(id=author.did, handle=author.handle, display_name=author.display_name or None),
            engagement=Engagement(likes=post.like_count, reposts=post.repost_count, replies=post.reply_count),
            thread=Thread(
                conversation_id=reply.root.uri if reply else None,
                parent_id=reply.parent.uri if reply else None,
            ),
        )

    def _call(self, fn: Any, what: str) -> Any:
        return self.call(fn, self._classify, f"bluesky {what}", what)

    def map_error(self, exc: BaseException, what: str) -> SourceError | None:
        """atproto / httpx errors -> Fatal or Retriable (one place)."""
        import httpx
        from atproto_client.exceptions import (
            AtProtocolError,
            BadRequestError,
            NetworkError,
            RateLimitExceededError,
            RequestException,
            UnauthorizedError,
        )

        if isinstance(exc, UnauthorizedError):
            anonymous = self.secret("BLUESKY_HANDLE") is None
            hint = (
                "the public AppView refused anonymous search: set BLUESKY_HANDLE and "
                "BLUESKY_APP_PASSWORD (an app password) or the brandpulse_bluesky Connection"
                if anonymous
                else "check BLUESKY_HANDLE / BLUESKY_APP_PASSWORD (use an app password)"
            )
            return FatalSourceError(f"Bluesky {what} refused ({_describe(exc)}): {hint}")
        if isinstance(exc, RateLimitExceededError):
            return RetriableSourceError(f"Bluesky rate limit (429) on {what}; retry later")
        if isinstance(exc, BadRequestError):
            return FatalSourceError(f"Bluesky {what} rejected the request: {_describe(exc)}")
        if isinstance(exc, (NetworkError, httpx.TransportError)):
            return RetriableSourceError(f"Bluesky {what} failed: {_describe(exc)}")
        if isinstance(exc, RequestException):
            status = exc.response.status_code if exc.response is not None else None
            return by_status(status, f"Bluesky {what} failed: {_describe(exc)}")
        if isinstance(exc, httpx.HTTPError):
            return RetriableSourceError(f"Bluesky {what} failed: {short(exc)}")
        if isinstance(exc, AtProtocolError):  # a response the client cannot parse, a bad model
            return RetriableSourceError(f"Bluesky {what}: unexpected response: {short(exc)}")
        return None

    def _classify(self, exc: BaseException) -> Verdict:
        from atproto_client.exceptions import NetworkError, RateLimitExceededError, RequestException

        if isinstance(exc, RateLimitExceededError):
            headers = exc.response.headers if exc.response is not None else {}
            reset = headers.get("ratelimit-reset")
            return RateLimited(float(reset) if reset else None)
        if isinstance(exc, NetworkError):
            return Transient()
        if isinstance(exc, RequestException) and exc.response is not None and exc.response.status_code >= 500:
            return Transient()
        return None


def _describe(exc: Any) -> str:
    """An atproto error with its status and (cut) body, not the whole HTML page."""
    response = getattr(exc, "response", None)
    if response is None:
        return short(exc)
    content = response.content
    detail = content if isinstance(content, str) else getattr(content, "message", None) or content
    return f"{type(exc).__name__} {response.status_code}: {brief_body(str(detail))}"


def _key(params: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(params.items()))


registry.register(BlueskyConnector)
