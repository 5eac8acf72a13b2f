"""Daily series of the workspace's messages, with the filters every analytic shares."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..workspace.dates import iso, parse_date
from ..workspace.store import Workspace, WorkspaceError

DAY = 86400.0
COLUMN_FILTERS = ("author", "thread", "context")
FILTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Scope:
    """Which messages an analytic looks at: source, time window, and extra column filters."""
    source: str | None = None
    since: float | None = None
    until: float | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, params: dict[str, Any]) -> Scope:
        return cls(source=params.get("source"), since=parse_date(params.get("since")),
                   until=parse_date(params.get("until")), filters=dict(params.get("filters") or {}))

    def period(self) -> tuple[list[str], list[Any]]:
        """The SQL conditions of the time window alone (any table with a `time` column), and their arguments."""
        parts, args = [], []
        if self.since is not None:
            parts.append("time >= ?")
            args.append(self.since)
        if self.until is not None:
            parts.append("time < ?")
            args.append(self.until)
        return parts, args

    def where(self, dated: bool = True) -> tuple[str, list[Any]]:
        """SQL condition over `messages` (by default only dated messages: series need dates)."""
        parts, args = ["time IS NOT NULL" if dated else "1"], []
        if self.source:
            parts.append("source = ?")
            args.append(self.source)
        window, more = self.period()
        parts += window
        args += more
        for key, value in self.filters.items():
            if not FILTER_NAME.fullmatch(str(key)):
                raise WorkspaceError(f"a filter is (name value) with a plain name; got {key!r}")
            if key == "persona":  # the messages of a persona's players (by name or id)
                parts.append("author IN (SELECT pm.author FROM persona_members pm JOIN personas p"
                             " ON p.id = pm.persona WHERE p.name = ? OR p.id = ?)")
                args.append(value)
            elif key in COLUMN_FILTERS:  # message columns; any other name is a meta field (channel, intent ...)
                parts.append(f"{key} = ?")
            else:
                parts.append(f"json_extract(meta, '$.{key}') = ?")
            args.append(value)
        return " AND ".join(parts), args

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "since": iso(self.since), "until": iso(self.until), "filters": self.filters}


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


def messages(ws: Workspace, scope: Scope) -> list[tuple[int, float, str, str | None, str]]:
    """(id, time, text, author, source) of the messages in scope, oldest first."""
    cond, args = scope.where()
    return ws.db.execute(f"SELECT id, time, text, author, source FROM messages WHERE {cond} ORDER BY time",
                         args).fetchall()


def daily(times: np.ndarray, values: np.ndarray | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Days (every day from first to last, gaps included), count per day, mean value per day."""
    if times.size == 0:
        return [], np.zeros(0), np.zeros(0)
    start = np.floor(times.min() / DAY)
    idx = (np.floor(times / DAY) - start).astype(int)
    n = int(idx.max()) + 1
    counts = np.bincount(idx, minlength=n).astype(float)
    means = np.full(n, np.nan)
    if values is not None:  # a value that is NaN (a message with no score) counts in the volume, not the mean
        known = ~np.isnan(values)
        sums = np.bincount(idx[known], weights=values[known], minlength=n)
        scored = np.bincount(idx[known], minlength=n).astype(float)
        means = np.divide(sums, scored, out=np.full(n, np.nan), where=scored > 0)
    days = [day_of((start + i) * DAY) for i in range(n)]
    return days, counts, means
