"""Scale-out: the Beam pipeline (DirectRunner) builds the same workspace as in-process ingestion."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.store import Workspace

beam = pytest.importorskip("apache_beam", reason="the beam extra is not installed (pip install 'pilang[beam]')")

COLUMNS = "source, external_id, author, time, thread, context, reply_to, mentions, text, content_hash, meta"


def twins(tmp_path: Path) -> tuple[Workspace, Path]:
    """A workspace and the path of a second one with the same pseudonym salt (rows comparable)."""
    a = Workspace(tmp_path / "in-process")
    b = Workspace(tmp_path / "beam")
    with b.transaction():
        b.set_meta("salt", a.get_meta("salt"))
    b.close()
    return a, tmp_path / "beam"


def test_directrunner_builds_the_same_workspace(shared_data: Any, tmp_path: Path) -> None:
    from pilang_engine.ingestion.beam import run
    # real reviews, and the demo's Discord threads for the graph stage
    demo = Path(__file__).parent.parent / "examples" / "demo" / "discord"
    paths = [shared_data("steam-reviews-warframe") / "review_230410.json", demo]
    a, b_path = twins(tmp_path)
    expected = ingest(a, paths, progress=False)
    report = run(b_path, paths)
    b = Workspace(b_path)
    assert report.taken == expected.taken and report.indexed == expected.indexed == a.count("messages")
    assert sorted(a.db.execute(f"SELECT {COLUMNS} FROM messages").fetchall()) == \
        sorted(b.db.execute(f"SELECT {COLUMNS} FROM messages").fetchall())
    va, vb = (dict(ws.db.execute("SELECT hash, vector FROM vectors").fetchall()) for ws in (a, b))
    assert va.keys() == vb.keys()
    cos = min(float(np.frombuffer(va[h], np.float32) @ np.frombuffer(vb[h], np.float32)) for h in va)
    # the same text batched with others: the same vector in fp32; in bf16 the batch moves its last digits
    # (within the 0.999 that makes bf16 and fp32 vectors interchangeable, tests/test_embedding.py)
    assert cos >= (0.999 if a.runs_as().startswith("bf16") else 0.99999), cos
    assert sorted(a.db.execute("SELECT src, dst, kind, grp, weight FROM edges").fetchall()) == \
        sorted(b.db.execute("SELECT src, dst, kind, grp, weight FROM edges").fetchall())
    again = run(b_path, paths)  # idempotent like the in-process ingest, and says why it took nothing
    assert again.taken == {} and again.skipped["already in the workspace"] == a.count("messages")
