"""Numbers: arithmetic, comparison, rounding, predicates."""
from __future__ import annotations

import math
import operator
from functools import reduce
from itertools import pairwise
from typing import Any

from .. import bounds
from ..errors import expect
from ..registry import primitive


def _num(x: Any, who: str) -> Any:
    return expect(x, (int, float), who, "a number")


@primitive("+")
def add(*xs: Any) -> Any:
    """Sum of the arguments (0 for none)."""
    if len(xs) == 2:  # the common case when + is passed to reduce or map
        return xs[0] + xs[1]
    return reduce(operator.add, xs) if xs else 0


@primitive("-")
def sub(x: Any, *xs: Any) -> Any:
    """Subtract the rest from the first; negate a single argument."""
    return reduce(operator.sub, xs, x) if xs else -x


@primitive("*")
def mul(*xs: Any) -> Any:
    """Product of the arguments (1 for none)."""
    if len(xs) == 2:
        return bounds.mul(xs[0], xs[1])
    return reduce(bounds.mul, xs) if xs else 1


@primitive("/")
def div(x: Any, *xs: Any) -> Any:
    """Divide the first by the rest (a float, as in Python); reciprocal of one argument."""
    return reduce(operator.truediv, xs, x) if xs else 1 / x


def _chain(op: Any, x: Any, xs: tuple[Any, ...]) -> bool:
    """op holds between each argument and the next."""
    if len(xs) == 1:
        return op(x, xs[0])
    return all(op(a, b) for a, b in pairwise((x,) + xs))


@primitive("<")
def lt(x: Any, *xs: Any) -> bool:
    """True if each argument is less than the next."""
    return _chain(operator.lt, x, xs)


@primitive(">")
def gt(x: Any, *xs: Any) -> bool:
    """True if each argument is greater than the next."""
    return _chain(operator.gt, x, xs)


@primitive("<=")
def le(x: Any, *xs: Any) -> bool:
    """True if each argument is at most the next."""
    return _chain(operator.le, x, xs)


@primitive(">=")
def ge(x: Any, *xs: Any) -> bool:
    """True if each argument is at least the next."""
    return _chain(operator.ge, x, xs)


@primitive("=")
def num_eq(x: Any, *xs: Any) -> bool:
    """True if all arguments are equal."""
    return _chain(operator.eq, x, xs)


@primitive("quotient")
def quotient(a: int, b: int) -> int:
    """Integer division truncating toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@primitive("remainder")
def remainder(a: int, b: int) -> int:
    """Remainder with the sign of the dividend."""
    return a - b * quotient(a, b)


@primitive("modulo")
def modulo(a: Any, b: Any) -> Any:
    """Remainder with the sign of the divisor."""
    return a % b


@primitive("abs")
def p_abs(x: Any) -> Any:
    """Absolute value."""
    return abs(_num(x, "abs"))


@primitive("min")
def p_min(x: Any, *xs: Any) -> Any:
    """Smallest argument."""
    return min((x,) + xs)


@primitive("max")
def p_max(x: Any, *xs: Any) -> Any:
    """Largest argument."""
    return max((x,) + xs)


@primitive("expt")
def expt(a: Any, b: Any) -> Any:
    """a to the power b."""
    return bounds.power(a, b)


@primitive("sqrt")
def sqrt(x: Any) -> float:
    """Square root."""
    return math.sqrt(_num(x, "sqrt"))


@primitive("exp")
def p_exp(x: Any) -> float:
    """e to the power x."""
    return math.exp(_num(x, "exp"))


@primitive("log")
def p_log(x: Any, base: Any = None) -> float:
    """Natural logarithm, or logarithm in `base`."""
    return math.log(_num(x, "log")) if base is None else math.log(x, base)


@primitive("floor")
def floor(x: Any) -> int:
    """Largest integer not above x."""
    return math.floor(_num(x, "floor"))


@primitive("ceiling")
def ceiling(x: Any) -> int:
    """Smallest integer not below x."""
    return math.ceil(_num(x, "ceiling"))


@primitive("round")
def p_round(x: Any, digits: Any = None) -> Any:
    """Round to the nearest integer (ties to even), or to `digits` decimals."""
    return round(_num(x, "round")) if digits is None else round(x, digits)


@primitive("truncate")
def truncate(x: Any) -> int:
    """Drop the fractional part."""
    return math.trunc(_num(x, "truncate"))


@primitive("inc")
def inc(x: Any) -> Any:
    """x + 1."""
    return x + 1


@primitive("dec")
def dec(x: Any) -> Any:
    """x - 1."""
    return x - 1


@primitive("float")
def to_float(x: Any) -> float:
    """x as a float."""
    return float(_num(x, "float"))


@primitive("int")
def to_int(x: Any) -> int:
    """x truncated to an integer."""
    return int(_num(x, "int"))


@primitive("number?")
def is_number(x: Any) -> bool:
    """True for integers and floats."""
    return type(x) in (int, float)


@primitive("integer?")
def is_integer(x: Any) -> bool:
    """True for integers."""
    return type(x) is int


@primitive("float?")
def is_float(x: Any) -> bool:
    """True for floats."""
    return type(x) is float


@primitive("zero?")
def is_zero(x: Any) -> bool:
    """True if x is 0."""
    return _num(x, "zero?") == 0


@primitive("positive?")
def is_positive(x: Any) -> bool:
    """True if x > 0."""
    return _num(x, "positive?") > 0


@primitive("negative?")
def is_negative(x: Any) -> bool:
    """True if x < 0."""
    return _num(x, "negative?") < 0


@primitive("even?")
def is_even(x: Any) -> bool:
    """True for even integers."""
    return _num(x, "even?") % 2 == 0


@primitive("odd?")
def is_odd(x: Any) -> bool:
    """True for odd integers."""
    return _num(x, "odd?") % 2 == 1
