"""The engine's primitives as pilang sees them: argument and result conversion, and the session's
workspace, opened on first use (so start-up never imports the engine's heavy libraries)."""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .datum import Keyword, Pair, Symbol, from_iter
from .errors import PilangError
from .registry import primitive
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


def as_result(out: dict[str, Any], handler: Any, default: str) -> Result:
    """An engine answer as a Result: its series plotted, its rows (if any) a table under the answer."""
    series = out.pop("series", None)
    rows, columns = out.pop("rows", None), out.pop("columns", None)
    data = to_pilang(kebab(out))
    data[Keyword("handler")] = Symbol(to_python(handler) or default)
    shown = None
    if rows is not None:
        shown = table(rows, columns or (list(rows[0]) if rows else []))
        data[Keyword("rows")] = shown
    return Result(data, series, shown)


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
        if self._ws is None:
            from engine.store import Workspace, WorkspaceError, default_path
            try:
                self._ws = Workspace(self.path or default_path())
            except WorkspaceError as exc:
                raise PilangError("engine", str(exc)) from None
            for hook in self.on_open:
                hook(self._ws)
        return self._ws

    def exists(self) -> bool:
        """Whether a workspace is open or on disk (checked without opening it)."""
        from engine.store import default_path
        return self._ws is not None or (Path(self.path or default_path()) / "workspace.db").exists()

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
        for name, fn in {**self.primitives(), **self.persona_primitives(), **self.spectral_primitives()}.items():
            primitive(name, env)(fn)

    def route(self, type_: str, target: str) -> str | None:
        """The handler routed for (type, target): the exact route, else the type's `*` route."""
        routes = {(r["type"], r["target"]): r["handler"] for r in self.workspace().routes()}
        return routes.get((type_, target)) or routes.get((type_, "*"))

    def persona_names(self) -> list[str]:
        """The stored personas' names, without fitting or creating anything (for completion)."""
        if not self.exists():
            return []
        try:
            return [r[0] for r in self.workspace().db.execute("SELECT name FROM personas ORDER BY name")]
        except Exception:  # an old or foreign workspace: nothing to complete
            return []

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

        def ingest_images(*paths: Any, checkpoint: Any = None, model: Any = None, config: Any = None) -> dict[Any, Any]:
            """Embed image files (or folders) with an open_clip model from a local checkpoint file."""
            from engine.images import ingest_images as run
            out = link.guard(run)(link.workspace(), [to_python(p) for p in paths], to_python(model),
                                  to_python(checkpoint), to_python(config))
            return to_pilang(out)

        def search_images(text: str, *, k: int = 5) -> Table:
            """Images closest in meaning to the text (CLIP embeddings, their own faiss index)."""
            from engine.images import search_images as run
            if type(text) is not str:
                raise PilangError("type", "search-images needs the query text as a string")
            return table(link.guard(run)(link.workspace(), text, int(k)), ["score", "path", "width", "height", "id"],
                         f"images: {text!r}")

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
            from engine.spectral.fno import forecast as fno_forecast
            known = {"volume": reports.volume, "sentiment": reports.sentiment, "anomalies": reports.anomalies,
                     "forecast": reports.forecast, "hodge": hodge, "topics": topics, "patterns": patterns,
                     "forecast-fno": fno_forecast}
            if name not in known:
                raise PilangError("value", f"no analytic named {name} (known: {' '.join(known)})")
            args = {getattr(k, "name", k): to_python(v) for k, v in (params or {}).items()}
            return as_result(link.guard(known[name])(link.workspace(), args), handler, f"analytics/{name}")

        def routing() -> Table:
            """The query evaluator's routing table: (type, target) -> handler, and where each came from."""
            return table(link.workspace().routes(), ["type", "target", "handler", "origin", "updated"], "routing")

        def route_of(type_: Any, target: Any) -> Any:
            """The handler routed for (type, target): the exact route, else the type's `*` route, else nil."""
            found = link.route(to_python(type_), to_python(target))
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

        return {"date?": is_date, "ingest": ingest, "search": search, "ingest-images": ingest_images,
                "search-images": search_images, "sources": sources, "stats": stats,
                "set-embedding-model": set_embedding_model, "analyze": analyze, "routing": routing,
                "route-of": route_of, "set-route!": set_route, "install-routes!": install_routes,
                "resolve-period": resolve_period}

    def persona_primitives(self) -> dict[str, Callable[..., Any]]:
        """Personas, persona answers, predictions, churn and comparisons."""
        link = self

        def personas(*, refit: Any = False) -> Table:
            """The personas found in the players (fitted on first use; `:refit #t` clusters again)."""
            from engine import personas as P
            ws = link.workspace()
            found = link.guard(P.fit if refit else P.ensure)(ws)
            info = P.fit_info(ws)
            rows = [{"id": p["id"], "name": Symbol(p["name"]), "players": p["size"],
                     "messages": p["profile"]["messages"], "sentiment": p["profile"]["mean_sentiment"],
                     "gone-quiet": p["profile"]["gone_quiet"], "terms": ", ".join(p["terms"][:6])} for p in found]
            scores = next((c for c in info.get("candidates", []) if c["k"] == info.get("k")), {})
            return table(rows, ["id", "name", "players", "messages", "sentiment", "gone-quiet", "terms"],
                         f"{len(found)} personas from {info.get('players', 0):,} players (k={info.get('k')} by silhouette"
                         f" {scores.get('silhouette')} and stability {scores.get('stability')})")

        def persona(name: Any) -> dict[Any, Any]:
            """One persona: id, name, size, top terms, behaviour profile, representative quotes."""
            from engine import personas as P
            return to_pilang(kebab(link.guard(P.find)(link.workspace(), to_python(name))))

        def persona_names(*, fit: Any = False) -> Any:
            """The personas' names, a list of symbols (`:fit #t` finds personas first if there are none)."""
            if fit:
                from engine import personas as P
                return from_iter(Symbol(p["name"]) for p in link.guard(P.ensure)(link.workspace()))
            return from_iter(Symbol(n) for n in link.persona_names())

        def ask(name: Any, question: Any, *, phrase: Any = False, handler: Any = None) -> Result:
            """A persona's answer to a question, in its voice, from its own messages (with quotes)."""
            from engine.answers import ask as run_ask
            if type(question) is not str:
                raise PilangError("type", "ask needs the question as a string")
            out = link.guard(run_ask)(link.workspace(), to_python(name), question, phrase=bool(phrase))
            return as_result(out, handler, "ask")

        def predict_reaction(name: Any, change: Any, *, confidence: Any = 0.95, handler: Any = None) -> Result:
            """Predicted satisfaction, engagement and churn shifts after a change, for one persona (or
            nil: the community and every persona), learned from past changes, with intervals."""
            from engine.predict import predict_reaction as run
            target = None if name is None else to_python(name)
            out = link.guard(run)(link.workspace(), to_python(change), target, confidence_of(confidence))
            return as_result(_prediction_rows(out), handler, "predict-reaction")

        def churn(*, source: Any = None, confidence: Any = 0.95, handler: Any = None) -> Result:
            """Churn: from a labelled player table (held-out AUC vs a logistic baseline, A/B effects),
            else from telemetry sequences (BehaviorLSTM)."""
            from engine.churn import churn as run
            out = link.guard(run)(link.workspace(), to_python(source), confidence_of(confidence))
            return as_result(out, handler, "churn")

        def compare_personas(a: Any, b: Any, *, confidence: Any = 0.95, handler: Any = None) -> Result:
            """Two personas side by side, with the significant differences marked."""
            from engine.compare import compare_personas as run
            return as_result(link.guard(run)(link.workspace(), to_python(a), to_python(b), confidence_of(confidence)),
                             handler, "compare-personas")

        def compare_periods(group: Any, first: Any, second: Any, *, confidence: Any = 0.95, handler: Any = None) -> Result:
            """A persona (or community) in two time ranges, each [since until]."""
            from engine.compare import compare_periods as run
            ranges = [to_python(r) for r in (first, second)]
            if not all(isinstance(r, list) and len(r) == 2 for r in ranges):
                raise PilangError("type", "compare-periods takes two ranges, each [since until]")
            return as_result(link.guard(run)(link.workspace(), to_python(group), tuple(ranges[0]), tuple(ranges[1]),
                                             confidence_of(confidence)), handler, "compare-periods")

        def compare_changes(a: Any, b: Any, *, persona: Any = None, confidence: Any = 0.95, handler: Any = None) -> Result:
            """The predicted reactions to two changes side by side (per persona, or for one)."""
            from engine.compare import compare_changes as run
            return as_result(link.guard(run)(link.workspace(), to_python(a), to_python(b), to_python(persona),
                                             confidence_of(confidence)), handler, "compare-changes")

        return {"personas": personas, "persona": persona, "persona-names": persona_names, "ask": ask,
                "predict-reaction": predict_reaction, "churn": churn, "compare-personas": compare_personas,
                "compare-periods": compare_periods, "compare-changes": compare_changes}

    def spectral_primitives(self) -> dict[str, Callable[..., Any]]:
        """Training, inspecting and using the spectral layer's models."""
        link = self

        def train(name: Any, *, task: Any = None) -> Result:
            """(train 'gnn :task 'toxicity) or (train 'fno): train, score, save in the workspace; the
            FNO also routes forecast queries to itself where its backtest beats statsmodels."""
            from engine.spectral import fno, gnn
            which = to_python(name)
            if which not in ("gnn", "fno"):
                raise PilangError("value", f"no model named {which}; train 'gnn or 'fno")
            ws = link.workspace()
            rec = link.guard(gnn.train)(ws, to_python(task)) if which == "gnn" else link.guard(fno.train)(ws)
            return as_result(model_summary(rec), None, f"train/{which}")

        def models() -> Table:
            """The trained models in the workspace: kind, when, held-out scores, the NTK verdict."""
            rows = [{"name": r[0], "kind": r[1], "trained": r[2], "ntk": json.loads(r[3])["verdict"]}
                    for r in link.workspace().db.execute("SELECT name, kind, trained, ntk FROM models ORDER BY name")]
            return table(rows, ["name", "kind", "trained", "ntk"], "models")

        def ntk(name: Any, *, task: Any = None) -> Result:
            """The NTK history recorded while a model trained: eigenvalues, distance from the initial
            kernel, effective rank per record, and the convergence verdict (plotted in notebooks)."""
            from engine.spectral import gnn, record
            which = to_python(name)
            key = f"gnn:{to_python(task) or gnn.task_for(link.workspace())}" if which == "gnn" else which
            rec = record(link.workspace(), key)
            if rec is None:
                raise PilangError("engine", f"no trained model {key}; run (train '{which}) first")
            records = rec["ntk"]["records"]
            rows = [{"epoch": r["epoch"], "loss": r["loss"], "top_eigenvalue": r["eigenvalues"][0], "trace": r["trace"],
                     "effective_rank": r["effective_rank"], "distance_from_init": r["distance_from_init"],
                     "change": r["change"]} for r in records]
            out = {"answer": f"NTK of {key} on a {rec['ntk']['probe']}-sample probe: {rec['ntk']['verdict']}",
                   "rows": rows, "evidence": {"records": len(records), "seconds_per_record": rec["ntk"]["seconds_per_record"],
                                              "trained": rec["trained"]},
                   "series": {"x": [r["epoch"] for r in records],
                              "distance from init": [r["distance_from_init"] for r in records],
                              "effective rank / 10": [r["effective_rank"] / 10 for r in records]}}
            return as_result(out, None, "ntk")

        def risk(*, task: Any = None, handler: Any = None) -> Result:
            """Players most at risk (toxicity with CONDA labels, else disengagement) by the graph model,
            with its held-out AUC beside the same features without the graph."""
            from engine.spectral.gnn import risk as run
            return as_result(link.guard(run)(link.workspace(), to_python(task)), handler, "risk")

        def is_trained(name: Any) -> bool:
            """Whether a model of that name ('fno, or 'gnn for any task) is saved in the workspace."""
            which = to_python(name)
            return link.workspace().db.execute("SELECT 1 FROM models WHERE name = ? OR name LIKE ?",
                                               [which, f"{which}:%"]).fetchone() is not None

        return {"train": train, "models": models, "ntk": ntk, "risk": risk, "model-trained?": is_trained}


def model_summary(rec: dict[str, Any]) -> dict[str, Any]:
    """A trained model's record as an answer: its held-out scores against the baseline, its NTK verdict."""
    s = {k: v for k, v in rec["scores"].items() if k != "residuals_z"}
    if rec["name"].startswith("gnn"):
        answer = (f"{rec['name']}: held-out ROC-AUC {s['gnn']['roc_auc']:.3f} (ChebConv K={s['gnn']['k']}) vs"
                  f" {s['non_graph_mlp']['roc_auc']:.3f} for the same features without the graph")
    else:
        answer = "fno: " + "; ".join(f"{t} backtest MAE {c['fno_mae']} vs statsmodels {c['statsmodels_mae']}"
                                     for t, c in s["community"].items())
    return {"answer": answer, "evidence": {"trained": rec["trained"], "config": rec["config"],
                                           "ntk": rec["ntk"]["verdict"]}, "held_out": s, "model": rec["kind"]}


def _prediction_rows(out: dict[str, Any]) -> dict[str, Any]:
    """A prediction's per-group rows flattened for a table: each metric as mean [low, high]."""
    from engine.predict import METRICS
    rows = []
    for row in out["rows"]:
        flat = {"group": row["group"]}
        for metric in METRICS:
            v = row.get(metric)
            flat[metric.replace("_", "-")] = "n/a" if v is None else f"{v['mean']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]"
        rows.append(flat)
    out["predictions"] = out.pop("rows")
    return {**out, "rows": rows, "columns": ["group", *(m.replace("_", "-") for m in METRICS)]}
