"""Derived state: what a layer computes from a workspace's data (the vector index, the player graph, the
sentiment model, change history, grids, topic fits) and keeps in memory. It lives here, beside the
workspace and not in it: the store stores, the layer that derives a value builds it through `derived`.

Every value is valid for one version of the data: the workspace's generation, which each transaction that
changes data bumps (`Workspace.transaction`), in this process or another. A value built at an older
generation is rebuilt on its next use, so nothing derived outlives the data it came from; the learner's
bookkeeping (`transaction(data=False)`) keeps them. A layer may add its own key (the image index is also
keyed by its row count), or key a value by what it was computed from instead of the generation (the
sentiment model: the messages and the embedder, so a persona refit does not refit it). `forget` drops
values at once, for writes made outside a transaction."""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .store import Workspace

T = TypeVar("T")


class Derived:
    """One workspace's derived values: name -> (version, value). The workspace carries this one opaque
    object (values such as the index point back at their workspace, so a table beside it, keyed weakly by
    workspace, would keep every workspace alive); only this module reads or fills it."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[tuple[Any, Hashable], Any]] = {}
        self.lock = threading.Lock()


def derived(ws: Workspace, name: str, build: Callable[[], T], key: Hashable = None, versioned: bool = True) -> T:
    """The value `name` of this workspace's data (and `key`), built by `build` when missing or stale.
    `versioned=False`: valid while `key` is unchanged, whatever the generation."""
    version = (ws.generation() if versioned else None, key)
    hit = ws.derived.values.get(name)
    if hit is not None and hit[0] == version:
        return hit[1]
    value = build()
    with ws.derived.lock:
        ws.derived.values[name] = (version, value)
    return value


def peek(ws: Workspace, name: str) -> Any:
    """The value `name` if one is held for the current data, else None (nothing is built)."""
    hit = ws.derived.values.get(name)
    return hit[1] if hit is not None and hit[0][0] in (None, ws.generation()) else None


def forget(ws: Workspace, *names: str) -> None:
    """Drop the named values (every one without names): they are rebuilt on next use."""
    with ws.derived.lock:
        if not names:
            ws.derived.values.clear()
        for name in names:
            ws.derived.values.pop(name, None)
