"""The one pilang error type, and its rendering with the source line and a caret."""
from __future__ import annotations

import itertools
import re
import sys
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from .datum import Span

KINDS = ("syntax", "unbound", "type", "arity", "value", "recursion", "engine", "user", "io", "permission",
         "timeout", "interrupted", "limit", "memory")

# Source texts by file name, so errors can show the offending line (REPL inputs included).
SOURCES: dict[str, str] = {}
# A server gives each developer a table of their own (their "<repl-1>" is not another's): the one set
# here, for the context an evaluation runs in, replaces SOURCES.
OWN_SOURCES: ContextVar[dict[str, str] | None] = ContextVar("pilang_sources", default=None)


def sources() -> dict[str, str]:
    """The source table errors are quoted from, in this context."""
    own = OWN_SOURCES.get()
    return SOURCES if own is None else own


def remember_source(file: str, text: str) -> None:
    """Keep `text` so errors in `file` can quote it."""
    sources()[file] = text


class PilangError(Exception):
    """An error a pilang user can provoke: kind, message, span, pilang call stack, payload."""

    def __init__(self, kind: str, message: str, span: Span | None = None,
                 stack: list[tuple[str, Span]] | None = None, data: Any = None,
                 incomplete: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.span = span
        self.stack = stack or []
        self.data = data
        self.incomplete = incomplete  # syntax only: the input ended inside a form

    def __str__(self) -> str:
        return self.render()

    def headline(self) -> str:
        """`file:line:col: kind: message`."""
        where = f"{self.span.file}:{self.span.line}:{self.span.col}: " if self.span else ""
        return f"{where}{self.kind} error: {self.message}"

    def render(self) -> str:
        """The headline, the source line with a caret under the span, and the call stack."""
        lines = [self.headline()]
        lines += caret_lines(self.span)
        stack = self.user_stack()
        if stack:
            lines.append("pilang call stack (most recent call last):")
            shown = stack if len(stack) <= 20 else stack[:8] + [None] + stack[-8:]
            for frame in shown:
                if frame is None:
                    lines.append(f"  ... {len(stack) - 16} more frames ...")
                else:
                    name, span = frame
                    lines.append(f"  in {name} at {span.file}:{span.line}:{span.col}")
        return "\n".join(lines)


    def user_stack(self) -> list[tuple[str, Span]]:
        """The frames a user wrote: the library's own (the query evaluator in stdlib/) are how pilang works,
        not where the user went wrong, and a stack of the top level alone says nothing (`--debug` and
        `.stack` keep every frame)."""
        from .resources import stdlib_dir
        try:
            library = str(stdlib_dir())
        except Exception:  # noqa: BLE001 (no library found: every frame is the user's)
            library = None
        frames = [f for f in self.stack if not (library and str(f[1].file).startswith(library))]
        return [] if all(name == "<toplevel>" for name, _ in frames) else frames


def caret_lines(span: Span | None) -> list[str]:
    """The source line of `span` and a line of carets under it (nothing if the text is unknown)."""
    table = sources()
    if span is None or span.file not in table:
        return []
    text_lines = table[span.file].split("\n")
    if not 1 <= span.line <= len(text_lines):
        return []
    line = text_lines[span.line - 1].rstrip("\r")
    end = span.end_col if span.end_line == span.line else len(line) + 1
    width = max(1, end - span.col)
    prefix = "".join(c if c == "\t" else " " for c in line[: span.col - 1])
    return [f"  {line}", f"  {prefix}{'^' * width}"]


# ---- Python exceptions raised by compiled pilang code, in pilang's terms ------------------

# Files whose code objects came from the pilang compiler (so their frames are pilang frames).
PILANG_FILES: set[str] = set()
TYPE_NAMES = {"int": "integer", "float": "float", "str": "string", "NoneType": "nil", "Pair": "list",
              "list": "vector", "SrcVector": "vector", "dict": "map", "SrcMap": "map", "Symbol": "symbol",
              "Keyword": "keyword", "bool": "boolean", "function": "procedure", "tuple": "vector"}
_ARITY = re.compile(r"(?P<f>\S+?)\(\) (?:takes (?P<n>\d+|from \d+ to \d+) positional arguments? but "
                    r"(?P<given>\d+) (?:was|were) given|missing (?P<missing>\d+) required positional)")
_OPERANDS = re.compile(r"unsupported operand type\(s\) for (?P<op>\S+): '(?P<a>\w+)' and '(?P<b>\w+)'")
_COMPARE = re.compile(r"'(?P<op>\S+)' not supported between instances of '(?P<a>\w+)' and '(?P<b>\w+)'")
_ATTR = re.compile(r"'(?P<t>\w+)' object has no attribute '(?P<attr>car|cdr)'")
_CALLABLE = re.compile(r"'(?P<t>\w+)' object is not callable")
_UNARY = re.compile(r"bad operand type for unary (?P<op>\S+): '(?P<t>\w+)'")


def type_name(pytype: str) -> str:
    """A Python type name as pilang users know it."""
    return TYPE_NAMES.get(pytype, pytype)


def expect(x: Any, types: type | tuple[type, ...], who: str, what: str) -> Any:
    """x itself if it is one of `types`, else a type error: `who needs what, got <type>`."""
    if type(x) not in (types if isinstance(types, tuple) else (types,)):
        raise PilangError("type", f"{who} needs {what}, got {type_name(type(x).__name__)}")
    return x


def _count(n: int | str, noun: str) -> str:
    return f"{n} {noun}" + ("" if n in (1, "1") else "s")


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def pilang_name(pyname: str) -> str:
    """The pilang variable behind a compiled local name such as 'x 3'."""
    return pyname.rsplit(" ", 1)[0] if " " in pyname.strip() else pyname


def _frames(tb: TracebackType | None) -> list[tuple[str, Span]]:
    """The pilang frames of a traceback, outermost first, each with the position it was at."""
    out = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in PILANG_FILES:
            pos = next(itertools.islice(code.co_positions(), tb.tb_lasti // 2, None), None)
            if pos and pos[0] is not None:
                line, end_line, col, end_col = pos
                out.append((code.co_name, Span(code.co_filename, line, (col or 0) + 1,
                                               end_line or line, (end_col or 0) + 1)))
        tb = tb.tb_next
    return out


def _translate(exc: BaseException) -> tuple[str, str]:
    """(kind, message) for a Python exception raised while running pilang code."""
    msg = str(exc)
    if isinstance(exc, RecursionError):
        return "recursion", (f"recursion too deep (over {sys.getrecursionlimit():,} nested calls); "
                             "make the recursive call a tail call, or use an accumulator or a loop")
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None) or msg
        name = pilang_name(name)
        if isinstance(exc, UnboundLocalError) or "free variable" in msg or "local variable" in msg:
            return "unbound", f"{name} is used before its definition has run"
        return "unbound", f"{name} is not defined"
    if isinstance(exc, TypeError):
        if m := _ARITY.search(msg):
            f = m.group("f").replace("<toplevel>", "form")
            if m.group("missing"):
                return "arity", f"{f} is missing {_count(int(m.group('missing')), 'required argument')}"
            n = m.group("n").replace("from ", "")
            return "arity", f"{f} expects {_count(n, 'argument')}, got {m.group('given')}"
        if m := _OPERANDS.search(msg):
            return "type", f"{m.group('op')} cannot combine {type_name(m.group('a'))} and {type_name(m.group('b'))}"
        if m := _COMPARE.search(msg):
            return "type", f"cannot compare {type_name(m.group('a'))} and {type_name(m.group('b'))} with {m.group('op')}"
        if m := _CALLABLE.search(msg):
            return "type", f"{_article(type_name(m.group('t')))} is not a procedure and cannot be called"
        if m := _UNARY.search(msg):
            return "type", f"{m.group('op')} needs a number, got {type_name(m.group('t'))}"
        return "type", msg
    if isinstance(exc, AttributeError) and (m := _ATTR.search(msg)):
        t = type_name(m.group("t"))
        return "type", f"{m.group('attr')} needs a non-empty list, got {t}" + (" (the empty list)" if t == "nil" else "")
    if isinstance(exc, MemoryError):
        return "memory", ("out of memory: the evaluation asked for more memory than it may use (on a team server,"
                          " pilang serve --memory sets a session's share); definitions made before it are kept")
    if isinstance(exc, ZeroDivisionError):
        return "value", "division by zero"
    if isinstance(exc, (ValueError, KeyError, IndexError, OverflowError)):
        return "value", msg if not isinstance(exc, KeyError) else f"no such key: {msg}"
    if isinstance(exc, OSError):
        return "io", msg
    return "engine", f"{type(exc).__name__}: {msg}"


def from_exception(exc: BaseException) -> PilangError:
    """The PilangError for any exception escaping compiled code, located by its traceback."""
    frames = _frames(exc.__traceback__)
    if isinstance(exc, PilangError):
        err = exc
    else:
        kind, message = _translate(exc)
        err = PilangError(kind, message)
        err.__cause__ = exc
    if err.span is None and frames:
        err.span = frames[-1][1]
    if err.span is None:
        err.span = getattr(exc, "pilang_site", None)
    if not err.stack and len(frames) > 1:
        # each entry: the procedure a frame is in, and where it called the next one
        err.stack = [(name, span) for name, span in frames]
    return err
