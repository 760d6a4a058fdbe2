"""The sweep loop of every API connector, written once.

A connector describes each of its listings (a search, a timeline, a comment
listing) as a `Stream`: how to fetch one page (the client call), each item's
sort key and id, and how an item becomes a `Post` (the record mapping). It
hands `run` a `Plan` of streams; `run` does the rest, the same way for every
platform:

- paging: `Stream.fetch(sweep, token)` returns a `Page` of items and the token
  of the next page (None: the listing ends there);
- the cursor (`listeners/sweep.py`): one `Sweep` per stream at `Stream.path`
  in the cursor; a run that stops early resumes below the oldest item it
  yielded, only a finished sweep moves the high-water mark, ties at one key
  are told apart by id;
- out-of-order items: an item a listing delivers above what this pass already
  yielded (but above the high-water mark) is indexed and counted as
  `out of order (indexed)`, never dropped (ids are idempotent);
- budgets (`Limit`, or a connector's own `Budget`): a budget that stops a
  stream leaves its sweep in progress, so the next run resumes below it;
- mentions and rejects: every taken item goes through `Stream.to_post` and
  the brand-query re-check (`ApiConnector.build`); whatever either raises
  makes that item a `Reject` with the reason, never stops the page;
- one document per post across streams (`Stream.identity`);
- batching: one `Batch` per page that took something, each with the cursor
  after it, and a last one when a stream ends;
- a stream the platform refuses (`SkipStream`) is skipped with a warning; all
  of them refused is a `FatalSourceError`.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from brandpulse.core.config import Brand
from brandpulse.core.errors import FatalSourceError
from brandpulse.core.mention import Mention
from listeners.base import Batch, Cursor, Reject, dumps, short
from listeners.sweep import Sweep


class LoopConnector(Protocol):
    """What the loop needs from a connector (`listeners.api_connector.ApiConnector`)."""

    brand: Brand
    stats: Counter[str]

    @property
    def name(self) -> str: ...

    @property
    def duplicate_stat(self) -> str | None: ...

    def start_time(self, since: datetime | None) -> datetime: ...

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
    ) -> Mention | Reject | None: ...

    def log_stats(self) -> None: ...


class Post:
    """One platform post as Mention fields (`native_id`, `text`, `created_at`,
    `lang_hint`, `location`, `url`, `kind`, `author`, ...), with its raw payload
    for the quarantine; not yet re-checked against the brand query."""

    def __init__(self, raw: Any, **fields: Any) -> None:
        self.raw, self.fields = raw, fields


@dataclass
class Page:
    """What one client call returned."""

    items: list[Any]
    next: Any = None  # the token of the following page; None: the listing ends here
    resume: dict[str, Any] | None = None  # kept in the sweep for the next run (Reddit's `after`)


class Budget:
    """How much one stream (or, `stops_run`, the whole run) may read. The
    default reads everything."""

    stops_run = False  # when spent, the remaining streams are not read either

    def allows(self) -> bool:
        """May one more page be read?"""
        return True

    def spend(self, items: int) -> None:
        """One page of `items` items was read."""

    def describe(self) -> str:
        """What was reached (for the warning)."""
        return "read budget reached"


@dataclass
class Limit(Budget):
    """At most `max_pages` pages / `max_items` items per stream per run."""

    max_pages: int | None = None
    max_items: int | None = None
    pages: int = 0
    items: int = 0

    def allows(self) -> bool:
        return (self.max_pages is None or self.pages < self.max_pages) and (
            self.max_items is None or self.items < self.max_items
        )

    def spend(self, items: int) -> None:
        self.pages += 1
        self.items += items

    def describe(self) -> str:
        if self.max_items is not None and self.items >= self.max_items:
            return f"max_items={self.max_items} reached for one listing"
        return f"max_pages={self.max_pages} reached for one listing"


@dataclass
class Stream:
    """One listing of a connector, as the loop needs it."""

    path: tuple[str, ...]  # where its Sweep lives in the cursor, e.g. ("queries", "acme")
    fetch: Callable[[Sweep, Any], Page]  # the client call: the page after `token` (None: the first)
    key: Callable[[Any], int]  # an item's sort key, newest = largest (an id or a timestamp)
    item_id: Callable[[Any], str]  # an item's id (tells items at one key apart)
    to_post: Callable[[Any], Post | Reject | None]  # None: counted, not indexed
    identity: Callable[[Any], str] | None = None  # one document across streams (default: item_id)
    budget: Budget = field(default_factory=Budget)
    #: items below this key are older than what the sweep needs: the listing ends
    #: there (for listings the platform cannot bound itself)
    lower_bound: Callable[[Sweep], int | None] | None = None
    #: a budget spent on repeats only ends the sweep (a listing capped in depth,
    #: like Reddit's ~1,000 items, cannot reach below them; else it never ends)
    ends_when_stuck: bool = False


@dataclass
class Plan:
    """What one `fetch` reads."""

    streams: list[Stream]
    state: Callable[[], dict[str, Any]] = dict  # more cursor entries (X's monthly reads)
    noun: str = "search"  # one stream, in the message when every one was refused
    close: Callable[[], None] | None = None  # releases the client (an HTTP session) after the run


class SkipStream(Exception):
    """One stream cannot be read (refused by the platform): logged, the others go on."""


def stored(cursor: Cursor | None, path: tuple[str, ...]) -> Any:
    value: Any = cursor or {}
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def run(conn: LoopConnector, plan: Plan, cursor: Cursor | None, since: datetime | None) -> Iterator[Batch]:
    """Read every stream of `plan`, newest first, from where `cursor` left off."""
    log = logging.getLogger(type(conn).__module__)
    sweeps = {s.path: Sweep.from_json(stored(cursor, s.path)) for s in plan.streams}

    def snapshot() -> Cursor:
        out: Cursor = {}
        for path, sweep in sweeps.items():
            node = out
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = sweep.to_json()
        return out | plan.state()

    try:
        yield from _streams(conn, log, plan, sweeps, snapshot, since)
    finally:
        if plan.close is not None:
            plan.close()


def _streams(
    conn: LoopConnector,
    log: logging.Logger,
    plan: Plan,
    sweeps: dict[tuple[str, ...], Sweep],
    snapshot: Callable[[], Cursor],
    since: datetime | None,
) -> Iterator[Batch]:
    seen: set[str] = set()
    refused: list[str] = []
    attempted = 0
    for stream in plan.streams:
        attempted += 1
        sweep = sweeps[stream.path]
        sweep.start(floor=int(conn.start_time(since).timestamp()))  # where a first sweep starts
        try:
            yield from _sweep(conn, log, stream, sweep, seen, snapshot)
        except SkipStream as exc:
            refused.append(str(exc))
            log.warning("%s/%s: %s", conn.brand.name, conn.name, exc)
        if stream.budget.stops_run and not stream.budget.allows():
            break  # a budget of the whole run: the other streams wait for the next run
    if attempted and len(refused) == attempted:
        raise FatalSourceError(f"{conn.name}: every {plan.noun} failed: " + "; ".join(refused))
    conn.log_stats()


def _sweep(
    conn: LoopConnector,
    log: logging.Logger,
    stream: Stream,
    sweep: Sweep,
    seen: set[str],
    snapshot: Callable[[], Cursor],
) -> Iterator[Batch]:
    since = copy.deepcopy(sweep.low)  # yielded by earlier runs: above it, items are repeats
    taken: set[str] = set()  # item ids taken in this pass
    read, token = 0, None
    finished = False
    while stream.budget.allows():
        page = stream.fetch(sweep, token)
        stream.budget.spend(len(page.items))
        read += len(page.items)
        mentions: list[Mention] = []
        rejects: list[Reject] = []
        items = []
        for item in page.items:
            try:
                items.append((stream.key(item), stream.item_id(item), item))
            except Exception as exc:  # noqa: BLE001 - without a key or id it cannot be placed
                conn.stats["rejected"] += 1
                rejects.append(_reject(f"no sort key or id: {_short(exc)}", item))
        bound = stream.lower_bound(sweep) if stream.lower_bound else None
        reached = False
        if bound is not None and any(key < bound for key, _, _ in items):
            reached = True  # newest first: everything further down is older
            items = [t for t in items if t[0] >= bound]
        took = 0
        for key, item_id, item in sorted(items, key=lambda t: t[0], reverse=True):
            if not sweep.pending(key, item_id):
                if item_id in taken or not sweep.late(key, item_id, since):
                    conn.stats["already yielded"] += 1
                    continue
                conn.stats["out of order (indexed)"] += 1
                log.info(
                    "%s/%s: %s arrived out of newest-first order (key %d, below it already %d); indexing it",
                    conn.brand.name,
                    conn.name,
                    item_id,
                    key,
                    sweep.low.key if sweep.low else key,
                )
            sweep.took(key, item_id)
            taken.add(item_id)
            took += 1
            identity = stream.identity(item) if stream.identity else item_id
            if identity in seen:  # the same post through another stream
                if conn.duplicate_stat:
                    conn.stats[conn.duplicate_stat] += 1
                continue
            seen.add(identity)
            built = _mention(conn, stream, item)
            if isinstance(built, Mention):
                mentions.append(built)
            elif isinstance(built, Reject):
                rejects.append(built)
        if page.resume:
            sweep.extra.update(page.resume)
        if took or rejects or page.resume:
            yield Batch(mentions, snapshot(), rejects)
        if reached or page.next is None:
            finished = True
            break
        token = page.next
    if finished:
        sweep.finish()
    elif stream.ends_when_stuck and read and not taken:
        log.warning(
            "%s/%s: %d items read without reaching below the last indexed one; the listing cannot "
            "go further back, ending this sweep",
            conn.brand.name,
            conn.name,
            read,
        )
        sweep.finish()
    else:  # the sweep stays in progress: the next run resumes below the last item
        conn.stats[f"stopped at budget ({stream.budget.describe()})"] += 1
        log.warning(
            "%s/%s: %s; stopping, the next run resumes where this one stopped",
            conn.brand.name,
            conn.name,
            stream.budget.describe(),
        )
    yield Batch([], snapshot())


def _mention(conn: LoopConnector, stream: Stream, item: Any) -> Mention | Reject | None:
    """The item's Mention (re-checked against the brand query), None (counted,
    not indexed) or a Reject: whatever the mapping raises rejects this item only."""
    try:
        built = stream.to_post(item)
        if isinstance(built, Post):
            return conn.build(built.raw, **built.fields)
        return built
    except Exception as exc:  # noqa: BLE001 - one bad post never stops the page
        conn.stats["rejected"] += 1
        return _reject(f"cannot map post: {_short(exc)}", item)


def _reject(reason: str, item: Any) -> Reject:

    try:
        if hasattr(item, "model_dump"):
            item = item.model_dump(mode="json", by_alias=True)
        elif hasattr(item, "__dict__") and not isinstance(item, dict):
            item = {k: v for k, v in vars(item).items() if not k.startswith("_")}
        raw = dumps(item)
    except Exception:  # noqa: BLE001 - the record is kept whatever the payload holds
        raw = repr(item)
    return Reject(reason, raw)


def _short(exc: BaseException) -> str:

    return short(exc)
