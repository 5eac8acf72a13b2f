"""Tables: what engine primitives return for rows of records; a vector of maps that prints aligned."""
from __future__ import annotations

import html
from typing import Any

from .datum import Keyword
from .output.readable import brief, column, scalar

MAX_CELL = 60  # characters of a cell in a terminal; HTML wraps up to HTML_CELL
HTML_CELL = 400
# words break only where one is wider than the page (a table too wide at whole words scrolls in its own box)
CELL = "padding:2px 6px;vertical-align:top;overflow-wrap:break-word;border-bottom:1px solid #eee"


class Table(list):
    """Rows (pilang maps with keyword keys) with a column order; indexable and mappable like a vector."""

    def __init__(self, rows: list[dict[Any, Any]], columns: list[str] | None = None, title: str = "") -> None:
        super().__init__(rows)
        self.columns = columns or ([k.name for k in rows[0]] if rows else [])
        self.title = title

    def cells(self, limit: int = MAX_CELL) -> list[list[str]]:
        """Each row's values as words, each cut at `limit` characters."""
        out = []
        for row in self:
            line = []
            for c in self.columns:
                v = row.get(Keyword(c))
                text = brief(v, limit) if isinstance(v, (dict, list, tuple)) else scalar(v, c)
                line.append(text if len(text) <= limit else text[:limit - 1] + "…")
            out.append(line)
        return out

    def __pilang_repr__(self) -> str:
        """Aligned plain text, numbers right-aligned."""
        cells = self.cells()
        heads = [column(c) for c in self.columns]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(heads)]
        numeric = self.numeric()

        def fmt(values: list[str]) -> str:
            return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()
        lines = [self.title] if self.title else []
        lines += [fmt(heads), fmt(["-" * w for w in widths])]
        lines += [fmt(r) for r in cells]
        lines.append(f"({len(self)} row{'s' if len(self) != 1 else ''})")
        return "\n".join(lines)

    def numeric(self) -> list[bool]:
        """Which columns hold only numbers (right-aligned; text left-aligned)."""
        return [bool(self) and all(isinstance(row.get(Keyword(c)), (int, float)) and not isinstance(
            row.get(Keyword(c)), bool) for row in self) for c in self.columns]

    def to_html(self) -> str:
        """An HTML table, for notebooks: text left-aligned, numbers right-aligned."""
        align = ["right" if n else "left" for n in self.numeric()]
        head = "".join(f"<th style='{CELL};text-align:{a}'>{html.escape(column(c))}</th>"
                       for c, a in zip(self.columns, align))
        body = "".join("<tr>" + "".join(f"<td style='{CELL};text-align:{a}'>{html.escape(v)}</td>"
                                        for v, a in zip(r, align)) + "</tr>" for r in self.cells(HTML_CELL))
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return (f"<div style='overflow-x:auto;max-width:100%'><table style='border-collapse:collapse'>{caption}"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
