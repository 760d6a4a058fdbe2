"""`brandpulse` command-line interface.

Exit codes: 0 ok, 1 failure, 2 bad usage or config, 3 partial (some input was
quarantined; the rest was indexed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import ProgressColumn, Task
from rich.table import Table
from rich.text import Text

from brandpulse.cli import alerts as alerts_cli
from brandpulse.cli import analyst as indexing_cli
from brandpulse.cli import nlp as nlp_cli
from brandpulse.cli import quarantine as quarantine_cli
from brandpulse.core.config import BrandsConfig, ConfigError
from brandpulse.core.settings import REPO_ROOT, get_settings
from brandpulse.pipeline.config import load_checked_config

EXIT_PARTIAL = 3

app = typer.Typer(
    help="brandpulse: self-hosted social listening.", no_args_is_help=True, pretty_exceptions_enable=False
)
es_app = typer.Typer(help="The embedded Elasticsearch node (dev, tests, demo).", no_args_is_help=True)
app.add_typer(es_app, name="es")
app.add_typer(alerts_cli.app)  # eval-detector, detector-presets
app.add_typer(indexing_cli.app)  # search, stats, report, erase, rollover, retention, kibana
app.add_typer(nlp_cli.app)  # train-sentiment, eval-sentiment, export-onnx, detect-language
alerts_app = typer.Typer(help="Negative-spike alerts.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(quarantine_cli.app, name="quarantine")
console = Console(stderr=True, soft_wrap=True)  # never break a path or id mid-word
out = Console(soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="brands YAML (default: $BRANDPULSE_CONFIG or ./brands.yaml)"),
]


def _config(path: Path | None) -> BrandsConfig:
    try:
        return load_checked_config(path)
    except ConfigError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # its retry warnings carry tracebacks; the outcome is reported anyway
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)


# --- Elasticsearch node -------------------------------------------------------------------


@es_app.command("start")
def es_start(
    port: Annotated[int | None, typer.Option(help="HTTP port (default $BRANDPULSE_ES_PORT or 9200)")] = None,
) -> None:
    """Build (first time: downloads from Maven Central) and start the local node."""
    from brandpulse.dev import es_node

    settings = get_settings()
    info = es_node.start(port=port or settings.es_port, state_dir=settings.state_dir / "es")
    out.print(f"Elasticsearch {info.version} up at {info.url} (pid {info.pid}, {info.health})")


@es_app.command("stop")
def es_stop() -> None:
    """Stop the local node (idempotent)."""
    from brandpulse.dev import es_node

    stopped = es_node.stop(state_dir=get_settings().state_dir / "es")
    out.print("stopped" if stopped else "not running")


@es_app.command("status")
def es_status() -> None:
    """Show the local node's status; exit 1 when it is not running."""
    from brandpulse.dev import es_node

    settings = get_settings()
    info = es_node.status(port=settings.es_port, state_dir=settings.state_dir / "es")
    if info is None:
        out.print("not running")
        raise typer.Exit(1)
    out.print(f"Elasticsearch {info.version} at {info.url} (pid {info.pid}, {info.health})")


# --- configuration and sources ------------------------------------------------------------


@app.command("setup")
def setup_indices() -> None:
    """Install index templates and aliases (idempotent; a version bump rolls over)."""
    from brandpulse.pipeline.maintenance import prepare_indices

    out.print(prepare_indices(), markup=False, highlight=False)


@app.command("sources")
def sources() -> None:
    """List the registered connectors and their credentials (required and optional)."""
    from listeners.registry import registry

    for name in registry.names():
        cls = registry.get(name)
        doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        out.print(
            f"{name:<12} {doc}  [{credentials_text(cls)}]", markup=False, highlight=False, soft_wrap=True
        )


def credentials_text(cls: type) -> str:
    """`needs A, B; optional C` / `no credentials` for one connector class."""
    secrets = getattr(cls, "secrets", None) or ()
    required = [s.env for s in secrets if s.required] or list(getattr(cls, "credentials", ()))
    optional = [s.env for s in secrets if not s.required]
    parts = []
    if required:
        parts.append("needs " + ", ".join(required))
    if optional:
        parts.append("optional " + ", ".join(optional))
    return "; ".join(parts) or "no credentials"


@app.command("check-config")
def check_config(config: ConfigOpt = None) -> None:
    """Validate the brands config and print what it listens to."""
    cfg = _config(config)
    for brand in cfg.brands:
        out.print(
            f"{brand.name}: {brand.query}  sources: {', '.join(brand.sources) or '-'}",
            markup=False,
            highlight=False,
        )


@app.command("sample")
def sample(
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="default: <state>/sample")] = None,
    seed: int = 7,
    scale: Annotated[float, typer.Option(help="volume multiplier")] = 1.0,
) -> None:
    """Write the sample dataset (two brands, 14 days, one injected incident)."""
    from brandpulse.dev.sample_data import write_sample

    path, incident = write_sample(out_dir or get_settings().state_dir / "sample", seed, scale)
    out.print(
        f"wrote {path} ({incident['mentions']} incident mentions, onset {incident['onset']})",
        markup=False,
        highlight=False,
    )


# --- ingest -------------------------------------------------------------------------------


class RateColumn(ProgressColumn):
    """Items per second (the task's smoothed speed), e.g. `412/s`."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("–/s" if speed is None else f"{_rate(speed)}/s", style="progress.data.speed")


def _rate(per_second: float) -> str:
    return f"{per_second:,.1f}" if per_second < 10 else f"{per_second:,.0f}"


def _run_with_progress(config: BrandsConfig, brand: str, source: str, **kwargs):
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from brandpulse.pipeline.ingest import run_ingest

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"{brand}/{source}: starting", total=None)
        counts = {"fetched": 0, "rejected": 0}

        def on_batch(batch, result) -> None:
            counts["fetched"] += len(batch.mentions)
            counts["rejected"] += len(batch.rejects) + len(result.failed)
            progress.update(
                task,
                description=(
                    f"{brand}/{source}: {counts['fetched']:,} mentions, {counts['rejected']:,} quarantined"
                ),
            )

        summary = run_ingest(config, brand, source, on_batch=on_batch, **kwargs)
        progress.update(task, description=summary.message)
    return summary


def _report(summaries) -> None:
    from brandpulse.analyst.search import terminal_text

    partial = False
    for s in summaries:
        out.print(terminal_text(s.message), markup=False, highlight=False)
        for reason, n in sorted(s.reasons.items(), key=lambda kv: -kv[1]):
            out.print(f"  quarantined {n:>6}  {terminal_text(reason)}", markup=False, highlight=False)
        partial |= s.status == "partial"
    if partial:
        out.print("status: partial (see `brandpulse quarantine list` for the rejected input)")
        raise typer.Exit(EXIT_PARTIAL)


@app.command("ingest")
def ingest(
    source: Annotated[str | None, typer.Option("--source", "-s", help="one source (default: all)")] = None,
    brand: Annotated[str | None, typer.Option("--brand", "-b", help="one brand (default: all)")] = None,
    since: Annotated[datetime | None, typer.Option(help="first run only: ignore older posts")] = None,
    reset_cursor: Annotated[bool, typer.Option(help="start again from the beginning")] = False,
    config: ConfigOpt = None,
) -> None:
    """Fetch new mentions for configured (brand, source) pairs and index them."""
    from brandpulse.pipeline.maintenance import prepare_indices

    cfg = _config(config)
    pairs = [(b, s) for b, s in cfg.pairs() if (brand in (None, b)) and (source in (None, s))]
    if not pairs:
        console.print("nothing to do: no configured (brand, source) pair matches")
        raise typer.Exit(2)
    prepare_indices()
    _report([_run_with_progress(cfg, b, s, since=since, reset_cursor=reset_cursor) for b, s in pairs])


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="JSONL or CSV file", exists=True, dir_okay=False)],
    brand: Annotated[str, typer.Option("--brand", "-b", help="brand the rows belong to")],
    platform: Annotated[str, typer.Option(help="platform for rows that do not name one")] = "file",
    columns: Annotated[str | None, typer.Option(help='JSON: {"text": "body", ...}')] = None,
    apply_query: Annotated[
        bool, typer.Option(help="keep only rows that match the brand's query (default: trust the file)")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Import one file for a brand (ad hoc; every row is taken as the brand's
    unless --apply-query)."""
    from brandpulse.core.config import Brand
    from brandpulse.pipeline.maintenance import prepare_indices

    cfg = _config(config) if (config or get_settings().config_path.exists()) else None
    known = {b.name: b for b in cfg.brands} if cfg else {}
    base = known.get(brand) or Brand(name=brand, query=brand)
    options = {
        "path": str(path.resolve()),
        "platform": platform,
        "columns": json.loads(columns or "{}"),
        "trust_file": not apply_query,
    }
    source_key = "file"
    adhoc = BrandsConfig(brands=[base.model_copy(update={"sources": {source_key: options}})])
    prepare_indices()
    # the cursor is keyed by the file: the configured file source's cursor is left alone
    cursor_key = "file:" + hashlib.sha256(options["path"].encode("utf-8", "surrogatepass")).hexdigest()[:16]
    _report([_run_with_progress(adhoc, brand, source_key, reset_cursor=True, cursor_key=cursor_key)])


@app.command("enrich")
def enrich(
    brand: Annotated[str | None, typer.Option("--brand", "-b", help="one brand (default: all)")] = None,
    reprocess: Annotated[bool, typer.Option(help="re-enrich everything, whatever its version")] = False,
) -> None:
    """Language and sentiment for mentions not yet enriched by the current model."""
    from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn

    from brandpulse.pipeline.enrich import count_pending, enrich_brand, pending_query
    from indexing.client import make_client
    from nlp.enrich import enrichment_version
    from nlp.sentiment import get_model

    settings = get_settings()
    make_client(settings).info()  # an unreachable cluster fails now, not after loading the model
    version = enrichment_version(get_model())
    total = count_pending(make_client(settings), settings.indices, pending_query(version, brand, reprocess))
    with Progress(
        *Progress.get_default_columns()[:-1],
        MofNCompleteColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(f"enriching ({version})", total=total)
        failures = {"n": 0}

        def on_batch(n: int, failed: int) -> None:
            failures["n"] += failed
            if failed:
                progress.update(task, description=f"enriching ({version}), {failures['n']:,} failed")
            progress.advance(task, n)

        started = time.monotonic()
        summary = enrich_brand(brand, reprocess, on_batch=on_batch)
    elapsed = max(time.monotonic() - started, 1e-9)
    out.print(
        f"enriched {summary['enriched']:,} mentions in {elapsed:,.1f} s "
        f"({_rate(summary['enriched'] / elapsed)}/s), {summary['failed']:,} failed "
        f"(kept; retried next run) with {version}",
        markup=False,
        highlight=False,
    )


@app.command("counts")
def counts() -> None:
    """Print indexed mentions per brand, platform and day."""
    print_counts()


def print_counts() -> dict:
    from indexing.client import make_client
    from indexing.queries import counts_by_brand_platform_day, quarantine_count

    settings = get_settings()
    client = make_client(settings)
    data = counts_by_brand_platform_day(client, settings.indices)
    for brand, days in sorted(data.items()):
        platforms = sorted({p for day in days.values() for p in day})
        table = Table(title=f"{brand}: mentions per day and platform", title_justify="left")
        table.add_column("day")
        for p in platforms:
            table.add_column(p, justify="right")
        table.add_column("total", justify="right", style="bold")
        for day, per in sorted(days.items()):
            table.add_row(day, *(f"{per.get(p, 0):,}" for p in platforms), f"{sum(per.values()):,}")
        totals = [sum(d.get(p, 0) for d in days.values()) for p in platforms]
        table.add_row("total", *(f"{t:,}" for t in totals), f"{sum(totals):,}", style="bold")
        out.print(table)
    out.print(f"quarantined records: {quarantine_count(client, settings.indices):,}")
    return data


#: `brandpulse alerts check` exit status when alerts stay unsent (documented in the README)
EXIT_UNSENT = 3


@alerts_app.command("check")
def alerts_check(
    brand: Annotated[str | None, typer.Option("--brand", "-b", help="one brand (default: all)")] = None,
    at: Annotated[datetime | None, typer.Option(help="judge buckets up to this time (default: now)")] = None,
    catch_up_hours: Annotated[float, typer.Option(help="judge at most this far back")] = 24,
    config: ConfigOpt = None,
) -> None:
    """Judge new buckets, advance alert episodes, send what is due (like the DAG).

    Exit status 3 when alerts stay unsent (no SMTP/webhook configured, or the
    delivery failed): they are retried by the next check."""
    from datetime import UTC, timedelta

    from brandpulse.pipeline.alert_check import check_alerts

    cfg = _config(config)
    when = (at or datetime.now(UTC)).replace(tzinfo=(at.tzinfo if at and at.tzinfo else UTC))
    unsent = 0
    for s in check_alerts(cfg, when, brand, catch_up=timedelta(hours=catch_up_hours)):
        unsent += len(s.unsent)
        out.print(
            f"{s.brand}: {s.evaluated} buckets judged, {s.fired} anomalous, "
            f"opened {', '.join(s.opened) or 'none'}; sent {len(s.sent)}, unsent {len(s.unsent)}",
            markup=False,
        )
    if unsent:
        console.print(
            f"{unsent} alert(s) unsent: set BRANDPULSE_SMTP_HOST (or BRANDPULSE_WEBHOOK_URL), "
            "or see the log above for the delivery error; the next check retries them",
            markup=False,
        )
        raise typer.Exit(EXIT_UNSENT)


@app.command("airflow-env")
def airflow_env_cmd() -> None:
    """Print `export` lines for Airflow (shared secrets, AIRFLOW_HOME, DAGs folder).

    Use: eval "$(brandpulse airflow-env)" && airflow standalone
    """
    import shlex

    from brandpulse.airflow_env import airflow_env

    for key, value in airflow_env().items():
        out.print(f"export {key}={shlex.quote(value)}", markup=False, highlight=False, soft_wrap=True)


@app.command("demo")
def demo(
    port: Annotated[int | None, typer.Option(help="Elasticsearch port")] = None,
    config: Annotated[Path, typer.Option("--config", "-c", help="brands YAML of the demo")] = REPO_ROOT
    / "brands.yaml",
) -> None:
    """Start ES, install templates, replay the sample dataset through the ingest DAG,
    and print what was indexed."""
    from rich.text import Text

    from brandpulse.dev.demo import run_demo

    run_demo(
        port=port,
        config_path=config,
        say=lambda msg: console.print(Text("▶ ", style="bold cyan") + Text(str(msg))),
    )
    print_counts()


def _es_where() -> tuple[str, bool]:
    """(the cluster's URL for messages, whether it is the embedded node)."""
    from pydantic import ValidationError

    try:
        settings = get_settings()
        return settings.es_url_display, settings.embedded
    except ValidationError:
        return "ES_URL", False


def _fail_line(message: str, code: int) -> None:
    console.print(message, style="red", markup=False, highlight=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    """Console-script entry: `app`, with every expected failure (cluster unreachable
    or refusing the credentials, invalid settings, a source that cannot work) turned
    into one clear line (credentials never printed)."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError
    from pydantic import ValidationError

    from brandpulse.core.errors import NothingToRead, SourceError

    try:
        app()
    except TransportError as exc:
        url, embedded = _es_where()
        hint = (
            "start the local node with `brandpulse es start`, "
            "or set ES_URL (and ES_API_KEY) for a real cluster"
            if embedded
            else "check ES_URL, that the cluster is up and that this machine can reach it"
        )
        _fail_line(f"cannot reach Elasticsearch at {url} ({type(exc).__name__}): {hint}", 1)
    except ApiError as exc:
        url, _ = _es_where()
        status = getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None), "status", None)
        if status == 401:
            _fail_line(
                f"Elasticsearch at {url} refused the credentials (401 Unauthorized): "
                "set ES_API_KEY, or ES_USERNAME and ES_PASSWORD",
                1,
            )
        if status == 403:
            _fail_line(
                f"Elasticsearch at {url} denied access (403 Forbidden): the user or API key lacks "
                f"privileges on the brandpulse indices ({_short(exc)})",
                1,
            )
        _fail_line(f"Elasticsearch at {url} answered {status}: {_short(exc)}", 1)
    except SourceError as exc:  # a source that cannot work, or has nothing to read yet
        _fail_line(f"{type(exc).__name__}: {exc}", 0 if isinstance(exc, NothingToRead) else 1)
    except ValidationError as exc:  # settings from the environment (inputs are never echoed)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        _fail_line(f"invalid settings: {problems}", 2)
    except ValueError as exc:
        if "scheme" in str(exc) and os.environ.get("ES_URL"):  # raised by the client for a bare host
            _fail_line(
                "invalid settings: ES_URL must start with http:// or https:// "
                "(e.g. https://es.example.org:9200)",
                2,
            )
        raise


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


if __name__ == "__main__":  # pragma: no cover
    main()
