"""The spectral layer's models: train them, list them, read their NTK history, rank players at risk."""
from __future__ import annotations

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
    from pilang_engine.api import model_summary, train_fno, train_gnn
    which = to_python(name)
    if which not in ("gnn", "fno"):
        raise PilangError("value", f"no model named {which}; train 'gnn or 'fno")
    ws = s.engine.workspace()
    rec = s.engine.guard(train_gnn)(ws, to_python(task)) if which == "gnn" else s.engine.guard(train_fno)(ws)
    return as_result(model_summary(rec), None, f"train/{which}")


@session_primitive("models")
def models(s: Any) -> Table:
    """The trained models in the workspace: kind, when, held-out scores, the NTK verdict."""
    from pilang_engine.api import trained_models
    return table(trained_models(s.engine.workspace()), ["name", "kind", "trained", "ntk"], "models")


@session_primitive("ntk")
def ntk(s: Any, name: Any, *, task: Any = None) -> Result:
    """The NTK history recorded while a model trained: eigenvalues, distance from the initial
    kernel, effective rank per record, and the convergence verdict (plotted in notebooks)."""
    from pilang_engine.api import ntk_answer
    return as_result(s.engine.guard(ntk_answer)(s.engine.workspace(), to_python(name), to_python(task)), None, "ntk")


@session_primitive("risk")
def risk(s: Any, *, task: Any = None, handler: Any = None) -> Result:
    """Players most at risk (toxicity with CONDA labels, else disengagement) by the graph model,
    with its held-out AUC beside the same features without the graph."""
    from pilang_engine.api import risk as run
    return as_result(s.engine.guard(run)(s.engine.workspace(), to_python(task)), handler, "risk")


@session_primitive("model-trained?")
def is_trained(s: Any, name: Any) -> bool:
    """Whether a model of that name ('fno, or 'gnn for any task) is saved in the workspace."""
    from pilang_engine.api import is_trained as run
    return run(s.engine.workspace(), to_python(name))
