"""Analytics: one primitive, `analyze`, that the query evaluator's analytics handlers call."""
from __future__ import annotations

from typing import Any

from ..bridge import as_result, to_pilang, to_python
from ..datum import Symbol, from_iter
from ..errors import PilangError
from ..registry import primitive, session_primitive
from ..result import Result


@primitive("analysis-names")
def analysis_names() -> Any:
    """The analyses a query's (target ...) may name, a list of symbols, from the engine's one table of them."""
    from pilang_engine.api import analysis_names as names
    return from_iter(Symbol(n) for n in names())


@session_primitive("analyze")
def analyze(s: Any, target: Any, params: Any = None, handler: Any = None) -> Result:
    """Run one analytic (volume sentiment anomalies forecast hodge topics drivers patterns) on parameters."""
    from pilang_engine.api import ANALYSES, analysis
    name = to_python(target)
    if name not in ANALYSES:
        raise PilangError("value", f"no analytic named {name} (known: {' '.join(ANALYSES)})")
    args = {getattr(k, "name", k): to_python(v) for k, v in (params or {}).items()}
    return as_result(s.engine.guard(analysis(name))(s.engine.workspace(), args), handler, f"analytics/{name}")


@session_primitive("sentiment-of")
def sentiment_of(s: Any, *texts: Any) -> Any:
    """The packaged game-text sentiment model's reading of strings: a map of :score (-1..1), :label (negative
    neutral positive), :probabilities, :language and :model per string; one string gives one map."""
    from pilang_engine.api import sentiment_of as read
    if not texts or not all(isinstance(t, str) for t in texts):
        raise PilangError("type", "sentiment-of takes one or more strings")
    out = to_pilang(s.engine.guard(read)(list(texts)))
    return out[0] if len(texts) == 1 else out


@session_primitive("topics-history")
def topics_history(s: Any, *, source: Any = None) -> Result:
    """The topics' family tree for a source (all sources without one): each topic's stable id, label, when
    it was first seen or born, whether it died or merged, and the dated births, merges and splits."""
    from pilang_engine.api import topics_history as run
    src = None if source is None else to_python(source)
    return as_result(s.engine.guard(run)(s.engine.workspace(), src), None, "topics-history")
