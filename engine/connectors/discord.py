"""Discord channel history over the REST API (`GET /channels/{id}/messages?limit=100&after=ID`, newest
first within a page), paged forward from the last message stored per channel; `--guild` syncs every
text channel of a guild. Messages are mapped to the DiscordChatExporter shape and stored through that
format's converter, so a sync and an export of the same messages store the same rows. The bot needs
View Channel, Read Message History and the Message Content intent."""
from __future__ import annotations

import os
from typing import Any

from ..ingestion import formats as F
from ..ingestion.formats.discord import message_record
from .http import Client, ConnectorError

KIND = "discord"
API = "https://discord.com/api/v10"
TEXT_CHANNELS = (0, 5)  # guild text and announcement channels
TYPES = {0: "Default", 19: "Reply"}  # everything else is a system message (pins, joins, boosts ...)
FORM = F.Format("discord-api", "discord", lambda p, h: False, lambda p: iter(()), "Discord REST channel history")
NO_CONTENT = ("every message on a page arrived with empty content: the bot lacks the Message Content intent"
              " (Discord Developer Portal > Bot > Privileged Gateway Intents)")


def name_of(options: dict[str, Any]) -> str:
    if options.get("guild"):
        return f"discord:guild:{options['guild']}"
    if options.get("channel"):
        return f"discord:channel:{options['channel']}"
    raise ConnectorError("discord needs --channel ID or --guild ID")


def exported(m: dict[str, Any]) -> dict[str, Any]:
    """An API message in DiscordChatExporter's shape."""
    author = m.get("author") if isinstance(m.get("author"), dict) else {}
    ref = m.get("message_reference") if isinstance(m.get("message_reference"), dict) else {}
    return {"id": m.get("id"), "type": TYPES.get(m.get("type"), f"type {m.get('type')}"), "content": m.get("content"),
            "timestamp": m.get("timestamp"),
            "author": {"id": author.get("id"), "name": author.get("username"), "isBot": bool(author.get("bot"))},
            "reference": {"messageId": ref.get("message_id")} if ref.get("message_id") else None,
            "mentions": [{"id": u.get("id")} for u in m.get("mentions") or [] if isinstance(u, dict)],
            "reactions": [{"count": r.get("count")} for r in m.get("reactions") or [] if isinstance(r, dict)],
            "attachments": m.get("attachments") or []}


def sync(ws: Any, source: Any, out: Any) -> None:
    o = source.options
    variable = o.get("token_env") or "DISCORD_TOKEN"
    token = os.environ.get(variable)
    if not token:
        raise ConnectorError(f"no bot token: set the environment variable {variable}")
    client = Client(o.get("api_base") or API, headers={"Authorization": f"Bot {token}"}, on_wait=out.note)
    try:
        if o.get("guild"):
            listed = client.get(f"/guilds/{o['guild']}/channels")
            channels = [(str(c["id"]), c.get("name")) for c in listed if isinstance(c, dict) and c.get("type") in TEXT_CHANNELS]
        else:
            info = client.get(f"/channels/{o['channel']}")
            channels = [(str(o["channel"]), info.get("name") if isinstance(info, dict) else None)]
        for channel, name in channels:
            _channel(client, out, channel, name)
    finally:
        client.close()


def _channel(client: Client, out: Any, channel: str, name: Any) -> None:
    after = (out.source.state.get("after") or {}).get(channel, "0")
    while True:
        page = client.get(f"/channels/{channel}/messages", {"limit": 100, "after": after})
        if not isinstance(page, list):
            raise ConnectorError(f"channel {channel}: expected a list of messages, got {str(page)[:100]}")
        page = sorted((m for m in page if isinstance(m, dict) and str(m.get("id", "")).isdigit()), key=lambda m: int(m["id"]))
        if not page:
            return
        talk = [m for m in page if m.get("type") in TYPES and not (m.get("author") or {}).get("bot")]
        if talk and all(not m.get("content") and not m.get("attachments") and not m.get("embeds") for m in talk):
            out.note(NO_CONTENT)
        records = list(F.guarded(((exported(m), f"discord channel {channel} message {m['id']}") for m in page),
                                 lambda m, where: message_record(m, where, channel, name)))
        after = str(page[-1]["id"])
        state = dict(out.source.state)
        state["after"] = {**(state.get("after") or {}), channel: after}
        out.write(records, state)
        if len(page) < 100:
            return
