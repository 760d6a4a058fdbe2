"""Google Play reviews through the Play Store's public `batchexecute` endpoint, with requests.

The same call google-play-scraper (1.2.x) makes for `reviews(app_id, lang,
country, sort=Sort.NEWEST, count, continuation_token)`: a POST of the `oCPfdb`
RPC to `https://play.google.com/_/PlayStoreUi/data/batchexecute?hl=<lang>&gl=<country>`,
newest first, with a continuation token per page. It is called directly
rather than through the package because the package swallows every HTTP error
(a 500 or a 429 reads as "no more reviews"), uses urllib (no shared session,
no timeout) and turns off TLS verification for the whole process; the
payload positions below are the package's (`ElementSpecs.Review`).

One listing per app, country and language; no credentials. A review seen in
two listings is one document (`googleplay:<reviewId>`). Rate limiting comes
as a 429 or as a 200 whose body holds `PlayGatewayError`: both back off.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from brandpulse.core.errors import FatalSourceError
from brandpulse.core.mention import Author, Engagement, Review
from listeners.base import Cursor
from listeners.loop import Limit, Page, Plan, Post, Stream
from listeners.registry import registry
from listeners.review_source import ReviewConnector, ReviewOptions, Throttled
from listeners.sweep import Sweep

log = logging.getLogger(__name__)

RPC = "oCPfdb"
SORT_NEWEST = 2
PREFIX = ")]}'"
DETAILS = "https://play.google.com/store/apps/details?id={app_id}&hl={lang}&gl={country}&reviewId={review_id}"


class GooglePlayOptions(ReviewOptions):
    base_url: str = "https://play.google.com"
    langs: list[str] = Field(
        default_factory=lambda: ["en"], min_length=1, description="review languages (hl), e.g. en, de"
    )
    page_size: int = Field(default=100, ge=1, le=200)
    min_interval_s: float = Field(default=1.0, ge=0)


def request_body(app_id: str, count: int, token: str | None) -> dict[str, str]:
    """The form body of one reviews page (google-play-scraper's `Formats.Reviews`)."""
    inner = [
        None,
        [2, SORT_NEWEST, [count, None, token] if token else [count], None, [None] + [None] * 8],
        [app_id, 7],
    ]
    compact = (",", ":")
    return {
        "f.req": json.dumps(
            [[[RPC, json.dumps(inner, separators=compact), None, "generic"]]], separators=compact
        )
    }


def parse_response(text: str) -> tuple[list[list], str | None]:
    """(reviews, next token) of a batchexecute answer; raises Throttled on PlayGatewayError."""
    if "PlayGatewayError" in text:
        raise Throttled("Google Play answered PlayGatewayError (rate limited)")
    if not text.startswith(PREFIX):
        raise ValueError("not a batchexecute answer (no )]}' prefix)")
    envelope = json.loads(text[len(PREFIX) :])
    frame = next((f for f in envelope if isinstance(f, list) and len(f) > 2 and f[1] == RPC), None)
    if frame is None:
        raise ValueError(f"no {RPC} frame in the answer")
    if frame[2] is None:  # the app has no reviews in this language, or does not exist here
        return [], None
    data = json.loads(frame[2])
    if not data or not data[0]:
        return [], None
    token = None
    for part in data[1:]:  # the package reads data[-2][-1]: [null, "<token>"]
        if isinstance(part, list) and part and isinstance(part[-1], str):
            token = part[-1]
    return [r for r in data[0] if isinstance(r, list)], token


def _at(review: list, *path: int) -> Any:
    value: Any = review
    for i in path:
        if not isinstance(value, list) or i >= len(value):
            return None
        value = value[i]
    return value


def _time(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), UTC) if isinstance(seconds, (int, float)) else None


class GooglePlayConnector(ReviewConnector):
    """Google Play reviews, newest first, per app, country and language."""

    name = "googleplay"
    Options = GooglePlayOptions
    options: GooglePlayOptions
    store = "Google Play"

    def plan(self, cursor: Cursor, since: datetime | None) -> Plan:
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = "brandpulse-social-listening"
        streams = [
            self._stream(session, app_id, country.lower(), lang)
            for app_id in self.options.app_ids
            for country in self.options.countries
            for lang in self.options.langs
        ]
        return Plan(streams, noun="review listing", close=session.close)

    def _stream(self, session: Any, app_id: str, country: str, lang: str) -> Stream:
        def fetch(sweep: Sweep, token: Any) -> Page:
            if token is None and sweep.extra.get("token"):  # a budget-stopped sweep resumes at its page
                try:
                    reviews, nxt = self._get(session, app_id, country, lang, sweep.extra["token"])
                except FatalSourceError as exc:  # an expired token: start from the newest again
                    log.warning(
                        "%s/googleplay: resume token refused (%s); reading from the first page",
                        self.brand.name,
                        exc,
                    )
                    sweep.extra.pop("token", None)
                    reviews, nxt = self._get(session, app_id, country, lang, None)
            else:
                reviews, nxt = self._get(session, app_id, country, lang, token)
            return Page(reviews, next=nxt if reviews else None, resume={"token": nxt} if nxt else None)

        return Stream(
            path=("apps", app_id, country, lang),
            fetch=fetch,
            key=self._key,
            item_id=lambda review: str(review[0]),
            identity=lambda review: str(review[0]),
            to_post=lambda review: self._to_post(review, app_id, country, lang),
            budget=Limit(max_pages=self.options.max_pages),
            lower_bound=lambda sweep: sweep.high.key if sweep.high is not None else (sweep.floor or 0),
        )

    @staticmethod
    def _key(review: list) -> int:
        seconds = _at(review, 5, 0)
        if not isinstance(seconds, (int, float)) or not isinstance(_at(review, 0), str):
            raise ValueError("review without a reviewId or time")
        return int(seconds)

    def _get(
        self, session: Any, app_id: str, country: str, lang: str, token: str | None
    ) -> tuple[list[list], str | None]:
        url = f"{self.options.base_url.rstrip('/')}/_/PlayStoreUi/data/batchexecute"
        params = {"hl": lang, "gl": country}
        body = request_body(app_id, self.options.page_size, token)

        def call() -> tuple[list[list], str | None]:
            self.pace()
            response = session.post(url, params=params, data=body, timeout=self.options.timeout_s)
            response.raise_for_status()
            return parse_response(response.text)

        about = f"app {app_id} ({lang}-{country})"
        return self.call(call, self.classify, f"googleplay reviews {about}", about)

    def _to_post(self, review: list, app_id: str, country: str, lang: str) -> Post:
        review_id = str(review[0])
        content = (_at(review, 4) or "").strip()
        version = _at(review, 10)
        url = DETAILS.format(app_id=app_id, lang=lang, country=country, review_id=review_id)
        return Post(
            review,
            native_id=review_id,
            text=content,
            created_at=_time(_at(review, 5, 0)),
            lang_hint=lang,
            location=url,
            url=url,
            kind="review",
            author=Author(handle=_at(review, 1, 0)),
            engagement=Engagement(likes=_at(review, 6)),
            review=Review(
                rating=_at(review, 2),
                app_id=app_id,
                app_version=version if isinstance(version, str) else None,
                country=country,
                helpful=_at(review, 6),
                developer_reply=_at(review, 7, 1),
                developer_replied_at=_time(_at(review, 7, 2, 0)),
            ),
        )


registry.register(GooglePlayConnector)
