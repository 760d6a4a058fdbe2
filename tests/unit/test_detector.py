"""The spike detector: guards, seasonality, robustness, causality, presets, speed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pytest

from alerts.detector import PRESETS, DetectorParams, alert_onsets, detect
from brandpulse.core.config import AlertSettings

START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
PER_DAY = 96  # 15-minute buckets


def seasonal_series(days: int, mean: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Negatives and totals with a daily cycle and a weekend dip."""
    rng = np.random.default_rng(seed)
    t = np.arange(days * PER_DAY)
    hour = (t % PER_DAY) / 4
    weekend = ((t // PER_DAY) % 7) >= 5
    rate = mean * np.exp(0.8 * np.sin(2 * np.pi * (hour - 9) / 24)) * np.where(weekend, 0.6, 1.0)
    totals = rng.poisson(rate * 6)
    negatives = rng.binomial(totals, 1 / 6)
    return negatives, totals


def test_zero_series_and_single_posts_never_fire():
    zeros = np.zeros(20 * PER_DAY, dtype=int)
    assert not detect(zeros, zeros, START, DetectorParams()).fired.any()

    lonely = zeros.copy()
    lonely[15 * PER_DAY + 40] = 1  # one post after two silent weeks
    result = detect(lonely, lonely, START, DetectorParams(min_negative=1))
    assert not result.fired.any()


def test_min_negative_guard_blocks_small_bursts_only():
    zeros = np.zeros(20 * PER_DAY, dtype=int)
    small = zeros.copy()
    small[15 * PER_DAY + 40] = 4
    big = zeros.copy()
    big[15 * PER_DAY + 40] = 30
    params = DetectorParams(min_negative=5)
    assert not detect(small, None, START, params).fired.any()
    fired = detect(big, None, START, params).fired
    assert fired[15 * PER_DAY + 40]
    result = detect(small, None, START, params)
    assert "below the minimum" in result.reason(15 * PER_DAY + 40)


def test_quiet_series_rarely_fires():
    negatives, totals = seasonal_series(42, mean=3.0, seed=1)
    result = detect(negatives, totals, START, DetectorParams())
    onsets = alert_onsets(result.fired[28 * PER_DAY :], 4)
    assert len(onsets) <= 2  # two weeks of normal traffic: at most ~1 alert a week


def test_injected_spike_fires_within_two_buckets():
    negatives, totals = seasonal_series(35, mean=3.0, seed=2)
    onset = 30 * PER_DAY + 50
    extra = np.zeros_like(negatives)
    extra[onset : onset + 8] = 20
    result = detect(negatives + extra, totals + extra, START, DetectorParams())
    assert not result.fired[onset - 8 : onset].any()
    hits = np.flatnonzero(result.fired[onset : onset + 8])
    assert hits.size and hits[0] <= 2
    assert "negative mentions" in result.reason(onset + int(hits[0]))
    assert result.score[onset + int(hits[0])] >= 0.5


def test_baseline_follows_hour_of_day_and_weekend():
    negatives, totals = seasonal_series(35, mean=5.0, seed=3)
    result = detect(negatives, totals, START, DetectorParams())
    day = 30  # a Saturday? 30 % 7 == 2 -> Wednesday
    peak = day * PER_DAY + 15 * 4  # 15:00, near the daily maximum
    trough = day * PER_DAY + 3 * 4  # 03:00, near the minimum
    assert result.expected[peak] > 3 * result.expected[trough]
    saturday = (33 * PER_DAY) + 15 * 4
    assert result.expected[saturday] < 0.85 * result.expected[peak]


def test_past_spike_does_not_inflate_the_baseline():
    negatives, totals = seasonal_series(35, mean=3.0, seed=4)
    spiky = negatives.copy()
    spiky_totals = totals.copy()
    spike = 21 * PER_DAY + 60
    spiky[spike : spike + 8] += 200
    spiky_totals[spike : spike + 8] += 200
    clean = detect(negatives, totals, START, DetectorParams())
    dirty = detect(spiky, spiky_totals, START, DetectorParams())
    week_later = spike + 7 * PER_DAY
    ratio = dirty.expected[week_later : week_later + 8] / clean.expected[week_later : week_later + 8]
    assert ratio.max() < 1.3


def test_detector_is_causal():
    negatives, totals = seasonal_series(30, mean=3.0, seed=5)
    negatives[25 * PER_DAY + 10 : 25 * PER_DAY + 14] += 25
    totals[25 * PER_DAY + 10 : 25 * PER_DAY + 14] += 25
    full = detect(negatives, totals, START, DetectorParams())
    for t in (5 * PER_DAY, 25 * PER_DAY + 11, 29 * PER_DAY + 3):
        cut = detect(negatives[: t + 1], totals[: t + 1], START, DetectorParams())
        assert cut.fired[-1] == full.fired[t]
        assert cut.expected[-1] == pytest.approx(full.expected[t])
        assert cut.score[-1] == pytest.approx(full.score[t])


def test_share_test_fires_when_the_share_jumps_without_a_volume_jump():
    rng = np.random.default_rng(6)
    n_days = 30
    totals = rng.poisson(60, n_days * PER_DAY)
    negatives = rng.binomial(totals, 0.1)
    onset = 28 * PER_DAY
    span = slice(onset, onset + 8)
    negatives[span] = 10  # 1.7x the usual ~6: too little for the count test
    totals[span] = 24  # while the rest of the chatter dries up: share 10% -> 42%
    params = DetectorParams(thresholds=PRESETS["balanced"])
    result = detect(negatives, totals, START, params)
    assert not result.fired[onset - 8 : onset].any()
    hit = int(np.flatnonzero(result.fired[onset:])[0]) + onset
    assert hit - onset < params.horizon  # within the test horizon (one hour)
    assert result.p_share[hit] < params.thresholds.p_share
    assert result.excess[hit] < result.bar[hit]  # the count test alone would not fire
    assert "negative share" in result.reason(hit)
    count_only = detect(negatives, None, START, params)
    assert not count_only.fired[span].any()


def test_presets_order_sensitivity_and_come_from_the_config():
    negatives, totals = seasonal_series(35, mean=3.0, seed=7)
    onset = 31 * PER_DAY + 40
    negatives[onset : onset + 4] += 6
    totals[onset : onset + 4] += 6
    counts = {}
    for name in ("fewer", "balanced", "more"):
        params = DetectorParams.from_settings(AlertSettings(sensitivity=name))
        assert params.thresholds is PRESETS[name]
        counts[name] = int(detect(negatives, totals, START, params).fired.sum())
    assert counts["fewer"] <= counts["balanced"] <= counts["more"]
    assert counts["more"] > counts["fewer"]

    settings = AlertSettings(bucket_minutes=5, min_negative=9)
    params = DetectorParams.from_settings(settings)
    assert (params.bucket_minutes, params.min_negative) == (5, 9)


def test_results_are_json_ready_and_consistent():
    negatives, totals = seasonal_series(20, mean=3.0, seed=8)
    result = detect(negatives, totals, START, DetectorParams())
    rows = result.results()
    assert len(rows) == len(negatives)
    assert rows[0].expected is None and "warming up" in rows[0].reason
    late = rows[-1]
    assert late.end > late.start and late.expected is not None
    assert late.lower <= late.expected <= late.upper
    assert 0.0 <= late.score <= 1.0
    assert late.model_dump_json()


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        detect([1, -1, 2], None, START, DetectorParams())
    with pytest.raises(ValueError):
        detect([3, 3], [1, 5], START, DetectorParams())
    with pytest.raises(ValueError):
        DetectorParams(bucket_minutes=7)


def test_sixteen_thousand_buckets_in_well_under_two_seconds():
    rng = np.random.default_rng(9)
    totals = rng.poisson(40, 16_000)
    negatives = rng.binomial(totals, 0.15)
    params = DetectorParams(bucket_minutes=5)
    detect(negatives[:500], totals[:500], START, params)  # warm imports
    began = time.process_time()  # CPU time: robust to a busy shared machine
    detect(negatives, totals, START, params)
    assert time.process_time() - began < 2.0


def test_alert_onsets_merge_gaps_up_to_the_resolve_gap():
    fired = np.zeros(30, dtype=bool)
    fired[[2, 3, 6, 12, 13, 20]] = True
    assert alert_onsets(fired, 3).tolist() == [2, 12, 20]
    assert alert_onsets(fired, 6).tolist() == [2, 20]
    assert alert_onsets(np.zeros(5, dtype=bool), 3).size == 0


def test_a_sustained_incident_keeps_firing_and_does_not_feed_the_baseline():
    """One incident, one episode: an 8-hour incident at 10x the usual negatives
    fires for its whole duration, and neither the expected count nor the
    expected share drifts towards the incident while it lasts."""
    negatives, totals = seasonal_series(35, mean=3.0, seed=11)
    onset, length = 30 * PER_DAY + 9 * 4, 8 * 4  # 09:00, 8 hours of 15-min buckets
    clean = detect(negatives, totals, START, DetectorParams())
    span = slice(onset, onset + length)
    extra = np.zeros_like(negatives)
    extra[span] = np.random.default_rng(1).poisson(9 * clean.expected[span])
    result = detect(negatives + extra, totals + extra, START, DetectorParams())
    assert result.fired[span].all()
    assert alert_onsets(result.fired[onset - PER_DAY : onset + length + 8], 12).size == 1
    drift = result.expected[span] / clean.expected[span]
    assert drift.max() < 1.3  # the expected value stays near the pre-incident level
    share_before = result.expected_share[onset - 1]
    assert np.all(np.abs(result.expected_share[span] - share_before) < 0.05)
    rows = [result.result(i) for i in (onset, onset + length - 1)]
    assert all(r.held and "count" in r.fired_on for r in rows)


def test_without_the_hold_the_baseline_would_absorb_the_incident():
    negatives, totals = seasonal_series(35, mean=3.0, seed=11)
    onset, length = 30 * PER_DAY + 9 * 4, 8 * 4
    clean = detect(negatives, totals, START, DetectorParams())
    span = slice(onset, onset + length)
    extra = np.zeros_like(negatives)
    extra[span] = np.random.default_rng(1).poisson(9 * clean.expected[span])
    no_hold = detect(negatives + extra, totals + extra, START, DetectorParams(max_hold_hours=0))
    assert (no_hold.expected[span] / clean.expected[span]).max() > 1.5


def test_fired_on_names_the_test_that_fired():
    rng = np.random.default_rng(6)
    totals = rng.poisson(60, 30 * PER_DAY)
    negatives = rng.binomial(totals, 0.1)
    onset = 28 * PER_DAY
    negatives[onset : onset + 8] = 10
    totals[onset : onset + 8] = 24
    result = detect(negatives, totals, START, DetectorParams())
    hit = int(np.flatnonzero(result.fired[onset:])[0]) + onset
    assert result.result(hit).fired_on == ["share"]
    assert result.result(onset - 10).fired_on == []


def test_a_year_of_five_minute_buckets_is_judged_quickly():
    rng = np.random.default_rng(10)
    totals = rng.poisson(40, 365 * 288)
    negatives = rng.binomial(totals, 0.15)
    params = DetectorParams(bucket_minutes=5)
    began = time.process_time()  # CPU time: robust to a busy shared machine
    detect(negatives, totals, START, params)
    assert time.process_time() - began < 2.0  # ~0.5 s on one core; generous for CI


def test_the_hold_is_causal_across_midnight():
    """Held buckets change the baseline: a verdict must still not depend on
    later buckets, also for an incident that runs over midnight."""
    negatives, totals = seasonal_series(28, mean=3.0, seed=12)
    rng = np.random.default_rng(3)
    onset, length = 26 * PER_DAY - 20, 60
    extra = rng.poisson(20, length)
    negatives[onset : onset + length] += extra
    totals[onset : onset + length] += extra
    full = detect(negatives, totals, START, DetectorParams())
    assert full.held[onset + length - 1]
    for t in (onset - 1, onset + 1, onset + 19, onset + 21, onset + 45, onset + length + 2):
        cut = detect(negatives[: t + 1], totals[: t + 1], START, DetectorParams())
        assert cut.fired[-1] == full.fired[t]
        assert cut.held[-1] == full.held[t]
        assert cut.expected[-1] == pytest.approx(full.expected[t])
        assert cut.score[-1] == pytest.approx(full.score[t])
        assert cut.p_share[-1] == pytest.approx(full.p_share[t])
