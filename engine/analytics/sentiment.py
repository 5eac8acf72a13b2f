"""Message sentiment: the packaged game-text model (trained on human-labelled public game text, scored where
it never trained: see models/sentiment.json and sentiment_training.py), adapted to a workspace's own labels
(the Steam recommend flag) only where that beats it out of fold.

Every score is three probabilities (negative, neutral, positive) and a score in [-1, 1] = P(positive) -
P(negative). A message gets no score (NaN, null in answers) when it has no vector, or is in a language no
scored model covers; answers count those. Each answer says which model scored it and how well that model
did on that kind of source, or that it was never scored on that kind."""
from __future__ import annotations

import hashlib
import io
import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..workspace.derived import derived
from ..workspace.store import Workspace

# The phrases the engine used before it had a trained model: kept as a baseline that benchmarks and `pilang eval`
# score beside the packaged model (they paraphrase the simulator's templates, so they flatter the demo).
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
# a score above POSITIVE / below NEGATIVE is where P(positive) / P(negative) leads the other by 0.1: the label
# comes from the probabilities (argmax), these bands are only for counting scores already made
POSITIVE, NEGATIVE = 0.1, -0.1
MIN_REVIEWS = 200  # fewer labelled reviews than this and the workspace's labels are not used
FOLDS = 5
MODELS = Path(__file__).resolve().parent / "models"  # the checkout's folder, also from an editable install's link tree
EMBEDDER = "all-MiniLM-L6-v2"  # the vectors the packaged model reads
# what kind of text each source is, for the packaged model's held-out figure on that kind
KINDS = {"steam": "reviews", "discord": "chat", "dota-chat": "chat", "chat": "chat", "ingame": "chat",
         "tickets": "tickets", "zendesk": "tickets", "freshdesk": "tickets"}
HELD_OUT_KEY = {"reviews": "reviews of unseen games, English", "chat": "chat, unseen matches",
                "tickets": "tickets (complaint tweets to support accounts)"}


def message_vectors(ws: Workspace, ids: list[int], found: np.ndarray | None = None) -> np.ndarray:
    """The stored embeddings of messages, in the order of `ids` (zeros where none is stored; `found`, if
    given, is set True where one is)."""
    dim = ws.vector_index().dim()
    rows = dict(ws.rows_in("SELECT m.id, v.vector FROM messages m JOIN vectors v ON v.hash = m.content_hash"
                           " AND v.model = ? WHERE m.id IN ({marks})", ids, [ws.embed_model]))
    out = np.zeros((len(ids), dim), np.float32)
    for row, i in enumerate(ids):
        if i in rows:
            out[row] = np.frombuffer(rows[i], dtype=np.float32)
            if found is not None:
                found[row] = True
    return out


class Packaged:
    """The packaged model: its weights, its card, and the route each language takes (main model, the
    language's own character model, or none)."""

    def __init__(self, main: Any, own: dict[str, dict[str, np.ndarray]], main_languages: set[str],
                 card: dict[str, Any] | None = None, version: str = "unsaved") -> None:
        self.main, self.own, self.main_languages = main, own, set(main_languages)
        self.card, self.version = card or {}, version

    @classmethod
    def load(cls, folder: Path = MODELS) -> Packaged:
        from .sentiment_features import Features
        card = json.loads((folder / "sentiment.json").read_text())
        raw = (folder / "sentiment.npz").read_bytes()
        with np.load(io.BytesIO(raw)) as z:  # one read: the weights and the version hashed from them
            own = {lang: {k: z[f"lang_{lang}_{k}"] for k in ("idf", "coef", "intercept")}
                   for lang in card["languages"]["own"]}
            return cls(Features.load(z), own, set(card["languages"]["main"]), card,
                       "game-text-" + hashlib.sha1(raw).hexdigest()[:10])

    def route(self, language: str | None) -> str | None:
        """'main', the language's code (its own model), or None (no scored model: no sentiment)."""
        if language is None or language in self.main_languages:
            return "main"
        return language if language in self.own else None

    def proba(self, texts: list[str], vectors: np.ndarray, languages: list[str | None],
              has_vector: np.ndarray | None = None) -> np.ndarray:
        """Rows of P(negative), P(neutral), P(positive); NaN where the text gets no score."""
        from .sentiment_features import language_model_scores
        out = np.full((len(texts), 3), np.nan)
        routes = [self.route(lang) for lang in languages]
        main = [i for i, r in enumerate(routes) if r == "main" and (has_vector is None or has_vector[i])]
        if main:
            out[main] = self.main.predict_proba([texts[i] for i in main], vectors[main])
        for lang in {r for r in routes if r not in (None, "main")}:
            idx = [i for i, r in enumerate(routes) if r == lang]
            p = language_model_scores(self.own[lang], [texts[i] for i in idx])
            out[idx] = np.stack([1 - p, np.zeros_like(p), p], axis=1)
        return out

    def quality(self, kind: str | None) -> dict[str, Any] | None:
        """The held-out figures of this model on a kind of source, or None if it was never scored on it."""
        key = HELD_OUT_KEY.get(kind or "")
        held = self.card["held_out"].get(key) if key else None
        if not held:
            return None
        m = held["packaged"]
        return {"on": key, "balanced_accuracy": m.get("balanced_accuracy"), "macro_f1": m.get("macro_f1"),
                "negative_recall": m.get("negative_recall"), "n": m.get("n"),
                "baselines": {b: held[b].get("balanced_accuracy") for b in ("vader", "tfidf_lr", "anchors")
                              if b in held}}

    def languages(self) -> dict[str, Any]:
        """The languages with a sentiment, each with its held-out balanced accuracy on reviews of unseen games
        (English: the main figure); every other language gets none."""
        per = self.card.get("per_language", {})
        return {lang: per.get(lang, {}).get("balanced_accuracy") for lang in sorted(self.main_languages |
                                                                                      set(self.own))}

    def summary(self) -> str:
        h = self.card["held_out"]
        parts = [f"{short} {h[key]['packaged']['balanced_accuracy']:.2f}" for short, key in
                 (("reviews of unseen games", HELD_OUT_KEY["reviews"]), ("chat", HELD_OUT_KEY["chat"]),
                  ("support complaints", HELD_OUT_KEY["tickets"])) if key in h]
        return "packaged game-text model; held-out balanced accuracy: " + ", ".join(parts)


@lru_cache(maxsize=1)
def packaged() -> Packaged:
    return Packaged.load()


def languages_of(ws: Workspace, rows: list[tuple[int, str, str | None]]) -> list[str | None]:
    """Each message's language: Steam's own field where the review has one, else detected (None where the
    text is too short to tell: such messages are read by the main model)."""
    from .language import detect
    from .sentiment_features import STEAM_LANGUAGES
    out: list[str | None] = [None] * len(rows)
    todo = []
    for i, (_, text, meta) in enumerate(rows):
        steam = json.loads(meta).get("language") if meta else None
        if isinstance(steam, str) and steam in STEAM_LANGUAGES:
            out[i] = STEAM_LANGUAGES[steam]
        else:
            todo.append(i)
    for i, lang in zip(todo, detect([rows[i][1] for i in todo])):
        out[i] = lang
    return out


_FILLING = threading.Lock()


def packaged_proba(ws: Workspace, ids: list[int]) -> tuple[np.ndarray, list[str | None]]:
    """The packaged model's probabilities for stored messages (NaN rows: no score), and their languages.
    Computed once per text and kept in the workspace's sentiment table."""
    model = packaged()
    if not ids:
        return np.zeros((0, 3)), []
    with _FILLING:
        missing = [r for r in ws.rows_in(
            "SELECT m.id, m.text, m.meta, m.content_hash FROM messages m LEFT JOIN sentiment s ON s.hash ="
            " m.content_hash AND s.model = ? WHERE m.id IN ({marks}) AND s.hash IS NULL", ids, [model.version])]
        if missing:
            score_and_store(ws, missing)
    rows = {r[0]: r[1:] for r in ws.rows_in(
        "SELECT m.id, s.language, s.p_negative, s.p_neutral, s.p_positive FROM messages m JOIN sentiment s"
        " ON s.hash = m.content_hash AND s.model = ? WHERE m.id IN ({marks})", ids, [model.version])}
    out = np.full((len(ids), 3), np.nan)
    langs: list[str | None] = [None] * len(ids)
    for k, i in enumerate(ids):
        if i in rows:
            lang, *p = rows[i]
            langs[k] = lang
            if p[0] is not None:
                out[k] = p
    return out, langs


def score_and_store(ws: Workspace, rows: list[tuple[Any, ...]], batch: int = 4096) -> int:
    """Score (id, text, meta, content_hash) rows with the packaged model and keep the result per text."""
    model = packaged()
    seen: set[str] = set()
    rows = [r for r in rows if not (r[3] in seen or seen.add(r[3]))]  # one score per distinct text
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        ids = [r[0] for r in chunk]
        has = np.zeros(len(ids), bool)
        vectors = _vectors_for_packaged(ws, ids, [r[1] for r in chunk], has)
        langs = languages_of(ws, [(r[0], r[1], r[2]) for r in chunk])
        p = model.proba([r[1] or "" for r in chunk], vectors, langs, has)
        with ws.transaction(data=False):  # scores: a cache of the packaged model's, no data changed
            ws.db.conn.executemany(
                "INSERT OR REPLACE INTO sentiment (hash, model, language, p_negative, p_neutral, p_positive)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(r[3], model.version, langs[k], *(None if np.isnan(p[k, 0]) else float(x) for x in p[k]))
                 for k, r in enumerate(chunk)])
    return len(rows)


def _vectors_for_packaged(ws: Workspace, ids: list[int], texts: list[str], has: np.ndarray) -> np.ndarray:
    """The MiniLM vectors the packaged model reads: the workspace's own when it embeds with MiniLM (a message
    without one gets no score), else encoded here."""
    if ws.embed_model == EMBEDDER:
        return message_vectors(ws, ids, has)
    from ..workspace.embed import embedder
    has[:] = True
    return embedder(EMBEDDER).encode([t or "" for t in texts])


class SentimentModel:
    """A workspace's sentiment: the packaged model, and on the source whose messages carry labels (the Steam
    recommend flag) an adaptation to them when it beats the packaged model out of fold on those rows.

    An estimator in scikit-learn's manner: the constructor only keeps its settings, `fit(ws)` reads the
    workspace and learns, and what it learned ends in `_` (`adapted_`, `oof_`, `score_`, `held_out_`)."""

    def __init__(self, min_reviews: int = MIN_REVIEWS, folds: int = FOLDS) -> None:
        self.min_reviews, self.folds = min_reviews, folds

    @property
    def kind(self) -> str:
        return "packaged, adapted to the workspace's Steam recommend flags" if self.adapted_ is not None else "packaged"

    def fit(self, ws: Workspace) -> SentimentModel:
        """Learn from the workspace's labelled rows (the adaptation, kept only where it wins out of fold)."""
        self.ws_, self.packaged_ = ws, packaged()
        self.adapted_: Any = None
        self.oof_: dict[int, float] = {}  # labelled rows: the adaptation's out-of-fold P(positive), never in-sample
        self.score_: dict[str, Any] | None = None
        self.held_out_: dict[str, list[int]] = {}
        self.n_train_ = 0
        self._fit_labels(ws)
        return self

    def _fit_labels(self, ws: Workspace) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import balanced_accuracy_score
        from sklearn.model_selection import StratifiedKFold
        MIN_REVIEWS, FOLDS = self.min_reviews, self.folds  # noqa: N806 (the settings, read as the constants they default to)
        rows = ws.db.execute("SELECT id, CAST(json_extract(meta, '$.voted_up') AS INTEGER) FROM messages WHERE source = 'steam'"
                             " AND json_extract(meta, '$.voted_up') IS NOT NULL ORDER BY id").fetchall()
        if len(rows) < MIN_REVIEWS:
            return
        ids = [r[0] for r in rows]
        has = np.zeros(len(ids), bool)
        X = message_vectors(ws, ids, has)
        P, _ = packaged_proba(ws, ids)
        keep = has & ~np.isnan(P[:, 0])
        ids = np.array(ids)[keep]
        y = np.array([int(r[1]) for r in rows])[keep]
        if len(ids) < MIN_REVIEWS or min(y.sum(), len(y) - y.sum()) < FOLDS * 2:
            return
        F = self._stack(X[keep], P[keep])
        oof = np.zeros(len(y))
        for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(F, y):
            lr = LogisticRegression(max_iter=2000, class_weight="balanced", C=2.0).fit(F[train], y[train])
            oof[test] = lr.predict_proba(F[test])[:, 1]
        packaged_pred = (P[keep][:, 2] >= P[keep][:, 0]).astype(int)
        ours, theirs = balanced_accuracy_score(y, oof >= 0.5), balanced_accuracy_score(y, packaged_pred)
        self.score_ = {"metric": f"balanced accuracy on the workspace's {len(y):,} labelled Steam reviews, out of fold"
                                f" ({FOLDS} folds)", "adapted": round(float(ours), 3), "packaged": round(float(theirs), 3),
                      "value": round(float(max(ours, theirs)), 3), "n_test": int(len(y)),
                      "chosen": "adapted" if ours > theirs else "packaged",
                      "baseline": "one class for every review", "baseline-value": 0.5}
        self.held_out_ = {"ids": ids.tolist(), "labels": y.tolist(),
                         "predicted": (oof >= 0.5).astype(int).tolist() if ours > theirs else packaged_pred.tolist()}
        if ours > theirs:
            self.adapted_ = LogisticRegression(max_iter=2000, class_weight="balanced", C=2.0).fit(F, y)
            self.oof_ = dict(zip(ids.tolist(), oof.tolist()))
            self.n_train_ = len(y)

    @staticmethod
    def _stack(X: np.ndarray, P: np.ndarray) -> np.ndarray:
        margin = np.log(np.clip(P[:, 2], 1e-6, 1)) - np.log(np.clip(P[:, 0], 1e-6, 1))
        return np.hstack([X, margin[:, None]])

    def proba(self, ids: list[int]) -> np.ndarray:
        """P(negative), P(neutral), P(positive) of stored messages, by id (NaN rows: no score)."""
        return self.proba_and_languages(ids)[0]

    def proba_and_languages(self, ids: list[int]) -> tuple[np.ndarray, list[str | None]]:
        """`proba` and each message's language, from one lookup."""
        P, langs = packaged_proba(self.ws_, ids)
        if self.adapted_ is None or not len(ids):
            return P, langs
        sources = dict(self.ws_.rows_in("SELECT id, source FROM messages WHERE id IN ({marks})", ids))
        steam = [k for k, i in enumerate(ids) if sources.get(i) == "steam" and not np.isnan(P[k, 0])]
        if steam:
            X = message_vectors(self.ws_, [ids[k] for k in steam])
            p = self.adapted_.predict_proba(self._stack(X, P[steam]))[:, 1]
            p = np.array([self.oof_.get(ids[k], q) for k, q in zip(steam, p)])  # labelled rows: out of fold
            neutral = P[steam, 1]
            P[steam] = np.stack([(1 - neutral) * (1 - p), neutral, (1 - neutral) * p], axis=1)
        return P, langs

    def scores(self, ids: list[int]) -> np.ndarray:
        """Sentiment in [-1, 1] of stored messages, by id: P(positive) - P(negative); NaN: no score."""
        P = self.proba(list(ids))
        return P[:, 2] - P[:, 0] if len(P) else np.zeros(0)

    def scores_and_net(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """`scores` and `net` of the same messages from one lookup."""
        P = self.proba(list(ids))
        return (P[:, 2] - P[:, 0] if len(P) else np.zeros(0)), net_of(P)

    def net(self, ids: list[int]) -> np.ndarray:
        """Each message's label as +1 positive, 0 neutral, -1 negative (the most probable class); NaN: no score."""
        return net_of(self.proba(list(ids)))

    def describe(self, sources: list[str] | None = None) -> dict[str, Any]:
        """Which model scores, how well it did on each kind of source asked about (or the kinds it was
        scored on), and what it was never scored on."""
        kinds = sorted({KINDS.get(s, s) for s in sources}) if sources else ["reviews", "chat", "tickets"]
        quality = {k: self.packaged_.quality(k) or "not scored on this kind of source" for k in kinds}
        out: dict[str, Any] = {"model": self.packaged_.summary() if self.adapted_ is None else
                               f"{self.packaged_.summary()}; on Steam reviews adapted to this workspace's own"
                               f" recommend flags (out of fold {self.score_['adapted']:.2f} vs packaged"
                               f" {self.score_['packaged']:.2f})",
                               "version": self.packaged_.version, "quality": quality,
                               "languages": self.packaged_.languages(),
                               "trained_on": self.packaged_.card["trained_on"], "held_out": self.score_}
        return out


def sentiment_of(texts: list[str]) -> list[dict[str, Any]]:
    """The packaged models' reading of any strings: sentiment score in [-1, 1], label, the three probabilities,
    the language, and P(toxic) (a separate model, English only). Score, label and probabilities are null where
    no scored sentiment model covers the language; toxicity is null outside English."""
    from ..workspace.embed import embedder
    from .language import detect
    from .sentiment_features import LABELS
    from .toxicity import packaged_toxicity
    model = packaged()
    texts = [str(t) for t in texts]
    langs = detect(texts)
    V = embedder(EMBEDDER).encode(texts) if texts else np.zeros((0, 384), np.float32)
    P = model.proba(texts, V, langs)
    tox = packaged_toxicity().proba(texts, V, langs)
    out = []
    for text, lang, p, t in zip(texts, langs, P, tox):
        toxicity = None if np.isnan(t) else round(float(t), 4)
        if np.isnan(p[0]):
            out.append({"text": text, "score": None, "label": None, "probabilities": None, "language": lang,
                        "toxicity": toxicity, "model": model.version, "why": f"no scored model for language {lang}"})
            continue
        out.append({"text": text, "score": round(float(p[2] - p[0]), 4), "label": LABELS[int(p.argmax())],
                    "probabilities": {c: round(float(x), 4) for c, x in zip(LABELS, p)}, "language": lang,
                    "toxicity": toxicity, "model": model.version})
    return out


def score_of(text: str) -> float:
    """The packaged model's score in [-1, 1] of any string (NaN: a language it does not score)."""
    score = sentiment_of([text])[0]["score"]
    return float("nan") if score is None else float(score)


def model_for(ws: Workspace) -> SentimentModel:
    """The workspace's sentiment model, refit when the messages or the embedder changed."""
    return derived(ws, "sentiment-model", lambda: SentimentModel().fit(ws),
                   key=(ws.count("messages"), ws.embed_model), versioned=False)


def net_of(P: np.ndarray) -> np.ndarray:
    """+1 / 0 / -1 for rows of probabilities whose most probable class is positive / neutral / negative; NaN rows
    stay NaN."""
    out = np.full(len(P), np.nan)
    ok = ~np.isnan(P[:, 0]) if len(P) else np.zeros(0, bool)
    out[ok] = P[ok].argmax(axis=1) - 1.0
    return out


def unscored(scores: np.ndarray) -> int:
    """How many messages got no score."""
    return int(np.isnan(scores).sum())
