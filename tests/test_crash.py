"""kill -9 anywhere: an ingest killed inside a batch's transaction, after an embedding chunk, in the
middle of the index save, or at a random moment, leaves a workspace that opens and answers; running
the same ingest again gives the rows and vectors of a run that was never killed. A model save killed
half-way leaves no model record pointing at a broken file."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.store import Workspace

from pilang.session import Session

ROOT = Path(__file__).parent.parent
DEMO = ROOT / "examples" / "demo"
# a chat thread with replies and mentions (its edges are owed until the end of the run), then part of the
# demo: reviews, tickets, patch notes and 5,189 telemetry events; nine batches in all
FILES = [Path(__file__).parent / "data" / "discord_sample.json", DEMO / "steam_reviews.json", DEMO / "tickets.csv",
         DEMO / "patches.json", DEMO / "telemetry.csv"]
INGEST = [sys.executable, "-m", "pilang", "ingest", *map(str, FILES)]


def contents(path: Path) -> dict[str, Any]:
    ws = Workspace(path)
    try:
        return {"messages": sorted(ws.db.execute("SELECT source, external_id, text, time FROM messages")),
                "authors": ws.db.execute("SELECT count(DISTINCT author) FROM messages").fetchone()[0],  # salted ids
                "changes": sorted(ws.db.execute("SELECT external_id, title FROM changes")),
                "events": sorted(ws.db.execute("SELECT source, external_id FROM telemetry")),
                "facts": ws.count("player_facts"), "edges": ws.count("edges"),
                "vectors": sorted(r[0] for r in ws.db.execute("SELECT hash FROM vectors")),
                "indexed": int(ws.vector_index().current().ntotal)}
    finally:
        ws.close()


def answers(path: Path) -> None:
    """The workspace opens and every kind of question still works on what it holds."""
    s = Session(workspace=str(path))
    stats = s.eval_text("(stats)", "<crash>")
    assert isinstance(stats, dict)
    if s.eval_text("(get (stats) :vectors)", "<crash>"):
        s.eval_text('(search "matchmaking is broken" :k 3)', "<crash>")
        s.eval_text("(query (type analytics) (target sentiment))", "<crash>")
    s.engine.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], float]:
    """What a run that was never killed leaves, and how long it took."""
    ws = tmp_path_factory.mktemp("reference") / "ws"
    started = time.monotonic()
    subprocess.run(INGEST, env={**os.environ, "PILANG_WORKSPACE": str(ws), "PILANG_PROGRESS": "off"},
                   capture_output=True, timeout=600, check=True)
    return contents(ws), time.monotonic() - started


KILLS = ["batch:3", "embed:1", "file-save:1", "random:0.5"]


@pytest.mark.parametrize("kill", KILLS)
def test_an_ingest_killed_anywhere_recovers_on_the_next_run(kill: str, tmp_path: Path,
                                                            reference: tuple[dict[str, Any], float]) -> None:
    ws = tmp_path / "ws"
    env = {**os.environ, "PILANG_WORKSPACE": str(ws), "PILANG_PROGRESS": "off"}
    point, _, arg = kill.partition(":")
    if point == "random":  # a moment drawn from the length of a whole run
        run = subprocess.Popen(INGEST, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(reference[1] * float(arg) * random.Random(kill).uniform(0.8, 1.2))
        run.send_signal(signal.SIGKILL)
        code = run.wait(60)
    else:
        code = subprocess.run(INGEST, env={**env, "PILANG_KILL_AT": kill}, capture_output=True, timeout=600).returncode
    assert code in (-signal.SIGKILL, 0)  # a random kill may come after the end
    answers(ws)
    again = subprocess.run(INGEST, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert contents(ws) == reference[0]


def test_a_model_save_killed_half_way_leaves_no_broken_model(demo_copy: Any) -> None:
    ws = demo_copy("crash-train")
    env = {**os.environ, "PILANG_WORKSPACE": str(ws), "PILANG_PROGRESS": "off", "PILANG_KILL_AT": "file-save"}
    done = subprocess.run([sys.executable, "-m", "pilang", "train", "gnn"], env=env, capture_output=True, timeout=900)
    assert done.returncode == -signal.SIGKILL
    opened = Workspace(ws)
    assert opened.count("models") == 0 and not list((ws / "models").glob("*.pt"))
    opened.close()
    answers(ws)
    assert not ingest(Workspace(ws), [DEMO / "tickets.csv"], progress=False).errors  # and it takes more work


def test_the_next_search_finds_what_a_killed_ingest_stored_without_a_rerun(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    env = {**os.environ, "PILANG_WORKSPACE": str(ws), "PILANG_PROGRESS": "off", "PILANG_KILL_AT": "batch:3"}
    assert subprocess.run(INGEST, env=env, capture_output=True, timeout=600).returncode == -signal.SIGKILL
    opened = Workspace(ws)
    stored = opened.count("messages")
    unembedded = opened.db.execute("SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM vectors v"
                                   " WHERE v.hash = m.content_hash)").fetchone()[0]
    opened.close()
    assert stored > 0 and unembedded > 0  # two whole batches kept, never embedded
    s = Session(workspace=str(ws))
    found = s.eval_text(f'(search "the queue" :k {stored})', "<crash>")
    assert len(list(found)) == stored  # every stored message is searchable, no re-run needed
    s.engine.close()
    opened = Workspace(ws)
    assert opened.vector_index().load().ntotal == stored  # and the index was saved so
    opened.close()
