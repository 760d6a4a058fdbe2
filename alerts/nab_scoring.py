"""NAB (Numenta Anomaly Benchmark) scoring, and `eval_detector` on NAB-format series.

The rules follow NAB v1.1 (`nab/sweeper.py`, `nab/runner.py`,
`config/profiles.json`):

* Windows come from the labels file (both ends included).
* The first 15 % of each series, at most 750 rows (15 % of 5000), is the
  probationary period: its rows are neither rewarded nor penalised, and a
  window with no row after it does not count for that file.
* A detection in a window at row i earns ``S(-(right - i + 1) / width) *
  tpWeight / S(-1)``, where ``S(x) = 2 / (1 + exp(5x)) - 1`` (and -1 for
  x >= 3). Only the best (earliest) detection of a window counts; a window
  without one costs ``-fnWeight``.
* Every detection outside the windows costs ``S(|prev_right - i| /
  (prev_width - 1)) * fpWeight`` after a window (smaller right after it) and
  ``-fpWeight`` before the first window.
* Scores are summed over the files and normalised per profile:
  ``100 * (score - null) / (perfect - null)`` with null = the detector that
  never fires and perfect = number of labelled windows * tpWeight.

A detection here is an alert that would go out: the bucket where an episode
opens (`alerts.detector.alert_onsets`). Buckets of an open episode send no
e-mail and are not counted again (NAB itself counts every row above the
threshold; a detector that keeps firing through a spike would be charged a
false positive per row).

NAB series are total counts of one ticker every 5 minutes, without sentiment:
the value is taken as the count under test (the "negatives" array) and the
share test is off (no totals).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from alerts.detector import DetectorParams, alert_onsets, detect
from alerts.episodes import EpisodeSettings
from brandpulse.core.config import AlertSettings, Sensitivity


@dataclass(frozen=True)
class CostMatrix:
    tp: float
    fp: float
    fn: float


#: NAB's published profiles (config/profiles.json), keyed by our output names.
PROFILES: dict[str, CostMatrix] = {
    "nab_standard": CostMatrix(tp=1.0, fp=0.11, fn=1.0),
    "nab_low_fp": CostMatrix(tp=1.0, fp=0.22, fn=1.0),  # reward_low_FP_rate
    "nab_low_fn": CostMatrix(tp=1.0, fp=0.11, fn=2.0),  # reward_low_FN_rate
}
PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class LabelledSeries:
    """One NAB data file with its windows as inclusive row ranges."""

    name: str
    timestamps: list[datetime]
    values: np.ndarray
    windows: list[tuple[int, int]]

    @property
    def bucket_minutes(self) -> int:
        if len(self.timestamps) < 2:
            raise ValueError(f"{self.name}: need at least two rows")
        # the usual step (some NAB series have gaps; rows are taken as consecutive buckets)
        steps = np.diff(np.array(self.timestamps, dtype="datetime64[s]")).astype(float) / 60
        return round(float(np.median(steps)))


@dataclass(frozen=True)
class FileScore:
    """Raw NAB outcome for one file under one profile."""

    raw: float
    null: float
    windows: int  # windows with at least one row after the probationary period
    detected: int
    false_positives: int


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """NAB's S(x): ~1 at the left edge of a window (x=-1), 0 at its right edge,
    towards -1 after it; exactly -1 from x >= 3 on."""
    x = np.asarray(position, dtype=float)
    return np.where(x >= 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0)


def probation_length(rows: int) -> int:
    return int(min(math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000))


def row_weights(rows: int, windows: Sequence[tuple[int, int]], cost: CostMatrix):
    """Per row: the credit (or cost) of a detection there, and the window id
    (-1 outside every window)."""
    weight = np.empty(rows)
    window_of = np.full(rows, -1)
    max_tp = float(scaled_sigmoid(-1.0))
    i = np.arange(rows)
    prev_right, prev_width = None, None
    cursor = 0
    for w, (left, right) in enumerate(sorted(windows)):
        gap = slice(cursor, left)
        weight[gap] = _after_window(i[gap], prev_right, prev_width, cost)
        width = right - left + 1
        inside = slice(left, right + 1)
        weight[inside] = scaled_sigmoid(-(right - i[inside] + 1) / width) * cost.tp / max_tp
        window_of[inside] = w
        prev_right, prev_width, cursor = right, width, right + 1
    tail = slice(cursor, rows)
    weight[tail] = _after_window(i[tail], prev_right, prev_width, cost)
    return weight, window_of


def _after_window(i: np.ndarray, prev_right: int | None, prev_width: int | None, cost):
    if prev_right is None or prev_width is None:
        return np.full(i.shape, -cost.fp)
    return scaled_sigmoid(np.abs(prev_right - i) / max(prev_width - 1, 1)) * cost.fp


def score_file(
    rows: int, windows: Sequence[tuple[int, int]], detections: np.ndarray, cost: CostMatrix
) -> FileScore:
    """NAB score of one file for detections given as row indices."""
    weight, window_of = row_weights(rows, windows, cost)
    probation = probation_length(rows)
    det = np.asarray(detections, dtype=int)
    det = det[det >= probation]
    scorable = sorted({int(w) for w in window_of[probation:] if w >= 0})
    raw, detected = 0.0, 0
    for w in scorable:
        hits = det[window_of[det] == w]
        if hits.size:
            raw += float(weight[hits].max())
            detected += 1
        else:
            raw -= cost.fn
    outside = det[window_of[det] < 0]
    raw += float(weight[outside].sum())
    return FileScore(
        raw=raw,
        null=-cost.fn * len(scorable),
        windows=len(scorable),
        detected=detected,
        false_positives=int(outside.size),
    )


def normalised(scores: Sequence[FileScore], labelled_windows: int, cost: CostMatrix) -> float:
    """100 * (score - null) / (perfect - null) over a corpus of files."""
    raw = sum(s.raw for s in scores)
    null = sum(s.null for s in scores)
    perfect = labelled_windows * cost.tp
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


def load_series(csv_path: Path, labels_path: Path) -> LabelledSeries:
    """Read a NAB `timestamp,value` CSV and its windows from a labels JSON."""
    timestamps: list[datetime] = []
    values: list[float] = []
    with Path(csv_path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            timestamps.append(datetime.fromisoformat(row["timestamp"]))
            values.append(float(row["value"]))
    labels = json.loads(Path(labels_path).read_text(encoding="utf-8"))
    name = Path(csv_path).name
    key = next((k for k in labels if k == name or k.endswith("/" + name)), None)
    if key is None:
        raise ValueError(f"{labels_path}: no windows for {name}")
    index = np.array(timestamps, dtype="datetime64[us]")
    windows = []
    for start, end in labels[key]:
        left = int(np.searchsorted(index, np.datetime64(datetime.fromisoformat(start)), "left"))
        right = int(np.searchsorted(index, np.datetime64(datetime.fromisoformat(end)), "right")) - 1
        if left <= right:
            windows.append((left, right))
    return LabelledSeries(name, timestamps, np.asarray(values), windows)


def evaluate(series: Sequence[LabelledSeries], detections: Sequence[np.ndarray]) -> dict[str, object]:
    """NAB scores of every profile plus window/false-positive counts."""
    labelled = sum(len(s.windows) for s in series)
    out: dict[str, object] = {}
    standard: list[FileScore] = []
    for key, cost in PROFILES.items():
        scores = [
            score_file(len(s.values), s.windows, d, cost) for s, d in zip(series, detections, strict=True)
        ]
        out[key] = round(normalised(scores, labelled, cost), 2)
        if key == "nab_standard":
            standard = scores
    out["windows"] = sum(s.windows for s in standard)
    out["detected"] = sum(s.detected for s in standard)
    out["false_positives"] = sum(s.false_positives for s in standard)
    return out


def best_thresholds(
    series: Sequence[LabelledSeries],
    scores: Sequence[np.ndarray],
    to_detections: Callable[[np.ndarray], np.ndarray],
    candidates: int = 200,
) -> dict[str, dict[str, float]]:
    """NAB's optimiser step: per profile, the single threshold on the anomaly
    scores that maximises the normalised score over the corpus.

    `to_detections` turns a boolean "score >= threshold" array into detection
    indices (here: episode onsets)."""
    labelled = sum(len(s.windows) for s in series)
    pooled = np.concatenate([np.asarray(s) for s in scores])
    pooled = pooled[pooled > 0]
    best = {key: {"threshold": 1.0, "score": 0.0} for key in PROFILES}
    if pooled.size == 0:
        return best
    grid = np.unique(np.quantile(pooled, np.linspace(0.0, 1.0, candidates)))
    for threshold in grid:
        detections = [to_detections(np.asarray(sc) >= threshold) for sc in scores]
        for key, cost in PROFILES.items():
            files = [
                score_file(len(s.values), s.windows, d, cost) for s, d in zip(series, detections, strict=True)
            ]
            value = normalised(files, labelled, cost)
            if value > best[key]["score"]:
                best[key] = {"threshold": round(float(threshold), 4), "score": round(value, 2)}
    return best


def detector_alerts(series: LabelledSeries, sensitivity: Sensitivity):
    """Run the detector on one NAB series (value = count under test, no
    totals). Returns (alert onsets, anomaly scores, episode resolve gap)."""
    onsets, score = run_detector(series, sensitivity)
    return onsets, score, EpisodeSettings().quiet_buckets_needed(series.bucket_minutes)


def eval_detector(
    series: list[Path], labels: Path, sensitivity: Sensitivity = "balanced"
) -> dict[str, object]:
    """Score the detector, thresholds frozen by `sensitivity`, on NAB series.

    Returns the corpus result (the CLI's JSON line) plus `files` (one result
    per series) and `optimised`: what NAB's per-profile threshold optimisation
    on the anomaly score would reach on these same files.
    """
    loaded = [load_series(p, labels) for p in series]
    runs = [detector_alerts(s, sensitivity) for s in loaded]
    onsets = [r[0] for r in runs]
    out = evaluate(loaded, onsets)
    gap = max(r[2] for r in runs)
    out["sensitivity"] = sensitivity
    out["optimised"] = best_thresholds(loaded, [r[1] for r in runs], lambda fired: alert_onsets(fired, gap))
    out["files"] = [{"file": s.name, **evaluate([s], [d])} for s, d in zip(loaded, onsets, strict=True)]
    return out


def run_detector(
    series: LabelledSeries, sensitivity: Sensitivity = "balanced", **overrides: object
) -> tuple[np.ndarray, np.ndarray]:
    """Alert onsets and anomaly scores of the detector on one NAB series, with
    the shipped parameters of `sensitivity` (plus `overrides`, for a search)."""
    settings = AlertSettings(sensitivity=sensitivity)
    params = DetectorParams.from_settings(settings, bucket_minutes=series.bucket_minutes, **overrides)
    result = detect(series.values, None, series.timestamps[0], params)
    gap = EpisodeSettings().quiet_buckets_needed(series.bucket_minutes)
    return alert_onsets(result.fired, gap), result.score


def profile_scores(series: LabelledSeries, detections: np.ndarray) -> dict[str, FileScore]:
    """The file's NAB outcome under every profile."""
    return {
        key: score_file(len(series.values), series.windows, detections, cost)
        for key, cost in PROFILES.items()
    }


def leave_one_out(
    table: dict[str, list[dict[str, FileScore]]], labelled: Sequence[int], profile: str = "nab_standard"
) -> dict[str, object]:
    """Leave-one-series-out selection: for each series i, the candidate with the
    best `profile` score on the other series, and i's score under it.

    `table[candidate][i]` holds series i's FileScores (per profile) under that
    candidate; `labelled[i]` its number of labelled windows. Ties go to the
    candidate listed first. Returns the chosen candidate and held-out score per
    series, and every profile's NAB aggregate over the held-out scores."""
    if not table:
        raise ValueError("no candidates")
    names = list(table)
    count = len(labelled)
    cost = PROFILES[profile]

    def corpus(candidate: str, rows: Sequence[int]) -> float:
        return normalised([table[candidate][j][profile] for j in rows], sum(labelled[j] for j in rows), cost)

    chosen: list[str] = []
    for i in range(count):
        others = [j for j in range(count) if j != i]
        best = names[0]
        for name in names[1:]:
            if corpus(name, others) > corpus(best, others):
                best = name
        chosen.append(best)
    held = [table[c][i] for i, c in enumerate(chosen)]
    out: dict[str, object] = {
        key: round(normalised([h[key] for h in held], sum(labelled), c), 2) for key, c in PROFILES.items()
    }
    out["chosen"] = chosen
    out["per_series"] = [round(normalised([h[profile]], labelled[i], cost), 2) for i, h in enumerate(held)]
    out["detected"] = sum(h[profile].detected for h in held)
    out["windows"] = sum(h[profile].windows for h in held)
    out["false_positives"] = sum(h[profile].false_positives for h in held)
    out["all_series_choice"] = max(names, key=lambda n: (corpus(n, range(count)), -names.index(n)))
    return out
