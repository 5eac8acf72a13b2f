"""Semantic search over the workspace's messages, with source and date filters."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from .dates import iso, parse_date
from .store import Workspace


def search(ws: Workspace, text: str, k: int = 10, source: str | None = None, since: Any = None,
           until: Any = None) -> list[dict[str, Any]]:
    """The k messages closest in meaning to `text`, best first, each with its score and evidence."""
    where, params = [], []
    if source is not None:
        where.append("source = ?")
        params.append(source)
    if since is not None:
        where.append("time >= ?")
        params.append(parse_date(since))
    if until is not None:
        where.append("time < ?")
        params.append(parse_date(until))
    allowed = None
    if where:
        allowed = np.array([r[0] for r in ws.db.execute(f"SELECT id FROM messages WHERE {' AND '.join(where)}",
                                                        params)], dtype=np.int64)
    query = ws.embedder().encode([text])[0]
    scores, ids = ws.vector_index().search(query, k, allowed)
    rows = ws.messages_by_id([int(i) for i in ids])
    out = []
    for score, i in zip(scores, ids):
        r = rows.get(int(i))
        if r is None:
            continue
        out.append({"score": round(float(score), 4), "id": r["id"], "source": r["source"],
                    "time": iso(r["time"]), "author": r["author"], "text": r["text"],
                    "thread": r["thread"], "meta": json.loads(r["meta"] or "{}")})
    return out
