"""X (Twitter) through tweepy's API v2 client: recent search per brand.

The brand query compiles to one or more X queries (≤ 512 characters each,
OR-able); each has its own newest-first `Sweep` cursor (since_id / until_id).
X bills every post read, so reads are counted against a per-run and a
per-month budget (kept in the cursor); when one is reached fetching stops with
a warning and the cursor covers exactly what was yielded.

Rate limits: a 429 waits until `x-rate-limit-reset`; 5xx and network errors
are retried with exponential backoff and jitter; 401/403/453 stop the source
with a message naming the access-level problem.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from brandpulse.core.mention import Author, Engagement, Kind, Mention, Thread
from brandpulse.core.query import compile_x
from listeners.api_connector import (
    ApiConnector,
    ApiOptions,
    SourceError,
    by_status,
    parse_iso,
    redact_tokens,
    short,
)
from listeners.base import Batch, Cursor, FatalSourceError, Reject, RetriableSourceError
from listeners.credentials import Secret
from listeners.registry import registry
from listeners.retry import RateLimited, Transient, Verdict
from listeners.sweep import Sweep

log = logging.getLogger(__name__)

#: recent search covers the last 7 days; start_time must lie inside it
RECENT_WINDOW = timedelta(days=7) - timedelta(minutes=1)
MIN_PAGE = 10  # the API's smallest max_results
TWEET_FIELDS = [
    "created_at", "lang", "public_metrics", "conversation_id", "referenced_tweets",
    "author_id", "note_tweet",
]  # fmt: skip
USER_FIELDS = ["public_metrics", "verified", "username", "name"]
KINDS: dict[str, Kind] = {"retweeted": "repost", "replied_to": "reply", "quoted": "quote"}


class XOptions(ApiOptions):
    page_size: int = Field(default=100, ge=MIN_PAGE, le=100, description="posts per request")
    max_reads_per_run: int | None = Field(
        default=2000, ge=MIN_PAGE, description="stop after this many posts read in one run"
    )
    max_reads_per_month: int | None = Field(
        default=None, ge=MIN_PAGE, description="stop after this many posts read this calendar month"
    )


class ReadBudget:
    """Posts read this run and this month (X bills per post read)."""

    def __init__(self, state: dict[str, Any] | None, month: str, per_run: int | None, per_month: int | None):
        state = state or {}
        self.month = month
        self.month_reads = int(state.get("reads", 0)) if state.get("month") == month else 0
        self.run_reads = 0
        self.per_run, self.per_month = per_run, per_month

    def remaining(self) -> float:
        left = [float("inf")]
        if self.per_run is not None:
            left.append(self.per_run - self.run_reads)
        if self.per_month is not None:
            left.append(self.per_month - self.month_reads)
        return min(left)

    def spend(self, reads: int) -> None:
        self.run_reads += reads
        self.month_reads += reads

    def to_json(self) -> dict[str, Any]:
        return {"month": self.month, "reads": self.month_reads}


class XConnector(ApiConnector):
    """Recent search (API v2) per brand through tweepy."""

    name = "x"
    Options = XOptions
    options: XOptions
    secrets: ClassVar[tuple[Secret, ...]] = (Secret("X_BEARER_TOKEN", "brandpulse_x", "password"),)

    def queries(self) -> list[str]:
        return [self.options.query] if self.options.query else compile_x(self.query)

    def _client(self) -> Any:
        import tweepy

        redact_tokens("tweepy.client")  # tweepy logs request headers at DEBUG
        return tweepy.Client(bearer_token=self.require("X_BEARER_TOKEN"), return_type=dict)

    def fetch(self, cursor: Cursor | None, since: datetime | None = None) -> Iterator[Batch]:
        import tweepy

        state = dict(cursor or {})
        previous = state.get("queries") or {}
        keys = {q: hashlib.sha1(q.encode(), usedforsecurity=False).hexdigest()[:12] for q in self.queries()}
        sweeps = {k: Sweep.from_json(previous.get(k)) for k in keys.values()}
        budget = ReadBudget(
            state.get("budget"),
            self.now().strftime("%Y-%m"),
            self.options.max_reads_per_run,
            self.options.max_reads_per_month,
        )

        def snapshot() -> Cursor:
            return {"queries": {k: s.to_json() for k, s in sweeps.items()}, "budget": budget.to_json()}

        client = self._client()
        seen: dict[str, int] = {}
        for query, key in keys.items():
            sweep = sweeps[key]
            sweep.start(floor=int(self.start_time(since).timestamp()))
            params: dict[str, Any] = {
                "expansions": ["author_id"],
                "tweet_fields": TWEET_FIELDS,
                "user_fields": USER_FIELDS,
            }
            if sweep.high is not None:
                params["since_id"] = str(sweep.high.key)
            else:
                floor = datetime.fromtimestamp(sweep.floor or 0, UTC)
                params["start_time"] = max(floor, self.now() - RECENT_WINDOW)
            if sweep.low is not None:
                params["until_id"] = str(sweep.low.key)

            def search(*args: Any, **kwargs: Any) -> dict:
                kwargs["max_results"] = int(min(self.options.page_size, budget.remaining()))
                return self._call(lambda: client.search_recent_tweets(*args, **kwargs), args[0])

            search.__name__ = "search_recent_tweets"  # tweepy picks next_token by method name
            pages = iter(tweepy.Paginator(search, query, **params))
            finished = False
            while True:
                if budget.remaining() < MIN_PAGE:
                    break
                page = next(pages, None)
                if page is None:
                    finished = True
                    break
                tweets = page.get("data") or []
                budget.spend(len(tweets))
                mentions, rejects = self._page(page, sweep, seen)
                yield Batch(mentions, snapshot(), rejects)
            if finished:
                sweep.finish()
                yield Batch([], snapshot())
            else:
                log.warning(
                    "%s/x: read budget reached (%d read this run, %d this month; limits: run %s, "
                    "month %s); stopping, the next run resumes where this one stopped",
                    self.brand.name,
                    budget.run_reads,
                    budget.month_reads,
                    self.options.max_reads_per_run,
                    self.options.max_reads_per_month,
                )
                yield Batch([], snapshot())
                break
        self.log_stats()

    def _page(self, page: dict, sweep: Sweep, seen: dict[str, int]) -> tuple[list[Mention], list[Reject]]:
        """Mentions of one page. An edited post is one document: its id is the first
        of `edit_history_tweet_ids` (the original) and the latest version wins;
        `seen` maps an original id to the newest version taken this run."""
        users = {u["id"]: u for u in (page.get("includes") or {}).get("users", [])}
        tweets = sorted(page.get("data") or [], key=lambda t: int(t["id"]), reverse=True)
        mentions: list[Mention] = []
        rejects: list[Reject] = []
        for tweet in tweets:
            tweet_id = str(tweet["id"])
            if not sweep.pending(int(tweet_id), tweet_id):
                continue
            sweep.took(int(tweet_id), tweet_id)
            history = [str(i) for i in tweet.get("edit_history_tweet_ids") or ()] or [tweet_id]
            original = history[0]
            if tweet_id in history and history[-1] != tweet_id:
                # an older version of an edited post: its latest version has a newer id,
                # so the search returns (or returned) that one
                self.stats["older edit version (superseded)"] += 1
                continue
            newest = seen.get(original)
            if newest is not None and newest >= int(tweet_id):
                if newest > int(tweet_id):
                    self.stats["older edit version (superseded)"] += 1
                continue
            if newest is not None:
                self.stats["edited post updated"] += 1
            seen[original] = int(tweet_id)
            item = self._to_mention(tweet, users.get(tweet.get("author_id")), original)
            if isinstance(item, Mention):
                mentions.append(item)
            elif isinstance(item, Reject):
                rejects.append(item)
        return mentions, rejects

    def _to_mention(
        self, tweet: dict, user: dict | None, original: str | None = None
    ) -> Mention | Reject | None:
        """`original`: the post's first id (edits share it); the url names the
        version taken (the latest edit)."""
        refs = {r.get("type"): str(r.get("id")) for r in tweet.get("referenced_tweets") or []}
        kind: Kind = next((KINDS[t] for t in ("retweeted", "replied_to", "quoted") if t in refs), "post")
        text = (tweet.get("note_tweet") or {}).get("text") or tweet.get("text")
        metrics = tweet.get("public_metrics") or {}
        user = user or {}
        handle = user.get("username")
        url = (
            f"https://x.com/{handle}/status/{tweet['id']}"
            if handle
            else f"https://x.com/i/web/status/{tweet['id']}"
        )
        lang = tweet.get("lang")
        return self.build(
            {"tweet": tweet, "user": user or None},
            native_id=original or str(tweet["id"]),
            text=html.unescape(text) if text else text,  # v2 escapes &, < and >
            created_at=parse_iso(tweet.get("created_at")),
            lang_hint=None if lang in (None, "und", "zxx", "qme") else lang,
            location=url,
            url=url,
            kind=kind,
            author=Author(
                id=str(tweet["author_id"]) if tweet.get("author_id") else None,
                handle=handle,
                display_name=user.get("name"),
                followers=(user.get("public_metrics") or {}).get("followers_count"),
                verified=user.get("verified"),
            ),
            engagement=Engagement(
                likes=metrics.get("like_count"),
                reposts=metrics.get("retweet_count"),
                replies=metrics.get("reply_count"),
                views=metrics.get("impression_count"),
            ),
            thread=Thread(conversation_id=tweet.get("conversation_id"), parent_id=refs.get("replied_to")),
        )

    def _call(self, fn: Any, query: str) -> dict:
        try:
            return self.retry.call(fn, _classify, "x recent search")
        except (FatalSourceError, RetriableSourceError):
            raise
        except Exception as exc:
            mapped = self.map_error(exc, f"the query {query!r}")
            if mapped is None:
                raise
            raise mapped from None

    def map_error(self, exc: BaseException, what: str) -> SourceError | None:
        """tweepy / requests errors -> Fatal (credentials, access, query) or Retriable."""
        import requests
        import tweepy

        if isinstance(exc, tweepy.TooManyRequests):
            return RetriableSourceError(f"X rate limit (429) on {what}; retry later")
        if isinstance(exc, tweepy.Unauthorized):
            return FatalSourceError(
                "X rejected the bearer token (401 Unauthorized): check X_BEARER_TOKEN / the "
                f"brandpulse_x Connection. {short(exc)}"
            )
        if isinstance(exc, tweepy.Forbidden):
            return FatalSourceError(_access_message(exc))
        if isinstance(exc, tweepy.BadRequest):
            return FatalSourceError(f"X rejected {what} (400): {short(exc)}")
        if isinstance(exc, tweepy.TwitterServerError):
            return RetriableSourceError(f"X server error on {what}: {short(exc)}")
        if isinstance(exc, tweepy.HTTPException):
            if 453 in exc.api_codes:
                return FatalSourceError(_access_message(exc))
            return by_status(exc.response.status_code, f"X answered {what} with {short(exc)}")
        if isinstance(exc, requests.RequestException):  # network, timeouts, a non-JSON body
            return RetriableSourceError(f"X request failed ({what}): {short(exc)}")
        if isinstance(exc, tweepy.TweepyException):
            return FatalSourceError(f"tweepy refused {what}: {short(exc)}")
        return None


def _access_message(exc: Any) -> str:
    code = " (code 453)" if 453 in getattr(exc, "api_codes", []) else ""
    return (
        f"X refused access to recent search{code}: the app's access level does not include "
        "API v2 recent search (e.g. the free tier, or an app outside a Project); upgrade the "
        f"access level or attach the app to a Project. X said: {exc}"
    )


def _classify(exc: BaseException) -> Verdict:
    import requests
    import tweepy

    if isinstance(exc, tweepy.TooManyRequests):
        reset = exc.response.headers.get("x-rate-limit-reset")
        return RateLimited(float(reset) if reset else None)
    if isinstance(exc, tweepy.TwitterServerError):
        return Transient()
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return Transient()
    return None


registry.register(XConnector)
