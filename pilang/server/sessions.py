"""The team server's sessions: one pilang Session per developer (their own global environment, kept
as their definitions in the workspace and replayed when the session starts again), requests evaluated
with a time limit (interrupted like Ctrl-C, definitions kept) and their output captured per request.
Nothing here speaks HTTP (app.py does)."""
from __future__ import annotations

import io
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..datum import Pair, Span, Symbol
from ..errors import OWN_SOURCES, PilangError, caret_lines
from ..reader import read
from ..session import Session
from ..tojson import DEFINITIONS, is_json_line, json_value
from .policy import Sandbox


@dataclass
class Limits:
    seconds: float = 30.0  # an evaluation running longer is interrupted
    request_bytes: int = 1 << 20  # a request body larger is refused (413)
    output_bytes: int = 1 << 20  # what a request prints beyond this is cut, with a note
    idle_seconds: float = 3600.0  # a session unused this long is closed (and replayed when used again)


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
    """One developer's session on the server."""

    def __init__(self, root: Path, name: str, role: str, limits: Limits) -> None:
        self.name, self.role, self.limits = name, role, limits
        self.sources: Sources = Sources()
        self.lock = threading.Lock()  # one evaluation at a time, as at a REPL
        self.last_used = time.monotonic()
        self.shown: list[Any] | None = None
        self.running, self.stopped_by = False, None
        with self.context():
            self.sandbox = Sandbox(root, role, name)
            self.session = Session(workspace=root, developer=name, sandbox=self.sandbox)
            self.sandbox.seal(self.session)
            self.session.show = self._show
            self.untold = self._replay()  # said in the next response's stderr

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

    def _show(self, value: Any) -> None:
        if self.shown is not None:
            self.shown.append(value)

    def workspace(self) -> Any:
        return self.session.engine.workspace()

    def _replay(self) -> list[str]:
        """Evaluate every definition this developer made, in order; one that fails now is skipped, said
        on the server's log; what was skipped."""
        from pilang_engine.workspace.environments import definitions
        errors = []
        self.sandbox.replaying = True
        try:
            for source, file in self.session.run(lambda: definitions(self.workspace(), self.name)):
                try:
                    self.session.replay(source, file)
                except (PilangError, KeyboardInterrupt) as err:
                    errors.append(f"{file}: {' '.join(source.split())[:80]}: {getattr(err, 'message', err)}")
        finally:
            self.sandbox.replaying = False
        for e in errors:
            print(f"pilang serve: {self.name}: a definition did not replay: {e}", file=sys.stderr)
        return errors

    def evaluate(self, code: str, file: str, argv: list[str] | None = None, mime: bool = False) -> dict[str, Any]:
        """Evaluate `code` as one input named `file`: its top-level values (as --json gives them, not
        definitions or nil), the last value rendered, what it printed and showed, or the error."""
        from pilang_engine.workspace.environments import save
        route_output()  # again: a host (a test runner) may have put its own streams in place since
        captured = Captured(self.limits.output_bytes)
        values: list[Any] = []
        started = time.perf_counter()
        out: dict[str, Any] = {"ok": True, "values": values, "value": None, "error": None}
        with self.context(captured):
            self._acquire()
            try:
                self.last_used = time.monotonic()
                self.shown = []
                for note in self.untold:
                    captured.write("stderr", f"; your session started again, and this definition was not replayed:"
                                             f" {note}\n")
                self.untold = []
                try:
                    forms = read(code, file)
                    spans = {id(f): s for f, s in forms}
                    if argv is not None:
                        self.session.env["*argv*"] = list(argv)

                    def each(form: Any, value: Any) -> None:  # on the evaluation thread, after each form
                        if defines(form):
                            save(self.workspace(), self.name, span_text(code, spans[id(form)]), file)
                        if is_json_line(form, value):
                            values.append(json_value(value))
                    last = self._limited(lambda: self.session.eval_forms(forms, each))
                    if last is not None:
                        out["value"] = rendered(last, mime)
                except PilangError as err:
                    out.update(ok=False, error=error_doc(err))
                out["shown"] = [rendered(v, mime) for v in self.shown]
            finally:
                self.shown = None
                self.last_used = time.monotonic()
                self.lock.release()
        out.update(stdout=captured.text("stdout"), stderr=captured.text("stderr"), developer=self.name,
                   seconds=round(time.perf_counter() - started, 4))
        return out

    def _limited(self, fn: Any) -> Any:
        """fn() on the session, interrupted (like Ctrl-C) past the time limit: a timeout error."""
        limit = self.limits.seconds
        self.running, self.stopped_by = True, None
        timer = threading.Timer(limit, self.interrupt, kwargs={"by": "limit"})
        timer.daemon = True
        timer.start()
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
            timer.cancel()

    def interrupt(self, by: str = "client") -> bool:
        """Interrupt the evaluation running now (a client's Ctrl-C, or the time limit); False if none."""
        if not self.running:
            return False
        self.stopped_by = by
        self.session.thread.interrupt()
        return True

    def call(self, name: str, *args: Any) -> Any:
        """A primitive of this session, as JSON, unrecorded (the API's read endpoints)."""
        with self.context(Captured(self.limits.output_bytes)):
            self._acquire()
            try:
                self.last_used = time.monotonic()
                return json_value(self._limited(lambda: self.session.run(lambda: self.session.env[name](*args))))
            finally:
                self.lock.release()

    def _acquire(self) -> None:
        """This developer's turn, waiting up to the time limit for an earlier request to end."""
        if not self.lock.acquire(timeout=self.limits.seconds):
            raise Busy(f"{self.name}'s previous request is still running (over {self.limits.seconds:g} s)")

    def close(self) -> None:
        self.session.close()


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
    from ..printer import write_string
    from ..render import mime_bundle, value_lines
    doc = {"json": json_value(value), "text": write_string(value), "pretty": "\n".join(value_lines(value))}
    if mime:
        doc["mime"] = mime_bundle(value)
    return doc


def error_doc(err: PilangError) -> dict[str, Any]:
    """An error as the API gives it: kind, message, where, the caret lines and the whole rendering."""
    span = err.span
    return {"kind": err.kind, "message": err.message, "file": span.file if span else None,
            "line": span.line if span else None, "column": span.col if span else None,
            "end_line": span.end_line if span else None, "end_column": span.end_col if span else None,
            "caret": "\n".join(caret_lines(span)), "text": err.render()}


class Pool:
    """Every developer's Desk, made on first use; one idle past the limit is closed."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root, self.limits = root, limits
        self.desks: dict[str, Desk] = {}
        self.lock = threading.Lock()
        self.making: dict[str, threading.Lock] = {}

    def desk(self, name: str, role: str) -> Desk:
        with self.lock:
            self._sweep()
            desk = self.desks.get(name)
            if desk is not None and desk.role == role:
                return desk
            making = self.making.setdefault(name, threading.Lock())
        with making:  # one developer's first requests at once make one session
            with self.lock:
                desk = self.desks.get(name)
                if desk is not None and desk.role == role:
                    return desk
            if desk is not None:  # the token was given another role: a session under the new one
                desk.close()
            desk = Desk(self.root, name, role, self.limits)
            with self.lock:
                self.desks[name] = desk
            return desk

    def drop(self, name: str) -> None:
        with self.lock:
            desk = self.desks.pop(name, None)
        if desk is not None:
            desk.close()

    def _sweep(self) -> None:
        now = time.monotonic()
        for name, desk in list(self.desks.items()):
            if now - desk.last_used > self.limits.idle_seconds and not desk.lock.locked():
                del self.desks[name]
                desk.close()

    def close(self) -> None:
        with self.lock:
            desks, self.desks = list(self.desks.values()), {}
        for desk in desks:
            desk.close()
