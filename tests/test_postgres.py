"""The PostgreSQL + pgvector store against a real server (pgserver, started by the suite): a workspace
migrated there keeps every table's rows, its vectors searchable by cosine (exact and through HNSW),
its trained models' files; a second migration into the same database is refused; `pilang migrate`
prints the check as JSON."""
from __future__ import annotations

import json
import socket
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
        with conn.transaction():
            conn.execute("SET LOCAL enable_sort = off")  # as nearest() asks: the index, never a sort
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


# ---- the engine on a PostgreSQL store -----------------------------------------------------------------

SAME_ANSWERS = """
(get (stats) :messages)
(map (lambda (h) (list (get h :id) (get h :score))) (search "the game crashes on login" :k 5))
(query (type analytics) (target sentiment) (parameters (context last-patch) (filters (source discord))))
(query (type analytics) (target anomalies))
(query (type persona-inquiry) (target casual-players) (parameters (question "How would they react to increased difficulty?")))
(query (type prediction) (target player-churn))
(query (type comparison) (target competitive-players) (parameters (versus casual-players)))
"""


def _answers(folder: Path, store: str | None) -> list[Any]:
    env = {k: v for k, v in __import__("os").environ.items() if k != "PILANG_STORE"}
    done = subprocess.run([sys.executable, "-m", "pilang", "--json", "--workspace", str(folder),
                           *(["--store", store] if store else []), "-e", f"(list {SAME_ANSWERS})"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _steady(x: Any) -> Any:
    """An answer without what differs run to run: the clock (timings, dates of fitting)."""
    if isinstance(x, dict):
        return {k: _steady(v) for k, v in x.items() if k not in ("seconds", "latency_ms", "fitted", "elapsed", "time_ms")}
    if isinstance(x, list):
        return [_steady(v) for v in x]
    return round(x, 4) if isinstance(x, float) else x


def test_the_engine_gives_the_same_answers_on_both_stores(demo_copy: Any, postgres_uri: str, tmp_path: Path) -> None:
    """The same workspace, embedded and migrated (the same salt, so the same pseudonyms): search, the
    persona, analytics and prediction queries answer the same from the PostgreSQL store."""
    from pilang_engine.workspace.store import Workspace
    folder = demo_copy("pg-same")
    ws = Workspace(folder)
    assert migrate(ws, postgres_uri)["ok"]
    ws.close()
    embedded = _answers(folder, None)
    kept = _answers(tmp_path / "cache", postgres_uri)
    assert embedded[0] == kept[0] == 2941
    for i, (a, b) in enumerate(zip(_steady(kept), _steady(embedded))):
        assert a == b, (i, json.dumps(a, sort_keys=True, indent=0)[:3000], json.dumps(b, sort_keys=True, indent=0)[:3000])
    pg = Workspace(tmp_path / "cache", store=postgres_uri)
    assert pg.backend == "postgresql" and not (tmp_path / "cache" / "workspace.db").exists()
    assert pg.db.execute("SELECT count(*) FROM personas").fetchone()[0] >= 2  # fitted there, by the queries
    pg.close()


def _ingest_into(store: str, folder: Path, files: list[Path]) -> subprocess.Popen:
    env = {k: v for k, v in __import__("os").environ.items() if k != "PILANG_STORE"}
    return subprocess.Popen([sys.executable, "-m", "pilang", "--json", "--workspace", str(folder), "--store", store,
                             "ingest", *map(str, files)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def test_two_ingests_at_once_into_one_store_lose_nothing_and_double_nothing(postgres_uri: str, tmp_path: Path) -> None:
    """Two processes (two machines' worth: each its own cache folder) ingest the same files into one
    store at once: every message once, every vector once, the graph whole; again, and nothing is taken."""
    from pilang_engine.workspace.store import Workspace
    data = Path(__file__).parent / "data"
    files = [data / "discord_sample.json", Path(__file__).parent.parent / "examples" / "demo" / "tickets.csv"]
    runs = [_ingest_into(postgres_uri, tmp_path / f"machine-{i}", files) for i in range(2)]
    outs = [r.communicate(timeout=600) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], [o[1] for o in outs]
    taken = [json.loads(o[0])["taken"] for o in outs]
    ws = Workspace(tmp_path / "reader", store=postgres_uri)
    messages = ws.db.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert sum(t.get("messages", 0) for t in taken) == messages > 0  # each message taken by exactly one
    assert ws.db.execute("SELECT count(*) FROM (SELECT source, external_id FROM messages GROUP BY source, external_id"
                         " HAVING count(*) > 1) d").fetchone()[0] == 0
    missing = ws.db.execute("SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE"
                            " v.hash = m.content_hash)").fetchone()[0]
    assert missing == 0
    again = _ingest_into(postgres_uri, tmp_path / "machine-0", files)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err and json.loads(out)["taken"].get("messages", 0) == 0
    assert ws.db.execute("SELECT count(*) FROM messages").fetchone()[0] == messages
    ws.close()


def test_an_older_store_is_brought_up_to_this_schema(postgres_uri: str, tmp_path: Path) -> None:
    from pilang_engine.workspace.store import Workspace
    ws = Workspace(tmp_path / "a", store=postgres_uri)
    ws.close()
    conn = connect(postgres_uri)
    conn.execute("DROP TABLE crashes")  # what schema step 14 added
    conn.execute("ALTER TABLE interactions DROP COLUMN learned_used")  # a column step 8 added
    conn.execute("UPDATE pilang_schema SET sqlite_version = 13")
    conn.close()
    ws = Workspace(tmp_path / "b", store=postgres_uri)
    assert ws.schema_version == SCHEMA_VERSION
    assert ws.db.execute("SELECT count(*) FROM crashes").fetchone()[0] == 0
    assert ws.db.execute("SELECT count(learned_used) FROM interactions").fetchone()[0] == 0
    ws.close()
    conn = connect(postgres_uri)
    conn.execute("UPDATE pilang_schema SET sqlite_version = %s", [SCHEMA_VERSION + 1])
    conn.close()
    with pytest.raises(StoreError, match="newer than this pilang"):
        Workspace(tmp_path / "c", store=postgres_uri)


def test_server_replicas_share_each_developers_session_through_the_store(postgres_uri: str, tmp_path: Path) -> None:
    """`pilang serve --workers 2` on one store: a definition made on one replica is there on the other,
    and forgetting the environment on one forgets it on both."""
    import os

    import httpx
    from pilang_engine.workspace import access
    from pilang_engine.workspace.store import Workspace

    from pilang.server.client import wait_for
    ws = Workspace(tmp_path / "ws", store=postgres_uri)
    token = access.add_token(ws, "ana")
    ws.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "PILANG_STORE"}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "pilang", "serve", "--workspace", str(tmp_path / "ws"), "--store",
                             postgres_uri, "--port", str(port), "--workers", "2"], stdout=log, stderr=subprocess.STDOUT,
                            env=env)
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}

    def run(code: str) -> tuple[str, dict[str, Any]]:  # a new connection each time: any replica may take it
        r = httpx.post(f"{url}/v1/eval", json={"code": code}, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        return r.headers["x-pilang-process"], r.json()
    try:
        assert wait_for(url, 120), (tmp_path / "serve.log").read_text()
        defined_on, out = run("(define x 41)")
        assert out["ok"]
        seen: dict[str, list[Any]] = {}
        for _ in range(60):
            process, out = run("(+ x 1)")
            seen.setdefault(process, []).append(out["values"])
            if len(seen) == 2 and all(len(v) >= 2 for v in seen.values()):
                break
        assert len(seen) == 2, "every request landed on one replica"
        assert all(v == [[42]] * len(v) for v in seen.values()), seen  # x defined on one replica, used on both
        assert httpx.delete(f"{url}/v1/environment", headers=headers, timeout=60).json()["forgot"] == 1
        gone = [run("x") for _ in range(30)]
        assert all(not a["ok"] and a["error"]["kind"] == "unbound" for _, a in gone), gone
        assert {p for p, _ in gone} == set(seen)  # forgotten on both replicas
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_model_trained_on_one_machine_is_read_on_another(postgres_uri: str, tmp_path: Path) -> None:
    import torch
    from pilang_engine.spectral import record, save, weights
    from pilang_engine.workspace.store import Workspace
    here = Workspace(tmp_path / "machine-a", store=postgres_uri)
    save(here, "fno", "Fourier neural operator", {"w": torch.arange(6.0)}, {}, {}, {})
    here.close()
    there = Workspace(tmp_path / "machine-b", store=postgres_uri)  # its own cache folder: no file yet
    assert torch.equal(weights(there, record(there, "fno"))["w"], torch.arange(6.0))
    there.close()


def test_whether_a_workspace_is_there_is_asked_of_the_store(postgres_uri: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A session loads learned macros only where a workspace exists (never making one): on a store, the
    store is asked, not the folder (which holds no workspace.db)."""
    from pilang_engine.workspace.store import Workspace, exists
    monkeypatch.setenv("PILANG_STORE", postgres_uri)
    assert not exists(tmp_path / "ws")
    Workspace(tmp_path / "ws").close()
    assert exists(tmp_path / "elsewhere") and not (tmp_path / "ws" / "workspace.db").exists()
    import re
    monkeypatch.setenv("PILANG_STORE", re.sub(r"/t_[^?]*\?", "/{name}?", postgres_uri))  # a database per folder
    assert not exists(tmp_path / "other")  # its database not made yet, and not made by asking
    assert not exists(tmp_path / "other")
