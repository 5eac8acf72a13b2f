"""Input formats: each parser turns a file into records; `detect` picks the parser for a file."""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MAX_TEXT = 100_000  # characters kept of one message; the rest is cut (and counted in the report)


@dataclass
class Message:
    """A piece of community text: chat line, review, post, ticket."""
    source: str
    external_id: str
    text: str
    author: str | None = None
    platform: str | None = None  # the id space `author` belongs to (for pseudonyms)
    time: float | None = None
    thread: str | None = None  # the conversation it belongs to (channel, post, ticket)
    context: str | None = None  # a wider shared setting (a match)
    reply_to: str | None = None
    mentions: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    author_attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.text) > MAX_TEXT:  # kept, cut, and the cut recorded (the report counts it)
            self.meta["cut_from_chars"] = len(self.text)
            self.text = self.text[:MAX_TEXT]


@dataclass
class Change:
    """A dated change to the game: a patch note, update or hotfix."""
    source: str
    external_id: str
    time: float | None
    title: str
    text: str
    kind: str


@dataclass
class Event:
    """A telemetry event: player did `event` (with a value) at `time`."""
    source: str
    external_id: str
    player: str
    time: float | None
    event: str
    value: float | None


@dataclass
class PlayerFacts:
    """One row of a player table: attributes of a player."""
    source: str
    player: str
    facts: dict[str, Any]


@dataclass
class Skip:
    """A row not taken, with the reason (grouped in the report) and where it was."""
    reason: str
    where: str


Record = Message | Change | Event | PlayerFacts | Skip


class FormatError(Exception):
    """A file that cannot be read as its format at all (names the file and, where known, the row)."""


@dataclass
class Format:
    """A named input format: how to recognise a file and how to parse it."""
    name: str
    kind: str  # the source kind its records carry (steam, discord, ...)
    sniff: Callable[[Path, str], bool]
    parse: Callable[[Path], Iterator[Record]]
    description: str


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    FORMATS[fmt.name] = fmt
    return fmt


def head(path: Path, size: int = 8192) -> str:
    """The start of a file as text (undecodable bytes replaced), for sniffing."""
    with open(path, "rb") as f:
        return f.read(size).decode("utf-8", errors="replace")


def detect(path: Path) -> Format:
    """The format of a file, by its content; FormatError naming the file if none matches."""
    _load_all()
    start = head(path)
    for fmt in FORMATS.values():
        if fmt.sniff(path, start):
            return fmt
    raise FormatError(f"{path}: not a known format (known: {', '.join(sorted(FORMATS))}); "
                      "name one with --format")


def _load_all() -> None:
    from . import discord, mapped, patchnotes, steam, tables, voice  # noqa: F401  (registration)


def get(name: str) -> Format:
    _load_all()
    if name not in FORMATS:
        raise FormatError(f"unknown format {name!r} (known: {', '.join(sorted(FORMATS))})")
    return FORMATS[name]


# ---- tolerant readers ------------------------------------------------------------------------

def read_text(path: Path) -> str:
    """A JSON file's text; invalid UTF-8 is replaced (reported by the caller's row checks)."""
    return path.read_bytes().decode("utf-8", errors="replace")


def _field_start(text: str, key: str, path: Path) -> int:
    """Offset of the value of the top-level field `key` (found by its first occurrence)."""
    i = _skip_ws(text, 0)
    if text[i:i + 1] != "{":
        raise FormatError(f"{path}: expected a JSON object at the top")
    marker = text.find(json.dumps(key), i)
    if marker < 0 or text.find(":", marker) < 0:
        raise FormatError(f"{path}: no {key!r} field")
    return _skip_ws(text, text.index(":", marker) + 1)


def json_field(text: str, key: str, path: Path) -> Any:
    """The value of one top-level field, parsed without parsing the rest of the file."""
    try:
        return json.JSONDecoder().raw_decode(text, _field_start(text, key, path))[0]
    except ValueError:
        raise FormatError(f"{path}: unreadable {key!r} field") from None


def json_items(text: str, key: str | None, path: Path) -> Iterator[tuple[str | None, Any] | Skip]:
    """The entries of the top-level array (key None) or of the object/array under `key`,
    parsed one by one, so a truncated file still yields every complete entry before the cut."""
    dec = json.JSONDecoder()
    i = _skip_ws(text, 0) if key is None else _field_start(text, key, path)
    opener = text[i:i + 1]
    if opener not in ("[", "{"):
        raise FormatError(f"{path}: expected a JSON array or object at offset {i}")
    closer = "]" if opener == "[" else "}"
    i = _skip_ws(text, i + 1)
    n = 0
    while i < len(text) and text[i] != closer:
        try:
            name = None
            if opener == "{":
                name, i = dec.raw_decode(text, i)
                i = _skip_ws(text, i)
                if text[i:i + 1] != ":":
                    raise ValueError("expected ':'")
                i = _skip_ws(text, i + 1)
            value, i = dec.raw_decode(text, i)
        except ValueError:
            line = text.count("\n", 0, i) + 1
            yield Skip("truncated or invalid JSON (entries after it were not read)", f"{path}:{line} (entry {n + 1})")
            return
        yield name, value
        n += 1
        i = _skip_ws(text, i)
        if text[i:i + 1] == ",":
            i = _skip_ws(text, i + 1)
    if i >= len(text):
        line = text.count("\n") + 1
        yield Skip("truncated JSON (the file ends inside it)", f"{path}:{line}")


def json_entries(text: str, key: str | None, path: Path, required: str, noun: str
                 ) -> Iterator[tuple[dict[str, Any], str] | Skip]:
    """(object, where) for each entry of `json_items` that is an object with the `required` field;
    anything else becomes a Skip naming the entry."""
    for item in json_items(text, key, path):
        if isinstance(item, Skip):
            yield item
            continue
        name, obj = item
        label = name if name is not None else (obj.get(required, "?") if isinstance(obj, dict) else "?")
        where = f"{path} {noun} {label}"
        if not isinstance(obj, dict) or required not in obj:
            yield Skip(f"not a {noun} object", where)
        else:
            yield obj, where


def iso_time(text: Any) -> float | None:
    """Unix seconds from an ISO-8601 timestamp ('Z' allowed, naive means UTC); None if unreadable."""
    try:
        dt = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def parse_time(text: Any, formats: tuple[str, ...] | list[str] = ()) -> float | None:
    """Unix seconds from ISO-8601, one of `formats` (naive times are UTC), or a number; else None."""
    text = str(text).strip()
    if not text:
        return None
    stamp = iso_time(text)
    if stamp is not None:
        return stamp
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    try:
        return float(text)
    except ValueError:
        return None


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


csv.field_size_limit(1 << 30)  # long ticket bodies are real; MAX_TEXT cuts them later, visibly
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)


def csv_rows(path: Path, required: list[str], delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]] | Skip]:
    """(line, row) for each CSV row; a row with undecodable bytes is skipped and named, and a
    file lacking a required column is a FormatError naming the missing columns."""
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError(f"{path}: empty file") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise FormatError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
    for row in reader:
        line = reader.line_num
        if _UNDECODED.search("\x00".join(row)):
            yield Skip("not valid UTF-8", f"{path}:{line}")
            continue
        if len(row) != len(header):
            if not any(cell.strip() for cell in row):
                continue
            yield Skip(f"wrong number of fields ({len(row)}, header has {len(header)})", f"{path}:{line}")
            continue
        yield line, dict(zip(header, row))


def clean_text(text: str | None, where: str) -> str | Skip:
    """The text to keep, or a Skip for an empty one."""
    if text is None or not text.strip():
        return Skip("empty text", where)
    return text
