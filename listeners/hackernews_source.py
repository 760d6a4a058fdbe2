"""Hacker News through the Algolia HN Search API (`search_by_date`), with requests.

Stories and comments, newest first. The brand query becomes one Algolia query
per alternative (Algolia has no OR/NOT in the query string; see `compile_hn`).
Each query has a newest-first `Sweep` cursor on `created_at_i`: the window is
narrowed with `numericFilters=created_at_i>=…,created_at_i<=…` page after page
instead of paging by number, so a backfill is not capped at Algolia's 1,000
hits. HTML (comments, Ask HN texts) becomes plain text with entities decoded.

No credentials. Algolia allows about 10,000 requests per hour per IP; a 429 or
5xx is retried with backoff (Retry-After honoured when given).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field

from brandpulse.core.errors import FatalSourceError, RetriableSourceError, SourceError
from brandpulse.core.mention import Author, Engagement, Thread
from brandpulse.core.query import compile_hn
from listeners.api_connector import ApiConnector, ApiOptions, by_status, html_to_text
from listeners.base import Cursor, brief_body, short
from listeners.loop import Limit, Page, Plan, Post, Stream
from listeners.registry import registry
from listeners.retry import RateLimited, Transient, Verdict
from listeners.sweep import Sweep

log = logging.getLogger(__name__)

HN_ITEM = "https://news.ycombinator.com/item?id={}"


def _all_tags() -> list[Literal["story", "comment"]]:
    return ["story", "comment"]


class HackerNewsOptions(ApiOptions):
    base_url: str = "https://hn.algolia.com/api/v1"
    tags: list[Literal["story", "comment"]] = Field(default_factory=_all_tags, min_length=1)
    page_size: int = Field(default=100, ge=1, le=1000)
    max_pages: int = Field(default=100, ge=1, description="per query per run")
    timeout_s: float = Field(default=30.0, gt=0)


class HackerNewsConnector(ApiConnector):
    """Algolia `search_by_date` over stories and comments."""

    name = "hackernews"
    Options = HackerNewsOptions
    options: HackerNewsOptions

    def queries(self) -> list[str]:
        return [self.options.query] if self.options.query else compile_hn(self.query)

    def plan(self, cursor: Cursor, since: datetime | None) -> Plan:
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = "brandpulse-social-listening"
        return Plan([self._stream(session, q) for q in self.queries()], close=session.close)

    def _stream(self, session: Any, query: str) -> Stream:
        tags = self.options.tags

        def fetch(sweep: Sweep, token: Any) -> Page:
            lower = sweep.high.key if sweep.high is not None else (sweep.floor or 0)
            filters = [f"created_at_i>={lower}"]
            if sweep.low is not None:
                filters.append(f"created_at_i<={sweep.low.key}")
            # the window narrows below `low`; a full page of hits at one second that
            # took nothing (`low` unchanged) pages on within that second
            low = (sweep.low.key, len(sweep.low.ids)) if sweep.low is not None else None
            page_no = 0
            if token is not None:
                before, page_no = token
                if low == before:
                    page_no += 1
                elif low is None or before is None or low[0] != before[0]:
                    page_no = 0
            params = {
                "query": query,
                "tags": tags[0] if len(tags) == 1 else f"({','.join(tags)})",
                "numericFilters": ",".join(filters),
                "hitsPerPage": self.options.page_size,
                "page": page_no,
            }
            hits = self._get(session, params).get("hits") or []
            return Page(hits, next=(low, page_no) if len(hits) >= self.options.page_size else None)

        return Stream(
            path=("queries", query),
            fetch=fetch,
            key=lambda hit: int(hit.get("created_at_i") or 0),
            item_id=lambda hit: str(hit.get("objectID")),
            to_post=self._to_post,
            budget=Limit(max_pages=self.options.max_pages),
        )

    def _get(self, session: Any, params: dict[str, Any]) -> dict:
        url = f"{self.options.base_url.rstrip('/')}/search_by_date"

        def call() -> dict:
            response = session.get(url, params=params, timeout=self.options.timeout_s)
            response.raise_for_status()
            return response.json()

        return self.call(call, self._classify, "hackernews search_by_date", "search_by_date")

    def map_error(self, exc: BaseException, what: str) -> SourceError | None:
        """requests errors -> Fatal or Retriable (one place)."""
        import requests

        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            body = brief_body(exc.response.text)
            return by_status(status, f"HN Algolia refused the request ({status}): {body}")
        if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.JSONDecodeError)):
            return RetriableSourceError(f"HN Algolia {what} failed: {short(exc)}")
        if isinstance(exc, requests.RequestException):  # invalid URL / schema: configuration
            return FatalSourceError(f"HN Algolia {what}: {short(exc)} (check base_url)")
        return None

    def _classify(self, exc: BaseException) -> Verdict:
        import requests

        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            if status == 429:
                after = exc.response.headers.get("Retry-After")
                return RateLimited(self.retry.clock() + float(after) if after and after.isdigit() else None)
            return Transient() if status >= 500 else None
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return Transient()
        return None

    def _to_post(self, hit: dict) -> Post:
        tags = hit.get("_tags") or []
        is_comment = "comment" in tags
        if is_comment:
            text = html_to_text(hit.get("comment_text"))
        else:
            title = (hit.get("title") or "").strip()
            body = html_to_text(hit.get("story_text"))
            text = "\n\n".join(part for part in (title, body) if part)
        item_id = str(hit.get("objectID"))
        url = HN_ITEM.format(item_id)
        created = hit.get("created_at_i")
        return Post(
            hit,
            native_id=item_id,
            text=text,
            created_at=datetime.fromtimestamp(int(created), UTC) if created else hit.get("created_at"),
            location=url,
            url=url,
            kind="comment" if is_comment else "post",
            author=Author(id=hit.get("author"), handle=hit.get("author")),
            engagement=Engagement(score=hit.get("points"), replies=hit.get("num_comments")),
            thread=Thread(
                conversation_id=str(hit["story_id"]) if hit.get("story_id") else item_id,
                parent_id=str(hit["parent_id"]) if hit.get("parent_id") else None,
            ),
        )


registry.register(HackerNewsConnector)
