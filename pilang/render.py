"""How a query result looks, in one structure rendered two ways: HTML for notebooks (the chart inline,
so a front end that shows only the richest type still shows it) and text for terminals (a sparkline,
within the terminal's width). Headline, the model and its held-out score with the baseline beside it,
the table, quotes as quotations (whitespace normalised, repeats merged with a count), and the full
evidence collapsed. Maps render as small tables."""
from __future__ import annotations

import base64
import html
import math
import shutil
import textwrap
from typing import Any

from .datum import Keyword
from .printer import display_string, write_string

K = Keyword
SPARKS = "▁▂▃▄▅▆▇█"
MAX_QUOTES = 5
MAX_ROWS = 30  # rows of a list shown in the evidence before "... and N more"


def _name(key: Any) -> str:
    return getattr(key, "name", None) or str(key)


def _get(d: Any, key: str) -> Any:
    return d.get(K(key)) if isinstance(d, dict) else None


def quotes(evidence: Any) -> list[dict[str, Any]]:
    """Every quoted message in the evidence (maps with :text and :id), whitespace normalised; the same
    text quoted twice is one quote with a count."""
    found: dict[str, dict[str, Any]] = {}

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            text, ident = _get(v, "text"), _get(v, "id")
            if isinstance(text, str) and ident is not None:
                clean = " ".join(text.split())
                key = clean.lower()
                if key not in found:
                    found[key] = {"text": clean, "id": ident, "time": _get(v, "time"), "source": _get(v, "source"),
                                  "author": _get(v, "author"), "ids": set()}
                found[key]["ids"].add(ident)
                found[key]["count"] = len(found[key]["ids"])  # the same message cited twice is one
                return
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
    walk(evidence)
    return list(found.values())


def _when(q: dict[str, Any]) -> str:
    parts = [str(q["time"])[:10] if q.get("time") else None, q.get("source"), f"#{q['id']}"]
    if q["count"] > 1:
        parts.append(f"quoted {q['count']} times")
    return " · ".join(p for p in parts if p)


def score_line(data: dict[Any, Any]) -> str | None:
    """The model, and its held-out score with the baseline beside it where the result has them."""
    model = data.get(K("model"))
    held = data.get(K("held-out"))
    parts = [display_string(model)] if model else []
    if isinstance(held, dict):
        metric, value = _get(held, "metric"), _get(held, "value")
        base, base_value = _get(held, "baseline"), _get(held, "baseline-value") or _get(held, "baseline-score")
        if value is not None:
            text = f"held-out {display_string(metric) + ' ' if metric else ''}{display_string(value)}"
            if base is not None:
                text += f" vs {display_string(base)}" + (f" {display_string(base_value)}" if base_value is not None else "")
            parts.append(text)
        else:
            parts.append("held-out: " + _short(held, 600))
    elif held:
        parts.append(f"held-out: {display_string(held)}")
    return " · ".join(parts) or None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def sparkline(values: list[Any]) -> str:
    """A unicode sparkline; gaps (None, NaN) as spaces."""
    nums = [v for v in values if _number(v)]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    span = (hi - lo) or 1.0
    return "".join(" " if not _number(v) else
                   SPARKS[min(len(SPARKS) - 1, int((v - lo) / span * (len(SPARKS) - 1) + 0.5))] for v in values)


# ---- HTML -----------------------------------------------------------------------------------

def value_html(v: Any, depth: int = 0) -> str:
    """Any pilang value as HTML: maps as key/value tables, lists of maps as tables, the rest as text."""
    if isinstance(v, dict):
        if not v:
            return "<i>empty</i>"
        rows = "".join(f"<tr><th style='text-align:left;vertical-align:top'>{html.escape(_name(k))}</th>"
                       f"<td style='text-align:left'>{value_html(x, depth + 1)}</td></tr>" for k, x in v.items())
        return f"<table class='pilang-map'>{rows}</table>"
    if isinstance(v, (list, tuple)):
        items = list(v)
        if not items:
            return "<i>none</i>"
        if all(isinstance(x, dict) for x in items):
            columns: list[Any] = []
            for x in items[:MAX_ROWS]:
                columns += [k for k in x if k not in columns]
            head = "".join(f"<th>{html.escape(_name(c))}</th>" for c in columns)
            body = "".join("<tr>" + "".join(_cell_html(x.get(c), depth) for c in columns) + "</tr>"
                           for x in items[:MAX_ROWS])
            more = f"<p><i>… and {len(items) - MAX_ROWS} more</i></p>" if len(items) > MAX_ROWS else ""
            return f"<table class='pilang-rows'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"
        text = ", ".join(display_string(x) for x in items[:MAX_ROWS])
        return html.escape(text + (f", … ({len(items)} in all)" if len(items) > MAX_ROWS else ""))
    return html.escape(" ".join(display_string(v).split()))


def _cell_html(v: Any, depth: int) -> str:
    align = "right" if isinstance(v, (int, float)) and not isinstance(v, bool) else "left"
    return f"<td style='text-align:{align}'>{value_html(v, depth + 1)}</td>"


def chart_img(png: bytes | None) -> str:
    if not png:
        return ""
    return f"<img alt='chart' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'/>"


def result_html(result: Any) -> str:
    d = result.data
    headline = html.escape(display_string(d.get(K("answer"))))
    out = [f"<div class='pilang-result'><p style='font-size:1.1em'><b>{headline}</b></p>"]
    line = score_line(d)
    if line:
        out.append(f"<p style='color:#555'>{html.escape(line)}</p>")
    if result.table is not None:
        out.append(result.table.to_html())
    out.append(chart_img(result.to_png()))
    qs = quotes(d.get(K("evidence")))
    for q in qs[:MAX_QUOTES]:
        out.append(f"<blockquote style='margin:0.4em 0 0.4em 1em;border-left:3px solid #ccc;padding-left:0.6em'>"
                   f"<p>{html.escape(q['text'][:400])}</p><footer style='color:#777'>{html.escape(_when(q))}</footer>"
                   "</blockquote>")
    evidence = d.get(K("evidence"))
    if evidence:
        out.append(f"<details><summary>evidence (handler {html.escape(display_string(d.get(K('handler'))))})</summary>"
                   f"{value_html(evidence)}</details>")
    out.append("</div>")
    return "".join(out)


# ---- text -----------------------------------------------------------------------------------

def _width() -> int:
    return max(40, min(120, shutil.get_terminal_size((100, 24)).columns))


def _short(v: Any, width: int) -> str:
    """A value in one readable line: maps as "key value, ...", never the written {: ...} form."""
    if isinstance(v, dict):
        text = "; ".join(f"{_name(k)} {_short(x, width)}" for k, x in v.items())
    elif isinstance(v, (list, tuple)):
        text = f"{len(v)} item{'s' if len(v) != 1 else ''}" if v and isinstance(v[0], (dict, list, tuple)) else \
            ", ".join(display_string(x) for x in v)
    else:
        text = " ".join(display_string(v).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def result_lines(result: Any, width: int | None = None) -> list[str]:
    """The result as text lines within `width` (the terminal's by default)."""
    width = width or _width()
    d = result.data
    out = textwrap.wrap(display_string(d.get(K("answer"))), width) or [""]
    line = score_line(d)
    if line:
        out += textwrap.wrap(line, width, initial_indent="  ", subsequent_indent="    ")
    out.append(f"  handler: {display_string(d.get(K('handler')))}")
    if result.table is not None:
        out += ["  " + line for line in result.table.__pilang_repr__().splitlines()]
    if result.series:
        for name, values in result.series.items():
            if name != "x":
                out.append(f"  {name}: {sparkline(values)[:width - len(name) - 4]}")
    for q in quotes(d.get(K("evidence")))[:MAX_QUOTES]:
        out += textwrap.wrap(f"“{q['text'][:300]}”", width, initial_indent="  > ", subsequent_indent="    ")
        out.append(f"    {_when(q)}")
    for key, value in (d.get(K("evidence")) or {}).items():
        label = f"  {_name(key)}: "
        out.append(label + _short(value, width - len(label)))
    return out


def value_lines(v: Any, width: int | None = None, depth: int = 0) -> list[str]:
    """A value for a person at a terminal: a map too long for one line as an aligned key/value table
    (nested maps indented under their key, lists of maps as tables), anything else as written."""
    from .printer import write_string
    if hasattr(type(v), "__pilang_lines__"):  # a value a server rendered
        return v.__pilang_lines__()
    width = width or _width()
    written = write_string(v)
    if len(written) <= width or depth > 2:
        return [written if len(written) <= width else written[:width - 1] + "…"]
    if isinstance(v, dict) and v and not hasattr(type(v), "__pilang_repr__"):
        keys = [_name(k) for k in v]
        key_width = min(24, max(map(len, keys)))
        out: list[str] = []
        for key, value in zip(keys, v.values()):
            room = width - key_width - 2
            inline = value if not isinstance(value, str) else " ".join(value.split())
            if isinstance(value, (dict, list, tuple)) and value and len(write_string(value)) > room:
                sub = value_lines(value, width - 2, depth + 1)
                if len(sub) > 1:
                    out.append(key)
                    out += ["  " + line for line in sub]
                    continue
            shown = "—" if isinstance(value, (dict, list, tuple)) and not value else _short(inline, room)
            out.append(f"{key.ljust(key_width)}  {shown}")
        return out
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v):
        from .table import Table
        columns: list[str] = []
        for row in v[:MAX_ROWS]:
            columns += [_name(k) for k in row if _name(k) not in columns]
        rows = [{K(_name(k)): x for k, x in row.items()} for row in v[:MAX_ROWS]]
        lines = Table(rows, columns).__pilang_repr__().splitlines()
        if len(v) > MAX_ROWS:
            lines[-1] = f"({len(v)} rows, the first {MAX_ROWS} shown)"
        return [line[:width - 1] + "…" if len(line) > width else line for line in lines]
    return textwrap.wrap(written, width) or [written]


def mime_bundle(value: Any) -> dict[str, Any]:
    """text/plain always; text/html for tables, results, maps (as small tables) and HTML values;
    image/png for plots."""
    if hasattr(type(value), "__pilang_mime__"):  # a value a server rendered
        return value.__pilang_mime__()
    data: dict[str, Any] = {"text/plain": write_string(value)}
    if hasattr(value, "to_html"):
        data["text/html"] = value.to_html()
    elif isinstance(value, dict) and value:
        data["text/html"] = value_html(value)
    png = value.to_png() if hasattr(value, "to_png") else None
    if png:
        data["image/png"] = base64.b64encode(png).decode("ascii")
    return data
