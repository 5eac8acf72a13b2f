"""DiscordChatExporter JSON: {"guild", "channel", "messages": [...]} for one channel."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import (
    Format,
    Message,
    Record,
    Skip,
    clean_text,
    iso_time,
    json_entries,
    json_field,
    read_text,
    register,
)


def parse(path: Path) -> Iterator[Record]:
    text = read_text(path)
    channel = json_field(text, "channel", path)
    thread = str(channel.get("id"))
    for entry in json_entries(text, "messages", path, "id", "message"):
        if isinstance(entry, Skip):
            yield entry
            continue
        m, where = entry
        if m.get("type") not in ("Default", "Reply", None):
            yield Skip(f"system message ({m.get('type')})", where)
            continue
        content = clean_text(m.get("content"), where)
        if isinstance(content, Skip):
            yield content
            continue
        author = m.get("author") or {}
        if author.get("isBot"):
            yield Skip("message from a bot", where)
            continue
        ref = m.get("reference") or {}
        time = iso_time(m["timestamp"]) if m.get("timestamp") else None
        if m.get("timestamp") and time is None:
            yield Skip("unreadable timestamp", where)
            continue
        yield Message(
            source="discord", external_id=str(m["id"]), text=content, author=author.get("id"), platform="discord",
            time=time, thread=thread, reply_to=str(ref["messageId"]) if ref.get("messageId") else None,
            mentions=[str(u["id"]) for u in m.get("mentions") or [] if isinstance(u, dict) and "id" in u],
            meta={"channel": channel.get("name"), "reactions": sum(r.get("count", 0) for r in m.get("reactions") or []),
                  "attachments": len(m.get("attachments") or [])},
            author_attrs={"roles": [r.get("name") for r in author.get("roles") or [] if isinstance(r, dict)]})


register(Format("discord", "discord",
                lambda p, head: p.suffix == ".json" and '"guild"' in head and '"channel"' in head,
                parse, "DiscordChatExporter JSON export of one channel"))
