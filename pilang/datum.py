"""The data pilang programs are made of: symbols, keywords, pairs, spans."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import count
from typing import Any


class Span:
    """A source region: file, 1-based line and column, and the (exclusive) end."""

    __slots__ = ("file", "line", "col", "end_line", "end_col")

    def __init__(self, file: str, line: int, col: int, end_line: int, end_col: int) -> None:
        self.file, self.line, self.col, self.end_line, self.end_col = file, line, col, end_line, end_col

    def __repr__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}-{self.end_line}:{self.end_col}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Span) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def key(self) -> tuple[str, int, int, int, int]:
        """The span as a plain tuple."""
        return (self.file, self.line, self.col, self.end_line, self.end_col)



class _Name:
    """A name interned per class: two instances with one name are the same object (`eq?` is `is`)."""

    __slots__ = ("name", "interned")
    _table: dict[str, _Name]

    def __init_subclass__(cls) -> None:
        cls._table = {}

    def __new__(cls, name: str) -> Any:
        obj = cls._table.get(name)
        if obj is None:
            obj = object.__new__(cls)
            obj.name, obj.interned = name, True
            cls._table[name] = obj
        return obj

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name,))


class Symbol(_Name):
    """A symbol: a variable name in code, a value of its own when quoted."""

    __slots__ = ()


class Keyword(_Name):
    """A self-evaluating name written `:name`, used as map keys and keyword arguments."""

    __slots__ = ()


_gensym_counter = count(1)


def gensym(prefix: str = "g") -> Symbol:
    """A fresh symbol that no reader and no other gensym can produce (printed as #:prefixN)."""
    sym = object.__new__(Symbol)
    sym.name, sym.interned = f"{prefix}{next(_gensym_counter)}", False
    return sym


class Pair:
    """A cons cell. Lists end in nil (Python None). `span`/`cspan`, set by the reader only,
    locate the list that starts at this cell and the element in its car."""

    __slots__ = ("car", "cdr", "span", "cspan")

    def __init__(self, car: Any, cdr: Any) -> None:
        self.car = car
        self.cdr = cdr

    def __iter__(self) -> Iterator[Any]:
        p: Any = self
        while type(p) is Pair:
            yield p.car
            p = p.cdr
        if p is not None:
            raise TypeError("improper list")

    def __eq__(self, other: object) -> bool:
        return equal(self, other)

    def __hash__(self) -> int:
        h = 17
        p: Any = self
        while type(p) is Pair:
            h = (h * 31 + hash(p.car)) & 0xFFFFFFFFFFFF
            p = p.cdr
        return h ^ hash(p)

    def __repr__(self) -> str:
        from .output.notation import write_string
        return write_string(self)


class SrcVector(list):
    """A vector literal as read: a list that also knows its span and its elements' spans."""

    span: Span
    spans: list[Span]


class SrcMap(dict):
    """A map literal as read: a dict that also knows its span and its entries' spans."""

    span: Span
    spans: list[Span]


def from_iter(items: Iterable[Any], tail: Any = None) -> Any:
    """Build a pilang list from Python items, ending in `tail`."""
    result = tail
    for x in reversed(items if isinstance(items, (list, tuple)) else list(items)):
        result = Pair(x, result)
    return result


def is_list(x: Any) -> bool:
    """True for nil and proper lists."""
    while type(x) is Pair:
        x = x.cdr
    return x is None


def equal(a: Any, b: Any) -> bool:
    """Structural equality of datums without recursion (10,000-deep lists compare fine).
    Booleans equal only booleans, unlike Python where 1 == True."""
    todo = [(a, b)]
    while todo:
        a, b = todo.pop()
        if a is b:
            continue
        if type(a) is Pair:
            if type(b) is not Pair:
                return False
            while type(a) is Pair and type(b) is Pair:
                todo.append((a.car, b.car))
                a, b = a.cdr, b.cdr
            todo.append((a, b))
        elif isinstance(a, (list, tuple)):
            if not isinstance(b, (list, tuple)) or len(a) != len(b):
                return False
            todo.extend(zip(a, b))
        elif isinstance(a, dict):
            if not isinstance(b, dict) or a.keys() != b.keys():
                return False
            todo.extend((a[k], b[k]) for k in a)
        elif isinstance(b, (Pair, list, tuple, dict)) or (type(a) is bool) != (type(b) is bool) or a != b:
            return False
    return True
