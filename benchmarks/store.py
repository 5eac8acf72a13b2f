"""The two stores' vector search and writes, on this machine: the embedded one (SQLite rows + a faiss
index, the workspace's own rules: exact below 100k vectors, HNSW M=32 efSearch=128 above) and
PostgreSQL + pgvector (a real server started by pgserver; HNSW m=32 ef_construction=80 as faiss, ef_search as
faiss's; the search is `postgres.PgVectorIndex`'s, a join of vectors to messages). Synthetic unit
vectors of 384 dimensions in 1,000 clusters (what sentence embeddings of chat look like to an index):
rows written a second (SQLite: one transaction of inserts; PostgreSQL: binary COPY, as `pilang migrate`
writes), index build time, search p50 and recall@10 against exact search (numpy) over 200 queries
drawn as the data is. The full run takes about 20 minutes on 2 cores, most of it the two HNSW builds
at 1e6."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
import numpy as np

DIM = 384
QUERIES = 200
K = 10


def run(quick: bool = False) -> None:
    sizes = [5_000] if quick else [100_000, 1_000_000]
    for n in sizes:
        X, Q = _data(n)
        truth = _truth(X, Q)
        embedded(n, X, Q, truth)
        postgres(n, X, Q, truth)


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, DIM)).astype(np.float32)
    X = centres[rng.integers(1000, size=n)] + rng.normal(scale=0.6, size=(n, DIM)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    # queries drawn as the data is, none of them stored (a query next to a stored vector is too easy)
    Q = centres[rng.integers(1000, size=QUERIES)] + rng.normal(scale=0.6, size=(QUERIES, DIM)).astype(np.float32)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    return X, Q


def _truth(X: np.ndarray, Q: np.ndarray) -> list[set[int]]:
    out = []
    for start in range(0, len(Q), 50):
        S = Q[start:start + 50] @ X.T
        out += [set(np.argpartition(-s, K)[:K].tolist()) for s in S]
    return out


def _report(store: str, n: int, write_s: float, build_s: float, times: list[float], found: list[list[int]],
            truth: list[set[int]]) -> None:
    recall = float(np.mean([len(set(f) & t) / K for f, t in zip(found, truth)]))
    print(f"{store}, {n:,} vectors: written {n / write_s:,.0f} rows/s, index built in {build_s:.1f} s;"
          f" search p50 {np.percentile(times, 50) * 1000:.2f} ms, p95 {np.percentile(times, 95) * 1000:.2f} ms;"
          f" recall@{K} {recall:.3f} against exact")


def embedded(n: int, X: np.ndarray, Q: np.ndarray, truth: list[set[int]]) -> None:
    """SQLite (the vectors table's rows, one transaction) and faiss as VectorIndex builds it."""
    import sqlite3

    import faiss
    from pilang_engine.workspace.vectors import FLAT_LIMIT, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "w.db")
        db.execute("CREATE TABLE vectors (hash TEXT, model TEXT, vector BLOB, PRIMARY KEY (hash, model))")
        t = time.perf_counter()
        with db:
            db.executemany("INSERT INTO vectors VALUES (?, 'synthetic', ?)", ((f"h{i}", X[i].tobytes()) for i in range(n)))
        write = time.perf_counter() - t
        db.close()
    t = time.perf_counter()
    if n >= FLAT_LIMIT:
        index = faiss.IndexHNSWFlat(DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(DIM)
    index.add(X)
    build = time.perf_counter() - t
    times, found = [], []
    for q in Q:
        t = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), K)
        times.append(time.perf_counter() - t)
        found.append(ids[0].tolist())
    _report(f"sqlite+faiss ({'hnsw' if n >= FLAT_LIMIT else 'flat'})", n, write, build, times, found, truth)


def postgres(n: int, X: np.ndarray, Q: np.ndarray, truth: list[set[int]]) -> None:
    try:
        import pgserver
        import psycopg  # noqa: F401 (the driver the store needs)
    except ImportError as exc:
        print(f"postgresql+pgvector: skipped ({exc.name} is not installed: pip install 'pilang[postgres]' pgserver)")
        return
    import warnings

    from pilang_engine.workspace.postgres import HNSW, PgVectorIndex, connect
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # platformdirs, under pgserver
    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            conn = connect(server.get_uri())
            conn.execute("CREATE TABLE vectors (hash text, model text, vector vector, PRIMARY KEY (hash, model))")
            conn.execute("CREATE TABLE messages (id bigint PRIMARY KEY, content_hash text, text text)")
            t = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy("COPY vectors (hash, model, vector) FROM STDIN WITH (FORMAT BINARY)") as copy:
                    copy.set_types(["text", "text", "vector"])
                    for i in range(n):
                        copy.write_row((f"h{i}", "synthetic", X[i]))
                with cur.copy("COPY messages (id, content_hash, text) FROM STDIN") as copy:
                    for i in range(n):
                        copy.write_row((i, f"h{i}", "x"))
            conn.execute("CREATE INDEX ON messages (content_hash)")
            write = time.perf_counter() - t
            t = time.perf_counter()
            conn.execute(f"SET maintenance_work_mem = '{max(1, n // 300_000)}GB'")  # the graph built in memory
            conn.execute(f"CREATE INDEX vectors_hnsw_synthetic ON vectors USING hnsw ((vector::vector({DIM}))"
                         f" vector_cosine_ops) WITH (m = {HNSW['m']}, ef_construction = {HNSW['ef_construction']})"
                         " WHERE model = 'synthetic'")
            build = time.perf_counter() - t
            conn.execute("ANALYZE")
            index = PgVectorIndex(conn, "synthetic")
            times, found = [], []
            for q in Q:
                t = time.perf_counter()
                _, ids = index.search(q, K)
                times.append(time.perf_counter() - t)
                found.append(ids.tolist())
            _report(f"postgresql+pgvector ({index.kind})", n, write, build, times, found, truth)
            conn.close()
        finally:
            server.cleanup()
