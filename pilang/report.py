"""A report to share: one self-contained HTML file (styles and charts inline, no external asset, so it
opens offline) or Markdown for a wiki, for one period: what players are upset about and since when,
sentiment and volume with their forecast, unusual days, how each persona moved, churn risk where
player data exists, and beside each number its model and held-out score."""
from __future__ import annotations

import html
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .bridge import as_result
from .datum import Keyword
from .output.notation import display_string
from .output.rich import BAND
from .output.readable import column
from .output.answers import notes, quotes, score_line, sparkline

K = Keyword
STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.4em 0}td,th{border-bottom:1px solid #eee;padding:2px 8px;font-size:.92em}
details{margin:.5em 0;color:#444}img{max-width:100%;height:auto}.meta{color:#666;overflow-wrap:anywhere}"""


def _period(ws: Any, since: str | None, until: str | None) -> tuple[float, float, str]:
    from pilang_engine.api import iso, parse_date
    first, last = ws.time_span()
    if last is None:
        raise ValueError("the workspace has no dated messages to report on")
    name = since or "last-week"
    if name in ("last-week", "last-month", "last-patch", "all"):
        start, end, _ = ws.period(name)
        start = start if start is not None else first
    else:
        start, end = parse_date(name), None
    end = parse_date(until) if until else (end or last + 1)
    return start, end, f"{iso(start)[:10]} to {iso(end - 1)[:10]}"


def sections(ws: Any, since: str | None = None, until: str | None = None) -> tuple[str, list[tuple[str, Any]]]:
    """(the period in words, [(title, Result)]), each section computed by the engine's own analytics."""
    from pilang_engine.api import analysis, drivers
    start, end, words = _period(ws, since, until)
    scope = {"since": start, "until": end}
    out: list[tuple[str, Any]] = []

    def add(title: str, fn: Callable[[], dict[str, Any]]) -> None:
        try:
            out.append((title, as_result(fn(), None, "report")))
        except Exception as exc:  # noqa: BLE001 (a section that cannot be computed says why; the rest stands)
            out.append((title, as_result({"answer": f"not available: {exc}"}, None, "report")))
    add("What players are upset about, and since when", lambda: drivers(ws, dict(scope)))
    add("Sentiment", lambda: analysis("sentiment")(ws, dict(scope)))
    add("Volume", lambda: analysis("volume")(ws, dict(scope)))
    add("Sentiment forecast", lambda: analysis("forecast")(ws, {"metric": "sentiment"}))
    add("Unusual days", lambda: analysis("anomalies")(ws, dict(scope)))
    for p in _personas(ws):
        add(f"Persona: {p}", lambda p=p: drivers(ws, {**scope, "filters": {"persona": p}}))
    if ws.has_players():
        from pilang_engine.api import churn
        add("Churn risk", lambda: churn(ws, None, 0.95))
    return words, out


def _personas(ws: Any) -> list[str]:
    return ws.persona_names(by="size")


def to_html(ws: Any, since: str | None = None, until: str | None = None) -> str:
    words, parts = sections(ws, since, until)
    body = [f"<h1>Community report: {html.escape(words)}</h1>",
            (f"<p class='meta'>workspace {html.escape(str(ws.path.resolve()))} · generated"
             f" {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by pilang</p>")]
    for title, result in parts:
        body.append(f"<h2>{html.escape(title)}</h2>{result.to_html()}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'><title>Community report: {html.escape(words)}"
            f"</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>")


def to_markdown(ws: Any, since: str | None = None, until: str | None = None) -> str:
    words, parts = sections(ws, since, until)
    lines = [f"# Community report: {words}", "",
             f"_workspace {ws.path.resolve()}, generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by pilang_", ""]
    for title, result in parts:
        d = result.data
        lines += [f"## {title}", "", display_string(d.get(K("answer"))), ""]
        lines += [x for n in notes(d) for x in (n, "")]
        line = score_line(d)
        if line:
            lines += [f"_{line}_", ""]
        if result.table is not None:  # the answer's table, as Markdown
            heads = [column(c) for c in result.table.columns]
            lines += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in result.table.cells()]
            lines.append("")
        for name, values in (result.series or {}).items():
            if name != "x" and name not in BAND and sparkline(values).strip():  # edges: in the HTML chart
                lines += [f"`{name}: {sparkline(values)}`", ""]
        for q in quotes(d.get(K("evidence")))[:3]:
            when = " · ".join(x for x in (str(q["time"])[:10] if q.get("time") else "", q.get("source") or "",
                                          f"#{q['id']}") if x)
            lines += [f"> {q['text'][:300]}", f"> — {when}", ""]
    return "\n".join(lines)


def write(ws: Any, out: str | Path, since: str | None = None, until: str | None = None, fmt: str | None = None
          ) -> dict[str, Any]:
    """Write the report; returns where, in what format, how many sections and how long it took."""
    started = time.perf_counter()
    path = Path(out)
    kind = fmt or ("md" if path.suffix.lower() in (".md", ".markdown") else "html")
    if kind not in ("html", "md"):
        raise ValueError(f"a report is html or md, not {kind!r}")
    text = to_html(ws, since, until) if kind == "html" else to_markdown(ws, since, until)
    path.write_text(text, encoding="utf-8")
    return {"report": str(path), "format": kind, "bytes": len(text.encode()), "seconds": round(time.perf_counter() - started, 1)}
