"""Negative-spike detector: pure, causal functions over per-bucket counts.

Input per brand: `negatives[t]` (negative mentions in bucket t) and optionally
`totals[t]` (all mentions), for regular buckets starting at `start`. Nothing
here knows about Elasticsearch; the caller builds the arrays with a
date_histogram (``min_doc_count: 0`` and ``extended_bounds`` so that empty
buckets are zeros, not gaps).

Every bucket is judged from earlier buckets only, so running the detector on a
long history gives the same answer for bucket t as running it live at t.

1. **Seasonal baseline** (expected negatives per bucket). Lags: the same time
   of day on the previous `history_days` days of the same kind (weekday or
   weekend) and the same hour of the week 3 and 4 weeks back, each with its
   neighbours (+-15 min). Their median is a crude baseline; counts above its
   99.9 % negative-binomial quantile are capped (past spikes winsorised), and
   the 20 %-trimmed mean of the capped lags is the expected count. A
   recent-level factor (last 3 h actual vs expected, clipped to [1/2, 2])
   follows growth and decline. Without seasonal history, the trimmed mean of
   the last 6 h stands in; without any history, the bucket is not judged.
2. **Count test** over the horizon (default the last hour): the excess
   ``log((n_h + k) / (mu_h + k))`` (k = buckets in the horizon) must reach
   `min_ratio`, the negative-binomial tail P(X >= n_h) must be below
   `p_count` (overdispersion estimated by moments over the last week), and the
   excess must beat the `peak_quantile` of this brand's own daily peak excess
   over the last `calibration_days`: bursty brands need bigger bursts.
3. **Share test**: beta-binomial tail of negatives among all mentions against
   the expected share, on the bucket and on the horizon.
4. **Guards**: nothing fires below `min_negative` negatives in the horizon, on
   an empty bucket, or without history (so 0 vs 0 and a single post never fire).

The anomaly score in [0, 1] is ``0.5 * excess / bar`` (0.5 = exactly at the
bar; capped below 0.5 while the tail probability is not small enough); a share
alarm lifts it to at least 0.5. The sensitivity presets (`PRESETS`) are the
only place where thresholds live; `AlertSettings.sensitivity` selects one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import BaseModel
from scipy import stats
from scipy.ndimage import maximum_filter1d

from brandpulse.config import AlertSettings, Sensitivity


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
#: (`AlertSettings.sensitivity`) selects from. Tuned on the five NAB dev series
#: and the synthetic incidents of benchmarks/detector_benchmark.py.
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
    horizon_minutes: int = 60  # the tests look at the sum over the last hour
    calibration_days: int = 28  # daily peaks of the excess kept for the bar
    min_total_for_share: int = 10
    history_days: int = 14
    weekly_lag_days: tuple[int, ...] = (21, 28)
    neighbour_minutes: int = 15
    level_hours: float = 3.0
    fallback_hours: float = 6.0
    dispersion_days: float = 7.0
    min_dispersion: float = 0.02
    share_concentration: float = 50.0
    trim: float = 0.2
    band_quantile: float = 0.01  # the chart's normal range: 1st-99th percentile

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
        return max(1, self.horizon_minutes // self.bucket_minutes)

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
        if self.p_count[i] < t.p_count and self.excess[i] >= self.bar[i]:
            parts.append(
                f"{n} negative mentions in {span} vs {mu:.1f} expected "
                f"({n / max(mu, 1e-9):.1f}x, p={self.p_count[i]:.1e})"
            )
        if self.totals is not None and self.p_share[i] < t.p_share:
            total = int(_trailing_sum_incl(self.totals, p.horizon)[i])
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
            reason=self.reason(i),
        )


def detect(
    negatives: Sequence[int] | np.ndarray,
    totals: Sequence[int] | np.ndarray | None,
    start: datetime,
    params: DetectorParams,
) -> Detection:
    """Judge every bucket of a regular series against its own past.

    `start` is the start of bucket 0 (naive = UTC); the weekday/weekend split
    uses UTC days. `totals=None` disables the share test (count test only).
    """
    n = np.asarray(negatives, dtype=float)
    if n.ndim != 1 or not np.all(np.isfinite(n)) or (n.size and n.min() < 0):
        raise ValueError("negatives must be a 1-d array of non-negative counts")
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    weekend = _weekend_mask(start, len(n), params.bucket_minutes)
    t, k = params.thresholds, params.horizon

    expected, cleaned = seasonal_baseline(n, weekend, params)
    alpha = dispersion(cleaned, expected, params)
    known = np.isfinite(expected)
    mu = np.where(known, expected, 0.0)
    lower = np.where(known, nb_quantile(params.band_quantile, mu, alpha), np.nan)
    upper = np.where(known, nb_quantile(1 - params.band_quantile, mu, alpha), np.nan)

    n_win = _trailing_sum_incl(n, k)
    mu_win = _trailing_sum_incl(mu, k)
    excess = np.where(known, np.log((n_win + k) / (mu_win + k)), 0.0)
    p_count = np.where(known, nb_sf(n_win, np.maximum(mu_win, 1e-9), alpha / k), 1.0)
    bar = np.maximum(math.log(t.min_ratio), _daily_peak_quantile(excess, params))

    guard = np.where(~known, 1, np.where((n_win < params.min_negative) | (n < 1), 2, 0))
    count_fired = (guard == 0) & (excess >= bar) & (p_count < t.p_count)
    score = np.where(guard == 0, np.clip(0.5 * excess / bar, 0.0, 1.0), 0.0)
    score = np.where(p_count < t.p_count, score, np.minimum(score, 0.49))
    fired = count_fired

    total_arr = None
    expected_share = np.full(len(n), np.nan)
    p_share = np.ones(len(n))
    if totals is not None:
        total_arr = np.asarray(totals, dtype=float)
        if total_arr.shape != n.shape or np.any(total_arr < n):
            raise ValueError("totals must have the same length as negatives and be >= them")
        expected_total, _ = seasonal_baseline(total_arr, weekend, params)
        total_win = _trailing_sum_incl(total_arr, k)
        tot_mu_win = _trailing_sum_incl(np.nan_to_num(expected_total), k)
        with np.errstate(invalid="ignore", divide="ignore"):
            expected_share = np.clip(mu_win / tot_mu_win, 1e-3, 0.999)
        s0 = np.where(np.isfinite(expected_share), expected_share, 0.5)
        # Two scales: the bucket itself (fast) and the horizon (steadier);
        # the smaller tail probability counts, Bonferroni-corrected.
        p_share = np.minimum(
            1.0,
            2.0
            * np.minimum(
                _share_tail(n, total_arr, s0, guard, params),
                _share_tail(n_win, total_win, s0, guard, params),
            ),
        )
        p_share = np.where(np.isfinite(expected_share) & (tot_mu_win > 0), p_share, 1.0)
        share_fired = (guard == 0) & (p_share < t.p_share)
        fired = fired | share_fired
        score = np.where(share_fired, np.maximum(score, 0.5), score)

    return Detection(
        start=start,
        params=params,
        negatives=n,
        totals=total_arr,
        expected=expected,
        lower=lower,
        upper=upper,
        window_negatives=n_win,
        window_expected=np.where(known, mu_win, np.nan),
        excess=excess,
        bar=bar,
        expected_share=expected_share,
        p_count=p_count,
        p_share=p_share,
        score=score,
        fired=fired,
        guard=guard,
    )


def _share_tail(
    neg: np.ndarray, tot: np.ndarray, s0: np.ndarray, guard: np.ndarray, params: DetectorParams
) -> np.ndarray:
    """Beta-binomial P(X >= neg | tot, s0) where the share test applies, else 1."""
    t = params.thresholds
    share = neg / np.maximum(tot, 1.0)
    ok = (guard == 0) & (tot >= params.min_total_for_share) & (share - s0 >= t.min_share_lift)
    kappa = params.share_concentration
    tail = stats.betabinom.sf(neg - 1, np.maximum(tot, 1), s0 * kappa, (1 - s0) * kappa)
    return np.where(ok, tail, 1.0)


def seasonal_baseline(
    counts: np.ndarray, weekend: np.ndarray, params: DetectorParams
) -> tuple[np.ndarray, np.ndarray]:
    """Expected count per bucket from earlier buckets only, and the capped counts.

    Returns (expected, cleaned); expected is NaN where there is no history.
    """
    lags, kinds = _seasonal_lags(params)
    raw = _lagged(counts, lags)
    _mask_other_day_kind(raw, lags, kinds, weekend, params.per_day)
    recent = _lagged(counts, list(range(1, params.buckets(params.fallback_hours) + 1)))

    crude, _ = _row_median_trimmed(raw, params.trim)
    crude_recent, _ = _row_median_trimmed(recent, params.trim)
    crude = np.where(np.isfinite(crude), crude, crude_recent)
    cap = np.where(np.isfinite(crude), nb_quantile(0.999, np.maximum(crude, 1.0), 0.25), np.inf)
    cleaned = np.minimum(counts, cap)

    capped = _lagged(cleaned, lags)
    _mask_other_day_kind(capped, lags, kinds, weekend, params.per_day)
    _, seasonal = _row_median_trimmed(capped, params.trim)
    _, fallback = _row_median_trimmed(
        _lagged(cleaned, list(range(1, params.buckets(params.fallback_hours) + 1))), params.trim
    )
    has_season = np.isfinite(seasonal)
    expected = np.where(has_season, seasonal, fallback)

    # Recent level: the last hours as they came vs as the season expected them.
    window = params.buckets(params.level_hours)
    prior = 5.0
    actual_recent = _trailing_sum(cleaned, window)
    expected_recent = _trailing_sum(np.where(has_season, seasonal, cleaned), window)
    level = np.clip((actual_recent + prior) / (expected_recent + prior), 0.5, 2.0)
    expected = np.where(has_season, expected * level, expected)

    # Floor: a quiet slot still allows the odd mention.
    week_mean = _trailing_mean(cleaned, params.per_day * 7)
    floor = np.maximum(0.2, 0.2 * np.nan_to_num(week_mean))
    return np.where(np.isfinite(expected), np.maximum(expected, floor), np.nan), cleaned


def dispersion(cleaned: np.ndarray, expected: np.ndarray, params: DetectorParams) -> np.ndarray:
    """Negative-binomial overdispersion alpha (var = mu + alpha*mu^2), by moments
    over the trailing `dispersion_days` of capped counts, before each bucket."""
    ok = np.isfinite(expected)
    mu = np.where(ok, expected, 0.0)
    resid = np.where(ok, (cleaned - mu) ** 2 - mu, 0.0)
    window = params.buckets(params.dispersion_days * 24)
    num = _trailing_sum(resid, window)
    den = _trailing_sum(mu**2, window)
    alpha = np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)
    return np.clip(alpha, params.min_dispersion, 3.0)


def nb_sf(n: np.ndarray, mu: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
    """P(X >= n) for X ~ NegBin(mean mu, overdispersion alpha)."""
    r = 1.0 / np.asarray(alpha, dtype=float)
    return stats.nbinom.sf(np.asarray(n) - 1, r, r / (r + mu))


def nb_quantile(q: float, mu: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
    """The q-quantile of NegBin(mean mu, overdispersion alpha)."""
    r = 1.0 / np.asarray(alpha, dtype=float)
    return stats.nbinom.ppf(q, r, r / (r + mu))


def alert_onsets(fired: np.ndarray, resolve_after: int) -> np.ndarray:
    """Indices where an episode opens: a fired bucket more than `resolve_after`
    buckets after the previous fired one (same rule as `alerts.episodes`)."""
    idx = np.flatnonzero(np.asarray(fired, dtype=bool))
    if idx.size == 0:
        return idx
    keep = np.ones(idx.size, dtype=bool)
    keep[1:] = np.diff(idx) > resolve_after
    return idx[keep]


def with_sensitivity(params: DetectorParams, sensitivity: Sensitivity) -> DetectorParams:
    """The same parameters with another preset."""
    return replace(params, thresholds=PRESETS[sensitivity])


# -- helpers -------------------------------------------------------------------------


def _weekend_mask(start: datetime, length: int, bucket_minutes: int) -> np.ndarray:
    minutes = np.arange(length) * bucket_minutes
    first = start.astimezone(UTC)
    offset = first.weekday() * 1440 + first.hour * 60 + first.minute
    weekday = ((offset + minutes) // 1440) % 7
    return weekday >= 5


def _seasonal_lags(params: DetectorParams) -> tuple[list[int], list[str]]:
    """Lags (in buckets) of the same time of day on earlier days, with neighbours."""
    d = params.per_day
    h = params.neighbour_minutes // params.bucket_minutes
    lags: list[int] = []
    kinds: list[str] = []
    days = [(j, "day") for j in range(1, params.history_days + 1)]
    days += [(j, "week") for j in params.weekly_lag_days if j > params.history_days]
    for j, kind in days:
        for delta in range(-h, h + 1):
            lags.append(j * d + delta)
            kinds.append(kind)
    return lags, kinds


def _lagged(x: np.ndarray, lags: list[int]) -> np.ndarray:
    """Matrix M[t, k] = x[t - lags[k]] (NaN before the start)."""
    out = np.full((len(x), len(lags)), np.nan)
    for k, lag in enumerate(lags):
        if lag < len(x):
            out[lag:, k] = x[: len(x) - lag]
    return out


def _mask_other_day_kind(
    matrix: np.ndarray, lags: list[int], kinds: list[str], weekend: np.ndarray, per_day: int
) -> None:
    """Blank daily lags that fall on the other kind of day (weekday vs weekend)."""
    for k, (lag, kind) in enumerate(zip(lags, kinds, strict=True)):
        if kind != "day":
            continue
        day_lag = round(lag / per_day) * per_day
        if day_lag >= len(weekend):
            continue
        other = np.zeros(len(weekend), dtype=bool)
        other[day_lag:] = weekend[day_lag:] != weekend[: len(weekend) - day_lag]
        matrix[other, k] = np.nan


def _row_median_trimmed(matrix: np.ndarray, trim: float) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise median and trimmed mean, ignoring NaN (NaN where a row is empty)."""
    s = np.sort(matrix, axis=1)  # NaN sorts last
    m = np.isfinite(s).sum(axis=1)
    rows = np.arange(len(s))
    empty = m == 0
    lo = np.clip((m - 1) // 2, 0, None)
    hi = np.clip(m // 2, 0, None)
    median = np.where(empty, np.nan, 0.5 * (s[rows, lo] + s[rows, np.minimum(hi, s.shape[1] - 1)]))
    k = np.floor(trim * m).astype(int)
    csum = np.concatenate([np.zeros((len(s), 1)), np.cumsum(np.nan_to_num(s), axis=1)], axis=1)
    kept = np.maximum(m - 2 * k, 1)
    tmean = (csum[rows, m - k] - csum[rows, k]) / kept
    return median, np.where(empty, np.nan, tmean)


def _trailing_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of x[t-window .. t-1] (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(x))])
    t = np.arange(len(x))
    return c[t] - c[np.maximum(t - window, 0)]


def _trailing_sum_incl(x: np.ndarray, window: int) -> np.ndarray:
    """Sum of x[t-window+1 .. t] (the window ending with bucket t)."""
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(np.asarray(x, dtype=float)))])
    t = np.arange(1, len(x) + 1)
    return c[t] - c[np.maximum(t - window, 0)]


def _daily_peak_quantile(excess: np.ndarray, params: DetectorParams) -> np.ndarray:
    """Per bucket: the `peak_quantile` of the daily maxima of `excess` over the
    previous `calibration_days` (0 without history). Uses earlier buckets only."""
    d = params.per_day
    day_max = maximum_filter1d(excess, size=d, origin=(d - 1) // 2, mode="constant", cval=0.0)
    before = np.concatenate([[np.nan], day_max[:-1]])  # max over [t-d, t-1]
    peaks = _lagged(before, [j * d for j in range(params.calibration_days)])
    return np.nan_to_num(_row_quantile(peaks, params.thresholds.peak_quantile), nan=0.0)


def _row_quantile(matrix: np.ndarray, q: float) -> np.ndarray:
    """Row-wise q-quantile (linear interpolation), ignoring NaN."""
    s = np.sort(matrix, axis=1)
    m = np.isfinite(s).sum(axis=1)
    pos = q * np.maximum(m - 1, 0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(m - 1, 0))
    rows = np.arange(len(s))
    value = s[rows, lo] + (pos - lo) * (s[rows, hi] - s[rows, lo])
    return np.where(m > 0, value, np.nan)


def _trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    t = np.arange(len(x))
    count = np.minimum(t, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, _trailing_sum(x, window) / np.maximum(count, 1), np.nan)
