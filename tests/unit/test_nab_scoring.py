"""NAB scoring rules and the eval-detector command."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from alerts.nab_scoring import (
    PROFILES,
    FileScore,
    eval_detector,
    load_series,
    normalised,
    probation_length,
    scaled_sigmoid,
    score_file,
)
from brandpulse.cli.alerts import app

STANDARD = PROFILES["nab_standard"]


def sigmoid_credit(position: float) -> float:
    """NAB's scaled sigmoid, written out independently."""
    return 2 / (1 + math.exp(5 * position)) - 1


def test_scaled_sigmoid_landmarks():
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(0.98661, abs=1e-5)
    assert float(scaled_sigmoid(-0.5)) == pytest.approx(0.84828, abs=1e-5)
    assert float(scaled_sigmoid(0.0)) == pytest.approx(0.0)
    assert float(scaled_sigmoid(3.0)) == -1.0
    assert float(scaled_sigmoid(1.0)) == pytest.approx(-0.98661, abs=1e-5)


def test_probation_is_fifteen_percent_capped_at_750():
    assert probation_length(1000) == 150
    assert probation_length(15_902) == 750


def test_null_and_perfect_detectors_score_0_and_100():
    rows, windows = 2000, [(600, 699), (1500, 1599)]
    null = score_file(rows, windows, np.array([], dtype=int), STANDARD)
    perfect = score_file(rows, windows, np.array([600, 1500]), STANDARD)
    assert null.raw == -2.0 and null.detected == 0
    assert normalised([null], 2, STANDARD) == pytest.approx(0.0)
    assert normalised([perfect], 2, STANDARD) == pytest.approx(100.0)


def test_window_credit_follows_the_sigmoid_and_earliest_wins():
    rows, window = 2000, (600, 699)
    width = window[1] - window[0] + 1
    for i in (600, 650, 699):
        got = score_file(rows, [window], np.array([i]), STANDARD)
        expected = sigmoid_credit(-(window[1] - i + 1) / width) / sigmoid_credit(-1.0)
        assert got.raw == pytest.approx(expected)
        assert got.detected == 1 and got.false_positives == 0
    both = score_file(rows, [window], np.array([650, 610]), STANDARD)
    early = score_file(rows, [window], np.array([610]), STANDARD)
    assert both.raw == pytest.approx(early.raw)


def test_false_positives_cost_less_just_after_a_window():
    rows, window = 3000, [(1000, 1099)]
    tp = np.array([1000])
    base = score_file(rows, window, tp, STANDARD).raw
    before = score_file(rows, window, np.array([500, 1000]), STANDARD).raw - base
    just_after = score_file(rows, window, np.array([1000, 1105]), STANDARD).raw - base
    far_after = score_file(rows, window, np.array([1000, 2500]), STANDARD).raw - base
    assert before == pytest.approx(-STANDARD.fp)
    expected_after = sigmoid_credit((1105 - 1099) / (100 - 1)) * STANDARD.fp
    assert just_after == pytest.approx(expected_after)
    assert before <= far_after < just_after < 0


def test_detections_in_the_probationary_period_are_ignored():
    rows = 2000  # probation: 300 rows
    quiet = score_file(rows, [(1000, 1099)], np.array([10, 200]), STANDARD)
    assert quiet.false_positives == 0
    assert quiet.raw == pytest.approx(-1.0)


def test_profiles_weigh_false_positives_and_misses_differently():
    rows, windows = 3000, [(1000, 1099), (2000, 2099)]
    detections = np.array([1000, 400, 500, 600])  # one hit, one miss, three FPs
    scores = {
        key: normalised([score_file(rows, windows, detections, cost)], 2, cost)
        for key, cost in PROFILES.items()
    }
    assert scores["nab_low_fp"] < scores["nab_standard"]
    assert scores["nab_low_fn"] > scores["nab_standard"]


def test_normalised_sums_over_files():
    a = FileScore(raw=1.0, null=-1.0, windows=1, detected=1, false_positives=0)
    b = FileScore(raw=-1.0, null=-1.0, windows=1, detected=0, false_positives=0)
    assert normalised([a, b], 2, STANDARD) == pytest.approx(50.0)


def _write_series(tmp_path: Path, name: str, seed: int) -> tuple[Path, list[list[str]]]:
    rng = np.random.default_rng(seed)
    rows = 6000
    values = rng.poisson(5, rows)
    spike = 4500
    values[spike : spike + 6] += 80
    start = datetime(2015, 3, 2, 0, 0, 0)
    stamps = [start + timedelta(minutes=5 * i) for i in range(rows)]
    path = tmp_path / name
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "value"])
        for ts, v in zip(stamps, values, strict=True):
            writer.writerow([ts.strftime("%Y-%m-%d %H:%M:%S"), int(v)])
    fmt = "%Y-%m-%d %H:%M:%S.000000"
    window = [stamps[spike - 150].strftime(fmt), stamps[spike + 150].strftime(fmt)]
    return path, [window]


def test_load_series_maps_windows_to_rows(tmp_path):
    path, windows = _write_series(tmp_path, "Twitter_volume_TEST.csv", 1)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"realTweets/Twitter_volume_TEST.csv": windows}))
    series = load_series(path, labels)
    assert series.bucket_minutes == 5
    assert series.windows == [(4350, 4650)]


def test_eval_detector_finds_the_spike_and_the_cli_prints_json_last(tmp_path):
    a, wa = _write_series(tmp_path, "A.csv", 2)
    b, wb = _write_series(tmp_path, "B.csv", 3)
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"A.csv": wa, "B.csv": wb}))
    result = eval_detector([a, b], labels, "balanced")
    assert result["windows"] == 2 and result["detected"] == 2
    assert result["nab_standard"] > 50
    assert set(result["optimised"]) == set(PROFILES)

    out = CliRunner().invoke(app, ["eval-detector", "--series", str(a), str(b), "--labels", str(labels)])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert lines[0].startswith("A.csv:") and lines[1].startswith("B.csv:")
    last = json.loads(lines[-1])
    for key in ("nab_standard", "nab_low_fp", "nab_low_fn", "windows", "detected", "false_positives"):
        assert key in last
    assert last["nab_standard"] == pytest.approx(result["nab_standard"])

    bad = CliRunner().invoke(
        app, ["eval-detector", "--series", str(a), "--labels", str(labels), "--sensitivity", "loud"]
    )
    assert bad.exit_code != 0


def test_cli_mounts_into_a_parent_app_and_lists_presets():
    import typer

    from alerts.detector import PRESETS

    root = typer.Typer()

    @root.command()
    def version() -> None:
        typer.echo("0")

    root.add_typer(app)
    out = CliRunner().invoke(root, ["detector-presets"])
    assert out.exit_code == 0
    for name, thresholds in PRESETS.items():
        line = next(x for x in out.output.splitlines() if x.startswith(f"{name}:"))
        assert json.loads(line.split(":", 1)[1])["peak_quantile"] == thresholds.peak_quantile


def test_leave_one_out_chooses_on_the_other_series_only():
    from alerts.nab_scoring import leave_one_out

    def fs(raw: float) -> dict[str, FileScore]:
        one = FileScore(raw=raw, null=-1.0, windows=1, detected=int(raw > 0), false_positives=0)
        return {key: one for key in PROFILES}

    # candidate "a" is perfect on series 0 only, "b" is decent everywhere
    table = {"a": [fs(1.0), fs(-1.0), fs(-1.0)], "b": [fs(0.5), fs(0.5), fs(0.5)]}
    out = leave_one_out(table, [1, 1, 1])
    assert out["chosen"] == ["b", "b", "b"]
    assert out["per_series"] == [75.0, 75.0, 75.0]
    assert out["nab_standard"] == pytest.approx(75.0)
    assert out["all_series_choice"] == "b"
    # the held-out series' own score never decides its choice
    table = {"a": [fs(1.0), fs(1.0), fs(-1.0)], "b": [fs(-1.0), fs(0.5), fs(1.0)]}
    out = leave_one_out(table, [1, 1, 1])
    assert out["chosen"][2] == "a" and out["per_series"][2] == 0.0
