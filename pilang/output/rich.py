"""Rich values for front ends: HTML snippets and plots (PNG), shown as text in a terminal."""
from __future__ import annotations

import io
from typing import Any

from ..datum import Pair
from ..errors import PilangError
from ..registry import primitive, session_primitive
from ..table import Table


class Html:
    """A piece of HTML: rendered by notebooks, shown as its source in a terminal."""

    def __init__(self, source: str) -> None:
        self.source = source

    def to_html(self) -> str:
        return self.source

    def __pilang_repr__(self) -> str:
        return f"#<html {self.source[:60]!r}>"


MARKS = ("unusual",)  # series drawn as points on the chart (NaN where nothing is marked)
BAND = ("low", "high")  # an interval's edges: shaded between, not drawn as lines


class Plot:
    """A line or bar chart of one or more series; PNG for notebooks, a summary in a terminal."""

    def __init__(self, series: dict[str, list[float]], x: list[Any] | None, title: str, kind: str) -> None:
        self.series, self.x, self.title, self.kind = series, x, title, kind

    def to_png(self) -> bytes:
        import matplotlib.dates as mdates
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
        # a Figure of its own, not pyplot's: pyplot's figure registry is global, and sessions on a team
        # server plot from threads of their own at once
        fig = Figure(figsize=(7, 3.2), dpi=100)
        ax = fig.subplots()
        dates = _as_dates(self.x)
        band = all(k in self.series for k in BAND)  # an interval: shaded, not two more lines
        for name, ys in self.series.items():
            xs = dates or self.x or list(range(len(ys)))
            if band and name in BAND:
                continue
            if name in MARKS:  # days flagged on the line they belong to, as points
                ax.plot(xs, ys, "o", color="#c0392b", markersize=6, label=name, zorder=3)
                continue
            (ax.bar if self.kind == "bar" else ax.plot)(xs, ys, label=name)
        if band:
            xs = dates or self.x or list(range(len(self.series["low"])))
            ax.fill_between(xs, self.series["low"], self.series["high"], color="#1f77b4", alpha=0.18,
                            linewidth=0, label="interval")
        if dates:  # dates as dates: a few readable ticks, not one rotated label per day
            locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        elif self.x is None or all(isinstance(v, (int, float)) for v in self.x):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))  # no fractional ticks
        else:
            fig.autofmt_xdate()
        ax.set_title(self.title)
        if len(self.series) > 1:
            ax.legend(fontsize="small")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()

    def __pilang_repr__(self) -> str:
        sizes = ", ".join(f"{k} ({len(v)} points)" for k, v in self.series.items())
        return f"#<plot {self.title!r}: {sizes}>"


def _as_dates(xs: list[Any] | None) -> list[Any] | None:
    """The x labels as datetimes when every one is an ISO date (or date and time), else None."""
    from datetime import datetime
    if not xs or not all(isinstance(v, str) and len(v) >= 10 for v in xs):
        return None
    try:
        return [datetime.fromisoformat(v[:10]) for v in xs]
    except ValueError:
        return None


def _numbers(xs: Any, who: str) -> list[float]:
    values = list(xs) if isinstance(xs, (list, tuple, Pair)) or xs is None else None
    if values is None or not all(type(v) in (int, float) for v in values):
        raise PilangError("type", f"{who} needs a list or vector of numbers")
    return values


@primitive("html")
def html(source: str) -> Html:
    """An HTML value, rendered by notebooks."""
    if type(source) is not str:
        raise PilangError("type", "html needs a string of HTML")
    return Html(source)


@primitive("plot")
def plot(ys: Any, *, x: Any = None, title: str = "", kind: Any = "line", series: Any = None) -> Plot:
    """A chart of numbers ys (or of a map series -> numbers); :x labels, :kind 'line or 'bar."""
    data = ({getattr(k, "name", str(k)): _numbers(v, "plot") for k, v in series.items()}
            if isinstance(series, dict) else {"": _numbers(ys, "plot")})
    labels = [getattr(v, "name", v) for v in x] if x is not None else None
    return Plot(data, labels, str(title), getattr(kind, "name", str(kind)))


@primitive("table")
def make_table(rows: Any, *, columns: Any = None, title: str = "") -> Table:
    """A table from a list or vector of maps (columns: the first row's keys, or :columns)."""
    maps = list(rows) if isinstance(rows, (list, tuple, Pair)) else None
    if maps is None or not all(isinstance(r, dict) for r in maps):
        raise PilangError("type", "table needs a list or vector of maps")
    names = [getattr(c, "name", str(c)) for c in columns] if columns is not None else None
    return Table(maps, names, str(title))


@session_primitive("show")
def show_value(s: Any, value: Any) -> None:
    """Display a value now (a table, plot or HTML renders richly in a notebook)."""
    s.show(value)
