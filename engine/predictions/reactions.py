"""Change impact: how each persona (and the whole community) moved after every past dated change,
and the reaction to a proposed change predicted from the most similar past changes.

The before/after windows of a change stop at its neighbouring changes (a week after one patch is not
the week before the next). The backtest runs in time order: each change is predicted only from the
changes before it, against "no change", for the community and for the personas separately; in it a
player's persona is decided only by what was known before each change (centroids fitted on the messages
before the first predicted change, each player placed by their messages before that change), so the
future never defines the groups. Intervals are split-conformal (crepes) on those out-of-sample
residuals; where there are too few residuals for the coverage asked, the interval is unbounded."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analytics.sentiment import model_for
from ..evaluation.verdict import loss_difference
from ..workspace.dates import iso
from ..workspace.derived import derived
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
    # the personas as known before each change (see backtest_groups): what the backtest scores
    backtest_groups: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    # groups whose churn is not measured, and why (where one message per player is the norm, silence
    # after a change says nothing: a store reviewer writes once)
    churn_refused: dict[str, str] = field(default_factory=dict)


def _change_vectors(ws: Workspace, hashes: list[str]) -> np.ndarray:
    found = dict(ws.db.execute(f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(hashes))})",
                               [ws.embed_model, *hashes]).fetchall()) if hashes else {}
    missing = [h for h in hashes if h not in found]
    if missing:  # normally embedded at ingest; an interrupted ingest may have left some
        texts = dict(ws.db.execute(f"SELECT content_hash, text FROM changes WHERE content_hash IN"
                                   f" ({','.join('?' * len(missing))})", missing).fetchall())
        for h, v in zip(missing, ws.embedder().encode([texts[h] for h in missing])):
            found[h] = v.tobytes()
    dim = ws.vector_index().dim()
    return np.stack([np.frombuffer(found[h], np.float32) for h in hashes]) if hashes else np.zeros((0, dim), np.float32)


def history(ws: Workspace) -> History:
    """Measured shifts of the community and of each persona around every dated change (cached)."""
    return derived(ws, "change-history", lambda: _history(ws))


def _history(ws: Workspace) -> History:
    rows = ws.db.execute("SELECT id, time, title, text, content_hash FROM changes WHERE time IS NOT NULL ORDER BY time").fetchall()
    changes = [{"id": r[0], "time": r[1], "title": r[2], "text": r[3]} for r in rows]
    msgs = ws.db.execute("SELECT m.id, m.time, m.author, pm.persona FROM messages m LEFT JOIN persona_members pm"
                         " ON pm.author = m.author WHERE m.time IS NOT NULL ORDER BY m.time").fetchall()
    groups = {COMMUNITY: COMMUNITY, **dict(ws.db.execute("SELECT id, name FROM personas").fetchall())}
    hist = History(changes, _change_vectors(ws, [r[4] for r in rows]), groups)
    if not msgs or not changes:
        return hist
    times = np.array([m[1] for m in msgs])
    net = model_for(ws).net([m[0] for m in msgs])  # +1 positive, -1 negative, 0 neutral (most probable class)
    keep = ~np.isnan(net)  # a message with no score (its language has no scored model) says nothing here
    msgs, times, sent = [m for m, k in zip(msgs, keep) if k], times[keep], net[keep]
    authors = np.array([m[2] or "" for m in msgs])
    persona = np.array([m[3] or "" for m in msgs])
    end = times.max()
    last_seen: dict[str, float] = {}
    for a, t in zip(authors, times):
        last_seen[a] = t
    bounds = windows(changes)
    from ..personas.clusters import silence_means_something
    for gid in groups:
        mask = np.ones(len(msgs), bool) if gid == COMMUNITY else persona == gid
        hist.shifts[gid], hist.counts[gid] = measure(changes, bounds, times, sent, authors, [mask] * len(changes),
                                                     last_seen, end)
        per_player = np.unique(authors[mask & (authors != "")], return_counts=True)[1]
        if not silence_means_something(per_player):
            hist.shifts[gid]["churn_risk"][:] = np.nan
            hist.churn_refused[hist.groups[gid]] = (
                f"churn risk not predicted: the median player here wrote {int(np.median(per_player)) if len(per_player) else 0}"
                " message(s), so going silent after a change says nothing (a store review is written once)")
    hist.backtest_groups = backtest_groups(ws, changes, msgs, times, sent, authors, bounds, last_seen, end)
    if COMMUNITY in hist.churn_refused:
        for shifts in hist.backtest_groups.values():  # the backtest's personas are the same players
            shifts["churn_risk"][:] = np.nan
    return hist


def windows(changes: list[dict[str, Any]]) -> list[tuple[float, float, float]]:
    """(start, change, end) of each change's before/after windows: BEFORE_DAYS / AFTER_DAYS, cut at
    the neighbouring changes so that no window holds another change's reaction."""
    out = []
    for i, c in enumerate(changes):
        start = c["time"] - BEFORE_DAYS * DAY
        end = c["time"] + AFTER_DAYS * DAY
        if i > 0:
            start = max(start, changes[i - 1]["time"])
        if i + 1 < len(changes):
            end = min(end, changes[i + 1]["time"])
        out.append((start, c["time"], end))
    return out


def measure(changes: list[dict[str, Any]], bounds: list[tuple[float, float, float]], times: np.ndarray,
            sent: np.ndarray, authors: np.ndarray, masks: list[np.ndarray], last_seen: dict[str, float],
            end: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One group's shifts around every change (its members at change i: masks[i]) and its message
    counts before/after."""
    out = {m: np.full(len(changes), np.nan) for m in METRICS}
    counts = np.zeros((len(changes), 2), int)
    for i, (start, at, stop) in enumerate(bounds):
        lo, mid, hi = np.searchsorted(times, [start, at, stop])
        before, after = np.flatnonzero(masks[i][lo:mid]) + lo, np.flatnonzero(masks[i][mid:hi]) + mid
        counts[i] = (len(before), len(after))
        if min(len(before), len(after)) < MIN_MESSAGES or stop <= at or at <= start:
            continue
        out["satisfaction"][i] = sent[after].mean() - sent[before].mean()
        out["engagement"][i] = (math.log(len(after) / ((stop - at) / DAY) + 0.5)
                                - math.log(len(before) / ((at - start) / DAY) + 0.5))
        if end >= at + (AFTER_DAYS + OBSERVE_DAYS) * DAY:
            active = {x for x in authors[before] if x}
            left = sum(1 for x in active if last_seen[x] < stop)
            out["churn_risk"][i] = left / len(active) if active else np.nan
    return out, counts


def backtest_groups(ws: Workspace, changes: list[dict[str, Any]], msgs: list[Any], times: np.ndarray,
                    sent: np.ndarray, authors: np.ndarray, bounds: list[tuple[float, float, float]],
                    last_seen: dict[str, float], end: float) -> dict[str, dict[str, np.ndarray]]:
    """The personas as the backtest may know them: k centroids (k = the stored personas') fitted on
    the players' messages before the first change the backtest predicts (the second), each player
    placed at each change by their messages before it. Their measured shifts, by group."""
    from sklearn.cluster import KMeans

    from ..analytics.sentiment import message_vectors
    k = ws.db.execute("SELECT count(*) FROM personas").fetchone()[0]
    if k < 2 or len(changes) < 3:
        return {}
    vecs = message_vectors(ws, [m[0] for m in msgs])
    names = sorted(set(authors) - {""})
    index = {a: i for i, a in enumerate(names)}
    who = np.array([index.get(a, -1) for a in authors])

    def means_until(t: float) -> tuple[np.ndarray, np.ndarray]:
        n = np.searchsorted(times, t)
        keep = who[:n] >= 0
        sums = np.zeros((len(names), vecs.shape[1]))
        np.add.at(sums, who[:n][keep], vecs[:n][keep])
        seen = np.bincount(who[:n][keep], minlength=len(names)) > 0
        return sums / (np.linalg.norm(sums, axis=1, keepdims=True) + 1e-9), seen
    first, seen0 = means_until(changes[1]["time"])
    if seen0.sum() < 2 * k:
        return {}
    centers = KMeans(k, n_init=10, random_state=0).fit(first[seen0]).cluster_centers_
    masks: dict[int, list[np.ndarray]] = {j: [] for j in range(k)}
    for c in changes:
        emb, seen = means_until(c["time"])
        place = np.where(seen, np.argmax(emb @ centers.T, axis=1), -1)
        member = np.where(who >= 0, place[np.maximum(who, 0)], -1)
        for j in range(k):
            masks[j].append(member == j)
    return {f"early-persona-{j + 1}": measure(changes, bounds, times, sent, authors, masks[j], last_seen, end)[0]
            for j in range(k)}


def _weights(sims: np.ndarray) -> np.ndarray:
    """Softmax weights over the NEIGHBOURS most similar (others 0)."""
    w = np.zeros_like(sims)
    top = np.argsort(-sims)[:NEIGHBOURS]
    e = np.exp((sims[top] - sims[top].max()) / TEMPERATURE)
    w[top] = e / e.sum()
    return w


def backtest(hist: History, y: np.ndarray | None, metric: str) -> dict[str, Any]:
    """In time order: each measured change predicted only from the measured changes before it; MAE
    against "no change" (for churn: the mean rate of the earlier changes), Spearman, signed residuals."""
    if y is None:
        return {"n": 0}
    known = np.where(~np.isnan(y))[0]  # changes are in time order
    preds, base, truth, ids = [], [], [], []
    for j in range(1, len(known)):
        earlier, i = known[:j], known[j]
        w = _weights(hist.vectors[earlier] @ hist.vectors[i])
        preds.append(float(w @ y[earlier]))
        base.append(NO_CHANGE.get(metric, float(y[earlier].mean())))
        truth.append(float(y[i]))
        ids.append(hist.changes[i]["id"])
    if len(truth) < 2:
        return {"n": len(truth)}
    preds_a, base_a, truth_a = np.array(preds), np.array(base), np.array(truth)
    from scipy.stats import spearmanr
    rho = spearmanr(preds_a, truth_a).statistic if np.std(preds_a) > 0 and np.std(truth_a) > 0 else float("nan")
    return {"n": len(truth), "mae": float(np.abs(preds_a - truth_a).mean()),
            "baseline_mae": float(np.abs(base_a - truth_a).mean()), "spearman": float(rho),
            "residuals": truth_a - preds_a, "baseline_residuals": truth_a - base_a,
            "predicted": preds_a, "baseline": base_a, "measured": truth_a, "change_ids": ids}


def conformal_interval(mean: float, residuals: np.ndarray, confidence: float) -> tuple[float, float, bool]:
    """Split-conformal interval (crepes) around `mean` from out-of-sample residuals, and whether there
    were enough of them for that coverage (if not, the interval is unbounded)."""
    import warnings

    from crepes import ConformalRegressor
    cr = ConformalRegressor()
    cr.fit(residuals=np.asarray(residuals, dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # crepes warns when the interval must be unbounded; we say so
        low, high = cr.predict_int(np.array([mean]), confidence=confidence)[0]
    return float(low), float(high), bool(np.isfinite(low) and np.isfinite(high))


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
                     confidence: float = 0.95, focus: str | None = None) -> dict[str, Any]:
    """Each group's predicted satisfaction, engagement and churn shifts after a proposed change, with
    intervals, the most similar past changes as evidence, and the backtest of the model. `focus` (one of
    METRICS) is the one the headline is about."""
    if focus is not None and focus not in METRICS:
        raise WorkspaceError(f"a reaction is predicted for {', '.join(METRICS)}; not {focus!r}")
    if persona is not None and persona != COMMUNITY:
        from ..personas.clusters import ensure
        ensure(ws)
    hist = history(ws)
    if len(hist.changes) < 3:
        raise WorkspaceError(f"predictions learn from past dated changes; the workspace has {len(hist.changes)}"
                             " (ingest patch notes beside the community's messages)")
    text = change_text(change)
    q = ws.embedder().encode([text])[0]
    sims = hist.vectors @ q
    # the time-ordered backtest decides, per metric, whether similar changes beat "no change": for the
    # community on its own, for personas on the personas as known before each change
    scored = {"community": {COMMUNITY: hist.shifts.get(COMMUNITY, {})}, "personas": hist.backtest_groups}
    backtests = {(side, m): [backtest(hist, shifts.get(m), m) for shifts in groups_.values()]
                 for side, groups_ in scored.items() for m in METRICS}
    score = _score(backtests)
    learned = {(side, m): m in score.get(side, {}) and score[side][m]["versus_no_change"]["verdict"] == "ahead"
               for side in scored for m in METRICS}
    groups = groups_for(ws, hist, persona)
    rows = []
    for gid in groups:
        side = "community" if gid == COMMUNITY else "personas"
        row: dict[str, Any] = {"group": hist.groups[gid]}
        for metric in METRICS:
            y = hist.shifts[gid][metric]
            parts = [bt for bt in backtests[(side, metric)] if bt.get("n", 0) >= 2]
            known = np.where(~np.isnan(y))[0]
            if not parts or len(known) < 2:
                row[metric] = None
                continue
            use = learned[(side, metric)]
            if use:
                mean = float(_weights(sims[known]) @ y[known])
                residuals = np.concatenate([bt["residuals"] for bt in parts])
            else:
                mean = NO_CHANGE.get(metric, float(y[known].mean()))
                residuals = np.concatenate([bt["baseline_residuals"] for bt in parts])
            low, high, covered = conformal_interval(mean, residuals, confidence)
            row[metric] = {"mean": round(mean, 3), "low": round(low, 3), "high": round(high, 3),
                           "coverage_ok": covered, "from": "similar changes" if use else "no-change baseline"}
        rows.append(row)
    order = np.argsort(-sims)[:3]
    similar = [{"change": hist.changes[i]["title"], "date": iso(hist.changes[i]["time"]), "id": hist.changes[i]["id"],
                "similarity": round(float(sims[i]), 3),
                "measured": {hist.groups[g]: {m: (None if np.isnan(hist.shifts[g][m][i]) else round(float(hist.shifts[g][m][i]), 3))
                                               for m in METRICS} for g in groups},
                "messages_before_after": {hist.groups[g]: hist.counts[g][i].tolist() for g in groups}}
               for i in order]
    side = "community" if COMMUNITY in groups else "personas"
    baseline_only = [m for m in METRICS if m in score.get(side, {}) and not learned[(side, m)]]
    refused = {r["group"]: hist.churn_refused[r["group"]] for r in rows if r["group"] in hist.churn_refused}
    answer = _sentence(text, rows, confidence, focus, refused)
    notes = [f"{g}: {why}" for g, why in refused.items()]
    if baseline_only:
        nearest = similar[0]
        shifts = "; ".join(f"{g} {m.replace('_', ' ')} {v:.0%}" if m == "churn_risk" else f"{g} {m} {v:+.2f}"
                           for g, ms in nearest["measured"].items()
                           for m, v in ms.items() if m in baseline_only and v is not None)
        notes.append(f"for {', '.join(m.replace('_', ' ') for m in baseline_only)} similar past changes did not beat"
                     " \"no change\" in the time-ordered backtest, so \"no change\" is the prediction"
                     + (" (for churn risk, its usual rate after a change)" if "churn_risk" in baseline_only else "")
                     + "; the closest past"
                     f" change, {nearest['change']} ({nearest['date'][:10]}, similarity {nearest['similarity']:.2f}),"
                     f" measured: {shifts}")
    return {"answer": answer, "predictions": rows, **table_rows(rows, confidence),
            "evidence": {"change": text, "confidence": confidence, **({"notes": notes} if notes else {}),
                         "similar_changes": similar, "past_changes": len(hist.changes),
                         "windows": f"{BEFORE_DAYS} days before vs {AFTER_DAYS} days after each change, cut at the"
                                    " neighbouring changes",
                         "metrics": METRICS,
                         **({"not_predicted": hist.churn_refused} if hist.churn_refused else {}),
                         "predicted_from": {f"{s_}:{m}": "similar changes" if learned[(s_, m)] else "no-change baseline"
                                            for s_ in scored for m in METRICS if m in score.get(s_, {})}},
            "model": f"similarity-weighted mean of the {NEIGHBOURS} most similar past changes (change texts embedded"
                     f" with {ws.embed_model}) where that beats no change in the time-ordered backtest;"
                     " split-conformal intervals (crepes) from that backtest's residuals",
            "held_out": score}


def backtest_score(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One metric's time-ordered backtest score, pooled over groups' backtests with 2+ predictions: MAE vs the
    no-change baseline's, Spearman, how many predictions, and the paired verdict (None: nothing to score)."""
    from scipy.stats import spearmanr
    parts = [p for p in parts if p.get("n", 0) >= 2]
    if not parts:
        return None
    pred = np.concatenate([p["predicted"] for p in parts])
    truth = np.concatenate([p["measured"] for p in parts])
    base = np.concatenate([p["baseline"] for p in parts])
    rho = spearmanr(pred, truth).statistic if np.std(pred) > 0 and np.std(truth) > 0 else float("nan")
    return {"mae": round(float(np.abs(pred - truth).mean()), 4),
            "no_change_mae": round(float(np.abs(base - truth).mean()), 4),
            "spearman": None if np.isnan(rho) else round(float(rho), 3), "n": int(len(truth)),
            # paired over the predicted changes: a tie keeps "no change"
            "versus_no_change": loss_difference(np.abs(pred - truth), np.abs(base - truth))}


def _score(backtests: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[str, Any]:
    """Time-ordered backtest scores per side (community; personas, pooled over the personas) and metric."""
    out: dict[str, Any] = {"metric": "time-ordered backtest: each past change predicted only from earlier ones"}
    for (side, metric), parts in backtests.items():
        scored = backtest_score(parts)
        if scored is not None:
            out.setdefault(side, {})[metric] = scored
    return out


LABELS = {"satisfaction": "satisfaction", "engagement": "engagement", "churn_risk": "churn risk"}


def table_rows(predictions: list[dict[str, Any]], confidence: float) -> dict[str, Any]:
    """A prediction's per-group rows as a table: each metric in words, "mean [low, high]" (see shift_text)."""
    columns = [m.replace("_", "-") for m in METRICS]
    rows = [{"group": row["group"], **{c: shift_text(row.get(m), confidence, m) for c, m in zip(columns, METRICS)}}
            for row in predictions]
    return {"rows": rows, "columns": ["group", *columns]}


def shift_text(v: dict[str, Any] | None, confidence: float, metric: str = "satisfaction") -> str:
    """A prediction in words: a shift "+0.02 (95% interval -0.10 to +0.14)", "no change" where the
    backtest kept the baseline, or why there is no bound. Churn risk is a share of the active players, not
    a shift: "10% (...)", its baseline "the usual rate after a change"."""
    if v is None:
        return "too little history to predict"
    share = metric == "churn_risk"
    low, high = (max(v["low"], 0.0), min(v["high"], 1.0)) if share else (v["low"], v["high"])
    say = (lambda x: f"{x:.0%}") if share else (lambda x: f"{x:+.2f}")  # noqa: E731
    bound = f"{confidence:.0%} interval {say(low)} to {say(high)}" if v["coverage_ok"] else \
        "too little history to bound it"
    if v["from"] == "no-change baseline":
        if share:
            return f"{say(v['mean'])} of active players go silent, the usual rate after a change ({bound})"
        if v["mean"] == 0:
            return f"no change expected ({bound})"
    return f"{say(v['mean'])}{' of active players go silent' if share else ''} ({bound})"


def _sentence(text: str, rows: list[dict[str, Any]], confidence: float, focus: str | None = None,
              refused: dict[str, str] | None = None) -> str:
    """One sentence about the group asked about (the community when all are given): each metric's shift
    (or only the one in focus); the other groups are the table's rows. A churn risk refused for the group
    says so (and why), never "too little history"."""
    row = next((r for r in rows if r["group"] == COMMUNITY), rows[0]) if rows else None
    if row is None:
        return f"No group to predict a reaction to \"{text}\" for."
    metrics = [focus] if focus else list(LABELS)
    why = (refused or {}).get(row["group"])
    said = [f"{LABELS[m]} not predicted (its players write about once: going silent says nothing)"
            if m == "churn_risk" and why else f"{LABELS[m]} {shift_text(row.get(m), confidence, m)}" for m in metrics]
    more = f" ({len(rows) - 1} personas in the table)" if len(rows) > 1 else ""
    return f"If \"{text}\" ships, {row['group']}{more}: " + "; ".join(said) + "."
