"""Analyst, report, lifecycle and Kibana commands, mounted into `brandpulse`
(`app.add_typer(brandpulse.cli.analyst.app)` merges them into the top level).

Exit codes: 0 ok, 1 failure, 2 bad usage.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
kibana_app = typer.Typer(help="Kibana dashboards (saved objects).", no_args_is_help=True)
app.add_typer(kibana_app, name="kibana")
console = Console(stderr=True, soft_wrap=True)  # never break a path or id mid-word
out = Console(soft_wrap=True)

PROGRESS_ABOVE = 10_000  # exports larger than this show a progress bar


class Format(StrEnum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"


Brand = Annotated[str | None, typer.Option("--brand", "-b", help="brand name (term filter)")]
Since = Annotated[str | None, typer.Option(help="relative window ending at --to/--at: 30m, 24h, 7d, 2w")]
From = Annotated[str | None, typer.Option("--from", help="window start, ISO 8601 (UTC if no offset)")]
To = Annotated[str | None, typer.Option("--to", help="window end, ISO 8601 (default: --at)")]
At = Annotated[str | None, typer.Option("--at", help="'now' for relative options (default: the clock)")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(message, style="red", markup=False, highlight=False)
    return typer.Exit(code)


def _now(at: str | None) -> datetime:
    from brandpulse.analyst.search import parse_time

    return parse_time(at) if at else datetime.now(UTC)


def _window(since: str | None, start: str | None, end: str | None, at: str | None, default: str | None):
    from brandpulse.analyst.search import AnalystError, parse_time, resolve_window

    try:
        return resolve_window(
            since or (None if start else default),
            parse_time(start) if start else None,
            parse_time(end) if end else None,
            _now(at),
        )
    except AnalystError as exc:
        raise _fail(str(exc), 2) from None


def _client():
    from brandpulse.core.settings import get_settings
    from indexing.client import make_client

    settings = get_settings()
    return make_client(settings), settings


def _brand_title(brand: str) -> str:
    from brandpulse.core.config import ConfigError, load_config

    try:
        return load_config().brand(brand).title
    except ConfigError:
        return brand


# --- search / export ------------------------------------------------------------------------


@app.command("search")
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='the brand query language: words, "phrases", AND/OR/NOT (upper case; also + | -), '
            "(groups), -exclusion, prefix*, lang:xx; '' = all"
        ),
    ] = "",
    brand: Brand = None,
    sentiment: Annotated[str | None, typer.Option(help="negative, neutral or positive")] = None,
    platform: Annotated[str | None, typer.Option(help="x, reddit, mastodon, ...")] = None,
    topic: Annotated[str | None, typer.Option(help="topic label or id")] = None,
    since: Since = None,
    start: From = None,
    end: To = None,
    at: At = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    limit: Annotated[int | None, typer.Option(min=1, help="at most N (table default: 20)")] = None,
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="write to a file (default: stdout)")
    ] = None,
    raw_csv: Annotated[bool, typer.Option(help="do not neutralise spreadsheet formulas in CSV")] = False,
) -> None:
    """Search mentions (newest first) and print a table or export CSV / JSON Lines."""
    from elasticsearch import NotFoundError

    from brandpulse.analyst.search import (
        AnalystError,
        MentionFilter,
        build_query,
        count_matches,
        export_mentions,
    )

    window = _window(since, start, end, at, None)
    try:
        filters = MentionFilter(brand, sentiment, platform, topic, *window)
        body = build_query(query, filters)
    except AnalystError as exc:
        raise _fail(str(exc), 2) from None
    if fmt is Format.table and limit is None:
        limit = 20
    client, settings = _client()
    try:
        total = count_matches(client, settings.indices, body)
        wanted = total if limit is None else min(total, limit)
        with ExitStack() as stack:
            on_page = None
            if fmt is not Format.table and wanted > PROGRESS_ABOVE:
                on_page = _progress(stack, wanted)
            docs = export_mentions(client, settings.indices, body, limit=limit, on_page=on_page)
            stack.callback(docs.close)  # the point in time is closed whatever happens below
            if fmt is Format.table:
                _print_table(list(docs), total)
                return
            sink = (
                stack.enter_context(output.open("w", encoding="utf-8", newline="")) if output else sys.stdout
            )
            n = _write(fmt, docs, sink, raw_csv)
    except NotFoundError:
        raise _fail(f"no mention index {settings.indices.mentions}: run `brandpulse setup` first") from None
    if output:
        console.print(f"wrote {n:,} mentions to {output}", markup=False, highlight=False)


def _progress(stack: ExitStack, total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = stack.enter_context(
        Progress("exporting", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console)
    )
    task = progress.add_task("export", total=total)
    return lambda n: progress.advance(task, n)


def _write(fmt: Format, docs, sink, raw_csv: bool) -> int:
    from brandpulse.analyst.search import write_csv, write_jsonl

    if fmt is Format.csv:
        return write_csv(docs, sink, safe=not raw_csv)
    return write_jsonl(docs, sink)


def _print_table(docs: list[dict], total: int) -> None:
    """User text is literal: cells are `Text` (never Rich markup) and control
    characters (ANSI/OSC escapes) are shown escaped, not sent to the terminal."""
    from rich.text import Text

    from brandpulse.analyst.search import flatten, terminal_text

    table = Table(title=f"{len(docs):,} of {total:,} mentions", title_justify="left", show_lines=False)
    for name in ("created_at", "platform", "sentiment", "author", "likes", "text"):
        table.add_column(name, overflow="fold", max_width=70 if name == "text" else None)
    for doc in docs:
        row = flatten(doc)
        table.add_row(
            *(
                Text(terminal_text(value))
                for value in (
                    (row["created_at"] or "")[:16].replace("T", " "),
                    row["platform"] or "",
                    row["sentiment"] or "-",
                    row["author"] or "",
                    "" if row["likes"] is None else f"{row['likes']:,}",
                    (row["text"] or "").replace("\r\n", " ").replace("\n", " ").replace("\r", " "),
                )
            )
        )
    out.print(table)


# --- stats ------------------------------------------------------------------------------------


DEFAULT_SINCE = "7d"


def _closed_window(command: str, since, start, end, at) -> tuple[datetime, datetime, str | None]:
    """A window with both ends (default: the last 7 days), or a usage error; and,
    when the default was used, a note saying what it covers."""
    window_start, window_end = _window(since, start, end, at, DEFAULT_SINCE)
    if window_start is None or window_end is None:
        raise _fail(f"{command} needs a closed window: --since, or --from with --to", 2)
    note = None
    if not (since or start or end):
        note = f"the {DEFAULT_SINCE} before " + ("--at" if at else "now") + ", the default"
    return window_start, window_end, note


def _where_the_data_is(client, settings, brand: str, window_end: datetime) -> str:
    """For an empty window: where this brand's mentions are, and how to get there."""
    import math
    from datetime import timedelta

    from brandpulse.analyst.search import newest_mention

    newest = newest_mention(client, settings.indices, brand)
    if newest is None:
        return (
            f"no mentions of {brand!r} are indexed at all: run `brandpulse ingest` "
            "(or `brandpulse demo`), and check the brand name (`brandpulse check-config`)"
        )
    days = max(1, math.ceil((window_end - newest).total_seconds() / 86400)) + 7
    return (
        f"no mentions in this window; newest mention of {brand!r}: {newest:%Y-%m-%d %H:%M} UTC: "
        f"try --since {days}d, or --at {newest + timedelta(days=1):%Y-%m-%d} for the week up to it, "
        f"or --from/--to"
    )


@app.command("stats")
def stats(
    brand: Annotated[str, typer.Option("--brand", "-b", help="brand name")],
    since: Since = None,
    start: From = None,
    end: To = None,
    at: At = None,
) -> None:
    """Volume, sentiment split, top topics and a sparkline of negative volume (default: 7d)."""
    from rich.text import Text

    from brandpulse.analyst.search import mention_stats, sparkline, terminal_text

    window_start, window_end, note = _closed_window("stats", since, start, end, at)
    client, settings = _client()
    s = mention_stats(client, settings.indices, brand, window_start, window_end)
    title = Text(terminal_text(brand), style="bold")
    covers = f" ({note})" if note else ""
    out.print(title, f" {window_start:%Y-%m-%d %H:%M} → {window_end:%Y-%m-%d %H:%M} UTC{covers}")
    out.print(f"mentions  {s.total:,}")
    if not s.total:
        out.print(
            _where_the_data_is(client, settings, brand, window_end),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    split = "  ".join(f"{k} {v:,}" for k, v in s.sentiment.items())
    out.print(f"sentiment {split}  (negative share {s.share('negative') * 100:.1f}% of scored)")
    out.print(
        "platforms " + "  ".join(f"{terminal_text(k)} {v:,}" for k, v in s.platforms.items()),
        markup=False,
    )
    if s.topics:
        table = Table(title="top topics", title_justify="left")
        table.add_column("topic")
        table.add_column("mentions", justify="right")
        table.add_column("negative", justify="right")
        for t in s.topics:
            table.add_row(Text(terminal_text(t.label)), f"{t.mentions:,}", f"{t.negative:,}")
        out.print(table)
    else:
        out.print("top topics: none (not enriched yet)")
    peak = max(s.negative, default=0)
    out.print(f"negative per {s.interval} (max {peak:,}):")
    out.print(sparkline(s.negative), highlight=False)


# --- report -----------------------------------------------------------------------------------


@app.command("report")
def report(
    brand: Annotated[str, typer.Option("--brand", "-b", help="brand name")],
    output: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write")],
    since: Since = None,
    start: From = None,
    end: To = None,
    at: At = None,
) -> None:
    """Write a self-contained HTML report (charts inlined) for people without Kibana."""
    from brandpulse.analyst.report import write_report

    window_start, window_end, note = _closed_window("report", since, start, end, at)
    client, settings = _client()
    data = write_report(
        client,
        settings.indices,
        brand,
        window_start,
        window_end,
        output,
        generated_at=_now(at),
        title=_brand_title(brand),
        window_note=note,
    )
    covers = f"{window_start:%Y-%m-%d %H:%M} → {window_end:%Y-%m-%d %H:%M} UTC" + (
        f", {note}" if note else ""
    )
    out.print(
        f"wrote {output} ({data.stats.total:,} mentions in {covers}, {len(data.posts)} top negative posts)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if not data.stats.total:
        console.print(_where_the_data_is(client, settings, brand, window_end), markup=False, highlight=False)


# --- lifecycle --------------------------------------------------------------------------------


@app.command("erase")
def erase(
    author: Annotated[str | None, typer.Option(help="author id or handle (GDPR request)")] = None,
    platform: Annotated[str | None, typer.Option(help="limit --author to one platform")] = None,
    post: Annotated[
        list[str] | None, typer.Option(help="mention id <platform>:<native id>; repeatable")
    ] = None,
    requested_by: Annotated[
        str | None, typer.Option(help="ticket or requester, kept in the audit record")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Erase mentions by author or by post id (idempotent, audited, counts change at once)."""
    from indexing.lifecycle import erase_author, erase_posts

    if bool(author) == bool(post):
        raise _fail("give either --author or --post", 2)
    what = (
        f"author {author!r}" + (f" on {platform}" if platform else "")
        if author
        else f"{len(post or [])} post(s)"
    )
    if not yes and not typer.confirm(f"Permanently delete every mention of {what}?"):
        raise typer.Exit(1)
    client, settings = _client()
    at = datetime.now(UTC)
    if author:
        result = erase_author(
            client, settings.indices, author, at, platform=platform, requested_by=requested_by
        )
    else:
        result = erase_posts(client, settings.indices, list(post or []), at, requested_by=requested_by)
    out.print(
        f"erased {result.deleted_mentions:,} mentions and {result.deleted_quarantine:,} quarantined records "
        f"(audit {result.audit_id})"
    )


@app.command("rollover")
def rollover_cmd(
    max_age: Annotated[str | None, typer.Option(help="e.g. 30d")] = "30d",
    max_size: Annotated[str | None, typer.Option(help="max primary shard size, e.g. 50gb")] = "50gb",
    max_docs: Annotated[int | None, typer.Option(min=1)] = None,
    dry_run: Annotated[bool, typer.Option(help="only check the conditions")] = False,
) -> None:
    """Roll the mentions write alias over to a new generation when a condition is met."""
    from indexing.lifecycle import RolloverConditions, rollover

    client, settings = _client()
    conditions = RolloverConditions(max_age=max_age, max_primary_shard_size=max_size, max_docs=max_docs)
    result = rollover(client, settings.indices, conditions, dry_run=dry_run)
    met = ", ".join(k for k, v in result.conditions.items() if v) or "none"
    verb = "would roll" if dry_run else "rolled"
    if result.rolled_over or (dry_run and met != "none"):
        out.print(f"{verb} {result.old_index} over to {result.new_index} (met: {met})")
    else:
        out.print(f"no rollover: {result.old_index} meets none of {conditions.as_dict()}")


@app.command("retention")
def retention_cmd(
    days: Annotated[
        int | None, typer.Option(min=1, help="default: retention_days of the brands config")
    ] = None,
    at: At = None,
    dry_run: Annotated[bool, typer.Option(help="count, delete nothing")] = False,
) -> None:
    """Delete mentions older than the retention period (whole old generations first)."""
    from brandpulse.core.config import ConfigError, load_config
    from indexing.lifecycle import apply_retention

    if days is None:
        try:
            days = load_config().retention_days
        except ConfigError as exc:
            raise _fail(str(exc), 2) from None
    client, settings = _client()
    result = apply_retention(client, settings.indices, days, _now(at), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    indices = ", ".join(result.deleted_indices) or "no indices"
    out.print(
        f"cutoff {result.cutoff:%Y-%m-%d %H:%M} UTC: {verb} {indices} and {result.deleted_docs:,} mentions"
    )


# --- kibana -----------------------------------------------------------------------------------


@kibana_app.command("import")
def kibana_import(
    url: Annotated[
        str | None,
        typer.Option(
            help="Kibana base URL, e.g. http://localhost:5601 (default: kibana_url of the brands config)"
        ),
    ] = None,
    space: Annotated[str | None, typer.Option(help="Kibana space id (default space if unset)")] = None,
    dry_run: Annotated[bool, typer.Option(help="print what would be sent; no network call")] = False,
    insecure: Annotated[bool, typer.Option(help="do not verify Kibana's TLS certificate")] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="brands YAML (default: $BRANDPULSE_CONFIG or ./brands.yaml)"),
    ] = None,
) -> None:
    """Import the dashboards, Lens panels, data views and saved search (overwriting).

    Credentials: KIBANA_API_KEY, or KIBANA_USERNAME + KIBANA_PASSWORD (never printed)."""
    from brandpulse.core.config import ConfigError, load_config
    from brandpulse.core.settings import get_settings
    from brandpulse.kibana.importer import (
        ImportPlan,
        KibanaAuth,
        KibanaImportError,
        import_objects,
        import_url,
    )
    from brandpulse.kibana.objects import build_objects

    if url is None:
        try:
            url = load_config(config).kibana_url
        except ConfigError as exc:
            raise _fail(f"{exc}\n(or pass --url)", 2) from None
        if not url:
            raise _fail("no Kibana URL: pass --url, or set kibana_url in the brands config", 2)
    try:
        plan = ImportPlan(
            import_url(url, space), build_objects(get_settings().index_prefix), KibanaAuth.from_env()
        )
    except KibanaImportError as exc:
        raise _fail(str(exc), 2) from None
    if dry_run:
        out.print(plan.describe(), highlight=False, markup=False, soft_wrap=True)
        out.print("dry run: nothing sent", highlight=False)
        return
    try:
        result = import_objects(plan, verify=not insecure)
    except KibanaImportError as exc:
        raise _fail(str(exc)) from None
    out.print(result.describe(), highlight=False, markup=False, soft_wrap=True)
    if not result.success or result.errors:
        raise typer.Exit(1)


@kibana_app.command("build")
def kibana_build(
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="default: brandpulse/kibana/saved_objects/saved_objects.ndjson"),
    ] = None,
    prefix: Annotated[str, typer.Option(help="index prefix in the data view titles")] = "brandpulse",
) -> None:
    """Regenerate the saved-objects ndjson (stable ids). `kibana import` builds them itself."""
    from brandpulse.kibana.objects import NDJSON_PATH, write_ndjson

    out.print(f"wrote {write_ndjson(output or NDJSON_PATH, prefix=prefix)}", markup=False, highlight=False)
