"""Comparisons side by side: two personas, one group in two time ranges, or the predicted reactions
to two changes. Each row carries both values, the difference and whether it is significant (tests
Holm-corrected at the requested confidence; for predictions, non-overlapping intervals)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..analytics.sentiment import NEGATIVE, model_for
from ..personas import clusters as personas
from ..workspace.search import iso, parse_date
from ..workspace.store import Workspace
from .reactions import COMMUNITY, METRICS, predict_reaction

DAY = 86400.0
COLUMNS = ["metric", "a", "b", "difference", "p_value", "significant", "test"]


def _mwu(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import mannwhitneyu
    return float(mannwhitneyu(a, b).pvalue) if len(a) and len(b) else 1.0


def _two_proportions(ka: int, na: int, kb: int, nb: int) -> float:
    """Two-sided p of a difference in proportions (pooled z test)."""
    from scipy.stats import norm
    if not na or not nb:
        return 1.0
    p = (ka + kb) / (na + nb)
    se = (p * (1 - p) * (1 / na + 1 / nb)) ** 0.5
    return float(2 * (1 - norm.cdf(abs(ka / na - kb / nb) / se))) if se > 0 else 1.0


def _holm(rows: list[dict[str, Any]], alpha: float) -> list[dict[str, Any]]:
    """Mark rows significant by Holm's step-down correction over their p-values."""
    order = sorted(range(len(rows)), key=lambda i: rows[i]["p_value"])
    still = True
    for rank, i in enumerate(order):
        still = still and rows[i]["p_value"] <= alpha / (len(rows) - rank)
        rows[i]["significant"] = still
        rows[i]["p_value"] = round(rows[i]["p_value"], 4)
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


def compare_personas(ws: Workspace, a: str, b: str, confidence: float = 0.95) -> dict[str, Any]:
    """Two personas: activity, sentiment, negativity and going quiet, tested per player or message."""
    pa, pb = personas.find(ws, a), personas.find(ws, b)
    p = personas.players(ws)
    where = dict(ws.db.execute("SELECT author, persona FROM persona_members").fetchall())
    label = np.array([where.get(x, "") for x in p.authors])
    ma, mb = label == pa["id"], label == pb["id"]
    sent = model_for(ws)
    msgs = {g: _messages(ws, g, None, None) for g in (pa["id"], pb["id"])}
    scores = {g: sent.scores([m[0] for m in rows]) for g, rows in msgs.items()}
    sa, sb = scores[pa["id"]], scores[pb["id"]]
    qa, qb = pa["profile"]["gone_quiet"], pb["profile"]["gone_quiet"]
    rows = [_row("messages per player", p.messages[ma], p.messages[mb], _mwu(p.messages[ma], p.messages[mb]), "Mann-Whitney U"),
            _row("active days per player", np.expm1(p.behaviour[ma, 1]), np.expm1(p.behaviour[mb, 1]),
                 _mwu(p.behaviour[ma, 1], p.behaviour[mb, 1]), "Mann-Whitney U"),
            _row("mean sentiment per player", p.sentiment[ma], p.sentiment[mb], _mwu(p.sentiment[ma], p.sentiment[mb]),
                 "Mann-Whitney U"),
            _row("message sentiment", sa, sb, _mwu(sa, sb), "Mann-Whitney U"),
            _row("negative message share", sa < NEGATIVE, sb < NEGATIVE,
                 _two_proportions(int((sa < NEGATIVE).sum()), len(sa), int((sb < NEGATIVE).sum()), len(sb)), "two-proportion z"),
            _row("share of players gone quiet", qa / max(pa["size"], 1), qb / max(pb["size"], 1),
                 _two_proportions(qa, pa["size"], qb, pb["size"]), "two-proportion z")]
    _holm(rows, 1 - confidence)
    return {"answer": _summary(f"{pa['name']} (a, {pa['size']} players) vs {pb['name']} (b, {pb['size']} players)", rows),
            "rows": rows, "columns": COLUMNS,
            "evidence": {"a": {"persona": pa["name"], "terms": pa["terms"][:8], "quotes": pa["quotes"][:2]},
                         "b": {"persona": pb["name"], "terms": pb["terms"][:8], "quotes": pb["quotes"][:2]},
                         "alpha": round(1 - confidence, 4), "correction": "Holm"},
            "model": f"sentiment: {sent.describe()['model']}", "held_out": sent.score}


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
        sides.append({"msgs": msgs, "scores": sent.scores([m[0] for m in msgs]), "daily": daily,
                      "players": len({m[1] for m in msgs}), "range": [iso(since), iso(until)]})
    a, b = sides
    na, nb = (a["scores"] < NEGATIVE), (b["scores"] < NEGATIVE)
    rows = [_row("messages per day", a["daily"], b["daily"], _mwu(a["daily"], b["daily"]), "Mann-Whitney U on days"),
            _row("message sentiment", a["scores"], b["scores"], _mwu(a["scores"], b["scores"]), "Mann-Whitney U"),
            _row("negative message share", na, nb, _two_proportions(int(na.sum()), len(na), int(nb.sum()), len(nb)),
                 "two-proportion z")]
    _holm(rows, 1 - confidence)
    rows.append({"metric": "players posting", "a": a["players"], "b": b["players"],
                 "difference": a["players"] - b["players"], "p_value": None, "significant": None, "test": "count"})
    return {"answer": _summary(f"{group} in {a['range'][0] or 'start'}..{a['range'][1] or 'end'} (a) vs"
                               f" {b['range'][0] or 'start'}..{b['range'][1] or 'end'} (b)", rows[:-1]),
            "rows": rows, "columns": COLUMNS,
            "evidence": {"a": {"range": a["range"], "messages": len(a["msgs"])},
                         "b": {"range": b["range"], "messages": len(b["msgs"])},
                         "alpha": round(1 - confidence, 4), "correction": "Holm"},
            "model": f"sentiment: {sent.describe()['model']}", "held_out": sent.score}


def compare_changes(ws: Workspace, a: str, b: str, persona: str | None = None,
                    confidence: float = 0.95) -> dict[str, Any]:
    """Predicted reactions to two changes side by side; a difference is significant when the two
    intervals do not overlap (and both have the coverage asked for)."""
    ra, rb = (predict_reaction(ws, c, persona, confidence) for c in (a, b))
    rows = []
    for ga, gb in zip(ra["rows"], rb["rows"]):
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
