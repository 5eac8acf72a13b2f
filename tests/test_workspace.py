"""The workspace end to end: ingestion (idempotent, transactional, pseudonymous), embeddings with a
content-hash cache, the faiss index, the player graph, search, schema versions, and the primitives."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pilang_engine.ingestion.pipeline as ingest_mod
import pytest
from pilang_engine.ingestion import formats as F
from pilang_engine.ingestion.pipeline import ingest, switch_model
from pilang_engine.workspace.graph import player_graph
from pilang_engine.workspace.dates import parse_date
from pilang_engine.workspace.search import search
from pilang_engine.workspace.store import SCHEMA_VERSION, Workspace, WorkspaceError

ROOT = Path(__file__).parent.parent
DEMO = ROOT / "examples" / "demo"
SAMPLE = Path(__file__).parent / "data" / "discord_sample.json"


def expected_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in ingest_mod.expand([DEMO]):
        for rec in F.detect(path).parse(path):
            counts[type(rec).__name__] = counts.get(type(rec).__name__, 0) + 1
    return counts


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("demo") / "ws")
    report = ingest(ws, [DEMO], progress=False)
    assert not report.errors
    return ws


def test_demo_ingest_takes_every_row(demo_ws: Workspace) -> None:
    want = expected_counts()
    assert demo_ws.count("messages") == want["Message"]
    assert demo_ws.count("changes") == want["Change"] == 5
    assert demo_ws.count("telemetry") == want["Event"]
    assert demo_ws.count("sources") == 7


def test_reingest_adds_nothing_and_embeds_nothing(demo_ws: Workspace) -> None:
    before = {t: demo_ws.count(t) for t in ("messages", "changes", "telemetry", "edges", "vectors", "authors")}
    report = ingest(demo_ws, [DEMO], progress=False)
    assert sum(report.taken.values()) == 0 and report.embedded == 0 and report.indexed == 0
    assert report.skipped["already in the workspace"] == before["messages"] + before["changes"] + before["telemetry"]
    assert {t: demo_ws.count(t) for t in before} == before


def test_embeddings_are_cached_by_content(demo_ws: Workspace) -> None:
    distinct = demo_ws.db.execute("SELECT count(DISTINCT content_hash) FROM"
                                  " (SELECT content_hash FROM messages UNION ALL SELECT content_hash FROM changes)").fetchone()[0]
    assert demo_ws.count("vectors", "WHERE model = ?", ["all-MiniLM-L6-v2"]) == distinct < demo_ws.count("messages")
    vec = demo_ws.db.execute("SELECT vector FROM vectors LIMIT 1").fetchone()[0]
    assert len(vec) == 384 * 4


def test_raw_platform_ids_are_never_stored(demo_ws: Workspace) -> None:
    truth = json.loads((DEMO.parent / "demo_truth.json").read_text())
    demo_ws.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blob = b"".join(p.read_bytes() for p in demo_ws.path.iterdir() if p.is_file())
    for player in truth["players"][:40]:
        for key in ("discord", "steam", "account"):
            assert player[key].encode() not in blob
    authors = [r[0] for r in demo_ws.db.execute("SELECT id FROM authors")]
    assert authors and all(re.fullmatch(r"p-[0-9a-f]{12}", a) for a in authors)


def test_player_graph_has_replies_mentions_and_threads(demo_ws: Workspace) -> None:
    kinds = dict(demo_ws.db.execute("SELECT kind, count(*) FROM edges GROUP BY kind").fetchall())
    assert kinds["reply"] > 50 and kinds["mention"] > 10 and kinds["thread"] > 100
    g = player_graph(demo_ws)
    assert g.number_of_nodes() > 100
    u, v, data = max(g.edges(data=True), key=lambda e: e[2]["weight"])
    assert data["weight"] > 1 and data["kinds"]


def test_search_finds_meaning_and_carries_evidence(demo_ws: Workspace) -> None:
    hits = search(demo_ws, "the rifle damage nerf ruined ranked", k=5)
    assert len(hits) == 5 and all("nerf" in h["text"] for h in hits)
    assert hits[0]["score"] >= hits[-1]["score"] > 0.5
    assert all(h["author"].startswith("p-") and h["time"] and h["source"] == "discord" for h in hits)


def test_search_filters_by_source_and_date(demo_ws: Workspace) -> None:
    steam = search(demo_ws, "recommended", k=10, source="steam")
    assert len(steam) == 10 and {h["source"] for h in steam} == {"steam"}
    late = search(demo_ws, "missions are too hard", k=20, since="2025-04-01")
    assert late and all(parse_date(h["time"]) >= parse_date("2025-04-01") for h in late)
    assert search(demo_ws, "anything", k=5, source="no-such-source") == []


def test_index_persists_and_reloads(demo_ws: Workspace) -> None:
    first = [h["id"] for h in search(demo_ws, "drop rates are terrible", k=5)]
    again = Workspace(demo_ws.path)
    assert again.vector_index().sync() == 0  # nothing to add: the saved index is complete
    assert [h["id"] for h in search(again, "drop rates are terrible", k=5)] == first
    assert again.stats()["index"] == {"kind": "flat", "size": demo_ws.count("messages")}


def test_an_interrupted_ingest_leaves_whole_batches_and_a_rerun_completes(tmp_path: Path, monkeypatch) -> None:
    ws = Workspace(tmp_path / "ws")
    source = DEMO / "discord" / "general.json"
    total = sum(1 for r in F.detect(source).parse(source) if isinstance(r, F.Message))
    assert total > ingest_mod.BATCH
    real = ingest_mod._write_messages
    calls = []

    def dies_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            real(*args, **kwargs)  # the batch is written ... and then the process is interrupted
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_mod, "WRITERS", {**ingest_mod.WRITERS, F.Message: dies_on_second_batch})
    with pytest.raises(KeyboardInterrupt):
        ingest(ws, [source], progress=False)
    assert ws.count("messages") == ingest_mod.BATCH  # the interrupted batch left no trace
    monkeypatch.undo()
    report = ingest(ws, [source], progress=False)
    assert ws.count("messages") == total and report.taken["messages"] == total - ingest_mod.BATCH
    assert ws.db.execute("SELECT count(*) FROM (SELECT external_id FROM messages GROUP BY external_id"
                         " HAVING count(*) > 1)").fetchone()[0] == 0
    assert ws.vector_index().load().ntotal == total


def test_embedding_after_an_interrupted_embed_completes(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [SAMPLE], progress=False, embed=False)
    assert ws.count("vectors") == 0
    report = ingest(ws, [SAMPLE], progress=False)
    assert report.embedded == 3 and report.indexed == 3


def test_switching_the_model_reembeds_and_switching_back_uses_the_cache(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [SAMPLE], progress=False)
    assert switch_model(ws, "all-mpnet-base-v2") == 3
    assert ws.embed_model == "all-mpnet-base-v2"
    assert ws.vector_index().load().d == 768
    hits = search(ws, "the damage is lower after the hotfix", k=1)
    assert "damage" in hits[0]["text"]
    assert switch_model(ws, "all-MiniLM-L6-v2") == 0  # cached: nothing embedded twice
    assert ws.vector_index().load().d == 384


def test_schema_migrates_from_an_older_version(tmp_path: Path) -> None:
    old = Workspace(tmp_path / "ws", upto=1)
    assert old.schema_version == 1 and "telemetry" not in old.db.table_names()
    old.close()
    new = Workspace(tmp_path / "ws")
    assert new.schema_version == SCHEMA_VERSION
    assert {"telemetry", "edges", "vectors", "interactions", "feedback"} <= set(new.db.table_names())
    ingest(new, [SAMPLE], progress=False, embed=False)
    assert new.count("messages") == 3


def test_newer_or_foreign_databases_are_refused_with_a_reason(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "new")
    ws.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    ws.close()
    with pytest.raises(WorkspaceError, match="newer than this pilang"):
        Workspace(tmp_path / "new")
    (tmp_path / "foreign").mkdir()
    sqlite3.connect(tmp_path / "foreign" / "workspace.db").execute("CREATE TABLE t(x)").connection.commit()
    with pytest.raises(WorkspaceError, match="not a pilang workspace"):
        Workspace(tmp_path / "foreign")


def test_real_chat_builds_match_and_conversation_edges(shared_data, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    path = shared_data("dota2-ingame-chat-conda") / "CONDA_valid.csv"
    report = ingest(ws, [path], progress=False, embed=False)
    assert report.taken["messages"] == ws.count("messages") > 8900
    kinds = dict(ws.db.execute("SELECT kind, count(*) FROM edges GROUP BY kind").fetchall())
    assert kinds["match"] > 1000 and kinds["thread"] > 1000
    edges = ws.count("edges")
    ingest(ws, [path], progress=False, embed=False)
    assert ws.count("edges") == edges


def test_real_player_table_is_idempotent(shared_data, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    path = shared_data("cookie-cats-ab-retention") / "cookie_cats.csv"
    assert ingest(ws, [path], progress=False, embed=False).taken["player rows"] == 90189
    again = ingest(ws, [path], progress=False, embed=False)
    assert again.taken["player rows"] == 0 and again.skipped["already in the workspace"] == 90189


def test_bad_files_are_reported_and_good_ones_still_taken(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    bad = tmp_path / "mystery.csv"
    bad.write_text("a,b\n1,2\n")
    report = ingest(ws, [bad, SAMPLE, tmp_path / "missing.json"], progress=False, embed=False)
    assert report.taken["messages"] == 3
    assert any(str(bad) in e and "not a known format" in e for e in report.errors)
    assert any("missing.json: no such file" in e for e in report.errors)


# ---- from pilang --------------------------------------------------------------------------------

def test_primitives_search_stats_sources_and_ingest(demo_ws: Workspace, tmp_path: Path) -> None:
    from pilang.session import Session
    s = Session(workspace=demo_ws.path)
    table = s.eval_text("(search \"loot drops are bad\" :k 3 :source 'discord)")
    assert len(table) == 3 and s.eval_text("(get (first (search \"loot\" :k 1)) :source)") == "discord"
    assert "score" in s.eval_text("(write-string (search \"loot\" :k 2))")
    assert s.eval_text("(get (stats) :messages)") == demo_ws.count("messages")
    assert s.eval_text("(length (sources))") == 7
    fresh = Session(workspace=tmp_path / "other")
    report = fresh.eval_text(f'(ingest "{SAMPLE}")')
    assert fresh.eval_text("(get-in (stats) [:messages-by-source :discord])") == 3
    from pilang.datum import Keyword
    assert report[Keyword("taken")][Keyword("messages")] == 3


def test_search_errors_are_pilang_errors(tmp_path: Path) -> None:
    from pilang.errors import PilangError
    from pilang.session import Session
    s = Session(workspace=tmp_path / "ws")
    with pytest.raises(PilangError) as info:
        s.eval_text("(search 42)", "q.pil")
    assert info.value.kind == "type" and info.value.span.file == "q.pil"
    with pytest.raises(PilangError) as info:
        s.eval_text("(set-embedding-model \"no-such-model\")")
    assert info.value.kind == "engine" and "unknown embedding model" in info.value.message


def test_cli_ingest_reports_and_exits_nonzero_on_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("nothing,known\n1,2\n")
    run = [sys.executable, "-m", "pilang", "ingest", "--workspace", str(tmp_path / "ws")]
    result = subprocess.run(run + [str(SAMPLE)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "took 3 messages" in result.stdout and "skipped 1: empty text" in result.stdout
    result = subprocess.run(run + [str(bad)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and f"error: {bad}: not a known format" in result.stdout


def test_a_big_group_s_edges_are_counted_in_chunks_that_add_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel is read as a stream and its edges written every FLUSH_ROWS rows; the partial counts
    must add up to the counts of one pass over the whole channel."""
    from pilang_engine.workspace import graph
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [Path(__file__).parent.parent / "examples" / "demo" / "discord" / "help.json"], progress=False,
           embed=False)
    (thread,) = [r[0] for r in ws.db.execute("SELECT DISTINCT thread FROM messages")]

    def edges() -> list[tuple]:
        with ws.transaction():
            graph.update_edges(ws, {("thread", thread)})
        return sorted(ws.db.execute("SELECT src, dst, kind, weight FROM edges"))
    whole = edges()
    monkeypatch.setattr(graph, "FLUSH_ROWS", 50)
    monkeypatch.setattr(graph.edge_chunks, "__defaults__", (None, 50))
    assert ws.count("messages") > 50 * 5 and edges() == whole and len(whole) > 100
