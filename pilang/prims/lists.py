"""Lists (cons cells ending in nil) and vectors, and the sequence functions over both."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from .. import bounds
from ..datum import Pair, from_iter, is_list
from ..errors import PilangError, expect, type_name
from ..registry import primitive
from ..runtime import call

_NO_INIT = object()


def items(x: Any) -> Iterable[Any]:
    """The elements of any pilang collection: list, vector, map (as [key value]), string."""
    if x is None:
        return ()
    t = type(x)
    if t is Pair or isinstance(x, (list, tuple, str)):
        return x
    if isinstance(x, dict):
        return [[k, v] for k, v in x.items()]
    raise PilangError("type", f"expected a collection, got {type_name(t.__name__)}")


def like(template: Any, values: Iterable[Any]) -> Any:
    """A collection of the same kind as `template` (vector stays vector, else a list)."""
    return list(values) if isinstance(template, (list, tuple)) else from_iter(list(values))


def _pair(x: Any, who: str) -> Pair:
    return expect(x, Pair, who, "a non-empty list")


@primitive("list")
def p_list(*xs: Any) -> Any:
    """A new list of the arguments."""
    return from_iter(xs)


@primitive("cons")
def cons(a: Any, d: Any) -> Pair:
    """A pair with car a and cdr d; (cons x lst) puts x in front of lst."""
    return Pair(a, d)


@primitive("car")
def car(p: Any) -> Any:
    """First element of a non-empty list."""
    return _pair(p, "car").car


@primitive("cdr")
def cdr(p: Any) -> Any:
    """The list without its first element."""
    return _pair(p, "cdr").cdr


for _name, _path in {"caar": "aa", "cadr": "da", "cdar": "ad", "cddr": "dd", "caddr": "dda", "cdddr": "ddd"}.items():
    def _cxr(p: Any, _path: str = _path, _name: str = _name) -> Any:
        for step in _path:
            p = _pair(p, _name)
            p = p.car if step == "a" else p.cdr
        return p
    _cxr.__doc__ = f"({_name} x): composed car/cdr, read right to left."
    primitive(_name)(_cxr)


@primitive("first")
def first(xs: Any) -> Any:
    """First element of a list or vector, nil when empty."""
    for x in items(xs):
        return x
    return None


@primitive("rest")
def rest(xs: Any) -> Any:
    """All but the first element (a list for lists, a vector for vectors); nil when empty."""
    if xs is None or type(xs) is Pair:
        return xs.cdr if xs is not None else None
    return list(items(xs))[1:]


@primitive("second")
def second(xs: Any) -> Any:
    """Second element, or nil."""
    return nth(xs, 1, None)


@primitive("third")
def third(xs: Any) -> Any:
    """Third element, or nil."""
    return nth(xs, 2, None)


@primitive("nth")
def nth(xs: Any, i: int, default: Any = _NO_INIT) -> Any:
    """Element i (0-based) of a list, vector or string; `default` if given and out of range."""
    if type(xs) is Pair or xs is None:
        p = xs
        for _ in range(i):
            p = p.cdr if type(p) is Pair else None
        if type(p) is Pair and i >= 0:
            return p.car
    elif 0 <= i < len(xs):
        return xs[i]
    if default is _NO_INIT:
        raise PilangError("value", f"index {i} out of range for a collection of {length(xs)}")
    return default


@primitive("length")
def length(xs: Any) -> int:
    """Number of elements of a list, vector, map or string."""
    if type(xs) is Pair:
        n = 0
        while type(xs) is Pair:
            n += 1
            xs = xs.cdr
        return n
    if xs is None:
        return 0
    if isinstance(xs, (list, tuple, dict, str)):
        return len(xs)
    raise PilangError("type", f"length needs a collection, got {type_name(type(xs).__name__)}")


@primitive("append")
def append(*lists: Any) -> Any:
    """Concatenate lists (or vectors: the result has the first argument's kind)."""
    if not lists:
        return None
    if all(x is None or type(x) is Pair for x in lists):
        out: list[Any] = []
        for x in lists[:-1]:
            out.extend(items(x))
        return from_iter(out, lists[-1])
    return like(lists[0], [v for x in lists for v in items(x)])


@primitive("reverse")
def reverse(xs: Any) -> Any:
    """The elements in reverse order."""
    return like(xs, reversed(list(items(xs))))


@primitive("map")
def p_map(f: Callable[..., Any], xs: Any, *more: Any) -> Any:
    """Apply f to each element (or to parallel elements of several collections)."""
    if not more:
        return like(xs, [call(f, x) for x in items(xs)])
    return like(xs, [call(f, *args) for args in zip(items(xs), *map(items, more))])


@primitive("for-each")
def for_each(f: Callable[..., Any], xs: Any, *more: Any) -> None:
    """Call f on each element for its effect."""
    for args in zip(items(xs), *map(items, more)):
        call(f, *args)


@primitive("filter")
def p_filter(pred: Callable[..., Any], xs: Any) -> Any:
    """The elements for which pred is true."""
    return like(xs, [x for x in items(xs) if _true(call(pred, x))])


@primitive("remove")
def remove(pred: Callable[..., Any], xs: Any) -> Any:
    """The elements for which pred is false."""
    return like(xs, [x for x in items(xs) if not _true(call(pred, x))])


def _true(v: Any) -> bool:
    return v is not False and v is not None


@primitive("reduce")
def p_reduce(f: Callable[..., Any], init: Any, xs: Any = _NO_INIT) -> Any:
    """(reduce f init coll) folds left calling (f acc x); (reduce f coll) starts from the first."""
    if xs is _NO_INIT:
        it = iter(items(init))
        try:
            acc = next(it)
        except StopIteration:
            return call(f)
    else:
        acc, it = init, iter(items(xs))
    for x in it:
        acc = call(f, acc, x)
    return acc


@primitive("fold-right")
def fold_right(f: Callable[..., Any], init: Any, xs: Any) -> Any:
    """Fold from the right calling (f x acc)."""
    acc = init
    for x in reversed(list(items(xs))):
        acc = call(f, x, acc)
    return acc


@primitive("range")
def p_range(a: int, b: Any = None, step: int = 1) -> Any:
    """(range n) is 0..n-1, (range a b [step]) is a..b-1, as a list."""
    r = range(a) if b is None else range(a, b, step)
    bounds.length(len(r), "range")
    return from_iter(r)


@primitive("last")
def last(xs: Any) -> Any:
    """The last element, or nil."""
    v = None
    for v in items(xs):
        pass
    return v


@primitive("take")
def take(n: int, xs: Any) -> Any:
    """The first n elements."""
    return like(xs, list(items(xs))[:n])


@primitive("drop")
def drop(n: int, xs: Any) -> Any:
    """All but the first n elements."""
    return like(xs, list(items(xs))[n:])


@primitive("member")
def member(x: Any, xs: Any) -> Any:
    """The tail of the list starting at the first element equal to x, or #f."""
    while type(xs) is Pair:
        if xs.car == x:
            return xs
        xs = xs.cdr
    return False


@primitive("assoc")
def assoc(key: Any, alist: Any) -> Any:
    """The first (key . value) entry of an association list whose key equals `key`, or #f."""
    for entry in items(alist):
        if type(entry) is Pair and entry.car == key:
            return entry
    return False


@primitive("sort")
def p_sort(xs: Any, less: Any = None) -> Any:
    """Sorted copy; `less` is a two-argument procedure, default `<`."""
    values = list(items(xs))
    if less is None:
        return like(xs, sorted(values))
    key = functools.cmp_to_key(lambda a, b: -1 if _true(call(less, a, b)) else (1 if _true(call(less, b, a)) else 0))
    return like(xs, sorted(values, key=key))


@primitive("sort-by")
def sort_by(key: Callable[..., Any], xs: Any) -> Any:
    """Sorted copy ordered by (key x)."""
    return like(xs, sorted(items(xs), key=lambda x: call(key, x)))


@primitive("list?")
def is_list_p(x: Any) -> bool:
    """True for proper lists (nil included)."""
    return is_list(x)


@primitive("null?")
def is_null(x: Any) -> bool:
    """True for nil, the empty list."""
    return x is None


@primitive("pair?")
def is_pair(x: Any) -> bool:
    """True for a cons cell (a non-empty list)."""
    return type(x) is Pair


@primitive("empty?")
def is_empty(x: Any) -> bool:
    """True for nil and for empty vectors, maps and strings."""
    return x is None or (not isinstance(x, Pair) and len(x) == 0)


@primitive("vector")
def vector(*xs: Any) -> list[Any]:
    """A new vector of the arguments."""
    return list(xs)


@primitive("make-vector")
def make_vector(n: int, fill: Any = 0) -> list[Any]:
    """A vector of n copies of fill."""
    return [fill] * bounds.length(n, "make-vector")


@primitive("vector-ref")
def vector_ref(v: list[Any], i: int) -> Any:
    """Element i of a vector."""
    if not 0 <= i < len(v):
        raise PilangError("value", f"vector index {i} out of range (length {len(v)})")
    return v[i]


@primitive("vector-set!")
def vector_set(v: list[Any], i: int, x: Any) -> None:
    """Replace element i of a vector."""
    if not 0 <= i < len(v):
        raise PilangError("value", f"vector index {i} out of range (length {len(v)})")
    v[i] = x


@primitive("vector-length")
def vector_length(v: list[Any]) -> int:
    """Number of elements of a vector."""
    return len(v)


@primitive("vector?")
def is_vector(x: Any) -> bool:
    """True for vectors."""
    return isinstance(x, (list, tuple))


@primitive("list->vector")
def list_to_vector(xs: Any) -> list[Any]:
    """The elements of any collection as a vector."""
    return list(items(xs))


@primitive("vector->list")
def vector_to_list(xs: Any) -> Any:
    """The elements of any collection as a list."""
    return from_iter(list(items(xs)))


@primitive("conj")
def conj(coll: Any, *xs: Any) -> Any:
    """Add elements where they belong: in front of a list, at the end of a (new) vector."""
    if coll is None or type(coll) is Pair:
        for x in xs:
            coll = Pair(x, coll)
        return coll
    return list(coll) + list(xs)


@primitive("any?")
def any_p(pred: Callable[..., Any], xs: Any) -> bool:
    """True if pred holds for some element."""
    return any(_true(call(pred, x)) for x in items(xs))


@primitive("every?")
def every_p(pred: Callable[..., Any], xs: Any) -> bool:
    """True if pred holds for every element."""
    return all(_true(call(pred, x)) for x in items(xs))


@primitive("count")
def count(pred: Callable[..., Any], xs: Any) -> int:
    """How many elements satisfy pred."""
    return sum(1 for x in items(xs) if _true(call(pred, x)))
