"""Zendesk tickets through the cursor-based incremental export
(`/api/v2/incremental/tickets/cursor.json?start_time=0`, then `?cursor=...` until `end_of_stream`),
the after-cursor committed with each page. Tickets land as the tickets format's do: subject and
description as the text, status and priority as meta, one thread per ticket."""
from __future__ import annotations

import os
from typing import Any

from ..ingestion import formats as F
from .http import Client, ConnectorError

KIND = "zendesk"
FORM = F.Format("zendesk-api", "tickets", lambda p, h: False, lambda p: iter(()), "Zendesk incremental ticket export")


def name_of(options: dict[str, Any]) -> str:
    if not options.get("subdomain"):
        raise ConnectorError("zendesk needs --subdomain (the S in S.zendesk.com)")
    return f"zendesk:{options['subdomain']}"


def ticket_record(t: dict[str, Any], where: str, tracker: str) -> F.Record:
    text = F.clean_text("\n\n".join(x.strip() for x in (t.get("subject"), t.get("description"))
                                    if isinstance(x, str) and x.strip()), where)
    if isinstance(text, F.Skip):
        return text
    created = F.iso_time(t.get("created_at")) if t.get("created_at") else None
    if created is None:
        return F.Skip("ticket without a readable created date", where)
    requester = t.get("requester_id")
    return F.Message(source="tickets", external_id=f"{tracker}:{t['id']}", text=text,
                     author=None if requester is None else str(requester), platform="tickets", time=created,
                     thread=f"ticket:{tracker}:{t['id']}",
                     meta={"tracker": tracker, "status": t.get("status"), "priority": t.get("priority"),
                           "resolution": None, "resolved": None})


def sync(ws: Any, source: Any, out: Any) -> None:
    o = source.options
    email, token = os.environ.get(o.get("email_env") or "ZENDESK_EMAIL"), os.environ.get(o.get("token_env") or "ZENDESK_TOKEN")
    if not (email and token):
        raise ConnectorError(f"no credentials: set {o.get('email_env') or 'ZENDESK_EMAIL'} and"
                             f" {o.get('token_env') or 'ZENDESK_TOKEN'}")
    client = Client(o.get("api_base") or f"https://{o['subdomain']}.zendesk.com", auth=(f"{email}/token", token),
                    on_wait=out.note)
    tracker = f"zendesk-{o['subdomain']}"
    try:
        while True:
            cursor = out.source.state.get("cursor")
            params = {"cursor": cursor} if cursor else {"start_time": int(o.get("start_time") or 0)}
            page = client.get("/api/v2/incremental/tickets/cursor.json", params)
            if not isinstance(page, dict):
                raise ConnectorError(f"{tracker}: expected an object, got {str(page)[:100]}")
            tickets = [t for t in page.get("tickets") or [] if isinstance(t, dict) and "id" in t]
            records = list(F.guarded(((t, f"{tracker} ticket {t['id']}") for t in tickets),
                                     lambda t, where: ticket_record(t, where, tracker)))
            out.write(records, {**out.source.state, "cursor": page.get("after_cursor") or cursor})
            if page.get("end_of_stream") or not page.get("after_cursor"):
                return
    finally:
        client.close()
