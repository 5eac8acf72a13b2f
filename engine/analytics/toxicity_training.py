"""Rebuilds the packaged toxicity model from the shared data, and scores it where it never trained.

    python -m pilang_engine.analytics.toxicity_training [--out DIR]

Toxicity is not sentiment: "gg ez noob" is hostile and can be cheerful, "this patch ruined ranked" is negative
and not toxic. It is its own score, P(toxic), on English game chat.

What it trains on (human labels; see each data set's SOURCE.md for licences):
- GameTox (in-game chat, one label per message): toxic = insults/flaming, other offensive, hate/harassment,
  threats, extremism; non-toxic = 0. Deduplicated on normalised text first (a third of rows repeat a text),
  a text's label the majority of its rows; 80% of the distinct texts;
- CONDA (Dota 2 in-game chat, one label per utterance): toxic = explicit or implicit toxicity; not = action or
  other. Its upstream train and validation files share matches, so both are pooled and split here by match:
  80% of the matches.

What it scores on, none of it seen in training (the same rows for the model and every baseline):
- the other 20% of GameTox's distinct texts;
- the other 20% of CONDA's matches (unseen matches);
- CONDA held out whole, by a second model trained on GameTox alone (another game's chat).

The model: logistic regression, unweighted (its probabilities are read as probabilities, so the class mix is
the training data's), over the same columns as the sentiment model (sentiment_features.py). Beside it: TF-IDF +
logistic regression on the same rows, and VADER's negativity. Figures: ROC-AUC, balanced accuracy at P >= 0.5,
Brier score and calibration error (equal-width bins)."""
from __future__ import annotations

import argparse
import csv
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..data.datasets import dataset
from .sentiment_features import Features
from .sentiment_training import _key, embed

MODELS = Path(__file__).resolve().parent / "models"  # the checkout's folder, also from an editable install's link tree
SEED = 20261203
CONDA_TOXIC, GAMETOX_TOXIC = {"E", "I"}, {"1.0", "2.0", "3.0", "4.0", "5.0"}
HELD_OUT = {"gametox": "GameTox, unseen texts", "conda": "CONDA, unseen matches",
            "conda_whole": "CONDA held out whole (a model trained on GameTox alone)"}


def gametox() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, test): distinct texts, each with its majority label, split 80/20 at random."""
    votes: dict[str, Counter] = {}
    first: dict[str, str] = {}
    with open(dataset("gametox-ingame-toxicity") / "gametox.csv", newline="") as f:
        for r in csv.DictReader(f):
            text, label = r["message"].strip(), r["label"].strip()
            if not text or not label:
                continue
            votes.setdefault(_key(text), Counter())[int(label in GAMETOX_TOXIC)] += 1
            first.setdefault(_key(text), text)
    rows = [{"text": first[k], "label": int(c[1] > c[0]), "group": "gametox", "source": "gametox"}
            for k, c in sorted(votes.items())]
    random.Random(SEED).shuffle(rows)
    cut = int(len(rows) * 0.8)
    return rows[:cut], rows[cut:]


def conda() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, test): CONDA's labelled utterances split 80/20 by match."""
    rows = []
    folder = dataset("dota2-ingame-chat-conda")
    for name in ("CONDA_train.csv", "CONDA_valid.csv"):
        with open(folder / name, newline="") as f:
            for r in csv.DictReader(f):
                text = r["utterance"].replace(" [SEPA] ", " ").strip()
                if text and r["intentClass"] in ("E", "I", "A", "O"):
                    rows.append({"text": text, "label": int(r["intentClass"] in CONDA_TOXIC),
                                 "group": "conda:" + r["matchId"], "source": "conda"})
    matches = sorted({r["group"] for r in rows})
    random.Random(SEED).shuffle(matches)
    test = set(matches[:len(matches) // 5])
    return [r for r in rows if r["group"] not in test], [r for r in rows if r["group"] in test]


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import (
        balanced_accuracy_score,
        brier_score_loss,
        f1_score,
        roc_auc_score,
    )

    from .sentiment_training import calibration_error
    two = np.stack([1 - p, p], axis=1)
    return {"roc_auc": round(float(roc_auc_score(y, p)), 4),
            "balanced_accuracy": round(float(balanced_accuracy_score(y, p >= 0.5)), 4),
            "toxic_f1": round(float(f1_score(y, p >= 0.5)), 4), "brier": round(float(brier_score_loss(y, p)), 4),
            "calibration_error": calibration_error(y, two), "n": int(len(y)), "n_toxic": int(y.sum()),
            "base_rate": round(float(y.mean()), 4)}


def fit(rows: list[dict[str, Any]], vectors: np.ndarray, C: float = 1.0, alpha: float = 1.0) -> Features:
    from sklearn.linear_model import LogisticRegression
    feats = Features.fresh(alpha)
    X = feats.fit_transform([r["text"] for r in rows], vectors)
    lr = LogisticRegression(max_iter=4000, C=C).fit(X, [r["label"] for r in rows])
    feats.coef = np.vstack([np.zeros((1, X.shape[1])), lr.coef_]).astype(np.float32)
    feats.intercept = np.array([0.0, lr.intercept_[0]], np.float32)
    return feats


def tfidf_baseline(rows: list[dict[str, Any]]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                         LogisticRegression(max_iter=3000, C=4.0)).fit([r["text"] for r in rows],
                                                                       [r["label"] for r in rows])


def vader_negativity(texts: list[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    sia = SentimentIntensityAnalyzer()
    return np.array([sia.polarity_scores(t)["neg"] for t in texts])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=MODELS)
    ap.add_argument("--cache", type=Path, default=None, help="where training vectors are cached")
    args = ap.parse_args(argv)
    from ..workspace.embed import cache_dir
    cache = args.cache or cache_dir() / "sentiment-training"
    started = time.perf_counter()
    gt_train, gt_test = gametox()
    cd_train, cd_test = conda()
    every = gt_train + gt_test + cd_train + cd_test
    print(f"{len(gt_train):,} + {len(cd_train):,} rows to train on; {len(gt_test) + len(cd_test):,} held out;"
          " embedding what is not cached...", flush=True)
    vec = dict(zip((r["text"] for r in every), embed([r["text"] for r in every], cache)))
    V = lambda rows: np.stack([vec[r["text"]] for r in rows])  # noqa: E731

    train = gt_train + cd_train
    model, gametox_only = fit(train, V(train)), fit(gt_train, V(gt_train))
    base, base_gametox = tfidf_baseline(train), tfidf_baseline(gt_train)
    results: dict[str, Any] = {}
    for key, rows, m, b in (("gametox", gt_test, model, base), ("conda", cd_test, model, base),
                            ("conda_whole", cd_train + cd_test, gametox_only, base_gametox)):
        y, texts = np.array([r["label"] for r in rows]), [r["text"] for r in rows]
        results[HELD_OUT[key]] = {"packaged": scores(y, m.predict_proba(texts, V(rows))[:, 1]),
                                  "tfidf_lr": scores(y, b.predict_proba(texts)[:, 1]),
                                  "vader_negativity": scores(y, vader_negativity(texts))}
        print(f"  {HELD_OUT[key]}: " + ", ".join(f"{s} AUC {v['roc_auc']:.3f}" for s, v in results[HELD_OUT[key]]
                                                 .items()), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "toxicity.npz", **model.arrays())
    card = {"name": "pilang game-chat toxicity", "version": time.strftime("%Y-%m-%d"), "labels": ["not", "toxic"],
            "embedder": "all-MiniLM-L6-v2", "features": model.describe(), "languages": ["en"],
            "trained_on": {"gametox": len(gt_train), "conda": len(cd_train)}, "held_out": results,
            "seconds": round(time.perf_counter() - started),
            "recipe": "python -m pilang_engine.analytics.toxicity_training",
            "data": {"gametox-ingame-toxicity": "shucoll/GameTox (Naseem et al., NAACL 2025); no licence file:"
                                                " research or internal use",
                     "dota2-ingame-chat-conda": "usydnlp/CONDA (Weld et al., 2021); no licence stated: research"
                                                " or internal use"}}
    (args.out / "toxicity.json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
