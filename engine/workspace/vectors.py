"""The faiss index over message embeddings: exact below FLAT_LIMIT vectors, HNSW above; ids are
message row ids. Persisted beside the database and brought in line with it by `sync`."""
from __future__ import annotations

import json
import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from .files import atomic_file

if TYPE_CHECKING:  # the store opens its index lazily (Workspace.vector_index): no import cycle at run time
    from .store import Workspace

FLAT_LIMIT = 100_000
HNSW_M, HNSW_EF_SEARCH, HNSW_EF_CONSTRUCTION = 32, 128, 80

# Indexes read from disk, shared by every Workspace of this process that reads the same saved file (the
# team server's sessions: one copy in memory, not one per developer). Keyed by the file's identity, so a
# newer save is a new entry; searching never changes an index, and a session that must add vectors
# copies it first (`_own`). Held weakly: an index nobody uses any more is freed.
_LOADED: weakref.WeakValueDictionary[tuple[Any, ...], Any] = weakref.WeakValueDictionary()
_LOADED_META: dict[tuple[Any, ...], dict[str, Any]] = {}
_LOADED_LOCK = threading.Lock()


def _faiss() -> Any:
    import faiss  # faiss-cpu or faiss-gpu: the same module
    return faiss


class VectorIndex:
    """The workspace's message index, loaded lazily and kept in step with the `vectors` table."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.file = ws.path / "index.faiss"
        self.meta_file = ws.path / "index.json"
        self.index: Any = None
        self.meta: dict[str, Any] = {}
        self.checked = False  # compared with the database since loading
        self.shared = False  # self.index is the process-wide copy of the saved file (never changed in place)

    @property
    def kind(self) -> str:
        return self.meta.get("kind", "none")

    def _new(self, dim: int, size: int) -> Any:
        faiss = _faiss()
        if size >= FLAT_LIMIT:
            inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
            kind = "hnsw"
        else:
            inner = faiss.IndexFlatIP(dim)
            kind = "flat"
        self.meta = {"kind": kind, "model": self.ws.embed_model, "dim": dim}
        return faiss.IndexIDMap2(inner)

    def load(self) -> Any:
        """The index as saved, if it matches the workspace's model; else a fresh empty one."""
        if self.index is None:
            model, dim = self.ws.embed_model, self.dim()
            if self.file.exists() and self.meta_file.exists():
                self._read(model, dim)
            if self.index is None:
                self.index = self._new(dim, 0)
        return self.index

    def _read(self, model: str, dim: int) -> None:
        """The saved index, from the process-wide copy when another Workspace already read this file."""
        try:
            st = self.file.stat()
        except FileNotFoundError:
            return
        key = (str(self.file.resolve()), st.st_ino, st.st_mtime_ns, st.st_size, model, dim)
        with _LOADED_LOCK:
            index, meta = _LOADED.get(key), _LOADED_META.get(key)
        if index is None or meta is None:
            meta = json.loads(self.meta_file.read_text())
            if meta.get("model") != model or meta.get("dim") != dim:
                return
            index = _faiss().read_index(str(self.file))
            with _LOADED_LOCK:  # older saves of this file are no longer read
                for old in [k for k in _LOADED_META if k[0] == key[0] or k not in _LOADED]:
                    _LOADED_META.pop(old, None)
                _LOADED[key], _LOADED_META[key] = index, meta
        self.index, self.meta, self.shared = index, dict(meta), True

    def _own(self) -> Any:
        """self.index, copied first if it is the shared one (about to be added to)."""
        if self.shared:
            self.index, self.shared = _faiss().clone_index(self.index), False
        return self.index

    def current(self) -> Any:
        """The index, brought up to date first when the saved one lacks vectors the database has (saved
        by a process that had not seen every vector: two ingests at once, or one killed mid-way), and
        when messages have no vector yet because the ingest that stored them was killed."""
        index = self.load()
        if not self.checked:
            from ..ingestion.pipeline import catch_up
            embedded = catch_up(self.ws)  # rows a killed ingest left without vectors (none while one runs)
            if embedded or index.ntotal != self.embedded_count():
                self.sync()
            self.checked = True
        return self.index

    def embedded_count(self) -> int:
        return int(self.ws.db.execute("SELECT count(*) FROM messages m JOIN vectors v ON v.hash = m.content_hash"
                                      " AND v.model = ?", [self.ws.embed_model]).fetchone()[0])

    def dim(self) -> int:
        from .embed import MODELS
        return MODELS[self.ws.embed_name][1]

    def ids(self) -> np.ndarray:
        return _faiss().vector_to_array(self.load().id_map).astype(np.int64)

    def sync(self) -> int:
        """Add the embedded messages the index lacks (rebuilding it when it must change type);
        returns how many vectors were added."""
        index = self.load()
        model = self.ws.embed_model
        embedded = np.array([r[0] for r in self.ws.db.execute(
            "SELECT m.id FROM messages m JOIN vectors v ON v.hash = m.content_hash AND v.model = ?",
            [model])], dtype=np.int64)
        present = self.ids()
        stale = np.setdiff1d(present, embedded, assume_unique=True).size > 0
        wants_hnsw = embedded.size >= FLAT_LIMIT
        if stale or wants_hnsw != (self.kind == "hnsw"):
            index = self.index = self._new(self.dim(), embedded.size)
            self.shared = False
            present = np.zeros(0, dtype=np.int64)
        missing = np.setdiff1d(embedded, present, assume_unique=True)
        if missing.size:
            index = self._own()
        for start in range(0, missing.size, 20_000):
            chunk = [int(i) for i in missing[start:start + 20_000]]
            marks = ",".join("?" * len(chunk))
            rows = self.ws.db.execute(
                f"SELECT m.id, v.vector FROM messages m JOIN vectors v ON v.hash = m.content_hash AND v.model = ?"
                f" WHERE m.id IN ({marks})", [model, *chunk]).fetchall()
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            index.add_with_ids(vecs, ids)
        if missing.size or stale or not self.file.exists():
            self.save()
        self.checked = True
        return int(missing.size)

    def forget(self, ids: list[int]) -> None:
        """Take these messages' vectors out of the index (an edited or deleted message): removed in place
        from a flat index; an HNSW index cannot remove, so it is rebuilt from the database on next sync."""
        if not ids:
            return
        self.load()
        index = self._own()
        try:
            index.remove_ids(_faiss().IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
        except RuntimeError:
            self.index = self._new(self.dim(), 0)
        self.save()

    def save(self) -> None:
        """Write atomically: the old index stays valid until the new one is complete."""
        self.meta["count"] = int(self.index.ntotal)
        with atomic_file(self.file) as tmp:  # a unique name: two processes saving never share one
            _faiss().write_index(self.index, str(tmp))
        with atomic_file(self.meta_file) as tmp:
            tmp.write_text(json.dumps(self.meta))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) by cosine similarity, optionally only among `allowed` ids."""
        index = self.current()
        if index.ntotal == 0 or k <= 0 or (allowed is not None and allowed.size == 0):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        faiss = _faiss()
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))
                      if self.kind == "hnsw" else faiss.SearchParameters(sel=selector))
        scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]
