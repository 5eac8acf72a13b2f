"""Ingestion: parse -> store (one transaction per batch, idempotent by source id) -> graph -> embed
(content-hash cache) -> index. Each stage is a plain function over a batch or the workspace, so
an interrupted run leaves the workspace consistent and a re-run completes it."""
from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..media.voice import AUDIO
from ..workspace.derived import forget
from ..workspace.files import content_hash, kill_point
from ..workspace.progress import counting, track
from ..workspace.progress import wanted as progress_wanted
from ..workspace.store import Workspace, dumps
from . import formats as F
from .stages import BASIC, Run, Stage

BATCH = 1000
EMBED_CHUNK = 2048


@dataclass
class Report:
    """What an ingest did: rows taken by kind, rows skipped by reason (with a first example), time."""
    files: list[str] = field(default_factory=list)
    taken: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    notes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    embedded: int = 0
    scored: int = 0  # distinct texts given a sentiment by the packaged model
    indexed: int = 0
    edges: int = 0
    personas: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    windows: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # player table -> column windows

    def skip(self, reason: str, where: str, n: int = 1) -> None:
        self.skipped[reason] += n
        self.examples.setdefault(reason, where)

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "taken": dict(self.taken), "skipped": dict(self.skipped),
                "skip-examples": self.examples, "notes": dict(self.notes), "errors": self.errors, "embedded": self.embedded,
                "scored": self.scored, "indexed": self.indexed, "edges": self.edges, "personas": self.personas, "seconds": round(self.seconds, 2),
                "windows": self.windows}

    def render(self, done: str = "ingested", what: str = "file(s)") -> str:
        """The human summary printed at the end of `pilang ingest` (and, as "synced ... source(s)", of sync)."""
        taken = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.taken.items())) or "nothing new"
        lines = [f"{done} {len(self.files)} {what} in {self.seconds:.1f} s: took {taken}"]
        for reason, n in self.skipped.most_common():
            lines.append(f"  skipped {n:,}: {reason} (first: {self.examples[reason]})")
        for note, n in self.notes.items():
            lines.append(f"  {note}: {n:,}")
        lines.append(f"  embedded {self.embedded:,} new text(s), indexed {self.indexed:,} vector(s),"
                     f" {self.edges:,} graph edge(s) recomputed")
        if self.scored:
            lines.append(f"  sentiment of {self.scored:,} new text(s), by the packaged game-text model")
        if self.personas.get("personas") in ("refit", "assigned"):
            lines.append("  personas: " + ", ".join(f"{k} {v}" for k, v in self.personas.items()))
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def expand(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named, and the files inside folders named (sorted, hidden ones and SOURCE.md left out)."""
    for p in map(Path, paths):
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(p).parts) \
                        and child.suffix.lower() in (".json", ".csv", ".jsonl", *AUDIO):
                    yield child
        else:
            yield p


def ingest(ws: Workspace, paths: Iterable[str | Path], fmt: str | None = None, progress: bool | None = None,
           embed: bool = True, windows: dict[str, Any] | None = None, mapping: Any = None,
           time_format: str | None = None, stages: Sequence[Stage] | None = None) -> Report:
    """Ingest files and folders into the workspace; returns the report (file errors included).
    `stages`: what runs after storing (see `finish`).
    `windows` ({column: [first-day, last-day]}) declares what days a player table's columns observe
    (so a column counted after a label's day is never a feature for it); a `<table>.windows.json`
    beside the table file does the same. `mapping` (`text=review,time=review_date,...`) reads a CSV or
    JSONL of messages through a column map (see formats/mapped.py), `time_format` its times."""
    with ingesting(ws):
        return _ingest(ws, paths, fmt, progress, embed, windows, mapping, time_format, stages)


def _ingest(ws: Workspace, paths: Iterable[str | Path], fmt: str | None, progress: bool | None, embed: bool,
            windows: dict[str, Any] | None, mapping: Any, time_format: str | None,
            stages: Sequence[Stage] | None) -> Report:
    show = progress_wanted() if progress is None else progress
    report = Report()
    started = time.perf_counter()
    groups: set[tuple[str, str]] = set()
    for path in expand(paths):
        if not path.exists():
            report.errors.append(f"{path}: no such file or folder")
            continue
        try:
            if mapping or time_format:
                from .formats.mapped import mapped, parse_map
                form = mapped(fmt or path.suffix.lstrip(".").lower(), parse_map(mapping), time_format)
            else:
                form = F.get(fmt) if fmt else F.detect(path)
            report.files.append(str(path))
            table = table_name(ws, path, report) if form.kind in ("players", "telemetry") else None
            if form.name == "player-table":
                sidecar = path.with_name(path.stem + ".windows.json")
                declared = {**(json.loads(sidecar.read_text()) if sidecar.exists() else {}), **(windows or {})}
                if declared:
                    report.windows[table] = declare_windows(ws, table, declared)
            records = track(form.parse(path), path.name, show=show)
            batch: list[F.Record] = []
            ref = None
            read = 0
            try:
                for rec in records:
                    if table is not None and isinstance(rec, (F.PlayerFacts, F.Event)):
                        rec.source = table  # keyed by the file, not its name: two players.csv are two tables
                    batch.append(rec)
                    read += 1
                    if len(batch) >= BATCH:
                        ref = store_batch(ws, batch, form, path, ref, report, groups)
                        batch = []
            except (F.FormatError, OSError):
                raise
            except Exception as exc:  # a parser bug must cost the rest of one file, never the run
                report.errors.append(f"{path}: stopped after {read:,} records ({type(exc).__name__}: {exc});"
                                     " the records before it were kept")
            store_batch(ws, batch, form, path, ref, report, groups)
        except F.FormatError as exc:
            report.errors.append(str(exc))
        except (OSError, ValueError) as exc:  # unreadable file, or a windows sidecar that is not JSON
            report.errors.append(f"{path}: {getattr(exc, 'strerror', None) or exc}")
    finish(ws, groups, report, embed, show, stages)
    report.seconds = time.perf_counter() - started
    return report


def table_name(ws: Workspace, path: Path, report: Report) -> str:
    """The name a player table or telemetry file is known by: its stem, unless another file already
    holds that name, then stem-FOLDER (or stem-HASH): the same file always gets the same name."""
    where = str(path.resolve())
    known = ws.get_meta(f"table-of:{where}")
    if known:
        return known
    with ws.transaction():  # under the write lock: two processes naming two players.csv at once
        for name in (path.stem, f"{path.stem}-{path.parent.name}",
                     f"{path.stem}-{hashlib.sha1(where.encode()).hexdigest()[:8]}"):
            holder = ws.get_meta(f"table-path:{name}")
            if holder is None and ws.db.execute("SELECT 1 FROM player_facts WHERE source = ? UNION ALL SELECT 1 FROM"
                                                " telemetry WHERE source = ? LIMIT 1", [name, name]).fetchone():
                # a table from before names were recorded: this file's if this file was ingested then
                seen = ws.db.execute("SELECT 1 FROM sources WHERE path = ?", [where]).fetchone()
                holder = where if seen else "(another file, ingested earlier)"
            if holder is None or holder == where:
                ws.set_meta(f"table-of:{where}", name)
                ws.set_meta(f"table-path:{name}", where)
                if name != path.stem:
                    report.notes[f"{path} is table {name} ({path.stem} is another file)"] += 1
                return name
    raise F.FormatError(f"{path}: no free table name")


def column_windows(ws: Workspace, source: str) -> dict[str, list[float]]:
    """The day ranges a player table's columns observe, as declared on ingest ({column: [first, last]})."""
    raw = ws.get_meta(f"windows:{source}")
    return json.loads(raw) if raw else {}


def declare_windows(ws: Workspace, source: str, windows: dict[str, Any]) -> dict[str, list[float]]:
    """Record the observation window (days since the player's start) of some columns of a player table."""
    clean: dict[str, list[float]] = {}
    for column, span in windows.items():
        if not (isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(d, (int, float)) for d in span)
                and span[0] <= span[1]):
            raise F.FormatError(f"the window of column {column!r} is [first-day last-day], e.g. [0 14]; got {span!r}")
        clean[str(column)] = [float(span[0]), float(span[1])]
    merged = {**column_windows(ws, source), **clean}
    with ws.transaction():
        ws.set_meta(f"windows:{source}", json.dumps(merged))
    return merged


def finish(ws: Workspace, groups: set[tuple[str, str]], report: Report, embed: bool = True, show: bool = False,
           stages: Sequence[Stage] | None = None) -> None:
    """The stages after storing (in-process or after a Beam pipeline), in order, each timed: by default
    ingestion's own (graph edges, embeddings, index, sentiment; `stages.BASIC`); the engine's door adds
    the personas' refresh (`pilang_engine.api.INGEST_STAGES`). With embed=False only those that need
    no embeddings run."""
    run = Run(set(groups), report, show)
    for stage in BASIC if stages is None else stages:
        if stage.embeds and not embed:
            continue
        t = time.perf_counter()
        stage.run(ws, run)
        report.stage_seconds[stage.name] = time.perf_counter() - t


def score_pending(ws: Workspace) -> int:
    """Sentiment (the packaged model's) of every stored text that has none yet."""
    from ..analytics.sentiment import packaged, score_and_store
    rows = ws.db.execute("SELECT m.id, m.text, m.meta, m.content_hash FROM messages m LEFT JOIN sentiment s"
                         " ON s.hash = m.content_hash AND s.model = ? WHERE s.hash IS NULL ORDER BY m.id",
                         [packaged().version]).fetchall()
    return score_and_store(ws, rows) if rows else 0


def store_batch(ws: Workspace, batch: list[F.Record], form: F.Format, path: Path | str, ref: int | None,
                report: Report, groups: set[tuple[str, str]], also: Any = None) -> int:
    """Write one batch in one transaction: everything in it is stored, or nothing. `path` is a file, or
    a live source's key (`steam:appreviews/730`); `also()` runs inside the same transaction (a
    connector's cursor is committed with exactly the rows it covers)."""
    with ws.transaction():
        if ref is None:
            ref = ws.source_id(form.kind, path if isinstance(path, str) else str(path.resolve()), form.name)
        if also is not None:
            also()
        by_type: dict[type, list[Any]] = {}
        for rec in batch:
            if isinstance(rec, F.Skip):
                report.skip(rec.reason, rec.where)
            else:
                by_type.setdefault(type(rec), []).append(rec)
        touched = set(groups)
        for kind, recs in by_type.items():
            WRITERS[kind](ws, recs, ref, report, groups)
        ws.db.conn.executemany("INSERT OR IGNORE INTO pending_groups(kind, value) VALUES (?, ?)",
                               sorted(groups - touched))  # owed until finish() computes their edges
        kill_point("batch")  # written, not committed
    return ref


def existing_ids(ws: Workspace, table: str, source: str, ids: list[str]) -> set[str]:
    """Which of `ids` the table already holds for `source`."""
    return {r[0] for r in ws.rows_in(f"SELECT external_id FROM {table} WHERE source = ? AND external_id IN ({{marks}})",
                                     ids, [source])}


def _new_only(ws: Workspace, table: str, recs: list[Any], report: Report) -> list[Any]:
    """The records not yet in the workspace (and not repeated within the batch)."""
    out, seen = [], set()
    by_source: dict[str, list[Any]] = {}
    for r in recs:
        by_source.setdefault(r.source, []).append(r)
    for source, group in by_source.items():
        known = existing_ids(ws, table, source, [r.external_id for r in group])
        for r in group:
            if r.external_id in known or (source, r.external_id) in seen:
                report.skip("already in the workspace", f"{source} {r.external_id}")
            else:
                seen.add((source, r.external_id))
                out.append(r)
    return out


def _write_messages(ws: Workspace, recs: list[F.Message], ref: int, report: Report,
                    groups: set[tuple[str, str]]) -> None:
    rows, authors = [], {}
    for m in _new_only(ws, "messages", recs, report):
        author = ws.pseudonym(m.platform or m.source, m.author)
        mentions = [ws.pseudonym(m.platform or m.source, x) for x in m.mentions]
        rows.append((m.source, ref, m.external_id, author, m.time, m.thread, m.context, m.reply_to,
                     dumps(mentions) if mentions else None, m.text, content_hash(m.text), dumps(m.meta)))
        if "cut_from_chars" in m.meta:
            report.notes[f"texts cut to {F.MAX_TEXT:,} characters"] += 1
        if m.thread:
            groups.add(("thread", m.thread))
        if m.context:
            groups.add(("context", m.context))
        if author:
            first, last, n, attrs = authors.get(author, (m.time, m.time, 0, m.author_attrs))
            times = [t for t in (first, last, m.time) if t is not None]
            authors[author] = (min(times, default=None), max(times, default=None), n + 1, m.author_attrs or attrs)
    ws.db.conn.executemany(
        "INSERT INTO messages(source, source_ref, external_id, author, time, thread, context, reply_to, mentions,"
        " text, content_hash, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    ws.db.conn.executemany(
        "INSERT INTO authors(id, platform, first_seen, last_seen, messages, attrs) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET first_seen = min(coalesce(authors.first_seen, excluded.first_seen),"
        " coalesce(excluded.first_seen, authors.first_seen)),"
        " last_seen = max(coalesce(authors.last_seen, excluded.last_seen), coalesce(excluded.last_seen, authors.last_seen)),"
        " messages = authors.messages + excluded.messages, attrs = excluded.attrs",
        [(a, recs[0].platform or recs[0].source, first, last, n, dumps(attrs))
         for a, (first, last, n, attrs) in authors.items()])
    report.taken["messages"] += len(rows)


def _write_changes(ws: Workspace, recs: list[F.Change], ref: int, report: Report, groups: set) -> None:
    rows = [(c.source, ref, c.external_id, c.time, c.title, c.text, c.kind, content_hash(c.text))
            for c in _new_only(ws, "changes", recs, report)]
    ws.db.conn.executemany("INSERT INTO changes(source, source_ref, external_id, time, title, text, kind, content_hash)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    report.taken["changes"] += len(rows)


def _write_events(ws: Workspace, recs: list[F.Event], ref: int, report: Report, groups: set) -> None:
    rows = [(e.source, ref, e.external_id, ws.pseudonym(e.source, e.player), e.time, e.event, e.value)
            for e in _new_only(ws, "telemetry", recs, report)]
    ws.db.conn.executemany("INSERT INTO telemetry(source, source_ref, external_id, player, time, event, value)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    report.taken["events"] += len(rows)


def _write_facts(ws: Workspace, recs: list[F.PlayerFacts], ref: int, report: Report, groups: set) -> None:
    players = {ws.pseudonym(p.source, p.player): p for p in recs}
    source = recs[0].source
    known = {r[0] for r in ws.rows_in("SELECT DISTINCT player FROM player_facts WHERE source = ? AND player IN ({marks})",
                                      list(players), [source])}
    if known:
        report.skip("already in the workspace", f"player table {source}", len(known))
    rows = [(pid, p.source, k, json.dumps(v)) for pid, p in players.items() if pid not in known
            for k, v in p.facts.items()]
    ws.db.conn.executemany("INSERT INTO player_facts(player, source, key, value) VALUES (?, ?, ?, ?)", rows)
    report.taken["player rows"] += len(players) - len(known)


def _write_crashes(ws: Workspace, recs: list[F.Crash], ref: int, report: Report, groups: set) -> None:
    rows = [(c.source, ref, c.external_id, c.time, c.build, c.platform, c.stack_hash, c.message,
             ws.pseudonym(c.source, c.player) if c.player else None) for c in _new_only(ws, "crashes", recs, report)]
    ws.db.conn.executemany("INSERT INTO crashes(source, source_ref, external_id, time, build, platform, stack_hash,"
                           " message, player) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    report.taken["crashes"] += len(rows)


WRITERS = {F.Message: _write_messages, F.Change: _write_changes, F.Event: _write_events,
           F.PlayerFacts: _write_facts, F.Crash: _write_crashes}


@contextmanager
def ingesting(ws: Workspace, only: bool = False) -> Iterator[bool]:
    """Mark this process as ingesting into `ws` while the block runs (an advisory lock the kernel drops
    when the process ends, killed or not). `only`: just when no other process ingests now; yields
    whether the mark was taken."""
    if ws.backend == "postgresql":  # ingests on other machines too: the store's own lock
        from ..workspace.pgstore import ingest_mark
        with ingest_mark(ws.db.conn, only) as got:
            yield got
        return
    ws.path.mkdir(parents=True, exist_ok=True)
    with open(ws.path / ".ingesting", "a") as mark:
        if only:
            try:
                fcntl.flock(mark, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
        fcntl.flock(mark, fcntl.LOCK_SH)  # ingests run side by side; a catch-up waits for none of them
        try:
            yield True
        finally:
            fcntl.flock(mark, fcntl.LOCK_UN)


def catch_up(ws: Workspace) -> int:
    """Embed what an ingest that was killed left without a vector, when no ingest is running now (a
    running one embeds its own rows); how many texts were embedded. The index's first use calls this,
    so a killed ingest's messages are found by the next search, without a re-run."""
    missing = ws.db.execute(
        "SELECT 1 FROM messages m WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.hash = m.content_hash"
        " AND v.model = ?) LIMIT 1", [ws.embed_model]).fetchone()
    if not missing:
        return 0
    with ingesting(ws, only=True) as alone:
        return embed_pending(ws) if alone else 0


def embed_pending(ws: Workspace, show: bool = False) -> int:
    """Embed every message and change text that has no vector for the workspace's model yet
    (new rows, rows left by an interrupted run, or all rows after a model switch)."""
    enc = ws.embedder()
    model = enc.key
    pending = ws.db.execute(
        "SELECT content_hash, min(text) FROM (SELECT content_hash, text FROM messages UNION ALL"
        " SELECT content_hash, text FROM changes) t"
        " WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.hash = t.content_hash AND v.model = ?)"
        " GROUP BY content_hash ORDER BY content_hash", [model]).fetchall()  # in one order on every store
    if not pending:
        return 0
    done = 0
    with counting("embedding", len(pending), "texts", show=show) as bar:
        for start in range(0, len(pending), EMBED_CHUNK):
            chunk = pending[start:start + EMBED_CHUNK]
            save_vectors(ws, model, [h for h, _ in chunk], enc.encode([text for _, text in chunk]))
            done += len(chunk)
            bar.update(len(chunk))
            kill_point("embed")
    return done


def _restore(ws: Workspace, setting: tuple[str, str]) -> None:
    with ws.transaction():
        ws.set_meta("embed_model", setting[0])
        ws.set_meta("embed_precision", setting[1])


def save_vectors(ws: Workspace, model: str, hashes: list[str], vectors: Any) -> None:
    """Store embeddings by content hash, in one transaction."""
    with ws.transaction():
        ws.db.conn.executemany("INSERT OR REPLACE INTO vectors(hash, model, vector) VALUES (?, ?, ?)",
                               [(h, model, v.tobytes()) for h, v in zip(hashes, vectors)])


def switch_model(ws: Workspace, name: str | None = None, show: bool = False, precision: str | None = None,
                 defer: bool = False) -> int:
    """Make `name` in `precision` the workspace's embedder: embed what its cache lacks, rebuild the index.
    Returns the number of texts embedded (0 when switching back to vectors already cached, or between
    fp32 and bf16, whose vectors are interchangeable). With `defer`, int8 asked of a workspace with too few
    texts to calibrate on is recorded, and the next ingest calibrates on its texts."""
    from ..workspace.embed import MODELS, ModelUnavailable
    from ..workspace.inference import TooFewTexts, check_precision
    name = name or ws.embed_name
    if name not in MODELS:
        raise ModelUnavailable(f"unknown embedding model {name!r} (known: {', '.join(MODELS)})")
    if precision is not None:
        check_precision(precision)
    MODELS[name][0]()  # fail now, before the switch, if its package is missing
    before = (ws.embed_name, ws.embed_precision)
    with ws.transaction():
        ws.set_meta("embed_model", name)
        if precision is not None:
            ws.set_meta("embed_precision", precision)
    try:
        ws.embedder().model()  # fail now (no int8 runtime, too few texts to calibrate on), not mid-ingest
    except TooFewTexts:
        if not defer:
            _restore(ws, before)
            raise
        return 0
    except ModelUnavailable:
        _restore(ws, before)
        raise
    embedded = embed_pending(ws, show)
    forget(ws, "vector-index")
    ws.vector_index().sync()
    return embedded
