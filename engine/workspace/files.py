"""Atomic file writes: a file is written under a unique temporary name beside it and moved into place,
so a reader (or a process killed mid-write) sees the old file or the new one, never half of either,
and two processes saving the same file at once never write into one temporary file."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yields a fresh temporary path in `target`'s folder; on success it replaces `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        kill_point("file-save")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


KILL_AT = "PILANG_KILL_AT"  # tests only: "POINT" or "POINT:N" kills this process at the N-th pass of POINT
_passes: dict[str, int] = {}


def kill_point(name: str) -> None:
    """A place where a crash must leave the workspace whole (inside a batch's transaction, between
    embedding chunks, mid index save, mid model save). The crash tests set PILANG_KILL_AT to die here
    with SIGKILL, as a killed process would; unset, this is one environment lookup."""
    spec = os.environ.get(KILL_AT)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] >= int(nth or 1):
        import signal
        os.kill(os.getpid(), signal.SIGKILL)


def content_hash(text: str) -> str:
    """A text's identity for the embedding cache (the same text is embedded once)."""
    import hashlib
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
