"""The analytics the query evaluator routes to. Each takes normalised parameters and returns
{answer, evidence, series?, model?, held_out?}: every number in an answer comes from the data."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..workspace.dates import iso
from ..workspace.store import Workspace, WorkspaceError
from .sentiment import message_vectors, model_for
from .series import DAY, Scope, daily, messages


def _quotes(rows: list[tuple[int, float, str, str | None, str]], scores: np.ndarray | None, n: int,
            most_negative: bool = True) -> list[dict[str, Any]]:
    """n messages to quote (the most negative, given scores): dated, with their source, and no two alike
    (the same words in another order or case, or one the other's repetition, are one quote)."""
    from .language import same_words
    order = np.argsort(scores) if scores is not None and most_negative else range(len(rows))
    out: list[dict[str, Any]] = []
    if scores is not None:
        order = [i for i in order if not np.isnan(scores[int(i)])]  # a message with no score is not quoted for it
    for i in order:
        if len(out) == n:
            break
        mid, t, text, author, source = rows[int(i)]
        if any(same_words(text, q["text"]) for q in out):
            continue
        q = {"id": mid, "time": iso(t), "author": author, "source": source, "text": text[:240]}
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
    ids = [r[0] for r in rows]
    scores, net = model.scores_and_net(ids)
    scored = ~np.isnan(scores)
    about = model.describe(sources_in(ws, scope))
    if not scored.any():
        return {"answer": f"none of the {len(rows):,} messages in scope has a sentiment score (no scored model"
                          " covers their language, or they have no vector)",
                "evidence": {"scope": scope.describe(), "messages": len(rows), "unscored": len(rows),
                             "sentiment_model": about},
                "model": about["model"], "held_out": model.score_}
    days, counts, means = daily(np.array([r[1] for r in rows], dtype=float), scores)
    agg = params.get("aggregation") or "mean"
    positive, negative, neutral = int((net == 1).sum()), int((net == -1).sum()), int((net == 0).sum())
    center = float(np.median(scores[scored]) if agg == "median" else scores[scored].mean())
    valid = ~np.isnan(means)
    worst = int(np.nanargmin(means)) if valid.any() else 0
    left = f"; {len(rows) - int(scored.sum()):,} with no score" if not scored.all() else ""
    answer = (f"{agg} sentiment {center:+.2f} over {int(scored.sum()):,} messages ({positive:,} positive, "
              f"{negative:,} negative, {neutral:,} neutral{left}); the lowest day was "
              f"{days[worst]} at {means[worst]:+.2f}")
    evidence: dict[str, Any] = {"scope": scope.describe(), "messages": len(rows), "positive": positive,
                                "negative": negative, "neutral": neutral, "unscored": int((~scored).sum()),
                                "lowest_day": {"day": days[worst], "mean": round(float(means[worst]), 3),
                                               "messages": int(counts[worst])},
                                "quotes": _quotes(rows, scores, 3), "sentiment_model": about}
    if agg == "distribution":
        hist, edges = np.histogram(scores[scored], bins=10, range=(-1, 1))
        evidence["distribution"] = {f"{edges[i]:+.1f}..{edges[i + 1]:+.1f}": int(h) for i, h in enumerate(hist)}
    return {"answer": answer, "evidence": evidence, "series": {"x": days, "sentiment": means.tolist()},  # NaN (no messages) stays missing
            "model": about["model"], "held_out": model.score_}


def sources_in(ws: Workspace, scope: Scope) -> list[str]:
    """The sources of the messages in scope."""
    cond, args = scope.where()
    return [s for (s,) in ws.db.execute(f"SELECT DISTINCT source FROM messages WHERE {cond}", args)]


def daily_features(ws: Workspace, scope: Scope) -> tuple[list[str], np.ndarray, list[list[int]], list, np.ndarray]:
    """Per day: [volume, mean sentiment, embedding drift from the previous day with messages] (NaN
    sentiment and drift on days without messages), the message indexes of each day, the rows, and the
    per-message sentiment."""
    rows = messages(ws, scope)
    times = np.array([r[1] for r in rows], dtype=float)
    vecs = message_vectors(ws, [r[0] for r in rows])  # for drift
    scores = model_for(ws).scores([r[0] for r in rows])  # NaN: no score (left out of the day's mean)
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
    # a day without messages has no sentiment and no drift: NaN (missing), never 0 (neutral)
    feats = np.column_stack([counts, means, drift_arr]) if days else np.zeros((0, 3))
    return days, feats, members, rows, scores


def anomalies(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """Unusual days in volume, sentiment and embedding drift (robust STL residuals), flagged at a
    stated false-alarm rate, each with the messages that explain it."""
    from .anomalies import FALSE_ALARM, MIN_DAYS, detect
    scope = Scope.of(params)
    days, feats, members, rows, scores = daily_features(ws, scope)
    if len(days) < MIN_DAYS:
        return {"answer": f"too few days ({len(days)}) for anomaly detection; need at least {MIN_DAYS}",
                "evidence": {"scope": scope.describe(), "days": len(days)}}
    rate = float(params.get("false-alarm") or FALSE_ALARM)
    if not 0 < rate < 1:
        raise WorkspaceError(f"a false-alarm rate is between 0 and 1, e.g. 0.05; got {rate}")
    flagged, cut = detect(feats[:, 0], feats[:, 1], feats[:, 2], rate)
    found: dict[int, dict[str, Any]] = {}
    for f in flagged:
        d = f["index"]
        if d in found:  # the day's strongest series drives it; the others are listed beside
            found[d]["also"].append(f"{f['series']} {f['direction']} (z {f['z']:+.1f})")
            continue
        day_rows = [rows[i] for i in members[d]]
        found[d] = {"day": days[d], "driver": f["series"], "direction": f["direction"], "z": f["z"], "also": [],
                    "volume": int(feats[d, 0]),
                    "sentiment": None if np.isnan(feats[d, 1]) else round(float(feats[d, 1]), 3),
                    "drift": None if np.isnan(feats[d, 2]) else round(float(feats[d, 2]), 4),
                    "messages": _quotes(day_rows, scores[members[d]] if members[d] else None, 3)}
    listed = "; ".join(f"{a['day']} ({a['driver']} {a['direction']}, z {a['z']:+.1f})" for a in list(found.values())[:6])
    claim = (f"flagged at a {rate:.0%} false-alarm rate per series (the chance that a series of {len(days)} days"
             f" with no event shows any flagged day)")
    lead = (f"{len(found)} unusual day{'s' if len(found) != 1 else ''} of {len(days)}: {listed}" if found
            else f"No unusual days in {len(days)}")
    return {"answer": f"{lead} ({claim}).",
            "evidence": {"scope": scope.describe(), "days": len(days), "anomalies": list(found.values()),
                         "false_alarm_rate": rate, "thresholds_z": cut},
            # the unusual days marked on the daily messages (a chart of its own, not the volume chart again)
            "series": {"x": days, "messages": feats[:, 0].tolist(),
                       "unusual": [float(feats[d, 0]) if d in found else float("nan") for d in range(len(days))]},
            "model": "each day against its neighbours' baseline (weekly profile + median of the 7 days either side,"
                     " itself left out) in daily volume (Anscombe), sentiment and drift; robust z against a"
                     " per-series Sidak threshold (t tails)"}


def forecast(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """A daily metric (volume or sentiment) forecast by whichever of ETS, the weekly seasonal-naive
    forecast and no change did best in a rolling-origin backtest, with intervals at the requested
    confidence (ETS's own, with their coverage in the backtest; else the backtest's errors)."""
    from . import forecasting
    scope = Scope.of(params)
    metric = params.get("metric") or "volume"
    if metric not in forecasting.METRICS:
        raise WorkspaceError(f"no forecast metric {metric!r}; the metrics are: {', '.join(forecasting.METRICS)}")
    horizon = int(params.get("horizon") or 14)
    confidence = float(params.get("confidence") or 0.95)
    days, feats, _, _, _ = daily_features(ws, scope)
    y = feats[:, 0] if metric == "volume" else feats[:, 1]  # sentiment: NaN on days without messages
    observed = int((~np.isnan(y)).sum())
    if observed < forecasting.MIN_TRAIN + horizon or not forecasting.origins(len(y), horizon):
        return {"answer": f"too few days ({observed}) to forecast {horizon} days and backtest that horizon;"
                          f" need at least {forecasting.MIN_TRAIN + horizon}", "evidence": {"days": len(y)}}
    bt = forecasting.backtest(y, horizon=horizon, confidence=confidence)  # the backtest covers the horizon asked for
    pick = forecasting.choose(bt)
    chosen, failure = pick["chosen"], ""
    covered = bt["interval_coverage"] is not None and bt["interval_coverage"] >= confidence - forecasting.COVERAGE_SLACK
    mean = low = high = None
    if chosen == "ets":
        try:
            mean, low, high = forecasting.ets(y, horizon, confidence)
        except forecasting.FitFailed as exc:  # then a baseline answers, named as itself
            chosen = pick["best_baseline"] or "no_change"
            failure = f"; {exc}, so {forecasting.NAMES[chosen]} answers"
    if chosen == "ets" and covered:
        interval = (f"ETS's own {round(confidence * 100)}% prediction interval (get_prediction); it held"
                    f" {bt['interval_coverage']:.0%} of the backtest's days")
    else:  # a baseline won, or ETS's interval did not cover what it claims: the backtest's errors give the width
        if chosen != "ets":
            mean = forecasting.CANDIDATES[chosen](y, horizon)
        half = float(np.quantile(bt["errors"][chosen], confidence))
        low, high = mean - half, mean + half
        interval = (f"+/- the {round(confidence * 100)}th percentile of its own {horizon}-day backtest errors"
                    " (each from a forecast fitted on earlier days only)")
    last = np.datetime64(days[-1])
    future = [str(last + np.timedelta64(i, "D")) for i in range(1, horizon + 1)]
    loses = chosen != "ets" and not failure  # a baseline won the backtest
    how = (f"chosen on the first {pick['selected_on']} origins, scored on the last {pick['scored_on']}" if pick["nested"]
           else f"chosen and scored on the same {pick['scored_on']} origins (too few to hold some out: optimistic)")
    missing = int(np.isnan(y).sum())
    if metric == "volume":  # messages are whole, and never fewer than none
        mean, low, high = np.maximum(mean, 0), np.maximum(low, 0), np.maximum(high, 0)
        say = lambda v: f"{round(float(v)):,}"  # noqa: E731
        unit = " messages a day"
    else:
        say = lambda v: f"{float(v):+.2f}"  # noqa: E731
        unit = " net sentiment"
    best, vs = pick["best_baseline"], pick.get("versus_baseline")
    verdict = {"ahead": "ahead of", "tied": "tied with", "behind": "behind"}
    versus = (f", {verdict[vs['verdict']]} {forecasting.NAMES[best]} in the backtest (mean error {pick['mae']['ets']:.3g} vs"
              f" {pick['mae'][best]:.3g})") if chosen == "ets" and best and vs and "verdict" in vs else ""
    answer = (f"{say(mean[0])}{unit} expected tomorrow and {say(mean[-1])} on {future[-1]} ({confidence:.0%} band"
              f" {say(low[-1])} to {say(high[-1])}), by {forecasting.NAMES[chosen]}{versus}"
              + (f" (ETS did not beat {forecasting.NAMES[chosen]}, which answers)" if loses else "")
              + (f" ({failure.lstrip('; ')})" if failure else "") + ".")
    under = chosen == "ets" and not covered and bt["interval_coverage"] is not None  # said once: a note, shown
    notes = [f"the model's own {confidence:.0%} interval held only {bt['interval_coverage']:.0%} of past days, so the"
             " band comes from past errors"] if under else []
    return {"answer": answer,
            "evidence": {"scope": scope.describe(), "history_days": len(y), "days_without_messages": missing,
                         **({"notes": notes} if notes else {}), "interval": interval,
                         "forecast": [{"day": d, "mean": round(float(m), 3), "low": round(float(lo), 3),
                                       "high": round(float(hi), 3)} for d, m, lo, hi in zip(future, mean, low, high)]},
            "series": {"x": days + future, metric: y.tolist() + [float("nan")] * horizon,
                       "forecast": [float("nan")] * len(y) + mean.tolist(),
                       # the band: drawn shaded between low and high (see pilang's plot)
                       "low": [float("nan")] * len(y) + np.asarray(low).tolist(),
                       "high": [float("nan")] * len(y) + np.asarray(high).tolist()},
            "model": forecasting.NAMES[chosen] + (" (missing days interpolated for the fit)" if missing and chosen == "ets" else ""),
            "held_out": {"metric": f"MAE over the observed days of a rolling-origin backtest ({bt['origins']} origins,"
                                   f" {bt['horizon']} days each, every model refitted on the days before its origin;"
                                   f" {how})",
                         # the same backtest as rows a person reads: each candidate's error, the one answering first
                         "backtest": [{"model": forecasting.NAMES[k], "mean_error": v, "answers": k == chosen}
                                      for k, v in sorted(pick["mae"].items(), key=lambda kv: (kv[0] != chosen, kv[1]))],
                         "mae": pick["mae"], "chosen": chosen, "nested": pick["nested"],
                         "versus_baseline": pick["versus_baseline"], "failed_fits": bt["failed_fits"],
                         "ets_interval_coverage": bt["interval_coverage"], "interval_claimed": confidence}}
