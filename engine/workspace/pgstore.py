"""The PostgreSQL backend of the workspace store: a connection that takes the SQL the engine writes
(SQLite's dialect, `?` placeholders) and runs it on PostgreSQL + pgvector, so every engine module reads and
writes a `Workspace` the same way whichever store holds it (`--store postgresql://...`, `PILANG_STORE`).

What differs, and how it is met:
- the dialect: `?` -> `%s`; `INSERT OR REPLACE` / `OR IGNORE` -> `ON CONFLICT` on the table's primary key;
  `LIKE` -> `ILIKE` (SQLite's LIKE ignores ASCII case); `CAST(.. AS REAL)` -> double precision; SQLite's
  scalar `min(a, b)`, `max(a, b)` and `json_extract(doc, '$.key')` are SQL functions made with the schema
  (FUNCTIONS, in postgres.ddl);
- `lastrowid`: an INSERT into a table keyed by `id` returns it (`RETURNING id`);
- integer parameters are sent untyped, so PostgreSQL types them from where they stand (a number compared
  with a text column, as SQLite's affinity allows); numeric results come back as int or float, never Decimal;
- `vectors.vector` is a pgvector column: a float32 blob written there is sent as a vector, and a vector
  read back is the same float32 blob SQLite would give;
- transactions: SQLite's `BEGIN IMMEDIATE` takes its one write lock; here a data transaction takes a
  transaction-level advisory lock (one writer of data at a time, as before: idempotence by source id and
  cursors committed with their rows hold unchanged), while reads never wait (MVCC), and the learner's
  bookkeeping takes a second, separate lock;
- "has another process changed the data" (SQLite's `PRAGMA data_version`) is the `generation` meta row;
- an ingest's mark (a file lock in the workspace folder) is a session-level advisory lock, so ingests on
  several machines see each other.

The schema is created and upgraded from the SQLite one (engine.workspace.postgres.ddl), additively, and
versioned in `pilang_schema`."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np

DATA_LOCK, BOOKKEEPING_LOCK, SCHEMA_LOCK, INGEST_LOCK = 7_151_001, 7_151_002, 7_151_003, 7_151_004

FUNCTIONS = [  # made with the schema (postgres.ddl), not on every connection
    # SQLite's two-argument min and max (PostgreSQL's least and greatest)
    "CREATE OR REPLACE FUNCTION min(a double precision, b double precision) RETURNS double precision"
    " LANGUAGE sql IMMUTABLE AS 'SELECT least(a, b)'",
    "CREATE OR REPLACE FUNCTION max(a double precision, b double precision) RETURNS double precision"
    " LANGUAGE sql IMMUTABLE AS 'SELECT greatest(a, b)'",
    # json_extract(doc, '$.a.b'): the value as text (a JSON true as 1, false as 0, as SQLite gives them);
    # NULL for a missing key or a document that is not JSON
    "CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$"
    " DECLARE v jsonb; BEGIN"
    " IF doc IS NULL OR left(path, 2) <> '$.' THEN RETURN NULL; END IF;"
    " BEGIN v := doc::jsonb #> string_to_array(substr(path, 3), '.'); EXCEPTION WHEN others THEN RETURN NULL; END;"
    " IF v IS NULL OR jsonb_typeof(v) = 'null' THEN RETURN NULL; END IF;"
    " IF jsonb_typeof(v) = 'boolean' THEN RETURN CASE WHEN v::text = 'true' THEN '1' ELSE '0' END; END IF;"
    " IF jsonb_typeof(v) = 'string' THEN RETURN v #>> '{}'; END IF;"
    " RETURN v::text; END $$",
]


class Unsupported(Exception):
    """SQL the PostgreSQL store cannot run (SQLite's PRAGMAs): the caller asks the store instead."""


def _outside_quotes(sql: str) -> list[tuple[bool, str]]:
    """The statement cut into (is a quoted literal or identifier, text) pieces."""
    parts, i, start = [], 0, 0
    while i < len(sql):
        c = sql[i]
        if c in "'\"":
            if start < i:
                parts.append((False, sql[start:i]))
            j = i + 1
            while j < len(sql):
                if sql[j] == c:
                    if j + 1 < len(sql) and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            parts.append((True, sql[i:j + 1]))
            i = start = j + 1
            continue
        i += 1
    if start < len(sql):
        parts.append((False, sql[start:]))
    return parts


INSERT = re.compile(r"^\s*INSERT\s+(?:OR\s+(REPLACE|IGNORE)\s+)?INTO\s+\"?(\w+)\"?\s*\(([^)]*)\)", re.I)


@lru_cache(maxsize=2048)
def reads_vectors(pg: str) -> bool:
    """Whether a statement selects the vectors table's `vector` column (its rows are then read in
    PostgreSQL's binary form: parsing the text form of 384 floats costs 0.1 ms a row)."""
    head = re.match(r"\s*SELECT\s+(.*?)\s+FROM\s+(.*)", pg, re.I | re.S)
    return bool(head and re.search(r"(^|[\s,(.])vector\b", head.group(1)) and re.search(r"\bvectors\b", head.group(2)))


@lru_cache(maxsize=2048)
def translate(sql: str, keys: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]) -> tuple[str, str | None, int]:
    """(PostgreSQL statement, the column it returns as lastrowid or None, the parameter position of a
    vector written to `vectors.vector` or -1). `keys`: (table, primary key, columns) of every table."""
    pks = {t: (pk, cols) for t, pk, cols in keys}
    out = []
    for quoted, text in _outside_quotes(sql):
        if quoted:
            out.append(text.replace("%", "%%"))
            continue
        text = text.replace("%", "%%").replace("?", "%s")
        text = re.sub(r"\bNOT\s+LIKE\b", "NOT ILIKE", text, flags=re.I)
        text = re.sub(r"(?<!NOT )(?<!I)\bLIKE\b", "ILIKE", text, flags=re.I)
        text = re.sub(r"\bAS\s+REAL\s*\)", "AS double precision)", text, flags=re.I)
        text = re.sub(r"\btemp\.", "pg_temp.", text, flags=re.I)  # SQLite's temp schema
        text = re.sub(r"\b(WHERE|AND|OR)\s+1\b(?!\s*[-+*/=<>!%])", r"\1 TRUE", text, flags=re.I)  # SQLite's 1 as true
        out.append(text)
    pg = "".join(out)
    returning, vector_at = None, -1
    m = INSERT.match(pg)
    if m:
        verb, table, columns = m.group(1), m.group(2), [c.strip().strip('"') for c in m.group(3).split(",")]
        pg = pg[:m.start()] + f'INSERT INTO "{table}" ({", ".join(columns)})' + pg[m.end():]
        pk, all_columns = pks.get(table, ((), ()))
        if verb and verb.upper() == "IGNORE":
            pg += " ON CONFLICT DO NOTHING"
        elif verb and pk:
            rest = [c for c in all_columns if c not in pk and c != "rowid"]
            sets = ", ".join(f'"{c}" = EXCLUDED."{c}"' if c in columns else f'"{c}" = NULL' for c in rest)
            pg += f" ON CONFLICT ({', '.join(pk)}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")
        if pk == ("id",) and "id" not in columns and "RETURNING" not in pg.upper():
            pg += " RETURNING id"
            returning = "id"
        if table == "vectors" and "vector" in columns:
            vector_at = columns.index("vector")
    return pg, returning, vector_at


class Cursor:
    """What sqlite3's cursor gives the engine: rows (iterated or fetched), rowcount, lastrowid."""

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int, lastrowid: int | None,
                 description: Any = None) -> None:
        self._rows, self._at = rows, 0
        self.rowcount, self.lastrowid, self.description = rowcount, lastrowid, description

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        chunk = self._rows[self._at:self._at + size]
        self._at += len(chunk)
        return chunk

    def fetchall(self) -> list[tuple[Any, ...]]:
        rest = self._rows[self._at:]
        self._at = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while (row := self.fetchone()) is not None:
            yield row


class Connection:
    """A PostgreSQL connection speaking the engine's SQL (see the module's doc). Used from one thread at a
    time, as the SQLite connection is (a lock keeps two threads from interleaving statements)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.lock = threading.RLock()
        self._keys: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
        self.load_keys()

    def load_keys(self) -> None:
        """Every table's primary key and columns (what INSERT OR REPLACE rewrites to)."""
        rows = self.raw.execute(
            "SELECT c.table_name, c.column_name, c.ordinal_position,"
            " (SELECT k.ordinal_position FROM information_schema.key_column_usage k JOIN"
            " information_schema.table_constraints t ON t.constraint_name = k.constraint_name AND t.table_name = k.table_name"
            " AND t.constraint_type = 'PRIMARY KEY' AND t.table_schema = k.table_schema"
            " WHERE k.table_name = c.table_name AND k.column_name = c.column_name AND k.table_schema = c.table_schema)"
            " FROM information_schema.columns c WHERE c.table_schema = current_schema()"
            " ORDER BY c.table_name, c.ordinal_position").fetchall()
        tables: dict[str, tuple[list[tuple[int, str]], list[str]]] = {}
        for table, column, _, key_at in rows:
            pk, cols = tables.setdefault(table, ([], []))
            cols.append(column)
            if key_at is not None:
                pk.append((key_at, column))
        self._keys = tuple((t, tuple(c for _, c in sorted(pk)), tuple(cols)) for t, (pk, cols) in sorted(tables.items()))

    def _statement(self, sql: str) -> tuple[str, str | None, int]:
        head = sql.lstrip()[:20].upper()
        if head.startswith("PRAGMA"):
            raise Unsupported(f"PostgreSQL store: {sql.strip()[:60]} is SQLite's")
        return translate(sql, self._keys)

    def begin(self, data: bool = True) -> None:
        """A transaction holding the data's writer lock (or, `data=False`, the bookkeeping's) until it ends."""
        with self.lock:
            self.raw.execute("BEGIN")
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", [DATA_LOCK if data else BOOKKEEPING_LOCK])

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        head = sql.strip().upper()
        with self.lock:
            if head in ("COMMIT", "ROLLBACK"):  # (a transaction begins with `begin`: it takes a writer lock)
                self.raw.execute(head)
                return Cursor([], 0, None)
            pg, returning, vector_at = self._statement(sql)
            params = _vector_param(list(params or ()), vector_at)
            cur = self.raw.execute(pg, params, binary=reads_vectors(pg))
            rows = cur.fetchall() if cur.description is not None else []
            lastrowid = rows[0][0] if returning and rows else None
            if returning:
                rows = []
            if head.startswith(("CREATE", "DROP", "ALTER")):
                self.load_keys()
            return Cursor(rows, cur.rowcount, lastrowid, None if returning else cur.description)

    def executemany(self, sql: str, seq: Any) -> Cursor:
        with self.lock:
            pg, returning, vector_at = self._statement(sql)
            if returning:
                pg = pg[:-len(" RETURNING id")]
            rows = [_vector_param(list(p), vector_at) for p in seq]
            if not rows:
                return Cursor([], 0, None)
            with self.raw.cursor() as cur:
                cur.executemany(pg, rows)
                return Cursor([], cur.rowcount, None)

    def close(self) -> None:
        self.raw.close()


def _vector_param(params: list[Any], at: int) -> list[Any]:
    if 0 <= at < len(params) and isinstance(params[at], bytes | bytearray | memoryview):
        params[at] = np.frombuffer(params[at], np.float32)
    return params


class Database:
    """What the engine asks of `ws.db` (sqlite_utils.Database's execute, conn, table_names), on PostgreSQL."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, seq: Any) -> Cursor:
        return self.conn.executemany(sql, seq)

    def table_names(self) -> list[str]:
        return [t for t, _, _ in self.conn._keys]


def connect(uri: str) -> Connection:
    """An engine connection to the PostgreSQL store at `uri` (autocommit; BEGIN and COMMIT are the engine's)."""
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format

    from .postgres import connect as raw_connect

    raw = raw_connect(uri)

    class Untyped(Dumper):  # an integer sent as text of no type: PostgreSQL types it from its place
        oid = 0

        def dump(self, obj: Any) -> bytes:
            return repr(obj if not isinstance(obj, bool) else int(obj)).encode()

    class Number(Loader):  # numeric (sum of integers, avg) as int or float, as SQLite gives
        def load(self, data: Any) -> Any:
            text = bytes(data).decode()
            return int(text) if re.fullmatch(r"-?\d+", text) else float(text)

    class Blob(Loader):  # a pgvector read back as the float32 blob SQLite stores
        def load(self, data: Any) -> Any:
            text = bytes(data).decode()
            return np.array(text[1:-1].split(","), dtype=np.float32).tobytes() if len(text) > 2 else b""

    class BinaryBlob(Loader):  # its binary form: width (2 bytes), 2 unused, big-endian float32s
        format = Format.BINARY

        def load(self, data: Any) -> Any:
            return np.frombuffer(bytes(data), ">f4", offset=4).astype("<f4").tobytes()

    for kind in (int, bool):  # (a float stays float8: `? + id` is then no integer)
        raw.adapters.register_dumper(kind, Untyped)
    raw.adapters.register_loader("numeric", Number)
    info = raw.execute("SELECT oid FROM pg_type WHERE typname = 'vector'").fetchone()
    if info:
        raw.adapters.register_loader(info[0], Blob)
        raw.adapters.register_loader(info[0], BinaryBlob)
    return Connection(raw)


@contextmanager
def ingest_mark(conn: Connection, only: bool = False) -> Iterator[bool]:
    """This session marked as ingesting while the block runs (a shared advisory lock: ingests run side by
    side, on any machine, and the server drops it when the session ends, killed or not). `only`: just
    when no other session ingests now (an exclusive lock tried, then held shared); yields whether taken."""
    with conn.lock:
        if only:
            if not conn.raw.execute("SELECT pg_try_advisory_lock(%s)", [INGEST_LOCK]).fetchone()[0]:
                got = False
            else:
                conn.raw.execute("SELECT pg_advisory_lock_shared(%s)", [INGEST_LOCK])
                conn.raw.execute("SELECT pg_advisory_unlock(%s)", [INGEST_LOCK])
                got = True
        else:
            conn.raw.execute("SELECT pg_advisory_lock_shared(%s)", [INGEST_LOCK])
            got = True
    try:
        yield got
    finally:
        if got:
            with conn.lock:
                conn.raw.execute("SELECT pg_advisory_unlock_shared(%s)", [INGEST_LOCK])
