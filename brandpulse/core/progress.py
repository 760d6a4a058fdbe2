"""Progress of long steps as log lines: counts, rate and time left.

A step that runs for minutes (enrichment, topics, an alerts replay) says where
it is at most every `every` seconds and once at the end, as one log line that
starts with `MARKER`, so a terminal that only sees a log file (the demo runs
the DAG in a child process) can pick these lines out.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

MARKER = "progress: "
log = logging.getLogger("brandpulse.progress")


def default_every() -> float:
    """Seconds between progress lines (`BRANDPULSE_PROGRESS_SECONDS`, default 10)."""
    try:
        return max(0.0, float(os.environ.get("BRANDPULSE_PROGRESS_SECONDS", "10")))
    except ValueError:
        return 10.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def describe(label: str, done: int, total: int | None, elapsed: float, unit: str) -> str:
    """`enrich acme: 4,096/18,544 mentions (22%), 85.3/s, about 2.8 min left`."""
    rate = done / elapsed if elapsed > 0 else 0.0
    if total:
        head = f"{label}: {done:,}/{total:,} {unit} ({100 * done / total:.0f}%)"
    else:
        head = f"{label}: {done:,} {unit}"
    tail = f", {rate:,.1f}/s" if done else ""
    if total and done >= total:
        tail += f", done in {_duration(elapsed)}"
    elif total and rate > 0:
        tail += f", about {_duration((total - done) / rate)} left"
    return head + tail


class Progress:
    """Counts work done against an (optional) total and logs it now and then."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "mentions",
        every: float | None = None,
        emit: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.every = default_every() if every is None else every
        self.emit = emit or (lambda text: log.info("%s%s", MARKER, text))
        self.clock = clock
        self.started = self.last = clock()
        self.done = 0
        self.said: int | None = None  # `done` at the last line written

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every:
            self.last, self.said = now, self.done
            self.emit(describe(self.label, self.done, self.total, now - self.started, self.unit))

    def finish(self) -> None:
        """The closing line (also when nothing was to do; not twice)."""
        if self.said == self.done and self.done:
            return
        if self.total is not None and self.done < self.total:
            self.total = self.done  # the selection shrank while it ran (another run took some)
        self.emit(describe(self.label, self.done, self.total, self.clock() - self.started, self.unit))


def progress_text(line: str) -> str | None:
    """The progress message inside a log line (any log format), or None."""
    at = line.find(MARKER)
    if at < 0:
        return None
    text = line[at + len(MARKER) :].rstrip()
    ours = text.find(f" [{log.name}]")  # structlog: `... [logger.name] loc=file.py:65`
    if ours >= 0:
        text = text[:ours]
    elif text.endswith("]") and " [" in text:
        text = text[: text.rindex(" [")]
    return text.rstrip() or None
