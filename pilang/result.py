"""Query results: answer, evidence, handler, model and held-out score; text, HTML and a PNG plot."""
from __future__ import annotations

import threading
import time
from typing import Any

# the newest answer made on each thread: every session evaluates on a thread of its own, so on a team
# server one developer's answer is never attributed to another's form
_NEWEST = threading.local()


def newest() -> Result | None:
    """The newest Result made on this thread (the learner attributes it to the form that made it)."""
    return getattr(_NEWEST, "result", None)


class Result:
    """What a query returns. `(get r :answer)`, `(get r :evidence)` ... read it like a map."""

    def __init__(self, data: dict[Any, Any], series: dict[str, list[Any]] | None = None,
                 table: Any = None) -> None:
        self.created = time.perf_counter()
        _NEWEST.result = self
        self.data = data
        self.series = series
        self.table = table  # rows side by side (comparisons, per-group predictions), shown under the answer

    def __pilang_get__(self, key: Any, default: Any = None) -> Any:
        return self.data.get(key, default)

    def lines(self, width: int | None = None) -> list[str]:
        """The text rendering (see output/answers.py): headline, model and score, table, sparklines, quotes, evidence."""
        from .output.answers import result_lines
        return result_lines(self, width)

    def __pilang_repr__(self) -> str:
        return "\n".join(self.lines())

    def to_html(self) -> str:
        """The HTML rendering: the chart inline, quotes as quotations, the evidence collapsed."""
        from .output.answers import result_html
        return result_html(self)

    def to_png(self) -> bytes | None:
        if not self.series:
            return None
        from .output.rich import BAND, Plot
        x = self.series.get("x")
        ys = {k: [float("nan") if v is None else v for v in vals] for k, vals in self.series.items() if k != "x"}
        drawn = [k for k in ys if k not in BAND]  # a band's edges are shaded, not named
        named = " and ".join([", ".join(drawn[:-1]), drawn[-1]] if len(drawn) > 1 else drawn)
        return Plot(ys, x, named + " by day" if x else named, "line").to_png() if drawn else None
