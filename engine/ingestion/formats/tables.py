"""CSV formats: in-game chat (CONDA), forum posts, help-desk tickets, player tables, telemetry events."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import (
    Event,
    Format,
    FormatError,
    Message,
    PlayerFacts,
    Record,
    Skip,
    clean_text,
    csv_rows,
    guarded,
    head,
    parse_time,
    register,
)


def _header(head_text: str, delimiter: str = ",") -> list[str]:
    return [c.strip().strip('"') for c in head_text.split("\n", 1)[0].strip().split(delimiter)]


def _number(text: str) -> int | float | str | bool | None:
    """A CSV cell as the value it spells (TRUE/FALSE, integers, floats), else the text."""
    t = text.strip()
    if t.upper() in ("TRUE", "FALSE"):
        return t.upper() == "TRUE"
    if t == "":
        return None
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


# ---- CONDA Dota 2 in-game chat ---------------------------------------------------------------

CHAT_COLUMNS = ["Id", "matchId", "conversationId", "utterance", "chatTime", "playerSlot", "playerId"]


def parse_chat(path: Path) -> Iterator[Record]:
    for row in csv_rows(path, CHAT_COLUMNS):
        if isinstance(row, Skip):
            yield row
            continue
        line, r = row
        text = clean_text(r["utterance"].replace(" [SEPA] ", "\n"), f"{path}:{line}")
        if isinstance(text, Skip):
            yield text
            continue
        meta: dict[str, Any] = {"chat_time": _number(r["chatTime"]), "slot": _number(r["playerSlot"])}
        if r.get("intentClass"):
            meta["intent"] = r["intentClass"]  # E explicit toxic, I implicit, A action, O other
        yield Message(source="dota-chat", external_id=r["Id"], text=text, author=r["playerId"] or None,
                      platform="dota", thread=f"conversation:{r['conversationId']}",
                      context=f"match:{r['matchId']}", meta=meta)


# ---- forum posts (r/cyberpunkgame export) -------------------------------------------------------

FORUM_COLUMNS = ["post_id", "post_title", "post_date", "post_body"]


def parse_forum(path: Path) -> Iterator[Record]:
    for row in csv_rows(path, FORUM_COLUMNS, delimiter=";"):
        if isinstance(row, Skip):
            yield row
            continue
        line, r = row
        body = "\n\n".join(x for x in (r["post_title"].strip(), r["post_body"].strip()) if x)
        text = clean_text(body, f"{path}:{line}")
        if isinstance(text, Skip):
            yield text
            continue
        yield Message(source="reddit", external_id=r["post_id"], text=text, time=parse_time(r["post_date"]),
                      thread=f"post:{r['post_id']}",
                      meta={"flair": r.get("post_flair"), "score": _number(r.get("post_score", "")),
                            "comments": _number(r.get("post_commentaries_count", ""))})


# ---- help-desk tickets (GitBugs trackers, or id/created/subject/body/status/priority/requester) ----

TICKET_ALIASES = {"id": ("Issue id", "id"), "subject": ("Summary", "subject"), "body": ("Description", "body"),
                  "created": ("Created", "created"), "status": ("Status", "status"),
                  "priority": ("Priority", "priority")}


def parse_tickets(path: Path) -> Iterator[Record]:
    header = _header(head(path))
    cols = {}
    for name, options in TICKET_ALIASES.items():
        found = [o for o in options if o in header]
        if not found:
            raise FormatError(f"{path}: missing ticket column {' or '.join(options)}")
        cols[name] = found[0]
    tracker = path.stem
    for row in csv_rows(path, list(cols.values())):
        if isinstance(row, Skip):
            yield row
            continue
        line, r = row
        subject, body = r[cols["subject"]].strip(), r[cols["body"]].strip()
        if subject and body.lower().startswith(subject.lower().rstrip(".…")):  # the subject is the body's opening
            subject = ""
        text = clean_text("\n\n".join(x for x in (subject, body) if x),
                          f"{path}:{line}")
        if isinstance(text, Skip):
            yield text
            continue
        created = parse_time(r[cols["created"]], ("%d/%b/%y %H:%M",))
        if created is None:
            yield Skip("ticket without a readable created date", f"{path}:{line}")
            continue
        yield Message(source="tickets", external_id=f"{tracker}:{r[cols['id']]}", text=text,
                      author=r.get("requester") or None, platform="tickets", time=created,
                      thread=f"ticket:{tracker}:{r[cols['id']]}",
                      meta={"tracker": tracker, "status": r[cols["status"]], "priority": r[cols["priority"]],
                            "resolution": r.get("Resolution") or r.get("resolution"),
                            "resolved": parse_time(r.get("Resolved") or r.get("resolved") or "", ("%d/%b/%y %H:%M",))})


# ---- player tables (one row per player) and telemetry events (one row per event) -----------------

PLAYER_ID_COLUMNS = ("userid", "player_id", "player", "user_id")


def _player_column(header: list[str]) -> str | None:
    return next((c for c in PLAYER_ID_COLUMNS if c in header), None)


def parse_players(path: Path) -> Iterator[Record]:
    header = _header(head(path))
    pid = _player_column(header)
    if pid is None:
        raise FormatError(f"{path}: no player id column (one of {', '.join(PLAYER_ID_COLUMNS)})")
    for row in csv_rows(path, [pid]):
        if isinstance(row, Skip):
            yield row
            continue
        line, r = row
        if not r[pid].strip():
            yield Skip("row without a player id", f"{path}:{line}")
            continue
        yield PlayerFacts(source=path.stem, player=r[pid].strip(),
                          facts={k: _number(v) for k, v in r.items() if k != pid})


EVENT_COLUMNS = ["player", "time", "event", "value"]


def _event(source: str, where: str, r: dict[str, Any]) -> Event | Skip:
    time = r["time"] if isinstance(r["time"], (int, float)) else parse_time(str(r["time"] or ""))
    if not str(r.get("player") or "").strip() or not str(r.get("event") or "").strip():
        return Skip("event without a player or an event name", where)
    value = r.get("value")
    try:
        value = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return Skip("event value is not a number", where)
    ext = r.get("id") or hashlib.sha1(json.dumps([r["player"], r["time"], r["event"], r.get("value")],
                                                 default=str).encode()).hexdigest()[:20]
    return Event(source=source, external_id=str(ext), player=str(r["player"]), time=time,
                 event=str(r["event"]), value=value)


def parse_events_csv(path: Path) -> Iterator[Record]:
    rows = (row if isinstance(row, Skip) else (row[1], f"{path}:{row[0]}") for row in csv_rows(path, EVENT_COLUMNS))
    yield from guarded(rows, lambda r, where: _event(path.stem, where, r))


def parse_events_jsonl(path: Path) -> Iterator[Record]:
    yield from guarded(_event_lines(path), lambda r, where: _event(path.stem, where, r))


def _event_lines(path: Path) -> Iterator[tuple[dict[str, Any], str] | Skip]:
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            where = f"{path}:{n}"
            if not raw.strip():
                continue
            try:
                r = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):
                yield Skip("not a JSON object (or not valid UTF-8)", where)
                continue
            if not isinstance(r, dict) or any(c not in r for c in ("player", "time", "event")):
                yield Skip("event line lacks player, time or event", where)
                continue
            yield r, where


register(Format("dota-chat", "dota-chat",
                lambda p, h: p.suffix == ".csv" and {"utterance", "matchId", "playerId"} <= set(_header(h)),
                parse_chat, "In-game chat CSV (CONDA: Id, matchId, conversationId, utterance, ... playerId)"))
register(Format("forum-posts", "reddit",
                lambda p, h: p.suffix == ".csv" and {"post_id", "post_title"} <= set(_header(h, ";")),
                parse_forum, "Forum posts CSV, ';'-separated (post_id, post_title, post_date, post_body, ...)"))
register(Format("tickets", "tickets",
                lambda p, h: p.suffix == ".csv" and (({"Summary", "Issue id"} <= set(_header(h)))
                                                     or {"subject", "body", "created"} <= set(_header(h))),
                parse_tickets, "Help-desk tickets CSV (GitBugs trackers, or id/created/subject/body/status/priority)"))
register(Format("telemetry-events", "telemetry",
                lambda p, h: p.suffix == ".csv" and set(EVENT_COLUMNS) <= set(_header(h)),
                parse_events_csv, "Telemetry events CSV (player, time, event, value)"))
register(Format("telemetry-jsonl", "telemetry",
                lambda p, h: p.suffix == ".jsonl" and '"event"' in h and '"player"' in h,
                parse_events_jsonl, "Telemetry events JSON lines ({player, time, event, value})"))
register(Format("player-table", "players",
                lambda p, h: p.suffix == ".csv" and _player_column(_header(h)) is not None,
                parse_players, "Player table CSV: one row per player (e.g. Cookie Cats: userid, version, ...)"))
