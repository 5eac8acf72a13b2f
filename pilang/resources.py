"""Where the project's non-Python files live: the grammar and the pilang standard library."""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _find(folder: str) -> Path:
    """`folder` inside the installed package, or beside the package in a source checkout."""
    for base in (_HERE / "_data", _HERE.parent):
        if (base / folder).is_dir():
            return base / folder
    raise FileNotFoundError(f"pilang installation is missing its {folder}/ folder")


def grammar_path() -> Path:
    """The lark grammar, the one definition of pilang's syntax."""
    return _find("grammar") / "pilang.lark"


def stdlib_dir() -> Path:
    """The folder of pilang source loaded at start-up (prelude, query evaluator)."""
    return _find("stdlib")
