"""How well a topic's words hang together: gensim's CoherenceModel (c_npmi, c_v) over the tokenised
messages, the way BERTopic's own evaluation does it, and topic diversity. Computed on the messages the
topics describe: an in-sample measure, not a held-out one."""
from __future__ import annotations

from typing import Any

import numpy as np

MAX_DOCS = 10_000  # coherence on a seeded sample of at most this many messages (gensim counts in Python)


def diversity(topic_words: list[list[str]]) -> float:
    """Share of distinct words among all topics' top words (1.0: no word repeats)."""
    words = [w for ws in topic_words for w in ws]
    return len(set(words)) / len(words) if words else 0.0


def coherence(topic_words: list[list[str]], docs_tokens: list[list[str]], seed: int = 0) -> dict[str, Any]:
    """c_npmi and c_v of the topics' words on the documents (each a list of tokens, n-grams included)."""
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel
    sampled = len(docs_tokens) > MAX_DOCS
    if sampled:
        pick = np.sort(np.random.default_rng(seed).choice(len(docs_tokens), MAX_DOCS, replace=False))
        docs_tokens = [docs_tokens[i] for i in pick]
    docs_tokens = [d for d in docs_tokens if d]
    dictionary = Dictionary(docs_tokens)
    known = [[w for w in words if w in dictionary.token2id] for words in topic_words]
    known = [w for w in known if len(w) >= 2]
    out: dict[str, Any] = {"messages": len(docs_tokens), "sampled": sampled, "topics_scored": len(known),
                           "diversity": round(diversity(topic_words), 4)}
    for measure in ("c_npmi", "c_v"):
        if not known:
            out[measure] = None
            continue
        cm = CoherenceModel(topics=known, texts=docs_tokens, dictionary=dictionary, coherence=measure, processes=1)
        per_topic = cm.get_coherence_per_topic()
        out[measure] = round(float(np.nanmean(per_topic)), 4)
        if measure == "c_npmi":
            out["c_npmi_per_topic"] = [round(float(v), 4) for v in per_topic]
    return out
