"""Whether a model beats its baseline, decided by an interval on the difference (a paired bootstrap over
the held-out rows or backtest origins), never by a point difference: a tie keeps the baseline. And the
calibration of probabilities printed as probabilities (held-out Brier score and expected calibration
error)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

RESAMPLES = 400
SEED = 0


def paired(metric: Callable[[np.ndarray], float], units: int, higher_is_better: bool = True,
           n: int = RESAMPLES, seed: int = SEED, confidence: float = 0.95) -> dict[str, Any]:
    """`metric(idx)` is the model's score minus the baseline's on the rows `idx` (the same rows for both);
    the full difference, its paired bootstrap interval over the `units`, and the verdict: "ahead" or
    "behind" only when the interval leaves zero out (with the sign of better), else "tied"."""
    rng = np.random.default_rng(seed)
    full = float(metric(np.arange(units)))
    draws = np.array([metric(rng.integers(0, units, units)) for _ in range(n)], float)
    draws = draws[np.isfinite(draws)]
    lo, hi = (np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2]) if len(draws)
              else (-np.inf, np.inf))
    sign = 1 if higher_is_better else -1
    better_lo, better_hi = sorted((sign * lo, sign * hi))
    verdict = "ahead" if better_lo > 0 else "behind" if better_hi < 0 else "tied"
    return {"difference": round(full, 4), "interval": [round(float(lo), 4), round(float(hi), 4)],
            "verdict": verdict, "resamples": int(len(draws)), "units": int(units)}


def auc_difference(y: np.ndarray, ours: np.ndarray, theirs: np.ndarray, **kw: Any) -> dict[str, Any]:
    """ROC-AUC of `ours` minus that of `theirs` on the same held-out rows, paired bootstrap over the rows."""
    from sklearn.metrics import roc_auc_score
    y, ours, theirs = np.asarray(y), np.asarray(ours), np.asarray(theirs)

    def diff(i: np.ndarray) -> float:
        if y[i].min() == y[i].max():
            return float("nan")
        return roc_auc_score(y[i], ours[i]) - roc_auc_score(y[i], theirs[i])
    return paired(diff, len(y), **kw)


def loss_difference(ours: np.ndarray, theirs: np.ndarray, **kw: Any) -> dict[str, Any]:
    """Mean loss of `ours` minus `theirs` over paired units (e.g. per-origin MAE): lower is better."""
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    return paired(lambda i: float(ours[i].mean() - theirs[i].mean()), len(ours), higher_is_better=False, **kw)


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Held-out Brier score and expected calibration error (equal-width bins, weighted by their rows)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    gap = sum(abs(p[which == b].mean() - y[which == b].mean()) * (which == b).sum()
              for b in range(bins) if (which == b).any())
    return {"brier": round(float(np.mean((p - y) ** 2)), 4), "calibration_error": round(float(gap / len(y)), 4),
            "base_rate": round(float(y.mean()), 4), "mean_predicted": round(float(p.mean()), 4)}


def words(vs: dict[str, Any], baseline: str) -> str:
    """'ahead of X (+0.012, 95% paired bootstrap [+0.004, +0.020])'."""
    lead = {"ahead": "ahead of", "tied": "tied with", "behind": "behind"}[vs["verdict"]]
    lo, hi = vs["interval"]
    return f"{lead} {baseline} ({vs['difference']:+.3f}, 95% paired bootstrap [{lo:+.3f}, {hi:+.3f}])"
