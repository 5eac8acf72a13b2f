"""Values as a person reads them in an answer: absent values blank, booleans as yes/no, numbers at a
precision that means something (whole counts whole, other numbers to three significant digits), and
column names as a person says them. Used by the notebook's HTML, the terminal's text and the report, so
the same number reads the same everywhere. (`write` keeps pilang's own notation: nil, #t, 0.04270000.)"""
from __future__ import annotations

import math
from typing import Any

from ..datum import Keyword, Symbol

ABSENT = ""

# column names the engine uses, as a person says them (anything else: dashes and underscores as spaces)
WORDS = {
    "p-adjusted": "p (Holm)", "p_adjusted": "p (Holm)", "p-holm": "p (Holm)", "p_holm": "p (Holm)",
    "since-p": "p of that date", "since_p": "p of that date", "mae": "mean error", "no-change-mae": "no-change mean error",
    "no_change_mae": "no-change mean error", "negative-share": "negative", "negative_share": "negative",
    "auc": "ROC-AUC", "roc-auc": "ROC-AUC", "complaints-growth-per-day": "complaints a day (change)",
    "complaints_growth_per_day": "complaints a day (change)", "shared-words": "words its messages share",
    "coverage-ok": "interval bounded", "coverage_ok": "interval bounded", "spearman": "rank correlation",
}


def column(key: Any) -> str:
    name = getattr(key, "name", None) or str(key)
    return WORDS.get(name) or name.replace("_", " ").replace("-", " ")


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def number(x: float | int, signed: bool = False) -> str:
    """A whole number with thousands separators; any other to three significant digits (never 1e-05 for a
    reader: small values as 0.0000123 are rare in answers and read as "< 0.001")."""
    sign = "+" if signed and x > 0 else ""
    if isinstance(x, int) or (math.isfinite(x) and float(x).is_integer() and abs(x) < 1e15):
        return f"{sign}{int(x):,}"
    if not math.isfinite(x):
        return "unbounded" if math.isinf(x) else ABSENT
    a = abs(x)
    if a >= 1000:
        return f"{sign}{x:,.0f}"
    if a < 0.001:
        return "< 0.001" if x > 0 else ("> -0.001" if x < 0 else "0")
    digits = max(0, 2 - int(math.floor(math.log10(a))))
    text = f"{x:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return sign + text


def is_p_value(key: Any) -> bool:
    name = column(key)
    return name == "p" or name.startswith(("p value", "p (", "p of"))


def scalar(v: Any, key: Any = None) -> str:
    """One value as words: blank for none, yes/no, numbers as `number`, names without their colon. Under a
    p-value's `key`, a p rounded to zero reads "< 0.0001" (a test never gives exactly 0)."""
    if key is not None and is_number(v) and v == 0 and is_p_value(key):
        return "<\u00a00.0001"  # one piece: a narrow column does not break it
    if v is None:
        return ABSENT
    if isinstance(v, bool):
        return "yes" if v else "no"
    if is_number(v):
        return number(v)
    if hasattr(v, "item") and hasattr(v, "dtype"):  # a numpy scalar
        return scalar(v.item())
    if type(v) in (Symbol, Keyword):
        return v.name
    if isinstance(v, str):
        return " ".join(v.split())
    from .notation import display_string
    return " ".join(display_string(v).split())


def brief(v: Any, limit: int = 160) -> str:
    """Any value in one short line: a list of scalars comma-separated, a list of maps by their first
    words (a topic's terms: "nerf, rifle, damage"), a map as "key value; ...", cut at `limit`."""
    if isinstance(v, (dict, list, tuple)) and not v:
        text = "none"  # an empty map or list: said, not left as a blank a reader takes for a fault
    elif isinstance(v, dict):
        text = "; ".join(f"{column(k)} {brief(x, limit)}".strip() for k, x in v.items() if x is not None)
    elif isinstance(v, (list, tuple)):
        if v and all(isinstance(x, dict) for x in v):
            firsts = [next((scalar(y) for y in x.values() if isinstance(y, str)), None) for x in v]
            text = ", ".join(f for f in firsts if f) if all(firsts) else f"{len(v)} rows"
        else:
            text = ", ".join(brief(x, limit) for x in v)
    else:
        text = scalar(v)
    return text if len(text) <= limit else text[:limit - 1] + "…"
