"""Any CSV or JSONL of messages, read through a column map: `--format csv --map text=review,
time=review_date,id=id,author=user,source=steam`. A mapped value that names a column is read from it,
any other value is a constant (`source=steam`); without a map, the usual column names are looked for.
Times are ISO-8601, unix seconds, the given `--time-format`, or the first common format that reads
every sampled value (so 13/02/2024 settles day-first). Columns not mapped are kept as meta. Rows are
idempotent by the id column, else by a hash of the row."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import (
    Format,
    FormatError,
    Message,
    Record,
    Skip,
    clean_text,
    csv_rows,
    parse_time,
    register,
)

TIME_SAMPLE = 5000  # rows read first to settle a file's time format (then the file is streamed again)
FIELDS = ("text", "time", "id", "author", "source", "thread", "context", "reply_to")
GUESSES = {  # a field's usual column names, when the map does not name one
    "text": ("text", "message", "content", "body", "review", "comment", "post_body"),
    "time": ("time", "timestamp", "date", "created", "created_at", "review_date", "post_date"),
    "id": ("id", "message_id", "review_id", "post_id"),
    "author": ("author", "user", "username", "user_id", "author_id", "player"),
}
TIME_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
                "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%d %b %Y",
                "%b %d, %Y", "%Y-%m-%d %H:%M:%S %Z")
SAMPLE = 200  # values a detected time format must read


def parse_map(spec: str | list[str] | dict[str, str] | None) -> dict[str, str]:
    """`text=review,time=review_date` (or several such strings, or a dict) as {field: column-or-value}."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        items = []
        for part in ([spec] if isinstance(spec, str) else spec):
            for pair in str(part).split(","):
                if pair.strip():
                    key, sep, value = pair.partition("=")
                    if not sep:
                        raise FormatError(f"a column map entry is FIELD=COLUMN, e.g. text=review; got {pair!r}")
                    items.append((key.strip(), value.strip()))
    unknown = [k for k, _ in items if k not in FIELDS]
    if unknown:
        raise FormatError(f"unknown field(s) {', '.join(unknown)} in the column map (fields: {', '.join(FIELDS)})")
    return {str(k): str(v) for k, v in items}


def read_time(text: Any, fmt: str) -> float | None:
    """Unix seconds from a value in format `fmt` (naive means UTC)."""
    try:
        dt = datetime.strptime(str(text).strip(), fmt)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def time_formats(values: list[Any], given: str | None) -> list[str]:
    """The formats times are read in: the given one; else none (ISO-8601 or unix seconds); else the
    common formats that read the sampled values (a column may mix "24.04.2015 17:51:10" and
    "24.04.2015"), dropping month-first ones when a value only reads day-first (13/02/2024)."""
    if given:
        return [given]
    sample = [str(v).strip() for v in values if v not in (None, "") and str(v).strip()][:SAMPLE]
    if not sample or all(parse_time(v) is not None for v in sample):  # ISO-8601 or unix seconds
        return []
    found = [f for f in TIME_FORMATS if any(read_time(v, f) is not None for v in sample)]
    slashed = [v for v in sample if "/" in v]
    month_first = [f for f in found if f.startswith("%m/")]
    if month_first and not all(any(read_time(v, f) is not None for f in month_first) for v in slashed):
        found = [f for f in found if f not in month_first]  # 13/02/2024: the day comes first
    if not found:  # a few unreadable values are skipped row by row; none readable is an error
        raise FormatError(f"times like {sample[0]!r} are in no format pilang knows; give one with --time-format"
                          " (e.g. --time-format '%d.%m.%Y %H:%M:%S')")
    return found


def _rows(path: Path, kind: str, required: list[str]) -> Iterator[tuple[str, dict[str, Any]] | Skip]:
    """(where, row) of a CSV or JSONL file."""
    if kind == "csv":
        for row in csv_rows(path, required):
            yield row if isinstance(row, Skip) else (f"{path}:{row[0]}", row[1])
        return
    with open(path, encoding="utf-8", errors="replace", newline=None) as f:
        yield from _jsonl_rows(path, f, required)


def _jsonl_rows(path: Path, lines: Any, required: list[str]) -> Iterator[tuple[str, dict[str, Any]] | Skip]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield Skip("invalid JSON line", f"{path}:{n} ({getattr(exc, 'msg', 'nested too deeply')})")
            continue
        if not isinstance(obj, dict):
            yield Skip("a JSON line that is not an object", f"{path}:{n}")
            continue
        missing = [c for c in required if c not in obj]
        if missing:
            yield Skip(f"missing field(s) {', '.join(missing)}", f"{path}:{n}")
            continue
        yield f"{path}:{n}", obj


def _columns(path: Path, kind: str) -> list[str]:
    """The column names of the file (a CSV's header, the first JSON line's keys)."""
    for row in _rows(path, kind, []):
        if not isinstance(row, Skip):
            return list(row[1])
    return []


def resolve(mapping: dict[str, str], columns: list[str], path: Path) -> dict[str, tuple[str, str]]:
    """field -> ("column", name) or ("value", constant); the text column must exist."""
    out: dict[str, tuple[str, str]] = {}
    for name in FIELDS:
        if name in mapping:
            value = mapping[name]
            out[name] = ("column", value) if value in columns else ("value", value)
        else:
            found = next((c for c in GUESSES.get(name, ()) if c in columns), None)
            if found:
                out[name] = ("column", found)
    if out.get("text", ("value", ""))[0] != "column":
        raise FormatError(f"{path}: no text column (map one: --map text=COLUMN; columns: {', '.join(columns)})")
    for name in ("time", "id", "author", "thread", "context", "reply_to"):
        if name in out and out[name][0] == "value" and name in mapping:
            raise FormatError(f"{path}: --map {name}={mapping[name]} names no column (columns: {', '.join(columns)})")
    return out


def parse(path: Path, kind: str, mapping: dict[str, str], given_time_format: str | None = None) -> Iterator[Record]:
    """Messages from a mapped CSV/JSONL file."""
    fields = resolve(mapping, _columns(path, kind), path)
    used = {col for how, col in fields.values() if how == "column"}

    def get(row: dict[str, Any], name: str) -> Any:
        how, what = fields.get(name, ("value", None))
        return row.get(what) if how == "column" else what
    from itertools import islice
    sample = list(islice(_rows(path, kind, [fields["text"][1]]), TIME_SAMPLE))  # the time format, from a sample
    formats = time_formats([get(r[1], "time") for r in sample if not isinstance(r, Skip)], given_time_format) \
        if "time" in fields else []
    source = str(get({}, "source") or "") if fields.get("source", ("value",))[0] == "value" else None
    for row in _rows(path, kind, [fields["text"][1]]):  # then the file again, streamed
        if isinstance(row, Skip):
            yield row
            continue
        where, r = row
        text = clean_text(None if get(r, "text") is None else str(get(r, "text")), where)
        if isinstance(text, Skip):
            yield text
            continue
        stamp = None
        if "time" in fields and get(r, "time") not in (None, ""):
            raw = get(r, "time")
            stamp = parse_time(raw, formats)
            if stamp is None:
                yield Skip("unreadable time", where)
                continue
        src = source or str(get(r, "source") or path.stem)
        ident = get(r, "id")
        if ident in (None, ""):
            ident = hashlib.sha1(json.dumps(r, sort_keys=True, default=str).encode()).hexdigest()[:16]
        author = get(r, "author")
        yield Message(source=src, external_id=str(ident), text=text, author=None if author in (None, "") else str(author),
                      platform=src, time=stamp,
                      thread=None if get(r, "thread") in (None, "") else str(get(r, "thread")),
                      context=None if get(r, "context") in (None, "") else str(get(r, "context")),
                      reply_to=None if get(r, "reply_to") in (None, "") else str(get(r, "reply_to")),
                      meta={k: v for k, v in r.items() if k not in used})


def mapped(kind: str, mapping: dict[str, str] | None = None, given_time_format: str | None = None) -> Format:
    """The `csv` or `jsonl` format read through this column map."""
    if kind not in ("csv", "jsonl"):
        raise FormatError(f"a column map reads csv or jsonl files, not {kind!r}")
    spec = dict(mapping or {})
    return Format(kind, "messages", lambda p, h: False,
                  lambda p: parse(p, kind, spec, given_time_format),
                  f"Any {kind.upper()} of messages through a column map ({', '.join(FIELDS)})")


# `--format csv` / `--format jsonl` without a map: the usual column names (never detected by content)
register(mapped("csv"))
register(mapped("jsonl"))
