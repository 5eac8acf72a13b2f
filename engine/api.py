"""The engine's one door: everything the language (pilang/), the kernel and the team server may ask of the
engine is named here, and they import no other engine module (tests/test_layout.py enforces it).

- **Names** (`EXPORTS`): the workspace, its errors and dates, ingestion, search, personas, predictions,
  analytics, the spectral models, media, the learner, the evaluation suite; each `name: "module[:attr]"`
  under pilang_engine, imported on first use (start-up never loads torch or BERTopic). The block under
  TYPE_CHECKING imports the same names, so static analysis and editors resolve them.
- **Analyses** (`ANALYSES`): each name a query's `(target ...)` or `(analyze 'name ...)` can give, and the
  engine function that answers it; the query evaluator reads the names through `(analysis-names)`.
- **Ingestion's stages** (`ingest_stages()`): ingestion's own and the personas' refresh, composed here so
  ingestion imports no layer above it; `ingest`, `sync`, `watch_once` and `ingest_with_beam` run them.
- **Answers** (`Answer`): what every question returns, typed: the sentence, the model, its held-out score
  beside the baseline, the evidence, and the series and table rows a renderer draws."""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple


# ---- names ----------------------------------------------------------------------------------------

EXPORTS: dict[str, str] = {
    # the workspace: opening one, its errors, dates, saved definitions, access tokens, progress
    "Workspace": "workspace.store", "WorkspaceError": "workspace.store", "NotAllowed": "workspace.store",
    "default_path": "workspace.store", "workspace_exists": "workspace.store:exists", "ModelUnavailable": "workspace.embed", "FormatError": "ingestion.formats",
    "parse_date": "workspace.dates", "iso": "workspace.dates", "exact_iso": "workspace.dates",
    "set_reporter": "workspace.progress",
    "save_definition": "workspace.environments:save", "definitions": "workspace.environments",
    "clear_definitions": "workspace.environments:clear", "numbered_definitions": "workspace.environments:numbered",
    "definition_numbers": "workspace.environments:numbers",
    "ROLES": "workspace.access", "tokens": "workspace.access", "add_token": "workspace.access",
    "revoke_token": "workspace.access:revoke", "identify": "workspace.access",
    # data in: the embedder, live sources, the demo's simulator; search and export
    "switch_model": "ingestion.pipeline", "sources": "connectors", "write_demo": "data.simulate",
    "search": "workspace.search", "Scope": "analytics.series", "export_messages": "analytics.export",
    # personas and predictions
    "fit_personas": "personas.clusters:fit", "ensure_personas": "personas.clusters:ensure",
    "personas_fitted": "personas.clusters:fit_info", "persona_separation": "personas.clusters:separation",
    "find_persona": "personas.clusters:find", "ask": "personas.answers",
    "predict_reaction": "predictions.reactions", "churn": "predictions.churn",
    "compare_personas": "predictions.compare", "compare_periods": "predictions.compare",
    "compare_changes": "predictions.compare",
    # analytics outside the analyses table
    "drivers": "analytics.drivers", "sentiment_of": "analytics.sentiment", "same_words": "analytics.language",
    "topics_history": "analytics.lineage:history",
    # the spectral models
    "train_gnn": "spectral.gnn:train", "train_fno": "spectral.fno:train", "gnn_task": "spectral.gnn:task_for",
    "model_record": "spectral:record", "trained_models": "spectral:trained", "is_trained": "spectral:is_trained",
    "model_summary": "spectral:summary", "ntk_answer": "spectral:ntk_answer", "risk": "spectral.gnn",
    # media
    "transcribe": "media.voice", "ingest_images": "media.images",
    "search_images": "media.images",
    # the learner
    "rate": "learning.interactions", "record_interaction": "learning.interactions:record",
    "accept_shape": "learning.shapes:accept", "forget_shape": "learning.shapes:forget",
    "shape_listing": "learning.shapes:listing", "active_shapes": "learning.shapes:active",
    "offered_shapes": "learning.shapes:offered", "rewrite": "learning.shapes",
    "learning_entries": "learning:entries", "learning_params": "learning:params", "undo_learning": "learning:undo", "freeze_learning": "learning:freeze",
    "routing_scores": "learning.bandit:scores", "choose_route": "learning.bandit:choose",
    "Gateway": "connectors.gateway", "GatewayFatal": "connectors.gateway", "live_alerts": "connectors.watch",
    "migrate_to_postgres": "workspace.postgres:migrate",
    "accept_events": "ingestion.collector:accept", "event_items": "ingestion.collector:items",
    "BadBatch": "ingestion.collector",
    "learn_phrase": "learning.phrases:learn", "learned_phrases": "learning.phrases:active",
    "phrase_of": "learning.phrases:said",
    # measured quality
    "evaluate": "evaluation.suite", "evaluation_markdown": "evaluation.suite:markdown",
    "evaluation_text": "evaluation.suite:render",
}

if TYPE_CHECKING:  # the same names, for static analysis (tests/test_layout.py keeps the two lists one)
    from .analytics.drivers import drivers
    from .analytics.export import export_messages
    from .analytics.language import same_words
    from .analytics.lineage import history as topics_history
    from .analytics.sentiment import sentiment_of
    from .analytics.series import Scope
    from .connectors import sources
    from .data.simulate import write_demo
    from .evaluation.suite import evaluate
    from .evaluation.suite import markdown as evaluation_markdown
    from .evaluation.suite import render as evaluation_text
    from .ingestion.formats import FormatError
    from .ingestion.pipeline import switch_model
    from .learning import entries as learning_entries
    from .learning import params as learning_params
    from .learning import freeze as freeze_learning
    from .learning import undo as undo_learning
    from .learning.bandit import choose as choose_route
    from .learning.bandit import scores as routing_scores
    from .learning.interactions import rate
    from .connectors.gateway import Gateway, GatewayFatal
    from .connectors.watch import live_alerts
    from .workspace.postgres import migrate as migrate_to_postgres
    from .ingestion.collector import BadBatch
    from .ingestion.collector import accept as accept_events
    from .ingestion.collector import items as event_items
    from .learning.phrases import active as learned_phrases
    from .learning.phrases import learn as learn_phrase
    from .learning.phrases import said as phrase_of
    from .learning.interactions import record as record_interaction
    from .learning.shapes import accept as accept_shape
    from .learning.shapes import active as active_shapes
    from .learning.shapes import forget as forget_shape
    from .learning.shapes import listing as shape_listing
    from .learning.shapes import offered as offered_shapes
    from .learning.shapes import rewrite
    from .media.images import ingest_images, search_images
    from .media.voice import transcribe
    from .personas.answers import ask
    from .personas.clusters import ensure as ensure_personas
    from .personas.clusters import find as find_persona
    from .personas.clusters import fit as fit_personas
    from .personas.clusters import fit_info as personas_fitted
    from .personas.clusters import separation as persona_separation
    from .predictions.churn import churn
    from .predictions.compare import compare_changes, compare_periods, compare_personas
    from .predictions.reactions import predict_reaction
    from .spectral import is_trained, ntk_answer
    from .spectral import record as model_record
    from .spectral import summary as model_summary
    from .spectral import trained as trained_models
    from .spectral.fno import train as train_fno
    from .spectral.gnn import risk
    from .spectral.gnn import task_for as gnn_task
    from .spectral.gnn import train as train_gnn
    from .workspace.access import ROLES, add_token, identify, tokens
    from .workspace.access import revoke as revoke_token
    from .workspace.dates import exact_iso, iso, parse_date
    from .workspace.embed import ModelUnavailable
    from .workspace.environments import clear as clear_definitions
    from .workspace.environments import definitions
    from .workspace.environments import numbered as numbered_definitions
    from .workspace.environments import numbers as definition_numbers
    from .workspace.environments import save as save_definition
    from .workspace.progress import set_reporter
    from .workspace.search import search
    from .workspace.store import NotAllowed, Workspace, WorkspaceError, default_path
    from .workspace.store import exists as workspace_exists


def __getattr__(name: str) -> Any:
    """An exported name, imported on first use (and kept as this module's attribute)."""
    where = EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = where.partition(":")
    value = getattr(importlib.import_module(f"{__package__}.{module}"), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *EXPORTS})


# ---- analyses -------------------------------------------------------------------------------------

class Analysis(NamedTuple):
    module: str  # under pilang_engine
    function: str
    queried: bool = True  # a query target; False: reached by a handler only (the FNO's forecast)


ANALYSES: dict[str, Analysis] = {
    "volume": Analysis("analytics.reports", "volume"),
    "sentiment": Analysis("analytics.reports", "sentiment"),
    "anomalies": Analysis("analytics.reports", "anomalies"),
    "forecast": Analysis("analytics.reports", "forecast"),
    "hodge": Analysis("analytics.hodge", "hodge"),
    "topics": Analysis("analytics.topics", "topics"),
    "drivers": Analysis("analytics.drivers", "drivers"),
    "patterns": Analysis("analytics.patterns", "patterns"),
    "crashes": Analysis("analytics.crashes", "crashes"),
    "forecast-fno": Analysis("spectral.fno", "forecast", queried=False),
}


def analysis_names(queried: bool = True) -> list[str]:
    """The analyses' names, in the table's order: those a query may name (or every one)."""
    return [name for name, a in ANALYSES.items() if a.queried or not queried]


def analysis(name: str) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    """The engine function that answers an analysis (KeyError for an unknown name). Each takes
    (workspace, parameters) and returns an answer (see `Answer`)."""
    a = ANALYSES[name]
    return getattr(importlib.import_module(f"{__package__}.{a.module}"), a.function)


# ---- answers --------------------------------------------------------------------------------------

DRAWN = ("series", "rows", "columns")


@dataclass
class Answer:
    """An answer, typed. `answer` is the sentence; `model` what produced it; `held_out` its score on data it
    never saw beside the baseline's; `evidence` what supports it; `series` ({"x": [...], name: [...]}) and
    `rows`/`columns` what a renderer draws (a plot, a table); `more` any other field an answer gives
    (e.g. a prediction's structured `predictions`). `said` keeps the fields present, in the engine's order,
    so a field an answer lacks stays absent from `--json` (its keys are a contract)."""
    answer: str
    evidence: dict[str, Any] | None = None
    model: Any = None
    held_out: Any = None
    series: dict[str, Any] | None = None
    rows: list[dict[str, Any]] | None = None
    columns: list[str] | None = None
    more: dict[str, Any] = field(default_factory=dict)
    said: tuple[str, ...] = ()

    TYPED = ("answer", "evidence", "model", "held_out")

    @classmethod
    def of(cls, out: Answer | dict[str, Any]) -> Answer:
        """An engine function's answer (a dict with "answer" and any of the fields above) as an Answer."""
        if isinstance(out, Answer):
            return out
        typed = {k: out[k] for k in (*cls.TYPED, *DRAWN) if k in out}
        more = {k: v for k, v in out.items() if k not in cls.TYPED and k not in DRAWN}
        return cls(**{"answer": "", **typed}, more=more,
                   said=tuple(k for k in out if k not in DRAWN))

    def fields(self) -> dict[str, Any]:
        """What the answer says (everything but what is drawn), in the engine's order."""
        return {k: self.more[k] if k in self.more else getattr(self, k) for k in self.said}


# ---- ingestion's stages ---------------------------------------------------------------------------

def _stages() -> tuple[Any, ...]:
    from .ingestion.stages import BASIC, Stage
    from .personas.clusters import refresh_stage
    return (*BASIC, Stage("personas", refresh_stage))


def live_stages() -> tuple[Any, ...]:
    """The stages of a live stream's batches: ingestion's own, then new players assigned to the nearest
    persona (no refit: a stream's batches come every second)."""
    from .ingestion.stages import BASIC, Stage
    from .personas.clusters import assign_stage
    return (*BASIC, Stage("personas", assign_stage))


def ingest_stages() -> tuple[Any, ...]:
    """The stages every ingest runs after storing: ingestion's own (graph, embed, index, sentiment), then the
    personas' refresh."""
    return _stages()


def ingest(ws: Any, paths: Iterable[str | Path], **options: Any) -> Any:
    """Ingest files and folders (see ingestion.pipeline.ingest for the options), then run `ingest_stages()`."""
    from .ingestion.pipeline import ingest as run
    return run(ws, paths, stages=options.pop("stages", None) or _stages(), **options)


def ingest_with_beam(workspace: str | Path, paths: Iterable[str | Path], fmt: str | None = None,
                     options: list[str] | None = None) -> Any:
    """The same ingest through an Apache Beam pipeline (see ingestion.beam)."""
    from .ingestion.beam import run
    return run(workspace, paths, fmt, options, stages=_stages())


def sync(ws: Any, kind: str | None = None, options: dict[str, Any] | None = None, show: bool | None = None,
         embed: bool = True, stages: Sequence[Any] | None = None) -> Any:
    """Sync a live source (or every registered one), ending like an ingest (see connectors.sync)."""
    from .connectors import sync as run
    return run(ws, kind, options, show, embed, stages or _stages())


def watch_once(ws: Any, webhook: str | None = None, style: str = "slack",
               say: Callable[[str], None] = print) -> dict[str, Any]:
    """One round of the watcher: sync, find, alert (see connectors.watch)."""
    from .connectors.watch import watch_once as run
    return run(ws, webhook, style, say, stages=_stages())


def preload() -> None:
    """Load the modules and packaged models every ingest and answer reads (a server's workers then share
    their pages)."""
    from .analytics import language, sentiment, toxicity
    from .workspace import search, store  # noqa: F401 (imported to be loaded)
    sentiment.packaged()
    toxicity.packaged_toxicity()
    language.preload()
