"""Interactions and ratings: every evaluated top-level form is recorded (developer, text, form,
expansion, handler, result summary, latency, error); a query right after an error or a low rating is
linked as its clarification; a rating feeds L1 (the handler's posterior), L2 (nothing to do),
L3 (promotion of the learned items the query used) and, every so often, L4."""
from __future__ import annotations

import json
import time
from typing import Any

from ..workspace.store import NotAllowed, Workspace, WorkspaceError, dumps
from . import TEAM, bandit, meta, params, shapes


def record(ws: Workspace, session: str, developer: str, text: str, form: Any, expansion: str, handler: str | None,
           summary: str, latency_ms: float, error: str | None, kind: str, qtype: str | None, qtarget: str | None,
           used: list[str]) -> dict[str, Any]:
    """Store one interaction; returns its id and what the learner made of it (an offered macro, an alias)."""
    now = time.time()
    window = params(ws)["clarify_seconds"]
    prev = ws.db.execute("SELECT i.id, i.error, i.form, (SELECT min(rating) FROM feedback f WHERE f.interaction = i.id)"
                         " FROM interactions i WHERE i.session = ? AND i.kind = 'query' AND i.time >= ?"
                         " ORDER BY i.id DESC LIMIT 1", [session, now - window]).fetchone()
    clarifies = prev[0] if kind == "query" and prev and (prev[1] or (prev[3] is not None and prev[3] <= 2)) else None
    with ws.transaction(data=False):
        cur = ws.db.execute(
            "INSERT INTO interactions(session, developer, time, text, expansion, handler, summary, latency_ms, error,"
            " kind, qtype, qtarget, form, clarifies, learned_used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [session, developer, now, text, expansion[:2000], handler, summary[:500], latency_ms, error, kind, qtype, qtarget,
             dumps(form) if kind == "query" else None, clarifies, dumps(used) if used else None])
        for name in used:
            ws.db.execute("UPDATE learned SET uses = uses + 1 WHERE name = ? AND developer IN (?, ?)", [name, developer, TEAM])
    out: dict[str, Any] = {"id": int(cur.lastrowid)}
    if kind == "query" and error is None and params(ws)["levels"] >= 2:
        if clarifies and prev[1]:
            alias = shapes.learn_alias(ws, developer, {"id": prev[0], "error": prev[1], "form": json.loads(prev[2])},
                                       {"id": out["id"], "form": form})
            if alias:
                out["alias"] = alias
        offer = shapes.offer_macro(ws, developer, out["id"], form)
        if offer:
            out["offer"] = offer
    return out


def last_rateable(ws: Workspace, session: str) -> int:
    row = ws.db.execute("SELECT id FROM interactions WHERE session = ? AND kind = 'query' ORDER BY id DESC LIMIT 1",
                        [session]).fetchone()
    if row is None:
        raise WorkspaceError("nothing to rate yet: ask a query first (or (rate ID n) for an earlier one)")
    return int(row[0])


def rate(ws: Workspace, session: str, rating: int, comment: str | None = None, interaction: int | None = None,
         candidates: dict[tuple[str, str], list[str]] | None = None, developer: str | None = None) -> dict[str, Any]:
    """Record a 1-5 rating of an interaction (the session's last query by default) and learn from it.
    An interaction is rated once, and (given `developer`, as every session gives it) only by the
    developer who made it: one person cannot outvote the team by rating the same answer again and
    again, or another developer's answers."""
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise WorkspaceError(f"a rating is a whole number from 1 to 5, got {rating!r}")
    target = interaction if interaction is not None else last_rateable(ws, session)
    row = ws.db.execute("SELECT qtype, qtarget, handler, learned_used, developer FROM interactions WHERE id = ?",
                        [target]).fetchone()
    if row is None:
        raise WorkspaceError(f"no interaction {target}")
    if developer is not None and row[4] != developer:
        raise NotAllowed(f"interaction {target} is {row[4]}'s: a developer rates only their own queries")
    earlier = ws.db.execute("SELECT rating FROM feedback WHERE interaction = ? ORDER BY id LIMIT 1", [target]).fetchone()
    if earlier is not None:
        raise WorkspaceError(f"interaction {target} is already rated ({earlier[0]}); an interaction is rated once")
    with ws.transaction(data=False):
        cur = ws.db.execute("INSERT INTO feedback(interaction, rating, comment, time) VALUES (?, ?, ?, ?)",
                            [target, rating, comment, time.time()])
    feedback = int(cur.lastrowid)
    out: dict[str, Any] = {"interaction": target, "rating": rating, "feedback": feedback, "learned": []}
    qtype, qtarget, handler, used, _ = row
    levels = params(ws)["levels"]
    if qtype and handler and levels >= 1:
        # posteriors are kept per route: (type, target) when it has its own candidates, else (type, *)
        route_target = qtarget if (qtype, qtarget) in (candidates or {}) else "*"
        options = (candidates or {}).get((qtype, route_target), [])
        change = bandit.update(ws, qtype, route_target, handler, rating, feedback, options)
        if change:
            out["learned"].append(change)
    promoted = shapes.promote(ws, json.loads(used) if used else [], feedback) if levels >= 3 else []
    out["learned"] += [f"promoted {name} to the team" for name in promoted]
    tuned = meta.tick(ws) if levels >= 4 else None
    if tuned:
        out["learned"].append(tuned)
    return out
