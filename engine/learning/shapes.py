"""L2, developer, and L3, team. Query forms are trees: lists ["L", item...], vectors ["V", item...],
symbols ["S", name], keywords ["K", name], strings ["T", text], numbers and booleans as themselves;
variables of a generalisation are ["?", i]. A developer's repeated query shapes are generalised by
anti-unification into a macro offered to them; an error followed by a corrected query becomes an
alias; items that several developers learned and rated well are promoted to the team."""
from __future__ import annotations

import json
import re
from typing import Any

from ..workspace.store import Workspace, dumps, now_iso
from . import TEAM, frozen, log, params

HISTORY = 50  # a developer's recent query forms searched for shapes
MAX_VARS = 3


def is_var(t: Any) -> bool:
    return isinstance(t, list) and len(t) == 2 and t[0] == "?"


def is_symbol(t: Any) -> bool:
    return isinstance(t, list) and len(t) == 2 and t[0] == "S"


def is_container(t: Any) -> bool:
    return isinstance(t, list) and bool(t) and t[0] in ("L", "V")


def lgg(a: Any, b: Any, table: dict[str, Any] | None = None) -> Any:
    """The least general generalisation of two trees: equal parts kept, each distinct pair of
    differing parts one variable ["?", i]."""
    table = {} if table is None else table
    if a == b:
        return a
    if is_container(a) and is_container(b) and a[0] == b[0] and len(a) == len(b):
        return [a[0], *(lgg(x, y, table) for x, y in zip(a[1:], b[1:]))]
    key = dumps([a, b])
    if key not in table:
        table[key] = ["?", len(table)]
    return table[key]


def variables(t: Any, found: dict[int, Any] | None = None, parent: str | None = None) -> dict[int, str | None]:
    """Variable index -> the symbol heading the list it sits in (its natural name), in order."""
    found = {} if found is None else found
    if is_var(t):
        found.setdefault(t[1], parent)
    elif is_container(t):
        head = t[1][1] if len(t) > 1 and is_symbol(t[1]) else None
        for x in t[1:]:
            variables(x, found, head)
    return found


def varies_operator(t: Any) -> bool:
    """Whether a variable stands where a procedure is called (a macro over that would hide what runs)."""
    if not is_container(t):
        return False
    return (t[0] == "L" and len(t) > 1 and is_var(t[1])) or any(varies_operator(x) for x in t[1:])


def match(pattern: Any, t: Any, binding: dict[int, Any] | None = None) -> dict[int, Any] | None:
    """The binding that makes `pattern` equal `t` (variables bind atoms only), or None."""
    binding = {} if binding is None else binding
    if is_var(pattern):
        if is_container(t) or binding.setdefault(pattern[1], t) != t:
            return None
        return binding
    if is_container(pattern):
        if not is_container(t) or t[0] != pattern[0] or len(t) != len(pattern):
            return None
        for p, x in zip(pattern[1:], t[1:]):
            if match(p, x, binding) is None:
                return None
        return binding
    return binding if pattern == t else None


def text(t: Any, names: dict[int, str] | None = None) -> str:
    """The tree written as pilang source (variables as ,name for a quasiquote template)."""
    if is_var(t):
        return "," + (names or {}).get(t[1], f"x{t[1]}")
    if is_container(t):
        inner = " ".join(text(x, names) for x in t[1:])
        return f"({inner})" if t[0] == "L" else f"[{inner}]"
    if isinstance(t, list):
        return {"S": t[1], "K": ":" + t[1], "T": json.dumps(t[1])}[t[0]]
    if t is True or t is False:
        return "#t" if t else "#f"
    return "nil" if t is None else repr(t)


def _clause(t: Any, name: str) -> str | None:
    """The symbol of a (name symbol) clause in a query form, if any."""
    for x in t[2:] if is_container(t) else []:
        if is_container(x) and len(x) == 3 and is_symbol(x[1]) and x[1][1] == name and is_symbol(x[2]):
            return x[2][1]
    return None


def macro_for(pattern: Any) -> tuple[str, str]:
    """(name, defmacro source) for a generalised query shape."""
    heads = variables(pattern)
    names: dict[int, str] = {}
    for i, head in heads.items():
        base = head if head and head not in ("query", "parameters", "type", "target", "quote", "print") else f"arg{i + 1}"
        names[i] = base if base not in names.values() else f"{base}{i + 1}"
    fixed = [v for v in (_clause(pattern, "type"), _clause(pattern, "target")) if v]
    head = pattern[1][1] if is_container(pattern) and len(pattern) > 1 and is_symbol(pattern[1]) else "form"
    name = "my-" + "-".join(fixed or [head]) + "-by-" + "-".join(names[i] for i in sorted(names))
    return name, f"(defmacro {name} ({' '.join(names[i] for i in sorted(names))}) `{text(pattern, names)})"


def recent_forms(ws: Workspace, developer: str, before: int) -> list[Any]:
    rows = ws.db.execute("SELECT form FROM interactions WHERE developer = ? AND kind = 'query' AND id < ? AND form IS NOT NULL"
                         " AND error IS NULL ORDER BY id DESC LIMIT ?", [developer, before, HISTORY]).fetchall()
    return [json.loads(r[0]) for r in rows]


def offer_macro(ws: Workspace, developer: str, interaction: int, form: Any) -> dict[str, Any] | None:
    """When this form and enough of the developer's recent ones share a shape, offer its macro."""
    if frozen(ws):
        return None
    need = int(params(ws)["min_repeats"])
    previous = recent_forms(ws, developer, interaction)
    best = None
    for p in previous:
        pattern = lgg(form, p)
        heads = variables(pattern)
        if (not 1 <= len(heads) <= MAX_VARS or varies_operator(pattern) or match(pattern, form) is None
                or match(pattern, p) is None):
            continue
        count = 1 + sum(1 for q in previous if match(pattern, q) is not None)
        if count >= need and (best is None or (count, -len(heads)) > (best[0], -len(variables(best[1])))):
            best = (count, pattern)
    if best is None:
        return None
    name, definition = macro_for(best[1])
    if ws.db.execute("SELECT 1 FROM learned WHERE name = ? AND developer IN (?, ?)", [name, developer, TEAM]).fetchone():
        return None
    reason = f"{best[0]} query forms of this shape from {developer}, generalised by anti-unification"
    stamp = now_iso()
    with ws.transaction(data=False):
        ws.db.execute("INSERT INTO learned(name, kind, developer, definition, status, reason, uses, created, updated)"
                      " VALUES (?, 'macro', ?, ?, 'offered', ?, 0, ?, ?)", [name, developer, definition, reason, stamp, stamp])
    log(ws, "L2", "offer macro", name, reason, {"kind": "learned", "name": name, "developer": developer, "status": None},
        [interaction])
    return {"name": name, "definition": definition, "reason": reason, "pattern": best[1]}


# What an error says when a name in the query is unknown (not when the data cannot answer it:
# "last-patch: the workspace has no dated changes" is no reason to read last-patch as something else)
UNKNOWN_NAME = re.compile(r"\bunknown\b|\bno (?:\w+ )*(?:named|target|called)\b|\bnot defined\b|\bunbound\b")
NEAR_MISS = 2  # edits: "volum" -> "volume", "anomalys" -> "anomalies"


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def near_miss(old: str, new: str) -> bool:
    """A typo (a few edits) or the same name with words added ("churn" -> "player-churn")."""
    if edit_distance(old, new) <= NEAR_MISS:
        return True
    short, long = sorted((old.split("-"), new.split("-")), key=len)
    return any(long[i:i + len(short)] == short for i in range(len(long) - len(short) + 1))


def alias_candidate(failed: dict[str, Any], fixed: dict[str, Any]) -> tuple[str, str] | None:
    """(old, new) when the failed query named something unknown and the corrected one differs only in
    that symbol, by a near miss of it; else None."""
    table: dict[str, Any] = {}
    lgg(failed["form"], fixed["form"], table)
    if len(table) != 1:
        return None
    old, new = json.loads(next(iter(table)))
    if not (is_symbol(old) and is_symbol(new)):
        return None
    error = failed.get("error") or ""
    if not UNKNOWN_NAME.search(error) or old[1] not in error or not near_miss(old[1], new[1]):
        return None
    return old, new


def learn_alias(ws: Workspace, developer: str, failed: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any] | None:
    """An unknown name followed by a corrected query that says a near miss of it instead: the name
    becomes an alias of the correction (for this developer)."""
    if frozen(ws):
        return None
    found = alias_candidate(failed, fixed)
    if found is None:
        return None
    old, new = found
    name, stamp = old[1], now_iso()
    exists = ws.db.execute("SELECT status FROM learned WHERE name = ? AND developer = ?", [name, developer]).fetchone()
    if exists and exists[0] in ("installed", "promoted"):
        return None
    reason = f"interaction {failed['id']} failed ({failed['error'][:80]}); {fixed['id']} said {new[1]} instead"
    with ws.transaction(data=False):
        ws.db.execute("INSERT OR REPLACE INTO learned(name, kind, developer, definition, status, reason, uses, created, updated)"
                      " VALUES (?, 'alias', ?, ?, 'installed', ?, 0, ?, ?)", [name, developer, new[1], reason, stamp, stamp])
    log(ws, "L2", "alias", f"{name} -> {new[1]}", reason,
        {"kind": "learned", "name": name, "developer": developer, "status": exists[0] if exists else None},
        [failed["id"], fixed["id"]])
    return {"alias": name, "to": new[1], "reason": reason}


def active(ws: Workspace, developer: str, kind: str) -> dict[str, str]:
    """The developer's installed items of a kind and the team's, name -> definition (own first)."""
    rows = ws.db.execute("SELECT name, definition, developer FROM learned WHERE kind = ? AND developer IN (?, ?)"
                         " AND status IN ('installed', 'promoted') ORDER BY developer = ? ", [kind, developer, TEAM, developer]).fetchall()
    return {r[0]: r[1] for r in rows}


def rewrite(ws: Workspace, developer: str, form: Any) -> tuple[Any, list[str]]:
    """The form with the developer's (and the team's) aliases applied, and the aliases used."""
    aliases = active(ws, developer, "alias")
    used: list[str] = []

    def walk(t: Any) -> Any:
        if is_symbol(t) and t[1] in aliases:
            used.append(t[1])
            return ["S", aliases[t[1]]]
        if is_container(t):
            return [t[0], *(walk(x) for x in t[1:])]
        return t
    out = walk(form)
    return out, used


def offered(ws: Workspace, developer: str) -> set[str]:
    """Names of the macros offered to the developer and not yet installed."""
    return {r[0] for r in ws.db.execute("SELECT name FROM learned WHERE developer = ? AND kind = 'macro'"
                                        " AND status = 'offered'", [developer])}


def accept(ws: Workspace, developer: str, name: str, how: str = "accepted by") -> str:
    """Install an offered macro for the developer; returns its definition."""
    row = ws.db.execute("SELECT definition, status FROM learned WHERE name = ? AND developer IN (?, ?) AND kind = 'macro'",
                        [name, developer, TEAM]).fetchone()
    if row is None:
        from ..workspace.store import WorkspaceError
        raise WorkspaceError(f"no learned macro {name!r} for {developer}; see (learned-macros)")
    with ws.transaction(data=False):
        ws.db.execute("UPDATE learned SET status = 'installed', updated = ? WHERE name = ? AND developer = ?",
                      [now_iso(), name, developer])
    log(ws, "L2", "install macro", name, f"{how} {developer}",
        {"kind": "learned", "name": name, "developer": developer, "status": row[1]}, [])
    return row[0]


def forget(ws: Workspace, developer: str, name: str, team: bool = True) -> str:
    """Withdraw a learned macro or alias (the developer's, else the team's when `team` allows it: an
    analyst on a team server withdraws only their own); logged and undoable."""
    from ..workspace.store import NotAllowed, WorkspaceError
    row = ws.db.execute("SELECT developer, status, kind FROM learned WHERE name = ? AND developer IN (?, ?)"
                        " AND status != 'forgotten' ORDER BY developer = ? DESC", [name, developer, TEAM, developer]).fetchone()
    if row is None:
        raise WorkspaceError(f"nothing learned is called {name!r}; see (learned-macros)")
    if row[0] == TEAM and not team:
        raise NotAllowed(f"{name} is the team's {row[2]} (learned from several developers), which only an admin"
                              f" withdraws; {developer} may forget only their own")
    with ws.transaction(data=False):
        ws.db.execute("UPDATE learned SET status = 'forgotten', updated = ? WHERE name = ? AND developer = ?",
                      [now_iso(), name, row[0]])
    log(ws, "-", "forget", f"{row[2]} {name}", f"asked by {developer}",
        {"kind": "learned", "name": name, "developer": row[0], "status": row[1]}, [])
    return f"forgot the {row[2]} {name}" + (" (the team's)" if row[0] == TEAM else "")


def promote(ws: Workspace, names: list[str], feedback: int) -> list[str]:
    """L3: items several developers learned alike and rated well become the team's."""
    if frozen(ws):
        return []
    p = params(ws)
    done = []
    for name in names:
        rows = ws.db.execute("SELECT developer, definition, kind FROM learned WHERE name = ? AND developer != ?"
                             " AND status = 'installed'", [name, TEAM]).fetchall()
        if not rows or ws.db.execute("SELECT 1 FROM learned WHERE name = ? AND developer = ? AND status != 'forgotten'",
                                     [name, TEAM]).fetchone():
            continue
        if rows[0][2] == "alias" and contradicted(ws, name):
            continue
        definition = max({r[1] for r in rows}, key=lambda d: sum(1 for r in rows if r[1] == d))
        devs = sorted(r[0] for r in rows if r[1] == definition)
        rating = ws.db.execute(
            "SELECT avg(f.rating), count(*) FROM feedback f JOIN interactions i ON i.id = f.interaction"
            " WHERE i.learned_used LIKE ?", [f'%"{name}"%']).fetchone()
        if len(devs) < p["promote_developers"] or rating[1] < len(devs) or (rating[0] or 0) < p["promote_rating"]:
            continue
        reason = (f"{len(devs)} developers ({', '.join(devs)}) learned it; mean rating {rating[0]:.2f} over"
                  f" {rating[1]} uses")
        stamp = now_iso()
        with ws.transaction(data=False):
            ws.db.execute("INSERT OR REPLACE INTO learned(name, kind, developer, definition, status, reason, uses, created, updated)"
                          " VALUES (?, ?, ?, ?, 'promoted', ?, 0, ?, ?)", [name, rows[0][2], TEAM, definition, reason, stamp, stamp])
        log(ws, "L3", "promote", name, reason, {"kind": "learned", "name": name, "developer": TEAM, "status": None},
            [feedback])
        done.append(name)
    return done


def contradicted(ws: Workspace, name: str) -> bool:
    """Whether a query that read `name` through the alias failed or was rated 2 or lower."""
    pattern = f'%"{name}"%'
    return ws.db.execute(
        "SELECT 1 FROM interactions i WHERE i.learned_used LIKE ? AND (i.error IS NOT NULL OR EXISTS"
        " (SELECT 1 FROM feedback f WHERE f.interaction = i.id AND f.rating <= 2)) LIMIT 1", [pattern]).fetchone() is not None


def listing(ws: Workspace) -> list[dict[str, Any]]:
    """Every learned macro and alias with its owner, status, uses and reason."""
    return [{"name": r[0], "kind": r[1], "developer": r[2], "status": r[3], "uses": r[4], "definition": r[5], "reason": r[6]}
            for r in ws.db.execute("SELECT name, kind, developer, status, uses, definition, reason FROM learned"
                                   " ORDER BY developer, name")]
