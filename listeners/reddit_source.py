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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator

from brandpulse.core.mention import Author, Engagement, Mention, Thread
from brandpulse.core.query import compile_reddit
from listeners.api_connector import ApiConnector, ApiOptions, SourceError, by_status, dumps, short
from listeners.base import Batch, Cursor, FatalSourceError, Reject, RetriableSourceError
from listeners.credentials import Secret
from listeners.registry import registry
from listeners.retry import RateLimited, Transient, Verdict
from listeners.sweep import Mark, Sweep

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

    def fetch(self, cursor: Cursor | None, since: datetime | None = None) -> Iterator[Batch]:
        reddit = self._reddit()
        subreddit = reddit.subreddit("+".join(self.options.subreddits) or "all")
        previous = (cursor or {}).get("listings") or {}
        plan = self.listings()
        sweeps = {key: Sweep.from_json(previous.get(key)) for key, _ in plan}

        def snapshot() -> Cursor:
            return {"listings": {k: s.to_json() for k, s in sweeps.items()}}

        for key, query in plan:
            sweep = sweeps[key]
            sweep.start(floor=int(self.start_time(since).timestamp()))
            yield from self._sweep(subreddit, query, sweep, snapshot)
        self.log_stats()

    def _sweep(self, subreddit: Any, query: str | None, sweep: Sweep, snapshot: Any) -> Iterator[Batch]:
        def listing(after: str | None) -> Any:
            params = {"after": after} if after else {}
            kwargs: dict[str, Any] = {
                "limit": self.options.max_items,
                "request_limit": self.options.page_size,
                "params": params,
            }
            if query is None:
                return subreddit.comments(**kwargs)
            return subreddit.search(query, sort="new", syntax="lucene", time_filter="all", **kwargs)

        resume = sweep.extra.get("after")
        items = listing(resume)
        first = True
        page: list[Any] = []
        done = False
        read = 0  # items this listing generator gave (praw stops at `limit` = max_items)
        budget_hit = False
        ctx = _Pass(since=Mark(sweep.low.key, set(sweep.low.ids)) if sweep.low else None)
        while not done:
            item = self._next(items)
            if item is None and first and resume:  # the resume point vanished: start at the top
                items, resume = listing(None), None
                continue
            first = False
            if item is None:
                done = True
                # praw ends the generator at `limit`: the listing may go on below
                budget_hit = read >= self.options.max_items
            else:
                read += 1
                key = int(vars(item)["created_utc"])
                if sweep.below_high(key) or (sweep.high is None and key < (sweep.floor or 0)):
                    done = True  # newest first: everything further down is older
                else:
                    page.append(item)
            if page and (done or len(page) >= self.options.page_size):
                yield self._batch(page, sweep, snapshot, ctx)
                page = []
        if budget_hit and not ctx.taken:
            # a whole max_items of repeats (the resume point vanished and the listing,
            # capped at ~1,000 items, cannot reach below it): finish, or the sweep would
            # never end and newer posts never be read
            log.warning(
                "%s/reddit: %d items read without reaching below the last indexed one; the "
                "listing cannot go further back, ending this sweep",
                self.brand.name,
                read,
            )
            sweep.finish()
        elif budget_hit:
            # the sweep stays in progress: the next run resumes below the last item
            # (`after`), so older posts are not skipped
            self.stats["listing stopped at max_items"] += 1
            log.warning(
                "%s/reddit: max_items=%d reached for one listing; the next run resumes below %s",
                self.brand.name,
                self.options.max_items,
                sweep.extra.get("after"),
            )
        else:
            sweep.finish()
        yield Batch([], snapshot())

    def _batch(self, items: list[Any], sweep: Sweep, snapshot: Any, ctx: _Pass) -> Batch:
        mentions: list[Mention] = []
        rejects: list[Reject] = []
        for item in sorted(items, key=lambda i: vars(i)["created_utc"], reverse=True):
            key, fullname = int(vars(item)["created_utc"]), item.fullname
            if not sweep.pending(key, fullname):
                if fullname in ctx.taken or not sweep.late(key, fullname, ctx.since):
                    self.stats["already yielded"] += 1
                    continue
                # /new listings are not always strictly newest first: an item newer than
                # one yielded in an earlier batch is still new. Index it (idempotent id).
                self.stats["out of order (indexed)"] += 1
                log.info(
                    "%s/reddit: %s arrived out of newest-first order (created %d, below it already %d); "
                    "indexing it",
                    self.brand.name,
                    fullname,
                    key,
                    sweep.low.key if sweep.low else key,
                )
            sweep.took(key, fullname)
            ctx.taken.add(fullname)
            built = self._to_mention(item, from_search=item.fullname.startswith("t3_"))
            if isinstance(built, Mention):
                mentions.append(built)
            elif isinstance(built, Reject):
                rejects.append(built)
        if items:
            sweep.extra["after"] = items[-1].fullname
        return Batch(mentions, snapshot(), rejects)

    def _next(self, items: Any) -> Any:
        try:
            return self.retry.call(lambda: next(items, None), self._classify, "reddit listing")
        except (FatalSourceError, RetriableSourceError):
            raise
        except Exception as exc:
            mapped = self.map_error(exc, "reddit listing")
            if mapped is None:
                raise
            raise mapped from None

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

    def _to_mention(self, item: Any, from_search: bool) -> Mention | Reject | None:
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
        return self.build(
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


@dataclass
class _Pass:
    """One pass down a listing: `since` = the sweep's low mark when it began,
    `taken` = fullnames yielded in this pass."""

    since: Mark | None
    taken: set[str] = field(default_factory=set)


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None), list, dict))


registry.register(RedditConnector)
