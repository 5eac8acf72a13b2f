"""Comparisons side by side: two personas, one group in two time ranges, or the predicted reactions
to two changes. Each row carries both values, the difference and whether it is significant (tests
Holm-corrected at the requested confidence; for predictions, non-overlapping intervals). Tests have
players as their units (per-player values, or a bootstrap that resamples players), never messages. Two
personas are tested only on what their clustering did not see; the rest is shown as description."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..analytics.sentiment import model_for
from ..personas import clusters as personas
from ..workspace.dates import iso, parse_date
from ..workspace.store import Workspace
from .reactions import COMMUNITY, METRICS, predict_reaction

DAY = 86400.0
COLUMNS = ["metric", "a", "b", "difference", "p_value", "significant", "test"]


def _mwu(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import mannwhitneyu
    return float(mannwhitneyu(a, b).pvalue) if len(a) and len(b) else 1.0


def _two_proportions(ka: int, na: int, kb: int, nb: int) -> float:
    """Two-sided p of a difference in proportions (statsmodels' pooled z test); units are players."""
    from statsmodels.stats.proportion import proportions_ztest
    if not na or not nb or (ka + kb) in (0, na + nb):
        return 1.0
    return float(proportions_ztest([ka, kb], [na, nb])[1])


def cluster_bootstrap(a: np.ndarray, who_a: np.ndarray, b: np.ndarray, who_b: np.ndarray, n: int = 2000,
                      seed: int = 0) -> tuple[float, list[float]]:
    """(two-sided p, 95% interval) of mean(a) - mean(b) for message values clustered by player: the
    players are resampled (each with all of their messages, in both samples), not the messages, so a
    few prolific players cannot make a difference look certain."""
    if not len(a) or not len(b):
        return 1.0, [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    players = np.unique(np.concatenate([who_a, who_b]))
    index = {p: i for i, p in enumerate(players)}
    ia, ib = np.array([index[p] for p in who_a]), np.array([index[p] for p in who_b])
    sums_a, counts_a = np.bincount(ia, a, len(players)), np.bincount(ia, minlength=len(players))
    sums_b, counts_b = np.bincount(ib, b, len(players)), np.bincount(ib, minlength=len(players))
    draws = rng.integers(0, len(players), (n, len(players)))
    weight = np.stack([np.bincount(d, minlength=len(players)) for d in draws])  # times each player is drawn
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = (weight @ sums_a) / (weight @ counts_a) - (weight @ sums_b) / (weight @ counts_b)
    diff = diff[np.isfinite(diff)]
    p = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean())) if len(diff) else 1.0
    return float(p), [round(float(np.quantile(diff, 0.025)), 4), round(float(np.quantile(diff, 0.975)), 4)]


def _holm(rows: list[dict[str, Any]], alpha: float) -> list[dict[str, Any]]:
    """Mark rows significant by Holm's step-down correction over their p-values (statsmodels)."""
    from statsmodels.stats.multitest import multipletests
    reject = multipletests([r["p_value"] for r in rows], alpha=alpha, method="holm")[0] if rows else []
    for r, significant in zip(rows, reject):
        r["significant"] = bool(significant)
        r["p_value"] = round(r["p_value"], 4)
    return rows


def _row(metric: str, a: np.ndarray | float, b: np.ndarray | float, p: float, test: str) -> dict[str, Any]:
    va = float(np.mean(a)) if np.size(a) else float("nan")
    vb = float(np.mean(b)) if np.size(b) else float("nan")
    return {"metric": metric, "a": round(va, 3), "b": round(vb, 3), "difference": round(va - vb, 3),
            "p_value": p, "test": test}


def _messages(ws: Workspace, group: str | None, since: float | None, until: float | None) -> list[tuple[int, str, float]]:
    """(id, author, time) of a persona's (None: everyone's) dated messages in a window."""
    sql = "SELECT m.id, m.author, m.time FROM messages m"
    cond, args = ["m.time IS NOT NULL"], []
    if group is not None:
        sql += " JOIN persona_members pm ON pm.author = m.author"
        cond.append("pm.persona = ?")
        args.append(group)
    if since is not None:
        cond.append("m.time >= ?")
        args.append(since)
    if until is not None:
        cond.append("m.time < ?")
        args.append(until)
    return ws.db.execute(f"{sql} WHERE {' AND '.join(cond)} ORDER BY m.time", args).fetchall()


def _summary(text: str, rows: list[dict[str, Any]]) -> str:
    sig = [r["metric"] for r in rows if r["significant"]]
    return f"{text}: {len(sig)} of {len(rows)} differences significant" + (f" ({', '.join(sig)})" if sig else "")


CLUSTERED = "descriptive: the personas were clustered on it, so a test would find a difference by construction"


def _descriptive(metric: str, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    return {**_row(metric, a, b, float("nan"), CLUSTERED), "p_value": None, "significant": None}


def compare_personas(ws: Workspace, a: str, b: str, confidence: float = 0.95) -> dict[str, Any]:
    """Two personas side by side. What the clustering saw (activity, sentiment, negativity: its behaviour
    features, and sentiment is a function of the clustered embedding) is shown descriptively, without a
    p-value: groups formed to differ on a feature always differ on it. Tests (per player, Holm-corrected)
    only on what the clustering did not see: going quiet, and hours played where the platform reports it."""
    pa, pb = personas.find(ws, a), personas.find(ws, b)
    p = personas.players(ws)
    where = dict(ws.db.execute("SELECT author, persona FROM persona_members").fetchall())
    label = np.array([where.get(x, "") for x in p.authors])
    ma, mb = label == pa["id"], label == pb["id"]
    sent = model_for(ws)
    qa, qb = pa["profile"]["gone_quiet"], pb["profile"]["gone_quiet"]
    tested = []  # every test has players as its units (a player's messages are not independent of each other)
    if qa is not None and qb is not None:
        tested.append(_row("share of players gone quiet", qa / max(pa["size"], 1), qb / max(pb["size"], 1),
                           _two_proportions(qa, pa["size"], qb, pb["size"]), "two-proportion z over players"))
    ha, hb = p.playtime[ma & (p.playtime > 0)], p.playtime[mb & (p.playtime > 0)]
    if len(ha) >= 5 and len(hb) >= 5:
        tested.append(_row("hours played per player (where reported)", ha, hb, _mwu(ha, hb),
                           "Mann-Whitney U over players"))
    _holm(tested, 1 - confidence)
    shown = [_descriptive("messages per player", p.messages[ma], p.messages[mb]),
             _descriptive("active days per player", np.expm1(p.behaviour[ma, 1]), np.expm1(p.behaviour[mb, 1])),
             _descriptive("mean sentiment per player", p.sentiment[ma], p.sentiment[mb]),
             _descriptive("negative message share per player", p.behaviour[ma, 3], p.behaviour[mb, 3])]
    head = f"{pa['name']} (a, {pa['size']} players) vs {pb['name']} (b, {pb['size']} players)"
    answer = (_summary(head, tested) + " on what the clustering did not see" if tested else
              f"{head}: nothing the clustering did not see to test")
    answer += "; activity, sentiment and negativity are shown without a test (the personas were clustered on them)"
    return {"answer": answer, "rows": tested + shown, "columns": COLUMNS,
            "evidence": {"a": {"persona": pa["name"], "terms": pa["terms"][:8], "quotes": pa["quotes"][:2]},
                         "b": {"persona": pb["name"], "terms": pb["terms"][:8], "quotes": pb["quotes"][:2]},
                         "alpha": round(1 - confidence, 4), "correction": "Holm",
                         "not_tested": [r["metric"] for r in shown],
                         "why_not_tested": "the clustering space holds these features (and the message embedding that"
                                           " sentiment is read from): a p-value on them would be invalid"},
            "model": f"sentiment: {sent.describe()['model']}", "held_out": sent.score_}


def compare_periods(ws: Workspace, group: str, first: tuple[Any, Any], second: tuple[Any, Any],
                    confidence: float = 0.95) -> dict[str, Any]:
    """One persona (or the community) in two time ranges: volume, sentiment, negativity, players."""
    gid = None if group == COMMUNITY else personas.find(ws, group)["id"]
    ranges = [(parse_date(s), parse_date(u)) for s, u in (first, second)]
    sent = model_for(ws)
    sides = []
    for since, until in ranges:
        msgs = _messages(ws, gid, since, until)
        times = np.array([m[2] for m in msgs])
        start = since if since is not None else (times.min() if len(times) else 0)
        stop = until if until is not None else (times.max() + 1 if len(times) else 0)
        days = max(1, int(np.ceil((stop - start) / DAY)))
        daily = np.bincount(((times - start) // DAY).astype(int), minlength=days)[:days] if len(times) else np.zeros(days)
        scores, net = sent.scores_and_net([m[0] for m in msgs])
        scored = ~np.isnan(scores)  # a message with no score is in the volume, not in the sentiment tests
        sides.append({"msgs": msgs, "who": np.array([m[1] or "" for m, k in zip(msgs, scored) if k]),
                      "scores": scores[scored],
                      "negative": (net[scored] == -1).astype(float), "daily": daily, "unscored": int((~scored).sum()),
                      "players": len({m[1] for m in msgs}), "range": [iso(since), iso(until)]})
    a, b = sides
    na, nb = a["negative"], b["negative"]
    who_a, who_b = a["who"], b["who"]
    p_sent, _ = cluster_bootstrap(a["scores"], who_a, b["scores"], who_b)
    p_neg, _ = cluster_bootstrap(na, who_a, nb, who_b)
    rows = [_row("messages per day", a["daily"], b["daily"], _mwu(a["daily"], b["daily"]), "Mann-Whitney U over days"),
            _row("message sentiment", a["scores"], b["scores"], p_sent, "player-cluster bootstrap"),
            _row("negative message share", na, nb, p_neg, "player-cluster bootstrap")]
    _holm(rows, 1 - confidence)
    rows.append({"metric": "players posting", "a": a["players"], "b": b["players"],
                 "difference": a["players"] - b["players"], "p_value": None, "significant": None, "test": "count"})
    return {"answer": _summary(f"{group} in {a['range'][0] or 'start'}..{a['range'][1] or 'end'} (a) vs"
                               f" {b['range'][0] or 'start'}..{b['range'][1] or 'end'} (b)", rows[:-1]),
            "rows": rows, "columns": COLUMNS,
            "evidence": {"a": {"range": a["range"], "messages": len(a["msgs"]), "unscored": a["unscored"]},
                         "b": {"range": b["range"], "messages": len(b["msgs"]), "unscored": b["unscored"]},
                         "alpha": round(1 - confidence, 4), "correction": "Holm"},
            "model": f"sentiment: {sent.describe()['model']}", "held_out": sent.score_}


def compare_changes(ws: Workspace, a: str, b: str, persona: str | None = None,
                    confidence: float = 0.95) -> dict[str, Any]:
    """Predicted reactions to two changes side by side; a difference is significant when the two
    intervals do not overlap (and both have the coverage asked for)."""
    ra, rb = (predict_reaction(ws, c, persona, confidence) for c in (a, b))
    rows = []
    for ga, gb in zip(ra["predictions"], rb["predictions"]):
        for metric in METRICS:
            va, vb = ga.get(metric), gb.get(metric)
            if va is None or vb is None:
                continue
            apart = va["high"] < vb["low"] or vb["high"] < va["low"]
            rows.append({"metric": f"{ga['group']}: {metric}", "a": va["mean"], "b": vb["mean"],
                         "difference": round(va["mean"] - vb["mean"], 3), "p_value": None,
                         "significant": bool(apart and va["coverage_ok"] and vb["coverage_ok"]),
                         "test": f"{round(confidence * 100)}% intervals [{va['low']:+.2f}, {va['high']:+.2f}]"
                                 f" vs [{vb['low']:+.2f}, {vb['high']:+.2f}]"})
    return {"answer": _summary(f"predicted reactions to \"{ra['evidence']['change']}\" (a) vs"
                               f" \"{rb['evidence']['change']}\" (b)", rows),
            "rows": rows, "columns": COLUMNS,
            "evidence": {"a": ra["evidence"]["similar_changes"][:2], "b": rb["evidence"]["similar_changes"][:2]},
            "model": ra["model"], "held_out": ra["held_out"]}
