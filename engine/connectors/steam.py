"""Steam reviews from the public `appreviews` endpoint, newest first, 100 a page, by cursor. A run
first finishes any pass a previous run left (its cursor is saved with every page), then pages from
the newest until a page holds only reviews already stored, or the end. Reviews are stored through
the appreviews file format's own converter, so a sync equals an ingest of the same reviews."""
from __future__ import annotations

import os
from typing import Any

from ..ingestion import formats as F
from ..ingestion.formats.steam import review_record
from ..ingestion.pipeline import existing_ids
from .http import Client, ConnectorError

KIND = "steam"
API = "https://store.steampowered.com"
PACE = 1.5  # seconds between requests ($PILANG_STEAM_PACE): Steam's limit is unpublished
FORM = F.Format("steam-appreviews-api", "steam", lambda p, h: False, lambda p: iter(()), "Steam appreviews API")


def name_of(options: dict[str, Any]) -> str:
    if not options.get("app"):
        raise ConnectorError("steam needs --app (the store's app id, e.g. 230410)")
    return f"steam:{options['app']}:{options.get('language', 'all')}"


def sync(ws: Any, source: Any, out: Any) -> None:
    o = source.options
    client = Client(o.get("api_base") or API, pace=float(os.environ.get("PILANG_STEAM_PACE", PACE)), on_wait=out.note)
    try:
        state = dict(source.state)
        if state.get("resume"):  # a pass a previous run did not finish: from where it stopped
            _pass(client, out, o, state, state["resume"])
        _pass(client, out, o, state, "*")
    finally:
        client.close()


def _pass(client: Client, out: Any, o: dict[str, Any], state: dict[str, Any], cursor: str) -> None:
    """Pages from `cursor` until the end, a repeated cursor, or a page of reviews all stored already."""
    seen = {cursor}
    while True:
        data = client.get(f"/appreviews/{o['app']}", {
            "json": 1, "cursor": cursor, "num_per_page": 100, "filter": "recent", "language": o.get("language", "all"),
            "review_type": "all", "purchase_type": "all"})
        if not isinstance(data, dict) or data.get("success") != 1:
            raise ConnectorError(f"app {o['app']}: Steam answered without success ({str(data)[:120]})")
        reviews = [r for r in data.get("reviews") or [] if isinstance(r, dict)]
        nxt = data.get("cursor")
        ids = [str(r.get("recommendationid")) for r in reviews]
        if not reviews or not (set(ids) - existing_ids(out.ws, "messages", "steam", ids)):
            out.write([], {**state, "resume": None})  # caught up
            return
        records = list(F.guarded(((r, f"steam app {o['app']} review {r.get('recommendationid')}")
                                  for r in reviews if "recommendationid" in r), review_record))
        end = not nxt or nxt in seen
        state = {**state, "resume": None if end else nxt}
        out.write(records, state)
        if end:
            return
        seen.add(nxt)
        cursor = nxt
