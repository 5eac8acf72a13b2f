"""Analytics: one primitive, `analyze`, that the query evaluator's analytics handlers call."""
from __future__ import annotations

from typing import Any

from ..bridge import as_result, to_pilang, to_python
from ..errors import PilangError
from ..registry import session_primitive
from ..result import Result

ANALYTICS = ("volume", "sentiment", "anomalies", "forecast", "hodge", "topics", "drivers", "patterns", "forecast-fno")


def _analytic(name: str) -> Any:
    """The engine function behind an analytic's name (imported on first use)."""
    from pilang_engine.analytics import reports
    if name in ("volume", "sentiment", "anomalies", "forecast"):
        return getattr(reports, name)
    if name == "hodge":
        from pilang_engine.analytics.hodge import hodge
        return hodge
    if name == "topics":
        from pilang_engine.analytics.topics import topics
        return topics
    if name == "drivers":
        from pilang_engine.analytics.drivers import drivers
        return drivers
    if name == "patterns":
        from pilang_engine.analytics.patterns import patterns
        return patterns
    from pilang_engine.spectral.fno import forecast
    return forecast


@session_primitive("analyze")
def analyze(s: Any, target: Any, params: Any = None, handler: Any = None) -> Result:
    """Run one analytic (volume sentiment anomalies forecast hodge topics drivers patterns) on parameters."""
    name = to_python(target)
    if name not in ANALYTICS:
        raise PilangError("value", f"no analytic named {name} (known: {' '.join(ANALYTICS)})")
    args = {getattr(k, "name", k): to_python(v) for k, v in (params or {}).items()}
    return as_result(s.engine.guard(_analytic(name))(s.engine.workspace(), args), handler, f"analytics/{name}")


@session_primitive("sentiment-of")
def sentiment_of(s: Any, *texts: Any) -> Any:
    """The packaged game-text sentiment model's reading of strings: a map of :score (-1..1), :label (negative
    neutral positive), :probabilities, :language and :model per string; one string gives one map."""
    from pilang_engine.analytics.sentiment import sentiment_of as read
    if not texts or not all(isinstance(t, str) for t in texts):
        raise PilangError("type", "sentiment-of takes one or more strings")
    out = to_pilang(s.engine.guard(read)(list(texts)))
    return out[0] if len(texts) == 1 else out
