"""Sizes no single operation may exceed, checked before the work is done.

A big-integer power or product runs in C holding the interpreter lock: nothing (no Ctrl-C, no time
limit) can stop `(expt 7 16000000)` once it has started, and a string or vector builder can ask for
gigabytes in one call. So the operations whose cost can grow faster than their arguments are checked
against these bounds first, locally and on the team server alike, and refused with a `limit` error
that says what was asked. The bounds are far above what an analysis needs (an integer of a million
bits has 315,653 digits)."""
from __future__ import annotations

from typing import Any

from .errors import PilangError

MAX_INT_BITS = 1 << 20  # an integer result of at most 1,048,576 bits (a product of such takes milliseconds)
MAX_LENGTH = 1 << 24  # a string of at most 16,777,216 characters, a vector or list of as many elements


def too_big(what: str, asked: str, bound: str) -> PilangError:
    return PilangError("limit", f"{what} would have {asked}, over pilang's bound of {bound}; the operation was"
                       " refused before it started")


def length(n: Any, who: str) -> Any:
    """`n` as the length a builder is asked for, refused above MAX_LENGTH."""
    if type(n) is int and n > MAX_LENGTH:
        raise too_big(f"{who}'s result", f"{n:,} elements", f"{MAX_LENGTH:,}")
    return n


def mul(a: Any, b: Any) -> Any:
    """a * b, refused before it starts when the product would be an integer over MAX_INT_BITS bits or a
    repeated string or vector over MAX_LENGTH (what `*` compiles to)."""
    ta, tb = a.__class__, b.__class__
    if ta is int and tb is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
            raise too_big("the product", f"about {a.bit_length() + b.bit_length():,} bits", f"{MAX_INT_BITS:,} bits")
    elif tb is int and ta in (str, list) or ta is int and tb in (str, list):
        n, seq = (b, a) if tb is int else (a, b)
        if n > 0 and len(seq) * n > MAX_LENGTH:
            raise too_big("the repetition", f"{len(seq) * n:,} elements", f"{MAX_LENGTH:,}")
    return a * b


def power(a: Any, b: Any) -> Any:
    """a ** b, refused before it starts when the result would be an integer over MAX_INT_BITS bits."""
    if a.__class__ is int and b.__class__ is int and b > 0 and a not in (0, 1, -1):
        bits = (abs(a).bit_length() - 1) * b + 1  # a lower bound of the result's size
        if bits > MAX_INT_BITS:
            raise too_big("the power", f"at least {bits:,} bits", f"{MAX_INT_BITS:,} bits")
    try:
        return a ** b
    except OverflowError as exc:  # a float power past the largest float
        raise PilangError("value", f"expt: {exc}") from None


def joined(n: int, who: str) -> None:
    """Refuse a string of n characters about to be made by joining parts."""
    if n > MAX_LENGTH:
        raise too_big(f"{who}'s result", f"{n:,} characters", f"{MAX_LENGTH:,}")
