"""Import mentions from JSONL or CSV files (exports, archives, the demo dataset).

Each row becomes a Mention. Field names are the Mention's own (`text`,
`created_at`, `native_id`, `platform`, `author.handle`, ...); nested JSON
objects and dotted CSV headers both work, and `columns` maps other names onto
them (see listeners/README.md). Unknown columns are ignored. A row that cannot
become a Mention (bad JSON, invalid UTF-8, a missing field, a bad timestamp, an
over-long text) is rejected with its line number and reason: it is quarantined
by the runner, never dropped.

Cursor: the file's fingerprint and the byte offset / row count consumed, so a
growing file (an append-only export) is resumed where it stopped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from brandpulse.mention import Mention
from listeners.base import Batch, Connector, ConnectorOptions, Cursor, Reject
from listeners.registry import registry

csv.field_size_limit(10_000_000)  # long texts must reach validation, not crash the reader

ID_ALIASES = ("native_id", "id")


class FileOptions(ConnectorOptions):
    path: str = Field(description="JSONL or CSV file; relative paths resolve against the config")
    format: Literal["auto", "jsonl", "csv"] = "auto"
    platform: str = Field(default="file", description="platform for rows that do not name one")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Mention field (dotted) -> column name in the file"
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    batch_size: int = Field(default=1000, ge=1, le=50_000)


def fingerprint(path: Path, length: int = 65_536) -> str:
    """Identity of a file's first `length` bytes (at most 64 KiB): a replaced or
    rewritten file restarts from the top, an appended one resumes."""
    with path.open("rb") as handle:
        return hashlib.sha256(handle.read(min(length, 65_536))).hexdigest()[:16]


def parse_timestamp(value: Any) -> datetime:
    """ISO-8601 (Z or offset; naive = UTC) or epoch seconds / milliseconds."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"invalid timestamp {value!r}")
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        seconds = number / 1000 if number > 1e11 else number
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"invalid timestamp {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"invalid timestamp {value!r}")


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
    "thread.subreddit", "thread.instance",
)  # fmt: skip


class FileConnector(Connector):
    name = "file"
    Options = FileOptions
    options: FileOptions

    @property
    def path(self) -> Path:
        return Path(self.options.path)

    def _format(self) -> str:
        if self.options.format != "auto":
            return self.options.format
        return "csv" if self.path.suffix.lower() in (".csv", ".tsv") else "jsonl"

    def row_to_mention(self, row: dict[str, Any]) -> Mention | None:
        """Map one row; None when the row names brands and not this one."""
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
        if brands and self.brand.name not in brands:
            return None
        data["brands"] = [self.brand.name]
        if isinstance(data.get("matched_terms"), str):
            data["matched_terms"] = [t for t in data["matched_terms"].split(";") if t]
        data.setdefault("platform", self.options.platform)
        if "native_id" in data:
            data["native_id"] = str(data["native_id"])
        if "created_at" not in data:
            raise ValueError("missing required field created_at")
        data["created_at"] = parse_timestamp(data["created_at"])
        return Mention.model_validate(data)

    def _rows(self, cursor: Cursor | None) -> Iterator[tuple[int, int, dict | None, str | None, str]]:
        """(line, offset after row, row or None, error or None, raw text)."""
        start_offset, start_row = 0, 0
        if cursor and cursor.get("fingerprint") == fingerprint(self.path, int(cursor.get("prefix", 65_536))):
            start_offset = int(cursor.get("offset", 0))
            start_row = int(cursor.get("rows", 0))
        if self._format() == "jsonl":
            yield from self._jsonl_rows(start_offset, start_row)
        else:
            yield from self._csv_rows(start_row)

    def _jsonl_rows(self, offset: int, row: int) -> Iterator[tuple[int, int, dict | None, str | None, str]]:
        with self.path.open("rb") as handle:
            handle.seek(offset)
            line_no = row
            for raw in handle:
                line_no += 1
                offset += len(raw)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    shown = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
                    yield line_no, offset, None, f"invalid UTF-8 at byte {exc.start}", shown
                    continue
                if not text.strip():
                    continue
                try:
                    parsed = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield (
                        line_no,
                        offset,
                        None,
                        f"malformed JSON: {exc.msg} at column {exc.colno}",
                        text.rstrip("\r\n"),
                    )
                    continue
                if not isinstance(parsed, dict):
                    yield line_no, offset, None, "expected a JSON object per line", text.rstrip("\r\n")
                    continue
                yield line_no, offset, parsed, None, text.rstrip("\r\n")

    def _csv_rows(self, skip: int) -> Iterator[tuple[int, int, dict | None, str | None, str]]:
        with self.path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=self.options.delimiter)
            for index, row in enumerate(reader, start=1):
                if index <= skip:
                    continue
                raw = self.options.delimiter.join(v or "" for v in row.values() if isinstance(v, str))
                line = reader.line_num
                if None in row:
                    yield line, index, None, "more values than header columns", _safe(raw)
                    continue
                bad = [k for k, v in row.items() if isinstance(v, str) and _has_surrogates(v)]
                if bad:
                    yield line, index, None, f"invalid UTF-8 in column {bad[0]!r}", _safe(raw)
                    continue
                yield line, index, row, None, raw

    def fetch(self, cursor: Cursor | None, since: datetime | None = None) -> Iterator[Batch]:
        if not self.path.is_file():
            from listeners.base import FatalSourceError

            raise FatalSourceError(f"file source: no such file {self.path}")
        mentions: list[Mention] = []
        rejects: list[Reject] = []
        position: tuple[int, int] = (0, 0)
        is_jsonl = self._format() == "jsonl"
        for line, after, row, error, raw in self._rows(cursor):
            position = (after, line) if is_jsonl else (0, after)
            if error is None and row is not None:
                try:
                    mention = self.row_to_mention(row)
                except ValidationError as exc:
                    error = "; ".join(_explain(e) for e in exc.errors())
                except ValueError as exc:
                    error = str(exc)
                else:
                    if mention is not None and (since is None or mention.created_at >= since):
                        mentions.append(mention)
            if error is not None:
                rejects.append(Reject(reason=error, raw=raw, location=str(self.path), line=line))
            if len(mentions) + len(rejects) >= self.options.batch_size:
                yield Batch(mentions, self._cursor(position), rejects)
                mentions, rejects = [], []
        if mentions or rejects or cursor is None:
            yield Batch(mentions, self._cursor(position, cursor), rejects)

    def _cursor(self, position: tuple[int, int], previous: Cursor | None = None) -> Cursor:
        offset, rows = position
        if previous and position == (0, 0):
            return dict(previous)
        prefix = offset if offset else 65_536  # CSV: whole-file prefix, JSONL: what was read
        return {
            "fingerprint": fingerprint(self.path, prefix),
            "prefix": min(prefix, 65_536),
            "offset": offset,
            "rows": rows,
        }


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _safe(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _explain(err: dict) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "row"
    msg = err["msg"]
    if err["type"] == "missing":
        return f"missing required field {where}"
    if err["type"] == "string_too_long":
        length = len(err.get("input", ""))
        return f"{where}: text too long ({length:,} characters; {msg.lower()})"
    return f"{where}: {msg}"


registry.register(FileConnector)


def dumps_rows(rows: list[dict]) -> str:
    """Rows as JSONL text (used by the sample generator and tests)."""
    out = io.StringIO()
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return out.getvalue()
