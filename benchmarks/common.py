"""Workspaces the benchmarks share: simulated communities (with their truth) and the Warframe reviews."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pilang_engine.data.datasets import DatasetMissing, dataset
from pilang_engine.data.simulate import write_demo
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.personas import clusters as personas
from pilang_engine.workspace.store import Workspace


def simulated(tmp: Path, name: str, **options: Any) -> tuple[Workspace, dict[str, Any]]:
    """A simulated community written in its real formats and ingested; its truth beside it."""
    write_demo(tmp / name, **options)
    ws = Workspace(tmp / f"{name}-ws")
    ingest(ws, [tmp / name], progress=False)
    return ws, json.loads((tmp / f"{name}_truth.json").read_text())


def warframe(tmp: Path) -> Workspace | None:
    """The Warframe Steam reviews and patch notes ingested, personas found; None (said) when missing."""
    try:
        paths = [dataset("steam-reviews-warframe"), dataset("patch-notes-warframe")]
    except DatasetMissing as exc:
        print(f"warframe: skipped: {exc}")
        return None
    ws = Workspace(tmp / "wf")
    ingest(ws, paths, progress=False)
    personas.fit(ws)
    return ws
