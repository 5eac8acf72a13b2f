"""Input formats: each parser turns a file into records; `detect` picks the parser for a file."""
from __future__ import annotations

import csv
import io
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
class Crash:
    """A game's crash report: where it crashed (the stack's hash groups reports of one crash), on which
    build and platform, its message, and whose game it was."""
    source: str
    external_id: str
    time: float | None
    build: str
    platform: str
    stack_hash: str
    message: str
    player: str | None


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
    """A small file's text; invalid UTF-8 is replaced (reported by the caller's row checks)."""
    return path.read_bytes().decode("utf-8", errors="replace")


class CleanUtf8(io.RawIOBase):
    """A binary file read through an incremental UTF-8 decoder that replaces invalid bytes, so one
    bad byte costs one character, not the rest of the file; counts the bytes read (for messages)."""

    def __init__(self, raw: Any) -> None:
        import codecs
        self.raw, self.read_bytes = raw, 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            chunk = self.raw.read(max(len(buffer), 4096))
            self.read_bytes += len(chunk)
            self.pending = self.decoder.decode(chunk, final=not chunk).encode("utf-8")
            if not chunk:
                break
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def _events(path: Path) -> tuple[Any, CleanUtf8]:
    import ijson
    f = CleanUtf8(open(path, "rb"))  # noqa: SIM115  (closed by the caller through the returned reader)
    return ijson.parse(f, use_float=True), f


def json_field(path: Path, key: str) -> Any:
    """The value of one top-level field, read by a streaming parser (ijson) that stops once it has it."""
    import ijson
    events, f = _events(path)
    try:
        first = next(events, None)
        if first is None or first[:2] != ("", "start_map"):
            raise FormatError(f"{path}: expected a JSON object at the top")
        found = list(ijson.items(_top_level(events, key), key))
    except ijson.JSONError as exc:
        raise FormatError(f"{path}: unreadable JSON before its {key!r} field (near byte {f.read_bytes:,}):"
                          f" {_first_line(exc)}") from None
    finally:
        f.raw.close()
    if not found:
        raise FormatError(f"{path}: no {key!r} field")
    return found[0]


def _top_level(events: Any, key: str) -> Iterator[tuple[str, str, Any]]:
    """The events of the top-level field `key` only, ending once it is complete."""
    depth_inside = None
    for prefix, event, value in events:
        if depth_inside is None:
            if prefix == "" and event == "map_key" and value == key:
                depth_inside = 0
            continue
        yield prefix, event, value
        if event in ("start_map", "start_array"):
            depth_inside += 1
        elif event in ("end_map", "end_array"):
            depth_inside -= 1
        if depth_inside == 0:
            return


def _first_line(exc: BaseException) -> str:
    text = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def json_items(path: Path, key: str | None) -> Iterator[tuple[str | None, Any] | Skip]:
    """The entries of the top-level array (key None) or of the object/array under the top-level field
    `key`, streamed (ijson): memory holds one entry at a time, and a truncated or broken file still
    yields every complete entry before the break, then a Skip that says where it broke."""
    import ijson
    events, f = _events(path)
    n = 0
    try:
        container = None
        for prefix, event, _ in events:
            if key is None:
                container = event if prefix == "" else None
                break
            if prefix == "" and event != "start_map" and event != "map_key":
                break
            if prefix == key and event in ("start_array", "start_map"):
                container = event
                break
        if container not in ("start_array", "start_map"):
            raise FormatError(f"{path}: " + ("expected a JSON array or object at the top" if key is None
                                              else f"no {key!r} array or object at the top level"))
        where = "item" if key is None else f"{key}.item"
        entries = (ijson.items(events, where) if container == "start_array"
                   else ijson.kvitems(events, key or ""))
        for entry in entries:
            n += 1
            yield (None, entry) if container == "start_array" else entry
    except ijson.JSONError as exc:
        kind = "truncated JSON (the file ends inside it)" if isinstance(exc, ijson.IncompleteJSONError) and \
            "premature EOF" in _first_line(exc) else "truncated or invalid JSON (entries after it were not read)"
        yield Skip(kind, f"{path} near byte {f.read_bytes:,} (entry {n + 1}): {_first_line(exc)[:120]}")
    finally:
        f.raw.close()


def json_entries(path: Path, key: str | None, required: str, noun: str
                 ) -> Iterator[tuple[dict[str, Any], str] | Skip]:
    """(object, where) for each entry of `json_items` that is an object with the `required` field;
    anything else becomes a Skip naming the entry."""
    for n, item in enumerate(json_items(path, key), 1):
        if isinstance(item, Skip):
            yield item
            continue
        name, obj = item
        label = name if name is not None else (obj.get(required) if isinstance(obj, dict) else None)
        if not isinstance(label, (str, int, float)) or isinstance(label, bool):
            label = f"#{n}"
        where = f"{path} {noun} {label}"
        if not isinstance(obj, dict) or required not in obj:
            yield Skip(f"not a {noun} object", where)
        else:
            yield obj, where


def guarded(entries: Iterator[tuple[dict[str, Any], str] | Skip],
            convert: Callable[[dict[str, Any], str], Record | None]) -> Iterator[Record]:
    """Each entry converted by `convert`; an entry whose fields have the wrong types (a string where
    an object belongs, a list for a number) is skipped and named, and the file goes on."""
    for entry in entries:
        if isinstance(entry, Skip):
            yield entry
            continue
        obj, where = entry
        try:
            record = convert(obj, where)
        except (TypeError, AttributeError, ValueError, KeyError, OverflowError) as exc:
            yield Skip("malformed entry (a field of the wrong type)", f"{where}: {type(exc).__name__}: {exc}"[:300])
            continue
        if record is not None:
            yield record


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


csv.field_size_limit(1 << 30)  # long ticket bodies are real; MAX_TEXT cuts them later, visibly
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)


def csv_rows(path: Path, required: list[str], delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]] | Skip]:
    """(line, row) for each CSV row; a row with undecodable bytes is skipped and named, and a
    file lacking a required column is a FormatError naming the missing columns."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:  # streamed, a row at a time
        yield from _csv_rows(path, csv.reader(f, delimiter=delimiter), required)


def _csv_rows(path: Path, reader: Any, required: list[str]) -> Iterator[tuple[int, dict[str, str]] | Skip]:
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError(f"{path}: empty file") from None
    except csv.Error as exc:
        raise FormatError(f"{path}: unreadable CSV header ({exc})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise FormatError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # one malformed row (a stray quote at the end, a NUL byte): skipped, named
            yield Skip(f"unreadable CSV row ({exc})", f"{path}:{reader.line_num}")
            continue
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


def clean_text(text: Any, where: str, field: str = "text") -> str | Skip:
    """The text to keep, or a Skip for an empty one or for a `field` that is not text at all."""
    if text is not None and not isinstance(text, str):
        return Skip(f"{field} is not text", where)
    if text is None or not text.strip():
        return Skip("empty text", where)
    return text
