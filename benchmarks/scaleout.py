"""Scale-out: the same input ingested in-process and through the Beam pipeline on the DirectRunner
(the model loaded beforehand for both), as texts embedded per second."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pilang_engine.data.datasets import DatasetMissing, dataset
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.embed import embedder
from pilang_engine.workspace.store import DEFAULT_MODEL, Workspace


def run(quick: bool = False) -> None:
    try:
        from pilang_engine.ingestion.beam import run as beam_run
    except ImportError as exc:
        print(f"skipped: {exc} (pip install 'pilang[beam]')")
        return
    try:
        paths = [dataset("dota2-ingame-chat-conda") / "CONDA_valid.csv"] if quick else \
            [dataset("steam-reviews-warframe"), dataset("dota2-ingame-chat-conda") / "CONDA_valid.csv"]
    except DatasetMissing as exc:
        print(f"skipped: {exc}")
        return
    embedder(DEFAULT_MODEL).encode(["warm the model up"])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        a = ingest(Workspace(Path(tmp) / "a"), paths, progress=False)
        local = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = beam_run(Path(tmp) / "b", paths)
        beam = time.perf_counter() - t0
    print(f"in-process: {a.embedded:,} texts in {local:.1f} s ({a.embedded / local:.0f} texts/s);"
          f" Beam DirectRunner: {b.embedded:,} texts in {beam:.1f} s ({b.embedded / beam:.0f} texts/s);"
          f" ratio {local / beam:.2f}")
