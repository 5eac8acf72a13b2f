"""Semantic search over the workspace's messages, with source and date filters."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..ingestion.formats import iso_time
from .store import Workspace


def parse_date(value: Any) -> float | None:
    """Unix seconds from "2025-01-01" / ISO-8601 text or a number; None for None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    stamp = iso_time(value)
    if stamp is None:
        raise ValueError(f"not a date: {value!r}")
    return stamp


def iso(ts: float | None) -> str | None:
    """The minute, for reading; a bound that is used again must be `exact_iso` (a minute drops messages)."""
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M")


def exact_iso(ts: float | None) -> str | None:
    """ISO-8601 to the microsecond, UTC: parse_date gives back the same bound (a named period resolved in
    pilang and passed on selects the same messages as the engine's own)."""
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


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
