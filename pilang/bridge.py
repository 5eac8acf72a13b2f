"""How pilang meets the engine: argument and result conversion, and the session's workspace, opened
on first use (so start-up never imports the engine's heavy libraries). The engine primitives
themselves are declared in pilang/prims/, one module per domain."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .datum import Keyword, Pair, Symbol
from .errors import PilangError
from .result import Result
from .table import Table

FIELD = re.compile(r"[a-z]+(?:_[a-z]+)+")


def to_python(x: Any) -> Any:
    """A pilang argument as plain Python: symbols and keywords become their names, lists lists."""
    if type(x) in (Symbol, Keyword):
        return x.name
    if type(x) is Pair:
        return [to_python(v) for v in x]
    if isinstance(x, list):
        return [to_python(v) for v in x]
    if isinstance(x, dict):  # e.g. a query's filters map: {:channel general} -> {"channel": "general"}
        return {to_python(k): to_python(v) for k, v in x.items()}
    return x


def to_pilang(x: Any) -> Any:
    """An engine result as pilang data: maps get keyword keys, sequences become vectors."""
    if isinstance(x, dict):
        return {Keyword(k) if isinstance(k, str) else k: to_pilang(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_pilang(v) for v in x]
    return x


def table(rows: list[dict[str, Any]], columns: list[str], title: str = "") -> Table:
    return Table([to_pilang(r) for r in rows], columns, title)


def kebab(x: Any) -> Any:
    """Engine field names (snake_case words) as pilang spells them (kebab-case), at every depth;
    data-valued keys such as "gate_30" or source names with digits or capitals are left alone."""
    if isinstance(x, dict):
        return {(k.replace("_", "-") if isinstance(k, str) and FIELD.fullmatch(k) else k): kebab(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [kebab(v) for v in x]
    return x


def as_result(out: Any, handler: Any, default: str) -> Result:
    """An engine answer (pilang_engine.api.Answer, or the dict an engine function returns) as a Result: what
    it says as a pilang map, its series plotted, its rows (if any) a table under the answer."""
    from pilang_engine.api import Answer
    answer = Answer.of(out)
    data = to_pilang(kebab(answer.fields()))
    data[Keyword("handler")] = Symbol(to_python(handler) or default)
    shown = None
    if answer.rows is not None:
        shown = table(answer.rows, answer.columns or (list(answer.rows[0]) if answer.rows else []))
        data[Keyword("rows")] = shown
    return Result(data, answer.series, shown)


def confidence_of(value: Any) -> float:
    """A confidence level argument, checked."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
        raise PilangError("value", f"a confidence level is a number between 0 and 1, e.g. 0.95; got {value!r}")
    return float(value)


class EngineLink:
    """Opens the workspace lazily and turns engine exceptions into pilang engine errors."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = path
        self._ws: Any = None
        self.on_open: list[Callable[[Any], None]] = []  # run once the workspace is open

    def workspace(self) -> Any:
        if self._ws is not None:
            self._ws.refresh()  # another process (an ingest in a terminal) changed it: no stale caches
        if self._ws is None:
            from pilang_engine.api import Workspace, WorkspaceError, default_path
            try:
                self._ws = Workspace(self.path or default_path())
            except WorkspaceError as exc:
                raise PilangError("engine", str(exc)) from None
            for hook in self.on_open:
                hook(self._ws)
        return self._ws

    def exists(self) -> bool:
        """Whether a workspace is open or there (on disk, or in the store; checked without making one)."""
        from pilang_engine.api import default_path, workspace_exists
        return self._ws is not None or workspace_exists(self.path or default_path())

    def switch(self, path: Path) -> None:
        """Use another workspace from now on (opened on next use; the old one is closed)."""
        self.close()
        self.path = path

    def close(self) -> None:
        """Close the workspace if it was opened."""
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    def guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Run an engine call, reporting its known failures as pilang errors."""
        def run(*args: Any, **kwargs: Any) -> Any:
            from pilang_engine.api import FormatError
            from pilang_engine.api import ModelUnavailable
            from pilang_engine.api import NotAllowed, WorkspaceError
            try:
                return fn(*args, **kwargs)
            except NotAllowed as exc:
                raise PilangError("permission", str(exc)) from None
            except (ModelUnavailable, FormatError, WorkspaceError) as exc:
                raise PilangError("engine", str(exc)) from None
        run.__doc__, run.__name__ = fn.__doc__, fn.__name__
        return run

    def route(self, type_: str, target: str) -> str | None:
        """The handler routed for (type, target): the exact route, else the type's `*` route."""
        routes = {(r["type"], r["target"]): r["handler"] for r in self.workspace().routes()}
        return routes.get((type_, target)) or routes.get((type_, "*"))

    def persona_names(self) -> list[str]:
        """The stored personas' names, without fitting or creating anything (for completion)."""
        if not self.exists():
            return []
        try:
            return self.workspace().persona_names()
        except Exception:  # an old or foreign workspace: nothing to complete
            return []
