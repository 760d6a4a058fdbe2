"""Benchmark: the spike detector against an ElastAlert2-style spike rule.

Two parts, one run, both detectors scored the same way:

1. NAB: the five dev series (realTweets, 5-minute counts) with NAB's scoring
   (alerts/nab_scoring.py). Our detector with thresholds frozen by the preset
   (and what NAB's per-profile threshold optimisation would reach), the
   baseline with its fixed rule.
2. Synthetic incidents: negative/total counts in 15-minute buckets with daily
   and weekly seasonality, slow level drift and overdispersion (gamma-Poisson
   totals, beta-binomial negative share), for four brand sizes. Negative
   incidents (3x/5x/10x the usual negative volume for 1-6 hours, step or
   one-hour ramp) are injected after four weeks of history. Reported:
   detection rate, median delay from onset (buckets, minutes), and false
   alerts per brand-week on incident-free series.

An alert is an episode opening (an open episode sends nothing more); the
baseline's alerts are its matches (it waits two timeframes after each).

Run: ``nice -n 10 .venv/bin/python benchmarks/detector_benchmark.py``
(``--data`` points at the NAB folder; default ../shared/data/nab-tweets).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.detector import PRESETS, DetectorParams, alert_onsets, detect
from alerts.episodes import EpisodeSettings
from alerts.nab_scoring import (
    best_thresholds,
    detector_alerts,
    evaluate,
    load_series,
)
from brandpulse.config import AlertSettings

BUCKET_MINUTES = 15
HISTORY_DAYS = 28
SIZES = {"small": 8.0, "medium": 40.0, "large": 200.0, "xlarge": 1000.0}  # mentions/bucket
NEGATIVE_SHARE = 0.15
MAGNITUDES = (3.0, 5.0, 10.0)
DURATIONS_H = (1, 3, 6)
START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class SpikeRule:
    """ElastAlert2's SpikeRule on bucket counts: the count of the last
    `timeframe` (current window) against the `timeframe` before it (reference
    window); a match needs cur >= ref * spike_height, cur >= threshold_cur and
    ref >= threshold_ref; after a match both windows are cleared, so the next
    check comes two timeframes later (as ElastAlert's clear_windows does)."""

    timeframe_minutes: int = 60
    spike_height: float = 3.0
    threshold_cur: int = 5
    threshold_ref: int = 2

    def alerts(self, counts: np.ndarray, bucket_minutes: int) -> np.ndarray:
        w = max(1, self.timeframe_minutes // bucket_minutes)
        c = np.concatenate([[0.0], np.cumsum(counts)])
        t = np.arange(len(counts))
        cur = c[t + 1] - c[np.maximum(t + 1 - w, 0)]
        ref = c[np.maximum(t + 1 - w, 0)] - c[np.maximum(t + 1 - 2 * w, 0)]
        match = (
            (t >= 2 * w - 1)
            & (cur >= self.threshold_cur)
            & (ref >= self.threshold_ref)
            & (cur >= ref * self.spike_height)
        )
        out, next_check = [], 0
        for i in np.flatnonzero(match):
            if i >= next_check:
                out.append(i)
                next_check = i + 2 * w
        return np.asarray(out, dtype=int)


# -- synthetic series ---------------------------------------------------------------


def seasonal_rate(days: int, mean: float, rng: np.random.Generator) -> np.ndarray:
    """Expected mentions per bucket: daily cycle, weekend dip, slow drift."""
    per_day = 1440 // BUCKET_MINUTES
    t = np.arange(days * per_day)
    hour = (t % per_day) * BUCKET_MINUTES / 60
    weekday = (t // per_day + START.weekday()) % 7
    phase = rng.uniform(-2, 2)
    daily = np.exp(
        0.7 * np.sin(2 * np.pi * (hour - 9 - phase) / 24)
        + 0.2 * np.sin(4 * np.pi * (hour - 9 - phase) / 24)
    )
    weekly = np.where(weekday >= 5, rng.uniform(0.55, 0.85), 1.0)
    drift = np.cumsum(rng.normal(0, 0.004, t.size))
    drift -= np.linspace(0, drift[-1], t.size) * 0.5  # keep it from wandering far
    rate = daily * weekly * np.exp(drift)
    return mean * rate / rate.mean()


def sample_counts(
    rate: np.ndarray, extra_negative: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Overdispersed totals and negatives (plus injected extra negatives)."""
    alpha = 0.15
    totals = rng.poisson(rng.gamma(1 / alpha, alpha * rate))
    kappa = 200.0
    share = rng.beta(NEGATIVE_SHARE * kappa, (1 - NEGATIVE_SHARE) * kappa, rate.size)
    negatives = rng.binomial(totals, share)
    extra = rng.poisson(extra_negative)
    return negatives + extra, totals + extra


@dataclass(frozen=True)
class Incident:
    size: str
    magnitude: float
    hours: int
    shape: str
    onset: int
    negatives: np.ndarray
    totals: np.ndarray


def make_incidents(seeds: int) -> list[Incident]:
    per_day = 1440 // BUCKET_MINUTES
    out = []
    rng = np.random.default_rng(20250106)
    for size, mean in SIZES.items():
        for magnitude in MAGNITUDES:
            for hours in DURATIONS_H:
                for shape in ("step", "ramp"):
                    for _ in range(seeds):
                        days = HISTORY_DAYS + 7
                        rate = seasonal_rate(days, mean, rng)
                        onset = int(rng.integers(HISTORY_DAYS * per_day, (days - 1) * per_day))
                        length = hours * 60 // BUCKET_MINUTES
                        profile = np.ones(length)
                        if shape == "ramp":
                            ramp = min(length, 60 // BUCKET_MINUTES)
                            profile[:ramp] = np.arange(1, ramp + 1) / ramp
                        extra = np.zeros(rate.size)
                        span = slice(onset, onset + length)
                        extra[span] = (magnitude - 1) * NEGATIVE_SHARE * rate[span] * profile
                        negatives, totals = sample_counts(rate, extra, rng)
                        out.append(
                            Incident(size, magnitude, hours, shape, onset, negatives, totals)
                        )
    return out


def make_quiet(per_size: int, days: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    out = []
    for size, mean in SIZES.items():
        for _ in range(per_size):
            rate = seasonal_rate(days, mean, rng)
            negatives, totals = sample_counts(rate, np.zeros(rate.size), rng)
            out.append((size, negatives, totals))
    return out


# -- scoring ------------------------------------------------------------------------


def our_alerts(negatives: np.ndarray, totals: np.ndarray, sensitivity: str) -> np.ndarray:
    params = DetectorParams.from_settings(AlertSettings(sensitivity=sensitivity))
    result = detect(negatives, totals, START, params)
    gap = EpisodeSettings().resolve_after_buckets(BUCKET_MINUTES)
    return alert_onsets(result.fired, gap)


def score_incidents(incidents: list[Incident], alerts_of) -> dict[str, object]:
    """Detection rate and delay; an alert counts from onset to 1 h after the end."""
    delays, by_key = [], {}
    grace = 60 // BUCKET_MINUTES
    for inc in incidents:
        alerts = alerts_of(inc.negatives, inc.totals)
        end = inc.onset + inc.hours * 60 // BUCKET_MINUTES + grace
        hits = alerts[(alerts >= inc.onset) & (alerts < end)]
        found = hits.size > 0
        if found:
            delays.append(int(hits[0] - inc.onset))
        for key in (f"size={inc.size}", f"x{inc.magnitude:g}", f"{inc.shape}"):
            got = by_key.setdefault(key, [0, 0])
            got[0] += int(found)
            got[1] += 1
    median = float(np.median(delays)) if delays else float("nan")
    return {
        "incidents": len(incidents),
        "detection_rate": round(len(delays) / len(incidents), 3),
        "median_delay_buckets": median,
        "median_delay_minutes": (median + 1) * BUCKET_MINUTES,  # alert when the bucket closes
        "p90_delay_buckets": float(np.percentile(delays, 90)) if delays else float("nan"),
        "rate_by": {k: round(v[0] / v[1], 3) for k, v in sorted(by_key.items())},
    }


def score_quiet(quiet, alerts_of, eval_days: int) -> dict[str, object]:
    per_day = 1440 // BUCKET_MINUTES
    first = HISTORY_DAYS * per_day
    counts = {}
    for size, negatives, totals in quiet:
        alerts = alerts_of(negatives, totals)
        counts.setdefault(size, []).append(int(np.sum(alerts >= first)))
    weeks = eval_days / 7
    total = sum(sum(v) for v in counts.values())
    brand_weeks = sum(len(v) for v in counts.values()) * weeks
    return {
        "brand_weeks": brand_weeks,
        "false_alerts_per_brand_week": round(total / brand_weeks, 3),
        "by_size": {k: round(sum(v) / (len(v) * weeks), 3) for k, v in counts.items()},
    }


def nab_part(data: Path, rule: SpikeRule, sensitivity: str) -> dict[str, object]:
    files = sorted(data.glob("Twitter_volume_*.csv"))
    series = [load_series(f, data / "labels.json") for f in files]
    runs = [detector_alerts(s, sensitivity) for s in series]  # type: ignore[arg-type]
    ours = evaluate(series, [r[0] for r in runs])
    gap = max(r[2] for r in runs)
    ours["optimised"] = best_thresholds(
        series, [r[1] for r in runs], lambda fired: alert_onsets(fired, gap)
    )
    base = evaluate(series, [rule.alerts(s.values, s.bucket_minutes) for s in series])
    return {"detector": ours, "baseline": base, "files": [s.name for s in series]}


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=here.parent / "shared/data/nab-tweets")
    ap.add_argument("--sensitivity", default="balanced", choices=list(PRESETS))
    ap.add_argument("--seeds", type=int, default=3, help="incidents per cell")
    ap.add_argument("--quiet-per-size", type=int, default=15)
    args = ap.parse_args()

    rule = SpikeRule()
    started = time.perf_counter()
    report: dict[str, object] = {
        "sensitivity": args.sensitivity,
        "baseline_rule": rule.__dict__,
    }
    if args.data.is_dir():
        report["nab"] = nab_part(args.data, rule, args.sensitivity)
    else:
        print(f"NAB data not found at {args.data}: NAB part skipped", file=sys.stderr)

    incidents = make_incidents(args.seeds)
    eval_days = 14
    quiet = make_quiet(args.quiet_per_size, HISTORY_DAYS + eval_days)

    def ours(neg, tot):
        return our_alerts(neg, tot, args.sensitivity)

    def baseline(neg, _tot):
        return rule.alerts(neg, BUCKET_MINUTES)

    report["synthetic"] = {
        "bucket_minutes": BUCKET_MINUTES,
        "detector": {
            **score_incidents(incidents, ours),
            **score_quiet(quiet, ours, eval_days),
        },
        "baseline": {
            **score_incidents(incidents, baseline),
            **score_quiet(quiet, baseline, eval_days),
        },
    }
    report["seconds"] = round(time.perf_counter() - started, 1)
    _print_summary(report)
    print(json.dumps(report))


def _print_summary(report: dict) -> None:
    nab = report.get("nab")
    if nab:
        for who in ("detector", "baseline"):
            r = nab[who]
            print(
                f"NAB dev ({len(nab['files'])} series) {who:9s}: standard={r['nab_standard']:.2f} "
                f"low_fp={r['nab_low_fp']:.2f} low_fn={r['nab_low_fn']:.2f} "
                f"windows={r['windows']} detected={r['detected']} fp={r['false_positives']}"
            )
        opt = nab["detector"]["optimised"]
        print(
            "NAB dev detector, NAB-optimised thresholds: "
            + " ".join(f"{k}={v['score']:.2f}@{v['threshold']}" for k, v in opt.items())
        )
    syn = report["synthetic"]
    for who in ("detector", "baseline"):
        r = syn[who]
        print(
            f"synthetic {who:9s}: detection={r['detection_rate']:.1%} of {r['incidents']} "
            f"median delay={r['median_delay_buckets']:.1f} buckets "
            f"({r['median_delay_minutes']:.0f} min) p90={r['p90_delay_buckets']:.1f} "
            f"false alerts/brand-week={r['false_alerts_per_brand_week']:.3f} "
            f"({r['brand_weeks']:.0f} brand-weeks)"
        )
        print(f"    by: {r['rate_by']}  false by size: {r['by_size']}")


if __name__ == "__main__":
    main()
