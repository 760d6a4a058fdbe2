"""Import mentions from JSONL or CSV files (exports, archives, the demo dataset).

Each row becomes a Mention. Field names are the Mention's own (`text`,
`created_at`, `native_id`, `platform`, `author.handle`, ...); nested JSON
objects and dotted CSV headers both work, and `columns` maps other names onto
them (see listeners/README.md). Unknown columns are ignored. A row that cannot
become a Mention (bad JSON, invalid UTF-8, a missing field, a bad timestamp, an
over-long text or line, a runaway quote, *whatever* it raises) is rejected
with its line number and reason: it is quarantined by the runner, never
dropped, and the rows around it go on.

Like every connector, the brand query is re-applied to each row (`brands` and
`matched_terms` come from the match); rows that do not match are counted in
`stats["not matching"]`, not indexed. `trust_file: true` skips the re-check for
files that hold nothing but this brand's mentions.

Growing files: only complete lines (ending in a newline) and complete CSV rows
(quotes closed) are read. A last line without a newline is read once the file
has not changed for `settle_seconds`; before that it waits for the next run.

Encodings: UTF-8, with or without a byte-order mark (Excel writes one).
UTF-16 and UTF-32 files are refused with a message that names the encoding.

Cursor: the file's fingerprint and the byte offset / line count consumed, so a
growing file (an append-only export) is resumed where it stopped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails

from brandpulse.core.errors import FatalSourceError, NothingToRead
from brandpulse.core.mention import Mention
from brandpulse.core.query import Query, QuerySyntaxError, parse_query
from listeners.base import Batch, Connector, ConnectorOptions, Cursor, Reject
from listeners.registry import registry

csv.field_size_limit(2**31 - 1)  # lines are bounded by max_line_bytes instead

ID_ALIASES = ("native_id", "id")
#: bytes of an over-long line kept in its reject (head and tail)
EXCERPT_HEAD = 12_288
EXCERPT_TAIL = 4_096
#: created_at outside this window is refused (epoch 0 placeholders, wrong units)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
#: epoch magnitudes (absolute value below the bound) and the unit assumed in auto mode
EPOCH_UNITS = (("s", 1e11, 1), ("ms", 1e14, 1e3), ("us", 1e17, 1e6), ("ns", 1e20, 1e9))
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")

BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "UTF-32 LE"),
    (b"\xef\xbb\xbf", "UTF-8 with BOM"),
    (b"\xfe\xff", "UTF-16 BE"),
    (b"\xff\xfe", "UTF-16 LE"),
)


class FileOptions(ConnectorOptions):
    path: str = Field(description="JSONL or CSV file; relative paths resolve against the config")
    format: Literal["auto", "jsonl", "csv"] = "auto"
    platform: str = Field(default="file", description="platform for rows that do not name one")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Mention field (dotted) -> column name in the file"
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    batch_size: int = Field(default=1000, ge=1, le=50_000)
    trust_file: bool = Field(
        default=False,
        description="every row is this brand's mention: do not re-apply the brand query",
    )
    epoch_unit: Literal["auto", "s", "ms", "us", "ns"] = Field(
        default="auto",
        description="unit of numeric created_at values; auto = by magnitude (counted in stats)",
    )
    max_line_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="longer lines (CSV: rows) are quarantined with an excerpt, never held in memory",
    )
    settle_seconds: float = Field(
        default=60.0,
        ge=0,
        description="a last line without a newline is read once the file is unchanged this long",
    )


@dataclass(frozen=True)
class FileReject(Reject):
    """A Reject whose `raw` may be an excerpt: the whole input's hash and size."""

    raw_sha256: str | None = None
    raw_bytes: int | None = None


def fingerprint(path: Path, length: int = 65_536) -> str:
    """Identity of a file's first `length` bytes (at most 64 KiB): a replaced or
    rewritten file restarts from the top, an appended one resumes."""
    with path.open("rb") as handle:
        return hashlib.sha256(handle.read(min(length, 65_536))).hexdigest()[:16]


def epoch_unit(number: float, unit: str = "auto") -> tuple[str, float]:
    """(unit, divisor to seconds) for an epoch number: given, or guessed by size."""
    if unit != "auto":
        return next((name, div) for name, _, div in EPOCH_UNITS if name == unit)
    magnitude = abs(number)
    for name, bound, divisor in EPOCH_UNITS:
        if magnitude < bound:
            return name, divisor
    raise ValueError(f"invalid timestamp {number!r}: too large for an epoch in any unit (s, ms, us, ns)")


def parse_timestamp_unit(value: Any, unit: str = "auto") -> tuple[datetime, str | None]:
    """(UTC datetime, epoch unit assumed or None for ISO-8601). ValueError on bad input."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"invalid timestamp {value!r}")
    if isinstance(value, str) and len(value) > 64:
        raise ValueError(f"invalid timestamp: {len(value):,} characters long")
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.match(value.strip())):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            raise ValueError(f"invalid timestamp {str(value)[:40]!r}: not a usable number") from None
        if not math.isfinite(number):
            raise ValueError(f"invalid timestamp {str(value)[:40]!r}: not a finite number")
        name, divisor = epoch_unit(number, unit)
        try:
            return datetime.fromtimestamp(number / divisor, tz=UTC), name
        except (OverflowError, OSError, ValueError):
            raise ValueError(
                f"invalid timestamp {str(value)[:40]!r}: out of range as epoch {_UNIT_WORDS[name]}"
            ) from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError(f"invalid timestamp {value!r}") from None
        return parsed, None
    raise ValueError(f"invalid timestamp {str(value)[:40]!r} (a {type(value).__name__})")


_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def parse_timestamp(value: Any, unit: str = "auto") -> datetime:
    """ISO-8601 (Z or offset; naive = UTC) or epoch seconds / ms / us / ns (by size)."""
    return parse_timestamp_unit(value, unit)[0]


def _set_path(target: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _get_path(row: dict, dotted: str) -> Any:
    if dotted in row:
        return row[dotted]
    node: Any = row
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


MENTION_FIELDS = (
    "native_id", "platform", "url", "kind", "created_at", "text", "lang_hint", "brands",
    "matched_terms", "author.id", "author.handle", "author.display_name", "author.followers",
    "author.verified", "engagement.likes", "engagement.reposts", "engagement.replies",
    "engagement.score", "engagement.views", "thread.conversation_id", "thread.parent_id",
    "thread.subreddit", "thread.instance", "review.rating", "review.title", "review.app_id",
    "review.app_version", "review.country", "review.helpful", "review.developer_reply",
    "review.developer_replied_at",
)  # fmt: skip


@dataclass
class _Line:
    """One physical line of the file (bytes, newline included)."""

    number: int
    end: int  # byte offset after the line
    data: bytes | None  # None: longer than max_line_bytes (see excerpt/sha256/size)
    size: int
    sha256: str | None = None
    excerpt: str = ""


@dataclass
class _Row:
    """What the readers yield: a parsed row or a reason, and the raw input."""

    line: int
    end: int  # byte offset after the row
    lines: int  # physical lines consumed up to the end of this row
    row: dict | None
    error: str | None
    raw: str
    raw_sha256: str | None = None
    raw_bytes: int | None = None


class _Feed:
    """Decoded physical lines for csv.reader, remembering which lines the
    current row consumed (the reader pulls a line only when it needs one)."""

    def __init__(self, lines: Iterator[_Line], cap: int) -> None:
        self.lines = lines
        self.cap = cap
        self.consumed: list[_Line] = []
        self.size = 0
        self.exhausted = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self.lines, None)
        if line is None:
            self.exhausted = True
            raise StopIteration
        if line.data is None:
            raise _Oversize(line)
        self.consumed.append(line)
        self.size += line.size
        if self.size > self.cap and len(self.consumed) > 1:
            raise _Oversize(line)
        return line.data.decode("utf-8", "surrogateescape")

    def take(self) -> list[_Line]:
        taken = list(self.consumed)
        self.consumed.clear()
        self.size = 0
        return taken


class _Wait(Exception):
    """The rest of the file is not complete yet (still being written)."""


class _Oversize(Exception):
    def __init__(self, line: _Line) -> None:
        self.line = line


def _excerpt(head: bytes, tail: bytes, size: int) -> str:
    shown = head.decode("utf-8", "backslashreplace")
    if tail:
        left_out = size - len(head) - len(tail)
        shown += f"\n…[{left_out:,} bytes left out]…\n" + tail.decode("utf-8", "backslashreplace")
    return shown


def _refuse_encoding(path: Path) -> int:
    """Bytes to skip at the start (a UTF-8 BOM); FatalSourceError for UTF-16/32."""
    with path.open("rb") as handle:
        start = handle.read(4)
    for bom, name in BOMS:
        if start.startswith(bom):
            if name == "UTF-8 with BOM":
                return len(bom)
            raise FatalSourceError(
                f"file source: {path} is {name} (byte-order mark {bom.hex(' ').upper()}); only UTF-8 "
                f"is read. Convert it first, e.g. iconv -f {name.replace(' ', '')} -t UTF-8"
            )
    if len(start) >= 4 and start[1:4:2] == b"\x00\x00" and start[0] and start[2]:
        raise FatalSourceError(
            f"file source: {path} looks like UTF-16 LE without a byte-order mark (every other byte "
            "is zero); only UTF-8 is read. Convert it first, e.g. iconv -f UTF-16LE -t UTF-8"
        )
    if len(start) >= 4 and start[0:4:2] == b"\x00\x00" and start[1] and start[3]:
        raise FatalSourceError(
            f"file source: {path} looks like UTF-16 BE without a byte-order mark (every other byte "
            "is zero); only UTF-8 is read. Convert it first, e.g. iconv -f UTF-16BE -t UTF-8"
        )
    return 0


class FileConnector(Connector):
    name = "file"
    Options = FileOptions
    options: FileOptions

    def __init__(self, brand: Any, options: Any = None) -> None:
        super().__init__(brand, options)
        self.stats: Counter[str] = Counter()
        self.query: Query | None = None
        if not self.options.trust_file:
            try:
                self.query = parse_query(brand.query)
            except QuerySyntaxError as exc:
                raise FatalSourceError(f"brand {brand.name!r}: {exc}") from None

    @property
    def path(self) -> Path:
        return Path(self.options.path)

    def _format(self) -> str:
        if self.options.format != "auto":
            return self.options.format
        return "csv" if self.path.suffix.lower() in (".csv", ".tsv") else "jsonl"

    # rows -> mentions -------------------------------------------------------

    def row_to_mention(self, row: dict[str, Any]) -> Mention | None:
        """Map one row; None when the row names brands and not this one, or
        (unless `trust_file`) when it does not match the brand query."""
        data: dict[str, Any] = {}
        for name in MENTION_FIELDS:
            column = self.options.columns.get(name, name)
            value = _get_path(row, column)
            if value is None and name == "native_id" and "native_id" not in self.options.columns:
                value = _get_path(row, "id")
            if value is None or value == "":
                continue
            _set_path(data, name, value)
        brands = data.get("brands")
        if isinstance(brands, str):
            brands = [b.strip() for b in brands.replace(";", ",").split(",") if b.strip()]
        if brands and isinstance(brands, list) and self.brand.name not in brands:
            self.stats["other brand"] += 1
            return None
        data["brands"] = [self.brand.name]
        if isinstance(data.get("matched_terms"), str):
            data["matched_terms"] = [t for t in data["matched_terms"].split(";") if t]
        data.setdefault("platform", self.options.platform)
        if (
            "native_id" in data
            and isinstance(data["native_id"], (int, str))
            and not isinstance(data["native_id"], bool)
        ):
            data["native_id"] = str(data["native_id"])
        if "created_at" not in data:
            raise ValueError("missing required field created_at")
        created, unit = parse_timestamp_unit(data["created_at"], self.options.epoch_unit)
        if created < EARLIEST or created > datetime.now(UTC) + FUTURE_SLACK:
            assumed = f" (taken as epoch {_UNIT_WORDS[unit]})" if unit else ""
            raise ValueError(
                f"implausible created_at {str(data['created_at'])[:40]!r}{assumed}: "
                f"{created.isoformat()} is before {EARLIEST.year} or in the future"
            )
        data["created_at"] = created
        mention = Mention.model_validate(data)
        if unit:
            self.stats[f"created_at epoch taken as {_UNIT_WORDS[unit]}"] += 1
        if self.query is not None:
            found = self.query.match(mention.text, mention.lang_hint)
            if not found.matched:
                self.stats["not matching"] += 1
                return None
            mention = mention.model_copy(update={"matched_terms": found.terms})
        return mention

    # physical lines -------------------------------------------------------

    def _settled(self) -> bool:
        try:
            return time.time() - self.path.stat().st_mtime >= self.options.settle_seconds
        except OSError:
            return False

    def _lines(self, handle: IO[bytes], offset: int, number: int) -> Iterator[_Line]:
        """Complete physical lines from `offset`; raises _Wait at a last line
        without a newline in a file that is still changing."""
        cap = self.options.max_line_bytes
        handle.seek(offset)
        while True:
            data = handle.readline(cap + 1)
            if not data:
                return
            number += 1
            if len(data) <= cap or data.endswith(b"\n"):
                if not data.endswith(b"\n") and not self._settled():
                    raise _Wait
                offset += len(data)
                yield _Line(number, offset, data, len(data))
                continue
            # longer than the cap: stream the rest, keep a head, a tail and the hash
            digest = hashlib.sha256(data)
            size = len(data)
            head, tail = data[:EXCERPT_HEAD], b""
            while not data.endswith(b"\n"):
                data = handle.readline(1024 * 1024)
                if not data:
                    break
                digest.update(data)
                size += len(data)
                tail = (tail + data)[-EXCERPT_TAIL:]
            if not data.endswith(b"\n") and not self._settled():
                raise _Wait
            offset += size
            yield _Line(number, offset, None, size, digest.hexdigest(), _excerpt(head, tail, size))

    def _oversize(self, line: _Line, lines: int) -> _Row:
        return _Row(
            line.number,
            line.end,
            lines,
            None,
            f"line too long: {line.size:,} bytes (max_line_bytes {self.options.max_line_bytes:,}); "
            f"kept as an excerpt with the SHA-256 of the whole line",
            line.excerpt,
            line.sha256,
            line.size,
        )

    # JSONL ------------------------------------------------------------------

    def _jsonl_rows(self, handle: IO[bytes], offset: int, number: int, bom: int) -> Iterator[_Row]:
        if offset == 0:
            offset = bom
        for line in self._lines(handle, offset, number):
            if line.data is None:
                yield self._oversize(line, line.number)
                continue
            row, error, raw = _parse_json_line(line.data)
            if row is None and error is None:
                continue  # blank line
            yield _Row(line.number, line.end, line.number, row, error, raw)

    # CSV ------------------------------------------------------------------

    def _csv_rows(self, handle: IO[bytes], offset: int, number: int, bom: int, skip: int) -> Iterator[_Row]:
        first = next(self._csv_records(handle, bom, 0, header=None), None)
        if first is None:
            return  # empty, or the header line is still being written
        if first.error is not None or first.row is None:
            raise FatalSourceError(
                f"file source: {self.path} line {first.line}: unreadable CSV header ({first.error}): "
                f"{first.raw[:200]!r}"
            )
        header = [name.strip() for name in first.row["fields"]]
        header_end, header_lines = first.end, first.lines
        if offset < header_end:
            offset, number = header_end, header_lines
        seen = 0
        for parsed in self._csv_records(handle, offset, number, header=header):
            if skip and seen < skip:  # a cursor from the row-count era
                seen += 1
                continue
            yield parsed

    def _csv_records(
        self, handle: IO[bytes], offset: int, number: int, header: list[str] | None
    ) -> Iterator[_Row]:
        """Logical CSV rows (quoted newlines joined) from `offset`. A quote that
        does not close (end of a settled file, a row over max_line_bytes, or a
        multi-line row with more fields than the header) rejects its first line
        and parsing restarts on the next one: it never swallows the file."""
        delimiter = self.options.delimiter
        cap = self.options.max_line_bytes
        while True:
            feed = _Feed(self._lines(handle, offset, number), cap)
            consumed = feed.consumed
            reader = csv.reader(feed, delimiter=delimiter)
            restart: _Line | None = None
            try:
                for fields in reader:
                    row_lines = feed.take()
                    first, last = row_lines[0], row_lines[-1]
                    raw = b"".join(line.data or b"" for line in row_lines)
                    shown = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
                    if feed.exhausted:  # the file ended inside a quoted field
                        if not self._settled():
                            self.stats["waiting for an incomplete last row"] += 1
                            return  # a quoted field still being written
                        ran_away = True
                    else:
                        ran_away = header is not None and len(row_lines) > 1 and len(fields) > len(header)
                    if ran_away:
                        restart = first
                        yield _Row(
                            first.number,
                            first.end,
                            first.number,
                            None,
                            f"unbalanced quote: the quoted field opened in line {first.number} does "
                            f"not close (read on from line {first.number + 1})",
                            first.data.decode("utf-8", "backslashreplace").rstrip("\r\n"),  # type: ignore[union-attr]
                        )
                        break
                    if not fields or (len(fields) == 1 and not fields[0].strip()):
                        offset, number = last.end, last.number
                        continue  # blank line
                    if header is None:
                        yield _Row(first.number, last.end, last.number, {"fields": fields}, None, shown)
                        return
                    yield self._csv_row(header, fields, first, last, shown)
                    offset, number = last.end, last.number
            except _Wait:
                self.stats["waiting for an incomplete last line"] += 1
                return
            except _Oversize as big:
                pending = consumed[0] if consumed else None
                if pending is not None:
                    restart = pending
                    yield _Row(
                        pending.number,
                        pending.end,
                        pending.number,
                        None,
                        f"unbalanced quote: the quoted field opened in line {pending.number} does not "
                        f"close within max_line_bytes ({cap:,}); read on from line {pending.number + 1}",
                        (pending.data or b"").decode("utf-8", "backslashreplace").rstrip("\r\n"),
                    )
                else:
                    restart = big.line
                    yield self._oversize(big.line, big.line.number)
            except csv.Error as exc:
                bad = consumed[0] if consumed else None
                if bad is None:
                    raise
                restart = bad
                yield _Row(
                    bad.number,
                    bad.end,
                    bad.number,
                    None,
                    f"CSV error: {exc}",
                    (bad.data or b"").decode("utf-8", "backslashreplace").rstrip("\r\n"),
                )
            if restart is None:
                return
            offset, number = restart.end, restart.number

    def _csv_row(self, header: list[str], fields: list[str], first: _Line, last: _Line, raw: str) -> _Row:
        def out(row: dict | None, error: str | None) -> _Row:
            return _Row(first.number, last.end, last.number, row, error, raw)

        if len(fields) > len(header):
            return out(None, f"more values than header columns ({len(fields)} > {len(header)})")
        row = dict(zip(header, fields, strict=False))
        bad = [k for k, v in row.items() if _has_surrogates(v)]
        if bad:
            return out(None, f"invalid UTF-8 in column {bad[0][:80]!r}")
        return out(row, None)

    # fetch ------------------------------------------------------------------

    def _rows(self, cursor: Cursor | None) -> Iterator[_Row]:
        start_offset, start_row, skip = 0, 0, 0
        if cursor and cursor.get("fingerprint") == fingerprint(self.path, int(cursor.get("prefix", 65_536))):
            start_offset = int(cursor.get("offset", 0))
            start_row = int(cursor.get("rows", 0))
        bom = _refuse_encoding(self.path)
        with self.path.open("rb") as handle:
            try:
                if self._format() == "jsonl":
                    yield from self._jsonl_rows(handle, start_offset, start_row, bom)
                else:
                    if start_offset == 0 and start_row:  # cursor of the earlier row-count reader
                        skip, start_row = start_row, 0
                    yield from self._csv_rows(handle, start_offset, start_row, bom, skip)
            except _Wait:
                self.stats["waiting for an incomplete last line"] += 1

    def fetch(self, cursor: Cursor | None, since: datetime | None = None) -> Iterator[Batch]:
        if not self.path.is_file():
            if self.path.parent.is_dir() and not self.path.exists():
                # a drop folder whose export has not arrived yet: nothing to read
                raise NothingToRead(f"file source: {self.path} does not exist yet")
            raise FatalSourceError(f"file source: no such file {self.path}")
        mentions: list[Mention] = []
        rejects: list[Reject] = []
        position: tuple[int, int] | None = None
        pending = 0
        for item in self._rows(cursor):
            position = (item.end, item.lines)
            pending += 1
            error = item.error
            if error is None and item.row is not None:
                try:
                    mention = self.row_to_mention(item.row)
                except ValidationError as exc:
                    error = "; ".join(_explain(e) for e in exc.errors())
                except ValueError as exc:
                    error = str(exc)
                except RecursionError:
                    error = "row nested too deeply"
                except Exception as exc:  # noqa: BLE001 - one bad row never stops the others
                    error = f"unexpected {type(exc).__name__}: {exc}"
                else:
                    if mention is not None:
                        if since is None or mention.created_at >= since:
                            mentions.append(mention)
                        else:
                            self.stats["before since"] += 1
            if error is not None:
                self.stats["rejected"] += 1
                rejects.append(
                    FileReject(
                        reason=error[:2_000],
                        raw=item.raw,
                        location=str(self.path),
                        line=item.line,
                        raw_sha256=item.raw_sha256,
                        raw_bytes=item.raw_bytes,
                    )
                )
            if pending >= self.options.batch_size:
                yield Batch(mentions, self._cursor(position), rejects)
                mentions, rejects, pending = [], [], 0
        if pending or cursor is None:
            yield Batch(mentions, self._cursor(position, cursor), rejects)

    def _cursor(self, position: tuple[int, int] | None, previous: Cursor | None = None) -> Cursor:
        if position is None:
            return dict(previous) if previous else {}
        offset, rows = position
        return {
            "fingerprint": fingerprint(self.path, offset),
            "prefix": min(offset, 65_536),
            "offset": offset,
            "rows": rows,
        }


def _parse_json_line(data: bytes) -> tuple[dict | None, str | None, str]:
    """(row, error, raw) for one JSONL line; (None, None, '') for a blank line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = data.decode("utf-8", "backslashreplace").rstrip("\r\n")
        return None, f"invalid UTF-8 at byte {exc.start}", shown
    raw = text.rstrip("\r\n")
    if not text.strip():
        return None, None, ""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg} at column {exc.colno}", raw
    except RecursionError:
        return None, "malformed JSON: nested too deeply", raw
    except ValueError as exc:  # e.g. an integer over the interpreter's digit limit
        return None, f"malformed JSON: {exc}", raw
    except Exception as exc:  # noqa: BLE001 - one bad line never stops the others
        return None, f"malformed JSON: {type(exc).__name__}: {exc}", raw
    if not isinstance(parsed, dict):
        return None, "expected a JSON object per line", raw
    return parsed, None, raw


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _explain(err: ErrorDetails) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "row"
    msg = err["msg"]
    if err["type"] == "missing":
        return f"missing required field {where}"
    if err["type"] == "string_too_long":
        value = err.get("input", "")
        length = len(value) if isinstance(value, str) else 0
        return f"{where}: text too long ({length:,} characters; {msg.lower()})"
    return f"{where}: {msg}"


registry.register(FileConnector)
