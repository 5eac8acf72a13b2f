"""The team server's sessions: one pilang Session per developer (their own global environment, kept
as their definitions in the workspace and replayed when the session starts again), each in a worker
process of its own (workers.py), requests evaluated with a time limit (interrupted like Ctrl-C, again
and again until the evaluation ends; definitions kept), their output captured per request and their
results rendered inside the same limit and cut at a size. Nothing here speaks HTTP (app.py does)."""
from __future__ import annotations

import gc
import io
import json
import re
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..datum import Keyword, Pair, Span, Symbol
from ..errors import OWN_SOURCES, PilangError, caret_lines
from ..reader import read
from ..session import Session
from ..output.tojson import DEFINITIONS, is_json_line, json_value
from .policy import Sandbox


@dataclass
class Limits:
    seconds: float = 30.0  # an evaluation running longer is interrupted (and again every 0.25 s after)
    grace: float = 5.0  # an evaluation that has not stopped this long after its limit ends its session
    request_bytes: int = 1 << 20  # a request body larger is refused (413)
    output_bytes: int = 1 << 20  # what a request prints beyond this is cut, with a note; so are its values
    idle_seconds: float = 3600.0  # a session unused this long is closed (and replayed when used again)
    memory_bytes: int = 4 << 30  # a session's process may hold this much data (RLIMIT_DATA); 0: no limit
    sessions: int = 32  # sessions (worker processes) alive at once; the least recently used idle one makes room
    per_developer: int = 2  # requests one developer may have in flight (running or waiting); more get 429
    read_seconds: float = 15.0  # a request's headers and body must arrive within this (slow clients are cut off)
    events_per_second: float = 50.0  # POST /v1/events per collector token, sustained (a burst of twice that)
    events_waiting: int = 16  # batches waiting for the collector's writer before more are told to come back later

    def deadline(self) -> float:
        """How long a request may take before its session is ended."""
        return self.seconds + self.grace


# ---- output, per request -------------------------------------------------------------------------

class Captured:
    """What one request printed, on stdout and stderr, up to a size."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: dict[str, io.StringIO] = {"stdout": io.StringIO(), "stderr": io.StringIO()}
        self.cut = False

    def write(self, stream: str, text: str) -> None:
        buf = self.parts[stream]
        room = self.limit - buf.tell()
        if room <= 0:
            self.cut = True
            return
        if len(text) > room:
            text, self.cut = text[:room], True
        buf.write(text)

    def text(self, stream: str) -> str:
        out = self.parts[stream].getvalue()
        if self.cut and stream == "stderr":
            out += f"; output past {self.limit:,} characters was cut\n"
        return out


CAPTURE: ContextVar[Captured | None] = ContextVar("pilang_capture", default=None)


class Router(io.TextIOBase):
    """sys.stdout / sys.stderr of a server process: inside a request, into that request's capture
    (the evaluation thread runs in a copy of the request's context); elsewhere, the real stream."""

    def __init__(self, real: TextIO, name: str) -> None:
        self.real, self.name = real, name

    def write(self, text: str) -> int:
        captured = CAPTURE.get()
        if captured is None:
            return self.real.write(text)
        captured.write(self.name, text)
        return len(text)

    def flush(self) -> None:
        if CAPTURE.get() is None:
            self.real.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.real.fileno()

    def __getattr__(self, name: str) -> Any:  # buffer, errors ...: the real stream's
        return getattr(self.real, name)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


def route_output() -> None:
    """Send this process's prints through Router (once)."""
    if not isinstance(sys.stdout, Router):
        sys.stdout = Router(sys.stdout, "stdout")
    if not isinstance(sys.stderr, Router):
        sys.stderr = Router(sys.stderr, "stderr")


# ---- one developer ----------------------------------------------------------------------------

class Sources(OrderedDict):
    """A developer's source texts for error carets, the newest 500 (the library's always kept)."""

    LIMIT = 500

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.LIMIT:  # the oldest input ("<repl-3>") goes first, a file only when none is left
            del self[next((k for k in self if k.startswith("<")), next(iter(self)))]


class Desk:
    """One developer's session, inside the worker process that serves them (one request at a time)."""

    def __init__(self, root: Path, name: str, role: str, limits: Limits, imports: tuple[Path, ...] = ()) -> None:
        self.name, self.role, self.limits = name, role, limits
        self.sources: Sources = Sources()
        self.shown: list[Any] | None = None
        self.budget: Budget | None = None
        self._mime = False
        self.running, self.stopped_by = False, None
        self.root, self.imports = root, imports
        self.known: set[int] = set()  # the stored definitions (by number) this session has evaluated
        self._fresh()

    def _fresh(self) -> None:
        """A new session: an empty global environment."""
        with self.context():
            self.sandbox = Sandbox(self.root, self.role, self.name, self.imports)
            self.session = Session(workspace=self.root, developer=self.name, sandbox=self.sandbox)
            self.sandbox.seal(self.session)
            self.session.show = self._show
        self.known = set()

    def catch_up(self) -> list[str]:
        """Evaluate the definitions this developer made in another session since (a server replica:
        `pilang serve --workers N`, each request may land on another process), in order; when one this
        session holds is gone from the store (the environment was cleared elsewhere), start afresh and
        replay what is stored. What did not replay, in words."""
        from pilang_engine.api import definition_numbers, numbered_definitions
        stored = definition_numbers(self.workspace(), self.name)
        if self.known == stored:
            return []
        if self.known - stored:
            self.session.close()
            self._fresh()
        failed = []
        for seq, source, file in numbered_definitions(self.workspace(), self.name):
            if seq not in self.known:
                self.known.add(seq)
                if (why := self.replay(source, file)) is not None:
                    failed.append(why)
        return failed

    @contextmanager
    def context(self, captured: Captured | None = None) -> Any:
        """This developer's source table (and a request's capture) for what runs inside."""
        tokens = [OWN_SOURCES.set(self.sources)]
        if captured is not None:
            tokens.append(CAPTURE.set(captured))
        try:
            yield
        finally:
            for t in reversed(tokens):
                t.var.reset(t)

    def _show(self, value: Any) -> None:  # on the evaluation thread: rendered now, within the limit
        if self.shown is not None and self.budget is not None:
            self.shown.append(self.budget.rendered(value, self._mime, "a value shown with (show x)"))

    def workspace(self) -> Any:
        return self.session.engine.workspace()

    def replay(self, source: str, file: str, seq: int | None = None) -> str | None:
        """Evaluate a definition this developer made before (their session starting again), under the
        same time limit as any request; what went wrong, or None. `seq`: its number in the store."""
        if seq is not None:
            self.known.add(seq)
        self.sandbox.replaying = True
        try:
            with self.context(Captured(self.limits.output_bytes)):
                self._limited(lambda: self.session.replay(source, file))
            return None
        except PilangError as err:
            why = f"it ran past the server's limit of {self.limits.seconds:g} s" if err.kind == "timeout" else err.message
            return f"{file}: {' '.join(source.split())[:80]}: {why}"
        finally:
            self.sandbox.replaying = False

    def evaluate(self, code: str, file: str, argv: list[str] | None = None, mime: bool = False,
                 notes: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """Evaluate `code` as one input named `file`: its top-level values (as --json gives them, not
        definitions or nil), the last value rendered, what it printed and showed, or the error. Reading,
        evaluating and rendering all run within the time limit, and the values within the size limit."""
        from pilang_engine.api import save_definition as save
        route_output()  # again: a host (a test runner) may have put its own streams in place since
        captured = Captured(self.limits.output_bytes)
        values: list[Any] = []
        started = time.perf_counter()
        out: dict[str, Any] = {"ok": True, "values": values, "value": None, "shown": [], "error": None, "notes": []}
        self.budget, self.shown, self._mime = Budget(self.limits.output_bytes), [], mime
        notes = [*notes, *self.catch_up()]
        with self.context(captured):
            for note in notes:
                captured.write("stderr", f"; your session started again, and this definition was not replayed: {note}\n")

            def run() -> None:  # on the evaluation thread
                forms = read(code, file)
                spans = {id(f): s for f, s in forms}
                if argv is not None:
                    self.session.env["*argv*"] = list(argv)

                def each(form: Any, value: Any) -> None:  # after each top-level form
                    if defines(form):
                        self.known.add(save(self.workspace(), self.name, span_text(code, spans[id(form)]), file))
                    if is_json_line(form, value):
                        values.append(self.budget.json(value, f"the value of form {len(values) + 1}"))
                    out["notes"] += self.session.learner.take_notes()  # said by the client, after the value
                last = self.session.eval_forms(forms, each)
                if last is not None:
                    out["value"] = self.budget.rendered(last, mime, "the last value")
            try:
                self._limited(lambda: self.session.run(run))
            except PilangError as err:
                out.update(ok=False, error=error_doc(err))
            if out["error"] and out["error"]["kind"] == "memory":  # what it held is garbage now: given back at once
                gc.collect()
            out["shown"] = self.shown
            self.shown = self.budget = None
        out.update(stdout=captured.text("stdout"), stderr=captured.text("stderr"), developer=self.name,
                   seconds=round(time.perf_counter() - started, 4))
        return out

    def _limited(self, fn: Any) -> Any:
        """fn() on the session, interrupted (like Ctrl-C) past the time limit, and again every 0.25 s
        until it has stopped (a `catch` or `finally` that runs on is stopped too): a timeout error."""
        limit = self.limits.seconds
        self.running, self.stopped_by = True, None
        over = threading.Event()

        def watch() -> None:
            if over.wait(limit):
                return
            self.interrupt(by="limit")
            while not over.wait(0.25):
                self.session.thread.interrupt()
        watcher = threading.Thread(target=watch, name="pilang-limit", daemon=True)
        watcher.start()
        try:
            return fn()
        except KeyboardInterrupt:
            if self.stopped_by == "client":
                raise PilangError("interrupted", "the evaluation was interrupted; definitions made before it are"
                                  " kept") from None
            raise PilangError("timeout", f"the evaluation ran past the server's limit of {limit:g} s and was"
                              " interrupted; definitions made before it are kept") from None
        finally:
            self.running = False
            over.set()

    def interrupt(self, by: str = "client") -> bool:
        """Interrupt the evaluation running now (a client's Ctrl-C, or the time limit); False if none."""
        if not self.running:
            return False
        self.stopped_by = self.stopped_by or by
        self.session.thread.interrupt()
        return True

    def call(self, name: str, *args: Any) -> Any:
        """A primitive of this session, as JSON, unrecorded (the API's read endpoints), within the limits."""
        budget = Budget(self.limits.output_bytes)
        with self.context(Captured(self.limits.output_bytes)):
            return self._limited(lambda: self.session.run(lambda: budget.json(self.session.env[name](*args),
                                                                               f"what {name} returned")))

    def complete(self, code: str, cursor: int | None) -> dict[str, Any]:
        from ..introspect import completions, word_length
        before = code[:cursor] if cursor is not None else code
        found = self._limited(lambda: self.session.run(lambda: completions(self.session, before)))
        return {"matches": [{"text": n, "meta": m} for n, m in found], "start": len(before) - word_length(before),
                "end": len(before)}

    def doc(self, name: str) -> dict[str, Any]:
        from ..introspect import documentation
        text = self._limited(lambda: self.session.run(lambda: documentation(self.session, name)))
        return {"name": name, "found": not text.endswith("is not defined"), "text": text}

    def close(self) -> None:
        self.session.close()


# ---- results, within a size ------------------------------------------------------------------

MAX_DEPTH = 500  # nesting deeper than this is not sent as JSON (a client's decoder refuses it)


def footprint(x: Any, budget: int) -> int | None:
    """About how many bytes `x` takes as JSON, counted without rendering it; None when that is over
    `budget` or it nests deeper than MAX_DEPTH (a cycle is both). Stops as soon as it knows."""
    from ..output.rich import Html, Plot
    from ..result import Result
    from ..table import Table
    size, todo = 0, [(x, 0)]
    while todo:
        v, depth = todo.pop()
        if depth > MAX_DEPTH:
            return None
        t = type(v)
        if v is None or t is bool:
            size += 5
        elif t is str:
            size += len(v) + 2
        elif t is int:
            size += v.bit_length() // 3 + 2
        elif t is float:
            size += 24
        elif t in (Symbol, Keyword):
            size += len(v.name) + 2
        elif t is Pair or isinstance(v, (list, tuple)):
            size += 2
            todo += [(e, depth + 1) for e in v]
        elif isinstance(v, dict):
            size += 2
            for k, e in v.items():
                todo += [(k, depth + 1), (e, depth + 1)]
        elif isinstance(v, Result):
            size += 80
            todo += [(v.data, depth + 1), (v.table, depth + 1)]
        elif isinstance(v, Table):
            size += 2
            todo += [(row, depth + 1) for row in v]
        elif isinstance(v, Html):
            size += len(v.source)
        elif isinstance(v, Plot):
            todo += [(v.series, depth + 1), (v.x, depth + 1)]
        else:
            size += 64
        if size > budget:
            return None
    return size


class Budget:
    """What one request may send back as values (output_bytes in all): a value larger than what is
    left, or nested deeper than MAX_DEPTH, is not rendered; it is a `limit` error instead (a value that
    cannot be sent is not sent half, nor as null)."""

    def __init__(self, limit: int) -> None:
        self.limit = self.left = limit

    def _take(self, value: Any, what: str) -> None:
        size = footprint(value, self.left)
        if size is None:
            raise PilangError("limit", f"{what} is too large to send: over the server's limit of {self.limit:,} bytes"
                              f" for a response's values, or nested more than {MAX_DEPTH} deep; send a part of it"
                              " (take, get, nth) or a summary (length, count)")
        self.left -= size

    def json(self, value: Any, what: str) -> Any:
        self._take(value, what)
        return json_value(value)

    def rendered(self, value: Any, mime: bool, what: str) -> dict[str, Any]:
        self._take(value, what)
        doc = rendered(value, mime)
        self.left -= len(doc["text"]) + len(doc["pretty"]) + sum(len(str(v)) for v in (doc.get("mime") or {}).values())
        return doc


SURROGATE = re.compile("[\ud800-\udfff]")


def encode(doc: dict[str, Any]) -> bytes:
    """A response document as UTF-8 JSON. Text that is not Unicode (a lone surrogate such as "\\ud800")
    cannot be sent: printed output keeps a replacement character in its place, and values holding one
    are replaced by an error saying so."""
    try:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        pass
    doc = dict(doc)
    for key in ("stdout", "stderr"):
        if isinstance(doc.get(key), str):
            doc[key] = SURROGATE.sub("\ufffd", doc[key])
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        doc.update(ok=False, values=[], value=None, shown=[], error={
            "kind": "value", "message": "the result holds text that is not Unicode (a lone surrogate such as \\ud800),"
            " which JSON cannot carry; it was not sent", "file": None, "line": None, "column": None, "end_line": None,
            "end_column": None, "caret": "", "text": "value error: the result holds text that is not Unicode (a lone"
            " surrogate such as \\ud800), which JSON cannot carry; it was not sent"})
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8", "replace")


class Busy(Exception):
    """The developer's session is still running an earlier request."""


def defines(form: Any) -> bool:
    """Whether a top-level form makes definitions (a begin does when any of its forms does)."""
    if type(form) is not Pair or type(form.car) is not Symbol:
        return False
    if form.car.name == "begin":
        return any(defines(f) for f in (form.cdr or ()))
    return form.car.name in DEFINITIONS


def span_text(text: str, span: Span) -> str:
    """The source text a span covers."""
    lines = text.split("\n")
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1:span.end_col - 1]
    middle = lines[span.line:span.end_line - 1]
    return "\n".join([lines[span.line - 1][span.col - 1:], *middle, lines[span.end_line - 1][:span.end_col - 1]])


def rendered(value: Any, mime: bool = False) -> dict[str, Any]:
    """A value as a client shows it: its JSON, written form, the REPL's pretty lines, and the notebook's
    MIME bundle (text/plain, text/html, image/png)."""
    from ..output.notation import write_string
    from ..output.answers import mime_bundle, value_lines
    doc = {"json": json_value(value), "text": write_string(value), "pretty": "\n".join(value_lines(value)),
           "mime": mime_bundle(value) if mime else None}
    return doc


def error_doc(err: PilangError) -> dict[str, Any]:
    """An error as the API gives it: kind, message, where, the caret lines and the whole rendering."""
    span = err.span
    return {"kind": err.kind, "message": err.message, "file": span.file if span else None,
            "line": span.line if span else None, "column": span.col if span else None,
            "end_line": span.end_line if span else None, "end_column": span.end_col if span else None,
            "caret": "\n".join(caret_lines(span)), "text": err.render()}
