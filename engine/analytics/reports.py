"""The analytics the query evaluator routes to. Each takes normalised parameters and returns
{answer, evidence, series?, model?, held_out?}: every number in an answer comes from the data."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..workspace.search import iso
from ..workspace.store import Workspace
from .sentiment import NEGATIVE, POSITIVE, message_vectors, model_for
from .series import DAY, Scope, daily, messages


def _quotes(rows: list[tuple[int, float, str, str | None]], scores: np.ndarray | None, n: int,
            most_negative: bool = True) -> list[dict[str, Any]]:
    order = np.argsort(scores) if scores is not None and most_negative else range(min(n, len(rows)))
    out = []
    for i in list(order)[:n]:
        mid, t, text, author = rows[int(i)]
        q = {"id": mid, "time": iso(t), "author": author, "text": text[:240]}
        if scores is not None:
            q["sentiment"] = round(float(scores[int(i)]), 3)
        out.append(q)
    return out


def volume(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """Messages per day in scope."""
    scope = Scope.of(params)
    rows = messages(ws, scope)
    days, counts, _ = daily(np.array([r[1] for r in rows], dtype=float))
    if not rows:
        return {"answer": "no dated messages in scope", "evidence": {"scope": scope.describe(), "messages": 0}}
    peak = int(np.argmax(counts))
    return {"answer": f"{len(rows):,} messages over {len(days)} days, {counts.mean():.1f} a day on average;"
                      f" the busiest day was {days[peak]} with {int(counts[peak])}",
            "evidence": {"scope": scope.describe(), "messages": len(rows), "days": len(days),
                         "peak": {"day": days[peak], "messages": int(counts[peak])}},
            "series": {"x": days, "messages": counts.tolist()}}


def sentiment(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """Mean daily sentiment in scope (or its distribution), with the most negative quotes."""
    scope = Scope.of(params)
    rows = messages(ws, scope)
    model = model_for(ws)
    if not rows:
        return {"answer": "no dated messages in scope", "evidence": {"scope": scope.describe(), "messages": 0}}
    scores = model.scores([r[0] for r in rows])
    days, counts, means = daily(np.array([r[1] for r in rows], dtype=float), scores)
    agg = params.get("aggregation") or "mean"
    positive, negative = int((scores > POSITIVE).sum()), int((scores < NEGATIVE).sum())
    center = float(np.median(scores) if agg == "median" else scores.mean())
    valid = ~np.isnan(means)
    worst = int(np.nanargmin(means)) if valid.any() else 0
    answer = (f"{agg} sentiment {center:+.2f} over {len(rows):,} messages ({positive:,} positive, "
              f"{negative:,} negative, {len(rows) - positive - negative:,} neutral); the lowest day was "
              f"{days[worst]} at {means[worst]:+.2f}")
    evidence: dict[str, Any] = {"scope": scope.describe(), "messages": len(rows), "positive": positive,
                                "negative": negative, "lowest_day": {"day": days[worst], "mean": round(float(means[worst]), 3),
                                                                     "messages": int(counts[worst])},
                                "quotes": _quotes(rows, scores, 3)}
    if agg == "distribution":
        hist, edges = np.histogram(scores, bins=10, range=(-1, 1))
        evidence["distribution"] = {f"{edges[i]:+.1f}..{edges[i + 1]:+.1f}": int(h) for i, h in enumerate(hist)}
    return {"answer": answer, "evidence": evidence, "series": {"x": days, "sentiment": np.nan_to_num(means).tolist()},
            "model": model.describe()["model"], "held_out": model.score}


def daily_features(ws: Workspace, scope: Scope) -> tuple[list[str], np.ndarray, list[list[int]], list, np.ndarray]:
    """Per day: [volume, mean sentiment, embedding drift from the previous day], the message
    indexes of each day, the rows, and the per-message sentiment."""
    rows = messages(ws, scope)
    times = np.array([r[1] for r in rows], dtype=float)
    vecs = message_vectors(ws, [r[0] for r in rows])  # fetched once: for sentiment and for drift
    scores = model_for(ws).scores_of(vecs)
    days, counts, means = daily(times, scores)
    start = np.floor(times.min() / DAY) if len(rows) else 0
    idx = (np.floor(times / DAY) - start).astype(int) if len(rows) else np.zeros(0, int)
    members: list[list[int]] = [[] for _ in days]
    for i, d in enumerate(idx):
        members[d].append(i)
    centroids = [vecs[m].mean(axis=0) if m else None for m in members]
    drift, prev = [], None
    for c in centroids:
        drift.append(np.nan if c is None or prev is None else float(1 - c @ prev / (np.linalg.norm(c) * np.linalg.norm(prev) + 1e-9)))
        prev = c if c is not None else prev
    drift_arr = np.array(drift, dtype=float)
    # the first day (and empty days) have no drift to measure: give them the typical value, not 0
    drift_arr[np.isnan(drift_arr)] = np.nanmedian(drift_arr) if np.isfinite(drift_arr).any() else 0.0
    feats = np.column_stack([counts, np.nan_to_num(means), drift_arr]) if days else np.zeros((0, 3))
    return days, feats, members, rows, scores


def anomalies(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """Unusual days by IsolationForest over volume, sentiment and embedding drift, each with the
    feature that drove it and the messages that explain it."""
    from sklearn.ensemble import IsolationForest
    scope = Scope.of(params)
    days, feats, members, rows, scores = daily_features(ws, scope)
    if len(days) < 7:
        return {"answer": f"too few days ({len(days)}) for anomaly detection; need at least 7",
                "evidence": {"scope": scope.describe(), "days": len(days)}}
    contamination = float(params.get("contamination") or 0.1)
    forest = IsolationForest(n_estimators=300, contamination=contamination, random_state=0).fit(feats)
    flags = forest.predict(feats) == -1
    z = (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-9)
    names = ["volume", "sentiment", "drift"]
    found = []
    for d in np.where(flags)[0]:
        driver = int(np.argmax(np.abs(z[d])))
        day_rows = [rows[i] for i in members[d]]
        day_scores = scores[members[d]] if members[d] else None
        found.append({"day": days[d], "driver": names[driver], "direction": "high" if z[d, driver] > 0 else "low",
                      "volume": int(feats[d, 0]), "sentiment": round(float(feats[d, 1]), 3),
                      "drift": round(float(feats[d, 2]), 4), "messages": _quotes(day_rows, day_scores, 3)})
    listed = "; ".join(f"{a['day']} ({a['driver']} {a['direction']})" for a in found[:6])
    return {"answer": f"{len(found)} unusual day(s) of {len(days)}: {listed}" if found else "no unusual days",
            "evidence": {"scope": scope.describe(), "days": len(days), "anomalies": found},
            "series": {"x": days, "messages": feats[:, 0].tolist()},
            "model": f"IsolationForest(300 trees, contamination {contamination}) on daily volume, sentiment, drift"}


def forecast(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """A daily metric (volume or sentiment) forecast with statsmodels ETS, with intervals at the
    requested confidence and the model's error on a held-out tail."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    scope = Scope.of(params)
    metric = params.get("metric") or "volume"
    horizon = int(params.get("horizon") or 14)
    confidence = float(params.get("confidence") or 0.95)
    days, feats, _, _, _ = daily_features(ws, scope)
    y = feats[:, 0] if metric == "volume" else feats[:, 1]
    if len(y) < 14:
        return {"answer": f"too few days ({len(y)}) to forecast; need at least 14", "evidence": {"days": len(y)}}
    holdout = max(3, len(y) // 5)

    def fit(series: np.ndarray) -> Any:
        return ExponentialSmoothing(series, trend="add", damped_trend=True,
                                    initialization_method="estimated").fit()
    backtest = fit(y[:-holdout]).forecast(holdout)
    mae = float(np.mean(np.abs(backtest - y[-holdout:])))
    naive = float(np.mean(np.abs(y[-holdout - 1] - y[-holdout:])))
    model = fit(y)
    mean = model.forecast(horizon)
    resid = y - model.fittedvalues
    from scipy.stats import norm
    half = norm.ppf(0.5 + confidence / 2) * np.std(resid, ddof=1) * np.sqrt(np.arange(1, horizon + 1))
    last = np.datetime64(days[-1])
    future = [str(last + np.timedelta64(i, "D")) for i in range(1, horizon + 1)]
    return {"answer": f"{metric} over the next {horizon} days: {mean[0]:.2f} tomorrow to {mean[-1]:.2f} on {future[-1]}"
                      f" ({int(confidence * 100)}% interval on the last day {mean[-1] - half[-1]:.2f} .. {mean[-1] + half[-1]:.2f})",
            "evidence": {"scope": scope.describe(), "history_days": len(y),
                         "forecast": [{"day": d, "mean": round(float(m), 3), "low": round(float(m - h), 3),
                                       "high": round(float(m + h), 3)} for d, m, h in zip(future, mean, half)]},
            "series": {"x": days + future, metric: y.tolist() + [float("nan")] * horizon,
                       "forecast": [float("nan")] * len(y) + mean.tolist()},
            "model": "statsmodels ExponentialSmoothing (additive damped trend)",
            "held_out": {"metric": f"MAE on the last {holdout} days", "value": round(mae, 4),
                         "naive_last_value_mae": round(naive, 4)}}
