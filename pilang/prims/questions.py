"""Plain-words questions: `(ask "what are players upset about since the last patch?")` shows the query
the question means (pilang/ask.py), runs it and returns its answer; `:run #f` returns the translation
only. A developer who edits the shown query and runs the edit teaches the phrase (see pilang/learner.py)."""
from __future__ import annotations

import sys
from typing import Any

from ..bridge import to_pilang
from ..errors import PilangError
from ..registry import session_primitive


@session_primitive("ask")
def ask(s: Any, question: Any, *more: Any, run: Any = True, phrase: Any = False, handler: Any = None) -> Any:
    """The query a question in plain words means, shown, then run: its answer (`:run #f`: the translation,
    a map of query, confidence, intent, alternatives). `(ask 'persona "question")` is `ask-persona`."""
    if type(question) is not str:
        if more:  # the older form: a persona and its question
            return s.env["ask-persona"](question, *more, phrase=phrase, handler=handler)
        raise PilangError("type", "ask needs the question as a string: (ask \"what are players upset about?\")")
    from ..ask import show, translate_in
    from ..learner import developer
    t = s.engine.guard(translate_in)(s.engine.workspace(), question, developer())
    s.learner.asked(t)
    if not run or t.query is None:
        if t.query is None and run:
            raise PilangError("value", show(t).replace("; ", "", 1))
        return to_pilang({k: v for k, v in t.as_dict().items() if k != "slots"})
    print(show(t, color=sys.stdout.isatty()), file=sys.stdout)
    from ..reader import read
    value = None
    for form, span in read(t.query, "<ask>"):
        value = s._eval_toplevel(form, span)
    return value
