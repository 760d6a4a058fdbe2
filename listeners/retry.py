"""Polite retries for API calls: rate-limit waits and backoff with jitter.

Connectors classify each exception from their client library as

- `RateLimited(reset_at)`: wait until `reset_at` (epoch seconds; from the
  platform's reset header) and retry; a wait longer than `max_rate_limit_wait_s`
  gives up with RetriableSourceError (the Airflow task retries later),
- `Transient()`: 5xx / network error, retried with exponential backoff + jitter,
- None: not retriable, re-raised for the connector to translate.

`sleep` and `clock` are injectable so tests never sleep for real.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from brandpulse.core.errors import RetriableSourceError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RateLimited:
    reset_at: float | None  # epoch seconds; None: unknown (backoff is used)


@dataclass(frozen=True)
class Transient:
    pass


Verdict = RateLimited | Transient | None


@dataclass
class RetryPolicy:
    """How long and how often to retry; `sleep`/`clock` replaceable in tests."""

    attempts: int = 6
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    max_rate_limit_wait_s: float = 900.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.time)
    waits: list[float] = field(default_factory=list)  # every wait taken (for logs/tests)

    def call(self, fn: Callable[[], T], classify: Callable[[BaseException], Verdict], what: str) -> T:
        """Run `fn`, retrying rate limits and transient errors; raise the rest."""
        backoff = wait_random_exponential(multiplier=self.backoff_s, max=self.backoff_max_s)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            verdict = classify(exc) if exc is not None else None
            if isinstance(verdict, RateLimited) and verdict.reset_at is not None:
                seconds = max(0.0, verdict.reset_at - self.clock()) + 1.0
                if seconds > self.max_rate_limit_wait_s:
                    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(verdict.reset_at))
                    raise RetriableSourceError(
                        f"{what}: rate limited until {until} ({seconds:.0f}s > "
                        f"max_rate_limit_wait_s={self.max_rate_limit_wait_s:.0f}); retry later"
                    ) from exc
                log.warning("%s: rate limited; waiting %.0fs for the reset", what, seconds)
            else:
                seconds = backoff(state)
                log.warning("%s: %s; retrying in %.1fs", what, _short(exc), seconds)
            self.waits.append(seconds)
            return seconds

        retrying = Retrying(
            retry=retry_if_exception(lambda e: classify(e) is not None),
            wait=wait,
            stop=stop_after_attempt(self.attempts),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except RetriableSourceError:
            raise
        except Exception as exc:
            if classify(exc) is not None:
                raise RetriableSourceError(
                    f"{what}: still failing after {self.attempts} attempts: {_short(exc)}"
                ) from exc
            raise


_TAGS = re.compile(r"<[^>]*>")


def _short(exc: BaseException | None) -> str:
    """`Type: message`, cut at 200 characters; an HTML error page's tags dropped."""
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "error"
    text = " ".join(_TAGS.sub(" ", text).split())
    return text if len(text) <= 200 else text[:200] + "..."
