"""Output and reading: print, display, write, read."""
from __future__ import annotations

import sys
from typing import Any

from ..output.notation import display_string, write_string
from ..registry import primitive


@primitive("print")
def p_print(*xs: Any) -> None:
    """Display the arguments separated by spaces, then a newline."""
    sys.stdout.write(" ".join(display_string(x) for x in xs) + "\n")


@primitive("eprint")
def eprint(*xs: Any) -> None:
    """Like print, to standard error (warnings, progress)."""
    sys.stderr.write(" ".join(display_string(x) for x in xs) + "\n")


@primitive("display")
def display(*xs: Any) -> None:
    """Display the arguments (strings without quotes), no newline."""
    sys.stdout.write("".join(display_string(x) for x in xs))


@primitive("write")
def write(x: Any) -> None:
    """Write x in readable form (what `read` gives back), no newline."""
    sys.stdout.write(write_string(x))


@primitive("to-json")
def to_json(x: Any) -> str:
    """x as one line of JSON (what `pilang --json` prints): maps as objects, keywords and symbols as
    their names, nil as null, a table as row objects, a query result as its answer/handler/model/
    held_out/evidence/rows."""
    from ..output.tojson import json_string
    return json_string(x)


@primitive("newline")
def newline() -> None:
    """Write a newline."""
    sys.stdout.write("\n")


@primitive("write-string")
def write_to_string(x: Any) -> str:
    """The readable text of x, as a string."""
    return write_string(x)


@primitive("read-string")
def read_string(text: str) -> Any:
    """The datum written in text (one datum)."""
    from ..reader import read_one
    return read_one(text, "<read-string>")
