"""Several processes on one workspace: a session sees another process's ingest without a restart, two
ingests at once both complete with nothing lost or doubled, and two processes may create a new
workspace at the same moment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.store import Workspace

ROOT = Path(__file__).parent.parent
DEMO = ROOT / "examples" / "demo"

SESSION = textwrap.dedent("""
    import sys
    from pilang.session import Session
    s = Session(workspace=sys.argv[1])
    for line in sys.stdin:
        value = s.eval_text(line, "<test>")
        print(repr(value), flush=True)
""")


def discord_file(path: Path, texts: list[str], first_id: int) -> Path:
    doc = {"guild": {"id": "1", "name": "g"}, "channel": {"id": "c1", "name": "general"},
           "messages": [{"id": str(first_id + i), "type": "Default", "timestamp": f"2025-04-0{1 + i % 9}T10:00:00+00:00",
                         "content": t, "author": {"id": f"u{i}", "name": f"user{i}"}} for i, t in enumerate(texts)]}
    path.write_text(json.dumps(doc))
    return path


def test_an_open_session_sees_an_ingest_made_by_another_process(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    first = discord_file(tmp_path / "first.json", ["the matchmaking queue takes forever", "loot drops feel fair"], 100)
    ingest(Workspace(ws_path), [first], progress=False)
    child = subprocess.Popen([sys.executable, "-c", SESSION, str(ws_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def ask(form: str) -> str:
            child.stdin.write(form + "\n")
            child.stdin.flush()
            return child.stdout.readline().strip()
        assert ask("(get (stats) :messages)") == "2"
        assert ask('(get (first (search "teleporter glitch through walls" :k 1)) :text)') != \
            "'the zebra teleporter glitches me through walls'"
        later = discord_file(tmp_path / "later.json", ["the zebra teleporter glitches me through walls"], 500)
        ingest(Workspace(ws_path), [later], progress=False)  # this process, while the session stays open
        assert ask("(get (stats) :messages)") == "3"
        assert ask('(get (first (search "teleporter glitch through walls" :k 1)) :text)') == \
            "'the zebra teleporter glitches me through walls'"  # the index was reloaded, not the old one kept
    finally:
        child.stdin.close()
        child.wait(60)
    assert child.returncode == 0, child.stderr.read()


INGEST = textwrap.dedent("""
    import sys
    from pilang_engine.ingestion.pipeline import ingest
    from pilang_engine.workspace.store import Workspace
    report = ingest(Workspace(sys.argv[1]), sys.argv[2:], progress=False)
    print(sorted(report.errors))
""")


def test_two_ingests_at_once_lose_nothing_and_double_nothing(tmp_path: Path) -> None:
    files_a = [DEMO / "tickets.csv", DEMO / "patches.json", DEMO / "steam_reviews.json"]
    files_b = [DEMO / "steam_reviews.json", DEMO / "tickets.csv", DEMO / "telemetry.csv"]
    together = tmp_path / "together"
    runs = [subprocess.Popen([sys.executable, "-c", INGEST, str(together), *map(str, files)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "PILANG_PROGRESS": "off"})
            for files in (files_a, files_b)]  # both create the new workspace at the same moment, too
    outs = [r.communicate(timeout=600) for r in runs]
    assert all(r.returncode == 0 for r in runs), [o[1][-2000:] for o in outs]
    assert all(o[0].strip() == "[]" for o in outs), outs
    alone = Workspace(tmp_path / "alone")
    ingest(alone, sorted(set(files_a) | set(files_b)), progress=False)
    shared = Workspace(together)

    def contents(ws: Workspace) -> dict[str, Any]:
        return {"messages": sorted(ws.db.execute("SELECT source, external_id, text FROM messages").fetchall()),
                "changes": sorted(ws.db.execute("SELECT external_id FROM changes").fetchall()),
                "events": ws.count("telemetry"),
                "vectors": sorted(r[0] for r in ws.db.execute("SELECT hash FROM vectors")),
                "indexed": ws.vector_index().current().ntotal}  # what a query searches
    assert contents(shared) == contents(alone)
    assert shared.db.execute("SELECT count(*) - count(DISTINCT source || external_id) FROM messages").fetchone()[0] == 0


def test_a_commit_that_only_records_learning_keeps_another_connections_caches(tmp_path: Path) -> None:
    from pilang_engine.learning.interactions import record
    from pilang_engine.workspace.derived import derived, peek
    ws_path = tmp_path / "ws"
    first = discord_file(tmp_path / "first.json", ["the matchmaking queue takes forever", "loot drops feel fair"], 100)
    ingest(Workspace(ws_path), [first], progress=False)
    reader, writer = Workspace(ws_path), Workspace(ws_path)
    index = reader.vector_index()
    derived(reader, "marker", lambda: 1)
    # another developer's query, recorded on the team server: no data changed
    record(writer, "s1", "bob", "(search \"x\")", ["L", ["S", "search"], ["T", "x"]], "(search \"x\")", None, "",
           1.0, None, "query", None, None, [])
    assert not reader.refresh()
    assert reader.vector_index() is index and peek(reader, "marker") == 1
    later = discord_file(tmp_path / "later.json", ["the zebra teleporter glitches me through walls"], 500)
    ingest(writer, [later], progress=False)  # data did change: every cache goes
    assert reader.refresh()
    assert reader.vector_index() is not index and peek(reader, "marker") is None


def test_workspaces_in_one_process_share_the_saved_index_and_copy_it_before_adding(tmp_path: Path) -> None:
    ws_path = tmp_path / "ws"
    first = discord_file(tmp_path / "first.json", ["the matchmaking queue takes forever", "loot drops feel fair"], 100)
    ingest(Workspace(ws_path), [first], progress=False)
    a, b = Workspace(ws_path), Workspace(ws_path)  # two developers' sessions on a team server
    shared = a.vector_index().current()
    held = b.vector_index()
    assert held.current() is shared and shared.ntotal == 2  # one copy in memory
    later = discord_file(tmp_path / "later.json", ["the zebra teleporter glitches me through walls"], 500)
    ingest(a, [later], progress=False)  # a adds a vector: to a copy of its own, then saves
    assert shared.ntotal == 2 and held.current() is shared  # what b holds is never changed under it
    assert b.refresh()
    fresh = b.vector_index().current()  # b's next look is at the new data's index
    assert fresh is not shared and fresh.ntotal == 3
    assert Workspace(ws_path).vector_index().current() is fresh  # the new save is the shared copy now
    import gc

    from pilang_engine.workspace import vectors
    a.close()
    b.close()
    del a, b, shared, fresh, held
    gc.collect()
    assert not [k for k in vectors._LOADED.keys() if k[0] == str((ws_path / "index.faiss").resolve())]  # freed
