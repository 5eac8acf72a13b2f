"""Procedures, equality, errors."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..datum import Keyword, Pair, Span, Symbol, equal, from_iter
from ..errors import KINDS, PilangError, expect
from ..output.notation import display_string, write_string
from ..registry import primitive
from ..runtime import Macro, TailCall


@primitive("apply")
def apply(f: Callable[..., Any], *args: Any) -> TailCall:
    """Call f with the arguments, the last of which is a list (or vector) spread out."""
    from .lists import items
    # returned, not run: the caller runs it, so (apply f ...) in tail position is a tail call
    return TailCall(f, (*args[:-1], *items(args[-1])) if args else ())


@primitive("not")
def p_not(x: Any) -> bool:
    """True for #f and nil, false for everything else."""
    return x is False or x is None


@primitive("identity")
def identity(x: Any) -> Any:
    """x itself."""
    return x


@primitive("eq?")
def eq(a: Any, b: Any) -> bool:
    """Same object (symbols, keywords, nil, booleans, small integers)."""
    return a is b


@primitive("eqv?")
def eqv(a: Any, b: Any) -> bool:
    """Same object, or equal numbers of the same type."""
    return a is b or (type(a) is type(b) and type(a) in (int, float) and a == b)


@primitive("equal?")
def p_equal(a: Any, b: Any) -> bool:
    """Structural equality of lists, vectors, maps, strings and numbers."""
    return equal(a, b)


@primitive("boolean?")
def is_boolean(x: Any) -> bool:
    """True for #t and #f."""
    return type(x) is bool


@primitive("procedure?")
def is_procedure(x: Any) -> bool:
    """True for procedures and primitives."""
    return callable(x) and type(x) not in (Symbol, Keyword, Macro)


@primitive("nil?")
def is_nil(x: Any) -> bool:
    """True for nil."""
    return x is None


@primitive("error")
def error(message: Any, *irritants: Any) -> None:
    """Raise a user error with a message and the values it concerns."""
    text = display_string(message)
    if irritants:
        text += ": " + " ".join(write_string(x) for x in irritants)
    raise PilangError("user", text, data=Pair(message, None) if not irritants else None)


@primitive("fail")
def fail(kind: Any, message: Any, at: Any = None) -> None:
    """Raise an error of a kind (syntax, type, value, engine, ...) located at the form `at`
    (a list read from source: the caret goes under it; a list of forms spans them all)."""
    name = kind.name if type(kind) in (Symbol, Keyword) else str(kind)
    if name not in KINDS:
        raise PilangError("value", f"fail: unknown error kind {name} (known: {' '.join(KINDS)})")
    raise PilangError(name, display_string(message), _span_of(at))


def _span_of(at: Any) -> Any:
    """The source span of a form, or of a list of forms from the first to the last."""
    span = getattr(at, "span", None)
    if span is not None or type(at) is not Pair:
        return span
    spans = [getattr(p.car, "span", None) or getattr(p, "cspan", None) for p in _cells(at)]
    spans = [s for s in spans if s is not None]
    if not spans:
        return None
    first, last = spans[0], spans[-1]
    return Span(first.file, first.line, first.col, last.end_line, last.end_col)


def _cells(p: Any) -> list[Pair]:
    out = []
    while type(p) is Pair:
        out.append(p)
        p = p.cdr
    return out


@primitive("raise")
def p_raise(value: Any) -> None:
    """Raise any value as an error (a caught error object is raised again as it was)."""
    if isinstance(value, PilangError):
        raise value
    raise PilangError("user", f"raised {write_string(value)}", data=value)


@primitive("error?")
def is_error(x: Any) -> bool:
    """True for an error object given to a catch clause."""
    return isinstance(x, PilangError)


def _err(e: Any, who: str) -> PilangError:
    return expect(e, PilangError, who, "an error object")


@primitive("error-message")
def error_message(e: Any) -> str:
    """The message of a caught error."""
    return _err(e, "error-message").message


@primitive("error-kind")
def error_kind(e: Any) -> Symbol:
    """The kind of a caught error: syntax, unbound, type, arity, value, recursion, engine, user, io."""
    return Symbol(_err(e, "error-kind").kind)


@primitive("error-data")
def error_data(e: Any) -> Any:
    """The value given to raise, if any."""
    return _err(e, "error-data").data


@primitive("error-location")
def error_location(e: Any) -> Any:
    """Where the error happened: a list (file line column), or nil."""
    span = _err(e, "error-location").span
    return None if span is None else Pair(span.file, Pair(span.line, Pair(span.col, None)))


@primitive("list*")
def list_star(*xs: Any) -> Any:
    """Like list, but the last argument is the tail: (list* 1 2 '(3)) is (1 2 3)."""
    return from_iter(xs[:-1], xs[-1]) if xs else None
