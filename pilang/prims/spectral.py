"""The spectral layer's models: train them, list them, read their NTK history, rank players at risk."""
from __future__ import annotations

import json
from typing import Any

from ..bridge import as_result, table, to_python
from ..errors import PilangError
from ..registry import session_primitive
from ..result import Result
from ..table import Table


@session_primitive("train")
def train(s: Any, name: Any, *, task: Any = None) -> Result:
    """(train 'gnn :task 'toxicity) or (train 'fno): train, score, save in the workspace; the
    FNO also routes forecast queries to itself where its backtest beats statsmodels."""
    from pilang_engine.spectral import fno, gnn
    which = to_python(name)
    if which not in ("gnn", "fno"):
        raise PilangError("value", f"no model named {which}; train 'gnn or 'fno")
    ws = s.engine.workspace()
    rec = s.engine.guard(gnn.train)(ws, to_python(task)) if which == "gnn" else s.engine.guard(fno.train)(ws)
    return as_result(model_summary(rec), None, f"train/{which}")


@session_primitive("models")
def models(s: Any) -> Table:
    """The trained models in the workspace: kind, when, held-out scores, the NTK verdict."""
    rows = [{"name": r[0], "kind": r[1], "trained": r[2], "ntk": json.loads(r[3])["verdict"]}
            for r in s.engine.workspace().db.execute("SELECT name, kind, trained, ntk FROM models ORDER BY name")]
    return table(rows, ["name", "kind", "trained", "ntk"], "models")


@session_primitive("ntk")
def ntk(s: Any, name: Any, *, task: Any = None) -> Result:
    """The NTK history recorded while a model trained: eigenvalues, distance from the initial
    kernel, effective rank per record, and the convergence verdict (plotted in notebooks)."""
    from pilang_engine.spectral import gnn, record
    which = to_python(name)
    key = f"gnn:{to_python(task) or gnn.task_for(s.engine.workspace())}" if which == "gnn" else which
    rec = record(s.engine.workspace(), key)
    if rec is None:
        raise PilangError("engine", f"no trained model {key}; run (train '{which}) first")
    records = rec["ntk"]["records"]
    rows = [{"epoch": r["epoch"], "loss": r["loss"], "top_eigenvalue": r["eigenvalues"][0], "trace": r["trace"],
             "effective_rank": r["effective_rank"], "distance_from_init": r["distance_from_init"],
             "change": r["change"]} for r in records]
    out = {"answer": f"NTK of {key} on a {rec['ntk']['probe']}-sample probe: {rec['ntk']['verdict']}",
           "rows": rows, "evidence": {"records": len(records), "seconds_per_record": rec["ntk"]["seconds_per_record"],
                                      "trained": rec["trained"]},
           "series": {"x": [r["epoch"] for r in records],
                      "distance from init": [r["distance_from_init"] for r in records],
                      "effective rank / 10": [r["effective_rank"] / 10 for r in records]}}
    return as_result(out, None, "ntk")


@session_primitive("risk")
def risk(s: Any, *, task: Any = None, handler: Any = None) -> Result:
    """Players most at risk (toxicity with CONDA labels, else disengagement) by the graph model,
    with its held-out AUC beside the same features without the graph."""
    from pilang_engine.spectral.gnn import risk as run
    return as_result(s.engine.guard(run)(s.engine.workspace(), to_python(task)), handler, "risk")


@session_primitive("model-trained?")
def is_trained(s: Any, name: Any) -> bool:
    """Whether a model of that name ('fno, or 'gnn for any task) is saved in the workspace."""
    which = to_python(name)
    return s.engine.workspace().db.execute("SELECT 1 FROM models WHERE name = ? OR name LIKE ?",
                                           [which, f"{which}:%"]).fetchone() is not None


def model_summary(rec: dict[str, Any]) -> dict[str, Any]:
    """A trained model's record as an answer: its held-out scores against the baseline, its NTK verdict."""
    scores = {k: v for k, v in rec["scores"].items() if k != "residuals_z"}
    if rec["name"].startswith("gnn"):
        from pilang_engine.evaluation.verdict import words
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
