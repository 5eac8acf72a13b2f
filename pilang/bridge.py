"""The engine's primitives as pilang sees them: argument and result conversion, and the session's
workspace, opened on first use (so start-up never imports the engine's heavy libraries)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .datum import Keyword, Pair, Symbol
from .errors import PilangError
from .registry import primitive
from .result import Result
from .table import Table


def to_python(x: Any) -> Any:
    """A pilang argument as plain Python: symbols and keywords become their names, lists lists."""
    if type(x) in (Symbol, Keyword):
        return x.name
    if type(x) is Pair:
        return [to_python(v) for v in x]
    if isinstance(x, list):
        return [to_python(v) for v in x]
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


class EngineLink:
    """Opens the workspace lazily and turns engine exceptions into pilang engine errors."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = path
        self._ws: Any = None

    def workspace(self) -> Any:
        if self._ws is None:
            from engine.store import Workspace, WorkspaceError, default_path
            try:
                self._ws = Workspace(self.path or default_path())
            except WorkspaceError as exc:
                raise PilangError("engine", str(exc)) from None
        return self._ws

    def close(self) -> None:
        """Close the workspace if it was opened."""
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    def guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Run an engine call, reporting its known failures as pilang errors."""
        def run(*args: Any, **kwargs: Any) -> Any:
            from engine.embed import ModelUnavailable
            from engine.formats import FormatError
            from engine.store import WorkspaceError
            try:
                return fn(*args, **kwargs)
            except (ModelUnavailable, FormatError, WorkspaceError) as exc:
                raise PilangError("engine", str(exc)) from None
        run.__doc__, run.__name__ = fn.__doc__, fn.__name__
        return run

    def register(self, env: dict[str, Any]) -> None:
        """Bind the engine primitives into a session's global environment."""
        for name, fn in self.primitives().items():
            primitive(name, env)(fn)

    def primitives(self) -> dict[str, Callable[..., Any]]:
        link = self

        def ingest(*paths: Any, format: Any = None) -> dict[Any, Any]:
            """Ingest files or folders into the workspace; returns the report (taken, skipped, errors)."""
            from engine.ingest import ingest as run_ingest
            if not paths:
                raise PilangError("arity", "ingest needs at least one path")
            report = link.guard(run_ingest)(link.workspace(), [to_python(p) for p in paths],
                                            fmt=to_python(format))
            return to_pilang(report.as_dict())

        def search(text: str, *, k: int = 10, source: Any = None, since: Any = None, until: Any = None) -> Table:
            """Messages closest in meaning to text: score, text, author pseudonym, time, source."""
            from engine.search import search as run_search
            if type(text) is not str:
                raise PilangError("type", "search needs the query text as a string")
            rows = link.guard(run_search)(link.workspace(), text, k=int(k), source=to_python(source),
                                          since=to_python(since), until=to_python(until))
            return table(rows, ["score", "source", "time", "author", "text", "id"], f"search: {text!r}")

        def sources() -> Table:
            """The files ingested into the workspace, with their kind, format and row counts."""
            return table(link.workspace().sources(), ["id", "kind", "format", "rows", "last-ingested", "path"])

        def stats() -> dict[Any, Any]:
            """Counts of messages (by source), authors, changes, telemetry, graph edges, vectors."""
            return to_pilang(link.workspace().stats())

        def set_embedding_model(name: Any) -> dict[Any, Any]:
            """Switch the workspace's embedding model (all-MiniLM-L6-v2 or all-mpnet-base-v2): re-embeds."""
            from engine.ingest import switch_model
            embedded = link.guard(switch_model)(link.workspace(), to_python(name))
            return to_pilang({"model": to_python(name), "embedded": embedded})

        def analyze(target: Any, params: Any = None, handler: Any = None) -> Result:
            """Run one analytic (volume sentiment anomalies forecast hodge topics patterns) on parameters."""
            from engine.analytics import reports
            from engine.analytics.hodge import hodge
            from engine.analytics.patterns import patterns
            from engine.analytics.topics import topics
            name = to_python(target)
            table = {"volume": reports.volume, "sentiment": reports.sentiment, "anomalies": reports.anomalies,
                     "forecast": reports.forecast, "hodge": hodge, "topics": topics, "patterns": patterns}
            if name not in table:
                raise PilangError("value", f"no analytic named {name} (known: {' '.join(table)})")
            args = {getattr(k, "name", k): to_python(v) for k, v in (params or {}).items()}
            out = link.guard(table[name])(link.workspace(), args)
            series = out.pop("series", None)
            data = to_pilang({k.replace("_", "-"): v for k, v in out.items()})
            data[Keyword("handler")] = Symbol(to_python(handler) or f"analytics/{name}")
            return Result(data, series)

        def routing() -> Table:
            """The query evaluator's routing table: (type, target) -> handler, and where each came from."""
            return table(link.workspace().routes(), ["type", "target", "handler", "origin", "updated"], "routing")

        def route_of(type_: Any, target: Any) -> Any:
            """The handler routed for (type, target): the exact route, else the type's `*` route, else nil."""
            routes = {(r["type"], r["target"]): r["handler"] for r in link.workspace().routes()}
            key = (to_python(type_), to_python(target))
            found = routes.get(key) or routes.get((key[0], "*"))
            return Symbol(found) if found else None

        def set_route(type_: Any, target: Any, handler: Any, origin: Any = "user") -> Symbol:
            """Route (type, target) to a handler procedure (a symbol); `*` as target is the default."""
            link.workspace().set_route(to_python(type_), to_python(target), to_python(handler), to_python(origin))
            return Symbol(to_python(handler))

        def install_routes(routes: Any) -> int:
            """Add default routes ((type target handler) ...) that the workspace does not have yet."""
            ws = link.workspace()
            known = {(r["type"], r["target"]) for r in ws.routes()}
            new = [r for r in (to_python(x) for x in routes) if (r[0], r[1]) not in known]
            for type_, target, handler in new:
                ws.set_route(type_, target, handler, "default", replace=False)
            return len(new)

        def resolve_period(name: Any) -> list[Any]:
            """[since until evidence] for a named period (last-week last-month last-patch all)."""
            from engine.search import iso
            since, until, evidence = link.guard(link.workspace().period)(to_python(name))
            return [iso(since), iso(until), to_pilang(evidence)]

        def is_date(text: Any) -> bool:
            """True for a date or timestamp string such as "2025-01-31"."""
            from engine.search import parse_date
            try:
                parse_date(text)
            except (TypeError, ValueError):
                return False
            return type(text) is str

        return {"date?": is_date, "ingest": ingest, "search": search, "sources": sources, "stats": stats,
                "set-embedding-model": set_embedding_model, "analyze": analyze, "routing": routing,
                "route-of": route_of, "set-route!": set_route, "install-routes!": install_routes,
                "resolve-period": resolve_period}
