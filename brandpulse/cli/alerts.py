"""Command line of the alerts package (mounted into the `brandpulse` CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from brandpulse.core.config import Sensitivity

app = typer.Typer(help="Negative-spike alerts: detector evaluation.", no_args_is_help=True)


@app.command(
    "eval-detector",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": False},
)
def eval_detector_command(
    ctx: typer.Context,
    series: Annotated[
        list[Path],
        typer.Option(
            "--series",
            help="NAB-format CSV (timestamp,value); repeat the option or list several after it",
        ),
    ],
    labels: Annotated[Path, typer.Option("--labels", help="NAB windows JSON (labels.json)")],
    sensitivity: Annotated[
        str, typer.Option("--sensitivity", help="preset: fewer, balanced or more")
    ] = "balanced",
) -> None:
    """Score the detector with NAB's rules, thresholds frozen by the preset.

    Prints one line per series, then one JSON object (the last line) with
    nab_standard, nab_low_fp, nab_low_fn, windows, detected, false_positives
    and what NAB's own threshold optimisation would reach (`optimised`).
    """
    from alerts.nab_scoring import eval_detector

    if sensitivity not in ("fewer", "balanced", "more"):
        raise typer.BadParameter("must be fewer, balanced or more", param_hint="--sensitivity")
    paths = [*series, *(Path(a) for a in ctx.args)]
    missing = [str(p) for p in [*paths, labels] if not p.is_file()]
    if missing:
        raise typer.BadParameter(f"no such file: {', '.join(missing)}")
    chosen: Sensitivity = sensitivity  # type: ignore[assignment]
    result = eval_detector(paths, labels, chosen)
    files = result.pop("files")
    assert isinstance(files, list)  # eval_detector: one result per series
    for one in files:
        typer.echo(
            f"{one['file']}: windows={one['windows']} detected={one['detected']} "
            f"false_positives={one['false_positives']} standard={one['nab_standard']:.2f} "
            f"low_fp={one['nab_low_fp']:.2f} low_fn={one['nab_low_fn']:.2f}"
        )
    typer.echo(json.dumps(result))


@app.command("detector-presets")
def detector_presets_command() -> None:
    """Print the sensitivity presets (the thresholds `alerts.sensitivity` selects)."""
    from dataclasses import asdict

    from alerts.detector import PRESETS

    for name, thresholds in PRESETS.items():
        typer.echo(f"{name}: {json.dumps(asdict(thresholds))}")
