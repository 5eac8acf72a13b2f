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


class FitFailed(ValueError):
    """ETS could not be fitted on this history (it is then no candidate, never a relabelled baseline)."""


def ets(y: np.ndarray, steps: int, confidence: float | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """statsmodels ETSModel (additive error, additive damped trend) fitted on y; its mean forecast and,
    with `confidence`, its own prediction interval (get_prediction). FitFailed when it cannot be fitted."""
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    series = pd.Series(filled(y))  # get_prediction needs an indexed series
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns on short or flat series
        try:
            fit = ETSModel(series, error="add", trend="add", damped_trend=True).fit(disp=False)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise FitFailed(f"ETS could not be fitted on {len(y)} days: {exc}") from None
        if confidence is None:
            return np.asarray(fit.forecast(steps), dtype=float), None, None
        frame = fit.get_prediction(start=len(series), end=len(series) + steps - 1).summary_frame(alpha=1 - confidence)
    return frame["mean"].to_numpy(), frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy()


def ets_mean(y: np.ndarray, steps: int) -> np.ndarray:
    return ets(y, steps)[0]


CANDIDATES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "ets": ets_mean, "seasonal_naive": seasonal_naive, "no_change": no_change}
NAMES = {"ets": "statsmodels ETS (additive damped trend)", "seasonal_naive": "weekly seasonal naive",
         "no_change": "no change (the last observed day)"}


def backtest(y: np.ndarray, candidates: dict[str, Callable[[np.ndarray, int], np.ndarray]] | None = None,
             horizon: int = BACKTEST_HORIZON, at: list[int] | None = None,
             confidence: float | None = None) -> dict[str, Any]:
    """Rolling-origin MAE of each candidate over the observed days after each origin (each fitted on
    the days before it), the errors per origin, and, with `confidence`, how often ETS's interval held
    the truth. A candidate that fails to fit at any origin has no MAE (and says how often it failed)."""
    candidates = candidates or CANDIDATES
    at = origins(len(y), horizon) if at is None else at
    errors: dict[str, list[np.ndarray]] = {name: [] for name in candidates}
    failed = {name: 0 for name in candidates}
    inside, scored, used = 0, 0, []
    for o in at:
        truth = y[o:o + horizon]
        seen = ~np.isnan(truth)
        if not seen.any():
            continue
        used.append(o)
        interval = None
        if confidence is not None:
            try:
                interval = ets(y[:o], len(truth), confidence)  # one ETS fit for its mean and interval
            except FitFailed:
                pass
        for name, fn in candidates.items():
            if fn is CANDIDATES["ets"] and confidence is not None:
                pred = None if interval is None else interval[0]
            else:
                try:
                    pred = fn(y[:o], len(truth))
                except FitFailed:
                    pred = None
            if pred is None:
                failed[name] += 1
                pred = np.full(len(truth), np.nan)
            errors[name].append(np.abs(pred[seen] - truth[seen]))
        if interval is not None:
            _, low, high = interval
            inside += int(((truth[seen] >= low[seen]) & (truth[seen] <= high[seen])).sum())
            scored += int(seen.sum())

    def mae(e: list[np.ndarray]) -> float | None:
        v = np.concatenate(e) if e else np.zeros(0)
        return round(float(v.mean()), 4) if len(v) and not np.isnan(v).any() else None
    out: dict[str, Any] = {"origins": len(used), "horizon": horizon, "at": used,
                           "mae": {name: mae(e) for name, e in errors.items()},
                           "per_origin": {name: [float(v.mean()) for v in e] for name, e in errors.items()},
                           "errors": {name: [float(v) for v in np.concatenate(e)] if e else [] for name, e in errors.items()},
                           "failed_fits": {name: n for name, n in failed.items() if n}}
    if confidence is not None:
        out["interval_coverage"] = round(inside / scored, 3) if scored else None
    return out


NESTED_MIN = 4  # origins needed to choose on the earlier half and score the choice on the later half


def choose(bt: dict[str, Any]) -> dict[str, Any]:
    """The candidate chosen on the backtest's earlier origins, and every candidate's MAE on the later ones:
    the winner's own error is not the minimum of several on the same days (that would flatter it). With
    fewer than NESTED_MIN origins the choice and its score share the origins, and say so."""
    from ..evaluation.verdict import loss_difference
    per = {k: np.array(v) for k, v in bt["per_origin"].items() if bt["mae"].get(k) is not None}
    n = bt["origins"]
    nested = n >= NESTED_MIN
    first, later = (slice(0, n // 2), slice(n // 2, n)) if nested else (slice(0, n), slice(0, n))
    chosen = best({k: float(v[first].mean()) for k, v in per.items()})
    scores = {k: round(float(v[later].mean()), 4) for k, v in per.items()}
    baselines = [k for k in per if k != chosen and k in ("no_change", "seasonal_naive")]
    rival = min(baselines, key=scores.get) if baselines else None
    versus = loss_difference(per[chosen][later], per[rival][later]) if rival and nested else None
    return {"chosen": chosen, "mae": scores, "nested": nested, "selected_on": n // 2 if nested else n,
            "scored_on": n - n // 2 if nested else n, "best_baseline": rival, "versus_baseline": versus}


SIMPLEST_FIRST = ("no_change", "seasonal_naive", "ets")


def best(mae: dict[str, float | None]) -> str:
    """The candidate with the lowest backtest error; a tie goes to the simpler one."""
    scored = [k for k in SIMPLEST_FIRST if mae.get(k) is not None] + [k for k in mae if k not in SIMPLEST_FIRST
                                                                       and mae[k] is not None]
    return min(scored, key=lambda k: mae[k])  # min keeps the first of equals: the simplest
