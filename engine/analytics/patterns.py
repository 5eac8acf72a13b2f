"""Recurring patterns: where else in a daily series does its latest stretch appear (DTW
subsequence alignment with dtaidistance), with the changes that preceded each match."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..workspace.dates import iso
from ..workspace.store import Workspace, WorkspaceError
from .forecasting import filled
from .reports import daily_features
from .series import DAY, Scope


def patterns(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """The k earlier stretches of a daily metric most like its last `window` days."""
    from dtaidistance.subsequence.dtw import subsequence_alignment
    scope = Scope.of(params)
    metric = params.get("metric") or "sentiment"
    window = int(params.get("window") or 7)
    k = int(params.get("k") or 3)
    days, feats, _, _, _ = daily_features(ws, scope)
    column = {"volume": 0, "sentiment": 1, "drift": 2}.get(metric)
    if column is None:
        raise WorkspaceError(f"no pattern metric {metric!r}; the metrics are: volume, sentiment, drift")
    if len(days) < 3 * window:
        return {"answer": f"too few days ({len(days)}) to look for {window}-day patterns; need {3 * window}",
                "evidence": {"days": len(days)}}
    observed = feats[:, column]  # NaN on days without messages (sentiment, drift)
    y = filled(observed)  # DTW needs every day: the missing ones interpolated between their neighbours
    z = (y - y.mean()) / (y.std() + 1e-9)
    query, history = z[-window:], z[:-window]
    matches = subsequence_alignment(query, history, use_c=False).kbest_matches(k=k, overlap=0, minlength=window // 2 + 1)
    found = []
    for m in matches:
        start, end = int(m.segment[0]), int(m.segment[1])
        t0 = (np.datetime64(days[start]) - np.datetime64("1970-01-01")) / np.timedelta64(1, "s")
        before = ws.db.execute("SELECT title, time FROM changes WHERE time <= ? AND time > ? ORDER BY time DESC LIMIT 1",
                               [t0 + DAY, t0 - 7 * DAY]).fetchone()
        found.append({"from": days[start], "to": days[end], "distance": round(float(m.value), 4),
                      "mean": round(float(np.nanmean(observed[start:end + 1])), 3),
                      "preceded_by": {"change": before[0], "time": iso(before[1])} if before else None})
    latest = f"{days[-window]}..{days[-1]}"
    listed = "; ".join(f"{f['from']}..{f['to']} (DTW {f['distance']:.2f}"
                       + (f", after {f['preceded_by']['change']}" if f["preceded_by"] else "") + ")" for f in found)
    return {"answer": f"the {metric} of {latest} looks most like {listed}" if found else "no similar stretch found",
            "evidence": {"scope": scope.describe(), "metric": metric, "window": window, "latest": latest,
                         "matches": found},
            "series": {"x": days, metric: observed.tolist()},
            "model": "dtaidistance subsequence alignment (DTW) on the z-scored daily series"}
