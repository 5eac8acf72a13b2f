"""Change impact: how each persona (and the whole community) moved after every past dated change,
and the reaction to a proposed change predicted from the most similar past changes, with conformal
intervals from the leave-one-change-out backtest and that backtest's score against "no change"."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analytics.sentiment import NEGATIVE, POSITIVE, model_for
from ..workspace.search import iso
from ..workspace.store import Workspace, WorkspaceError

DAY = 86400.0
BEFORE_DAYS, AFTER_DAYS = 14, 7  # the windows compared around a change
OBSERVE_DAYS = 14  # a player silent this long after the after-window has left
MIN_MESSAGES = 5  # fewer messages than this in either window and the shift is not measured
NEIGHBOURS = 3  # past changes a prediction is made from
TEMPERATURE = 0.05  # softmax temperature over cosine similarities: the closest change dominates
COMMUNITY = "community"
METRICS = {
    "satisfaction": "change in net sentiment (share of positive minus share of negative messages), after minus before",
    "engagement": "log ratio of messages per day after vs before",
    "churn_risk": "share of players active before who went silent within the week after and did not return",
}
NO_CHANGE = {"satisfaction": 0.0, "engagement": 0.0}  # the baseline; churn's baseline is its usual rate


@dataclass
class History:
    """Every dated change with its embedding and each group's measured shifts."""
    changes: list[dict[str, Any]]
    vectors: np.ndarray  # (changes, dim) unit rows
    groups: dict[str, str]  # group id -> name
    shifts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # group -> metric -> (changes,)
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # group -> (changes, 2) messages before/after


def _change_vectors(ws: Workspace, hashes: list[str]) -> np.ndarray:
    from ..workspace.embed import embedder
    found = dict(ws.db.execute(f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(hashes))})",
                               [ws.embed_model, *hashes]).fetchall()) if hashes else {}
    missing = [h for h in hashes if h not in found]
    if missing:  # normally embedded at ingest; an interrupted ingest may have left some
        texts = dict(ws.db.execute(f"SELECT content_hash, text FROM changes WHERE content_hash IN"
                                   f" ({','.join('?' * len(missing))})", missing).fetchall())
        for h, v in zip(missing, embedder(ws.embed_model).encode([texts[h] for h in missing])):
            found[h] = v.tobytes()
    dim = ws.vector_index().dim()
    return np.stack([np.frombuffer(found[h], np.float32) for h in hashes]) if hashes else np.zeros((0, dim), np.float32)


def history(ws: Workspace) -> History:
    """Measured shifts of the community and of each persona around every dated change (cached)."""
    if "change-history" in ws._derived:
        return ws._derived["change-history"]
    rows = ws.db.execute("SELECT id, time, title, text, content_hash FROM changes WHERE time IS NOT NULL ORDER BY time").fetchall()
    changes = [{"id": r[0], "time": r[1], "title": r[2], "text": r[3]} for r in rows]
    msgs = ws.db.execute("SELECT m.id, m.time, m.author, pm.persona FROM messages m LEFT JOIN persona_members pm"
                         " ON pm.author = m.author WHERE m.time IS NOT NULL ORDER BY m.time").fetchall()
    groups = {COMMUNITY: COMMUNITY, **dict(ws.db.execute("SELECT id, name FROM personas").fetchall())}
    hist = History(changes, _change_vectors(ws, [r[4] for r in rows]), groups)
    if not msgs or not changes:
        ws._derived["change-history"] = hist
        return hist
    times = np.array([m[1] for m in msgs])
    scores = model_for(ws).scores([m[0] for m in msgs])
    sent = (scores > POSITIVE).astype(float) - (scores < NEGATIVE)  # +1 positive, -1 negative, 0 neutral
    authors = np.array([m[2] or "" for m in msgs])
    persona = np.array([m[3] or "" for m in msgs])
    end = times.max()
    last_seen: dict[str, float] = {}
    for a, t in zip(authors, times):
        last_seen[a] = t
    for gid in groups:
        mask = np.ones(len(msgs), bool) if gid == COMMUNITY else persona == gid
        t, s, a = times[mask], sent[mask], authors[mask]
        out = {m: np.full(len(changes), np.nan) for m in METRICS}
        counts = np.zeros((len(changes), 2), int)
        for i, c in enumerate(changes):
            lo, mid, hi = (np.searchsorted(t, c["time"] - BEFORE_DAYS * DAY), np.searchsorted(t, c["time"]),
                           np.searchsorted(t, c["time"] + AFTER_DAYS * DAY))
            counts[i] = (mid - lo, hi - mid)
            if min(mid - lo, hi - mid) < MIN_MESSAGES:
                continue
            out["satisfaction"][i] = s[mid:hi].mean() - s[lo:mid].mean()
            out["engagement"][i] = math.log((hi - mid) / AFTER_DAYS + 0.5) - math.log((mid - lo) / BEFORE_DAYS + 0.5)
            if end >= c["time"] + (AFTER_DAYS + OBSERVE_DAYS) * DAY:
                active = {x for x in a[lo:mid] if x}
                left = sum(1 for x in active if last_seen[x] < c["time"] + AFTER_DAYS * DAY)
                out["churn_risk"][i] = left / len(active) if active else np.nan
        hist.shifts[gid], hist.counts[gid] = out, counts
    ws._derived["change-history"] = hist
    return hist


def _weights(sims: np.ndarray) -> np.ndarray:
    """Softmax weights over the NEIGHBOURS most similar (others 0)."""
    w = np.zeros_like(sims)
    top = np.argsort(-sims)[:NEIGHBOURS]
    e = np.exp((sims[top] - sims[top].max()) / TEMPERATURE)
    w[top] = e / e.sum()
    return w


def backtest(hist: History, group: str, metric: str) -> dict[str, Any]:
    """Leave-one-change-out: each measured change predicted from the others; MAE against the
    "no change" baseline (for churn: the mean rate of the other changes), Spearman, residuals."""
    y = hist.shifts.get(group, {}).get(metric)
    if y is None:
        return {"n": 0}
    known = np.where(~np.isnan(y))[0]
    if len(known) < 3:
        return {"n": int(len(known))}
    V = hist.vectors[known]
    preds, base = [], []
    for j, i in enumerate(known):
        others = np.delete(np.arange(len(known)), j)
        w = _weights(V[others] @ V[j])
        preds.append(float(w @ y[known[others]]))
        base.append(NO_CHANGE.get(metric, float(y[known[others]].mean())))
    preds_a, base_a, truth = np.array(preds), np.array(base), y[known]
    from scipy.stats import spearmanr
    rho = spearmanr(preds_a, truth).statistic if np.std(preds_a) > 0 and np.std(truth) > 0 else float("nan")
    return {"n": int(len(known)), "mae": float(np.abs(preds_a - truth).mean()),
            "baseline_mae": float(np.abs(base_a - truth).mean()), "spearman": float(rho),
            "residuals": np.abs(preds_a - truth), "predicted": preds_a, "baseline": base_a, "measured": truth,
            "change_ids": [hist.changes[i]["id"] for i in known]}


def conformal_half_width(residuals: np.ndarray, confidence: float) -> tuple[float, bool]:
    """Split-conformal half width at `confidence` from backtest residuals, and whether the number of
    residuals is enough for that coverage (if not: the largest residual, flagged)."""
    n = len(residuals)
    rank = math.ceil((n + 1) * confidence)
    if rank > n:
        return float(residuals.max()), False
    return float(np.sort(residuals)[rank - 1]), True


def change_text(change: str) -> str:
    """`nerf-weapon-damage` -> "nerf weapon damage"."""
    return change.replace("-", " ").replace("_", " ").strip()


def groups_for(ws: Workspace, hist: History, persona: str | None) -> list[str]:
    """The group ids a prediction covers: one persona, or the community and every persona."""
    if persona is None or persona == COMMUNITY:
        return list(hist.groups) if persona is None else [COMMUNITY]
    from ..personas.clusters import find
    return [find(ws, persona)["id"]]


def predict_reaction(ws: Workspace, change: str, persona: str | None = None,
                     confidence: float = 0.95) -> dict[str, Any]:
    """Each group's predicted satisfaction, engagement and churn shifts after a proposed change, with
    intervals, the most similar past changes as evidence, and the backtest of the model."""
    from ..workspace.embed import embedder
    if persona is not None and persona != COMMUNITY:
        from ..personas.clusters import ensure
        ensure(ws)
    hist = history(ws)
    if len(hist.changes) < 3:
        raise WorkspaceError(f"predictions learn from past dated changes; the workspace has {len(hist.changes)}"
                             " (ingest patch notes beside the community's messages)")
    text = change_text(change)
    q = embedder(ws.embed_model).encode([text])[0]
    sims = hist.vectors @ q
    # the backtest over every group decides, per metric, whether similar changes beat "no change"
    backtests = {(g, m): backtest(hist, g, m) for g in hist.groups for m in METRICS}
    score = _score(backtests)
    learned = {m: m in score and score[m]["mae"] < score[m]["no_change_mae"] for m in METRICS}
    groups = groups_for(ws, hist, persona)
    rows = []
    for gid in groups:
        row: dict[str, Any] = {"group": hist.groups[gid]}
        for metric in METRICS:
            y, bt = hist.shifts[gid][metric], backtests[(gid, metric)]
            if bt["n"] < 3:
                row[metric] = None
                continue
            known = np.where(~np.isnan(y))[0]
            if learned[metric]:
                mean, residuals = float(_weights(sims[known]) @ y[known]), bt["residuals"]
            else:
                mean, residuals = NO_CHANGE.get(metric, float(y[known].mean())), np.abs(bt["baseline"] - bt["measured"])
            half, covered = conformal_half_width(residuals, confidence)
            row[metric] = {"mean": round(mean, 3), "low": round(mean - half, 3), "high": round(mean + half, 3),
                           "coverage_ok": covered, "from": "similar changes" if learned[metric] else "no-change baseline"}
        rows.append(row)
    order = np.argsort(-sims)[:3]
    similar = [{"change": hist.changes[i]["title"], "date": iso(hist.changes[i]["time"]), "id": hist.changes[i]["id"],
                "similarity": round(float(sims[i]), 3),
                "measured": {hist.groups[g]: {m: (None if np.isnan(hist.shifts[g][m][i]) else round(float(hist.shifts[g][m][i]), 3))
                                               for m in METRICS} for g in groups},
                "messages_before_after": {hist.groups[g]: hist.counts[g][i].tolist() for g in groups}}
               for i in order]
    baseline_only = [m for m in METRICS if m in score and not learned[m]]
    answer = _sentence(text, rows, confidence)
    if baseline_only:
        nearest = similar[0]
        shifts = "; ".join(f"{g} {m} {v:+.2f}" for g, ms in nearest["measured"].items() for m, v in ms.items()
                           if m in baseline_only and v is not None)
        answer += (f". For {', '.join(baseline_only)} similar past changes did not beat \"no change\" in the backtest,"
                   f" so the no-change baseline is given; the closest past change, {nearest['change']}"
                   f" ({nearest['date'][:10]}, similarity {nearest['similarity']:.2f}), measured: {shifts}")
    return {"answer": answer, "rows": rows,
            "evidence": {"change": text, "similar_changes": similar, "past_changes": len(hist.changes),
                         "windows": f"{BEFORE_DAYS} days before vs {AFTER_DAYS} days after each change",
                         "metrics": METRICS, "predicted_from": {m: "similar changes" if learned[m] else "no-change baseline"
                                                                for m in METRICS if m in score}},
            "model": f"similarity-weighted mean of the {NEIGHBOURS} most similar past changes (change texts embedded"
                     f" with {ws.embed_model}) where that beats no change in the leave-one-change-out backtest;"
                     " split-conformal intervals from the backtest residuals",
            "held_out": score}


def _score(backtests: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Pooled leave-one-change-out scores per metric: MAE vs the baseline's, Spearman."""
    out: dict[str, Any] = {"metric": "leave-one-change-out backtest"}
    for metric in METRICS:
        parts = [bt for (g, m), bt in backtests.items() if m == metric and bt.get("n", 0) >= 3]
        if not parts:
            continue
        pred = np.concatenate([p["predicted"] for p in parts])
        truth = np.concatenate([p["measured"] for p in parts])
        base = np.concatenate([p["baseline"] for p in parts])
        from scipy.stats import spearmanr
        rho = spearmanr(pred, truth).statistic if np.std(pred) > 0 and np.std(truth) > 0 else float("nan")
        out[metric] = {"mae": round(float(np.abs(pred - truth).mean()), 4),
                       "no_change_mae": round(float(np.abs(base - truth).mean()), 4),
                       "spearman": None if np.isnan(rho) else round(float(rho), 3), "n": int(len(truth))}
    return out


def _sentence(text: str, rows: list[dict[str, Any]], confidence: float) -> str:
    """One line per group: the three predicted shifts with their intervals."""
    pct = f"{round(confidence * 100)}%"
    parts = []
    for row in rows:
        bits = []
        for metric, label in (("satisfaction", "satisfaction"), ("engagement", "engagement"), ("churn_risk", "churn risk")):
            v = row.get(metric)
            if v is not None:
                bits.append(f"{label} {v['mean']:+.2f} [{v['low']:+.2f}, {v['high']:+.2f}]")
        parts.append(f"{row['group']}: " + (", ".join(bits) if bits else "too little history to predict"))
    return f"predicted reaction to \"{text}\" ({pct} intervals): " + "; ".join(parts)
