"""Progress of long engine work (ingest, first model loads, topic fits, training), shown where the user
looks: a tqdm bar on stderr in a terminal; in a notebook a widget when the front end installed one
(`set_reporter`), else a stream line on stdout rewritten in place (stderr shows red there). Scripts
whose stderr is no terminal see nothing. The engine never knows which front end it runs under."""
from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

NOTEBOOK = "PILANG_PROGRESS"  # "notebook" (set by the Jupyter kernel) or "off"


class Bar(Protocol):
    def update(self, n: int = 1) -> None: ...
    def close(self, note: str | None = None) -> None: ...


# reporter(label, total, unit, is_step) -> bar: total None when unknown; a step has no count at all
Reporter = Callable[[str, "int | None", str, bool], Bar]
_reporter: Reporter | None = None
_steps = 0  # steps open now


def set_reporter(reporter: Reporter | None) -> Reporter | None:
    """Install a front end's own progress display (the kernel's widget); returns the previous one."""
    global _reporter
    previous, _reporter = _reporter, reporter
    return previous


def wanted() -> bool:
    """Progress by default in a terminal and in a notebook (where stderr is no terminal); never with
    PILANG_PROGRESS=off."""
    mode = os.environ.get(NOTEBOOK)
    if mode == "off":
        return False
    return _reporter is not None or mode == "notebook" or sys.stderr.isatty()


def _showing(show: bool | None) -> bool:
    """A caller's explicit choice, else `wanted()`."""
    return wanted() if show is None else show


def _stream() -> Any:
    return sys.stdout if os.environ.get(NOTEBOOK) == "notebook" else sys.stderr


class _TextBar:
    """tqdm for counted work; for a step, its label now and its time when done, on one line."""

    def __init__(self, label: str, total: int | None, unit: str, is_step: bool) -> None:
        self.label, self.started, self.stream = label, time.perf_counter(), _stream()
        self.bar = None
        if not is_step:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=label, unit=f" {unit}", file=self.stream, leave=False, mininterval=0.5)
        else:
            self.stream.write(f"; {label} …")
            self.stream.flush()

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self, note: str | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
            return
        took = time.perf_counter() - self.started
        end = f"; {self.label}: {note or 'done'} in {took:.1f} s"
        if self.stream is sys.stdout:  # a notebook keeps the line: it says why the cell took long
            self.stream.write(f"\r{end}\n")
        else:  # a terminal gets its line back
            self.stream.write("\r" + " " * (len(self.label) + 4) + "\r")
        self.stream.flush()


def _open(label: str, total: int | None, unit: str, is_step: bool = False) -> Bar:
    return (_reporter or _TextBar)(label, total, unit, is_step)


def track(items: Iterable[Any], label: str, total: int | None = None, unit: str = "rows",
          show: bool | None = None) -> Iterator[Any]:
    """Iterate `items`, counting them on a bar (total from len() when it has one)."""
    if not _showing(show):
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    bar = _open(label, total, unit)
    try:
        for item in items:
            yield item
            bar.update(1)
    finally:
        bar.close()


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self, note: str | None = None) -> None:
        pass


@contextlib.contextmanager
def counting(label: str, total: int, unit: str = "rows", show: bool | None = None) -> Iterator[Bar]:
    """A bar of `total` units that the caller advances by update(n) (a chunk of texts at a time)."""
    bar = _open(label, total, unit) if _showing(show) else _Silent()
    try:
        yield bar
    finally:
        bar.close()


@contextlib.contextmanager
def step(label: str, show: bool | None = None) -> Iterator[Callable[[str], None]]:
    """A piece of work without a count (a model load, a topic fit): its label while it runs, its time
    when done. Yields a function that sets the closing note ("18 topics"). A step inside a step is
    silent: the outer label already says what the wait is for."""
    global _steps
    if _steps or not _showing(show):
        yield lambda note: None
        return
    bar = _open(label, None, "", True)
    said: list[str] = []
    _steps += 1
    try:
        yield said.append
    finally:
        _steps -= 1
        bar.close(said[-1] if said else None)
