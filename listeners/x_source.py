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
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from brandpulse.core.errors import FatalSourceError, RetriableSourceError, SourceError
from brandpulse.core.mention import Author, Engagement, Kind, Thread
from brandpulse.core.query import compile_x
from listeners.api_connector import ApiConnector, ApiOptions, by_status, parse_iso, redact_tokens
from listeners.base import Cursor, short
from listeners.credentials import Secret
from listeners.loop import Budget, Page, Plan, Post, Stream
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


class ReadBudget(Budget):
    """Posts read this run and this month (X bills per post read); one budget
    for the whole run: once spent, the remaining queries wait for the next run."""

    stops_run = True

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

    def allows(self) -> bool:
        return self.remaining() >= MIN_PAGE

    def spend(self, items: int) -> None:
        self.run_reads += items
        self.month_reads += items

    def describe(self) -> str:
        return (
            f"read budget reached ({self.run_reads} read this run, {self.month_reads} this month; "
            f"limits: run {self.per_run}, month {self.per_month})"
        )

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

    def plan(self, cursor: Cursor, since: datetime | None) -> Plan:
        budget = ReadBudget(
            cursor.get("budget"),
            self.now().strftime("%Y-%m"),
            self.options.max_reads_per_run,
            self.options.max_reads_per_month,
        )
        client = self._client()
        self._versions: dict[str, int] = {}  # an edited post's first id -> the newest version taken
        streams = [
            self._stream(
                client, query, hashlib.sha1(query.encode(), usedforsecurity=False).hexdigest()[:12], budget
            )
            for query in self.queries()
        ]
        return Plan(streams, state=lambda: {"budget": budget.to_json()})

    def _stream(self, client: Any, query: str, key: str, budget: ReadBudget) -> Stream:
        params: dict[str, Any] = {}

        def fetch(sweep: Sweep, token: Any) -> Page:
            if token is None:  # since_id / start_time / until_id are set once per run
                params.update(expansions=["author_id"], tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS)
                if sweep.high is not None:
                    params["since_id"] = str(sweep.high.key)
                else:
                    floor = datetime.fromtimestamp(sweep.floor or 0, UTC)
                    params["start_time"] = max(floor, self.now() - RECENT_WINDOW)
                if sweep.low is not None:
                    params["until_id"] = str(sweep.low.key)
            kwargs = {
                **params,
                "next_token": token,
                "max_results": int(min(self.options.page_size, budget.remaining())),
            }
            page = self.call(
                lambda: client.search_recent_tweets(query, **kwargs),
                _classify,
                "x recent search",
                f"the query {query!r}",
            )
            users = {u["id"]: u for u in (page.get("includes") or {}).get("users", [])}
            tweets = [(t, users.get(t.get("author_id"))) for t in page.get("data") or []]
            return Page(tweets, next=(page.get("meta") or {}).get("next_token"))

        return Stream(
            path=("queries", key),
            fetch=fetch,
            key=lambda item: int(item[0]["id"]),
            item_id=lambda item: str(item[0]["id"]),
            to_post=lambda item: self._latest(*item),
            budget=budget,
        )

    def _latest(self, tweet: dict, user: dict | None) -> Post | None:
        """An edited post is one document: its id is the first of
        `edit_history_tweet_ids` (the original) and the latest version wins."""
        tweet_id = str(tweet["id"])
        history = [str(i) for i in tweet.get("edit_history_tweet_ids") or ()] or [tweet_id]
        original = history[0]
        newest = self._versions.get(original)
        if (tweet_id in history and history[-1] != tweet_id) or (
            newest is not None and newest > int(tweet_id)
        ):
            # an older version of an edited post: its latest version has a newer id,
            # so the search returns (or returned) that one
            self.stats["older edit version (superseded)"] += 1
            return None
        if newest is not None:
            self.stats["edited post updated"] += 1
        self._versions[original] = int(tweet_id)
        return self._to_post(tweet, user, original)

    def _to_post(self, tweet: dict, user: dict | None, original: str | None = None) -> Post:
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
        return Post(
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
