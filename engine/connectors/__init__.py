"""Live sources: connectors that pull a platform's messages into the workspace incrementally (Steam
reviews, Discord channels, Zendesk tickets). Each sync registers its source (options only, never a
secret: a token is named by the environment variable that holds it) and commits its cursor in the
same transaction as the rows that cursor covers, so a re-run fetches only what is new and a sync
killed anywhere resumes with no duplicate and no gap."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ingestion import formats as F
from ..ingestion.pipeline import Report, finish, store_batch
from ..ingestion.stages import Stage
from ..workspace.progress import counting, wanted
from ..workspace.store import Workspace, WorkspaceError, dumps, now_iso
from .http import ConnectorError

SECRET_WORDS = ("token", "password", "secret", "key")  # option names that would be secrets (only *_env allowed)


@dataclass
class Source:
    """A registered live source."""
    name: str
    kind: str
    options: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)


class Out:
    """What a connector writes through: pages of records with the cursor state they reach, and notes."""

    def __init__(self, ws: Workspace, source: Source, form: F.Format, report: Report, groups: set[tuple[str, str]],
                 bar: Any) -> None:
        self.ws, self.source, self.form, self.report, self.groups, self.bar = ws, source, form, report, groups, bar
        self.ref: int | None = None
        self.said: set[str] = set()

    def write(self, records: list[F.Record], state: dict[str, Any]) -> None:
        """Store a page and its new cursor state in one transaction."""
        source = self.source

        def commit_state() -> None:
            self.ws.db.execute("UPDATE connectors SET state = ? WHERE name = ?", [dumps(state), source.name])
        self.ref = store_batch(self.ws, records, self.form, f"{source.kind}:{source.name}", self.ref, self.report,
                               self.groups, also=commit_state)
        source.state = state
        self.bar.update(len(records))

    def note(self, text: str) -> None:
        """A note for the report, said once per sync."""
        if text not in self.said:
            self.said.add(text)
            self.report.notes[f"{self.source.name}: {text}"] += 1


Connector = Callable[[Workspace, Source, Out], None]


def _connectors() -> dict[str, tuple[Connector, F.Format, Callable[[dict[str, Any]], str]]]:
    from . import discord, steam, zendesk
    return {m.KIND: (m.sync, m.FORM, m.name_of) for m in (steam, discord, zendesk)}


def register(ws: Workspace, kind: str, options: dict[str, Any]) -> Source:
    """Record (or update) a source's options; its cursor state is kept."""
    known = _connectors()
    if kind not in known:
        raise WorkspaceError(f"unknown source kind {kind!r} (known: {', '.join(sorted(known))})")
    options = {k: v for k, v in options.items() if v is not None}
    for key in options:
        if any(word in key.lower() for word in SECRET_WORDS) and not key.endswith("_env"):
            raise WorkspaceError(f"option {key!r} would store a secret; name the environment variable that holds"
                                 f" it instead ({key}_env)")
    try:
        name = known[kind][2](options)
    except ConnectorError as exc:
        raise WorkspaceError(str(exc)) from None
    row = ws.db.execute("SELECT state FROM connectors WHERE name = ?", [name]).fetchone()
    with ws.transaction():
        ws.db.execute("INSERT INTO connectors(name, kind, options, state, registered) VALUES (?, ?, ?, ?, ?)"
                      " ON CONFLICT(name) DO UPDATE SET options = excluded.options",
                      [name, kind, dumps(options), row[0] if row else "{}", now_iso()])
    return Source(name, kind, options, json.loads(row[0]) if row else {})


def sources(ws: Workspace) -> list[dict[str, Any]]:
    """The registered live sources: name, kind, options (never a secret), last sync, last error."""
    return [{"name": n, "kind": k, "options": json.loads(o), "last_sync": s, "last_error": e}
            for n, k, o, s, e in ws.db.execute("SELECT name, kind, options, last_sync, last_error FROM connectors"
                                               " ORDER BY name")]


def sync(ws: Workspace, kind: str | None = None, options: dict[str, Any] | None = None,
         show: bool | None = None, embed: bool = True, stages: Sequence[Stage] | None = None) -> Report:
    """Sync one source (registering it), or with no kind every registered one; a failing source is
    reported and the others go on. Ends like ingest: graph, embeddings, index."""
    connectors = _connectors()
    if kind is not None:
        targets = [register(ws, kind, options or {})]
    else:
        targets = [Source(n, k, json.loads(o), json.loads(s or "{}"))
                   for n, k, o, s in ws.db.execute("SELECT name, kind, options, state FROM connectors ORDER BY name")]
        if not targets:
            raise WorkspaceError("no live sources registered yet (pilang sync steam --app ID, discord --channel ID,"
                                 " zendesk --subdomain S)")
    import time
    started = time.perf_counter()
    report, groups = Report(), set()
    show = wanted() if show is None else show
    for source in targets:
        report.files.append(source.name)
        run, form, _ = connectors[source.kind]
        error = None
        with counting(f"syncing {source.name}", None, "rows", show=show) as bar:
            try:
                run(ws, source, Out(ws, source, form, report, groups, bar))
            except ConnectorError as exc:
                error = str(exc)
                report.errors.append(f"{source.name}: {exc} (what was fetched before it is kept)")
        with ws.transaction():
            ws.db.execute("UPDATE connectors SET last_sync = ?, last_error = ? WHERE name = ?",
                          [now_iso(), error, source.name])
    finish(ws, groups, report, embed, show, stages)
    report.seconds = time.perf_counter() - started
    return report


__all__ = ["ConnectorError", "Source", "register", "sources", "sync"]
