"""Message sentiment from the workspace's embeddings: a logistic model trained on the Steam
recommend flag (held-out accuracy recorded) when reviews are present, else anchor sentences."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..workspace.store import Workspace

ANCHORS = {
    "positive": ["I love this game, it is great fun", "amazing update, well done devs", "recommended, best game ever",
                 "really enjoying it, so good", "this patch made the game better", "so rewarding, worth every hour",
                 "finally balanced and fair, great job", "works perfectly now, thanks for the fix",
                 "beautiful and relaxing, makes me happy", "the community is helpful and friendly"],
    "negative": ["I hate this, the game is ruined", "terrible update, uninstalling", "not recommended, waste of money",
                 "so frustrating and broken", "this patch made the game worse", "boring and repetitive, nothing to do",
                 "unbalanced and unfair, nobody fixes it", "keeps crashing, I can't even play",
                 "a pointless grind with no rewards", "confused and stuck, nothing explains anything"],
}
POSITIVE, NEGATIVE = 0.1, -0.1  # a message scoring above / below counts as positive / negative
MIN_REVIEWS = 200  # fewer labelled reviews than this and the anchors are used instead


def message_vectors(ws: Workspace, ids: list[int]) -> np.ndarray:
    """The stored embeddings of messages, in the order of `ids` (zeros where none is stored)."""
    dim = ws.vector_index().dim()
    found = dict(ws.rows_in("SELECT m.id, v.vector FROM messages m JOIN vectors v ON v.hash = m.content_hash"
                            " AND v.model = ? WHERE m.id IN ({marks})", ids, [ws.embed_model]))
    out = np.zeros((len(ids), dim), np.float32)
    for row, i in enumerate(ids):
        if i in found:
            out[row] = np.frombuffer(found[i], dtype=np.float32)
    return out


class SentimentModel:
    """Scores in [-1, 1]: 2 * P(positive) - 1."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.kind, self.score, self.n_train = "anchors", None, 0
        self.held_out: dict[str, list[int]] = {}
        self._fit()

    def _fit(self) -> None:
        ws = self.ws
        rows = ws.db.execute("SELECT id, json_extract(meta, '$.voted_up') FROM messages WHERE source = 'steam'"
                             " AND json_extract(meta, '$.voted_up') IS NOT NULL ORDER BY id").fetchall()
        if len(rows) >= MIN_REVIEWS:
            from sklearn.linear_model import LogisticRegression
            from sklearn.metrics import balanced_accuracy_score
            from sklearn.model_selection import train_test_split
            X = message_vectors(ws, [r[0] for r in rows])
            y = np.array([int(r[1]) for r in rows])
            ids = np.array([r[0] for r in rows])
            train, test = train_test_split(np.arange(len(rows)), test_size=0.25, random_state=0, stratify=y)
            model = LogisticRegression(max_iter=2000, class_weight="balanced", C=2.0).fit(X[train], y[train])
            self.held_out = {"ids": ids[test].tolist(), "labels": y[test].tolist(),
                             "predicted": model.predict(X[test]).tolist()}  # for benchmarks to compare against
            self.score = {"metric": "balanced accuracy on held-out Steam reviews",
                          "value": round(float(balanced_accuracy_score(y[test], self.held_out["predicted"])), 3),
                          "n_test": int(len(test)),
                          # any constant answer has balanced accuracy 0.5 exactly: the baseline needs no fit
                          "baseline": "one class for every review", "baseline-value": 0.5}
            self.model = LogisticRegression(max_iter=2000, class_weight="balanced", C=2.0).fit(X, y)
            self.kind, self.n_train = "logistic regression on the Steam recommend flag", len(rows)
        else:
            enc = ws.embedder()
            self.pos = enc.encode(ANCHORS["positive"]).mean(axis=0)
            self.neg = enc.encode(ANCHORS["negative"]).mean(axis=0)

    def scores(self, ids: list[int]) -> np.ndarray:
        """Sentiment of stored messages, by id."""
        return self.scores_of(message_vectors(self.ws, ids))

    def scores_of(self, X: np.ndarray) -> np.ndarray:
        """Sentiment of embeddings (rows of X)."""
        if X.shape[0] == 0:
            return np.zeros(0)
        if self.kind == "anchors":
            return np.clip((X @ self.pos - X @ self.neg) * 5.0, -1.0, 1.0)
        return 2.0 * self.model.predict_proba(X)[:, 1] - 1.0

    def describe(self) -> dict[str, Any]:
        name = (f"closeness to {len(ANCHORS['positive'])} positive and {len(ANCHORS['negative'])} negative anchor"
                f" phrases (fewer than {MIN_REVIEWS} labelled reviews to train and score a model on)"
                if self.kind == "anchors" else self.kind)
        return {"model": name, "trained_on": self.n_train, "held_out": self.score}


def model_for(ws: Workspace) -> SentimentModel:
    """The workspace's sentiment model, refit when the message count changed."""
    key = (ws.count("messages"), ws.embed_model)
    cached = ws._sentiment
    if cached is None or cached[0] != key:
        ws._sentiment = (key, SentimentModel(ws))
    return ws._sentiment[1]

