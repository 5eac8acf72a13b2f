"""Patch notes: Warframe forum patchlogs (one JSON array) and Dota 2 datafeed patches (one per file)."""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import (
    Change,
    Format,
    FormatError,
    Record,
    Skip,
    guarded,
    iso_time,
    json_entries,
    read_text,
    register,
)


def _text(v: Any) -> str:
    return v.strip() if isinstance(v, str) else ""


def parse_warframe(path: Path) -> Iterator[Record]:
    def note(p: dict[str, Any], where: str) -> Record:
        if not isinstance(p["name"], str) or not p["name"].strip():
            return Skip("patch note without a name", where)
        sections = [_text(p.get(k)) for k in ("description", "additions", "changes", "fixes")]
        # a note whose sections were not scraped is still a dated change: its title is its text
        text = "\n".join(s for s in sections if s) or p["name"]
        time = iso_time(p.get("date"))
        if time is None:
            return Skip("patch note without a readable date", where)
        # urls repeat (tag pages), names repeat across platforms: the dated name is the identity
        return Change(source="warframe", external_id=f"{p['date']}|{p['name']}", time=time, title=p["name"],
                      text=text, kind=(_text(p.get("type")) or "update").lower())
    yield from guarded(json_entries(path, None, "name", "patch"), note)


@lru_cache(maxsize=4)
def _names(folder: Path, name: str) -> dict[str, str]:
    """id -> name from a Dota mapper CSV beside the patch files, when present."""
    path = folder / name
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["id"]: row["name"] for row in csv.DictReader(f)}


def _notes(entries: list, label: str) -> list[str]:
    lines = []
    for e in entries or []:
        if isinstance(e, dict) and e.get("note"):
            lines.append(("  " * max(int(e.get("indent_level", 1)) - 1, 0)) + f"{label}{e['note']}")
    return lines


def parse_dota(path: Path) -> Iterator[Record]:
    try:
        p = json.loads(read_text(path))
    except ValueError as exc:
        raise FormatError(f"{path}: invalid JSON ({exc})") from None
    mappers = path.parent.parent / "mappers"
    heroes, items = _names(mappers, "heroes_mapper.csv"), _names(mappers, "items_mapper.csv")
    lines: list[str] = []
    for section in p.get("general_notes") or []:
        lines += _notes(section.get("generic"), f"{section.get('title', 'General')}: ")
    for hero in p.get("heroes") or []:
        name = heroes.get(str(hero.get("hero_id")), f"hero {hero.get('hero_id')}")
        lines += _notes(hero.get("hero_notes"), f"{name}: ")
        for ability in hero.get("abilities") or []:
            lines += _notes(ability.get("ability_notes"), f"{name}: ")
        for sub in hero.get("subsections") or []:
            for ability in sub.get("abilities") or []:
                lines += _notes(ability.get("ability_notes"), f"{name} ({sub.get('title', '')}): ")
    for key in ("items", "neutral_items"):
        for item in p.get(key) or []:
            name = items.get(str(item.get("ability_id")), "item")
            lines += _notes(item.get("ability_notes"), f"{name}: ")
    number = p.get("patch_number") or path.stem
    if not lines:
        yield Skip("patch without notes (older patches link to a web page instead)", f"{path}")
        return
    yield Change(source="dota2", external_id=str(number), time=p.get("patch_timestamp"),
                 title=f"Dota 2 patch {number}", text="\n".join(lines), kind="patch")


def parse_generic(path: Path) -> Iterator[Record]:
    def note(p: dict[str, Any], where: str) -> Record:
        if not isinstance(p["title"], str) or not p["title"].strip():
            return Skip("patch note without a title", where)
        time = iso_time(p.get("date"))
        if time is None:
            return Skip("patch note without a readable date", where)
        return Change(source="patch-notes", external_id=f"{p['date']}|{p['title']}", time=time, title=p["title"],
                      text=_text(p.get("text")) or p["title"], kind=_text(p.get("kind")) or "update")
    yield from guarded(json_entries(path, None, "title", "patch note"), note)


register(Format("patch-notes", "patch-notes",
                lambda p, head: p.suffix == ".json" and head.lstrip().startswith("[") and '"title"' in head
                and '"date"' in head,
                parse_generic, "Patch notes JSON array of {date, title, text[, kind]}"))
register(Format("warframe-patchnotes", "warframe",
                lambda p, head: p.suffix == ".json" and head.lstrip().startswith("[") and '"fixes"' in head,
                parse_warframe, "Warframe forum patch logs (WFCD warframe-patchlogs JSON array)"))
register(Format("dota2-patchnotes", "dota2",
                lambda p, head: p.suffix == ".json" and '"patch_number"' in head,
                parse_dota, "Dota 2 datafeed patch notes (one JSON file per patch)"))
