"""What plain-words questions mean, learned from corrections: when a developer edits the query a question
became and runs the edit (or rates the answer well), the pair is a phrase. L1 learns it for that
developer (installed at once: the translator reads it on their next question); L3 makes it the team's
once PROMOTE_DEVELOPERS developers taught the same phrase the same query and none contradicted it (a
developer's later different correction of the same phrase). Stored in the `learned` table (kind
"phrase"), each step in the learning log with its undo, withdrawn with `forget` like a macro."""
from __future__ import annotations

import re
from typing import Any

from ..workspace.store import Workspace, now_iso
from . import TEAM, frozen, log, params

KIND = "phrase"


def said(question: str) -> str:
    """A question as phrases are compared: lower case, its punctuation and spacing dropped."""
    return " ".join(re.findall(r"[\w#.\-]+", question.lower()))


def key(question: str) -> str:
    """A phrase's name in the learned table."""
    return "phrase:" + said(question)


def learn(ws: Workspace, developer: str, question: str, query: str, intent: str | None, why: str,
          feedback: list[int] | None = None) -> dict[str, Any] | None:
    """L1: `question` means `query` for `developer` (and what it asks, `intent`). None when learning is frozen
    or the developer had already taught exactly this."""
    if frozen(ws) or not query.strip():
        return None
    name, stamp = key(question), now_iso()
    definition = f"{intent or ''}\t{query}"
    old = ws.db.execute("SELECT definition, status FROM learned WHERE name = ? AND developer = ? AND kind = ?",
                        [name, developer, KIND]).fetchone()
    if old and old[0] == definition and old[1] in ("installed", "promoted"):
        return None
    with ws.transaction(data=False):
        ws.db.execute("INSERT OR REPLACE INTO learned(name, kind, developer, definition, status, reason, uses, created,"
                      " updated) VALUES (?, ?, ?, ?, 'installed', ?, 0, ?, ?)",
                      [name, KIND, developer, definition, why, stamp, stamp])
    entry = log(ws, "L1", "learn phrase", f"{question!r} -> {query}", why,
                {"kind": "learned", "name": name, "developer": developer, "status": old[1] if old else None},
                feedback or [])
    promoted = promote(ws, name)
    return {"phrase": question, "query": query, "developer": developer, "log": entry, "promoted": promoted}


def promote(ws: Workspace, name: str) -> bool:
    """L3: the phrase becomes the team's when enough developers taught it the same query."""
    if frozen(ws):
        return False
    rows = ws.db.execute("SELECT developer, definition FROM learned WHERE name = ? AND kind = ? AND developer != ?"
                         " AND status = 'installed'", [name, KIND, TEAM]).fetchall()
    if not rows:
        return False
    definition = max({r[1] for r in rows}, key=lambda d: sum(r[1] == d for r in rows))
    agree = sorted(r[0] for r in rows if r[1] == definition)
    disagree = [r[0] for r in rows if r[1] != definition]
    team = ws.db.execute("SELECT definition, status FROM learned WHERE name = ? AND developer = ? AND kind = ?",
                         [name, TEAM, KIND]).fetchone()
    if len(agree) < params(ws)["promote_developers"] or disagree or (team and team[0] == definition):
        return False
    reason = f"{len(agree)} developers ({', '.join(agree)}) taught it the same query; none another"
    stamp = now_iso()
    with ws.transaction(data=False):
        ws.db.execute("INSERT OR REPLACE INTO learned(name, kind, developer, definition, status, reason, uses, created,"
                      " updated) VALUES (?, ?, ?, ?, 'promoted', ?, 0, ?, ?)", [name, KIND, TEAM, definition, reason,
                                                                             stamp, stamp])
    log(ws, "L3", "promote phrase", name.removeprefix("phrase:"), reason,
        {"kind": "learned", "name": name, "developer": TEAM, "status": team[1] if team else None}, [])
    return True


def active(ws: Workspace, developer: str | None) -> list[tuple[str, str, str]]:
    """(phrase, intent, query) the translator reads: the developer's own first, then the team's."""
    rows = ws.db.execute("SELECT name, definition, developer FROM learned WHERE kind = ? AND developer IN (?, ?)"
                         " AND status IN ('installed', 'promoted') ORDER BY developer = ? DESC, updated DESC",
                         [KIND, developer or TEAM, TEAM, developer or TEAM]).fetchall()
    seen, out = set(), []
    for name, definition, _ in rows:
        if name in seen:
            continue
        seen.add(name)
        intent, _, query = definition.partition("\t")
        out.append((name.removeprefix("phrase:"), intent, query))
    return out
