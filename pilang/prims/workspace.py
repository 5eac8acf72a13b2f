"""The workspace and search: ingest, search, sources, stats, the embedding model, the routing table,
named periods. Each primitive takes the session it runs in first (see registry.session_primitive); the
engine is imported inside, on first use, so start-up stays light."""
from __future__ import annotations

from typing import Any

from ..bridge import table, to_pilang, to_python
from ..datum import Symbol
from ..errors import PilangError
from ..registry import primitive, session_primitive
from ..table import Table


@session_primitive("ingest", paths={"paths": "read"})
def ingest(s: Any, *paths: Any, format: Any = None, windows: Any = None, map: Any = None,
           time_format: Any = None) -> dict[Any, Any]:
    """Ingest files or folders into the workspace; returns the report (taken, skipped, errors).
    `:windows {:sum_gamerounds [0 14]}` declares the days a player table's columns observe;
    `:format 'csv :map {:text "review" :time "review_date"}` reads any CSV/JSONL of messages."""
    from pilang_engine.api import ingest as run
    if not paths:
        raise PilangError("arity", "ingest needs at least one path")
    report = s.engine.guard(run)(s.engine.workspace(), [to_python(p) for p in paths], fmt=to_python(format),
                                 windows=to_python(windows), mapping=to_python(map), time_format=to_python(time_format))
    return to_pilang(report.as_dict())


@session_primitive("open-workspace", paths={"path": "write"})
def open_workspace(s: Any, path: Any) -> dict[Any, Any]:
    """Switch this session to the workspace at path (made there if new); returns its counts."""
    from pathlib import Path
    if type(path) is not str:
        raise PilangError("type", "open-workspace needs a directory path string")
    s.engine.switch(Path(path).expanduser())
    if "routes-installed" in s.env:
        s.env["routes-installed"] = False  # the query evaluator installs its default routes in the new one
    return to_pilang(s.engine.workspace().stats())


@session_primitive("report", paths={"out": "write"})
def report(s: Any, *, since: Any = "last-week", until: Any = None, out: Any = "report.html",
           format: Any = None) -> dict[Any, Any]:
    """Write a report to share (self-contained HTML, or Markdown with :format 'md) for a period:
    drivers, sentiment, volume, forecast, unusual days, personas, churn risk."""
    from ..report import write
    try:
        done = write(s.engine.workspace(), to_python(out), to_python(since), to_python(until), to_python(format))
    except (ValueError, OSError) as exc:
        raise PilangError("value", f"report: {exc}") from None
    return to_pilang(done)


@session_primitive("search")
def search(s: Any, text: str, *, k: int = 10, source: Any = None, since: Any = None, until: Any = None) -> Table:
    """Messages closest in meaning to text: score, text, author pseudonym, time, source."""
    from pilang_engine.api import search as run
    if type(text) is not str:
        raise PilangError("type", "search needs the query text as a string")
    rows = s.engine.guard(run)(s.engine.workspace(), text, k=int(k), source=to_python(source),
                               since=to_python(since), until=to_python(until))
    return table(rows, ["score", "source", "time", "author", "text", "id"], f"search: {text!r}")


@session_primitive("sync")
def sync(s: Any, kind: Any = None, **options: Any) -> dict[Any, Any]:
    """Pull what is new from a live source: `(sync 'steam :app "230410")`, `(sync 'discord :channel
    "123")` (token from $DISCORD_TOKEN), `(sync 'zendesk :subdomain "studio")`; `(sync)` syncs every
    registered source. Returns the report, as ingest does."""
    from pilang_engine.api import sync as run
    opts = {k.replace("-", "_"): to_python(v) for k, v in options.items()}
    report = s.engine.guard(run)(s.engine.workspace(), None if kind is None else getattr(kind, "name", str(kind)),
                                 opts if kind is not None else None)
    return to_pilang(report.as_dict())


@session_primitive("live-sources")
def live_sources(s: Any) -> Table:
    """The registered live sources: name, kind, options (never a secret), last sync, last error."""
    from pilang_engine.api import sources as listed
    return table(listed(s.engine.workspace()), ["name", "kind", "options", "last_sync", "last_error"])


@session_primitive("sources")
def sources(s: Any) -> Table:
    """The files ingested into the workspace, with their kind, format and row counts."""
    return table(s.engine.workspace().sources(), ["id", "kind", "format", "rows", "last-ingested", "path"])


@session_primitive("stats")
def stats(s: Any) -> dict[Any, Any]:
    """Counts of messages (by source), authors, changes, telemetry, graph edges, vectors."""
    return to_pilang(s.engine.workspace().stats())


@session_primitive("set-embedding-model")
def set_embedding_model(s: Any, name: Any = None, *, precision: Any = None) -> dict[Any, Any]:
    """Switch the workspace's embedding model (all-MiniLM-L6-v2 or all-mpnet-base-v2) and/or its precision
    (`:precision "int8"`; auto, fp32, bf16, int8): embeds what the cache lacks for the new choice."""
    from pilang_engine.api import switch_model
    ws = s.engine.workspace()
    name, precision = to_python(name), to_python(precision)
    embedded = s.engine.guard(switch_model)(ws, name, precision=None if precision is None else str(precision))
    return to_pilang({"model": ws.embed_name, "precision": ws.embed_precision, "runs-as": ws.runs_as(),
                      "vectors": ws.embed_model, "embedded": embedded})


@session_primitive("routing")
def routing(s: Any) -> Table:
    """The query evaluator's routing table: (type, target) -> handler, and where each came from."""
    return table(s.engine.workspace().routes(), ["type", "target", "handler", "origin", "updated"], "routing")


@session_primitive("route-of")
def route_of(s: Any, type_: Any, target: Any) -> Any:
    """The handler routed for (type, target): the exact route, else the type's `*` route, else nil."""
    found = s.engine.route(to_python(type_), to_python(target))
    return Symbol(found) if found else None


@session_primitive("set-route!")
def set_route(s: Any, type_: Any, target: Any, handler: Any, origin: Any = "user") -> Symbol:
    """Route (type, target) to a handler procedure (a symbol); `*` as target is the default."""
    s.engine.workspace().set_route(to_python(type_), to_python(target), to_python(handler), to_python(origin))
    return Symbol(to_python(handler))


@session_primitive("install-routes!")
def install_routes(s: Any, routes: Any) -> int:
    """Add default routes ((type target handler) ...) that the workspace does not have yet."""
    ws = s.engine.workspace()
    known = {(r["type"], r["target"]) for r in ws.routes()}
    new = [r for r in (to_python(x) for x in routes) if (r[0], r[1]) not in known]
    for type_, target, handler in new:
        ws.set_route(type_, target, handler, "default", replace=False)
    return len(new)


@session_primitive("resolve-period")
def resolve_period(s: Any, name: Any) -> list[Any]:
    """[since until evidence] for a named period (last-week last-month last-patch all)."""
    from pilang_engine.api import exact_iso
    since, until, evidence = s.engine.guard(s.engine.workspace().period)(to_python(name))
    return [exact_iso(since), exact_iso(until), to_pilang(evidence)]


@primitive("date?")
def is_date(text: Any) -> bool:
    """True for a date or timestamp string such as "2025-01-31"."""
    from pilang_engine.api import parse_date
    try:
        parse_date(text)
    except (TypeError, ValueError):
        return False
    return type(text) is str
