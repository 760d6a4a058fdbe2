"""Mastodon through Mastodon.py: hashtag timelines and full-text search on each
configured instance.

Every (instance, timeline) has its own newest-first `Sweep` cursor over the
instance's status ids (since_id / max_id paging). Status HTML becomes plain
text; a boost is replaced by the post it boosts, and posts are identified by
their ActivityPub URI, so one post seen on two instances or boosted five times
is one document.

Credentials are optional: public hashtag timelines need none. An access token
(MASTODON_ACCESS_TOKEN) belongs to one instance (MASTODON_API_BASE_URL) and is
only ever sent to that instance; full-text search runs where a token is set.
Rate limits (300 requests / 5 min per account or IP) come back as 429 with an
X-RateLimit-Reset time; the connector waits for it (see listeners/retry.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlparse

from pydantic import Field, field_validator

from brandpulse.core.errors import FatalSourceError, RetriableSourceError, SourceError
from brandpulse.core.mention import Author, Engagement, Thread
from brandpulse.core.query import compile_mastodon, mastodon_hashtags
from listeners.api_connector import ApiConnector, ApiOptions, by_status, html_to_text, parse_iso
from listeners.base import Cursor, short
from listeners.credentials import Secret
from listeners.loop import Limit, Page, Plan, Post, SkipStream, Stream
from listeners.registry import registry
from listeners.retry import RateLimited, Transient, Verdict
from listeners.sweep import Sweep

log = logging.getLogger(__name__)

USER_AGENT = "brandpulse-social-listening (Mastodon.py)"


class MastodonOptions(ApiOptions):
    instances: list[str] = Field(default_factory=lambda: ["mastodon.social"], min_length=1)
    hashtags: list[str] | None = Field(
        default=None, description="timelines to read; None: the query's hashtags and one-word terms"
    )
    search: bool = Field(default=True, description="full-text search where an access token is set")
    page_size: int = Field(default=40, ge=1, le=40)
    max_pages: int = Field(default=50, ge=1, description="per timeline per run")

    @field_validator("instances")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [host_of(v) for v in value]

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [v.lstrip("#") for v in value]


def host_of(url_or_host: str) -> str:
    """'https://Mastodon.Social/' -> 'mastodon.social'."""
    text = url_or_host.strip()
    return (urlparse(text).netloc if "//" in text else text.split("/")[0]).lower()


def snowflake_at(epoch_s: float) -> int:
    """The smallest Mastodon status id at or after `epoch_s`."""
    return int(epoch_s * 1000) << 16


class MastodonConnector(ApiConnector):
    """Hashtag timelines + search on each configured instance."""

    name = "mastodon"
    Options = MastodonOptions
    options: MastodonOptions
    duplicate_stat = "duplicate or boost"
    secrets: ClassVar[tuple[Secret, ...]] = (
        Secret("MASTODON_ACCESS_TOKEN", "brandpulse_mastodon", "password", required=False),
        Secret("MASTODON_API_BASE_URL", "brandpulse_mastodon", "host", required=False),
    )

    def missing_credentials(self) -> list[str]:
        token, base = self.secret("MASTODON_ACCESS_TOKEN"), self.secret("MASTODON_API_BASE_URL")
        if (token is None) != (base is None):  # a token without its instance (or vice versa)
            return [s.describe() for s, v in zip(self.secrets, (token, base), strict=True) if v is None]
        return []

    def _client(self, instance: str) -> tuple[Any, dict]:
        import requests
        from mastodon import Mastodon

        token, base = self.secret("MASTODON_ACCESS_TOKEN"), self.secret("MASTODON_API_BASE_URL")
        own = token is not None and base is not None and host_of(base.get_secret_value()) == instance
        last: dict = {}
        session = requests.Session()
        session.hooks["response"].append(lambda response, *a, **k: last.update(response=response))
        api = Mastodon(
            api_base_url=f"https://{instance}",
            access_token=token.get_secret_value() if own and token else None,
            ratelimit_method="throw",
            version_check_mode="none",
            mastodon_version="4.3.0",
            session=session,
            user_agent=USER_AGENT,
            request_timeout=30,
        )
        return api, last

    def timelines(self, authenticated: bool) -> list[tuple[str, str]]:
        """(kind, value) pairs: ("tag", name) and ("search", query)."""
        tags = self.options.hashtags if self.options.hashtags is not None else mastodon_hashtags(self.query)
        out = [("tag", t) for t in tags]
        if self.options.search and authenticated:
            queries = [self.options.query] if self.options.query else compile_mastodon(self.query)
            out += [("search", q) for q in queries]
        return out

    def plan(self, cursor: Cursor, since: datetime | None) -> Plan:
        streams = []
        for instance in self.options.instances:
            api, last = self._client(instance)
            for kind, value in self.timelines(authenticated=api.access_token is not None):
                streams.append(self._stream(api, last, instance, kind, value))
        return Plan(streams, noun="timeline")

    def _stream(self, api: Any, last: dict, instance: str, kind: str, value: str) -> Stream:
        def since_id(sweep: Sweep) -> int:
            return sweep.high.key if sweep.high is not None else snowflake_at(sweep.floor or 0) - 1

        def fetch(sweep: Sweep, token: Any) -> Page:
            max_id = sweep.low.key if sweep.low is not None else None  # pages down below `low`

            def page() -> list:
                if kind == "tag":
                    return api.timeline_hashtag(
                        value, since_id=since_id(sweep), max_id=max_id, limit=self.options.page_size
                    )
                found = api.search_v2(
                    value, result_type="statuses", resolve=False, max_id=max_id, limit=self.options.page_size
                )
                return list(found.get("statuses") or [])

            statuses = self._call(page, api, last, instance, f"{kind} {value!r}")
            return Page(statuses, next=True if len(statuses) >= self.options.page_size else None)

        return Stream(
            path=("instances", instance, f"{kind}:{value}"),
            fetch=fetch,
            key=lambda status: int(status["id"]),
            item_id=lambda status: str(status["id"]),
            identity=lambda status: _uri(status, instance),
            to_post=lambda status: self._to_post(status, instance),
            budget=Limit(max_pages=self.options.max_pages),
            lower_bound=lambda sweep: since_id(sweep) + 1,  # search cannot be bounded by since_id
        )

    def _to_post(self, status: dict, instance: str) -> Post:
        original = status.get("reblog") or status  # boosts count once, as the boosted post
        uri = _uri(status, instance)
        account = original.get("account") or {}
        acct = account.get("acct") or ""
        handle = acct if "@" in acct or not acct else f"{acct}@{instance}"
        text = html_to_text(original.get("content"))
        if original.get("spoiler_text"):
            text = f"{original['spoiler_text']}\n\n{text}".strip()
        created = original.get("created_at")
        return Post(
            original,
            native_id=uri,
            text=text,
            created_at=created if isinstance(created, datetime) else parse_iso(created),
            lang_hint=original.get("language"),
            location=original.get("url") or uri,
            url=original.get("url") or uri,
            kind="reply" if original.get("in_reply_to_id") else "post",
            author=Author(
                id=account.get("url") or None,
                handle=handle or None,
                display_name=account.get("display_name") or None,
                followers=account.get("followers_count"),
            ),
            engagement=Engagement(
                likes=original.get("favourites_count"),
                reposts=original.get("reblogs_count"),
                replies=original.get("replies_count"),
            ),
            thread=Thread(
                parent_id=str(original["in_reply_to_id"]) if original.get("in_reply_to_id") else None,
                instance=instance,
            ),
        )

    def _call(self, fn: Any, api: Any, last: dict, instance: str, what: str) -> list:
        from mastodon import MastodonAPIError, MastodonNotFoundError, MastodonUnauthorizedError

        def classify(exc: BaseException) -> Verdict:
            return self._classify(exc, last)

        try:
            return self.retry.call(fn, classify, f"mastodon {instance} {what}")
        except MastodonUnauthorizedError as exc:
            if api.access_token is not None:
                raise FatalSourceError(
                    f"{instance} rejected MASTODON_ACCESS_TOKEN (401): {exc}. Check the token and "
                    "that MASTODON_API_BASE_URL names its instance."
                ) from None
            raise SkipStream(f"{instance} {what}: requires login (401)") from None
        except MastodonNotFoundError:
            raise SkipStream(f"{instance} {what}: not found (404)") from None
        except MastodonAPIError as exc:
            raise SkipStream(f"{instance} {what}: refused: {exc}") from None

    def map_error(self, exc: BaseException, what: str) -> SourceError | None:
        """Mastodon.py / requests errors -> Fatal or Retriable (one place). Inside a
        run, an instance refusing one timeline (4xx) is skipped instead (`_call`)."""
        import requests
        from mastodon import (
            MastodonAPIError,
            MastodonError,
            MastodonNetworkError,
            MastodonRatelimitError,
            MastodonServerError,
            MastodonUnauthorizedError,
        )

        if isinstance(exc, MastodonRatelimitError):
            return RetriableSourceError(f"Mastodon rate limit (429) on {what}; retry later")
        if isinstance(exc, (MastodonNetworkError, MastodonServerError, requests.RequestException)):
            return RetriableSourceError(f"Mastodon {what} failed: {short(exc)}")
        if isinstance(exc, MastodonUnauthorizedError):
            return FatalSourceError(
                f"Mastodon {what}: 401 ({short(exc)}). Check MASTODON_ACCESS_TOKEN and that "
                "MASTODON_API_BASE_URL names its instance."
            )
        if isinstance(exc, MastodonAPIError):
            status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
            return by_status(status if status is not None else 400, f"Mastodon refused {what}: {short(exc)}")
        if isinstance(exc, MastodonError):  # illegal argument, version, malformed response
            return FatalSourceError(f"Mastodon.py refused {what}: {short(exc)}")
        return None

    def _classify(self, exc: BaseException, last: dict) -> Verdict:
        from mastodon import MastodonNetworkError, MastodonRatelimitError, MastodonServerError

        if isinstance(exc, MastodonRatelimitError):
            response = last.get("response")
            return RateLimited(self._reset_at(response.headers if response is not None else {}))
        if isinstance(exc, (MastodonServerError, MastodonNetworkError)):
            return Transient()
        return None

    def _reset_at(self, headers: Any) -> float | None:
        """X-RateLimit-Reset relative to the server's Date header, on our clock."""
        reset = parse_iso(headers.get("X-RateLimit-Reset"))
        if reset is None:
            return None
        try:
            server_now = parsedate_to_datetime(headers["Date"]).timestamp()
        except (KeyError, TypeError, ValueError):
            server_now = self.retry.clock()
        return self.retry.clock() + max(0.0, reset.timestamp() - server_now)


def _uri(status: dict, instance: str) -> str:
    """A post's ActivityPub URI (of the boosted post for a boost): one document
    however many instances and boosts it is seen through."""
    original = status.get("reblog") or status
    return original.get("uri") or original.get("url") or f"https://{instance}/statuses/{original['id']}"


registry.register(MastodonConnector)
