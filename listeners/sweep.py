"""Cursor for newest-first search APIs (X, Reddit, Bluesky, Hacker News).

Search results arrive newest first, so the newest item of a run cannot become
the cursor until the run has reached everything older than it. A `Sweep`
keeps two marks:

- `high`: everything at or below it was yielded in an earlier, finished sweep;
- `low` (while a sweep is in progress): the oldest item yielded so far, so a
  run that stops early (error, read budget) resumes *below* it next time, and
  `top`, the newest item of the sweep, which becomes `high` when it finishes.

A mark is a sortable key (a snowflake id, or a timestamp in seconds/µs) plus
the ids seen at exactly that key, so items sharing a timestamp are neither
skipped nor repeated. The cursor only ever moves past items that were yielded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Mark:
    key: int
    ids: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"key": str(self.key), "ids": sorted(self.ids)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Mark | None:
        if not data:
            return None
        return cls(int(data["key"]), set(data.get("ids") or ()))

    def newer(self, key: int, item_id: str) -> bool:
        """Is (key, id) above this mark?"""
        return key > self.key or (key == self.key and item_id not in self.ids)

    def older(self, key: int, item_id: str) -> bool:
        """Is (key, id) below this mark?"""
        return key < self.key or (key == self.key and item_id not in self.ids)


@dataclass
class Sweep:
    high: Mark | None = None
    top: Mark | None = None
    low: Mark | None = None
    in_progress: bool = False
    floor: int | None = None  # epoch seconds where the first sweep starts (kept on resume)
    extra: dict[str, Any] = field(default_factory=dict)  # platform resume hints

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Sweep:
        data = data or {}
        return cls(
            high=Mark.from_json(data.get("high")),
            top=Mark.from_json(data.get("top")),
            low=Mark.from_json(data.get("low")),
            in_progress=bool(data.get("in_progress")),
            floor=int(data["floor"]) if data.get("floor") is not None else None,
            extra=dict(data.get("extra") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"high": self.high.to_json() if self.high else None}
        if self.in_progress:
            out |= {
                "in_progress": True,
                "top": self.top.to_json() if self.top else None,
                "low": self.low.to_json() if self.low else None,
                "floor": self.floor,
                "extra": self.extra,
            }
        return out

    def start(self, floor: int | None = None) -> None:
        """Begin a sweep (or keep resuming the one in progress). `floor` (epoch
        seconds) bounds a first sweep; a resumed sweep keeps the floor it began with,
        so a later clock does not skip what an interrupted backfill had left."""
        if not self.in_progress:
            self.in_progress, self.top, self.low, self.extra = True, None, None, {}
            self.floor = floor
        elif self.floor is None:
            self.floor = floor

    def pending(self, key: int, item_id: str) -> bool:
        """Is the item new (above high) and not yet yielded in this sweep (below low)?"""
        if self.high is not None and not self.high.newer(key, item_id):
            return False
        return self.low is None or self.low.older(key, item_id)

    def late(self, key: int, item_id: str, since: Mark | None) -> bool:
        """Is the item new (above high) but above `low` only because a listing
        delivered it out of newest-first order, after older items were yielded
        in this pass? `since` is the `low` mark when the pass began: items above
        it were yielded by an earlier run (repeats), items below it are late.
        Late items must be yielded too (ids are idempotent), never dropped."""
        if self.high is not None and not self.high.newer(key, item_id):
            return False
        if self.pending(key, item_id):
            return False
        return since is None or since.older(key, item_id)

    def below_high(self, key: int) -> bool:
        """True once a newest-first listing has gone past `high` (stop paging)."""
        return self.high is not None and key < self.high.key

    def took(self, key: int, item_id: str) -> None:
        """Record an item as yielded (call in newest-first order)."""
        if self.top is None or key > self.top.key:
            self.top = Mark(key, {item_id})
        elif key == self.top.key:
            self.top.ids.add(item_id)
        if self.low is None or key < self.low.key:
            self.low = Mark(key, {item_id})
        elif key == self.low.key:
            self.low.ids.add(item_id)

    def finish(self) -> None:
        """Everything between high and top was yielded: top becomes high."""
        if self.top is not None:
            if self.high is None or self.top.key > self.high.key:
                self.high = self.top
            elif self.top.key == self.high.key:
                self.high.ids |= self.top.ids
        self.in_progress, self.top, self.low, self.extra, self.floor = False, None, None, {}, None
