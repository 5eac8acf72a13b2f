"""The player interaction graph: edges from replies, mentions, shared threads and shared matches,
kept in the `edges` table (recomputed per group, so re-ingesting never double counts) and
loaded as a weighted networkx graph."""
from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from itertools import combinations
from typing import Any

from .derived import derived, forget
from .store import Workspace

# How strongly each kind of contact ties two players (summed into the graph's `weight`).
KIND_WEIGHTS = {"reply": 3.0, "mention": 2.0, "thread": 1.0, "match": 0.5}
ALL_PAIRS_LIMIT = 12  # groups this small link every pair; larger ones link neighbours in time
FLUSH_ROWS = 200_000  # rows of one group counted before its partial edge counts are written
WINDOW = 3  # in a large group, each message links to the authors of the previous WINDOW messages


def edge_chunks(ws: Workspace, column: str, rows: Iterable[tuple[Any, ...]], distinct: list[str] | None = None,
                every: int = FLUSH_ROWS) -> Iterator[Counter[tuple[str, str, str]]]:
    """The edges one group's messages make, (a, b, kind) -> count, as partial counts every `every`
    rows (they add up): a thread links its participants and carries replies and mentions, a context
    (a match) links its players. Rows are (author, reply_to, mentions, source) in time order, read as
    they come (a cursor), so a channel of millions of messages never sits in memory; `distinct` (its
    authors) decides all pairs or neighbours in time, and is read from the rows when not given."""
    kind = "thread" if column == "thread" else "match"
    if distinct is None:
        rows = list(rows)
        distinct = sorted({r[0] for r in rows if r[0]})
    edges: Counter[tuple[str, str, str]] = Counter()
    if len(distinct) <= ALL_PAIRS_LIMIT:
        for a, b in combinations(distinct, 2):
            edges[(a, b, kind)] += 1
    recent: deque[Any] = deque(maxlen=WINDOW)
    for n, (author, reply_to, mentions, source) in enumerate(rows, 1):
        if len(distinct) > ALL_PAIRS_LIMIT:
            for b in set(recent):
                if author and b and author != b:
                    edges[(*sorted((author, b)), kind)] += 1
            recent.append(author)
        if kind == "thread":
            if author and reply_to:
                target = ws.db.execute("SELECT author FROM messages WHERE source = ? AND external_id = ?",
                                       [source, reply_to]).fetchone()
                if target and target[0] and target[0] != author:
                    edges[(author, target[0], "reply")] += 1
            for m in json.loads(mentions or "[]"):
                if author and m != author:
                    edges[(author, m, "mention")] += 1
        if n % every == 0:
            yield edges
            edges = Counter()
    if edges:
        yield edges


def group_edges(ws: Workspace, column: str, rows: list[tuple[Any, ...]]) -> Counter[tuple[str, str, str]]:
    """All of one group's edges at once (for groups already in memory)."""
    total: Counter[tuple[str, str, str]] = Counter()
    for chunk in edge_chunks(ws, column, rows):
        total.update(chunk)
    return total


def update_edges(ws: Workspace, groups: Iterable[tuple[str, str]]) -> int:
    """Recompute the edges of the given groups, each ("thread" or "context", value), in the `edges`
    table, streaming each group's messages and adding partial counts into the rows as they fill.
    Returns the number of edges written."""
    written = 0
    for column, value in sorted(set(groups)):
        grp = f"{column}={value}"
        ws.db.execute("DELETE FROM edges WHERE grp = ?", [grp])
        distinct = [r[0] for r in ws.db.execute(f"SELECT DISTINCT author FROM messages WHERE {column} = ?"
                                                f" AND author IS NOT NULL ORDER BY author", [value])]
        rows = ws.db.execute(f"SELECT author, reply_to, mentions, source FROM messages WHERE {column} = ?"
                             f" ORDER BY time, id", [value])
        for edges in edge_chunks(ws, column, rows, distinct):  # partial counts add up in the row
            ws.db.conn.executemany("INSERT INTO edges(src, dst, kind, grp, weight) VALUES (?, ?, ?, ?, ?)"
                                   " ON CONFLICT(src, dst, kind, grp) DO UPDATE SET weight = edges.weight + excluded.weight",
                                   [(a, b, k, grp, float(w)) for (a, b, k), w in edges.items()])
        written += ws.db.execute("SELECT count(*) FROM edges WHERE grp = ?", [grp]).fetchone()[0]
    forget(ws, "player-graph")
    return written


def _graph(rows: Iterable[tuple[str, str, str, float]]) -> Any:
    """The undirected weighted graph of (src, dst, kind, count) rows."""
    import networkx as nx
    g = nx.Graph()
    for src, dst, kind, weight in rows:
        w = KIND_WEIGHTS.get(kind, 1.0) * weight
        if g.has_edge(src, dst):
            g[src][dst]["weight"] += w
            g[src][dst]["kinds"][kind] = g[src][dst]["kinds"].get(kind, 0) + weight
        else:
            g.add_edge(src, dst, weight=w, kinds={kind: weight})
    return g


def player_graph(ws: Workspace, where: str | None = None, args: list[Any] | None = None) -> Any:
    """The undirected weighted player graph (cached until the next ingest); with `where`, an SQL
    condition on `messages`, the graph only those messages make (e.g. the ones before a cutoff: a
    model's edges must not know the period its label comes from)."""
    if where is None:
        return derived(ws, "player-graph", lambda: _graph(ws.db.execute(
            "SELECT src, dst, kind, sum(weight) FROM edges GROUP BY src, dst, kind ORDER BY src, dst, kind")))
    edges: Counter[tuple[str, str, str]] = Counter()
    for column in ("thread", "context"):
        rows = ws.db.execute(f"SELECT {column}, author, reply_to, mentions, source FROM messages WHERE {column} IS NOT NULL"
                             f" AND ({where}) ORDER BY {column}, time, id", args or []).fetchall()
        start = 0
        for i in range(1, len(rows) + 1):
            if i == len(rows) or rows[i][0] != rows[start][0]:
                edges.update(group_edges(ws, column, [r[1:] for r in rows[start:i]]))
                start = i
    return _graph((a, b, k, float(w)) for (a, b, k), w in edges.items())
