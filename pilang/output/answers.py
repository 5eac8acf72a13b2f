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

from ..datum import Keyword
from .notation import display_string, write_string
from .rich import BAND
from .readable import brief, column, is_number, scalar
from ..table import CELL

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
    text quoted twice, or two texts of the same words (`same_words`), is one quote with a count."""
    from pilang_engine.api import same_words
    found: dict[str, dict[str, Any]] = {}

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            text, ident = _get(v, "text"), _get(v, "id")
            if isinstance(text, str) and ident is not None:
                clean = " ".join(text.split())
                key = clean.lower()
                key = next((k for k in found if k == key or same_words(k, key)), key)
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
    """The model, and its held-out score with the baseline beside it where the result has them (a score of
    several parts is a table: `score_rows`)."""
    model = data.get(K("model"))
    held = data.get(K("held-out"))
    parts = [display_string(model)] if model else []
    if isinstance(held, dict):
        metric, value = _get(held, "metric"), _get(held, "value")
        base, base_value = _get(held, "baseline"), _get(held, "baseline-value") or _get(held, "baseline-score")
        if value is not None:
            text = f"held-out {scalar(metric) + ' ' if metric else ''}{scalar(value)}"
            if base is not None:
                text += f" vs {scalar(base)}" + (f" {scalar(base_value)}" if base_value is not None else "")
            parts.append(text)
        elif isinstance(metric, str):
            parts.append(f"held-out: {metric}")
    elif held:
        parts.append(f"held-out: {scalar(held)}")
    return " · ".join(parts) or None


def score_rows(data: dict[Any, Any]) -> list[dict[Any, Any]]:
    """A held-out score of several parts as rows a person reads: one per scored thing (a metric of a group,
    a model), its numbers, and the paired verdict against the baseline where there is one. Empty for a
    score of one number (the score line says it)."""
    held = data.get(K("held-out"))
    if not isinstance(held, dict) or _get(held, "value") is not None:
        return []
    table = _get(held, "backtest")
    if isinstance(table, (list, tuple)) and table and all(isinstance(r, dict) for r in table):
        return list(table)  # the engine's own rows: each model's score, the one that answers marked
    rows: list[dict[Any, Any]] = []

    def walk(path: list[str], node: dict[Any, Any]) -> None:
        numbers = {k: v for k, v in node.items() if is_number(v)}
        verdicts = {k: _get(v, "verdict") for k, v in node.items() if isinstance(v, dict) and _get(v, "verdict")}
        if len(numbers) >= 2 or (numbers and verdicts):
            row: dict[Any, Any] = {K("scored"): " ".join(path) or "model"}
            row.update(numbers)
            row.update({K(_name(k).replace("versus-", "vs ").replace("-", " ")): v for k, v in verdicts.items()})
            rows.append(row)
        for k, v in node.items():
            if isinstance(v, dict) and k not in verdicts:
                walk(path + [_name(k).replace("-", " ")], v)
    walk([], held)
    return rows


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def sparkline(values: list[Any]) -> str:
    """A unicode sparkline; gaps (None, NaN) as spaces. Scaled from zero (counts, or values all of one sign),
    so a flat series reads flat: autoscaled, 46.3 to 45.7 would fill the whole height."""
    nums = [v for v in values if _number(v)]
    if not nums:
        return ""
    lo, hi = min(min(nums), 0.0), max(max(nums), 0.0)
    span = (hi - lo) or 1.0
    return "".join(" " if not _number(v) else
                   SPARKS[min(len(SPARKS) - 1, int((v - lo) / span * (len(SPARKS) - 1) + 0.5))] for v in values)


# ---- HTML -----------------------------------------------------------------------------------

MAX_COLUMNS = 6  # columns of a table shown at once; the rest on demand
SCROLL = "<div style='overflow-x:auto;max-width:100%'>{}</div>"


def _rows_html(items: list[dict[Any, Any]], columns: list[Any]) -> str:
    head = "".join(f"<th style='{CELL};text-align:left'>{html.escape(column(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell_html(x.get(c), c) for c in columns) + "</tr>" for x in items)
    return f"<table class='pilang-rows' style='border-collapse:collapse'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def value_html(v: Any, depth: int = 0) -> str:
    """Any pilang value as HTML for a person: maps as key/value tables (two levels deep, then in words),
    lists of maps as tables of at most MAX_COLUMNS columns (all of them on demand), whose cells are words
    (a nested value as one short line, never a table in a cell), blank where a value is absent."""
    if isinstance(v, dict):
        if not v:
            return "<i>none</i>"
        if depth >= 2:
            return html.escape(brief(v, 300))
        rows = "".join(f"<tr><th style='{CELL};text-align:left'>{html.escape(column(k))}</th>"
                       f"<td style='{CELL};text-align:left'>"
                       f"{value_html(x, depth + 1) if isinstance(x, (dict, list, tuple)) else html.escape(scalar(x, k))}"
                       "</td></tr>" for k, x in v.items())
        return SCROLL.format(f"<table class='pilang-map' style='border-collapse:collapse'>{rows}</table>")
    if isinstance(v, (list, tuple)):
        items = list(v)
        if not items:
            return "<i>none</i>"
        if all(isinstance(x, dict) for x in items):
            if depth >= 2:
                return html.escape(brief(items, 300))
            columns: list[Any] = []
            for x in items[:MAX_ROWS]:
                columns += [k for k in x if k not in columns]
            shown = items[:MAX_ROWS]
            out = _rows_html(shown, columns[:MAX_COLUMNS])
            if len(columns) > MAX_COLUMNS:
                out += (f"<details><summary>all {len(columns)} columns</summary>"
                        f"{SCROLL.format(_rows_html(shown, columns))}</details>")
            more = f"<p><i>… and {len(items) - MAX_ROWS} more</i></p>" if len(items) > MAX_ROWS else ""
            return SCROLL.format(out) + more
        texts = [scalar(x) if not isinstance(x, (dict, list, tuple)) else brief(x) for x in items[:MAX_ROWS]]
        more = f"… ({len(items)} in all)" if len(items) > MAX_ROWS else ""
        if _one_per_line(items):
            return "<br>".join(html.escape(t) for t in texts + ([more] if more else []))
        return html.escape(", ".join(texts) + (", " + more if more else ""))
    return html.escape(scalar(v))


def _one_per_line(items: list[Any]) -> bool:
    """Strings that read as a list, not a phrase (files, long texts): one per line."""
    return len(items) > 1 and all(isinstance(x, str) for x in items) and sum(len(x) for x in items) > 60


def _cell_html(v: Any, key: Any = None) -> str:
    align = "right" if is_number(v) else "left"
    text = brief(v, 200) if isinstance(v, (dict, list, tuple)) else scalar(v, key)
    return f"<td style='{CELL};text-align:{align}'>{html.escape(text)}</td>"


def chart_img(png: bytes | None) -> str:
    if not png:
        return ""
    return f"<img alt='chart' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'/>"


def notes(data: dict[Any, Any]) -> list[str]:
    """What the answer's one sentence leaves out and a reader needs beside it (the evidence's `notes`: why
    a baseline answers, what was refused and why), shown under the headline, not collapsed."""
    found = _get(data.get(K("evidence")), "notes")
    if isinstance(found, str):
        return [found]
    return [display_string(n) for n in found] if isinstance(found, (list, tuple)) else []


def result_html(result: Any) -> str:
    d = result.data
    headline = html.escape(display_string(d.get(K("answer"))))
    out = [f"<div class='pilang-result' style='max-width:100%;overflow-wrap:break-word'><p style='font-size:1.1em'><b>{headline}</b></p>"]
    out += [f"<p style='margin:0.2em 0'>{html.escape(n)}</p>" for n in notes(d)]
    line = score_line(d)
    if line:
        out.append(f"<p style='color:#555'>{html.escape(line)}</p>")
    scores = score_rows(d)
    if scores:
        out.append(f"<div style='color:#555'>{value_html(scores, 1)}</div>")
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
    """A value in one readable line: maps as "key value; ...", never the written {: ...} form."""
    if isinstance(v, (list, tuple)) and v and isinstance(v[0], (dict, list, tuple)):
        text = f"{len(v)} item{'s' if len(v) != 1 else ''}"
    else:
        text = brief(v, 10_000)
    return text if len(text) <= width else text[:width - 1] + "…"


def result_lines(result: Any, width: int | None = None) -> list[str]:
    """The result as text lines within `width` (the terminal's by default)."""
    width = width or _width()
    d = result.data
    out = textwrap.wrap(display_string(d.get(K("answer"))), width) or [""]
    for n in notes(d):
        out += textwrap.wrap(n, width, initial_indent="  note: ", subsequent_indent="    ")
    line = score_line(d)
    if line:
        out += textwrap.wrap(line, width, initial_indent="  ", subsequent_indent="    ")
    scores = score_rows(d)
    if scores:
        from ..table import Table
        columns: list[str] = []
        for row in scores:
            columns += [_name(k) for k in row if _name(k) not in columns]
        lines = Table(scores, columns).__pilang_repr__().splitlines()[:-1]  # without its "(N rows)"
        out += ["  " + (x if len(x) <= width - 2 else x[:width - 3] + "…") for x in lines]
    out.append(f"  handler: {display_string(d.get(K('handler')))}")
    if result.table is not None:
        out += ["  " + line for line in result.table.__pilang_repr__().splitlines()]
    if result.series:
        for name, values in result.series.items():
            line = sparkline(values)
            if name != "x" and name not in BAND and line.strip():  # the band's edges are shaded; nothing marked: no line
                out.append(f"  {name}: {line[:width - len(name) - 4]}")
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
    from .notation import write_string
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
            if isinstance(value, (list, tuple)) and _one_per_line(list(value)):
                out.append(key)
                out += ["  " + _short(x, width - 2) for x in list(value)[:MAX_ROWS]]
                if len(value) > MAX_ROWS:
                    out.append(f"  … ({len(value)} in all)")
                continue
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
        from ..table import Table
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
