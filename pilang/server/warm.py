"""Imported once, by the team server's fork server: the language, and every library the engine imports
lazily on first use. Each worker is forked from there, so a developer's first search, forecast or topic
fit never waits for an import, and no interrupt (a time limit, a client's Ctrl-C) can land inside one.
Their pages are shared by every worker until written. A library that is not installed is skipped. The packaged
sentiment and toxicity models and the language detector's models are loaded here too."""
from __future__ import annotations

import importlib
import os

LIBRARIES = (
    "numpy", "scipy.sparse", "scipy.sparse.csgraph", "scipy.stats", "scipy.optimize", "pandas",
    "sklearn.metrics", "sklearn.model_selection", "sklearn.linear_model", "sklearn.feature_extraction.text",
    "sklearn.preprocessing", "sklearn.pipeline", "sklearn.ensemble", "sklearn.decomposition", "sklearn.cluster",
    "sklearn.inspection", "faiss", "openvino", "tokenizers", "sqlite_utils", "networkx",
    "statsmodels.stats.multitest", "statsmodels.stats.proportion", "statsmodels.tsa.exponential_smoothing.ets",
    "matplotlib.figure", "matplotlib.dates", "matplotlib.ticker", "lingua", "crepes", "stopwordsiso",
    "rjieba", "httpx", "ijson", "dtaidistance", "gensim.corpora", "gensim.models.coherencemodel",
    "torch", "torch.func", "transformers", "sentence_transformers", "umap", "hdbscan", "bertopic",
    "bertopic.representation", "bertopic.vectorizers", "bertopic.backend", "torch_geometric.nn",
    "torch_geometric.data", "torch_geometric.transforms", "torch_geometric.utils",
)


def _load() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    for name in ("pilang.session", "pilang.server.developers", "pilang.server.workers", "pilang.output.answers",
                 "pilang_engine.api"):
        importlib.import_module(name)
    for name in LIBRARIES:
        try:
            importlib.import_module(name)
        except Exception:  # an optional library missing or broken here: imported (or not) when used
            pass
    # the packaged models every ingest and answer reads (numpy arrays: shared pages), and the language models
    # (detection in a worker then runs one text at a time: the fork server's thread pool is not inherited)
    try:
        from pilang_engine.api import preload
        preload()
    except Exception:  # loaded on first use instead
        pass


_load()
