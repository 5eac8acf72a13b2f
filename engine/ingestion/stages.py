"""The stages an ingest runs after storing, as a list handed to the pipeline (BERTopic's way of passing
its steps in): each can be run alone, tested alone, left out or swapped.

A stage is a name and a function of (workspace, run); `run` holds the groups (threads, matches) this
ingest touched, its report (each stage writes its own figures there) and whether progress is shown.
Ingestion owns the stages below; a higher layer adds its own (the personas' refresh, see
`pilang_engine.api.INGEST_STAGES`), so ingestion imports no layer above it."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..workspace.graph import update_edges
from ..workspace.store import Workspace

if TYPE_CHECKING:
    from .pipeline import Report


@dataclass
class Run:
    """One ingest as its stages see it."""
    groups: set[tuple[str, str]]
    report: Report
    show: bool = False


class Stage(NamedTuple):
    name: str
    run: Callable[[Workspace, Run], Any]
    embeds: bool = True  # needs the embeddings: left out of an ingest with embed=False


def graph(ws: Workspace, run: Run) -> None:
    """Graph edges of the touched threads and matches, and of any an interrupted run left owed."""
    with ws.transaction():
        owed = {(k, v) for k, v in ws.db.execute("SELECT kind, value FROM pending_groups")}
        run.report.edges = update_edges(ws, set(run.groups) | owed)
        ws.db.conn.executemany("DELETE FROM pending_groups WHERE kind = ? AND value = ?", sorted(set(run.groups) | owed))


def embed(ws: Workspace, run: Run) -> None:
    """Embeddings of every text without one (this run's and any a killed run left)."""
    from .pipeline import embed_pending
    run.report.embedded += embed_pending(ws, run.show)


def index(ws: Workspace, run: Run) -> None:
    """The vector index brought in step with the embeddings."""
    run.report.indexed = ws.vector_index().sync()


def sentiment(ws: Workspace, run: Run) -> None:
    """The packaged model's sentiment of every stored text that has none yet."""
    from .pipeline import score_pending
    run.report.scored = score_pending(ws)


BASIC: tuple[Stage, ...] = (Stage("graph", graph, embeds=False), Stage("embed", embed), Stage("index", index),
                            Stage("sentiment", sentiment))
