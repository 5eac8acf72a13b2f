"""The spectral layer: a Fourier neural operator over daily embedding grids, a Chebyshev spectral GNN
over the player graph, and the NTK tracker that watches both train. Models are saved in the workspace."""
from __future__ import annotations

import json
from typing import Any

from ..workspace.store import Workspace, WorkspaceError, dumps, now_iso


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
    folder = ws.models_folder
    folder.mkdir(exist_ok=True)
    path = folder / f"{name.replace(':', '-')}.pt"
    from ..workspace.files import atomic_file
    with atomic_file(path) as tmp:  # a crash mid-save leaves the previous model whole
        torch.save(state, tmp)
    with ws.transaction(data=False):  # a trained model's record: nothing derived is computed from it
        ws.db.execute("INSERT OR REPLACE INTO models(name, kind, trained, config, scores, ntk, path, data)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [name, kind, now_iso(), dumps(config), dumps(scores), dumps(ntk), path.name, dumps(data_stamp(ws))])
        if ws.backend == "postgresql":  # the weights in the store too: every machine on it reads them
            ws.db.execute("INSERT OR REPLACE INTO model_files(path, data) VALUES (?, ?)", [path.name, path.read_bytes()])


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
    file = ws.models_folder / rec["path"]
    if not file.exists() and ws.backend == "postgresql":  # trained on another machine: from the store
        row = ws.db.execute("SELECT data FROM model_files WHERE path = ?", [rec["path"]]).fetchone()
        if row is not None:
            from ..workspace.files import atomic_file
            ws.models_folder.mkdir(parents=True, exist_ok=True)
            with atomic_file(file) as tmp:
                tmp.write_bytes(bytes(row[0]))
    return torch.load(file, map_location=device(), weights_only=True)


def stale(ws: Workspace, rec: dict[str, Any]) -> str | None:
    """A note when the workspace changed since the model was trained, else None."""
    now = data_stamp(ws)
    if now == rec["data"]:
        return None
    return (f"trained on {rec['data']['messages']:,} messages; the workspace now has {now['messages']:,}"
            f" (retrain with (train '{rec['name'].split(':')[0]}))")


def trained(ws: Workspace) -> list[dict[str, Any]]:
    """The trained models in the workspace: name, kind, when, the NTK verdict."""
    return [{"name": r[0], "kind": r[1], "trained": r[2], "ntk": json.loads(r[3])["verdict"]}
            for r in ws.db.execute("SELECT name, kind, trained, ntk FROM models ORDER BY name")]


def is_trained(ws: Workspace, name: str) -> bool:
    """Whether a model of that name ('fno', or 'gnn' for any task) is saved in the workspace."""
    return ws.db.execute("SELECT 1 FROM models WHERE name = ? OR name LIKE ?", [name, f"{name}:%"]).fetchone() is not None


def ntk_answer(ws: Workspace, which: str, task: str | None = None) -> dict[str, Any]:
    """The NTK history recorded while a model trained, as an answer: eigenvalues, distance from the initial
    kernel and effective rank per record, and the convergence verdict (a series to plot)."""
    from .gnn import task_for
    key = f"gnn:{task or task_for(ws)}" if which == "gnn" else which
    rec = record(ws, key)
    if rec is None:
        raise WorkspaceError(f"no trained model {key}; run (train '{which}) first")
    records = rec["ntk"]["records"]
    rows = [{"epoch": r["epoch"], "loss": r["loss"], "top_eigenvalue": r["eigenvalues"][0], "trace": r["trace"],
             "effective_rank": r["effective_rank"], "distance_from_init": r["distance_from_init"],
             "change": r["change"]} for r in records]
    return {"answer": f"NTK of {key} on a {rec['ntk']['probe']}-sample probe: {rec['ntk']['verdict']}",
            "rows": rows, "evidence": {"records": len(records), "seconds_per_record": rec["ntk"]["seconds_per_record"],
                                       "trained": rec["trained"]},
            "series": {"x": [r["epoch"] for r in records],
                       "distance from init": [r["distance_from_init"] for r in records],
                       "effective rank / 10": [r["effective_rank"] / 10 for r in records]}}


def summary(rec: dict[str, Any]) -> dict[str, Any]:
    """A trained model's record as an answer: its held-out scores against the baseline, its NTK verdict."""
    scores = {k: v for k, v in rec["scores"].items() if k != "residuals_z"}
    if rec["name"].startswith("gnn"):
        from ..evaluation.verdict import words
        mlp = f"the same features without the graph ({scores['non_graph_mlp']['roc_auc']:.3f})"
        versus = scores.get("versus_baseline")  # the paired verdict: a point lead that is a tie says so
        answer = (f"{rec['name']}: held-out ROC-AUC {scores['gnn']['roc_auc']:.3f} (ChebConv K={scores['gnn']['k']}), "
                  + (words(versus, mlp) + ("" if versus["verdict"] == "ahead" else ", which answers") if versus
                     else f"vs {mlp}"))
    else:
        answer = "fno: " + "; ".join(f"{t} rolling-origin MAE {c['fno_mae']} vs ETS {c['ets_mae']}, seasonal naive"
                                     f" {c['seasonal_naive_mae']}, no change {c['no_change_mae']}"
                                     f" ({'the FNO answers' if scores['wins'][t] else 'a baseline answers'})"
                                     for t, c in scores["community"].items())
    return {"answer": answer, "evidence": {"trained": rec["trained"], "config": rec["config"],
                                           "ntk": rec["ntk"]["verdict"]}, "held_out": scores, "model": rec["kind"]}
