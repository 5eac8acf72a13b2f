"""Steam `appreviews` JSON, as saved by the steamreviews package: {"reviews": {id: review}}."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import (
    Format,
    Message,
    Record,
    Skip,
    clean_text,
    json_entries,
    read_text,
    register,
)


def parse(path: Path) -> Iterator[Record]:
    for entry in json_entries(read_text(path), "reviews", path, "recommendationid", "review"):
        if isinstance(entry, Skip):
            yield entry
            continue
        r, where = entry
        text = clean_text(r.get("review"), where)
        if isinstance(text, Skip):
            yield text
            continue
        author = r.get("author") or {}
        yield Message(
            source="steam", external_id=str(r["recommendationid"]), text=text,
            author=author.get("steamid"), platform="steam", time=r.get("timestamp_created"),
            meta={"voted_up": r.get("voted_up"), "language": r.get("language"),
                  "votes_up": r.get("votes_up"), "votes_funny": r.get("votes_funny"),
                  "playtime_at_review": author.get("playtime_at_review"),
                  "steam_purchase": r.get("steam_purchase"), "received_for_free": r.get("received_for_free")},
            author_attrs={k: author.get(k) for k in ("num_games_owned", "num_reviews", "playtime_forever",
                                                     "playtime_last_two_weeks", "last_played")})


register(Format("steam-reviews", "steam",
                lambda p, head: p.suffix == ".json" and '"reviews"' in head and "recommendationid" in head,
                parse, "Steam appreviews JSON (steamreviews package output)"))
