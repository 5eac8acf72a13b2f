"""The workspace store: one directory with a versioned SQLite database (sqlite-utils), the faiss
index and model files (the embedded default), or a PostgreSQL + pgvector database a team shares
(`--store postgresql://...` or PILANG_STORE; engine.workspace.pgstore), the directory then holding only
caches. Every other engine module reads and writes through a Workspace, in one SQL whichever holds it."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from .derived import Derived

DEFAULT_DIR = ".pilang"
BUSY_SECONDS = 60  # how long a write waits for another process's transaction before failing
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def _wal(conn: sqlite3.Connection) -> None:
    """Write-ahead logging, waiting for another process that is switching the same new file: SQLite answers
    a second switch "database is locked" at once, without its busy handler (two ingests creating one
    workspace at the same moment), so the switch is tried again for up to BUSY_SECONDS."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class WorkspaceError(Exception):
    """A workspace that cannot be opened or used, with the reason in words."""


class NotAllowed(WorkspaceError):
    """What the caller asked is someone else's to do (the team's learned items are an admin's)."""


def _v1(db: sqlite_utils.Database) -> None:
    """Sources, pseudonymous authors, messages, changes (patch notes)."""
    db["sources"].create({"id": int, "kind": str, "path": str, "format": str, "first_ingested": str,
                          "last_ingested": str}, pk="id")
    db["sources"].create_index(["kind", "path"], unique=True)
    db["authors"].create({"id": str, "platform": str, "first_seen": float, "last_seen": float,
                          "messages": int, "attrs": str}, pk="id")
    db["messages"].create({"id": int, "source": str, "source_ref": int, "external_id": str, "author": str,
                           "time": float, "thread": str, "context": str, "reply_to": str, "mentions": str, "text": str,
                           "content_hash": str, "meta": str}, pk="id")
    db["messages"].create_index(["source", "external_id"], unique=True)
    db["messages"].create_index(["author"])
    db["messages"].create_index(["time"])
    db["messages"].create_index(["thread"])
    db["messages"].create_index(["context"])
    db["messages"].create_index(["content_hash"])
    db["changes"].create({"id": int, "source": str, "source_ref": int, "external_id": str, "time": float,
                          "title": str, "text": str, "kind": str, "content_hash": str}, pk="id")
    db["changes"].create_index(["source", "external_id"], unique=True)


def _v2(db: sqlite_utils.Database) -> None:
    """Telemetry events and player tables."""
    db["telemetry"].create({"id": int, "source": str, "source_ref": int, "external_id": str, "player": str,
                            "time": float, "event": str, "value": float}, pk="id")
    db["telemetry"].create_index(["source", "external_id"], unique=True)
    db["telemetry"].create_index(["player"])
    db["player_facts"].create({"player": str, "source": str, "key": str, "value": str},
                              pk=("player", "source", "key"))


def _v3(db: sqlite_utils.Database) -> None:
    """The interaction graph's edges and the content-hash embedding cache."""
    db["edges"].create({"src": str, "dst": str, "kind": str, "grp": str, "weight": float},
                       pk=("src", "dst", "kind", "grp"))
    db["edges"].create_index(["grp"])
    db["vectors"].create({"hash": str, "model": str, "vector": bytes}, pk=("hash", "model"))


def _v4(db: sqlite_utils.Database) -> None:
    """Interactions and feedback, for the learner."""
    db["interactions"].create({"id": int, "session": str, "developer": str, "time": float, "text": str,
                               "expansion": str, "handler": str, "summary": str, "latency_ms": float,
                               "error": str}, pk="id")
    db["feedback"].create({"id": int, "interaction": int, "rating": int, "comment": str, "time": float},
                          pk="id", foreign_keys=[("interaction", "interactions")])


def _v5(db: sqlite_utils.Database) -> None:
    """The query evaluator's routing table: (type, target) -> handler, with where each came from."""
    db["routes"].create({"type": str, "target": str, "handler": str, "origin": str, "updated": str},
                        pk=("type", "target"))


def _v6(db: sqlite_utils.Database) -> None:
    """Personas (clusters of players) and which persona each player belongs to."""
    db["personas"].create({"id": str, "name": str, "size": int, "centroid": bytes, "terms": str, "profile": str,
                           "quotes": str, "fitted": str}, pk="id")
    db["personas"].create_index(["name"], unique=True)
    db["persona_members"].create({"author": str, "persona": str, "distance": float, "fitted": int}, pk="author")
    db["persona_members"].create_index(["persona"])


def _v7(db: sqlite_utils.Database) -> None:
    """Trained models (spectral layer): where the weights are, what they scored, their NTK history."""
    db["models"].create({"name": str, "kind": str, "trained": str, "config": str, "scores": str, "ntk": str,
                         "path": str, "data": str}, pk="name")


def _v8(db: sqlite_utils.Database) -> None:
    """The tetration learner: what each interaction was, handler posteriors, learned macros and
    aliases, and the log of every rewrite (with what undoes it)."""
    for column, kind in (("kind", str), ("qtype", str), ("qtarget", str), ("form", str), ("clarifies", int),
                         ("learned_used", str)):
        db["interactions"].add_column(column, kind)
    db["interactions"].create_index(["developer", "time"])
    db["handler_scores"].create({"type": str, "target": str, "handler": str, "alpha": float, "beta": float, "n": int},
                                pk=("type", "target", "handler"))
    db["learned"].create({"name": str, "kind": str, "developer": str, "definition": str, "status": str, "reason": str,
                          "uses": int, "created": str, "updated": str}, pk=("name", "developer"))
    db["learning_log"].create({"id": int, "time": str, "level": str, "action": str, "subject": str, "reason": str,
                               "undo": str, "feedback": str, "undone": int}, pk="id")


def _v9(db: sqlite_utils.Database) -> None:
    """Images and their embeddings (their own faiss index is built from this table)."""
    db["images"].create({"id": int, "path": str, "hash": str, "width": int, "height": int, "model": str,
                         "vector": bytes}, pk="id")
    db["images"].create_index(["hash", "model"], unique=True)


def _v10(db: sqlite_utils.Database) -> None:
    """Threads and matches whose graph edges are owed: written in the same transaction as their
    messages and cleared when the edges are, so an ingest killed in between owes them still."""
    db["pending_groups"].create({"kind": str, "value": str}, pk=("kind", "value"))


def _v11(db: sqlite_utils.Database) -> None:
    """Live sources (connectors): their options (never a secret, only the names of the environment
    variables that hold them), their cursor state, and how the last sync went; and the watcher's
    findings already alerted."""
    db["connectors"].create({"name": str, "kind": str, "options": str, "state": str, "registered": str,
                             "last_sync": str, "last_error": str}, pk="name")
    db["alerts"].create({"key": str, "time": str, "text": str, "delivered": int}, pk="key")


def _v12(db: sqlite_utils.Database) -> None:
    """The team server: its access tokens (only a hash of each is kept) and every developer's own
    global environment, as the definitions they made, in order (replayed when their session starts)."""
    db["tokens"].create({"name": str, "role": str, "hash": str, "created": str, "revoked": str}, pk="name")
    db["environments"].create({"developer": str, "seq": int, "source": str, "file": str, "time": str},
                              pk=("developer", "seq"))


def _v13(db: sqlite_utils.Database) -> None:
    """The packaged sentiment model's scores, one row per distinct text and model version: the message's
    language and its three probabilities (NULL where no scored model covers the language or no vector)."""
    db["sentiment"].create({"hash": str, "model": str, "language": str, "p_negative": float, "p_neutral": float,
                            "p_positive": float}, pk=("hash", "model"))


def _v14(db: sqlite_utils.Database) -> None:
    """Crash reports from the game (the team server's collector): one row per report, grouped by the
    stack's hash."""
    db["crashes"].create({"id": int, "source": str, "source_ref": int, "external_id": str, "time": float,
                          "build": str, "platform": str, "stack_hash": str, "message": str, "player": str}, pk="id")
    db["crashes"].create_index(["source", "external_id"], unique=True)
    db["crashes"].create_index(["stack_hash"])
    db["crashes"].create_index(["time"])


# The schema's history: opening a workspace applies the steps it has not had yet, in order.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10,
                                                              _v11, _v12, _v13, _v14]
SCHEMA_VERSION = len(MIGRATIONS)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Workspace:
    """An open workspace directory. Writes go through `transaction()`, one per batch."""

    def __init__(self, path: str | Path, create: bool = True, upto: int = SCHEMA_VERSION,
                 store: str | None = None) -> None:
        self.path = Path(path)
        self.store = store_uri(store, self.path)
        self.backend = "postgresql" if self.store else "sqlite"
        if self.store:
            self._open_postgres(create)
            return
        db_path = self.path / "workspace.db"
        if not db_path.exists():
            if not create:
                raise WorkspaceError(f"no workspace at {self.path} (run `pilang ingest` to make one)")
            if self.path.exists() and not self.path.is_dir():
                raise WorkspaceError(f"{self.path} exists and is not a directory")
            self.path.mkdir(parents=True, exist_ok=True)
        # another process writing (a second ingest) makes a writer wait its turn, not fail
        conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=BUSY_SECONDS)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
            _wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise WorkspaceError(f"{db_path} is not a readable SQLite database ({exc}); use another --workspace"
                                 " directory") from None
        self.db = sqlite_utils.Database(conn)
        self._migrate(upto)
        self._opened()

    def _open_postgres(self, create: bool) -> None:
        """The store at self.store: its schema made or brought up to this version (additive steps)."""
        from . import pgstore
        from .postgres import StoreError, _safe, schema_version, upgrade
        conn = pgstore.connect(self.store)
        self.db = pgstore.Database(conn)
        found = schema_version(conn.raw)
        if found is None and not create:
            conn.close()
            raise WorkspaceError(f"no workspace in {_safe(self.store)} (run `pilang ingest` to make one)")
        if found is not None and found[0] > SCHEMA_VERSION:
            conn.close()
            raise StoreError(f"{_safe(self.store)} has schema version {found[0]}, newer than this pilang understands"
                             f" ({SCHEMA_VERSION}); upgrade pilang to open it")
        if found is None or found[0] < SCHEMA_VERSION:
            with self.transaction():
                fresh = upgrade(conn)
                if fresh:
                    self.set_meta("salt", secrets.token_hex(16))
                    self.set_meta("created", now_iso())
                    self.set_meta("embed_model", DEFAULT_MODEL)
                self.set_meta("schema_version", str(SCHEMA_VERSION))
            conn.load_keys()  # the tables as they are now (made by this process or another)
        self.path.mkdir(parents=True, exist_ok=True)  # the caches' folder
        self._opened()

    def _opened(self) -> None:
        self._salt = bytes.fromhex(self.get_meta("salt"))
        # what the layers derive from the data (index, graph, models, fits): kept and read by
        # engine.workspace.derived, each value keyed by the data's generation; the store knows none of them
        self.derived = Derived()
        self._seen_version = self._data_version()
        self._seen_generation = self.generation()

    # ---- other processes ----------------------------------------------------------------

    def _data_version(self) -> int:
        """SQLite's counter of commits by other connections (this one's own commits leave it); on
        PostgreSQL none (0): every look reads the generation itself."""
        if self.backend == "postgresql":
            return 0
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def generation(self) -> str | None:
        """The data's version: bumped by every transaction that changes data, in any process (not by the
        learner's bookkeeping, tokens or saved definitions), see `transaction(data=...)`. What is derived
        from the data (`derived.derived`) is valid for one generation."""
        try:
            return self.get_meta("generation")
        except (sqlite3.OperationalError, LookupError):  # a workspace still being made
            return None

    def refresh(self) -> bool:
        """True when another process (or connection) changed the data since the last look (its derived
        values are then rebuilt on next use, being of an older generation). A commit that only recorded
        learning (another developer's query on the team server) is no change."""
        version = self._data_version()
        if version == self._seen_version and self.backend == "sqlite":
            return False
        self._seen_version = version
        generation = self.generation()
        if generation == self._seen_generation:
            return False
        self._seen_generation = generation
        return True

    # ---- schema -------------------------------------------------------------------------

    def _migrate(self, upto: int) -> None:
        try:
            version = int(self.get_meta("schema_version") or 0) if "meta" in self.db.table_names() else 0
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{self.path / 'workspace.db'} is not a readable SQLite database ({exc})") from None
        if version > SCHEMA_VERSION:
            raise WorkspaceError(f"workspace {self.path} has schema version {version}, newer than this pilang"
                                 f" understands ({SCHEMA_VERSION}); upgrade pilang to open it")
        if version >= min(upto, SCHEMA_VERSION):
            return  # nothing to do: no write lock taken (many readers open a workspace at once)
        with self.transaction():  # read again under the write lock: two processes creating it at once
            tables = set(self.db.table_names())
            if tables and "meta" not in tables:
                raise WorkspaceError(f"{self.path / 'workspace.db'} is a SQLite file but not a pilang workspace"
                                     " (no meta table); use another --workspace directory")
            version = int(self.get_meta("schema_version") or 0) if "meta" in tables else 0
            if version > SCHEMA_VERSION:
                raise WorkspaceError(f"workspace {self.path} has schema version {version}, newer than this pilang"
                                     f" understands ({SCHEMA_VERSION}); upgrade pilang to open it")
            if version == 0:
                self.db["meta"].create({"key": str, "value": str}, pk="key")
                self.set_meta("salt", secrets.token_hex(16))
                self.set_meta("created", now_iso())
                self.set_meta("embed_model", DEFAULT_MODEL)
            for step in range(version, min(upto, SCHEMA_VERSION)):
                MIGRATIONS[step](self.db)
                self.set_meta("schema_version", str(step + 1))

    @property
    def schema_version(self) -> int:
        return int(self.get_meta("schema_version") or 0)

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        [key, value])

    @contextmanager
    def transaction(self, data: bool = True) -> Iterator[None]:
        """All writes inside commit together or not at all (an interrupted batch leaves no trace).
        `data=False` for writes no cache is computed from (the learner's records, tokens, saved
        definitions): other connections then keep their caches (see `refresh`)."""
        conn = self.db.conn
        if self.backend == "postgresql":  # data and bookkeeping each have a writer lock of their own
            conn.begin(data)
        else:
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            if data:
                conn.execute("INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key)"
                             " DO UPDATE SET value = CAST(meta.value AS INTEGER) + 1")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # ---- identities ---------------------------------------------------------------------

    def pseudonym(self, platform: str, raw_id: Any) -> str | None:
        """A stable pseudonym for a platform id; the raw id itself is never stored."""
        if raw_id is None or raw_id == "":
            return None
        digest = hmac.new(self._salt, f"{platform}:{raw_id}".encode(), hashlib.sha256).hexdigest()
        return "p-" + digest[:12]

    def source_id(self, kind: str, path: str, fmt: str) -> int:
        """The row of an ingested file (created on first sight)."""
        row = self.db.execute("SELECT id FROM sources WHERE kind = ? AND path = ?", [kind, path]).fetchone()
        stamp = now_iso()
        if row:
            self.db.execute("UPDATE sources SET last_ingested = ? WHERE id = ?", [stamp, row[0]])
            return row[0]
        cur = self.db.execute("INSERT INTO sources(kind, path, format, first_ingested, last_ingested)"
                              " VALUES (?, ?, ?, ?, ?)", [kind, path, fmt, stamp, stamp])
        return cur.lastrowid

    # ---- reads --------------------------------------------------------------------------

    def count(self, table: str, where: str = "", params: list[Any] | None = None) -> int:
        return self.db.execute(f"SELECT count(*) FROM {table} {where}", params or []).fetchone()[0]

    # ---- what the language asks of the data (so pilang/ writes no SQL) -------------------------

    def time_span(self) -> tuple[float | None, float | None]:
        """The first and last dated message's time (None, None when there is none)."""
        first, last = self.db.execute("SELECT min(time), max(time) FROM messages").fetchone()
        return first, last

    def persona_names(self, by: str = "name") -> list[str]:
        """The stored personas' names, by name or by size (largest first); nothing is fitted."""
        order = "size DESC" if by == "size" else "name"
        return [r[0] for r in self.db.execute(f"SELECT name FROM personas ORDER BY {order}")]

    def edit_message(self, source: str, external_id: str, text: str, edited: float | None) -> int | None:
        """A message edited on its platform: the new text replaces the old, which is kept in the message's
        meta `versions` (with when it was replaced); its vector leaves the index until the new text is
        embedded. The message's id, or None when it is not stored (or the text is unchanged)."""
        from .files import content_hash
        row = self.db.execute("SELECT id, text, meta FROM messages WHERE source = ? AND external_id = ?",
                              [source, external_id]).fetchone()
        if row is None or row[1] == text:
            return None
        meta = json.loads(row[2] or "{}")
        meta["versions"] = [*meta.get("versions", []), {"text": row[1], "replaced": edited}]
        meta["edited"] = edited
        with self.transaction():
            self.db.execute("UPDATE messages SET text = ?, content_hash = ?, meta = ? WHERE id = ?",
                            [text, content_hash(text), json.dumps(meta), row[0]])
        self.vector_index().forget([row[0]])
        return int(row[0])

    def delete_message(self, source: str, external_id: str, deleted: float | None) -> int | None:
        """A message deleted on its platform: kept (its time, author and thread still count) but marked
        deleted, its text and every earlier version removed, and its vector out of the index, so search
        never finds it. The message's id, or None when it is not stored or already deleted."""
        row = self.db.execute("SELECT id, meta FROM messages WHERE source = ? AND external_id = ?",
                              [source, external_id]).fetchone()
        if row is None:
            return None
        meta = json.loads(row[1] or "{}")
        if meta.get("deleted"):
            return None
        meta = {k: v for k, v in meta.items() if k != "versions"} | {"deleted": deleted}
        with self.transaction():
            self.db.execute("UPDATE messages SET text = '', content_hash = NULL, meta = ? WHERE id = ?",
                            [json.dumps(meta), row[0]])
        self.vector_index().forget([row[0]])
        return int(row[0])

    def vocabulary(self) -> dict[str, Any]:
        """The names a question about this workspace may use: its sources, channels, personas, dated
        changes (title, time, kind) and the span of its data (what plain-words questions resolve against)."""
        first, last = self.time_span()
        channels = [r[0] for r in self.db.execute(
            "SELECT DISTINCT json_extract(meta, '$.channel') FROM messages WHERE json_extract(meta, '$.channel')"
            " IS NOT NULL ORDER BY 1 LIMIT 200")]
        return {"sources": [r[0] for r in self.db.execute("SELECT DISTINCT source FROM messages ORDER BY 1")],
                "channels": channels, "personas": self.persona_names(),
                "changes": [{"title": r[0], "time": r[1], "kind": r[2]} for r in self.db.execute(
                    "SELECT title, time, kind FROM changes WHERE time IS NOT NULL ORDER BY time")],
                "first": first, "last": last}

    def has_players(self) -> bool:
        """Whether per-player data (telemetry or a player table) was ingested: churn can be asked."""
        return bool(self.count("telemetry") or self.count("player_facts"))

    def rows_in(self, sql: str, values: list[Any], before: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of `sql` whose `{marks}` stands for the placeholders of `values`, asked in chunks
        (SQLite caps the number of bound parameters); `before` binds the parameters ahead of them."""
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(values), 900):
            chunk = values[start:start + 900]
            out += self.db.execute(sql.format(marks=",".join("?" * len(chunk))), [*(before or []), *chunk]).fetchall()
        return out

    def messages_by_id(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Message rows keyed by id."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT id, source, external_id, author, time, thread, text, meta FROM messages"
                               f" WHERE id IN ({marks})", ids).fetchall()
        keys = ("id", "source", "external_id", "author", "time", "thread", "text", "meta")
        return {r[0]: dict(zip(keys, r)) for r in rows}

    def stats(self) -> dict[str, Any]:
        """Counts of everything in the workspace, by source where it has one."""
        by_source = dict(self.db.execute("SELECT source, count(*) FROM messages GROUP BY source ORDER BY source").fetchall())
        index = self.vector_index()
        size = int(index.load().ntotal)
        return {"workspace": str(self.path.resolve()), "schema": self.schema_version,
                "messages": sum(by_source.values()), "messages-by-source": by_source,
                "authors": self.count("authors"), "changes": self.count("changes"),
                "telemetry-events": self.count("telemetry"),
                "players-in-tables": self.db.execute("SELECT count(DISTINCT player) FROM player_facts").fetchone()[0],
                "graph-edges": self.count("edges"), "model": self.embed_model,
                "precision": self.embed_precision, "runs-as": self.runs_as(),
                "vectors": (vectors := self.count("vectors", "WHERE model = ?", [self.embed_model])),
                "index": {"kind": index.kind, "size": size},
                "vectors-note": f"{vectors:,} distinct texts embedded; the search index holds one entry per message"
                                f" ({size:,}): messages with the same text share one vector"}

    def sources(self) -> list[dict[str, Any]]:
        """One row per ingested file: kind, format, rows taken, when."""
        rows = self.db.execute(
            "SELECT s.id, s.kind, s.format, s.path, s.last_ingested,"
            " (SELECT count(*) FROM messages m WHERE m.source_ref = s.id)"
            " + (SELECT count(*) FROM changes c WHERE c.source_ref = s.id)"
            " + (SELECT count(*) FROM telemetry t WHERE t.source_ref = s.id) FROM sources s ORDER BY s.id").fetchall()
        return [{"id": r[0], "kind": r[1], "format": r[2], "path": r[3], "last-ingested": r[4], "rows": r[5]}
                for r in rows]

    def routes(self) -> list[dict[str, str]]:
        """The routing table, as rows."""
        return [{"type": r[0], "target": r[1], "handler": r[2], "origin": r[3], "updated": r[4]}
                for r in self.db.execute("SELECT type, target, handler, origin, updated FROM routes ORDER BY type, target")]

    def set_route(self, type_: str, target: str, handler: str, origin: str, replace: bool = True) -> None:
        """Route (type, target) to a handler; `replace=False` keeps an existing route."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self.transaction(data=False):  # routing is no data anything is derived from
            self.db.execute(f"{verb} INTO routes(type, target, handler, origin, updated) VALUES (?, ?, ?, ?, ?)",
                            [type_, target, handler, origin, now_iso()])

    def period(self, name: str) -> tuple[float | None, float | None, dict[str, Any]]:
        """A named period resolved against the data: last-week, last-month, last-patch, all."""
        last = self.db.execute("SELECT max(time) FROM messages").fetchone()[0]
        if name == "all" or last is None:
            return None, None, {}
        if name in ("last-week", "last-month"):
            days = 7 if name == "last-week" else 30
            return last - days * 86400, last + 1, {"latest_message": last}
        if name == "last-patch":
            row = self.db.execute("SELECT time, title FROM changes WHERE time IS NOT NULL AND time <= ?"
                                  " ORDER BY time DESC LIMIT 1", [last]).fetchone()
            if row is None:
                raise WorkspaceError("last-patch: the workspace has no dated changes (ingest patch notes)")
            return row[0], last + 1, {"patch": row[1], "patch_time": row[0]}
        raise WorkspaceError(f"unknown period {name!r} (known: last-week, last-month, last-patch, all)")

    @property
    def models_folder(self) -> Path:
        """Where the trained models' files are (the `models` table's paths are relative to it)."""
        return self.path / "models"

    @property
    def embed_name(self) -> str:
        """The workspace's embedding model (all-MiniLM-L6-v2, all-mpnet-base-v2)."""
        return self.get_meta("embed_model") or DEFAULT_MODEL

    @property
    def embed_precision(self) -> str:
        """The precision the workspace asks its embedder for: auto (the default), fp32, bf16 or int8."""
        return self.get_meta("embed_precision") or "auto"

    @property
    def embed_model(self) -> str:
        """The key of the workspace's vectors: the model's name (fp32, bf16 and fp16 vectors are
        interchangeable), or name/int8-CALIBRATION for int8, a model of its own."""
        from .inference import vectors_key
        if self.embed_precision != "int8":
            return self.embed_name
        return vectors_key(self.embed_name, "int8", (self.calibration() or {}).get("id"))

    def runs_as(self) -> str:
        """What the embedder computes in here, and on what: "bf16 on openvino", "fp32 on torch"."""
        from .embed import ModelUnavailable
        try:
            enc = self.embedder()
        except ModelUnavailable as exc:
            return f"unavailable: {exc}"
        return f"{enc.runs_as} on {enc.runtime}"

    def calibration(self) -> dict[str, Any] | None:
        """The int8 calibration sample of the workspace's model ({"id", "hashes"}), once drawn."""
        raw = self.get_meta(f"calibration:{self.embed_name}")
        return json.loads(raw) if raw else None

    def embedder(self) -> Any:
        """The workspace's embedder (engine.workspace.embed.Embedder) in its precision. For int8 the first
        call draws the calibration sample from the workspace's own texts and records it, so the same
        sample (and the same vectors) serve every later run."""
        from .embed import embedder
        from .inference import (
            CALIBRATION_TEXTS,
            MIN_CALIBRATION,
            TooFewTexts,
            calibration_id,
        )
        if self.embed_precision != "int8":
            return embedder(self.embed_name, self.embed_precision)
        cal = self.calibration()
        if cal is None:
            hashes = [r[0] for r in self.db.execute(
                "SELECT content_hash FROM messages GROUP BY content_hash ORDER BY content_hash LIMIT ?",
                [CALIBRATION_TEXTS])]
            if len(hashes) < MIN_CALIBRATION:
                raise TooFewTexts(f"int8 is calibrated on {MIN_CALIBRATION}+ of the workspace's own texts"
                                           f" and it has {len(hashes)}: ingest first, or use fp32")
            cal = {"id": calibration_id(hashes), "hashes": hashes}
            with self.transaction():
                self.set_meta(f"calibration:{self.embed_name}", json.dumps(cal))
        hashes = cal["hashes"]

        def texts() -> list[str]:
            found = dict(self.rows_in("SELECT content_hash, min(text) FROM messages WHERE content_hash IN ({marks})"
                                      " GROUP BY content_hash ORDER BY content_hash", hashes))
            return [found[h] for h in hashes if h in found]
        return embedder(self.embed_name, "int8", cal["id"], texts)

    def vector_index(self) -> Any:
        """The workspace's vector index, made on first use of this data: faiss (engine.workspace.vectors
        .VectorIndex), or on PostgreSQL pgvector's (engine.workspace.postgres.PgVectorIndex)."""
        from .derived import derived
        if self.backend == "postgresql":
            from .postgres import PgVectorIndex
            return derived(self, "vector-index", lambda: PgVectorIndex(self.db.conn, self.embed_model, self))
        from .vectors import VectorIndex
        return derived(self, "vector-index", lambda: VectorIndex(self))

    def close(self) -> None:
        self.db.conn.close()


def store_uri(store: str | None, path: Path) -> str | None:
    """The PostgreSQL store a workspace is in: `store`, else $PILANG_STORE, else None (SQLite in `path`).
    A `{name}` in it stands for a database named after the workspace folder (made when missing), so one
    server can hold a workspace per folder."""
    uri = store if store is not None else os.environ.get("PILANG_STORE") or None
    if not uri:
        return None
    if not uri.startswith(("postgresql://", "postgres://")):
        raise WorkspaceError(f"--store {uri!r}: a store is a postgresql://... URI (without one, the workspace is"
                             " SQLite in its folder)")
    if "{name}" in uri:
        from .postgres import create_database, database_name
        uri = create_database(uri, database_name(path))
    return uri


def exists(path: str | Path) -> bool:
    """Whether a workspace is there, checked without making one: its SQLite file, or, with a store
    ($PILANG_STORE), a pilang schema in that store's database."""
    uri = os.environ.get("PILANG_STORE")
    if not uri:
        return (Path(path) / "workspace.db").exists()
    from .postgres import holds_workspace
    return holds_workspace(uri, Path(path))


def default_path() -> Path:
    """--workspace, else $PILANG_WORKSPACE, else ./.pilang."""
    return Path(os.environ.get("PILANG_WORKSPACE") or DEFAULT_DIR)


def dumps(value: Any) -> str:
    """Compact JSON for meta columns."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
