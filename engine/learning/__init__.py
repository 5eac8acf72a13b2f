"""The tetration learner: four levels that learn from recorded interactions and ratings and rewrite
the query evaluator's routing and macros, every rewrite logged with its reason and its undo.
L1 interaction (handler posteriors, routes), L2 developer (macros from repeated query shapes,
aliases from corrected errors), L3 team (promotion of what helps several developers), L4 meta
(tunes L1-L3 by whether their past updates raised later ratings)."""
from __future__ import annotations

import json
from typing import Any

from ..workspace.store import Workspace, dumps, now_iso

# The learner's tunable parameters (L4 moves them; the workspace keeps the current values).
DEFAULTS: dict[str, float] = {
    "l1_rate": 1.0,  # weight of one rating in a handler's Beta posterior
    "exploration": 0.1,  # chance of trying a candidate handler other than the Thompson sample's
    "min_repeats": 3,  # query forms of one shape before L2 offers a macro
    "promote_developers": 2,  # developers an item must help before L3 makes it the team's
    "promote_rating": 3.5,  # mean rating an item's uses need for promotion
    "clarify_seconds": 120,  # a follow-up within this long after an error or low rating clarifies it
    "levels": 4,  # the highest level that learns (1: routing only ... 4: all; 0: none), for comparisons
}
TEAM = "*"  # the developer column of team-wide learned items


def params(ws: Workspace) -> dict[str, float]:
    """The learner's current parameters."""
    return {**DEFAULTS, **json.loads(ws.get_meta("learning_params") or "{}")}


def set_params(ws: Workspace, values: dict[str, float]) -> None:
    with ws.transaction(data=False):
        ws.set_meta("learning_params", dumps(values))


def frozen(ws: Workspace) -> bool:
    """True when learning is frozen: ratings are kept, nothing is rewritten, routing does not explore."""
    return ws.get_meta("learning_frozen") == "1"


def freeze(ws: Workspace, on: bool) -> None:
    with ws.transaction(data=False):
        ws.set_meta("learning_frozen", "1" if on else "0")
    log(ws, "-", "freeze" if on else "unfreeze", "learning", "asked by the developer", {"kind": "none"}, [])


def log(ws: Workspace, level: str, action: str, subject: str, reason: str, undo: dict[str, Any],
        feedback: list[int]) -> int:
    """Append to the learning log: what changed, why, from which feedback, and how to undo it."""
    cur = ws.db.execute("INSERT INTO learning_log(time, level, action, subject, reason, undo, feedback, undone)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, 0)", [now_iso(), level, action, subject, reason, dumps(undo),
                                                            dumps(feedback)])
    return int(cur.lastrowid)


def entries(ws: Workspace, limit: int = 50) -> list[dict[str, Any]]:
    """The newest learning-log entries first."""
    rows = ws.db.execute("SELECT id, time, level, action, subject, reason, feedback, undone FROM learning_log"
                         " ORDER BY id DESC LIMIT ?", [limit]).fetchall()
    return [{"id": r[0], "time": r[1], "level": r[2], "action": r[3], "subject": r[4], "reason": r[5],
             "feedback": json.loads(r[6]), "undone": bool(r[7])} for r in rows]


def undo(ws: Workspace, entry: int) -> str:
    """Reverse one logged rewrite (a route, a learned item's status, the parameters)."""
    row = ws.db.execute("SELECT undo, undone, action, subject FROM learning_log WHERE id = ?", [entry]).fetchone()
    if row is None:
        from ..workspace.store import WorkspaceError
        raise WorkspaceError(f"no learning-log entry {entry}")
    if row[1]:
        return f"entry {entry} was already undone"
    step = json.loads(row[0])
    with ws.transaction(data=False):
        if step["kind"] == "route":
            if step["handler"] is None:
                ws.db.execute("DELETE FROM routes WHERE type = ? AND target = ?", [step["type"], step["target"]])
            else:
                ws.db.execute("INSERT OR REPLACE INTO routes(type, target, handler, origin, updated) VALUES (?, ?, ?, ?, ?)",
                              [step["type"], step["target"], step["handler"], step["origin"], now_iso()])
        elif step["kind"] == "learned":
            if step["status"] is None:
                ws.db.execute("DELETE FROM learned WHERE name = ? AND developer = ?", [step["name"], step["developer"]])
            else:
                ws.db.execute("UPDATE learned SET status = ?, updated = ? WHERE name = ? AND developer = ?",
                              [step["status"], now_iso(), step["name"], step["developer"]])
        elif step["kind"] == "params":
            ws.set_meta("learning_params", dumps(step["values"]))
        ws.db.execute("UPDATE learning_log SET undone = 1 WHERE id = ?", [entry])
    log(ws, "-", "undo", f"entry {entry}", f"undid {row[2]} {row[3]}", {"kind": "none"}, [])
    return f"undid entry {entry}: {row[2]} {row[3]}"
