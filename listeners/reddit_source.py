"""Reddit through praw: search (sorted by new) in the configured subreddits or
all of Reddit, plus the newest comments of the configured subreddits.

Each listing has its own newest-first `Sweep` cursor: created_utc plus the ids
at that second. A run that stops early resumes below the oldest post it
yielded (`after=<fullname>`). praw's rate limiter (driven by Reddit's
x-ratelimit-* headers) paces the requests; a 429 waits for the reset, 5xx
errors are retried by prawcore and then with backoff here.

Deleted authors become handle "[deleted]"; a post whose body was deleted or
removed keeps its title; an item with no text left is rejected (quarantined)
with the reason, never dropped silently.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator

from brandpulse.core.errors import FatalSourceError, RetriableSourceError, SourceError
from brandpulse.core.mention import Author, Engagement, Thread
from brandpulse.core.query import compile_reddit
from listeners.api_connector import ApiConnector, ApiOptions, by_status
from listeners.base import Cursor, Reject, dumps, short
from listeners.credentials import Secret
from listeners.loop import Limit, Page, Plan, Post, Stream
from listeners.registry import registry
from listeners.retry import RateLimited, Transient, Verdict
from listeners.sweep import Sweep

log = logging.getLogger(__name__)

GONE = ("[deleted]", "[removed]")
REDDIT = "https://www.reddit.com"


class RedditOptions(ApiOptions):
    user_agent: str = Field(
        min_length=8,
        description="Reddit requires a unique, descriptive one, e.g. 'linux:brandpulse:0.1 (by /u/you)'",
    )
    subreddits: list[str] = Field(default_factory=list, description="empty: search all of Reddit")
    comments: bool = Field(default=True, description="also read new comments of `subreddits`")
    page_size: int = Field(default=100, ge=1, le=100)
    max_items: int = Field(default=1000, ge=1, le=1000, description="per listing per run")

    @field_validator("subreddits")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        import re

        names = [v.removeprefix("r/").strip() for v in value]
        bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9_]{2,21}", n)]
        if bad:
            raise ValueError(f"not a subreddit name: {', '.join(bad)}")
        return names


class RedditConnector(ApiConnector):
    """Search + new comments through praw (read-only, application-only OAuth)."""

    name = "reddit"
    Options = RedditOptions
    options: RedditOptions
    secrets: ClassVar[tuple[Secret, ...]] = (
        Secret("REDDIT_CLIENT_ID", "brandpulse_reddit", "login"),
        Secret("REDDIT_CLIENT_SECRET", "brandpulse_reddit", "password"),
    )

    def _reddit(self) -> Any:
        import praw

        return praw.Reddit(
            client_id=self.require("REDDIT_CLIENT_ID"),
            client_secret=self.require("REDDIT_CLIENT_SECRET"),
            user_agent=self.options.user_agent,
            check_for_updates=False,
            check_for_async=False,
        )

    def listings(self) -> list[tuple[str, str | None]]:
        """(cursor key, search query or None for the comments listing)."""
        queries = [self.options.query] if self.options.query else compile_reddit(self.query)
        out: list[tuple[str, str | None]] = [(f"search:{q}", q) for q in queries]
        if self.options.comments and self.options.subreddits:
            out.append((f"comments:{'+'.join(sorted(self.options.subreddits))}", None))
        return out

    def plan(self, cursor: Cursor, since: datetime | None) -> Plan:
        subreddit = self._reddit().subreddit("+".join(self.options.subreddits) or "all")
        return Plan([self._stream(subreddit, key, query) for key, query in self.listings()])

    def _stream(self, subreddit: Any, key: str, query: str | None) -> Stream:
        size, most = self.options.page_size, self.options.max_items
        read = [0]  # items the listing generator gave (praw stops at `limit` = max_items)

        def listing(after: str | None) -> Any:
            kwargs: dict[str, Any] = {
                "limit": most,
                "request_limit": size,
                "params": {"after": after} if after else {},
            }
            if query is None:
                return subreddit.comments(**kwargs)
            return subreddit.search(query, sort="new", syntax="lucene", time_filter="all", **kwargs)

        def fetch(sweep: Sweep, items: Any) -> Page:
            first = items is None
            resume = sweep.extra.get("after") if first else None
            if first:
                items = listing(resume)
            chunk = self._chunk(items, size)
            if first and resume and not chunk:  # the resume point vanished: start at the top
                items = listing(None)
                chunk = self._chunk(items, size)
            read[0] += len(chunk)
            more = len(chunk) == size or read[0] >= most  # praw's limit ends it, not the listing
            # the next run resumes below the last item listed (`after`), so older posts are not skipped
            return Page(
                chunk, next=items if more else None, resume={"after": chunk[-1].fullname} if chunk else None
            )

        return Stream(
            path=("listings", key),
            fetch=fetch,
            key=lambda item: int(vars(item)["created_utc"]),
            item_id=lambda item: item.fullname,
            to_post=lambda item: self._to_post(item, from_search=item.fullname.startswith("t3_")),
            budget=Limit(max_items=most),
            # newest first: below the high-water mark (or the first sweep's floor) the listing is done
            lower_bound=lambda sweep: sweep.high.key if sweep.high is not None else (sweep.floor or 0),
            ends_when_stuck=True,
        )

    def _chunk(self, items: Any, size: int) -> list[Any]:
        chunk: list[Any] = []
        while len(chunk) < size:
            item = self.call(lambda: next(items, None), self._classify, "reddit listing", "reddit listing")
            if item is None:
                break
            chunk.append(item)
        return chunk

    def map_error(self, exc: BaseException, what: str) -> SourceError | None:
        """praw / prawcore / requests errors -> Fatal or Retriable (one place)."""
        import praw.exceptions
        import prawcore
        import requests

        subs = "+".join(self.options.subreddits) or "all"
        if isinstance(exc, prawcore.OAuthException):
            return FatalSourceError(f"Reddit rejected the OAuth credentials: {short(exc)}. {_CREDS}")
        if isinstance(exc, (prawcore.Forbidden, prawcore.InsufficientScope)):
            return FatalSourceError(
                f"Reddit refused access (403) to r/{subs}: the subreddit is private/banned or the app "
                f"lacks API access. {short(exc)}"
            )
        if isinstance(exc, (prawcore.NotFound, prawcore.Redirect)):
            return FatalSourceError(f"Reddit: subreddit not found: r/{subs} ({short(exc)})")
        if isinstance(exc, prawcore.TooManyRequests):
            return RetriableSourceError(f"Reddit rate limit (429) on {what}; retry later")
        if isinstance(exc, (prawcore.ServerError, prawcore.RequestException, prawcore.BadJSON)):
            return RetriableSourceError(f"Reddit {what} failed: {short(exc)}")
        if isinstance(exc, prawcore.ResponseException):
            status = exc.response.status_code
            if status == 401:
                return FatalSourceError(f"Reddit answered 401 Unauthorized. {_CREDS}")
            return by_status(status, f"Reddit answered {what} with {status}: {short(exc)}")
        if isinstance(exc, praw.exceptions.RedditAPIException):
            # praw turns a 400 (also one with an HTML body) into RedditAPIException
            return FatalSourceError(f"Reddit rejected {what} (r/{subs}): {short(exc)}")
        if isinstance(exc, requests.RequestException):
            return RetriableSourceError(f"Reddit {what} failed: {short(exc)}")
        if isinstance(exc, (praw.exceptions.PRAWException, prawcore.PrawcoreException)):
            return FatalSourceError(f"praw refused {what}: {short(exc)}")
        return None

    def _classify(self, exc: BaseException) -> Verdict:
        import prawcore

        if isinstance(exc, prawcore.TooManyRequests):
            reset = exc.response.headers.get("x-ratelimit-reset")  # seconds from now
            return RateLimited(self.retry.clock() + float(reset) if reset else None)
        if isinstance(exc, (prawcore.ServerError, prawcore.RequestException)):
            return Transient()
        return None

    def _to_post(self, item: Any, from_search: bool) -> Post | Reject | None:
        # praw fetches missing attributes lazily (one request each): read the listing data only
        data = vars(item)
        raw = {k: v for k, v in data.items() if not k.startswith("_") and _plain(v)}
        author = data.get("author")  # praw: None when the account was deleted
        name = getattr(author, "name", None) if author is not None else None
        author_model = (
            Author(id=data.get("author_fullname"), handle=name) if name else Author(handle="[deleted]")
        )
        url = REDDIT + data["permalink"] if data.get("permalink") else None
        if item.fullname.startswith("t1_"):
            body = data.get("body") or ""
            if body in GONE:
                self.stats[f"comment body {body.strip('[]')} (not checkable)"] += 1
                return None  # nothing left to re-check: counted, not indexed
            text, kind = body, "comment"
        else:
            selftext = data.get("selftext") or ""
            title = data.get("title") or ""
            text = title + (f"\n\n{selftext}" if selftext and selftext not in GONE else "")
            kind = "post"
            if selftext in GONE:
                self.stats[f"post body {selftext.strip('[]')}"] += 1
                if from_search and not self.query.match(text).matched:
                    self.stats["rejected"] += 1
                    return Reject(
                        f"post body {selftext} on Reddit: search matched it, the title alone does not",
                        dumps(raw),
                        url,
                    )
        subreddit = data.get("subreddit")
        return Post(
            raw,
            native_id=item.fullname,
            text=text,
            created_at=datetime.fromtimestamp(data["created_utc"], UTC),
            location=url,
            url=url,
            kind=kind,
            author=author_model,
            # a comment's num_comments is its submission's count, not the comment's replies
            engagement=Engagement(
                score=data.get("score"), replies=data.get("num_comments") if kind == "post" else None
            ),
            thread=Thread(
                conversation_id=data.get("link_id") if kind == "comment" else item.fullname,
                parent_id=data.get("parent_id"),
                subreddit=str(subreddit) if subreddit is not None else None,
            ),
        )


_CREDS = (
    "Check REDDIT_CLIENT_ID / REDDIT_CLIENT_SECRET (or the brandpulse_reddit Connection); "
    "new apps need Reddit's approval for API access."
)


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict))


registry.register(RedditConnector)
