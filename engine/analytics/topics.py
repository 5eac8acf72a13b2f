"""Topics with BERTopic on the workspace's own embeddings (no model download): c-TF-IDF labels,
topics over time, per-source breakdown, and NPMI coherence / diversity of the topic words."""
from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ..workspace.store import Workspace
from .sentiment import message_vectors
from .series import Scope

TOP_WORDS = 10
MAX_FIT = 20_000  # fit on at most this many messages (UMAP is superlinear), assign the rest after
WORD = re.compile(r"\b[a-z][a-z]+\b")  # the words CountVectorizer counts, so NPMI sees the same tokens


def npmi_coherence(topic_words: list[list[str]], docs: list[str]) -> float:
    """Mean NPMI of word pairs within each topic, counting co-occurrence per document."""
    vocab = {w for words in topic_words for w in words}
    doc_sets = [set(WORD.findall(d.lower())) & vocab for d in docs]
    n = len(doc_sets)
    df = Counter(w for s in doc_sets for w in s)
    scores = []
    for words in topic_words:
        pair_scores = []
        for i, a in enumerate(words):
            for b in words[i + 1:]:
                joint = sum(1 for s in doc_sets if a in s and b in s)
                if joint == 0:
                    pair_scores.append(-1.0)
                    continue
                p_ab, p_a, p_b = joint / n, df[a] / n, df[b] / n
                pmi = math.log(p_ab / (p_a * p_b))
                pair_scores.append(pmi / -math.log(p_ab) if p_ab < 1 else 1.0)
        if pair_scores:
            scores.append(float(np.mean(pair_scores)))
    return float(np.mean(scores)) if scores else 0.0


def diversity(topic_words: list[list[str]]) -> float:
    """Share of distinct words among all topics' top words (1.0: no word repeats)."""
    words = [w for ws in topic_words for w in ws]
    return len(set(words)) / len(words) if words else 0.0


def fit_topics(texts: list[str], X: np.ndarray, embedding_model: Any, min_topic_size: int, seed: int = 42) -> Any:
    """A fitted BERTopic model on precomputed embeddings."""
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    hdbscan_model = HDBSCAN(min_cluster_size=min_topic_size, metric="euclidean", cluster_selection_method="eom",
                            prediction_data=True)
    vectorizer = CountVectorizer(stop_words="english", min_df=2, token_pattern=WORD.pattern)
    model = BERTopic(embedding_model=embedding_model, umap_model=umap_model, hdbscan_model=hdbscan_model,
                     vectorizer_model=vectorizer, calculate_probabilities=False, verbose=False)
    model.fit(texts, embeddings=X)
    return model


def topics(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """The topics of the messages in scope, labelled by their c-TF-IDF terms."""
    from ..workspace.embed import embedder
    scope = Scope.of(params)
    cond, args = scope.where(dated=False)
    rows = ws.db.execute(f"SELECT id, time, text, source FROM messages WHERE {cond} ORDER BY id", args).fetchall()
    if len(rows) < 50:
        return {"answer": f"too few messages ({len(rows)}) for topics; need at least 50",
                "evidence": {"scope": scope.describe(), "messages": len(rows)}}
    texts = [r[2] for r in rows]
    X = message_vectors(ws, [r[0] for r in rows])
    fit_n = min(len(rows), MAX_FIT)
    min_size = int(params.get("min-topic-size") or max(10, fit_n // 200))
    sample = np.sort(np.random.default_rng(0).choice(len(rows), fit_n, replace=False))
    model = fit_topics([texts[i] for i in sample], X[sample], embedder(ws.embed_model).model(), min_size)
    assigned = np.full(len(rows), -1)
    assigned[sample] = model.topics_
    rest = np.setdiff1d(np.arange(len(rows)), sample)
    if rest.size:
        assigned[rest] = model.transform([texts[i] for i in rest], embeddings=X[rest])[0]
    found = []
    words_per_topic = []
    for tid in sorted(t for t in set(assigned.tolist()) if t != -1):
        terms = model.get_topic(tid) or []
        words = [w for w, _ in terms[:TOP_WORDS]]
        words_per_topic.append(words)
        members = np.where(assigned == tid)[0]
        by_source = Counter(rows[i][3] for i in members)
        reps = set(model.get_representative_docs(tid) or [])
        quotes = [{"id": rows[i][0], "text": rows[i][2][:200]} for i in members if rows[i][2] in reps][:3]
        found.append({"topic": tid, "label": "-".join(words[:4]), "size": int(len(members)),
                      "terms": [{"term": w, "weight": round(float(s), 4)} for w, s in terms[:TOP_WORDS]],
                      "sources": dict(by_source), "quotes": quotes})
    found.sort(key=lambda t: -t["size"])
    dated = [(i, r[1]) for i, r in enumerate(rows) if r[1] is not None]
    over_time = []
    if len(dated) >= 50 and found:
        idx = [i for i, _ in dated]
        stamps = [datetime.fromtimestamp(t, timezone.utc) for _, t in dated]  # datetimes, not strings (pandas 3)
        tot = model.topics_over_time([texts[i] for i in idx], stamps, topics=[int(assigned[i]) for i in idx],
                                     nr_bins=min(20, len({s.date() for s in stamps})))
        for rec in tot.itertuples():
            if rec.Topic != -1:
                over_time.append({"topic": int(rec.Topic), "when": rec.Timestamp.strftime("%Y-%m-%d"),
                                  "messages": int(rec.Frequency)})
    coherence = npmi_coherence(words_per_topic, texts)
    outliers = int((assigned == -1).sum())
    listed = ", ".join(f"{t['label']} ({t['size']})" for t in found[:5])
    return {"answer": f"{len(found)} topics in {len(rows):,} messages ({outliers:,} unassigned); largest: {listed}",
            "evidence": {"scope": scope.describe(), "messages": len(rows), "unassigned": outliers, "topics": found,
                         "over_time": over_time,
                         # not a held-out score: the words are scored on the messages the topics came from
                         "coherence": {"metric": "NPMI of the top-10 words, in-sample (on the messages the topics"
                                                 " were fit on and assigned to, not held out)",
                                       "value": round(coherence, 4), "diversity": round(diversity(words_per_topic), 4)}},
            "model": f"BERTopic (UMAP + HDBSCAN, min topic size {min_size}, fit on {fit_n:,} messages)"
                     f" on {ws.embed_model} embeddings"}
