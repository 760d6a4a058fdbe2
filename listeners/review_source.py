"""What the app-store review connectors (`appstore`, `googleplay`) share.

Reviews are read per app (and storefront), not searched: every review of the
configured app is about the brand, so the brand query is *not* re-applied by
default (a review rarely names the brand; `match_query: true` re-applies it,
e.g. for an app that is a marketplace of many brands). Mentions get `kind`
review and a `review` object (rating, title, app version, country, developer
reply); `text` is the title and the body.

Both stores' listings are newest first with no time filter, so each listing
(app x country [x language]) is one `Stream` bounded below by its high-water
mark (`Stream.lower_bound`), and a budget-stopped sweep resumes at the page it
had reached (`Page.resume`). Requests are paced (`min_interval_s` between two
requests of one run) on top of the shared 429 / 5xx backoff.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from brandpulse.core.errors import FatalSourceError, RetriableSourceError, SourceError
from brandpulse.core.mention import Mention
from listeners.api_connector import ApiConnector, ApiOptions, by_status
from listeners.base import Reject, brief_body, dumps, short
from listeners.retry import RateLimited, Transient, Verdict


class ReviewOptions(ApiOptions):
    """Options of both review sources (`query` is not used: reviews are read per app)."""

    app_ids: list[str] = Field(
        min_length=1, description="the store's app ids (Apple: numeric; Google: package)"
    )
    countries: list[str] = Field(
        default_factory=lambda: ["us"],
        min_length=1,
        description="storefront country codes (ISO 3166, 2 letters)",
    )
    max_pages: int = Field(default=10, ge=1, description="per listing per run")
    min_interval_s: float = Field(default=2.0, ge=0, description="at least this long between two requests")
    timeout_s: float = Field(default=30.0, gt=0)
    match_query: bool = Field(
        default=False, description="re-apply the brand query to reviews (default: all kept)"
    )
    backfill_hours: float = Field(default=24.0 * 30, gt=0, description="first run: look back this far")


class ReviewConnector(ApiConnector):
    """Base of `AppStoreConnector` and `GooglePlayConnector` (requests-based)."""

    options: ReviewOptions
    store: ClassVar[str] = "the store"
    duplicate_stat: ClassVar[str | None] = "seen in another storefront"

    _last_request: float | None = None

    # politeness -------------------------------------------------------------

    def pace(self) -> None:
        """Sleep (through the retry policy's clock) until `min_interval_s` has
        passed since this run's previous request."""
        now = self.retry.clock()
        if self._last_request is not None:
            wait = self._last_request + self.options.min_interval_s - now
            if wait > 0:
                self.retry.sleep(wait)
                now += wait
        self._last_request = now

    # posts ------------------------------------------------------------------

    def build(
        self,
        raw: Any,
        *,
        native_id: str,
        text: str | None,
        created_at: datetime | str | None,
        lang_hint: str | None = None,
        location: str | None = None,
        **fields: Any,
    ) -> Mention | Reject | None:
        """A review is about the brand by where it was read (its app): kept
        without the query re-check unless `match_query` is set."""
        if self.options.match_query:
            return super().build(
                raw,
                native_id=native_id,
                text=text,
                created_at=created_at,
                lang_hint=lang_hint,
                location=location,
                **fields,
            )
        self.stats["fetched"] += 1
        if not text or not text.strip():
            self.stats["rejected"] += 1
            return Reject("empty review (no title, no text)", dumps(raw), location)
        from pydantic import ValidationError

        try:
            mention = Mention.model_validate(
                {
                    "platform": self.name,
                    "native_id": native_id,
                    "text": text,
                    "created_at": created_at,  # a datetime or the store's ISO string
                    "lang_hint": lang_hint,
                    "collected_at": self.now(),
                    "brands": [self.brand.name],
                    **fields,
                }
            )
        except ValidationError as exc:
            self.stats["rejected"] += 1
            reason = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'review'}: {e['msg']}" for e in exc.errors()
            )
            return Reject(f"invalid review: {reason}", dumps(raw), location)
        self.stats["mentions"] += 1
        return mention

    # errors -----------------------------------------------------------------

    def map_error(self, exc: BaseException, what: str) -> SourceError | None:
        """requests errors -> Fatal or Retriable (one place for both stores)."""
        import requests

        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            body = brief_body(exc.response.text)
            if status == 404:
                return FatalSourceError(
                    f"{self.store} does not know {what} (404): check app_ids and countries"
                )
            return by_status(status, f"{self.store} refused {what} ({status}): {body}")
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return RetriableSourceError(f"{self.store}: {what} failed: {short(exc)}")
        if isinstance(exc, (requests.JSONDecodeError, ValueError)):  # an HTML page where JSON was expected
            return FatalSourceError(f"{self.store}: {what} did not return the expected JSON: {short(exc)}")
        if isinstance(exc, requests.RequestException):
            return FatalSourceError(f"{self.store}: {what}: {short(exc)} (check base_url)")
        return None

    def classify(self, exc: BaseException) -> Verdict:
        import requests

        if isinstance(exc, Throttled):
            return RateLimited(None)  # no reset time given: backoff
        if isinstance(exc, requests.HTTPError) and exc.response is not None:
            status = exc.response.status_code
            if status == 429:
                after = exc.response.headers.get("Retry-After")
                reset = self.retry.clock() + float(after) if after and after.isdigit() else None
                return RateLimited(reset)
            return Transient() if status >= 500 else None
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return Transient()
        return None


class Throttled(Exception):
    """A store's rate limit reported inside a 200 response (Google's PlayGatewayError)."""
