"""What compiled pilang code needs at run time: tail calls, procedure calls, the evaluation thread."""
from __future__ import annotations

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


class EvalThread:
    """One long-lived thread with a large stack that runs every evaluation of a session.

    Deep recursion then ends in a pilang error instead of overflowing the C stack, and engine
    objects bound to a thread (SQLite connections) always see the same one.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[Callable[[], Any], list[Any], threading.Event]] = queue.SimpleQueue()
        old = threading.stack_size()
        threading.stack_size(STACK_BYTES)
        try:
            self.thread = threading.Thread(target=self._loop, name="pilang-eval", daemon=True)
            self.thread.start()
        finally:
            threading.stack_size(old)
        if sys.getrecursionlimit() < MAX_DEPTH:
            sys.setrecursionlimit(MAX_DEPTH)

    def _loop(self) -> None:
        while True:
            try:
                fn, box, done = self.jobs.get()
            except KeyboardInterrupt:  # an interrupt that arrived after its job had finished
                continue
            if fn is None:  # stop(): the session is closed
                done.set()
                return
            try:
                box.append((True, fn()))
            except BaseException as exc:  # handed to the caller's thread, never lost
                box.append((False, exc))
            finally:
                done.set()

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
        """Raise KeyboardInterrupt inside whatever the evaluation thread is running."""
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.thread.ident),
                                                   ctypes.py_object(KeyboardInterrupt))
