"""Unusual days, flagged at a stated false-alarm rate.

Each day of each daily series (volume, mean sentiment, embedding drift) is compared with what its
neighbours expect: the series' weekly profile plus the median of the 7 days either side, the day
itself left out (an event cannot hide in its own baseline, as it does in a smoother such as STL);
the residuals, scaled by their median absolute deviation, are robust z-scores. A day
is flagged when its |z| passes the threshold that makes the chance of ANY flagged day in a series of
this length with no event equal to the stated rate (Sidak over its days; Student-t tails, since a
baseline estimated from 14 neighbours adds its own noise: checked on simulated series). Days
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
TAIL_DF = 30  # fitted so that simulated 90-day series with no event flag at most ~5% (benchmarks: anomalies)
SERIES = ("volume", "sentiment", "drift")


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
    trend = np.array([np.median(x[max(0, d - period // 2):d + period // 2 + 1]) for d in range(n)])
    weekday = np.arange(n) % period
    profile = np.array([np.median((x - trend)[weekday == w]) for w in range(period)])
    flat = x - profile[weekday]
    expected = np.array([np.median(np.delete(flat[max(0, d - half):d + half + 1], min(d, half)))
                         for d in range(n)]) + profile[weekday]
    resid = np.where(missing, np.nan, x - expected)
    if weight is not None:
        resid = resid * np.sqrt(weight)
    r = resid[~missing]
    center = np.median(r)
    mad = 1.4826 * np.median(np.abs(r - center))
    inner = r[np.abs(r - center) <= TRIM * mad] if mad > 0 else r
    scale = float(np.sqrt(np.mean((inner - center) ** 2) / TRIM_VARIANCE)) if len(inner) > 2 else 0.0
    return (resid - center) / (scale or r.std() or 1.0)


def threshold(tests: int, rate: float = FALSE_ALARM, sides: int = 2) -> float:
    """The |z| a day must pass so that, among `tests` null days, any passes with probability `rate`
    (Sidak; tails of Student's t with TAIL_DF degrees of freedom, checked on simulated series)."""
    from scipy.stats import t
    per_test = 1 - (1 - rate) ** (1 / max(tests, 1))
    return float(t.ppf(1 - per_test / sides, TAIL_DF))


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
    cut = {s: threshold(int((~np.isnan(z[s])).sum()), rate, 1 if s == "drift" else 2) for s in series}
    flagged = []
    for s in series:
        zs = z[s]
        hits = (zs > cut[s]) if s == "drift" else (np.abs(zs) > cut[s])
        for d in np.where(np.nan_to_num(hits, nan=False))[0]:
            flagged.append({"index": int(d), "series": s, "z": round(float(zs[d]), 2),
                            "direction": "high" if zs[d] > 0 else "low"})
    flagged.sort(key=lambda f: (f["index"], -abs(f["z"])))
    return flagged, {s: round(v, 3) for s, v in cut.items()}
