"""The spectral layer: a Fourier neural operator over daily embedding grids, a Chebyshev spectral GNN
over the player graph, and the NTK tracker that watches both train. Models are saved in the workspace."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..workspace.store import Workspace, dumps, now_iso


def device() -> str:
    """CUDA when the machine has it, else the CPU (CI never needs a GPU)."""
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def data_stamp(ws: Workspace) -> dict[str, int]:
    """What a model was trained on, to tell when the workspace has moved on since."""
    return {"messages": ws.count("messages"), "edges": ws.count("edges"), "changes": ws.count("changes")}


def save(ws: Workspace, name: str, kind: str, state: dict[str, Any], config: dict[str, Any],
         scores: dict[str, Any], ntk: dict[str, Any]) -> None:
    """Write a model's weights under the workspace's models/ and its record in the `models` table."""
    import torch
    folder = ws.path / "models"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name.replace(':', '-')}.pt"
    from ..workspace.files import atomic_file
    with atomic_file(path) as tmp:  # a crash mid-save leaves the previous model whole
        torch.save(state, tmp)
    with ws.transaction():
        ws.db.execute("INSERT OR REPLACE INTO models(name, kind, trained, config, scores, ntk, path, data)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [name, kind, now_iso(), dumps(config), dumps(scores), dumps(ntk), path.name, dumps(data_stamp(ws))])


def record(ws: Workspace, name: str) -> dict[str, Any] | None:
    """A saved model's record (config, scores, NTK history, what data it saw), or None."""
    row = ws.db.execute("SELECT name, kind, trained, config, scores, ntk, path, data FROM models WHERE name = ?",
                        [name]).fetchone()
    if row is None:
        return None
    return {"name": row[0], "kind": row[1], "trained": row[2], "config": json.loads(row[3]),
            "scores": json.loads(row[4]), "ntk": json.loads(row[5]), "path": row[6], "data": json.loads(row[7])}


def weights(ws: Workspace, rec: dict[str, Any]) -> dict[str, Any]:
    """The saved state of a model record, on this machine's device."""
    import torch
    return torch.load(Path(ws.path / "models" / rec["path"]), map_location=device(), weights_only=True)


def stale(ws: Workspace, rec: dict[str, Any]) -> str | None:
    """A note when the workspace changed since the model was trained, else None."""
    now = data_stamp(ws)
    if now == rec["data"]:
        return None
    return (f"trained on {rec['data']['messages']:,} messages; the workspace now has {now['messages']:,}"
            f" (retrain with (train '{rec['name'].split(':')[0]}))")
