"""The language as its own metalanguage: eval, macro expansion, definitions and documentation, which
act on the session's global environment."""
from __future__ import annotations

from typing import Any

from ..datum import Span, Symbol
from ..registry import session_primitive
from ..runtime import Macro


@session_primitive("eval")
def p_eval(s: Any, datum: Any) -> Any:
    """Evaluate a datum in the global environment."""
    span = getattr(datum, "span", None) or Span("<eval>", 1, 1, 1, 1)
    return s._eval_toplevel(datum, span)


@session_primitive("macroexpand-1")
def macroexpand_1(s: Any, form: Any) -> Any:
    """Expand the macro call at the head of form once (form itself if it is not one)."""
    return s.expand_1(form)[0]


@session_primitive("macroexpand")
def macroexpand(s: Any, form: Any) -> Any:
    """Expand the head of form until it is no longer a macro call."""
    expanded = True
    while expanded:
        form, expanded = s.expand_1(form)
    return form


@session_primitive("defined?")
def is_defined(s: Any, sym: Any) -> bool:
    """True if the symbol has a global definition."""
    return type(sym) is Symbol and sym.name in s.env


@session_primitive("doc")
def doc(s: Any, x: Any) -> Any:
    """The documentation of a procedure, primitive or macro (or of the name given as a symbol)."""
    if type(x) is Symbol:
        x = s.env.get(x.name)
    return x.doc if isinstance(x, Macro) else getattr(x, "__doc__", None)
