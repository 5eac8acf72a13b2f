"""Query results: answer, evidence, handler, model and held-out score; text, HTML and a PNG plot."""
from __future__ import annotations

import html
import time
from typing import Any

from .datum import Keyword
from .printer import display_string, write_string

K = Keyword


class Result:
    """What a query returns. `(get r :answer)`, `(get r :evidence)` ... read it like a map."""

    last: Result | None = None  # the newest answer (the learner attributes it to the form that made it)

    def __init__(self, data: dict[Any, Any], series: dict[str, list[Any]] | None = None,
                 table: Any = None) -> None:
        self.created = time.perf_counter()
        Result.last = self
        self.data = data
        self.series = series
        self.table = table  # rows side by side (comparisons, per-group predictions), shown under the answer

    def __pilang_get__(self, key: Any, default: Any = None) -> Any:
        return self.data.get(key, default)

    def lines(self) -> list[str]:
        d = self.data
        out = [display_string(d.get(K("answer"))), f"  handler: {display_string(d.get(K('handler')))}"]
        if d.get(K("model")):
            out.append(f"  model: {display_string(d.get(K('model')))}")
        if d.get(K("held-out")):
            out.append(f"  held-out: {write_string(d.get(K('held-out')))}")
        for key, value in (d.get(K("evidence")) or {}).items():
            text = write_string(value)
            out.append(f"  {getattr(key, 'name', key)}: {text if len(text) <= 300 else text[:299] + '…'}")
        return out

    def __pilang_repr__(self) -> str:
        lines = self.lines()
        if self.table is not None:
            lines[1:1] = ["  " + line for line in self.table.__pilang_repr__().splitlines()]
        return "\n".join(lines)

    def to_html(self) -> str:
        lines = self.lines()
        body = "".join(f"<li><code>{html.escape(line.strip())}</code></li>" for line in lines[1:])
        rows = self.table.to_html() if self.table is not None else ""
        return f"<p><b>{html.escape(lines[0])}</b></p>{rows}<ul>{body}</ul>"

    def to_png(self) -> bytes | None:
        if not self.series:
            return None
        from .display import Plot
        x = self.series.get("x")
        ys = {k: [float("nan") if v is None else v for v in vals] for k, vals in self.series.items() if k != "x"}
        return Plot(ys, x, display_string(self.data.get(K("answer")))[:80], "line").to_png()
