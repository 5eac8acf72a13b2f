"""The primitive registry: the only way pilang reaches Python code (name, signature, docstring, callable)."""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from .datum import Keyword
from .errors import PILANG_FILES, PilangError, pilang_name

PRIMITIVES: dict[str, Callable[..., Any]] = {}
# primitives that act on the session they run in (its workspace, learner, environment): declared at
# module level with the Session as their first parameter, bound to each session by `bind_session`
SESSION_PRIMITIVES: dict[str, Callable[..., Any]] = {}
# session primitive -> {parameter: "read" | "write"}: the arguments that name files, passed through the
# session's file policy (pilang/files.py) after conversion, whatever they were written as
PATHS: dict[str, dict[str, str]] = {}


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
    """Let pilang callers pass `:key value` pairs after the positional arguments (any key, when the
    function takes `**options`)."""
    params = inspect.signature(fn).parameters.values()
    keys = {p.name.replace("_", "-"): p.name for p in params if p.kind is p.KEYWORD_ONLY}
    open_ended = any(p.kind is p.VAR_KEYWORD for p in params)

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        for i, a in enumerate(args):
            if type(a) is Keyword and (a.name in keys or open_ended):
                break
        else:
            return fn(*args)
        rest = args[i:]
        if len(rest) % 2:
            raise PilangError("arity", f"{name}: keyword :{rest[-1].name if type(rest[-1]) is Keyword else '?'}"
                              " needs a value")
        kwargs = {}
        for k, v in zip(rest[::2], rest[1::2]):
            if type(k) is not Keyword or (k.name not in keys and not open_ended):
                raise PilangError("arity", f"{name}: unknown keyword argument {k!r}; known: "
                                  + " ".join(":" + key for key in keys))
            kwargs[keys.get(k.name, k.name)] = v
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
        if inspect.Parameter.KEYWORD_ONLY in kinds or inspect.Parameter.VAR_KEYWORD in kinds:
            wrapped = _with_keywords(fn, name)
        if not hasattr(wrapped, "__dict__"):  # a C builtin: wrap so it can carry pilang metadata
            wrapped = functools.wraps(fn)(lambda *a: fn(*a))
        wrapped.__pilang_primitive__ = True
        wrapped.__pilang_signature__ = signature_of(fn, name)
        wrapped.__name__ = name
        (PRIMITIVES if registry is None else registry)[name] = wrapped
        return fn

    return register


def session_primitive(name: str, paths: dict[str, str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(session, ...)` as the pilang primitive `name`, bound to each session that starts.
    `paths` names the parameters that are files, each "read" or "write" (a `*paths` parameter: each of
    its arguments); the session's file policy sees them before `fn` does."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        SESSION_PRIMITIVES[name] = fn
        if paths:
            params = inspect.signature(fn).parameters
            unknown = set(paths) - set(params)
            assert not unknown, f"{name}: no parameter {unknown}"
            PATHS[name] = dict(paths)
        return fn

    return register


def bind_session(env: dict[str, Any], session: Any) -> None:
    """Bind every session primitive to `session` in its global environment `env`."""
    for name, fn in SESSION_PRIMITIVES.items():
        primitive(name, env)(_bound(fn, session, name))


def _bound(fn: Callable[..., Any], first: Any, name: str) -> Callable[..., Any]:
    """fn with its first argument given (and its file arguments through the session's policy); its
    signature, docstring and home module kept."""
    sig = inspect.signature(fn)
    paths = PATHS.get(name)
    if paths is None:
        def bound(*args: Any, **kwargs: Any) -> Any:
            return fn(first, *args, **kwargs)
    else:
        def bound(*args: Any, **kwargs: Any) -> Any:
            try:
                call = sig.bind(first, *args, **kwargs)
            except TypeError:
                return fn(first, *args, **kwargs)  # the arity error, in the words Python gives it
            call.apply_defaults()  # a default file name too goes through the policy
            for param, mode in paths.items():
                value = call.arguments.get(param)
                if sig.parameters[param].kind is inspect.Parameter.VAR_POSITIONAL:  # each, a list flattened
                    checked = [first.files.check(v, mode, name) for v in value]
                    call.arguments[param] = tuple(p for c in checked for p in (c if isinstance(c, list) else [c]))
                elif value is not None:
                    call.arguments[param] = first.files.check(value, mode, name)
            return fn(*call.args, **call.kwargs)
    bound.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # type: ignore[attr-defined]
    bound.__doc__, bound.__module__, bound.__qualname__ = fn.__doc__, fn.__module__, fn.__qualname__
    bound.__pilang_source__ = fn  # type: ignore[attr-defined]  (where ,help says it is defined)
    return bound


def defined_in(fn: Callable[..., Any]) -> str:
    """`module.name` of the Python function behind a primitive (what ,help shows)."""
    inner = getattr(fn, "__pilang_source__", None) or getattr(fn, "__wrapped__", None) or fn
    return f"{getattr(inner, '__module__', '?')}.{getattr(inner, '__qualname__', getattr(inner, '__name__', '?'))}"
