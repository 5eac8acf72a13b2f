"""What compiled pilang code needs at run time: tail calls, procedure calls, the evaluation thread."""
from __future__ import annotations

import builtins
import contextvars
import ctypes
import functools
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

# Python frames allowed on the evaluation thread: deeper non-tail recursion is a pilang error.
MAX_DEPTH = 50_000
# The evaluation thread's C stack: enough for MAX_DEPTH frames even when primitives recurse in C.
STACK_BYTES = 768 * 1024 * 1024


class TailCall:
    """A pending call returned from tail position; the nearest non-tail caller runs it.
    `site` is the span of the call, for errors of the call itself (arity, not a procedure)."""

    __slots__ = ("f", "args", "site")

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], site: Any = None) -> None:
        self.f = f
        self.args = args
        self.site = site


def bounce(r: Any) -> Any:
    """Run pending tail calls until a value comes back: constant Python stack for tail calls."""
    while r.__class__ is TailCall:
        try:
            r = r.f(*r.args)
        except TypeError as exc:
            _locate(exc, r)
            raise
    return r


def _locate(exc: BaseException, tc: TailCall) -> None:
    """Mark an error raised by the pending call itself with the call's span (its frame is gone)."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_next is None and not hasattr(exc, "pilang_site"):
        exc.pilang_site = tc.site  # type: ignore[attr-defined]


def call(f: Callable[..., Any], *args: Any) -> Any:
    """Call a pilang procedure or primitive from Python (e.g. inside `map`) and get its value."""
    r = f(*args)
    return bounce(r) if r.__class__ is TailCall else r


class Macro:
    """A macro: a procedure from the unevaluated argument datums to the expansion."""

    __slots__ = ("proc", "name", "doc")

    def __init__(self, proc: Callable[..., Any], name: str) -> None:
        self.proc, self.name = proc, name
        self.doc = getattr(proc, "__doc__", None)

    def __pilang_repr__(self) -> str:
        return f"#<macro {self.name}>"


_real_import = builtins.__import__
_EVAL_THREADS: dict[int, EvalThread] = {}  # thread ident -> its EvalThread


def _guarded_import(*args: Any, **kwargs: Any) -> Any:
    """builtins.__import__ on an evaluation thread: an interrupt never lands inside an import (a module
    left half-initialised, `partially initialized module 'torch'`, fails for the rest of the process)."""
    thread = _EVAL_THREADS.get(threading.get_ident())
    if thread is None:
        return _real_import(*args, **kwargs)
    return thread.importing(_real_import, args, kwargs)


class EvalThread:
    """One long-lived thread with a large stack that runs every evaluation of a session.

    Deep recursion then ends in a pilang error instead of overflowing the C stack, and engine
    objects bound to a thread (SQLite connections) always see the same one. An interrupt (Ctrl-C, a
    time limit) is raised inside the evaluation, except during an import: it waits for the import to end.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[Callable[[], Any], list[Any], threading.Event]] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._imports = 0  # imports running on the thread now (nested)
        self._sent = False  # an interrupt was handed to the thread and may not have been raised yet
        self._held = False  # an interrupt waits for the running import to end
        self._busy = False  # a job runs (an interrupt is for a job, never for the idle thread)
        old = threading.stack_size()
        threading.stack_size(STACK_BYTES)
        try:
            self.thread = threading.Thread(target=self._loop, name="pilang-eval", daemon=True)
            self.thread.start()
        finally:
            threading.stack_size(old)
        _EVAL_THREADS[self.thread.ident] = self
        builtins.__import__ = _guarded_import
        if sys.getrecursionlimit() < MAX_DEPTH:
            sys.setrecursionlimit(MAX_DEPTH)

    def _loop(self) -> None:
        while True:
            try:
                fn, box, done = self.jobs.get()
            except KeyboardInterrupt:  # (none is sent while no job runs; kept for safety)
                continue
            if fn is None:  # stop(): the session is closed
                _EVAL_THREADS.pop(threading.get_ident(), None)
                done.set()
                return
            with self._guard:  # interrupts are delivered only while a job runs
                self._sent = self._held = False
                self._busy = True
            try:
                outcome = (True, fn())
            except BaseException as exc:  # handed to the caller's thread, never lost
                outcome = (False, exc)
            while True:  # an interrupt sent as the job ended is withdrawn, never raised outside it
                try:
                    self._idle()
                    break
                except KeyboardInterrupt:
                    continue
            box.append(outcome)
            done.set()
            del fn, box, done, outcome  # nothing of the job (an error's frames above all) outlives it here

    def _idle(self) -> None:
        with self._guard:
            self._busy = False
            if self._sent:
                _async_raise(self.thread.ident, None)
                self._sent = False
            self._held = False

    def stop(self) -> None:
        """End the thread once the job it runs (if any) is done; later runs are refused."""
        if self.thread.is_alive():
            self.jobs.put((None, [], threading.Event()))  # type: ignore[arg-type]
        self.stopped = True

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the evaluation thread; Ctrl-C in the caller interrupts `fn` there."""
        if threading.current_thread() is self.thread:
            return fn()
        if getattr(self, "stopped", False):
            raise RuntimeError("this session is closed")
        box: list[Any] = []
        done = threading.Event()
        # run in a copy of the caller's context, so context variables (e.g. a notebook kernel's
        # "which cell is this output for") hold on the evaluation thread too
        self.jobs.put((functools.partial(contextvars.copy_context().run, fn), box, done))
        while True:
            try:
                done.wait()
                break
            except KeyboardInterrupt:
                if not done.is_set():
                    self.interrupt()
        ok, value = box[0]
        if ok:
            return value
        raise value.with_traceback(value.__traceback__)

    def interrupt(self) -> None:
        """Raise KeyboardInterrupt inside whatever the evaluation thread is running (once an import
        running there has ended)."""
        with self._guard:
            if not self._busy:
                return
            if self._imports:
                self._held = True
                return
            self._sent = True
            _async_raise(self.thread.ident, KeyboardInterrupt)

    def importing(self, do: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run an import on this (the evaluation) thread with interrupts held until it ends."""
        with self._guard:
            self._imports += 1
            if self._sent:  # handed over but maybe not raised yet: take it back, raise it after the import
                _async_raise(self.thread.ident, None)
                self._sent, self._held = False, True
        try:
            return do(*args, **kwargs)
        finally:
            with self._guard:
                self._imports -= 1
                due = not self._imports and self._held
                if due:
                    self._held = False
            if due:
                raise KeyboardInterrupt


def _async_raise(ident: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in the thread `ident` at its next bytecode boundary (None: withdraw one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc) if exc else None)
