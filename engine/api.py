"""The engine's door for the language (pilang/, the kernel, the server): what it can be asked, by name.

So far it holds the analyses: each name a query's `(target ...)` or `(analyze 'name ...)` can give, and the
engine function that answers it. The table is the one list of those names (the query evaluator reads it
through `(analysis-names)`, the analyze primitive looks functions up in it); the functions are imported on
first use, so naming them costs nothing at start-up. Each takes (workspace, parameters) and returns an
answer: {"answer", "evidence", "model"?, "held_out"?, "series"?, "rows"?}."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple


class Analysis(NamedTuple):
    module: str  # under pilang_engine
    function: str
    queried: bool = True  # a query target; False: reached by a handler only (the FNO's forecast)


ANALYSES: dict[str, Analysis] = {
    "volume": Analysis("analytics.reports", "volume"),
    "sentiment": Analysis("analytics.reports", "sentiment"),
    "anomalies": Analysis("analytics.reports", "anomalies"),
    "forecast": Analysis("analytics.reports", "forecast"),
    "hodge": Analysis("analytics.hodge", "hodge"),
    "topics": Analysis("analytics.topics", "topics"),
    "drivers": Analysis("analytics.drivers", "drivers"),
    "patterns": Analysis("analytics.patterns", "patterns"),
    "forecast-fno": Analysis("spectral.fno", "forecast", queried=False),
}


def analysis_names(queried: bool = True) -> list[str]:
    """The analyses' names, in the table's order: those a query may name (or every one)."""
    return [name for name, a in ANALYSES.items() if a.queried or not queried]


def analysis(name: str) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    """The engine function that answers an analysis (KeyError for an unknown name)."""
    a = ANALYSES[name]
    return getattr(importlib.import_module(f"{__package__}.{a.module}"), a.function)
