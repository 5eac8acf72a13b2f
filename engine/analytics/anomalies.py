"""Unusual days, flagged at a stated false-alarm rate.

Each day of each daily series (volume, mean sentiment, embedding drift) is compared with what its
neighbours expect: the series' weekly profile plus the median of the 7 days either side, the day
itself left out (an event cannot hide in its own baseline, as it does in a smoother such as STL);
the residuals, scaled by their median absolute deviation, are robust z-scores. A day
is flagged when its |z| passes the threshold that makes the chance of ANY flagged day in a series of
this length with no event equal to the stated rate (Sidak over its days), under a Student-t fitted to
the series' own z-scores: real communities have heavier tails than a normal (a stream, a viral post), and
a threshold tuned on a simulator flagged 44% of null series with t(5) noise. The fit censors the series'
two most extreme days (only "beyond the third" enters the likelihood), so an event cannot widen its own
threshold; tails no lighter than t(TAIL_DF), since a baseline estimated from 14 neighbours adds noise. Days
without messages are missing: never flagged, never scored. Volume is variance-stabilised first
(Anscombe's square root for counts); a day's sentiment and drift residuals are weighted by how many
messages the day had (a mean of 3 messages wanders more than one of 300)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .forecasting import filled

FALSE_ALARM = 0.05  # default: chance that a series with no event shows any flagged day
PERIOD = 7
MIN_DAYS = 2 * PERIOD + 1
NEIGHBOURS = 7  # days either side that make a day's baseline
TRIM = 3.5  # the scale is the spread of the residuals within TRIM MADs (what is beyond may be events)
TRIM_VARIANCE = 0.9953  # variance of a standard normal truncated at +/- 3.5
TAIL_DF = 30  # the lightest tails a series is given (a baseline from 14 neighbours adds its own noise)
TAIL_GRID = (2.5, 3, 4, 5, 6, 8, 10, 15, 20, TAIL_DF)  # degrees of freedom the tail fit chooses among
CENSORED = 2  # the most extreme days enter the tail fit only as "beyond the next one"
SERIES = ("volume", "sentiment", "drift")


def _rolling_median(x: np.ndarray, half: int, leave_out_self: bool = False) -> np.ndarray:
    """Each day's median over the `half` days either side (fewer at the ends), itself left out if asked."""
    from numpy.lib.stride_tricks import sliding_window_view
    padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    windows = sliding_window_view(padded, 2 * half + 1).copy()
    if leave_out_self:
        windows[:, half] = np.nan
    return np.nanmedian(windows, axis=1)


def robust_z(y: np.ndarray, weight: np.ndarray | None = None, period: int = PERIOD, half: int = NEIGHBOURS
             ) -> np.ndarray:
    """Robust z-scores of each day against what its neighbours expect (NaN where y is missing): the
    weekly profile (median by weekday after a rolling-median trend) plus the median of the `half` days
    either side, the day itself left out, so an event cannot hide in its own baseline."""
    missing = np.isnan(y)
    if (~missing).sum() < MIN_DAYS:
        return np.full(len(y), np.nan)
    x = filled(y)
    n = len(x)
    trend = _rolling_median(x, period // 2)
    weekday = np.arange(n) % period
    profile = np.array([np.median((x - trend)[weekday == w]) for w in range(period)])
    flat = x - profile[weekday]
    expected = _rolling_median(flat, half, leave_out_self=True) + profile[weekday]
    resid = np.where(missing, np.nan, x - expected)
    if weight is not None:
        resid = resid * np.sqrt(weight)
    r = resid[~missing]
    center = np.median(r)
    mad = 1.4826 * np.median(np.abs(r - center))
    inner = r[np.abs(r - center) <= TRIM * mad] if mad > 0 else r
    scale = float(np.sqrt(np.mean((inner - center) ** 2) / TRIM_VARIANCE)) if len(inner) > 2 else 0.0
    return (resid - center) / (scale or r.std() or 1.0)


def tail_fit(z: np.ndarray) -> tuple[float, float]:
    """(degrees of freedom, scale) of a Student-t centred at 0 fitted to a series' z-scores by maximum
    likelihood, its CENSORED most extreme |z| censored at the next one (Type II censoring): the days that
    may be events say only that they are beyond it. Degrees of freedom from TAIL_GRID."""
    from scipy.stats import t
    a = np.sort(np.abs(z[~np.isnan(z)]))
    if len(a) <= CENSORED + 5 or a[-CENSORED - 1] <= 0:
        return float(TAIL_DF), 1.0
    keep, cut = a[:-CENSORED], a[-CENSORED - 1]
    df = np.array(TAIL_GRID, float)[:, None, None]
    scale = np.exp(np.linspace(-2.0, 2.0, 161))[None, :, None]  # log-scale steps of 0.025
    loglik = (t.logpdf(keep[None, None, :] / scale, df).sum(axis=2) - len(keep) * np.log(scale[:, :, 0])
              + CENSORED * np.log(2 * t.sf(cut / scale[:, :, 0], df[:, :, 0])))
    i, j = np.unravel_index(np.argmax(loglik), loglik.shape)
    return float(TAIL_GRID[i]), float(scale[0, j, 0])


def threshold(tests: int, rate: float = FALSE_ALARM, sides: int = 2, df: float = TAIL_DF, scale: float = 1.0) -> float:
    """The |z| a day must pass so that, among `tests` null days, any passes with probability `rate`
    (Sidak), under Student-t tails (`df`, `scale`: the series' own, from tail_fit)."""
    from scipy.stats import t
    per_test = 1 - (1 - rate) ** (1 / max(tests, 1))
    return float(scale * t.ppf(1 - per_test / sides, df))


def series_z(counts: np.ndarray, sentiment: np.ndarray, drift: np.ndarray) -> dict[str, np.ndarray]:
    """Robust z per day for each series (drift: only unusually large counts, so one-sided later)."""
    observed = counts > 0
    weight = np.where(observed, counts / max(float(np.median(counts[observed])), 1.0), 1.0) if observed.any() else None
    volume = 2 * np.sqrt(counts + 3 / 8)  # Anscombe: Poisson counts -> roughly unit variance
    sent = np.where(observed, sentiment, np.nan)
    drift = np.where(observed & ~np.isnan(drift), np.log(np.clip(drift, 1e-6, None)), np.nan)
    return {"volume": robust_z(volume), "sentiment": robust_z(sent, weight), "drift": robust_z(drift)}


def detect(counts: np.ndarray, sentiment: np.ndarray, drift: np.ndarray, rate: float = FALSE_ALARM,
           series: tuple[str, ...] = SERIES) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Flagged days (index, series, z, direction) and the thresholds used: each series at false-alarm
    `rate` over its whole length (the chance that it shows any flagged day when nothing happened)."""
    z = series_z(counts, sentiment, drift)
    cut = {s: threshold(int((~np.isnan(z[s])).sum()), rate, 1 if s == "drift" else 2, *tail_fit(z[s])) for s in series}
    flagged = []
    for s in series:
        zs = z[s]
        hits = (zs > cut[s]) if s == "drift" else (np.abs(zs) > cut[s])
        for d in np.where(np.nan_to_num(hits, nan=False))[0]:
            flagged.append({"index": int(d), "series": s, "z": round(float(zs[d]), 2),
                            "direction": "high" if zs[d] > 0 else "low"})
    flagged.sort(key=lambda f: (f["index"], -abs(f["z"])))
    return flagged, {s: round(v, 3) for s, v in cut.items()}
