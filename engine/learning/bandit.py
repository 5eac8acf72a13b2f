"""L1, interaction: a Beta posterior per (query type, target, handler) over ratings; queries are
routed by Thompson sampling among the candidate handlers (exploring a little), and the routing table
is rewritten when one candidate is clearly better rated than the routed one."""
from __future__ import annotations

import random
from typing import Any

from ..workspace.store import Workspace, now_iso
from . import frozen, log, params

MIN_RATINGS = 5  # ratings a handler needs before it may take a route over
MARGIN = 0.1  # how much better (posterior mean, 0..1) it must be


def posterior(ws: Workspace, type_: str, target: str, handler: str) -> tuple[float, float, int]:
    row = ws.db.execute("SELECT alpha, beta, n FROM handler_scores WHERE type = ? AND target = ? AND handler = ?",
                        [type_, target, handler]).fetchone()
    return row if row else (1.0, 1.0, 0)


def choose(ws: Workspace, type_: str, target: str, candidates: list[str], routed: str | None,
           rng: random.Random) -> tuple[str, str]:
    """The handler for this query and why: the route when learning is frozen, there is no choice or
    the route has no ratings yet, else a Thompson sample over the candidates' posteriors (a random candidate with the
    exploration probability)."""
    options = list(dict.fromkeys([*([routed] if routed else []), *candidates]))
    rated = sum(posterior(ws, type_, target, h)[2] for h in options)
    if frozen(ws) or params(ws)["levels"] < 1 or len(options) < 2 or rated == 0:
        return (routed or options[0]), "route"  # nobody rates this route yet: exploring would teach nothing
    if rng.random() < params(ws)["exploration"]:
        return rng.choice(options), "exploring"
    draws = {h: rng.betavariate(*posterior(ws, type_, target, h)[:2]) for h in options}
    return max(draws, key=draws.get), "thompson sample"


def update(ws: Workspace, type_: str, target: str, handler: str, rating: int, feedback: int,
           candidates: list[str]) -> str | None:
    """Fold one rating into the handler's posterior; rewrite the route if a candidate now clearly
    beats the routed handler. Returns what changed in words, or None."""
    if frozen(ws):
        return None
    rate = params(ws)["l1_rate"]
    reward = (rating - 1) / 4
    a, b, n = posterior(ws, type_, target, handler)
    with ws.transaction(data=False):
        ws.db.execute("INSERT OR REPLACE INTO handler_scores(type, target, handler, alpha, beta, n) VALUES (?, ?, ?, ?, ?, ?)",
                      [type_, target, handler, a + rate * reward, b + rate * (1 - reward), n + 1])
    current = ws.db.execute("SELECT handler, origin FROM routes WHERE type = ? AND target = ?",
                            [type_, target]).fetchone()
    routed = current[0] if current else None
    means = {}
    for h in dict.fromkeys([*candidates, *([routed] if routed else [])]):
        a, b, n = posterior(ws, type_, target, h)
        means[h] = (a / (a + b), n)
    if not means:  # no candidates and no route: nothing to rewrite
        return None
    best = max(means, key=lambda h: means[h][0])
    if best == routed or means[best][1] < MIN_RATINGS or (routed in means and means[best][0] < means[routed][0] + MARGIN):
        return None
    # the routing table is the team's: on a workspace several developers use, a route moves only when
    # enough of them agree, each developer's ratings counting as one voice
    voices = {h: by_developer(ws, type_, target, h) for h in (best, routed) if h}
    need = developers_needed(ws)
    if len(voices[best]) < need:
        return None
    balanced = {h: (sum(v.values()) / len(v) if v else 0.5) for h, v in voices.items()}
    if routed and balanced[best] < balanced[routed] + MARGIN:
        return None
    reason = (f"mean rating {1 + 4 * means[best][0]:.2f} over {means[best][1]} ratings by {len(voices[best])}"
              f" developer(s) vs {1 + 4 * means.get(routed, (0.5, 0))[0]:.2f} for {routed}")
    with ws.transaction(data=False):
        ws.db.execute("INSERT OR REPLACE INTO routes(type, target, handler, origin, updated) VALUES (?, ?, ?, ?, ?)",
                      [type_, target, best, f"learned (L1): {reason}", now_iso()])
    log(ws, "L1", "route", f"({type_} {target}) -> {best}", reason,
        {"kind": "route", "type": type_, "target": target, "handler": routed,
         "origin": current[1] if current else None}, [feedback])
    return f"route ({type_} {target}) -> {best}: {reason}"


def by_developer(ws: Workspace, type_: str, target: str, handler: str) -> dict[str, float]:
    """Each developer's mean reward (0..1) from their ratings of `handler` answering this route."""
    rows = ws.db.execute(
        "SELECT i.developer, avg((f.rating - 1) / 4.0) FROM feedback f JOIN interactions i ON i.id = f.interaction"
        " WHERE i.qtype = ? AND i.handler = ? AND (i.qtarget = ? OR ? = '*') GROUP BY i.developer ORDER BY i.developer",
        [type_, handler, target, target]).fetchall()
    return {d: float(m) for d, m in rows}


def developers_needed(ws: Workspace) -> int:
    """How many developers must agree before a route moves: the team size the promotion parameter asks
    for (2), or 1 on a workspace only one developer has used and nobody serves to a team."""
    team = ws.db.execute("SELECT count(DISTINCT developer) FROM interactions").fetchone()[0]
    if "tokens" in ws.db.table_names():
        team = max(team, ws.db.execute("SELECT count(*) FROM tokens WHERE revoked IS NULL").fetchone()[0])
    return max(1, min(int(params(ws)["promote_developers"]), team))


def scores(ws: Workspace) -> list[dict[str, Any]]:
    """Every handler posterior as rows (mean rating on the 1-5 scale)."""
    return [{"type": r[0], "target": r[1], "handler": r[2], "ratings": r[5],
             "mean_rating": round(1 + 4 * r[3] / (r[3] + r[4]), 2)}
            for r in ws.db.execute("SELECT type, target, handler, alpha, beta, n FROM handler_scores ORDER BY type, target, handler")]
