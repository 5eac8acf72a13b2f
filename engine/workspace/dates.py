"""Dates as the engine reads and writes them: any date a user gives (ISO-8601 text, "2025-01-01", Unix
seconds) to Unix seconds, and Unix seconds back to text, to the minute for reading or exactly for a bound
that is used again."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..ingestion.formats import iso_time


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
