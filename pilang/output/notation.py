"""Printing values: `write` (readable, round-trips through the reader) and `display` (for people)."""
from __future__ import annotations

import math
import re
from typing import Any

from ..datum import Keyword, Pair, Symbol

PLAIN_SYMBOL = re.compile(r"[^\s()\[\]{}\"';`,|#:][^\s()\[\]{}\"';`,|]*\Z")
LOOKS_NUMERIC = re.compile(r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]inf\.0|\+nan\.0|\.)\Z")
STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}
PREFIXES = {"quote": "'", "quasiquote": "`", "unquote": ",", "unquote-splicing": ",@"}
_STRING_RE = re.compile(r'[\\"\n\t\r\0]|[^\x20-\x7e\u00a0-\U0010ffff]')


def _escape_char(m: re.Match[str]) -> str:
    c = m.group(0)
    return STRING_ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def write_atom(x: Any) -> str | None:
    """The readable text of an atom, or None for a container."""
    if x is None:
        return "nil"
    if x is True:
        return "#t"
    if x is False:
        return "#f"
    t = type(x)
    if hasattr(t, "__pilang_repr__"):  # engine values print their own way (tables, records)
        return x.__pilang_repr__()
    if t is int:
        return str(x)
    if t is float:
        if math.isnan(x):
            return "+nan.0"
        if math.isinf(x):
            return "+inf.0" if x > 0 else "-inf.0"
        return repr(x)
    if t is str:
        return '"' + _STRING_RE.sub(_escape_char, x) + '"'
    if t is Symbol:
        return write_symbol(x)
    if t is Keyword:
        return ":" + x.name
    if isinstance(x, (Pair, list, tuple, dict)):
        return None
    return describe(x)


def write_symbol(sym: Symbol) -> str:
    """A symbol's name, escaped with |...| when the reader would not give it back as is."""
    name = sym.name
    if not sym.interned:
        return "#:" + name
    if name == "nil" or not PLAIN_SYMBOL.match(name) or LOOKS_NUMERIC.match(name):
        return "|" + name.replace("\\", "\\\\").replace("|", "\\|") + "|"
    return name


def describe(x: Any) -> str:
    """The printed form of a value with no readable syntax (procedures, engine objects)."""
    custom = getattr(x, "__pilang_repr__", None)
    if custom is not None:
        return custom()
    if callable(x):
        kind = "primitive" if getattr(x, "__pilang_primitive__", False) else "procedure"
        return f"#<{kind} {getattr(x, '__name__', '?')}>"
    return f"#<{type(x).__name__} {x!r}>"


def write_string(x: Any, readable: bool = True) -> str:
    """Render `x` without recursion, so 10,000-deep nesting prints; cycles print as #<cycle>."""
    out: list[str] = []
    todo: list[tuple[int, Any]] = [(0, x)]  # 0: a value to render, 1: literal text, 2: close container id
    open_ids: set[int] = set()
    while todo:
        op, v = todo.pop()
        if op == 1:
            out.append(v)
            continue
        if op == 2:
            open_ids.discard(v)
            continue
        if not readable and type(v) is str:
            out.append(v)
            continue
        text = write_atom(v)
        if text is not None:
            out.append(text)
            continue
        if id(v) in open_ids:
            out.append("#<cycle>")
            continue
        todo.append((2, id(v)))
        open_ids.add(id(v))
        if type(v) is Pair:
            _push_list(v, todo, out)
        elif isinstance(v, dict):
            items = [(k, val) for k, val in v.items()]
            out.append("{")
            todo.append((1, "}"))
            for i, (k, val) in enumerate(reversed(items)):
                todo.append((0, val))
                todo.append((1, " "))
                todo.append((0, k))
                if i < len(items) - 1:
                    todo.append((1, " "))
        else:  # vectors (lists and tuples)
            out.append("[")
            _push_seq(list(v), "]", todo)
    return "".join(out)


def _push_list(p: Pair, todo: list[tuple[int, Any]], out: list[str]) -> None:
    """Schedule a list: quote forms get their short prefix, improper tails a dot."""
    head, rest = p.car, p.cdr
    if type(head) is Symbol and head.name in PREFIXES and type(rest) is Pair and rest.cdr is None:
        out.append(PREFIXES[head.name])
        todo.append((0, rest.car))
        return
    items: list[Any] = []
    while type(p) is Pair:
        items.append(p.car)
        p = p.cdr
    out.append("(")
    if p is not None:
        todo.append((1, ")"))
        todo.append((0, p))
        todo.append((1, " . "))
        _push_seq(items, "", todo)
    else:
        _push_seq(items, ")", todo)


def _push_seq(items: list[Any], close: str, todo: list[tuple[int, Any]]) -> None:
    if close:
        todo.append((1, close))
    for i, item in enumerate(reversed(items)):
        todo.append((0, item))
        if i < len(items) - 1:
            todo.append((1, " "))


def display_string(x: Any) -> str:
    """Human form: strings without quotes, everything else as `write`."""
    return x if type(x) is str else write_string(x, readable=False)
