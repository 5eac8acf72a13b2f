"""The game's own telemetry and crash reports, posted in batches (the team server's `POST /v1/events`):
JSON lines or msgpack, each item an event in the telemetry format's schema (`player`, `time`, `event`,
`value`, and an `id` that makes a re-send harmless) or a crash report (`stack_hash`, `build`,
`platform`, `message`, `time`, and `player`, `id` when known). A batch is stored in one transaction
before it is acknowledged; an item sent again (the same `id`, or the same content without one) is
counted as a duplicate, never stored twice."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from ..workspace.dates import parse_date
from ..workspace.store import Workspace
from . import formats as F
from .formats.tables import _event
from .pipeline import Report, store_batch

SOURCE = "collector"
FORM = F.Format("collector", "telemetry", lambda p, h: False, lambda p: iter(()), "Events and crash reports posted"
                " to the team server")
MAX_ITEMS = 10_000  # items in one batch
CRASH_FIELDS = ("stack_hash", "build", "platform", "message")


class BadBatch(ValueError):
    """A batch that is not JSON lines or msgpack of objects."""


def items(body: bytes, content_type: str) -> list[Any]:
    """The batch's items: msgpack (an array of maps, or maps one after another) or JSON lines (or one
    JSON array)."""
    if "msgpack" in content_type:
        import msgpack
        try:
            unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
            unpacker.feed(body)
            out: list[Any] = []
            for x in unpacker:
                out += x if isinstance(x, list) else [x]
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
            raise BadBatch(f"not msgpack: {exc}") from None
    else:
        text = body.decode("utf-8", "replace").strip()
        try:
            out = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise BadBatch(f"not JSON lines: {exc}") from None
    if len(out) > MAX_ITEMS:
        raise BadBatch(f"{len(out):,} items in one batch; at most {MAX_ITEMS:,}")
    return out


def _crash(r: dict[str, Any], where: str) -> F.Crash | F.Skip:
    if not str(r.get("stack_hash") or "").strip():
        return F.Skip("crash report without a stack_hash", where)
    try:
        when = parse_date(r["time"]) if r.get("time") not in (None, "") else None
    except (ValueError, TypeError):
        return F.Skip("crash report time is not a date", where)
    ext = r.get("id") or hashlib.sha1(json.dumps([r.get(k) for k in ("time", "player", *CRASH_FIELDS)],
                                                 default=str).encode()).hexdigest()[:20]
    return F.Crash(source=SOURCE, external_id=str(ext), time=when, build=str(r.get("build") or ""),
                   platform=str(r.get("platform") or ""), stack_hash=str(r["stack_hash"]),
                   message=str(r.get("message") or "")[:2000], player=str(r["player"]) if r.get("player") else None)


def accept(ws: Workspace, batch: list[Any]) -> dict[str, Any]:
    """Store a batch in one transaction; what was stored, what was already there, what was refused."""
    records: list[Any] = []
    for n, r in enumerate(batch, 1):
        where = f"item {n}"
        if not isinstance(r, dict):
            records.append(F.Skip("not an object", where))
        elif "stack_hash" in r or r.get("type") == "crash":
            records.append(_crash(r, where))
        elif all(k in r for k in ("player", "time", "event")):
            if isinstance(r["time"], str):
                try:
                    r = {**r, "time": parse_date(r["time"])}
                except (ValueError, TypeError):
                    records.append(F.Skip("event time is not a date", where))
                    continue
            records.append(_event(SOURCE, where, r))
        else:
            records.append(F.Skip("neither an event (player, time, event) nor a crash report (stack_hash)", where))
    report = Report()
    store_batch(ws, records, FORM, "collector:events", None, report, set())
    duplicates = sum(c for reason, c in report.skipped.items() if "already" in reason)
    refused = {reason: c for reason, c in report.skipped.items() if "already" not in reason}
    return {"events": report.taken["events"], "crashes": report.taken["crashes"], "duplicates": duplicates,
            "refused": refused}
