"""Personas and predictions: the personas found in the players, persona answers, predicted reactions
to a change, churn, and comparisons of personas, periods and changes."""
from __future__ import annotations

from typing import Any

from ..bridge import as_result, confidence_of, kebab, table, to_pilang, to_python
from ..datum import Symbol, from_iter
from ..errors import PilangError
from ..registry import session_primitive
from ..result import Result
from ..table import Table


@session_primitive("personas")
def personas(s: Any, *, refit: Any = False) -> Table:
    """The personas found in the players (fitted on first use; `:refit #t` clusters again)."""
    from pilang_engine.api import ensure_personas, fit_personas, persona_separation, personas_fitted
    ws = s.engine.workspace()
    found = s.engine.guard(fit_personas if refit else ensure_personas)(ws)
    info = personas_fitted(ws)
    rows = [{"id": p["id"], "name": Symbol(p["name"]), "players": p["size"],
             "messages": p["profile"]["messages"], "sentiment": p["profile"]["mean_sentiment"],
             "gone-quiet": p["profile"]["gone_quiet"], "terms": ", ".join(p["terms"][:6])} for p in found]
    quality = persona_separation(ws)
    return table(rows, ["id", "name", "players", "messages", "sentiment", "gone-quiet", "terms"],
                 f"{len(found)} personas from {info.get('players', 0):,} players (k={info.get('k')} by silhouette"
                 f" {quality['silhouette']} and stability {quality['stability']})"
                 + (f"; {quality['note']}" if quality["note"] else ""))


@session_primitive("persona")
def persona(s: Any, name: Any) -> dict[Any, Any]:
    """One persona: id, name, size, top terms, behaviour profile, representative quotes."""
    from pilang_engine.api import find_persona
    return to_pilang(kebab(s.engine.guard(find_persona)(s.engine.workspace(), to_python(name))))


@session_primitive("persona-names")
def persona_names(s: Any, *, fit: Any = False) -> Any:
    """The personas' names, a list of symbols (`:fit #t` finds personas first if there are none)."""
    if fit:
        from pilang_engine.api import ensure_personas
        return from_iter(Symbol(p["name"]) for p in s.engine.guard(ensure_personas)(s.engine.workspace()))
    return from_iter(Symbol(n) for n in s.engine.persona_names())


@session_primitive("ask-persona")
def ask_persona(s: Any, name: Any, question: Any, *, phrase: Any = False, handler: Any = None) -> Result:
    """A persona's answer to a question, in its voice, from its own messages (with quotes)."""
    from pilang_engine.api import ask as run
    if type(question) is not str:
        raise PilangError("type", "ask-persona needs the question as a string")
    out = s.engine.guard(run)(s.engine.workspace(), to_python(name), question, phrase=bool(phrase))
    return as_result(out, handler, "ask")


@session_primitive("predict-reaction")
def predict_reaction(s: Any, name: Any, change: Any, *, confidence: Any = 0.95, metric: Any = None,
                     handler: Any = None) -> Result:
    """Predicted satisfaction, engagement and churn shifts after a change, for one persona (or
    nil: the community and every persona), learned from past changes, with intervals; `:metric`
    (satisfaction, engagement or churn-risk) is the one the headline speaks of."""
    from pilang_engine.api import predict_reaction as run
    target = None if name is None else to_python(name)
    focus = None if metric is None else str(to_python(metric)).replace("-", "_")
    out = s.engine.guard(run)(s.engine.workspace(), to_python(change), target, confidence_of(confidence), focus)
    return as_result(out, handler, "predict-reaction")


@session_primitive("churn")
def churn(s: Any, *, source: Any = None, confidence: Any = 0.95, handler: Any = None) -> Result:
    """Churn: from a labelled player table (held-out AUC vs a logistic baseline, A/B effects),
    else from telemetry sequences (BehaviorLSTM)."""
    from pilang_engine.api import churn as run
    out = s.engine.guard(run)(s.engine.workspace(), to_python(source), confidence_of(confidence))
    return as_result(out, handler, "churn")


@session_primitive("compare-personas")
def compare_personas(s: Any, a: Any, b: Any, *, confidence: Any = 0.95, handler: Any = None) -> Result:
    """Two personas side by side, with the significant differences marked."""
    from pilang_engine.api import compare_personas as run
    return as_result(s.engine.guard(run)(s.engine.workspace(), to_python(a), to_python(b), confidence_of(confidence)),
                     handler, "compare-personas")


@session_primitive("compare-periods")
def compare_periods(s: Any, group: Any, first: Any, second: Any, *, confidence: Any = 0.95,
                    handler: Any = None) -> Result:
    """A persona (or community) in two time ranges, each [since until]."""
    from pilang_engine.api import compare_periods as run
    ranges = [to_python(r) for r in (first, second)]
    if not all(isinstance(r, list) and len(r) == 2 for r in ranges):
        raise PilangError("type", "compare-periods takes two ranges, each [since until]")
    return as_result(s.engine.guard(run)(s.engine.workspace(), to_python(group), tuple(ranges[0]), tuple(ranges[1]),
                                         confidence_of(confidence)), handler, "compare-periods")


@session_primitive("compare-changes")
def compare_changes(s: Any, a: Any, b: Any, *, persona: Any = None, confidence: Any = 0.95,
                    handler: Any = None) -> Result:
    """The predicted reactions to two changes side by side (per persona, or for one)."""
    from pilang_engine.api import compare_changes as run
    return as_result(s.engine.guard(run)(s.engine.workspace(), to_python(a), to_python(b), to_python(persona),
                                         confidence_of(confidence)), handler, "compare-changes")

