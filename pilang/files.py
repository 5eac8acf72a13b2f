"""Which files a session's code may read and write. Every primitive argument that names a file is
declared with the primitive (`@session_primitive("report", paths={"out": "write"})`), and the
registry passes it through the session's `files` policy after it is converted to plain Python,
whatever it was written as (a string, a symbol `'/x`, a keyword `:/x`, `(keyword "/x")`, a list of
them): there is no other way for a path to reach the engine. `load` goes through the same policy.

Locally (`Files`) a program reads and writes any file the user can. The team server puts a narrower
policy in its place (pilang/server/policy.py: reads only from import folders, writes only into the
developer's own output folder)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .datum import Keyword, Pair, Symbol
from .errors import PilangError

READ, WRITE = "read", "write"


def path_text(value: Any, who: str) -> str | list[str]:
    """A path argument as text (or a list of them), whatever it was written as; else a type error."""
    if type(value) in (Symbol, Keyword):
        value = value.name
    if type(value) is str:
        if not value or "\x00" in value:
            raise PilangError("value", f"{who}: {value!r} is not a file name")
        return value
    if type(value) is Pair or isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            got = path_text(v, who)
            out += got if isinstance(got, list) else [got]
        return out
    raise PilangError("type", f"{who}: a file is named by a string, got {type(value).__name__}")


class Files:
    """A local session's policy: any file the user can reach, a relative path from the current directory."""

    def check(self, value: Any, mode: str, who: str) -> str | list[str]:
        """The path argument `value` (of a primitive `who`, to `mode` READ or WRITE), as the engine takes it."""
        found = path_text(value, who)
        if isinstance(found, list):
            return [self.allow(p, mode, who) for p in found]
        return self.allow(found, mode, who)

    def allow(self, path: str, mode: str, who: str) -> str:
        """One path as the engine will open it, or a permission error (a narrower policy refuses)."""
        return path

    def load_target(self, path: str, from_file: str) -> str:
        """The file `(load path)` in `from_file` reads: a relative path is relative to the file that says
        it (an input typed at a prompt has none: the current directory)."""
        target = Path(path)
        if not target.is_absolute() and not from_file.startswith("<"):
            target = Path(from_file).parent / target
        return self.allow(str(target), READ, "load")
