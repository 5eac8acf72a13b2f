"""Progress as a widget in the notebook, when ipywidgets is installed: the engine's bars (ingest,
embedding, model loads, topic fits, training) become a progress bar with its label, updated in
place over a comm, and left behind done, with the time the work took. Without ipywidgets the engine
writes a stream line on stdout instead (pilang_engine.workspace.progress)."""
from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable
from typing import Any

UPDATE_EVERY = 0.2  # seconds between widget updates: a comm message per row would flood the front end
TICK = 1.0  # seconds between updates of work with no count (a topic fit): a spinner and its elapsed time


def available() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


def enable_comms(kernel: Any) -> None:
    """Give a wrapper kernel the comm manager that ipykernel gives only its IPython kernel, so widgets
    can open comms to the front end."""
    import comm
    from ipykernel.comm.comm import BaseComm
    from ipykernel.comm.manager import CommManager
    manager = CommManager(kernel=kernel)
    comm.create_comm = lambda *args, **kwargs: BaseComm(*args, **kwargs)
    comm.get_comm_manager = lambda *args, **kwargs: manager
    kernel.comm_manager = manager
    for msg_type in ("comm_open", "comm_msg", "comm_close"):
        kernel.shell_handlers[msg_type] = getattr(manager, msg_type)


class WidgetBar:
    """An ipywidgets progress bar and label: counted work fills the bar; work with no count (a step) shows
    a spinner and its elapsed seconds, ticking, until done; left behind as a full bar with the time taken."""

    def __init__(self, show: Callable[[dict[str, Any]], None], label: str, total: int | None, unit: str,
                 is_step: bool) -> None:
        import ipywidgets as w
        self.label, self.total, self.unit, self.is_step = label, total, unit, is_step
        self.done, self.shown_at, self.started = 0, 0.0, time.perf_counter()
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, bar_style="info",
                                   layout=w.Layout(width="240px"))
        self.text = w.Label(value=self._caption())
        self.box = w.HBox([self.bar, self.text])
        self.ticking: threading.Event | None = None
        if is_step or not total:  # no count to show: no bar that looks finished, but seconds that move
            self.bar.layout.display = "none"
            self.ticking = threading.Event()
            threading.Thread(target=self._tick, daemon=True, name="pilang-progress").start()
        show(self.box._repr_mimebundle_())

    def _tick(self) -> None:
        spinner = "◐◓◑◒"
        n = 0
        assert self.ticking is not None
        while not self.ticking.wait(TICK):
            n += 1
            self.text.value = f"{spinner[n % len(spinner)]} {self._caption()}"

    def _caption(self) -> str:
        if self.is_step or not self.total:
            elapsed = time.perf_counter() - self.started
            count = "" if self.is_step else f": {self.done:,} {self.unit}".rstrip()
            return f"{self.label}{count} … {elapsed:.0f} s"
        count = f"{self.done:,}" + (f" of {self.total:,}" if self.total else "")
        return f"{self.label}: {count} {self.unit}".rstrip()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.shown_at >= UPDATE_EVERY:
            self.shown_at = now
            if self.total:
                self.bar.value = min(1.0, self.done / self.total)
            self.text.value = self._caption()

    def close(self, note: str | None = None) -> None:
        if self.ticking is not None:
            self.ticking.set()
        took = time.perf_counter() - self.started
        self.bar.value, self.bar.bar_style = 1.0, "success"
        self.bar.layout.display = None
        what = note or ("done" if self.is_step else f"{self.done:,} {self.unit}".rstrip())
        self.text.value = f"{self.label}: {what} in {took:.1f} s"


def reporter(show: Callable[[dict[str, Any]], None]) -> Callable[[str, int | None, str, bool], WidgetBar]:
    """The engine's reporter (pilang_engine.workspace.progress.set_reporter) drawing widgets through
    `show`, which sends a display_data bundle to the cell being executed."""
    def open_bar(label: str, total: int | None, unit: str, is_step: bool) -> WidgetBar:
        return WidgetBar(show, label, total, unit, is_step)
    return open_bar
