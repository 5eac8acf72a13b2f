"""Strings and symbols."""
from __future__ import annotations

from typing import Any

from .. import bounds
from ..datum import Keyword, Symbol, from_iter, gensym
from ..errors import expect
from ..output.notation import display_string, write_string
from ..registry import primitive


def _str(x: Any, who: str) -> str:
    return expect(x, str, who, "a string")


@primitive("str")
def p_str(*xs: Any) -> str:
    """Concatenate the display forms of the arguments."""
    return _joined([display_string(x) for x in xs], "", "str")


@primitive("string-append")
def string_append(*xs: str) -> str:
    """Concatenate strings."""
    return _joined([_str(x, "string-append") for x in xs], "", "string-append")


@primitive("string-length")
def string_length(s: str) -> int:
    """Number of characters."""
    return len(_str(s, "string-length"))


@primitive("substring")
def substring(s: str, start: int, end: Any = None) -> str:
    """Characters start..end-1."""
    return _str(s, "substring")[start:end]


@primitive("string-upcase")
def upcase(s: str) -> str:
    """Upper-cased copy."""
    return _str(s, "string-upcase").upper()


@primitive("string-downcase")
def downcase(s: str) -> str:
    """Lower-cased copy."""
    return _str(s, "string-downcase").lower()


@primitive("string-trim")
def trim(s: str) -> str:
    """Copy without leading and trailing whitespace."""
    return _str(s, "string-trim").strip()


@primitive("string-split")
def split(s: str, sep: Any = None) -> Any:
    """Split on sep (default: runs of whitespace), as a list."""
    return from_iter(_str(s, "string-split").split(sep))


@primitive("string-join")
def join(xs: Any, sep: str = "") -> str:
    """Join the display forms of the elements with sep."""
    from .lists import items
    return _joined([display_string(x) for x in items(xs)], _str(sep, "string-join"), "string-join")


@primitive("string-contains?")
def contains(s: str, part: str) -> bool:
    """True if part occurs in s."""
    return _str(part, "string-contains?") in _str(s, "string-contains?")


@primitive("string-starts-with?")
def starts_with(s: str, prefix: str) -> bool:
    """True if s starts with prefix."""
    return _str(s, "string-starts-with?").startswith(prefix)


@primitive("string-replace")
def replace(s: str, old: str, new: str) -> str:
    """Copy of s with every occurrence of old replaced by new."""
    s, old, new = _str(s, "string-replace"), _str(old, "string-replace"), _str(new, "string-replace")
    if len(new) > len(old):  # the copy grows by the difference at each occurrence (or between every character)
        bounds.joined(len(s) + (s.count(old) if old else len(s) + 1) * (len(new) - len(old)), "string-replace")
    return s.replace(old, new)


def _joined(parts: list[str], sep: str, who: str) -> str:
    bounds.joined(sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0), who)
    return sep.join(parts)


@primitive("string?")
def is_string(x: Any) -> bool:
    """True for strings."""
    return type(x) is str


@primitive("symbol?")
def is_symbol(x: Any) -> bool:
    """True for symbols."""
    return type(x) is Symbol


@primitive("string->symbol")
def string_to_symbol(s: str) -> Symbol:
    """The symbol with this name."""
    return Symbol(_str(s, "string->symbol"))


@primitive("symbol->string")
def symbol_to_string(x: Any) -> str:
    """The name of a symbol or keyword."""
    return expect(x, (Symbol, Keyword), "symbol->string", "a symbol").name


@primitive("number->string")
def number_to_string(x: Any) -> str:
    """The written form of a number."""
    return write_string(x)


@primitive("string->number")
def string_to_number(s: str) -> Any:
    """The number written in s, or #f if it is not one."""
    text = _str(s, "string->number").strip()
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return False


@primitive("gensym")
def p_gensym(prefix: Any = "g") -> Symbol:
    """A fresh symbol no other code can write, for macro-introduced variables."""
    return gensym(prefix if isinstance(prefix, str) else prefix.name)
