"""Crashes: the game's crash reports (the collector's `POST /v1/events`) grouped by the stack's hash, each
group with its count in the period, the builds and platforms it happened on, when it was first and last
reported (over all the data: "since"), whether it is new in the period, and the messages in scope that
talk about the same crash (closest in meaning to its message, at least MATCH_SCORE alike)."""
from __future__ import annotations

from typing import Any

from ..workspace.dates import iso
from ..workspace.search import search
from ..workspace.store import Workspace
from .series import Scope

TOP = 5
MATCH_SCORE = 0.5  # cosine of a message to a crash's message to count as talking about it
QUOTES = 3


def crashes(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    scope = Scope.of(params)
    cond, args = scope.period()
    where = " AND ".join(["1 = 1", *cond])
    total = ws.db.execute(f"SELECT count(*) FROM crashes WHERE {where}", args).fetchone()[0]
    period = {"since": iso(scope.since), "until": iso(scope.until)}
    if not total:
        reports = ws.db.execute("SELECT count(*) FROM crashes").fetchone()[0]
        return {"answer": "No crash reports in the period." if reports else
                "No crash reports yet: the game posts them to the team server (POST /v1/events with a collector token).",
                "evidence": {"scope": period, "reports": 0, "groups": []}}
    groups = []
    for stack, n, first_here in ws.db.execute(
            f"SELECT stack_hash, count(*), min(time) FROM crashes WHERE {where} GROUP BY stack_hash"
            f" ORDER BY count(*) DESC, stack_hash LIMIT ?", [*args, TOP]).fetchall():
        first, last, ever = ws.db.execute("SELECT min(time), max(time), count(*) FROM crashes WHERE stack_hash = ?",
                                          [stack]).fetchone()
        builds = dict(ws.db.execute(f"SELECT build, count(*) FROM crashes WHERE stack_hash = ? AND {where}"
                                    f" GROUP BY build ORDER BY count(*) DESC", [stack, *args]).fetchall())
        platforms = dict(ws.db.execute(f"SELECT platform, count(*) FROM crashes WHERE stack_hash = ? AND {where}"
                                       f" GROUP BY platform ORDER BY count(*) DESC", [stack, *args]).fetchall())
        message = ws.db.execute("SELECT message FROM crashes WHERE stack_hash = ? AND message != '' ORDER BY time DESC"
                                " LIMIT 1", [stack]).fetchone()
        text = message[0] if message else ""
        talk = []
        if text and ws.count("messages"):
            talk = [{"id": h["id"], "text": h["text"], "time": h["time"], "source": h["source"], "score": h["score"]}
                    for h in search(ws, text, k=QUOTES * 3, since=scope.since, until=scope.until)
                    if h["score"] >= MATCH_SCORE][:QUOTES]
        new = scope.since is not None and first is not None and first >= scope.since
        groups.append({"stack_hash": stack, "reports": int(n), "share": round(n / total, 4), "message": text,
                       "builds": builds, "platforms": platforms, "first_seen": iso(first), "last_seen": iso(last),
                       "reports_ever": int(ever), "new_in_period": bool(new), "messages": talk})
    top = groups[0]
    build = next(iter(top["builds"]), "?")
    since = f"first reported {top['first_seen'][:10]}" if top["first_seen"] else "undated"
    kinds = ws.db.execute(f"SELECT count(DISTINCT stack_hash) FROM crashes WHERE {where}", args).fetchone()[0]
    said = f"; {len(top['messages'])} messages talk about it" if top["messages"] else ""
    answer = (f"{total:,} crash reports in {kinds}"
              f" crashes; the most: {(top['message'] or top['stack_hash'])[:80]!r} ({top['reports']:,} reports,"
              f" {top['share']:.0%}, mostly build {build}; {since}{', new in the period' if top['new_in_period'] else ''}{said}).")
    rows = [{"crash": (g["message"] or g["stack_hash"])[:60], "stack": g["stack_hash"][:12], "reports": g["reports"],
             "builds": ", ".join(f"{b} ({c})" for b, c in list(g["builds"].items())[:3]),
             "first seen": (g["first_seen"] or "")[:10], "new": g["new_in_period"], "messages": len(g["messages"])}
            for g in groups]
    return {"answer": answer, "evidence": {"scope": period, "reports": int(total), "groups": groups,
                                           "table": rows, "talk_match": f"messages at least {MATCH_SCORE} alike"
                                                                        " (cosine) to the crash's message"}}
