"""`brandpulse quarantine list|show|replay`: what could not be indexed, and why.

Exit codes: 0 ok, 1 a record not found (show) or records still failing (replay),
2 bad usage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

app = typer.Typer(help="Quarantined input: list, show, replay after a fix.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # never break a path or id mid-word
out = Console(soft_wrap=True)

BrandOpt = Annotated[str | None, typer.Option("--brand", "-b", help="one brand (default: all)")]
SourceOpt = Annotated[str | None, typer.Option("--source", "-s", help="one source, e.g. file")]


def _client():
    from brandpulse.core.settings import get_settings
    from indexing.client import make_client

    settings = get_settings()
    return make_client(settings), settings


def _where(doc: dict) -> str:
    location = doc.get("location") or ""
    return f"{location}:{doc['line']}" if doc.get("line") is not None else location


@app.command("list")
def list_cmd(
    brand: BrandOpt = None,
    source: SourceOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="newest N")] = 20,
) -> None:
    """The newest quarantined records with their reason (full ids for `show`)."""
    from brandpulse.analyst.search import terminal_text
    from indexing.quarantine import list_quarantined

    client, settings = _client()
    total, records = list_quarantined(client, settings.indices, brand, source, limit)
    table = Table(title=f"{len(records):,} of {total:,} quarantined records", title_justify="left")
    for name in ("id", "quarantined", "brand", "source", "stage", "where", "reason"):
        table.add_column(name, overflow="fold", max_width=60 if name == "reason" else None)
    for record_id, doc in records:
        table.add_row(
            *(
                Text(terminal_text(v))
                for v in (
                    record_id,
                    str(doc.get("quarantined_at") or "")[:16].replace("T", " "),
                    doc.get("brand") or "",
                    doc.get("source") or "",
                    doc.get("stage") or "",
                    _where(doc),
                    doc.get("reason") or "",
                )
            )
        )
    out.print(table)


@app.command("show")
def show_cmd(record_id: Annotated[str, typer.Argument(help="id from `brandpulse quarantine list`")]) -> None:
    """One record: where it came from, why, and the input as stored."""
    from brandpulse.analyst.search import terminal_text
    from indexing.quarantine import get_quarantined

    client, settings = _client()
    doc = get_quarantined(client, settings.indices, record_id)
    if doc is None:
        console.print(f"no quarantined record {record_id!r}", style="red", markup=False, highlight=False)
        raise typer.Exit(1)
    for key in ("brand", "source", "stage", "quarantined_at", "run_id", "mention_id", "reason"):
        if doc.get(key) is not None:
            out.print(
                f"{key + ':':<15} {terminal_text(doc[key])}", markup=False, highlight=False, soft_wrap=True
            )
    if doc.get("location"):
        out.print(
            f"{'where:':<15} {terminal_text(_where(doc))}", markup=False, highlight=False, soft_wrap=True
        )
    size = f"{doc.get('raw_bytes', 0):,} bytes, sha256 {doc.get('raw_sha256', '?')}"
    cut = " (excerpt: head and tail)" if doc.get("raw_truncated") else ""
    out.print(f"{'raw:':<15} {size}{cut}", markup=False, highlight=False, soft_wrap=True)
    out.print(terminal_text(doc.get("raw", "")), markup=False, highlight=False, soft_wrap=True)


@app.command("replay")
def replay_cmd(
    brand: BrandOpt = None,
    source: SourceOpt = None,
    platform: Annotated[
        str, typer.Option(help="platform for rows of ad-hoc imports that name none")
    ] = "file",
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="replay at most N records")] = 10_000,
    dry_run: Annotated[bool, typer.Option(help="only say what would be replayed")] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="brands YAML (default: $BRANDPULSE_CONFIG or ./brands.yaml)"),
    ] = None,
) -> None:
    """Re-validate quarantined records; index what now validates and remove it from
    the quarantine (refused documents, and JSON Lines rows of file sources)."""
    from brandpulse.analyst.search import terminal_text
    from brandpulse.core.config import BrandsConfig, ConfigError
    from brandpulse.core.settings import get_settings
    from brandpulse.pipeline.config import load_checked_config
    from brandpulse.pipeline.replay import replay_records
    from indexing.quarantine import list_quarantined

    cfg: BrandsConfig | None = None
    if config or get_settings().config_path.exists():
        try:
            cfg = load_checked_config(config)
        except ConfigError as exc:
            console.print(str(exc), style="red", markup=False, highlight=False)
            raise typer.Exit(2) from None
    client, settings = _client()
    total, records = list_quarantined(client, settings.indices, brand, source, limit)
    outcome = replay_records(client, settings.indices, records, cfg, platform=platform, dry_run=dry_run)
    verb = "would replay" if dry_run else "replayed"
    out.print(
        f"{verb} {len(outcome.replayed):,} of {len(records):,} records"
        + ("" if dry_run else " (indexed, removed from the quarantine)")
        + f"; {len(outcome.failing):,} still failing, {len(outcome.skipped):,} not replayable"
        + (f"; {total - len(records):,} more beyond --limit" if total > len(records) else ""),
        markup=False,
        highlight=False,
    )
    for title, reasons in (("still failing", outcome.failing), ("not replayable", outcome.skipped)):
        grouped: dict[str, int] = {}
        for reason in reasons.values():
            grouped[reason] = grouped.get(reason, 0) + 1
        for reason, n in sorted(grouped.items(), key=lambda kv: -kv[1]):
            out.print(
                f"  {title} {n:>6}  {terminal_text(reason)}", markup=False, highlight=False, soft_wrap=True
            )
    if outcome.failing:
        raise typer.Exit(1)
