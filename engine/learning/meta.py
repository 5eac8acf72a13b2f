"""L4, meta: every EVERY ratings, look at the rewrites L1-L3 made and whether the ratings of what
they touched rose afterwards; if they helped, learn faster and explore less; if they hurt, learn
slower, explore more and demand more before promoting."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..workspace.store import Workspace
from . import DEFAULTS, frozen, log, params, set_params

EVERY = 40  # ratings between two meta steps
WINDOW = 15  # rated interactions compared before and after a rewrite
BOUNDS = {"l1_rate": (0.25, 4.0), "exploration": (0.02, 0.3), "min_repeats": (2, 6), "promote_rating": (3.0, 4.5)}


def _ratings(ws: Workspace, where: str, args: list[Any], first: int, after: bool) -> list[int]:
    order = "ASC" if after else "DESC"
    op = ">" if after else "<="
    return [r[0] for r in ws.db.execute(
        f"SELECT f.rating FROM feedback f JOIN interactions i ON i.id = f.interaction WHERE {where} AND f.id {op} ?"
        f" ORDER BY f.id {order} LIMIT ?", [*args, first, WINDOW])]


def gain(ws: Workspace, entry: dict[str, Any]) -> float | None:
    """Mean rating of what a rewrite touched in the WINDOW ratings after it, minus the WINDOW before."""
    feedback = entry["feedback"]
    if not feedback:
        return None
    anchor = max(feedback)
    if entry["level"] == "L1":
        type_, target = entry["subject"].strip("(").split(")")[0].split(" ")
        where, args = "i.qtype = ? AND (i.qtarget = ? OR ? = '*')", [type_, target, target]
    elif entry["level"] == "L2":
        dev = ws.db.execute("SELECT developer FROM interactions i JOIN feedback f ON f.interaction = i.id WHERE f.id = ?",
                            [anchor]).fetchone()
        where, args = "i.developer = ?", [dev[0] if dev else ""]
    else:
        where, args = "1", []
    before, after = _ratings(ws, where, args, anchor, False), _ratings(ws, where, args, anchor, True)
    if len(before) < 3 or len(after) < 3:
        return None
    return float(np.mean(after) - np.mean(before))


def tick(ws: Workspace) -> str | None:
    """Run a meta step when EVERY more ratings have come in since the last one."""
    if frozen(ws):
        return None
    total = ws.count("feedback")
    last = int(ws.get_meta("meta_at") or 0)
    if total - last < EVERY:
        return None
    with ws.transaction(data=False):
        ws.set_meta("meta_at", str(total))
    rows = ws.db.execute("SELECT id, level, subject, feedback FROM learning_log WHERE level IN ('L1', 'L2', 'L3')"
                         " AND undone = 0 ORDER BY id DESC LIMIT 30").fetchall()
    gains = [g for g in (gain(ws, {"id": r[0], "level": r[1], "subject": r[2], "feedback": json.loads(r[3])})
                         for r in rows) if g is not None]
    if not gains:
        return None
    mean = float(np.mean(gains))
    old = params(ws)
    new = dict(old)
    if mean > 0.05:
        new["l1_rate"], new["exploration"] = old["l1_rate"] * 1.25, old["exploration"] * 0.8
        new["min_repeats"], new["promote_rating"] = old["min_repeats"] - 1, old["promote_rating"] - 0.25
    elif mean < -0.05:
        new["l1_rate"], new["exploration"] = old["l1_rate"] * 0.8, old["exploration"] * 1.25
        new["min_repeats"], new["promote_rating"] = old["min_repeats"] + 1, old["promote_rating"] + 0.25
    else:
        return None
    for key, (lo, hi) in BOUNDS.items():
        new[key] = float(min(hi, max(lo, new[key])))
    changed = {k: round(new[k], 3) for k in BOUNDS if abs(new[k] - old[k]) > 1e-9}
    if not changed:
        return None
    set_params(ws, {k: new[k] for k in DEFAULTS})
    reason = (f"the last {len(gains)} rewrites changed later ratings by {mean:+.2f} on average"
              f" ({'helping' if mean > 0 else 'hurting'})")
    log(ws, "L4", "tune", ", ".join(f"{k} {old[k]:.3g}->{v:.3g}" for k, v in changed.items()), reason,
        {"kind": "params", "values": {k: old[k] for k in DEFAULTS}}, [])
    return f"tuned {', '.join(f'{k}={v}' for k, v in changed.items())}: {reason}"
