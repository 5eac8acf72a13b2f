"""Steam `appreviews` JSON, as saved by the steamreviews package: {"reviews": {id: review}}."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import Format, Message, Record, Skip, clean_text, json_items, read_text, register


def parse(path: Path) -> Iterator[Record]:
    for item in json_items(read_text(path), "reviews", path):
        if isinstance(item, Skip):
            yield item
            continue
        rec_id, r = item
        where = f"{path} review {rec_id}"
        if not isinstance(r, dict) or "review" not in r:
            yield Skip("not a review object", where)
            continue
        text = clean_text(r.get("review"), where)
        if isinstance(text, Skip):
            yield text
            continue
        author = r.get("author") or {}
        yield Message(
            source="steam", external_id=str(r.get("recommendationid", rec_id)), text=text,
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
