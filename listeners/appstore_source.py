"""App Store reviews through Apple's public customer-reviews RSS feed (JSON), with requests.

`https://itunes.apple.com/{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json`:
newest first, 50 reviews a page, at most 10 pages (the latest 500 reviews of
one app in one storefront). One listing per app and country; no credentials.

Payload warts handled: the first entry of page 1 is sometimes the app itself
(`im:name`, no `im:rating`), not a review: it is skipped (counted). A page
with a single review has `entry` as an object, not a list; a page past the
last has no `entry` at all. Every value is wrapped as `{"label": ...}`. The
feed has no developer replies, no review language and no per-review URL (the
app's page is used).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from pydantic import Field

from brandpulse.core.mention import Author, Engagement, Review
from listeners.api_connector import parse_iso
from listeners.base import Cursor
from listeners.loop import Limit, Page, Plan, Post, Stream
from listeners.registry import registry
from listeners.review_source import ReviewConnector, ReviewOptions
from listeners.sweep import Sweep

log = logging.getLogger(__name__)

#: Apple serves at most 10 pages of 50 reviews per app and storefront
MAX_FEED_PAGES = 10
APP_PAGE = "https://apps.apple.com/{country}/app/id{app_id}?see-all=reviews"
_PAGE_NO = re.compile(r"/page=(\d+)/")


class AppStoreOptions(ReviewOptions):
    base_url: str = "https://itunes.apple.com"
    max_pages: int = Field(default=MAX_FEED_PAGES, ge=1, le=MAX_FEED_PAGES, description="per app and country")
    min_interval_s: float = Field(default=3.0, ge=0, description="Apple allows about 20 requests a minute")


def _label(node: Any) -> str | None:
    """`{"label": value}` -> value (None when absent)."""
    if isinstance(node, dict):
        value = node.get("label")
        return None if value is None else str(value)
    return None


def _entries(body: Any) -> list[dict]:
    feed = body.get("feed") if isinstance(body, dict) else None
    if not isinstance(feed, dict):
        raise ValueError("the feed has no 'feed' object")
    entry = feed.get("entry")
    if entry is None:
        return []
    return [entry] if isinstance(entry, dict) else [e for e in entry if isinstance(e, dict)]


def _last_page(body: dict) -> int:
    """The feed's `rel=last` link page number (Apple's own bound), capped at 10."""
    links = body["feed"].get("link") or []
    for link in links if isinstance(links, list) else [links]:
        attrs = link.get("attributes", {}) if isinstance(link, dict) else {}
        if attrs.get("rel") == "last":
            found = _PAGE_NO.search(attrs.get("href") or "")
            if found:
                return min(int(found.group(1)), MAX_FEED_PAGES)
    return MAX_FEED_PAGES


class AppStoreConnector(ReviewConnector):
    """Apple's customer-reviews feed, per app id and storefront country."""

    name = "appstore"
    Options = AppStoreOptions
    options: AppStoreOptions
    store = "the App Store feed"

    def plan(self, cursor: Cursor, since: datetime | None) -> Plan:
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = "brandpulse-social-listening"
        streams = [
            self._stream(session, app_id, country.lower())
            for app_id in self.options.app_ids
            for country in self.options.countries
        ]
        return Plan(streams, noun="review feed", close=session.close)

    def _stream(self, session: Any, app_id: str, country: str) -> Stream:
        def fetch(sweep: Sweep, token: Any) -> Page:
            page_no = int(token) if token is not None else int(sweep.extra.get("page", 1))
            body = self._get(session, app_id, country, page_no)
            entries = _entries(body)
            reviews = [e for e in entries if "im:rating" in e]
            if len(reviews) < len(entries):
                self.stats["app entry skipped"] += len(entries) - len(reviews)
            more = bool(entries) and page_no < min(_last_page(body), MAX_FEED_PAGES)
            nxt = page_no + 1 if more else None
            # a budget that stops here resumes at the next page (older reviews only shift down)
            return Page(reviews, next=nxt, resume={"page": nxt} if nxt else None)

        return Stream(
            path=("apps", app_id, country),
            fetch=fetch,
            key=self._key,
            item_id=lambda entry: str(_label(entry["id"])),
            to_post=lambda entry: self._to_post(entry, app_id, country),
            budget=Limit(max_pages=self.options.max_pages),
            # newest first, no time filter: below the high-water mark the listing is done
            lower_bound=lambda sweep: sweep.high.key if sweep.high is not None else (sweep.floor or 0),
        )

    @staticmethod
    def _key(entry: dict) -> int:
        updated = parse_iso(_label(entry.get("updated")))
        if updated is None:
            raise ValueError(f"review without a valid 'updated' time: {_label(entry.get('updated'))!r}")
        if not _label(entry.get("id")):
            raise ValueError("review without an id")
        return int(updated.timestamp())

    def _get(self, session: Any, app_id: str, country: str, page_no: int) -> dict:
        url = (
            f"{self.options.base_url.rstrip('/')}/{country}/rss/customerreviews/"
            f"page={page_no}/id={app_id}/sortby=mostrecent/json"
        )

        def call() -> dict:
            self.pace()
            response = session.get(url, timeout=self.options.timeout_s)
            response.raise_for_status()
            return response.json()

        about = f"app {app_id} in {country}"
        return self.call(call, self.classify, f"appstore reviews {about} page {page_no}", about)

    def _to_post(self, entry: dict, app_id: str, country: str) -> Post:
        rating = _label(entry.get("im:rating"))
        title = (_label(entry.get("title")) or "").strip()
        body = (_label(entry.get("content")) or "").strip()
        author = entry.get("author") or {}
        votes = _label(entry.get("im:voteSum"))
        url = APP_PAGE.format(country=country, app_id=app_id)
        return Post(
            entry,
            native_id=str(_label(entry["id"])),  # Apple review ids are global
            text="\n\n".join(part for part in (title, body) if part),
            created_at=_label(entry.get("updated")),
            location=url,
            url=url,
            kind="review",
            author=Author(id=_label(author.get("uri")), handle=_label(author.get("name"))),
            engagement=Engagement(likes=int(votes) if votes and votes.isdigit() else None),
            review=Review(
                rating=int(rating) if rating is not None else None,
                title=title or None,
                app_id=app_id,
                app_version=_label(entry.get("im:version")),
                country=country,
                helpful=int(votes) if votes and votes.isdigit() else None,
            ),
        )


registry.register(AppStoreConnector)
