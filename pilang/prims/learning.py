"""The tetration learner's primitives: ratings, learned macros and aliases, the learning log, freezing,
and the two the query evaluator calls (choose-route, apply-aliases). Recording interactions is the
session's Learner (pilang/learner.py)."""
from __future__ import annotations

import sys
from typing import Any

from ..bridge import table
from ..datum import Keyword, Symbol
from ..errors import PilangError
from ..learner import from_tree, to_tree
from ..registry import session_primitive
from ..table import Table


@session_primitive("rate")
def rate(s: Any, *args: Any) -> Any:
    """(rate 4), (rate 4 "too vague"), (rate ID 2): rate your last query (or your interaction ID) 1-5,
    once."""
    from pilang_engine.api import rate as run
    ints = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
    comment = next((a for a in args if isinstance(a, str)), None)
    if not ints or len(ints) > 2:
        raise PilangError("arity", "rate takes a rating 1-5, optionally after an interaction id: (rate 4) (rate 17 2)")
    target, rating = (ints[0], ints[1]) if len(ints) == 2 else (None, ints[0])
    out = s.engine.guard(run)(s.engine.workspace(), s.learner.id, rating, comment, target, s.learner.candidates(),
                              developer=s.learner.developer)
    if target is None:
        s.learner.rated(rating)
    return {Keyword(k): v for k, v in out.items()}


@session_primitive("accept")
def accept(s: Any, name: Any) -> Symbol:
    """Install a macro the learner offered (see (learned-macros)); it is yours in every session."""
    from pilang_engine.api import accept_shape as run
    definition = s.engine.guard(run)(s.engine.workspace(), s.learner.developer, getattr(name, "name", name))
    s.eval_here(definition)
    return Symbol(getattr(name, "name", name))


@session_primitive("forget")
def forget(s: Any, name: Any) -> str:
    """Withdraw a learned macro or alias (yours, else the team's: on a team server only an admin
    withdraws the team's); (learning-log) shows it, undoable."""
    from pilang_engine.api import forget_shape as run
    text = s.engine.guard(run)(s.engine.workspace(), s.learner.developer, getattr(name, "name", name),
                               team=s.role == "admin")
    value = s.env.get(getattr(name, "name", name))
    if getattr(value, "name", None) == getattr(name, "name", name) and hasattr(value, "proc"):
        del s.env[getattr(name, "name", name)]
    return text


@session_primitive("learned-macros")
def learned_macros(s: Any) -> Table:
    """Every learned macro and alias: owner (* = the team), status, uses, definition, why."""
    from pilang_engine.api import shape_listing as listing
    return table(listing(s.engine.workspace()), ["name", "kind", "developer", "status", "uses", "definition", "reason"],
                 "learned macros and aliases")


@session_primitive("learning-log")
def learning_log(s: Any, limit: int = 30) -> Table:
    """What the learner changed, at which level, why, from which feedback; newest first."""
    from pilang_engine.api import learning_entries as entries
    return table(entries(s.engine.workspace(), int(limit)), ["id", "time", "level", "action", "subject", "reason", "feedback", "undone"],
                 "learning log ((undo-learning ID) reverses an entry)")


@session_primitive("undo-learning")
def undo_learning(s: Any, entry: int) -> str:
    """Reverse one learning-log entry (a route, a macro, an alias, a promotion, a parameter change)."""
    from pilang_engine.api import undo_learning as undo
    return s.engine.guard(undo)(s.engine.workspace(), int(entry))


@session_primitive("freeze-learning")
def freeze_learning(s: Any) -> bool:
    """Stop all learning: ratings are still kept, nothing is rewritten, routing does not explore."""
    from pilang_engine.api import freeze_learning as freeze
    freeze(s.engine.workspace(), True)
    return True


@session_primitive("unfreeze-learning")
def unfreeze_learning(s: Any) -> bool:
    """Let the learner learn again."""
    from pilang_engine.api import freeze_learning as freeze
    freeze(s.engine.workspace(), False)
    return False


@session_primitive("handler-scores")
def handler_scores(s: Any) -> Table:
    """L1's posterior for every (type, target, handler) that has been rated."""
    from pilang_engine.api import routing_scores as scores
    return table(scores(s.engine.workspace()), ["type", "target", "handler", "ratings", "mean_rating"], "handler scores (L1)")


@session_primitive("choose-route")
def choose_route(s: Any, type_: Any, target: Any, candidates: Any) -> Any:
    """The handler for a query: the route, or L1's choice among candidate handlers."""
    from pilang_engine.api import choose_route as choose
    routed = s.engine.route(type_.name, target.name)
    names = [c.name for c in (candidates or ())]
    if not names:
        return Symbol(routed) if routed else None
    return Symbol(choose(s.engine.workspace(), type_.name, target.name, names, routed, s.learner.rng)[0])


@session_primitive("apply-aliases")
def apply_aliases(s: Any, clauses: Any) -> Any:
    """The query's clauses with the developer's and the team's learned aliases applied."""
    from pilang_engine.api import active_shapes as active, rewrite
    tree, used = rewrite(s.engine.workspace(), s.learner.developer, to_tree(clauses))
    if not used:
        return clauses
    aliases = active(s.engine.workspace(), s.learner.developer, "alias")
    print("; read " + ", ".join(f"{name} as {aliases[name]}" for name in dict.fromkeys(used))
          + " (learned aliases; (forget 'NAME) withdraws one)", file=sys.stderr)
    s.learner.aliases_used += used
    return from_tree(tree)
