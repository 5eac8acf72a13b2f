"""Forecasts of a daily series, chosen by a rolling-origin backtest against the simple baselines.

Every candidate (statsmodels ETS with an additive damped trend, the weekly seasonal-naive forecast,
no change) is refitted at each origin on the days before it only and scored on the days after it;
the candidate with the lowest error answers, so a model that loses to a baseline is reported as
losing and the baseline's forecast is given. Days without messages are missing (NaN), never neutral:
they are never scored, and ETS sees them interpolated between the neighbouring observed days."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

ORIGINS = 8  # backtest origins where the history allows
STEP = 7  # days between origins (fewer when the history is short)
BACKTEST_HORIZON = 7
MIN_TRAIN = 14
METRICS = ("volume", "sentiment")
SEASON = 7
COVERAGE_SLACK = 0.05  # an interval that held fewer than (claimed - this) of the backtest's days is not used


def origins(n: int, horizon: int = BACKTEST_HORIZON, wanted: int = ORIGINS, min_train: int = MIN_TRAIN) -> list[int]:
    """Backtest origins (first predicted index) for a series of n days: `wanted` of them, as far apart
    as STEP allows, the last one leaving `horizon` days to score; fewer for short histories."""
    room = n - horizon - min_train
    if room < 0:
        return []
    step = max(1, min(STEP, room // max(1, wanted - 1)))
    count = min(wanted, room // step + 1)
    last = n - horizon
    return sorted(last - i * step for i in range(count))


def filled(y: np.ndarray) -> np.ndarray:
    """y with its missing days linearly interpolated (the ends hold the nearest observed value)."""
    ok = ~np.isnan(y)
    if ok.all() or not ok.any():
        return np.nan_to_num(y)
    idx = np.arange(len(y))
    return np.interp(idx, idx[ok], y[ok])


def no_change(y: np.ndarray, steps: int) -> np.ndarray:
    """The last observed value, held."""
    seen = y[~np.isnan(y)]
    return np.full(steps, seen[-1] if len(seen) else np.nan)


def seasonal_naive(y: np.ndarray, steps: int, period: int = SEASON) -> np.ndarray:
    """Each day as the last observed value on the same weekday (else the last observed value)."""
    out = np.empty(steps)
    for h in range(steps):
        same = y[len(y) + h - period * (1 + h // period)::-period]  # that weekday, going back in time
        seen = same[~np.isnan(same)]
        out[h] = seen[0] if len(seen) else no_change(y, 1)[0]
    return out


def ets(y: np.ndarray, steps: int, confidence: float | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """statsmodels ETSModel (additive error, additive damped trend) fitted on y; its mean forecast and,
    with `confidence`, its own prediction interval (get_prediction)."""
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    series = pd.Series(filled(y))  # get_prediction needs an indexed series
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns on short or flat series
        try:
            fit = ETSModel(series, error="add", trend="add", damped_trend=True).fit(disp=False)
        except (ValueError, np.linalg.LinAlgError):
            mean = no_change(y, steps)
            return mean, (mean if confidence else None), (mean if confidence else None)
        if confidence is None:
            return np.asarray(fit.forecast(steps), dtype=float), None, None
        frame = fit.get_prediction(start=len(series), end=len(series) + steps - 1).summary_frame(alpha=1 - confidence)
    return frame["mean"].to_numpy(), frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy()


CANDIDATES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "ets": lambda y, h: ets(y, h)[0], "seasonal_naive": seasonal_naive, "no_change": no_change}
NAMES = {"ets": "statsmodels ETS (additive damped trend)", "seasonal_naive": "weekly seasonal naive",
         "no_change": "no change (the last observed day)"}


def backtest(y: np.ndarray, candidates: dict[str, Callable[[np.ndarray, int], np.ndarray]] | None = None,
             horizon: int = BACKTEST_HORIZON, at: list[int] | None = None,
             confidence: float | None = None) -> dict[str, Any]:
    """Rolling-origin MAE of each candidate over the observed days after each origin (each fitted on
    the days before it), the errors per origin, and, with `confidence`, how often ETS's interval held
    the truth."""
    candidates = candidates or CANDIDATES
    at = origins(len(y), horizon) if at is None else at
    errors: dict[str, list[np.ndarray]] = {name: [] for name in candidates}
    inside, scored = 0, 0
    for o in at:
        truth = y[o:o + horizon]
        seen = ~np.isnan(truth)
        if not seen.any():
            continue
        interval = ets(y[:o], len(truth), confidence) if confidence is not None else None  # one ETS fit for both
        for name, fn in candidates.items():
            pred = interval[0] if interval is not None and fn is CANDIDATES["ets"] else fn(y[:o], len(truth))
            errors[name].append(np.abs(pred[seen] - truth[seen]))
        if interval is not None:
            _, low, high = interval
            inside += int(((truth[seen] >= low[seen]) & (truth[seen] <= high[seen])).sum())
            scored += int(seen.sum())
    out: dict[str, Any] = {"origins": len(at), "horizon": horizon,
                           "mae": {name: round(float(np.concatenate(e).mean()), 4) if e else None
                                   for name, e in errors.items()},
                           "errors": {name: [float(v) for v in np.concatenate(e)] if e else [] for name, e in errors.items()}}
    if confidence is not None:
        out["interval_coverage"] = round(inside / scored, 3) if scored else None
    return out


SIMPLEST_FIRST = ("no_change", "seasonal_naive", "ets")


def best(mae: dict[str, float | None]) -> str:
    """The candidate with the lowest backtest error; a tie goes to the simpler one."""
    scored = [k for k in SIMPLEST_FIRST if mae.get(k) is not None] + [k for k in mae if k not in SIMPLEST_FIRST
                                                                       and mae[k] is not None]
    return min(scored, key=lambda k: mae[k])  # min keeps the first of equals: the simplest
