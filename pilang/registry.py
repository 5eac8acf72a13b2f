"""The primitive registry: the only way pilang reaches Python code (name, signature, docstring, callable)."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from .datum import Keyword
from .errors import PILANG_FILES, PilangError, pilang_name

PRIMITIVES: dict[str, Callable[..., Any]] = {}


def signature_of(fn: Callable[..., Any], name: str) -> str:
    """A pilang-style signature such as `(search text :k :source)` or `(f a b . rest)`."""
    parts = [name]
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_filename in PILANG_FILES:  # a compiled pilang procedure
        # its locals are named "x 1" (not identifiers, so inspect cannot read them)
        parts += [pilang_name(v) for v in code.co_varnames[:code.co_argcount]]
        if code.co_flags & inspect.CO_VARARGS:
            parts.append(". " + pilang_name(code.co_varnames[code.co_argcount]))
        return "(" + " ".join(parts) + ")"
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return f"({name} ...)"
    for p in params:
        pname = p.name.replace("_", "-")
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f". {pname}")
        elif p.kind is p.KEYWORD_ONLY:
            parts.append(f":{pname}")
        elif p.default is not p.empty:
            parts.append(f"[{pname}]")
        else:
            parts.append(pname)
    return "(" + " ".join(parts) + ")"


def _with_keywords(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Let pilang callers pass `:key value` pairs after the positional arguments."""
    keys = {p.name.replace("_", "-"): p.name for p in inspect.signature(fn).parameters.values()
            if p.kind is p.KEYWORD_ONLY}

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        for i, a in enumerate(args):
            if type(a) is Keyword and a.name in keys:
                break
        else:
            return fn(*args)
        rest = args[i:]
        if len(rest) % 2:
            raise PilangError("arity", f"{name}: keyword :{rest[-1].name if type(rest[-1]) is Keyword else '?'}"
                              " needs a value")
        kwargs = {}
        for k, v in zip(rest[::2], rest[1::2]):
            if type(k) is not Keyword or k.name not in keys:
                raise PilangError("arity", f"{name}: unknown keyword argument {k!r}; known: "
                                  + " ".join(":" + key for key in keys))
            kwargs[keys[k.name]] = v
        return fn(*args[:i], **kwargs)

    return wrapper


def primitive(name: str, registry: dict[str, Callable[..., Any]] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a Python callable as the pilang primitive `name`."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = fn
        try:
            kinds = [p.kind for p in inspect.signature(fn).parameters.values()]
        except (TypeError, ValueError):
            kinds = []
        if inspect.Parameter.KEYWORD_ONLY in kinds:
            wrapped = _with_keywords(fn, name)
        if not hasattr(wrapped, "__dict__"):  # a C builtin: wrap so it can carry pilang metadata
            wrapped = functools.wraps(fn)(lambda *a: fn(*a))
        wrapped.__pilang_primitive__ = True
        wrapped.__pilang_signature__ = signature_of(fn, name)
        wrapped.__name__ = name
        (PRIMITIVES if registry is None else registry)[name] = wrapped
        return fn

    return register
