"""Toxicity, a score of its own beside sentiment: P(toxic) of English game chat from the packaged model
(trained on GameTox and CONDA; its held-out figures are in models/toxicity.json, rebuilt by
toxicity_training.py). A message in another language, or without a vector, gets no score (NaN, null)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODELS = Path(__file__).resolve().parent / "models"  # the checkout's folder, also from an editable install's link tree
LANGUAGES = {"en", None}  # None: too short to tell, read as English (most short chat is)


class Toxicity:
    def __init__(self, folder: Path = MODELS) -> None:
        from .sentiment_features import Features
        self.card = json.loads((folder / "toxicity.json").read_text())
        with np.load(folder / "toxicity.npz") as z:
            self.model = Features.load(z)

    def proba(self, texts: list[str], vectors: np.ndarray, languages: list[str | None],
              has_vector: np.ndarray | None = None) -> np.ndarray:
        """P(toxic) of each text; NaN where it is not scored."""
        out = np.full(len(texts), np.nan)
        idx = [i for i, lang in enumerate(languages) if lang in LANGUAGES and (has_vector is None or has_vector[i])]
        if idx:
            out[idx] = self.model.predict_proba([texts[i] for i in idx], vectors[idx])[:, 1]
        return out

    def summary(self) -> str:
        h = self.card["held_out"]
        parts = [f"{name} {v['packaged']['roc_auc']:.2f}" for name, v in h.items()]
        return "packaged game-chat toxicity model (English); held-out ROC-AUC: " + ", ".join(parts)

    def quality(self) -> dict[str, Any]:
        return {name: {s: {k: v[k] for k in ("roc_auc", "balanced_accuracy", "brier", "calibration_error")}
                       for s, v in held.items()} for name, held in self.card["held_out"].items()}


@lru_cache(maxsize=1)
def packaged_toxicity() -> Toxicity:
    return Toxicity()
