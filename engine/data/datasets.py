"""Finding the shared real data sets (../shared/data, or $PILANG_DATA); never copied into the project."""
from __future__ import annotations

import os
from pathlib import Path


class DatasetMissing(Exception):
    """The shared data, or one data set in it, is not on this machine."""


def data_root() -> Path:
    """$PILANG_DATA, else the first shared/data found beside the project or above the cwd."""
    if os.environ.get("PILANG_DATA"):
        root = Path(os.environ["PILANG_DATA"])
        if root.is_dir():
            return root
        raise DatasetMissing(f"PILANG_DATA={root} is not a directory")
    here = Path(__file__).resolve().parent.parent
    for base in (here, *here.parents, Path.cwd(), *Path.cwd().parents):
        candidate = base / "shared" / "data"
        if candidate.is_dir():
            return candidate
    raise DatasetMissing("no shared data: set PILANG_DATA or put the shared/ folder beside the project")


def dataset(name: str) -> Path:
    """The folder of one shared data set, e.g. dataset("steam-reviews-warframe")."""
    path = data_root() / name
    if not path.is_dir():
        raise DatasetMissing(f"shared data set {name!r} is missing from {data_root()}")
    return path
