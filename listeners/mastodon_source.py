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
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlparse

from pydantic import Field, field_validator

from brandpulse.core.mention import Author, Engagement, Mention, Thread
from brandpulse.core.query import compile_mastodon, mastodon_hashtags
from listeners.api_connector import (
    ApiConnector,
    ApiOptions,
    SourceError,
    by_status,
    html_to_text,
    parse_iso,
    short,
)
from listeners.base import Batch, Cursor, FatalSourceError, Reject, RetriableSourceError
from listeners.credentials import Secret
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

    def fetch(self, cursor: Cursor | None, since: datetime | None = None) -> Iterator[Batch]:
        previous = (cursor or {}).get("instances") or {}
        sweeps: dict[str, dict[str, Sweep]] = {}
        seen: set[str] = set()
        failures: list[str] = []
        attempted = 0

        def snapshot() -> Cursor:
            return {"instances": {i: {k: s.to_json() for k, s in t.items()} for i, t in sweeps.items()}}

        for instance in self.options.instances:
            api, last = self._client(instance)
            plan = self.timelines(authenticated=api.access_token is not None)
            sweeps[instance] = {
                f"{kind}:{value}": Sweep.from_json((previous.get(instance) or {}).get(f"{kind}:{value}"))
                for kind, value in plan
            }
            for kind, value in plan:
                attempted += 1
                sweep = sweeps[instance][f"{kind}:{value}"]
                sweep.start(floor=int(self.start_time(since).timestamp()))
                try:
                    yield from self._sweep(api, last, instance, kind, value, sweep, seen, snapshot)
                except _Skip as exc:
                    failures.append(str(exc))
                    log.warning("%s/mastodon: %s", self.brand.name, exc)
        if attempted and len(failures) == attempted:
            raise FatalSourceError("mastodon: every timeline failed: " + "; ".join(failures))
        self.log_stats()

    def _sweep(
        self,
        api: Any,
        last: dict,
        instance: str,
        kind: str,
        value: str,
        sweep: Sweep,
        seen: set[str],
        snapshot: Any,
    ) -> Iterator[Batch]:
        since_id = sweep.high.key if sweep.high is not None else snowflake_at(sweep.floor or 0) - 1
        finished = False
        for _ in range(self.options.max_pages):
            max_id = sweep.low.key if sweep.low is not None else None

            def page(max_id: int | None = max_id) -> list:
                if kind == "tag":
                    return api.timeline_hashtag(
                        value, since_id=since_id, max_id=max_id, limit=self.options.page_size
                    )
                found = api.search_v2(
                    value,
                    result_type="statuses",
                    resolve=False,
                    max_id=max_id,
                    limit=self.options.page_size,
                )
                return list(found.get("statuses") or [])

            statuses = self._call(page, api, last, instance, f"{kind} {value!r}")
            ordered = sorted(statuses, key=lambda s: int(s["id"]), reverse=True)
            fresh = [s for s in ordered if int(s["id"]) > since_id]
            mentions: list[Mention] = []
            rejects: list[Reject] = []
            for status in fresh:
                if not sweep.pending(int(status["id"]), str(status["id"])):
                    continue
                sweep.took(int(status["id"]), str(status["id"]))
                built = self._to_mention(status, instance, seen)
                if isinstance(built, Mention):
                    mentions.append(built)
                elif isinstance(built, Reject):
                    rejects.append(built)
            if fresh:
                yield Batch(mentions, snapshot(), rejects)
            if not fresh or len(fresh) < len(ordered) or len(ordered) < self.options.page_size:
                finished = True  # an empty/short page, or one that reached the cursor
                break
        if finished:
            sweep.finish()
        yield Batch([], snapshot())

    def _to_mention(self, status: dict, instance: str, seen: set[str]) -> Mention | Reject | None:
        original = status.get("reblog") or status  # boosts count once, as the boosted post
        uri = original.get("uri") or original.get("url") or f"https://{instance}/statuses/{original['id']}"
        if uri in seen:
            self.stats["duplicate or boost"] += 1
            return None
        seen.add(uri)
        account = original.get("account") or {}
        acct = account.get("acct") or ""
        handle = acct if "@" in acct or not acct else f"{acct}@{instance}"
        text = html_to_text(original.get("content"))
        if original.get("spoiler_text"):
            text = f"{original['spoiler_text']}\n\n{text}".strip()
        created = original.get("created_at")
        return self.build(
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
            raise _Skip(f"{instance} {what}: requires login (401)") from None
        except MastodonNotFoundError:
            raise _Skip(f"{instance} {what}: not found (404)") from None
        except MastodonAPIError as exc:
            raise _Skip(f"{instance} {what}: refused: {exc}") from None

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


class _Skip(Exception):
    """One timeline of one instance cannot be read (logged; the others go on)."""


registry.register(MastodonConnector)
