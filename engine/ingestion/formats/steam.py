"""Steam `appreviews` JSON, as saved by the steamreviews package: {"reviews": {id: review}}."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import (
    Format,
    Message,
    Record,
    Skip,
    clean_text,
    guarded,
    json_entries,
    register,
)


def parse(path: Path) -> Iterator[Record]:
    yield from guarded(json_entries(path, "reviews", "recommendationid", "review"), review_record)


def review_record(r: dict[str, Any], where: str) -> Record:
    """One appreviews review as a record (the live connector stores its pages through this too)."""
    text = clean_text(r.get("review"), where, "review")
    if isinstance(text, Skip):
        return text
    author = r.get("author")
    author = author if isinstance(author, dict) else {}
    created = r.get("timestamp_created")
    if created is not None and (not isinstance(created, (int, float)) or isinstance(created, bool)):
        return Skip("timestamp_created is not a number", where)
    steamid = author.get("steamid")
    return Message(
        source="steam", external_id=str(r["recommendationid"]), text=text,
        author=None if steamid is None or isinstance(steamid, (dict, list)) else str(steamid), platform="steam",
        time=created,
        meta={"voted_up": r.get("voted_up") if isinstance(r.get("voted_up"), bool) else None,
              "language": r.get("language"), "votes_up": r.get("votes_up"), "votes_funny": r.get("votes_funny"),
              "playtime_at_review": author.get("playtime_at_review"),
              "steam_purchase": r.get("steam_purchase"), "received_for_free": r.get("received_for_free")},
        author_attrs={k: author.get(k) for k in ("num_games_owned", "num_reviews", "playtime_forever",
                                                 "playtime_last_two_weeks", "last_played")})


register(Format("steam-reviews", "steam",
                lambda p, head: p.suffix == ".json" and '"reviews"' in head and "recommendationid" in head,
                parse, "Steam appreviews JSON (steamreviews package output)"))
