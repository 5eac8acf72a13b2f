"""A workspace in PostgreSQL with pgvector: the schema (versioned), and `migrate`, which copies an embedded
workspace (SQLite + faiss, the default) there and checks the copy.

The PostgreSQL schema mirrors the SQLite one table for table (column types mapped: INTEGER -> bigint,
REAL -> double precision, BLOB -> bytea, TEXT -> text; the same primary keys and unique indexes), read
from the workspace's own schema at the SQLite schema version it mirrors, so the two never drift; it is
recorded in `pilang_schema` (the SQLite version mirrored, and this module's own steps). Two differences:
`vectors.vector` is a pgvector `vector` (no fixed width: a workspace may hold two models'), searched by
cosine through one HNSW index per model on a cast to that model's width (a partial index), and the
trained models' files (paths under the workspace folder) are kept in `model_files`.

What is not here yet: the engine reading and writing a PostgreSQL store directly (`--store`); today a
migrated copy is what a team's store will start from, checked row for row and by search."""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .store import SCHEMA_VERSION, Workspace, WorkspaceError

PG_STEPS = 1  # this module's own schema steps (1: the mirror, vectors as pgvector, model files)
BATCH = 5_000
SAMPLE = 20  # messages whose nearest neighbours are compared after a copy
K = 10
HNSW = {"m": 16, "ef_construction": 64}
EXACT_AGREEMENT = 0.98  # PostgreSQL's exact neighbours against numpy's (float rounding may swap a tie at the K-th)
TYPES = {"INTEGER": "bigint", "REAL": "double precision", "BLOB": "bytea", "TEXT": "text", "": "text"}


class StoreError(WorkspaceError):
    """The PostgreSQL store cannot be used (no driver, refused, or holding other data)."""


def connect(uri: str) -> Any:
    """A connection (autocommit) with pgvector's types registered; the extension is created if missing."""
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as exc:
        raise StoreError("PostgreSQL needs the postgres extra: pip install 'pilang[postgres]'") from exc
    try:
        conn = psycopg.connect(uri, autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to {_safe(uri)}: {str(exc).strip().splitlines()[0]}") from exc
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    return conn


def _safe(uri: str) -> str:
    """The URI without its password."""
    return re.sub(r"(//[^:/@]+):[^@]+@", r"\1:***@", uri)


def ddl(ws: Workspace) -> list[str]:
    """The PostgreSQL statements that create this workspace's schema (every table and unique index)."""
    out = []
    for (table,) in ws.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                                  " ORDER BY name").fetchall():
        cols = ws.db.execute(f'PRAGMA table_info("{table}")').fetchall()  # cid, name, type, notnull, default, pk
        defs = []
        for _, name, kind, notnull, _, _ in cols:
            pg = "vector" if (table, name) == ("vectors", "vector") else TYPES.get(kind.upper(), "text")
            defs.append(f'"{name}" {pg}' + (" NOT NULL" if notnull else ""))
        keys = [c[1] for c in sorted((c for c in cols if c[5]), key=lambda c: c[5])]
        if keys:
            defs.append("PRIMARY KEY (" + ", ".join(f'"{k}"' for k in keys) + ")")
        out.append(f'CREATE TABLE IF NOT EXISTS "{table}" ({", ".join(defs)})')
        for _, index, unique, _, _ in ws.db.execute(f'PRAGMA index_list("{table}")').fetchall():
            if index.startswith("sqlite_autoindex"):
                continue
            columns = [r[2] for r in ws.db.execute(f'PRAGMA index_info("{index}")').fetchall()]
            out.append(f'CREATE {"UNIQUE " if unique else ""}INDEX IF NOT EXISTS "{index}" ON "{table}"'
                       f' ({", ".join(chr(34) + c + chr(34) for c in columns)})')
    out.append('CREATE TABLE IF NOT EXISTS "model_files" ("path" text PRIMARY KEY, "data" bytea)')
    out.append('CREATE TABLE IF NOT EXISTS "pilang_schema" ("sqlite_version" bigint, "pg_steps" bigint, "migrated" text)')
    return out


def schema_version(conn: Any) -> tuple[int, int] | None:
    """(SQLite version mirrored, this module's steps) of the store, None when it has no pilang schema."""
    if conn.execute("SELECT to_regclass('pilang_schema')").fetchone()[0] is None:
        return None
    row = conn.execute("SELECT sqlite_version, pg_steps FROM pilang_schema").fetchone()
    return (int(row[0]), int(row[1])) if row else None


def _tables(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE"
                                        " 'sqlite_%' ORDER BY name").fetchall()]


def migrate(ws: Workspace, uri: str, say: Callable[[str], None] = lambda s: None, sample: int = SAMPLE
            ) -> dict[str, Any]:
    """Copy the workspace (every table's rows, the vectors, the trained models' files) into an empty
    PostgreSQL database at `uri`, index the vectors (HNSW, cosine, per model), and check the copy: the
    rows of every table counted on both sides, and for `sample` messages the K nearest by the workspace's
    own search (faiss) beside PostgreSQL's (exact, and through the HNSW index). Refuses a database that
    already holds a pilang workspace. Returns the report (see docs/json.md, `pilang migrate`)."""
    t0 = time.perf_counter()
    conn = connect(uri)
    try:
        if schema_version(conn) is not None:
            raise StoreError(f"{_safe(uri)} already holds a pilang workspace: migrate into an empty database")
        with conn.transaction():
            for statement in ddl(ws):
                conn.execute(statement)
            copied = {table: _copy(ws, conn, table, say) for table in _tables(ws)}
            files = _copy_files(ws, conn)
            conn.execute("INSERT INTO pilang_schema VALUES (%s, %s, %s)",
                         [SCHEMA_VERSION, PG_STEPS, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())])
        dims = _index(ws, conn, say)
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in copied}
        mismatched = {t: {"workspace": copied[t], "postgresql": counts[t]} for t in copied if copied[t] != counts[t]}
        search = _compare(ws, conn, dims, sample)
        return {"to": _safe(uri), "schema": {"sqlite_version": SCHEMA_VERSION, "pg_steps": PG_STEPS},
                "tables": copied, "model_files": files, "counts_match": not mismatched, "mismatched": mismatched,
                "vector_models": dims, "search": search, "seconds": round(time.perf_counter() - t0, 2),
                "ok": not mismatched and search["overlap_exact"] >= EXACT_AGREEMENT}
    finally:
        conn.close()


def _copy(ws: Workspace, conn: Any, table: str, say: Callable[[str], None]) -> int:
    """Every row of one table, by COPY in batches; returns how many."""
    cols = [r[1] for r in ws.db.execute(f'PRAGMA table_info("{table}")').fetchall()]
    names = ", ".join(f'"{c}"' for c in cols)
    vector_at = cols.index("vector") if table == "vectors" else -1
    n = 0
    cursor = ws.db.execute(f'SELECT {names} FROM "{table}"')
    # the vectors in binary (pgvector's text form costs 20x as much to write); the rest as text, which takes
    # whatever SQLite holds in a column (an integer in a REAL one)
    binary = " WITH (FORMAT BINARY)" if table == "vectors" and cols == ["hash", "model", "vector"] else ""
    with conn.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN{binary}') as copy:
        if binary:
            copy.set_types(["text", "text", "vector"])
        while rows := cursor.fetchmany(BATCH):
            for row in rows:
                if vector_at >= 0 and row[vector_at] is not None:
                    row = (*row[:vector_at], np.frombuffer(row[vector_at], np.float32), *row[vector_at + 1:])
                copy.write_row(row)
            n += len(rows)
    if n:
        say(f"{table}: {n:,} rows")
    return n


def _copy_files(ws: Workspace, conn: Any) -> int:
    """The trained models' files (paths in `models`, relative to the workspace's models folder)."""
    n = 0
    for (path,) in ws.db.execute("SELECT path FROM models WHERE path IS NOT NULL AND path != ''").fetchall():
        file = ws.models_folder / path
        if file.is_file():
            conn.execute("INSERT INTO model_files VALUES (%s, %s) ON CONFLICT (path) DO NOTHING", [path, file.read_bytes()])
            n += 1
    return n


def _index_name(model: str) -> str:
    return "vectors_hnsw_" + re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")


def _index(ws: Workspace, conn: Any, say: Callable[[str], None]) -> dict[str, int]:
    """One HNSW index (cosine) per embedding model, on the vectors cast to that model's width."""
    dims = {}
    for model, dim in conn.execute("SELECT model, vector_dims(vector) FROM vectors GROUP BY model, vector_dims(vector)"
                                   ).fetchall():
        dims[model] = int(dim)
        t = time.perf_counter()
        conn.execute(f'CREATE INDEX IF NOT EXISTS "{_index_name(model)}" ON vectors USING hnsw'
                     f" ((vector::vector({int(dim)})) vector_cosine_ops) WITH (m = {HNSW['m']},"
                     f" ef_construction = {HNSW['ef_construction']}) WHERE model = '{model.replace(chr(39), '')}'")
        say(f"HNSW index of {model}'s vectors in {time.perf_counter() - t:.1f} s")
    return dims


def nearest(conn: Any, model: str, dim: int, query: np.ndarray, k: int = K, exact: bool = False) -> list[str]:
    """The content hashes of the k vectors of `model` nearest to `query` by cosine: through the HNSW
    index, or `exact` (a scan: what the index approximates)."""
    with conn.transaction():
        if exact:
            conn.execute("SET LOCAL enable_indexscan = off")
        rows = conn.execute(f"SELECT hash FROM vectors WHERE model = %s ORDER BY vector::vector({int(dim)}) <=> %s"
                            f" LIMIT %s", [model, np.asarray(query, np.float32), k]).fetchall()
    return [r[0] for r in rows]


def _compare(ws: Workspace, conn: Any, dims: dict[str, int], sample: int) -> dict[str, Any]:
    """For a seeded sample of the stored vectors of the workspace's model, the K nearest by cosine
    computed exactly on the workspace's own vectors, beside PostgreSQL's exact answer (the copy: they
    must agree) and its HNSW answer (recall@K of the index)."""
    model = ws.embed_model
    rows = ws.db.execute("SELECT hash, vector FROM vectors WHERE model = ? ORDER BY hash", [model]).fetchall()
    if model not in dims or not rows:
        return {"model": model, "sampled": 0, "k": K, "overlap_exact": 1.0, "recall_hnsw": 1.0}
    hashes = [r[0] for r in rows]
    V = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
    V = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(0)
    exact, hnsw = [], []
    for i in rng.choice(len(rows), min(sample, len(rows)), replace=False).tolist():
        truth = {hashes[j] for j in np.argsort(-(V @ V[i]), kind="stable")[:K]}
        q = np.frombuffer(rows[i][1], np.float32)
        exact.append(len(truth & set(nearest(conn, model, dims[model], q, K, exact=True))) / len(truth))
        hnsw.append(len(truth & set(nearest(conn, model, dims[model], q, K))) / len(truth))
    return {"model": model, "sampled": len(exact), "k": K, "overlap_exact": round(float(np.mean(exact)), 4),
            "recall_hnsw": round(float(np.mean(hnsw)), 4)}


class PgVectorIndex:
    """Search over a PostgreSQL store's vectors, as `VectorIndex.search` answers over faiss: the top-k
    (scores, message ids) by cosine among messages not deleted, optionally only among `allowed` ids (the
    filter pushed into SQL). Exact (a scan) below FLAT_LIMIT vectors or with a filter (pgvector 0.6
    filters after its HNSW scan, which can return fewer than k), else through the model's HNSW index
    with ef_search as faiss's."""

    def __init__(self, conn: Any, model: str) -> None:
        self.conn, self.model = conn, model
        row = conn.execute("SELECT vector_dims(vector), count(*) FROM vectors WHERE model = %s"
                           " GROUP BY vector_dims(vector)", [model]).fetchone()
        self.dim, self.size = (int(row[0]), int(row[1])) if row else (0, 0)

    @property
    def kind(self) -> str:
        from .vectors import FLAT_LIMIT
        return "hnsw" if self.size >= FLAT_LIMIT else "flat"

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        from .vectors import HNSW_EF_SEARCH
        if not self.size or k <= 0 or (allowed is not None and allowed.size == 0):
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        q = np.asarray(query, np.float32)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        where, args = "", [self.model]
        if allowed is not None:
            where, args = " AND m.id = ANY(%s)", [self.model, np.asarray(allowed, np.int64).tolist()]
        with self.conn.transaction():
            if allowed is not None or self.kind == "flat":
                self.conn.execute("SET LOCAL enable_indexscan = off")
            else:
                self.conn.execute(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, k)}")
            rows = self.conn.execute(
                f"SELECT m.id, 1 - (v.vector::vector({self.dim}) <=> %s) FROM vectors v JOIN messages m"
                f" ON m.content_hash = v.hash WHERE v.model = %s AND m.text != ''{where}"
                f" ORDER BY v.vector::vector({self.dim}) <=> %s LIMIT %s", [q, *args, q, k]).fetchall()
        return np.array([r[1] for r in rows], np.float32), np.array([r[0] for r in rows], np.int64)
