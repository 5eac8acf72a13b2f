"""DiscordChatExporter JSON: {"guild", "channel", "messages": [...]} for one channel."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import (
    Format,
    FormatError,
    Message,
    Record,
    Skip,
    clean_text,
    guarded,
    iso_time,
    json_entries,
    json_field,
    register,
)


def _ident(v: Any) -> str | None:
    """An id as text: exporters write ids as strings, some tools as numbers."""
    return None if v is None or isinstance(v, (dict, list, bool)) else str(v)


def parse(path: Path) -> Iterator[Record]:
    channel = json_field(path, "channel")
    if not isinstance(channel, dict):
        raise FormatError(f"{path}: 'channel' is not an object")
    thread, name = _ident(channel.get("id")), channel.get("name")
    yield from guarded(json_entries(path, "messages", "id", "message"),
                       lambda m, where: message_record(m, where, thread, name))


def message_record(m: dict[str, Any], where: str, thread: str | None, name: Any) -> Record:
    """One DiscordChatExporter message as a record (the live connector maps API messages to this shape
    and calls this too, so a sync and an export of the same messages store the same rows)."""
    if m.get("type") not in ("Default", "Reply", None):
        return Skip(f"system message ({m.get('type')})", where)
    content = clean_text(m.get("content"), where, "content")
    if isinstance(content, Skip):
        return content
    author = m.get("author")
    if isinstance(author, (str, int)) and not isinstance(author, bool):  # a bare name or id (some tools)
        author = {"id": author}
    if author is not None and not isinstance(author, dict):
        return Skip("author is neither an object nor a name", where)
    author = author or {}
    if author.get("isBot") is True:
        return Skip("message from a bot", where)
    ref = m.get("reference")
    ref = ref if isinstance(ref, dict) else {}
    stamp = m.get("timestamp")
    time = iso_time(stamp) if stamp else None
    if stamp and time is None:
        return Skip("unreadable timestamp", where)
    reactions = [r for r in m.get("reactions") or [] if isinstance(r, dict)]
    return Message(
        source="discord", external_id=str(m["id"]), text=content, author=_ident(author.get("id")),
        platform="discord", time=time, thread=thread, reply_to=_ident(ref.get("messageId")),
        mentions=[str(u["id"]) for u in _list(m.get("mentions")) if isinstance(u, dict) and _ident(u.get("id"))],
        meta={"channel": name if isinstance(name, str) else None,
              "reactions": sum(int(r["count"]) for r in reactions if isinstance(r.get("count"), (int, float))),
              "attachments": len(_list(m.get("attachments")))},
        author_attrs={"roles": [r.get("name") for r in _list(author.get("roles")) if isinstance(r, dict)]})


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


register(Format("discord", "discord",
                lambda p, head: p.suffix == ".json" and '"guild"' in head and '"channel"' in head,
                parse, "DiscordChatExporter JSON export of one channel"))
