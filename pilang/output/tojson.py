"""pilang values as JSON: the contract behind `pilang --json` and `(to-json x)`.

maps -> objects (keyword keys without the colon), vectors and lists -> arrays, strings, numbers
(NaN and infinities -> null), booleans, nil -> null, symbols and keywords -> their names (no colon);
a table -> an array of row objects; a query result -> {"answer", "handler", "model", "held_out",
"evidence", "rows"} (always these six keys, null where a result has none); HTML -> its source; a plot ->
{"title", "kind", "x", "series"}; anything else (procedures, macros) -> its printed form."""
from __future__ import annotations

import json
import math
from typing import Any

from ..datum import Keyword, Pair, Symbol
from .notation import write_string

RESULT_KEYS = ("answer", "handler", "model", "held_out", "evidence", "rows")
# top-level forms whose value `pilang --json` prints no line for (nil is the other case)
DEFINITIONS = frozenset({"define", "defmacro", "defn", "set!", "load"})


def is_json_line(form: Any, value: Any) -> bool:
    """Whether `pilang --json` prints a line for this top-level form's value: not nil, not a definition."""
    return value is not None and getattr(getattr(form, "car", None), "name", None) not in DEFINITIONS


def json_value(x: Any) -> Any:
    """x as plain JSON-able Python (dict, list, str, int, float, bool, None)."""
    from .rich import Html, Plot
    from ..result import Result
    from ..table import Table
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if type(x) in (Symbol, Keyword):
        return x.name
    if hasattr(type(x), "__pilang_json__"):  # a value a server sent
        return x.__pilang_json__()
    if isinstance(x, Result):
        d = x.data
        return {"answer": json_value(d.get(Keyword("answer"))), "handler": json_value(d.get(Keyword("handler"))),
                "model": json_value(d.get(Keyword("model"))), "held_out": json_value(d.get(Keyword("held-out"))),
                "evidence": json_value(d.get(Keyword("evidence"))),
                "rows": None if x.table is None else json_value(x.table)}
    if isinstance(x, Table):
        return [{c: json_value(row.get(Keyword(c))) for c in x.columns} for row in x]
    if isinstance(x, dict):
        return {_key(k): json_value(v) for k, v in x.items()}
    if type(x) is Pair or isinstance(x, (list, tuple)):
        return [json_value(v) for v in x]
    if isinstance(x, Html):
        return x.source
    if isinstance(x, Plot):
        return {"title": x.title, "kind": x.kind, "x": json_value(x.x), "series": json_value(x.series)}
    if hasattr(x, "item") and hasattr(x, "dtype"):  # a numpy scalar
        return json_value(x.item())
    return write_string(x)


def _key(k: Any) -> str:
    if type(k) in (Symbol, Keyword):
        return k.name
    return k if isinstance(k, str) else write_string(k)


def json_string(x: Any) -> str:
    """One line of JSON for x."""
    return json.dumps(json_value(x), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
