"""Maps (Python dicts, written {:key value}) and keyed access shared with vectors and records."""
from __future__ import annotations

from typing import Any

from ..datum import Keyword, from_iter
from ..errors import PilangError, type_name
from ..registry import primitive


@primitive("hash-map")
def hash_map(*kvs: Any) -> dict[Any, Any]:
    """A map from alternating keys and values."""
    if len(kvs) % 2:
        raise PilangError("arity", "hash-map needs key-value pairs (an even number of arguments)")
    return dict(zip(kvs[::2], kvs[1::2]))


@primitive("get")
def get(coll: Any, key: Any, default: Any = None) -> Any:
    """Value at key in a map (or index in a vector), else default (nil)."""
    if isinstance(coll, dict):
        return coll.get(key, default)
    if isinstance(coll, (list, tuple, str)):
        return coll[key] if type(key) is int and -len(coll) <= key < len(coll) else default
    if coll is None:
        return default
    getter = getattr(coll, "__pilang_get__", None)  # engine records
    if getter is not None:
        return getter(key, default)
    raise PilangError("type", f"get needs a map or vector, got {type_name(type(coll).__name__)}")


@primitive("get-in")
def get_in(coll: Any, path: Any, default: Any = None) -> Any:
    """Follow a path of keys through nested maps and vectors."""
    from .lists import items
    for key in items(path):
        coll = get(coll, key, _MISSING)
        if coll is _MISSING:
            return default
    return coll


_MISSING = object()


@primitive("assoc-in")
def assoc_in(m: dict[Any, Any], path: Any, value: Any) -> dict[Any, Any]:
    """A copy of nested maps with the value at path replaced."""
    from .lists import items
    keys = list(items(path))
    if not keys:
        return value
    inner = m.get(keys[0]) if isinstance(m, dict) else None
    return put(m if m is not None else {}, keys[0], assoc_in(inner if isinstance(inner, dict) else {},
                                                            from_iter(keys[1:]), value))


@primitive("put")
def put(m: dict[Any, Any], *kvs: Any) -> dict[Any, Any]:
    """A copy of the map with keys set: (put m :a 1 :b 2)."""
    if len(kvs) % 2:
        raise PilangError("arity", "put needs key-value pairs after the map")
    out = dict(m) if m is not None else {}
    out.update(zip(kvs[::2], kvs[1::2]))
    return out


@primitive("dissoc")
def dissoc(m: dict[Any, Any], *keys: Any) -> dict[Any, Any]:
    """A copy of the map without the keys."""
    return {k: v for k, v in m.items() if k not in keys}


@primitive("keys")
def keys(m: dict[Any, Any]) -> Any:
    """The keys of a map, as a list."""
    return from_iter(list(m.keys()))


@primitive("vals")
def vals(m: dict[Any, Any]) -> Any:
    """The values of a map, as a list."""
    return from_iter(list(m.values()))


@primitive("contains?")
def contains(m: Any, key: Any) -> bool:
    """True if the map has the key (or the vector has the index)."""
    if isinstance(m, dict):
        return key in m
    return type(key) is int and 0 <= key < len(m)


@primitive("merge")
def merge(*maps: Any) -> dict[Any, Any]:
    """One map from several; later keys win."""
    out: dict[Any, Any] = {}
    for m in maps:
        if m is not None:
            out.update(m)
    return out


@primitive("map?")
def is_map(x: Any) -> bool:
    """True for maps."""
    return isinstance(x, dict)


@primitive("keyword?")
def is_keyword(x: Any) -> bool:
    """True for keywords such as :k."""
    return type(x) is Keyword


@primitive("keyword")
def keyword(name: Any) -> Keyword:
    """The keyword with this name (a string or symbol)."""
    return Keyword(name if isinstance(name, str) else name.name)
