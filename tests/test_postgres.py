"""The PostgreSQL + pgvector store against a real server (pgserver, started by the suite): a workspace
migrated there keeps every table's rows, its vectors searchable by cosine (exact and through HNSW),
its trained models' files; a second migration into the same database is refused; `pilang migrate`
prints the check as JSON."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pilang_engine.workspace.postgres import StoreError, connect, migrate, nearest, schema_version
from pilang_engine.workspace.store import SCHEMA_VERSION


def test_a_migrated_workspace_keeps_its_rows_vectors_and_search(demo_with_personas: Any, postgres_uri: str) -> None:
    import torch
    from pilang_engine.spectral import save
    ws = demo_with_personas("pg-migrate")
    # a trained model's weights, saved where the engine saves them: the copy takes the file too
    save(ws, "fno", "Fourier neural operator", {"w": torch.arange(6.0)}, {}, {}, {})
    report = migrate(ws, postgres_uri)
    assert report["model_files"] == 1
    assert report["ok"] and report["counts_match"] and not report["mismatched"]
    tables = report["tables"]
    assert tables["messages"] == ws.db.execute("SELECT count(*) FROM messages").fetchone()[0] > 1000
    assert tables["vectors"] > 100 and tables["personas"] >= 2
    assert report["search"]["sampled"] == 20 and report["search"]["overlap_exact"] >= 0.98
    assert report["search"]["recall_hnsw"] >= 0.9
    conn = connect(postgres_uri)
    try:
        assert schema_version(conn) == (SCHEMA_VERSION, 1)
        path = ws.db.execute("SELECT path FROM models WHERE name = 'fno'").fetchone()[0]
        assert conn.execute("SELECT data FROM model_files WHERE path = %s", [path]).fetchone()[0] == \
            (ws.models_folder / path).read_bytes()
        # a row as it was: the same text, time and author
        mid, text, when = ws.db.execute("SELECT id, text, time FROM messages ORDER BY id DESC LIMIT 1").fetchone()
        assert conn.execute("SELECT text, time FROM messages WHERE id = %s", [mid]).fetchone() == (text, when)
        # a vector as it was, and its own nearest neighbour through the index
        h, blob = ws.db.execute("SELECT hash, vector FROM vectors ORDER BY hash LIMIT 1").fetchone()
        stored = conn.execute("SELECT vector FROM vectors WHERE hash = %s", [h]).fetchone()[0]
        assert np.allclose(np.asarray(stored.to_numpy()), np.frombuffer(blob, np.float32))
        dim = len(np.frombuffer(blob, np.float32))
        assert nearest(conn, ws.embed_model, dim, np.frombuffer(blob, np.float32), 1)[0] == h
        plan = "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT hash FROM vectors WHERE model = %s ORDER BY vector::vector({dim}) <=> %s LIMIT 10",
            [ws.embed_model, np.frombuffer(blob, np.float32)]).fetchall())
        assert "vectors_hnsw_" in plan  # the search goes through the HNSW index
    finally:
        conn.close()
    with pytest.raises(StoreError, match="already holds a pilang workspace"):
        migrate(ws, postgres_uri)


def test_pilang_migrate_prints_the_check_and_hides_the_password(demo_copy: Any, postgres_uri: str) -> None:
    folder = demo_copy("pg-cli")
    done = subprocess.run([sys.executable, "-m", "pilang", "--json", "--workspace", str(folder), "migrate", "--to",
                           postgres_uri], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ok"] and out["counts_match"] and set(out) >= {"to", "schema", "tables", "search", "vector_models", "seconds"}
    bad = subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(folder), "migrate", "--to",
                          "postgresql://someone:hunter2@127.0.0.1:1/nowhere"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "cannot connect" in bad.stderr and "hunter2" not in bad.stderr + bad.stdout


def test_the_schema_mirrors_every_table_of_the_workspace(tmp_path: Path) -> None:
    from pilang_engine.workspace.postgres import ddl
    from pilang_engine.workspace.store import Workspace
    ws = Workspace(tmp_path / "ws")
    tables = [r[0] for r in ws.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    statements = ddl(ws.db)
    for table in tables:
        assert any(s.startswith(f'CREATE TABLE IF NOT EXISTS "{table}" (') for s in statements), table
    vectors = next(s for s in statements if s.startswith('CREATE TABLE IF NOT EXISTS "vectors"'))
    assert '"vector" vector' in vectors and 'PRIMARY KEY ("hash", "model")' in vectors
    assert any('CREATE UNIQUE INDEX IF NOT EXISTS' in s and '"messages"' in s for s in statements)


@pytest.fixture(scope="module")
def both(demo_copy: Any, postgres_database: Any) -> Any:
    """The demo workspace (one message deleted) and its copy in PostgreSQL: (workspace, {backend: index})."""
    from pilang_engine.workspace.postgres import PgVectorIndex
    from pilang_engine.workspace.store import Workspace
    ws = Workspace(demo_copy("pg-contract"))
    source, external = ws.db.execute("SELECT source, external_id FROM messages WHERE source = 'discord' LIMIT 1").fetchone()
    ws.delete_message(source, external, None)
    uri = postgres_database("contract")
    assert migrate(ws, uri)["ok"]
    conn = connect(uri)
    yield ws, {"sqlite+faiss": ws.vector_index(), "postgresql+pgvector": PgVectorIndex(conn, ws.embed_model)}
    conn.close()


BACKENDS = ["sqlite+faiss", "postgresql+pgvector"]


def _exact(ws: Any, q: np.ndarray, allowed: set[int] | None = None) -> tuple[list[int], list[float]]:
    """Message ids and cosines, best first, by numpy over every stored vector (the truth)."""
    rows = ws.db.execute("SELECT m.id, v.vector FROM messages m JOIN vectors v ON v.hash = m.content_hash AND v.model = ?"
                         " WHERE m.text != ''", [ws.embed_model]).fetchall()
    rows = [r for r in rows if allowed is None or r[0] in allowed]
    V = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
    s = V @ (q / np.linalg.norm(q)) / np.linalg.norm(V, axis=1)
    order = np.argsort(-s, kind="stable")
    return [rows[i][0] for i in order], [float(s[i]) for i in order]


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_finds_the_exact_nearest_messages_best_first(both: Any, backend: str) -> None:
    ws, index = both
    text = ws.db.execute("SELECT text FROM messages WHERE text != '' ORDER BY id LIMIT 1 OFFSET 200").fetchone()[0]
    q = ws.embedder().encode([text])[0]
    scores, ids = index[backend].search(q, 10)
    assert len(ids) == 10 and list(scores) == sorted(scores, reverse=True) and scores[0] > 0.99
    _, best = _exact(ws, q)
    # ties (one text said by several players) may come in either order: the scores are the truth's
    assert np.allclose(scores, best[:10], atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_filter_keeps_to_its_messages_and_a_deleted_message_is_never_found(both: Any, backend: str) -> None:
    ws, index = both
    allowed = np.array([r[0] for r in ws.db.execute("SELECT id FROM messages WHERE source = 'steam' AND text != ''")])
    q = ws.embedder().encode(["the servers keep crashing"])[0]
    scores, ids = index[backend].search(q, 5, allowed)
    assert len(ids) == 5 and set(ids.tolist()) <= set(allowed.tolist())
    assert np.allclose(scores, _exact(ws, q, set(allowed.tolist()))[1][:5], atol=1e-4)
    gone = ws.db.execute("SELECT id FROM messages WHERE text = '' LIMIT 1").fetchone()[0]
    assert gone not in index[backend].search(q, 10, np.array([gone]))[1].tolist()
