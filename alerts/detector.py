"""Negative-spike detector: pure, causal functions over per-bucket counts.

Input per brand: `negatives[t]` (negative mentions in bucket t) and optionally
`totals[t]` (all mentions), for regular buckets starting at `start`. Nothing
here knows about Elasticsearch; the caller builds the arrays with a
date_histogram (``min_doc_count: 0`` and ``extended_bounds`` so that empty
buckets are zeros, not gaps).

Every bucket is judged from earlier buckets only, so running the detector on a
long history gives the same answer for bucket t as running it live at t. The
pass goes day by day (UTC days); within a day everything is vectorised.

1. **Seasonal baseline** (expected count per bucket, for negatives and for
   totals alike). The profile of a day is the 20 %-trimmed mean, per
   time-of-day slot, of the same slot and its +-15 min neighbours on the last
   10 weekdays (or 4 weekend days, for a Saturday or Sunday) of cleaned counts.
   Cleaned counts are capped at the 99.9 % negative-binomial quantile of twice
   the profile (past spikes winsorised). A recent-level factor (last 3 h
   actual vs profile, clipped to [1/2, 2]) follows growth and decline. Without
   a profile, the mean of the last 6 h stands in; without any history, the
   bucket is not judged.
2. **Anomalies hold the baseline.** From a fired bucket on, while the horizon
   stays at `hold_ratio` (1.5) x expected or more, for at most
   `max_hold_hours` (24 h, after which a new level is learnt), plus one
   horizon after it, buckets are *held*: in the cleaned counts (negatives and
   totals, so the expected share too) they are replaced by the expected value,
   and in the recent-level factor they count as the profile. So an incident
   keeps firing for as long as it lasts and is not learnt as the new normal,
   and the days after it do not learn it either. (Within a day the hold is
   found by a second causal pass; the first pass sees this day unheld.)
3. **Count test** over the horizon (30 min, at least 4 buckets): the excess
   ``log((n_h + k) / (mu_h + k))`` (k = buckets in the horizon) must reach
   `min_ratio`, the negative-binomial tail P(X >= n_h) must be below
   `p_count` (overdispersion by moments over the last week), and the excess
   must beat the `peak_quantile` of this brand's own daily peak excess over
   the last `calibration_days` days (as seen before holding): bursty brands
   need bigger bursts.
4. **Share test**: beta-binomial tail of negatives among all mentions against
   the expected share, on the bucket and on the horizon (binomial tail at the
   beta-binomial's effective sample size).
5. **Guards**: nothing fires below `min_negative` negatives in the horizon, on
   an empty bucket, or without history (so 0 vs 0 and a single post never fire).

The anomaly score in [0, 1] is ``0.5 * excess / bar`` (0.5 = exactly at the
bar; capped below 0.5 while the tail probability is not small enough); a share
alarm lifts it to at least 0.5. `fired_on` names the test(s) that fired. The
sensitivity presets (`PRESETS`) are the only place where thresholds live;
`AlertSettings.sensitivity` selects one. How the shipped setting was chosen
(leave-one-series-out on NAB): alerts/README.md and
benchmarks/detector_benchmark.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import special

from brandpulse.core.config import AlertSettings, Sensitivity


@dataclass(frozen=True)
class Thresholds:
    """When a bucket fires: one row of the preset table."""

    peak_quantile: float  # the last hour's excess must beat this quantile of the
    #                       brand's daily peak excess over the calibration days ...
    min_ratio: float  # ... the hour must bring at least this many times the expected ...
    p_count: float  # ... and the negative-binomial tail P(X >= n) must be below this
    p_share: float  # share test: tail probability below this ...
    min_share_lift: float  # ... and the share above the expected share by this much


#: Sensitivity preset -> thresholds: the one table the brands config
#: (`AlertSettings.sensitivity`) selects from. The values predate the
#: leave-one-series-out protocol; which preset (and horizon) is shipped is
#: chosen by it (benchmarks/detector_benchmark.py, alerts/README.md).
PRESETS: dict[Sensitivity, Thresholds] = {
    "fewer": Thresholds(peak_quantile=1.0, min_ratio=3.0, p_count=1e-6, p_share=1e-6, min_share_lift=0.25),
    "balanced": Thresholds(peak_quantile=0.9, min_ratio=2.0, p_count=1e-4, p_share=1e-4, min_share_lift=0.15),
    "more": Thresholds(peak_quantile=0.75, min_ratio=1.5, p_count=1e-3, p_share=1e-3, min_share_lift=0.10),
}


@dataclass(frozen=True)
class DetectorParams:
    """Everything the detector needs besides the counts."""

    bucket_minutes: int = 15
    min_negative: int = 5
    thresholds: Thresholds = PRESETS["balanced"]
    horizon_minutes: int = 30  # the tests look at the sum over the last half hour ...
    min_horizon_buckets: int = 4  # ... but over 4 buckets at least (1 h of 15-min buckets)
    calibration_days: int = 28  # daily peaks of the excess kept for the bar
    min_total_for_share: int = 10
    history_days: int = 14  # the profile: the last 10 weekdays / 4 weekend days
    neighbour_minutes: int = 15
    level_hours: float = 3.0  # the recent-level factor looks at the last 3 h ...
    min_level_buckets: int = 24  # ... but at 24 buckets at least (6 h of 15-min buckets)
    fallback_hours: float = 6.0
    dispersion_days: float = 7.0
    min_dispersion: float = 0.02
    share_concentration: float = 50.0
    trim: float = 0.2
    band_quantile: float = 0.01  # the chart's normal range: 1st-99th percentile
    hold_ratio: float = 1.5  # an anomaly holds the baseline while the horizon is >= this x expected
    max_hold_hours: float = 24.0  # ... for at most this long (then a new level is learnt)

    def __post_init__(self) -> None:
        if self.bucket_minutes <= 0 or 1440 % self.bucket_minutes:
            raise ValueError("bucket_minutes must divide a day (1440 minutes)")
        if self.min_negative < 1:
            raise ValueError("min_negative must be at least 1")

    @classmethod
    def from_settings(cls, settings: AlertSettings, **overrides: object) -> DetectorParams:
        """Parameters for one brand's `alerts:` block of the brands config."""
        values: dict[str, object] = {
            "bucket_minutes": settings.bucket_minutes,
            "min_negative": settings.min_negative,
            "thresholds": PRESETS[settings.sensitivity],
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def per_day(self) -> int:
        return 1440 // self.bucket_minutes

    @property
    def horizon(self) -> int:
        """Buckets summed by the tests (at least one)."""
        return max(1, self.min_horizon_buckets, self.horizon_minutes // self.bucket_minutes)

    @property
    def level_window(self) -> int:
        """Buckets the recent-level factor looks at (fewer would make it noisy)."""
        return max(self.buckets(self.level_hours), self.min_level_buckets)

    def buckets(self, hours: float) -> int:
        return max(1, round(hours * 60 / self.bucket_minutes))


class BucketResult(BaseModel):
    """The verdict on one bucket (JSON-serialisable; input to episodes).

    `negatives`/`expected`/`lower`/`upper` are about the bucket itself (the
    chart); `window_*` are the sums over the test horizon ending with it.
    """

    start: datetime
    end: datetime
    negatives: int
    total: int | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    window_negatives: int = 0
    window_expected: float | None = None
    share: float | None = None
    expected_share: float | None = None
    p_count: float = 1.0
    p_share: float = 1.0
    score: float = 0.0
    fired: bool = False
    fired_on: list[Literal["count", "share"]] = Field(default_factory=list)  # which tests fired
    held: bool = False  # the baseline is held at its pre-anomaly level (ongoing anomaly)
    reason: str = ""

    @property
    def severity(self) -> float:
        """Negatives over the horizon as a multiple of the expected number."""
        if not self.window_expected:
            return float(self.window_negatives)
        return self.window_negatives / self.window_expected


@dataclass(frozen=True)
class Detection:
    """Per-bucket arrays produced by `detect` (all of the same length)."""

    start: datetime
    params: DetectorParams
    negatives: np.ndarray
    totals: np.ndarray | None
    expected: np.ndarray  # per bucket, NaN while there is no history
    lower: np.ndarray
    upper: np.ndarray
    window_negatives: np.ndarray
    window_expected: np.ndarray
    excess: np.ndarray  # log((window_negatives + k) / (window_expected + k))
    bar: np.ndarray  # the excess needed to fire
    expected_share: np.ndarray
    p_count: np.ndarray
    p_share: np.ndarray
    score: np.ndarray
    fired: np.ndarray
    guard: np.ndarray = field(repr=False)  # 0 ok, 1 warming up, 2 below min_negative
    count_fired: np.ndarray | None = field(default=None, repr=False)
    share_fired: np.ndarray | None = field(default=None, repr=False)
    held: np.ndarray | None = field(default=None, repr=False)  # baseline held (anomaly)
    window_totals: np.ndarray | None = field(default=None, repr=False)

    def fired_on(self, i: int) -> list[Literal["count", "share"]]:
        """Which tests fired on bucket i: "count", "share", both or none."""
        out: list[Literal["count", "share"]] = []
        if self.count_fired is not None and self.count_fired[i]:
            out.append("count")
        if self.share_fired is not None and self.share_fired[i]:
            out.append("share")
        return out

    def __len__(self) -> int:
        return len(self.negatives)

    def bucket_start(self, i: int) -> datetime:
        return self.start + timedelta(minutes=i * self.params.bucket_minutes)

    def reason(self, i: int) -> str:
        """One readable line on why bucket i fired (or why it could not)."""
        p, t = self.params, self.params.thresholds
        n, mu = int(self.window_negatives[i]), self.window_expected[i]
        span = f"{p.horizon * p.bucket_minutes} min"
        if self.guard[i] == 1:
            return "warming up: no history for a baseline yet"
        if self.guard[i] == 2:
            return f"{n} negative mentions in {span}: below the minimum of {p.min_negative}"
        parts = []
        if self.count_fired is not None and self.count_fired[i]:
            parts.append(
                f"{n} negative mentions in {span} vs {mu:.1f} expected "
                f"({n / max(mu, 1e-9):.1f}x, p={self.p_count[i]:.1e})"
            )
        if self.totals is not None and self.p_share[i] < t.p_share:
            total = int(self.window_totals[i]) if self.window_totals is not None else 0
            parts.append(
                f"negative share {n / max(total, 1):.0%} vs {self.expected_share[i]:.0%} "
                f"expected (p={self.p_share[i]:.1e})"
            )
        if not parts:
            return "within the expected range"
        return "; ".join(parts)

    def results(self) -> list[BucketResult]:
        """Every bucket as a `BucketResult`."""
        return [self.result(i) for i in range(len(self))]

    def result(self, i: int) -> BucketResult:
        start = self.bucket_start(i)
        total = None if self.totals is None else int(self.totals[i])
        known = bool(np.isfinite(self.expected[i]))
        share_known = bool(np.isfinite(self.expected_share[i]))
        return BucketResult(
            start=start,
            end=start + timedelta(minutes=self.params.bucket_minutes),
            negatives=int(self.negatives[i]),
            total=total,
            expected=float(self.expected[i]) if known else None,
            lower=float(self.lower[i]) if known else None,
            upper=float(self.upper[i]) if known else None,
            window_negatives=int(self.window_negatives[i]),
            window_expected=float(self.window_expected[i]) if known else None,
            share=(int(self.negatives[i]) / total) if total else None,
            expected_share=float(self.expected_share[i]) if share_known else None,
            p_count=float(self.p_count[i]),
            p_share=float(self.p_share[i]),
            score=float(self.score[i]),
            fired=bool(self.fired[i]),
            fired_on=self.fired_on(i),
            held=bool(self.held[i]) if self.held is not None else False,
            reason=self.reason(i),
        )


def detect(
    negatives: Sequence[int] | np.ndarray,
    totals: Sequence[int] | np.ndarray | None,
    start: datetime,
    params: DetectorParams,
) -> Detection:
    """Judge every bucket of a regular series against its own past.

    `start` is the start of bucket 0 (naive = UTC); days, day kinds and
    time-of-day slots are UTC. `totals=None` disables the share test.
    """
    n = np.asarray(negatives, dtype=float)
    if n.ndim != 1 or not np.all(np.isfinite(n)) or (n.size and n.min() < 0):
        raise ValueError("negatives must be a 1-d array of non-negative counts")
    total_arr = None
    if totals is not None:
        total_arr = np.asarray(totals, dtype=float)
        if total_arr.shape != n.shape or np.any(total_arr < n):
            raise ValueError("totals must have the same length as negatives and be >= them")
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    run = _Run(n, total_arr, start, params)
    run.all_days()
    return run.detection()


class _Track:
    """Per-series state of one count series (negatives or totals): the cleaned
    counts the baseline learns from and the expected values."""

    def __init__(self, values: np.ndarray, history: tuple[int, int]) -> None:
        self.x = values  # padded, NaN outside the series
        self.clean = np.full(values.size, np.nan)
        self.season = np.full(values.size, np.nan)
        self.expected = np.full(values.size, np.nan)
        self.level = np.ones(values.size)
        self.profiles: dict[bool, list[np.ndarray]] = {False: [], True: []}
        self.keep = {False: history[0], True: history[1]}
        self.week_mean = float("nan")  # mean cleaned count of the last week (floor)


class _Run:
    """The day-by-day pass (vectorised within a day).

    Blocks are UTC days, so the baseline of a day depends only on earlier days;
    within a day every step is a trailing (causal) operation, iterated twice so
    that the anomaly mask of this day feeds the level factor of this day."""

    def __init__(self, n: np.ndarray, totals: np.ndarray | None, start: datetime, p: DetectorParams) -> None:
        self.p = p
        self.start = start
        d = p.per_day
        first = start.astimezone(UTC)
        midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
        self.pad = int((first - midnight).total_seconds() // 60 // p.bucket_minutes)
        self.length = n.size
        self.days = max(1, -(-(self.pad + n.size) // d))
        size = self.days * d
        self.first_weekday = midnight.weekday()

        def padded(a: np.ndarray) -> np.ndarray:
            out = np.full(size, np.nan)
            out[self.pad : self.pad + a.size] = a
            return out

        hist = (p.history_days * 5 // 7, max(2, p.history_days * 2 // 7))
        self.neg = _Track(padded(n), hist)
        self.tot = None if totals is None else _Track(padded(totals), hist)
        self.n_raw, self.totals_raw = n, totals
        self.mask = np.zeros(size, dtype=bool)  # buckets kept out of the baseline
        self.active = np.zeros(size, dtype=bool)  # ... of them, those of an ongoing anomaly
        self.run_start = np.zeros(size, dtype=int)
        self.fired = np.zeros(size, dtype=bool)
        self.count_fired = np.zeros(size, dtype=bool)
        self.share_fired = np.zeros(size, dtype=bool)
        self.alpha = np.full(size, p.min_dispersion)
        self.n_win = np.zeros(size)
        self.mu_win = np.full(size, np.nan)
        self.tot_win = np.zeros(size)
        self.tot_mu_win = np.full(size, np.nan)
        self.excess = np.zeros(size)
        self.bar = np.zeros(size)
        self.p_count = np.ones(size)
        self.p_share = np.ones(size)
        self.score = np.zeros(size)
        self.guard = np.ones(size, dtype=int)
        self.day_peak = np.full(self.days, np.nan)
        self.resid = np.zeros(self.days)  # dispersion moments per day
        self.musq = np.zeros(self.days)

    # -- the pass ----------------------------------------------------------------

    def all_days(self) -> None:
        for day in range(self.days):
            self.one_day(day)

    def one_day(self, day: int) -> None:
        p, d = self.p, self.p.per_day
        lo, hi = day * d, (day + 1) * d
        ctx = max(p.level_window, p.buckets(p.fallback_hours), p.horizon, 1)
        c0 = max(0, lo - ctx)
        weekend = (self.first_weekday + day) % 7 >= 5
        tracks = [t for t in (self.neg, self.tot) if t is not None]
        for t in tracks:
            t.week_mean = self._week_mean(t, lo)
            t.season[lo:hi] = _profile(t.profiles[weekend] or t.profiles[not weekend], d, p)
        past = slice(max(0, day - round(p.dispersion_days)), day)
        den = self.musq[past].sum()
        alpha = float(np.clip(self.resid[past].sum() / den, p.min_dispersion, 3.0)) if den > 0 else 0.25
        peaks = self.day_peak[max(0, day - p.calibration_days) : day]
        peaks = peaks[np.isfinite(peaks)]
        floor_bar = math.log(p.thresholds.min_ratio)
        bar = floor_bar
        if peaks.size:
            bar = max(floor_bar, _quantile(peaks, p.thresholds.peak_quantile))
        self.alpha[lo:hi] = alpha
        self.bar[lo:hi] = bar

        valid = np.isfinite(self.neg.x[lo:hi])
        if not valid.any():
            return
        caps = {id(t): self._cap(t, lo, hi, alpha) for t in tracks}
        for t in tracks:  # first pass: nothing of this day is held
            t.clean[lo:hi] = np.minimum(t.x[lo:hi], caps[id(t)])
        self.mask[lo:hi] = False
        self.active[lo:hi] = False
        for it in range(2):
            for t in tracks:
                self._expected(t, c0, lo, hi)
            self._tests(c0, lo, hi, alpha, bar)
            if it == 0:  # the bar learns from the excess as seen without holding
                first_excess = self.excess[lo:hi].copy()
            self._update_mask(c0, lo, hi)
            held = self.mask[lo:hi]
            for t in tracks:
                capped = np.minimum(t.x[lo:hi], caps[id(t)])
                t.clean[lo:hi] = np.where(held, t.expected[lo:hi], capped)
            if it == 0 and not held.any():
                break  # nothing held: a second pass would give the same answer
        # finalise the day: profiles, dispersion moments, daily peak
        for t in tracks:
            prof = _shifted(t.clean[lo:hi], p)
            bucket = t.profiles[weekend]
            bucket.append(prof)
            if len(bucket) > t.keep[weekend]:
                bucket.pop(0)
        judged = self.guard[lo:hi] != 1
        e = self.neg.expected[lo:hi]
        ok = judged & np.isfinite(e)
        self.resid[day] = float(np.sum(((self.neg.clean[lo:hi] - e) ** 2 - e)[ok]))
        self.musq[day] = float(np.sum((e**2)[ok]))
        if judged.any():
            self.day_peak[day] = float(first_excess[judged].max())

    def _cap(self, t: _Track, lo: int, hi: int, alpha: float) -> np.ndarray:
        """Winsorising ceiling for the cleaned counts: the 99.9 % quantile at twice
        the seasonal expectation (the level factor's maximum); none without one."""
        season = t.season[lo:hi]
        a = max(alpha, 0.25) if t is self.neg else 0.25
        ref = np.maximum(2.0 * _zero_nan(season), 1.0)
        return np.where(np.isfinite(season), nb_quantile(0.999, ref, a), np.inf)

    def _expected(self, t: _Track, c0: int, lo: int, hi: int) -> None:
        p = self.p
        season = t.season[c0:hi]
        has = np.isfinite(season)
        clean = t.clean[c0:hi]
        masked = self.mask[c0:hi]
        # recent level: the last hours as they came vs as the season expected
        # them, over buckets that are not held; while an anomaly holds most of
        # the window, the level stays where it was before (frozen).
        unheld = has & np.isfinite(clean) & ~masked
        w = p.level_window
        a_sum = _trailing_sum(np.where(unheld, clean, 0.0), w)
        s_sum = _trailing_sum(np.where(unheld, season, 0.0), w)
        n_ok = _trailing_sum(unheld.astype(float), w)
        prior = 5.0
        level = np.clip((a_sum + prior) / (s_sum + prior), 0.5, 2.0)
        enough = n_ok >= w / 2
        idx = np.arange(level.size)
        last = np.maximum.accumulate(np.where(enough, idx, -1))
        level = np.where(enough, level, np.where(last >= 0, level[np.maximum(last, 0)], t.level[c0]))
        # fallback without seasonal history: the mean of the last hours
        fallback = np.full(level.size, np.nan)
        if not has.all():
            fw = p.buckets(p.fallback_hours)
            finite = np.isfinite(clean) & ~masked
            f_sum = _trailing_sum(np.where(finite, clean, 0.0), fw)
            f_cnt = _trailing_sum(finite.astype(float), fw)
            fallback = np.where(f_cnt > 0, f_sum / np.maximum(f_cnt, 1.0), np.nan)
        expected = np.where(has, season * level, fallback)
        week = t.week_mean
        floor = max(0.2, 0.2 * week) if np.isfinite(week) else 0.2
        expected = np.where(np.isfinite(expected), np.maximum(expected, floor), np.nan)
        k = lo - c0
        t.level[lo:hi] = np.where(has[k:], level[k:], 1.0)
        t.expected[lo:hi] = np.where(np.isfinite(t.x[lo:hi]), expected[k:], np.nan)

    def _week_mean(self, t: _Track, lo: int) -> float:
        span = t.clean[max(0, lo - 7 * self.p.per_day) : lo]
        span = span[np.isfinite(span)]
        return float(span.mean()) if span.size else float("nan")

    def _tests(self, c0: int, lo: int, hi: int, alpha: float, bar: float) -> None:
        p, th, k = self.p, self.p.thresholds, self.p.horizon
        off = lo - c0
        x = _zero_nan(self.neg.x[c0:hi])
        mu = self.neg.expected[c0:hi]
        known = np.isfinite(mu)[off:]
        n_win = _trailing_sum_incl(x, k)[off:]
        mu_win = _trailing_sum_incl(_zero_nan(mu), k)[off:]
        excess = np.where(known, np.log((n_win + k) / (mu_win + k)), 0.0)
        p_count = np.where(known, nb_sf(n_win, np.maximum(mu_win, 1e-9), alpha / k), 1.0)
        n_now = x[off:]
        guard = np.where(~known, 1, np.where((n_win < p.min_negative) | (n_now < 1), 2, 0))
        count_fired = (guard == 0) & (excess >= bar) & (p_count < th.p_count)
        score = np.where(guard == 0, np.clip(0.5 * excess / bar, 0.0, 1.0), 0.0)
        score = np.where(p_count < th.p_count, score, np.minimum(score, 0.49))
        s = slice(lo, hi)
        self.n_win[s], self.mu_win[s], self.excess[s] = n_win, np.where(known, mu_win, np.nan), excess
        self.p_count[s], self.guard[s], self.count_fired[s] = p_count, guard, count_fired
        share_fired = np.zeros(hi - lo, dtype=bool)
        if self.tot is not None:
            tot = _zero_nan(self.tot.x[c0:hi])
            tmu = _zero_nan(self.tot.expected[c0:hi])
            tot_win = _trailing_sum_incl(tot, k)[off:]
            tot_mu_win = _trailing_sum_incl(tmu, k)[off:]
            with np.errstate(invalid="ignore", divide="ignore"):
                s0 = np.clip(mu_win / tot_mu_win, 1e-3, 0.999)
            share_ok = known & (tot_mu_win > 0) & np.isfinite(s0)
            s0 = np.where(share_ok, s0, 0.5)
            p_share = np.minimum(
                1.0,
                2.0
                * np.minimum(
                    _share_tail(n_now, tot[off:], s0, guard, p),
                    _share_tail(n_win, tot_win, s0, guard, p),
                ),
            )
            p_share = np.where(share_ok, p_share, 1.0)
            share_fired = (guard == 0) & (p_share < th.p_share)
            score = np.where(share_fired, np.maximum(score, 0.5), score)
            self.tot_win[s], self.tot_mu_win[s] = tot_win, np.where(share_ok, tot_mu_win, np.nan)
            self.p_share[s] = p_share
        self.share_fired[s] = share_fired
        self.fired[s] = count_fired | share_fired
        self.score[s] = score

    def _update_mask(self, c0: int, lo: int, hi: int) -> None:
        """The buckets kept out of the baseline: an anomaly runs from a fired
        bucket while the horizon stays at `hold_ratio` x expected or more (for
        at most `max_hold_hours`), plus one horizon after it (recovery)."""
        p, k = self.p, self.p.horizon
        off = lo - c0
        fired = self.fired[c0:hi].copy()
        fired[:off] = self.active[c0:lo]  # earlier days are final
        with np.errstate(invalid="ignore"):
            high = self.n_win[c0:hi] >= p.hold_ratio * self.mu_win[c0:hi]
        ok = fired | high
        idx = np.arange(fired.size)
        last_fired = np.maximum.accumulate(np.where(fired, idx, -1))
        last_break = np.maximum.accumulate(np.where(~ok, idx, -1))
        active = ok & (last_fired > last_break)
        carried = self.run_start[c0] if self.active[c0] else c0
        began = np.where(last_break >= 0, c0 + last_break + 1, carried)
        active &= (c0 + idx) - began < p.buckets(p.max_hold_hours)
        last_active = np.maximum.accumulate(np.where(active, idx, -(10**9)))
        self.active[lo:hi] = active[off:]
        self.run_start[lo:hi] = began[off:]
        self.mask[lo:hi] = (active | (idx - last_active <= k))[off:]

    # -- output ------------------------------------------------------------------

    def detection(self) -> Detection:
        s = slice(self.pad, self.pad + self.length)
        p = self.p
        expected = self.neg.expected[s]
        known = np.isfinite(expected)
        mu = np.where(known, expected, 0.0)
        alpha = self.alpha[s]
        lower = np.where(known, nb_quantile(p.band_quantile, mu, alpha), np.nan)
        upper = np.where(known, nb_quantile(1 - p.band_quantile, mu, alpha), np.nan)
        tracks_share = self.tot is not None
        share = np.full(self.length, np.nan)
        if tracks_share:
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.clip(self.mu_win[s] / self.tot_mu_win[s], 1e-3, 0.999)
        return Detection(
            start=self.start,
            params=p,
            negatives=self.n_raw,
            totals=self.totals_raw,
            expected=expected,
            lower=lower,
            upper=upper,
            window_negatives=self.n_win[s],
            window_expected=self.mu_win[s],
            excess=self.excess[s],
            bar=self.bar[s],
            expected_share=share,
            p_count=self.p_count[s],
            p_share=self.p_share[s],
            score=self.score[s],
            fired=self.fired[s],
            guard=self.guard[s],
            count_fired=self.count_fired[s],
            share_fired=self.share_fired[s],
            held=self.mask[s],
            window_totals=self.tot_win[s] if tracks_share else None,
        )


def _profile(days: list[np.ndarray], per_day: int, p: DetectorParams) -> np.ndarray:
    """Expected count per time-of-day slot from earlier days of the same kind:
    the trimmed mean of the same slot and its +-`neighbour_minutes` neighbours
    on those days (`days` holds each day with its shifted copies, `_shifted`)."""
    if not days:
        return np.full(per_day, np.nan)
    return _trimmed_mean_columns(np.vstack(days), p.trim)


def _shifted(day: np.ndarray, p: DetectorParams) -> np.ndarray:
    """One day's counts and their copies shifted by up to +-`neighbour_minutes`
    (wrapping around midnight), one row each."""
    h = min(p.neighbour_minutes // p.bucket_minutes, day.size - 1)
    if h <= 0:
        return day[None, :]
    ring = np.concatenate([day[-h:], day, day[:h]])
    return np.stack([ring[h + s : h + s + day.size] for s in range(-h, h + 1)])


def _trimmed_mean_columns(m: np.ndarray, trim: float) -> np.ndarray:
    """Column-wise trimmed mean, ignoring NaN (NaN where a column is empty)."""
    s = np.sort(m, axis=0)  # NaN last
    rows = s.shape[0]
    if not np.isnan(s[-1]).any():  # the usual case: no gaps
        k = int(trim * rows)
        return s[k : rows - k].mean(axis=0)
    cnt = np.isfinite(s).sum(axis=0)
    k = np.floor(trim * cnt).astype(int)
    csum = np.concatenate([np.zeros((1, s.shape[1])), np.cumsum(_zero_nan(s), axis=0)], axis=0)
    cols = np.arange(s.shape[1])
    kept = np.maximum(cnt - 2 * k, 1)
    tmean = (csum[cnt - k, cols] - csum[k, cols]) / kept
    return np.where(cnt > 0, tmean, np.nan)


def alert_onsets(fired: np.ndarray, resolve_after: int) -> np.ndarray:
    """Indices where an episode opens: a fired bucket more than `resolve_after`
    buckets after the previous fired one (same rule as `alerts.episodes`)."""
    idx = np.flatnonzero(np.asarray(fired, dtype=bool))
    if idx.size == 0:
        return idx
    keep = np.ones(idx.size, dtype=bool)
    keep[1:] = np.diff(idx) > resolve_after
    return idx[keep]


# -- helpers -------------------------------------------------------------------------


def _trailing_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of x[t-window .. t-1] (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(x)])  # x finite
    t = np.arange(len(x))
    return c[t] - c[np.maximum(t - window, 0)]


def _trailing_sum_incl(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of x[t-window+1 .. t] (the window ending with bucket t)."""
    c = np.concatenate([[0.0], np.cumsum(x)])  # x finite
    t = np.arange(1, len(x) + 1)
    return c[t] - c[np.maximum(t - window, 0)]


def _share_tail(
    neg: np.ndarray, tot: np.ndarray, s0: np.ndarray, guard: np.ndarray, params: DetectorParams
) -> np.ndarray:
    """Beta-binomial P(X >= neg | tot, s0) where the share test applies, else 1.

    Approximated by the binomial tail at the effective sample size
    ``tot / (1 + (tot - 1) / (kappa + 1))`` (same mean and variance), through
    the regularised incomplete beta function: exact for kappa -> infinity and
    fast enough for a year of buckets."""
    t = params.thresholds
    share = neg / np.maximum(tot, 1.0)
    ok = (guard == 0) & (tot >= params.min_total_for_share) & (share - s0 >= t.min_share_lift) & (neg > 0)
    out = np.ones(neg.shape)
    if not ok.any():
        return out
    kappa = params.share_concentration
    size = tot[ok]
    n_eff = size / (1.0 + (size - 1.0) / (kappa + 1.0))
    x_eff = np.maximum(neg[ok] * n_eff / size, 1e-9)
    out[ok] = special.betainc(x_eff, np.maximum(n_eff - x_eff + 1.0, 1e-9), s0[ok])
    return out


def nb_sf(n: np.ndarray, mu: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
    """P(X >= n) for X ~ NegBin(mean mu, overdispersion alpha), n >= 0
    (``I_{1-p}(n, r)`` with r = 1/alpha, p = r/(r+mu); 1 for n <= 0)."""
    r = 1.0 / np.asarray(alpha, dtype=float)
    n = np.asarray(n, dtype=float)
    mu = np.asarray(mu, dtype=float)
    tail = special.betainc(np.maximum(n, 1e-12), r, mu / (r + mu))
    return np.where(n <= 0, 1.0, tail)


def nb_quantile(q: float, mu: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
    """Approximate q-quantile of NegBin(mean mu, overdispersion alpha)
    (Cornish-Fisher with the skewness; for the chart band and the cap)."""
    mu = np.asarray(mu, dtype=float)
    a = np.asarray(alpha, dtype=float)
    z = float(special.ndtri(q))
    var = mu + a * mu * mu
    sd = np.sqrt(var)
    skew = (1.0 + 2.0 * a * mu) / np.sqrt(np.maximum(var, 1e-12))
    return np.maximum(0.0, mu + sd * (z + (z * z - 1.0) * skew / 6.0))


def _zero_nan(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), x, 0.0)


def _quantile(values: np.ndarray, q: float) -> float:
    """q-quantile with linear interpolation (numpy's default), for short arrays."""
    s = sorted(values.tolist())
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])
