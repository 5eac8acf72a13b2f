"""Topics with BERTopic on the workspace's own embeddings (nothing downloaded), made to fit short community
text: words counted with the stop words of every language detected, terms ranked by relevance (used by
many of the topic's messages, rarely elsewhere; each word describes only the topic where it is most
relevant: maximal marginal relevance on word embeddings, tried before, lowered c_npmi on every real set
and was dropped), near-duplicate topics merged, outliers given to the nearest topic that is
close enough, and labels a person reads: two of the best terms, chosen KeyBERT-style (closest in meaning
to the topic's centroid). BERTopic's own KeyBERTInspired ranks rare words first, which lowered c_npmi
(measured: see the benchmark), so it only picks the label's words here. A fit is cached per (workspace
contents, messages); a question is answered from the topics of its whole source when they separate its
community's messages, else from its community's own (`community_fit`)."""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..workspace.derived import derived
from ..workspace.files import atomic_file
from ..workspace.progress import step
from ..workspace.store import Workspace
from . import language
from .coherence import coherence
from .sentiment import NEGATIVE, message_vectors, model_for
from .series import Scope, day_of

ALGORITHM = 12  # bump when the fit changes: cached fits of other versions are not reused (12: a word, one topic)
TOP_WORDS = 10
MIN_MESSAGES = 50
MIN_TOPIC_SIZE = 20
LANGUAGE_SHARE = 0.05  # a language with this share of the messages, or LANGUAGE_MESSAGES of them, gets its own topics
LANGUAGE_MESSAGES = 200
MESSAGES_PER_MIN_SIZE = 100  # the default minimum topic size grows with the corpus: one per this many messages
MAX_FIT = 5_000  # UMAP and HDBSCAN see a seeded sample of at most this many messages; the rest are assigned
DUPLICATE_SIMILARITY = 0.75  # topics this close (centroid cosine) that share DUPLICATE_TERMS words are one
DUPLICATE_TERMS = 3
DUPLICATE_WORDS = 10  # among this many of their best words (20 merged opposites: "fun" and "not fun" in Chinese)
OUTLIER_QUANTILE = 0.05  # a message joins its nearest topic when as close as this quantile of the clusters' own members
CACHED_FITS = 12  # fits kept on disk per workspace
SEED = 42
REDUCED_DIM = 5
UMAP_NEIGHBOURS = 15
UMAP_EPOCHS = 200  # umap's default for large data; its 500 for small data doubles the time for no better topics
RELEVANCE_WEIGHT = 0.6
MIN_TOPIC_SHARE = 0.1  # a topic's word is used by at least this share of its messages (and two)
WORD_TOPICS = 1  # each word describes the one topic where it is most relevant (2 measured lower c_npmi and diversity)
MIN_WORDS = 3  # a topic with fewer words that a tenth of its messages share is loose (said with it)
LABEL_CANDIDATES = 4
MIN_DF = 5
MIN_DF_SHARE = 0.002


@dataclass
class TopicFit:
    """One fitted topic model: which topic each message of its corpus is in, and each topic's words."""
    key: str
    contents: str
    ids: np.ndarray  # message ids of the corpus, ascending
    assigned: np.ndarray  # topic of each message, -1 where none is close enough
    closeness: np.ndarray  # cosine of each message to its topic's centroid (to the nearest one for outliers)
    sentiment: np.ndarray  # each message's sentiment, by the workspace's sentiment model
    topics: list[dict[str, Any]]  # by topic id: label, terms, language
    info: dict[str, Any]
    scoped: dict[str, Any] = field(default_factory=dict)  # per-scope results worth keeping (coherence)
    centroids: np.ndarray | None = None  # each topic's unit mean embedding (what lineage.py matches refits by)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Where each of `ids` sits in this fit (all must be in it)."""
        return np.searchsorted(self.ids, ids)

    def covers(self, ids: np.ndarray) -> bool:
        pos = np.minimum(self.positions(ids), len(self.ids) - 1)
        return bool(len(ids)) and bool(np.all(self.ids[pos] == ids))

    def resolves(self, ids: np.ndarray) -> bool:
        """Whether the fit's topics still separate these messages: at least three topics of the fit's
        minimum size among them, the largest under half. A fit of a whole community does not resolve one
        incident inside it (nearly all its messages fall in one topic), so that scope gets its own fit."""
        topics = self.assigned[self.positions(ids)]
        sizes = np.bincount(topics[topics >= 0], minlength=len(self.topics))
        big = int((sizes >= self.info["min_topic_size"]).sum())
        return big >= 3 and sizes.max() < 0.5 * len(ids)


def contents_key(ws: Workspace) -> str:
    """What the workspace holds, as far as topics care: the messages and the embedding model."""
    n, last = ws.db.execute("SELECT count(*), max(id) FROM messages").fetchone()
    return f"{n}:{last}:{ws.embed_model}:v{ALGORITHM}"


def _cache_dir(ws: Workspace) -> Path:
    return ws.path / "cache" / "topics"


def _digest(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _save(ws: Workspace, fit: TopicFit) -> None:
    """Atomically, under a unique temporary name; fits of other workspace contents are removed."""
    folder = _cache_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = _digest(fit.contents)
    with atomic_file(folder / f"{prefix}-{fit.key}.pkl") as tmp, tmp.open("wb") as f:
        pickle.dump(fit, f, protocol=pickle.HIGHEST_PROTOCOL)
    kept = sorted((p for p in folder.glob("*.pkl") if p.name.startswith(prefix)), key=lambda p: p.stat().st_mtime)
    for p in folder.glob("*.pkl"):
        if not p.name.startswith(prefix) or p in kept[:-CACHED_FITS]:
            p.unlink(missing_ok=True)


def _load(path: Path) -> TopicFit | None:
    try:
        with open(path, "rb") as f:
            fit = pickle.load(f)
    except Exception:  # noqa: BLE001 (a damaged or foreign file is a cache miss, never an error)
        return None
    return fit if isinstance(fit, TopicFit) else None


def _cached(ws: Workspace, contents: str, key: str) -> tuple[TopicFit | None, str]:
    """The fit stored under `key` (in memory, else on disk) if it is of these contents; else (None, "fitted")."""
    memo = derived(ws, "topic-fits", dict)
    fit = memo.get(key)
    if fit is not None and fit.contents == contents:
        return fit, "cached"
    folder = _cache_dir(ws)
    prefix = _digest(contents)
    path = folder / f"{prefix}-{key}.pkl"
    if path.exists() and (fit := _load(path)) is not None and fit.contents == contents:
        memo[key] = fit
        return fit, "cached"
    return None, "fitted"


def scope_ids(ws: Workspace, scope: Scope, dated: bool = False) -> np.ndarray:
    """Ids of the messages in scope, ascending (only dated ones with `dated`)."""
    cond, args = scope.where(dated=dated)
    return np.array([r[0] for r in ws.db.execute(f"SELECT id FROM messages WHERE {cond} ORDER BY id", args)],
                    dtype=np.int64)


def fit_for(ws: Workspace, ids: np.ndarray, min_topic_size: int | None = None) -> tuple[TopicFit, str]:
    """The topic fit of exactly these messages: cached or new."""
    contents = contents_key(ws)
    key = _digest(contents, hashlib.sha1(ids.tobytes()).hexdigest(), min_topic_size)
    fit, how = _cached(ws, contents, key)
    if fit is None:
        with step(f"finding topics in {len(ids):,} messages") as said:
            fit = _fit(ws, ids, key, contents, min_topic_size)
            said(f"{len(fit.topics)} topics")
        derived(ws, "topic-fits", dict)[key] = fit
        _save(ws, fit)
    return fit, how


def fit_times(ws: Workspace, fit: TopicFit) -> np.ndarray:
    """Each message's time, aligned with `fit.ids` (NaN where undated): read once per fit and data."""
    def build() -> np.ndarray:
        when = dict(ws.rows_in("SELECT id, time FROM messages WHERE id IN ({marks})", fit.ids.tolist()))
        return np.array([np.nan if when.get(i) is None else when[i] for i in fit.ids.tolist()], float)
    return derived(ws, "fit-times", build, key=fit.key)


def community_fit(ws: Workspace, source: str | None, community: np.ndarray, min_topic_size: int | None = None
                  ) -> tuple[TopicFit, str, str]:
    """(fit, how, what it was fit on) for a question whose community (its source and period, before any
    persona or other filter) is `community`: the topics of every message of the source when they still
    separate the community's messages, else the community's own. The choice depends on the question only,
    never on what was asked before, and a filtered scope is counted in its community's topics, so one
    question gets one answer everywhere and a persona never has more messages on a topic than everyone."""
    whole = scope_ids(ws, Scope(source))
    fit, how = fit_for(ws, whole, min_topic_size)
    if len(community) == len(whole) or fit.resolves(community):
        if min_topic_size is None:  # the source's own topics: each keeps its id and label across refits
            _stabilise(ws, source, fit)
        return fit, how, f"all {len(whole):,} {source or 'workspace'} messages"
    fit, how = fit_for(ws, community, min_topic_size)
    return fit, how, (f"the {len(community):,} messages of the period (the topics of all {len(whole):,} do not"
                      " separate them)")


def _stabilise(ws: Workspace, source: str | None, fit: TopicFit) -> None:
    """Give the fit's topics their stable ids, labels and birthdays from the source's lineage (lineage.py);
    the same for every question on this fit, in this process or another."""
    from .lineage import stable_ids
    ids, known = stable_ids(ws, source, fit)
    for i, topic in enumerate(fit.topics):
        entry = known.get(str(ids.get(i)))
        if entry is not None:
            topic.update(id=ids[i], label=entry["label"], born=entry["born"])
    seen: set[str] = set()  # a kept label another topic of this fit now wears too: told apart by id
    for topic in sorted(fit.topics, key=lambda t: t.get("id") or 0):
        if topic["label"] in seen:
            topic["label"] = f"{topic['label']} #{topic.get('id')}"
        seen.add(topic["label"])


def _vectorizer(stops: set[str], docs: list[str] | None = None) -> Any:
    """Counts of the words `language.tokens` finds, stop words out. Given documents, the vocabulary is
    the terms in at least MIN_DF of them (BERTopic fits its vectorizer on one document per topic, so
    its own min_df would count topics): a word two messages use says nothing about a topic."""
    from sklearn.feature_extraction.text import CountVectorizer
    options = {"tokenizer": language.tokens, "token_pattern": None, "lowercase": False,
               "stop_words": sorted(stops), "ngram_range": (1, 1)}
    if docs is None:
        return CountVectorizer(**options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counted = CountVectorizer(**options, binary=True, min_df=max(MIN_DF, int(MIN_DF_SHARE * len(docs)))).fit(docs)
    return CountVectorizer(**options, vocabulary=sorted(counted.vocabulary_))


class Relevance:
    """BERTopic representation: a topic's words ranked by relevance (Sievert and Shirley's, over message
    counts): RELEVANCE_WEIGHT * log p(word | topic) + (1 - RELEVANCE_WEIGHT) * log lift, among words that
    at least two of the topic's messages use. Frequent-in-topic words co-occur, so they read as a topic;
    the lift keeps words every topic uses ("game") from the top."""

    def __init__(self, top_n_words: int = 30) -> None:
        self.top_n_words = top_n_words

    def extract_topics(self, topic_model: Any, documents: Any, c_tf_idf: Any, topics: Any) -> dict[int, list]:
        from scipy.sparse import csr_matrix
        vocab = topic_model.vectorizer_model.get_feature_names_out()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            B = (topic_model.vectorizer_model.transform(documents.Document.tolist()) > 0).astype(np.float64)
        labels = documents.Topic.to_numpy()
        keys = sorted(int(t) for t in topics)
        rows = {t: i for i, t in enumerate(keys)}
        known = np.flatnonzero([int(t) in rows for t in labels])
        member = csr_matrix((np.ones(len(known)), ([rows[int(labels[i])] for i in known], known)),
                            shape=(len(keys), len(labels)))
        tdf = np.asarray((member @ B).todense())  # messages of each topic using each word
        sizes = np.asarray(member.sum(axis=1)).ravel()
        df = np.asarray(B.sum(axis=0)).ravel()
        n = max(len(labels), 1)
        p = tdf / np.maximum(sizes, 1)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            score = RELEVANCE_WEIGHT * np.log(p) + (1 - RELEVANCE_WEIGHT) * np.log(p / (df / n)[None, :])
        strict = score.copy()
        strict[(tdf < 2) | ~np.isfinite(score)] = -np.inf
        strict[tdf < (MIN_TOPIC_SHARE * sizes)[:, None]] = -np.inf
        if len(keys) > WORD_TOPICS:  # a word leads at most WORD_TOPICS topics: those where it is most relevant
            rank = np.argsort(np.argsort(-strict, axis=0, kind="stable"), axis=0, kind="stable")
            strict[rank >= WORD_TOPICS] = -np.inf
        out = {}
        self.loose = set()
        for t, i in rows.items():
            words = [j for j in np.argsort(-strict[i], kind="stable")[:self.top_n_words] if np.isfinite(strict[i, j])]
            if len(words) < MIN_WORDS:  # few words a tenth of its messages share: its most relevant ones
                self.loose.add(t)
                words += [j for j in np.argsort(-score[i], kind="stable")
                          if np.isfinite(score[i, j]) and tdf[i, j] >= 2 and j not in words]
            # the weight shown is the share of the topic's messages that use the word (the order is relevance)
            out[t] = [(str(vocab[j]), float(p[i, j])) for j in words[:self.top_n_words]] or [("", 0.0)]
        return out


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """BERTopic logs a warning about custom topic assignments, which pilang makes on purpose."""
    log = logging.getLogger(logger)
    old = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(old)


def _reducer(X: np.ndarray, seed: int = SEED) -> Any:
    """UMAP on neighbours found exactly by faiss (umap's own nearest-neighbour descent compiles for most of
    a minute in every new process); seeded, so the same messages give the same topics."""
    import faiss
    from umap import UMAP
    X = np.ascontiguousarray(X, dtype=np.float32)
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    sims, neighbours = index.search(X, UMAP_NEIGHBOURS)  # one thread (see _one_thread): near ties keep their order
    return UMAP(n_neighbors=UMAP_NEIGHBOURS, n_components=REDUCED_DIM, min_dist=0.0, metric="cosine",
                random_state=seed, n_epochs=UMAP_EPOCHS,
                # PCA start: the spectral one lays out disconnected neighbour graphs (most chat has some) by
                # an embedding of their centroids that differs between calls, so the same messages gave
                # other topics when fitted again in the same process
                init="pca",
                precomputed_knn=(neighbours, np.maximum(1 - sims, 0).astype(np.float32), None))


def _represent(model: Any, docs: list[str], labels: np.ndarray, vectorizer: Any) -> set[int]:
    """Each topic's words, by relevance. Returns the loose topics (their messages share few words)."""
    from bertopic.vectorizers import ClassTfidfTransformer
    relevance = Relevance(20)
    with _quiet("BERTopic"):  # BERTopic resets its logger's level while fitting, so quieten it here
        model.update_topics(docs, topics=labels.tolist(), vectorizer_model=vectorizer,
                            ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
                            representation_model=[relevance],
                            top_n_words=TOP_WORDS)
    return relevance.loose


def _centroids(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    C = np.zeros((k, X.shape[1]), np.float32)
    for t in range(k):
        members = labels == t
        if members.any():
            C[t] = X[members].mean(axis=0)
    return C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-9)


def _duplicates(model: Any, C: np.ndarray) -> list[list[int]]:
    """Groups of near-duplicate topics: centroids at least DUPLICATE_SIMILARITY alike and at least
    DUPLICATE_TERMS of their top words (or their best word) shared. Closeness alone is not enough: in a
    single game's reviews, distinct topics ("censorship" and "developers") sit at 0.86."""
    k = len(C)
    words = [[w for w, _ in (model.get_topic(t) or [])[:DUPLICATE_WORDS] if w] for t in range(k)]
    parent = list(range(k))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i
    S = C @ C.T
    for i in range(k):
        for j in range(i + 1, k):
            shared = len(set(words[i]) & set(words[j]))
            same_lead = bool(words[i]) and bool(words[j]) and words[i][0] == words[j][0]
            if S[i, j] >= DUPLICATE_SIMILARITY and (shared >= DUPLICATE_TERMS or same_lead):
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(k):
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def _backend(encoder: Any) -> Any:
    """The workspace's embedder as a BERTopic backend (BERTopic would otherwise load a model by name)."""
    from bertopic.backend import BaseEmbedder

    class Backend(BaseEmbedder):
        def embed(self, documents: Any, verbose: bool = False) -> np.ndarray:
            return encoder.encode(list(documents))
    return Backend()


@contextmanager
def _one_thread() -> Iterator[None]:
    """BLAS, OpenMP and torch on one thread: their sums' order depends on how many threads they get (the
    machine's cores, and other libraries that resize the pools), and a last-bit difference in UMAP's layout or
    a centroid reorders near ties: other topics from the same messages on another machine."""
    import faiss
    import torch
    from threadpoolctl import threadpool_limits
    threads = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)  # faiss may carry an OpenMP of its own
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads[0])
        faiss.omp_set_num_threads(threads[1])


def _fit(ws: Workspace, ids: np.ndarray, key: str, contents: str, min_topic_size: int | None,
         seed: int = SEED) -> TopicFit:
    with _one_thread():
        return _fit_here(ws, ids, key, contents, min_topic_size, seed)


def _fit_here(ws: Workspace, ids: np.ndarray, key: str, contents: str, min_topic_size: int | None,
              seed: int) -> TopicFit:
    """Topics per language: the messages of each language common enough to model (LANGUAGE_SHARE of the
    messages, or LANGUAGE_MESSAGES of them) are clustered among themselves, their words counted with that
    language's stop words and tokens, so a language is never one topic of its own and its players'
    complaints are read; undetected (short) texts join the main language; a language too small to model
    is said, its messages left without a topic."""
    X = message_vectors(ws, ids.tolist())
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)
    P, langs = model_for(ws).proba_and_languages(ids.tolist())
    sentiment = (P[:, 2] - P[:, 0]).astype(np.float32) if len(P) else np.zeros(0, np.float32)  # NaN: no score
    n = len(ids)
    counts = Counter(lang for lang in langs if lang)
    main = counts.most_common(1)[0][0] if counts else "en"
    codes = np.array([lang or main for lang in langs], dtype=object)
    sizes = Counter(codes.tolist())
    modelled = [lang for lang, c in sizes.most_common()
                if lang == main or ((c >= LANGUAGE_SHARE * n or c >= LANGUAGE_MESSAGES) and c >= MIN_MESSAGES)]
    assigned = np.full(n, -1, np.int32)
    closeness = np.zeros(n, np.float32)
    topics: list[dict[str, Any]] = []
    centroids: list[np.ndarray] = []
    parts: dict[str, dict[str, Any]] = {}
    for lang in modelled:
        members = np.where(codes == lang)[0]
        part = _fit_language(ws, ids, X, members, lang, main, min_topic_size, seed)
        offset = len(topics)
        assigned[members] = np.where(part["assigned"] >= 0, part["assigned"] + offset, -1)
        closeness[members] = part["closeness"]
        topics += part["topics"]
        centroids.append(part["centroids"])
        parts[lang] = part["info"]
    _distinct_labels(topics)
    C = np.concatenate(centroids) if centroids else np.zeros((0, X.shape[1]), np.float32)
    head = parts.get(main, {})
    too_small = {lang: c for lang, c in sizes.most_common() if lang not in modelled}
    return TopicFit(key=key, contents=contents, ids=ids, assigned=assigned, closeness=closeness, sentiment=sentiment,
                    centroids=C.astype(np.float32), topics=topics,
                    info={"min_topic_size": head.get("min_topic_size", MIN_TOPIC_SIZE),
                          "asked_min_topic_size": min_topic_size,
                          "fit_on": sum(p["fit_on"] for p in parts.values()), "messages": n,
                          "clusters": sum(p["clusters"] for p in parts.values()),
                          "merged": sum(p["merged"] for p in parts.values()),
                          "wordless": sum(p["wordless"] for p in parts.values()),
                          "threshold": head.get("threshold"),
                          "core_outliers": sum(p["core_outliers"] for p in parts.values()),
                          "languages": language.mix(codes.tolist()), "stop_word_languages": modelled,
                          "main_language": main, "model": ws.embed_model,
                          "languages_modelled": {lang: {"messages": int(sizes[lang]), **parts[lang]} for lang in modelled},
                          "languages_too_small": too_small,
                          "language_rule": f"a language is modelled with {LANGUAGE_SHARE:.0%} of the messages or"
                                           f" {LANGUAGE_MESSAGES} of them (and at least {MIN_MESSAGES})"})


def _fit_language(ws: Workspace, ids: np.ndarray, X: np.ndarray, members: np.ndarray, lang: str, main: str,
                  min_topic_size: int | None, seed: int) -> dict[str, Any]:
    """BERTopic on one language's messages (`members`, positions in ids): (assigned, closeness) of each
    member, its topics (labels in the language), their centroids and what the fit did."""
    from bertopic import BERTopic
    from bertopic.vectorizers import ClassTfidfTransformer
    from hdbscan import HDBSCAN

    m = len(members)
    sample = members[np.sort(np.random.default_rng(seed).choice(m, min(m, MAX_FIT), replace=False))]
    texts = dict(ws.rows_in("SELECT id, text FROM messages WHERE id IN ({marks})", ids[sample].tolist()))
    sdocs, Xs = [language.clean(texts[i]) for i in ids[sample].tolist()], X[sample]  # only the fit reads words
    vectorizer = _vectorizer(language.stop_words([lang]), sdocs)
    size = int(min_topic_size or max(MIN_TOPIC_SIZE, len(sample) // MESSAGES_PER_MIN_SIZE))
    info = {"min_topic_size": size, "fit_on": len(sample), "clusters": 0, "merged": 0, "wordless": 0,
            "threshold": None, "core_outliers": len(sample)}
    empty = {"assigned": np.full(m, -1, np.int32), "closeness": np.zeros(m, np.float32), "topics": [],
             "centroids": np.zeros((0, X.shape[1]), np.float32), "info": info}
    if len(sample) < 2 * size:
        return empty
    model = BERTopic(embedding_model=_backend(ws.embedder()),
                     umap_model=_reducer(Xs, seed),
                     hdbscan_model=HDBSCAN(min_cluster_size=size, min_samples=max(5, size // 4), metric="euclidean",
                                           cluster_selection_method="eom", prediction_data=True),
                     vectorizer_model=vectorizer, ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
                     top_n_words=TOP_WORDS, calculate_probabilities=False, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's note that stop words are tokenised differently
        try:
            labels = np.array(model.fit(sdocs, embeddings=Xs).topics_)
        except ValueError:  # too few distinct words in a small language to count any (empty vocabulary)
            return empty
        found = k = int(labels.max()) + 1
        core, merged = labels.copy(), 0
        C = _centroids(Xs, labels, k)
        if k > 0:
            sims = Xs @ C.T
            own = sims[labels >= 0, labels[labels >= 0]]
            threshold = float(np.quantile(own, OUTLIER_QUANTILE))
            if (labels == -1).any():
                labels = np.array(model.reduce_outliers(sdocs, labels.tolist(), strategy="embeddings",
                                                        embeddings=Xs, threshold=threshold))
            loose = _represent(model, sdocs, labels, vectorizer)
            groups = _duplicates(model, _centroids(Xs, labels, k))
            if groups:
                merged = sum(len(g) - 1 for g in groups)
                with _quiet("BERTopic"):
                    model.merge_topics(sdocs, groups)  # the words are counted again, by the same representation
                labels = np.array(model.topics_)
                loose = model.representation_model[0].loose
                k = int(labels.max()) + 1
            C = _centroids(Xs, labels, k)
        else:
            threshold, loose = 1.0, set()
    assigned = np.full(m, -1, np.int32)
    closeness = np.zeros(m, np.float32)
    local = np.searchsorted(members, sample)  # the sample's places among the members
    if k > 0:
        for start in range(0, m, 20_000):
            sims = X[members[start:start + 20_000]] @ C.T
            best = sims.argmax(axis=1)
            closeness[start:start + 20_000] = sims[np.arange(len(best)), best]
            assigned[start:start + 20_000] = np.where(closeness[start:start + 20_000] >= threshold, best, -1)
        assigned[local] = labels  # the fitted messages keep the clustering's own answer
        closeness[local] = np.where(labels >= 0, (Xs * C[np.maximum(labels, 0)]).sum(axis=1), closeness[local])
    topics = [{**_describe(model.get_topic(t) or [], [lang] * int((labels == t).sum()), main),
               "shared_words": t not in loose} for t in range(k)]
    keep = [t for t in range(k) if topics[t]["terms"]]  # a cluster with no word two of its messages share: none
    if len(keep) < k:
        renumber = np.full(k + 1, -1, np.int32)
        renumber[keep] = np.arange(len(keep))
        assigned = renumber[assigned]  # -1 stays -1 (the last slot)
        topics, C = [topics[t] for t in keep], C[keep]
    _central_labels(topics, C, ws.embedder(), main)
    info.update(clusters=found, merged=merged, wordless=k - len(keep), threshold=round(threshold, 4),
                core_outliers=int((core == -1).sum()))
    return {"assigned": assigned, "closeness": closeness, "topics": topics, "centroids": C.astype(np.float32),
            "info": info}


def _readable(term: str) -> bool:
    words = term.split()
    return bool(words) and all(language.TOKEN.fullmatch(w) and w not in language.NOISE for w in words) \
        and len(set(words)) == len(words)


def _describe(terms: list[tuple[str, float]], codes: list[str | None], main: str) -> dict[str, Any]:
    """A topic's terms (best first, unreadable ones dropped), its language and a label of its best terms."""
    terms = [(w, s) for w, s in terms if w and _readable(w)]
    langs = language.mix(codes)
    lang = next(iter(langs), main)
    return {"terms": [{"term": w, "weight": round(float(s), 4)} for w, s in terms[:TOP_WORDS]],
            "language": lang, "languages": langs, "label": _label([w for w, _ in terms], lang, main)}


def _overlaps(a: str, b: str) -> bool:
    wa, wb = a.split(), b.split()
    return any(x[:5] == y[:5] for x in wa for y in wb if min(len(x), len(y)) >= 4) or a in b or b in a


def _label(terms: list[str], lang: str, main: str) -> str:
    """The best term, and the next that says something else: "cheaters / anti-cheat"."""
    if not terms:
        return "(no words)"
    picked = [terms[0]]
    for t in terms[1:]:
        if not any(_overlaps(t, p) for p in picked):
            picked.append(t)
            break
    label = " / ".join(picked)
    return f"{label} ({language.NAMES.get(lang, lang)})" if lang != main else label


def _central_labels(topics: list[dict[str, Any]], C: np.ndarray, encoder: Any, main: str) -> None:
    """Each label from the LABEL_CANDIDATES best terms: the one closest in meaning to the topic's centroid,
    then the next closest that says something else (KeyBERT's idea, on the workspace's embedder)."""
    if not topics:
        return
    pools = [[x["term"] for x in t["terms"][:LABEL_CANDIDATES]] for t in topics]
    words = sorted({w for pool in pools for w in pool})
    if not words:
        return
    vectors = dict(zip(words, encoder.encode(words)))
    for t, pool in enumerate(pools):
        if not pool:
            continue
        ranked = sorted(pool, key=lambda w: -float(vectors[w] @ C[t]))
        topics[t]["label"] = _label(ranked, topics[t]["language"], main)


def _distinct_labels(topics: list[dict[str, Any]]) -> None:
    """Two topics never share a leading word (a reader tells topics apart by it: not two "recommended / ..."),
    nor a label: the later one leads with its next term that leads no other label."""
    leads: set[str] = set()
    for t in topics:
        words = t["label"].split(" / ")
        if words[0] in leads:
            other = [w for w in words[1:] + [x["term"] for x in t["terms"]] if w not in leads and w != words[0]]
            if other:
                t["label"] = f"{other[0]} / {words[0]}"
        leads.add(t["label"].split(" / ")[0])
    seen: set[str] = set()
    for t in topics:
        if t["label"] in seen:
            extra = [x["term"] for x in t["terms"] if x["term"] not in t["label"]]
            t["label"] = f"{t['label']} / {extra[0]}" if extra else f"{t['label']} #{len(seen)}"
        seen.add(t["label"])


# ---- the answer -------------------------------------------------------------------------------

def quotes_for(ws: Workspace, fit: TopicFit, pos: np.ndarray, n: int = 3) -> list[dict[str, Any]]:
    """The messages (fit positions) closest to their topic's centroid, distinct texts."""
    order = pos[np.argsort(-fit.closeness[pos], kind="stable")][:n * 4]
    rows = ws.messages_by_id([int(fit.ids[p]) for p in order])
    out, seen = [], set()
    for p in order:
        r = rows.get(int(fit.ids[p]))
        text = " ".join((r or {}).get("text", "").split())
        if not text or text.lower() in seen:
            continue
        seen.add(text.lower())
        out.append({"id": int(fit.ids[p]), "time": None if r["time"] is None else day_of(r["time"]), "source": r["source"], "text": text[:280]})
        if len(out) == n:
            break
    return out


def scope_coherence(ws: Workspace, fit: TopicFit, ids: np.ndarray, tids: list[int]) -> dict[str, Any]:
    """c_npmi, c_v and diversity of the topics' words on the scoped messages (kept with the fit)."""
    key = _digest(hashlib.sha1(ids.tobytes()).hexdigest(), tids)
    if key not in fit.scoped:
        texts = [r[0] for r in ws.rows_in("SELECT text FROM messages WHERE id IN ({marks})", ids.tolist())]
        present = fit.info["stop_word_languages"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analyzer = _vectorizer(language.stop_words(present)).build_analyzer()
            tokens = [analyzer(language.clean(t)) for t in texts]
        words = [[x["term"] for x in fit.topics[t]["terms"]] for t in tids]
        fit.scoped[key] = coherence(words, tokens)
        _save(ws, fit)
    return fit.scoped[key]


def _tokens(ws: Workspace, ids: np.ndarray, languages: list[str]) -> list[list[str]]:
    """The messages' words as the fit's vectorizer reads them (n-grams included)."""
    texts = [r[0] for r in ws.rows_in("SELECT text FROM messages WHERE id IN ({marks})", ids.tolist())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analyzer = _vectorizer(language.stop_words(languages)).build_analyzer()
        return [analyzer(language.clean(t)) for t in texts]


def held_out_quality(ws: Workspace, train: np.ndarray, test: np.ndarray, other_seed: int = 7) -> dict[str, Any]:
    """Topics fitted on `train` scored on `test` (texts the fit never read): NPMI coherence and diversity of
    their words, the share of messages in no topic, and the agreement (ARI) of a fit with another seed on the
    same messages; the same for TF-IDF + NMF with as many topics (its seeds: random initialisations)."""
    from sklearn.decomposition import NMF
    from sklearn.metrics import adjusted_rand_score
    fit, _ = fit_for(ws, train)
    other = _fit(ws, train, f"{fit.key}-seed-{other_seed}", fit.contents, None, seed=other_seed)
    languages = fit.info["stop_word_languages"]
    held = _tokens(ws, test, languages)
    words = [[x["term"] for x in t["terms"]] for t in fit.topics]
    ours = {**coherence(words, held), "topics": len(fit.topics), "outliers": float((fit.assigned < 0).mean()),
            "seed_ari": float(adjusted_rand_score(fit.assigned, other.assigned))}
    texts = [language.clean(r[0]) for r in ws.rows_in("SELECT text FROM messages WHERE id IN ({marks})", train.tolist())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vec = _vectorizer(language.stop_words(languages), texts)
        X = vec.fit_transform(texts)
        from sklearn.feature_extraction.text import TfidfTransformer
        W = TfidfTransformer(sublinear_tf=True).fit_transform(X)
        k = max(2, len(fit.topics))
        fits = [NMF(k, init="random", random_state=r, max_iter=300).fit(W) for r in (0, 1)]
    vocab = np.array(vec.get_feature_names_out())
    nmf_words = [vocab[np.argsort(-row)[:TOP_WORDS]].tolist() for row in fits[0].components_]
    assign = [f.transform(W).argmax(axis=1) for f in fits]
    theirs = {**coherence(nmf_words, held), "topics": k, "outliers": 0.0,
              "seed_ari": float(adjusted_rand_score(*assign))}
    return {"topics": ours, "baseline": theirs, "train": len(train), "test": len(test)}


TREND_ALPHA = 0.05  # family-wise over the topics (Holm)


def trend(times: np.ndarray, topics: np.ndarray, tids: list[int]) -> dict[int, dict[str, Any]]:
    """Each topic's trend over the scope's dated span: the share of its messages in the later half against the
    share of all messages there (so a busier week is no trend), by an exact binomial test, Holm over the
    topics; "rising"/"falling" only past that, else "steady". Nothing for a scope without enough dates."""
    from scipy.stats import binomtest
    from statsmodels.stats.multitest import multipletests
    dated = ~np.isnan(times)
    if dated.sum() < MIN_MESSAGES or not tids:
        return {}
    t, k = times[dated], topics[dated]
    middle = t.min() + (t.max() - t.min()) / 2
    late = t >= middle
    expected = float(late.mean())
    if not 0 < expected < 1:
        return {}
    tests = []
    for tid in tids:
        mine = k == tid
        n, x = int(mine.sum()), int((mine & late).sum())
        tests.append((tid, n, x, binomtest(x, n, expected).pvalue if n else 1.0))
    adjusted = multipletests([p for *_, p in tests], method="holm")[1]
    out = {}
    for (tid, n, x, _), p in zip(tests, adjusted):
        ratio = (x / max(n - x, 1)) / (expected / (1 - expected)) if n else 1.0
        words = "steady" if p >= TREND_ALPHA else ("rising" if x / max(n, 1) > expected else "falling")
        out[tid] = {"words": words, "later_half_share": round(x / max(n, 1), 4), "expected_share": round(expected, 4),
                    "odds_ratio": round(ratio, 3), "p_adjusted": round(float(p), 4)}
    return out


def _languages_said(info: dict[str, Any]) -> str:
    """Which languages got topics of their own and which were too small, when there is more than one."""
    modelled = info.get("languages_modelled") or {}
    small = info.get("languages_too_small") or {}
    if len(modelled) + len(small) <= 1:
        return ""
    name = lambda code: language.NAMES.get(code, code)  # noqa: E731
    text = " Topics per language: " + ", ".join(f"{name(c)} ({v['messages']:,})" for c, v in modelled.items())
    if small:
        text += "; too few to model: " + ", ".join(f"{name(c)} ({n:,})" for c, n in list(small.items())[:6]) \
            + (f" and {len(small) - 6} more" if len(small) > 6 else "")
    return text + "."


def _over_time(times: np.ndarray, topics: np.ndarray, tids: list[int], bins: int = 20) -> list[dict[str, Any]]:
    dated = ~np.isnan(times)
    if dated.sum() < MIN_MESSAGES:
        return []
    t, k = times[dated], topics[dated]
    days = np.floor(t / 86400)
    nbins = int(min(bins, days.max() - days.min() + 1))
    edges = np.linspace(t.min(), t.max() + 1, nbins + 1)
    which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, nbins - 1)
    out = []
    for tid in tids:
        counts = np.bincount(which[k == tid], minlength=nbins)
        out += [{"topic": tid, "when": day_of(edges[b]), "messages": int(c)} for b, c in enumerate(counts) if c]
    return out


def topics(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """The topics of the messages in scope: labels, terms, sizes, sources, quotes, coherence."""
    scope = Scope.of(params)
    ids = scope_ids(ws, scope)
    if len(ids) < MIN_MESSAGES:
        return {"answer": f"too few messages ({len(ids)}) for topics; need at least {MIN_MESSAGES}",
                "evidence": {"scope": scope.describe(), "messages": len(ids)}}
    size = params.get("min-topic-size")
    community = scope_ids(ws, Scope(scope.source, scope.since, scope.until)) if scope.filters else ids
    fit, how, fit_on = community_fit(ws, scope.source, community, int(size) if size else None)
    pos = fit.positions(ids)
    assigned = fit.assigned[pos]
    meta = np.array(ws.rows_in("SELECT id, coalesce(time, 'nan'), source FROM messages WHERE id IN ({marks})",
                               ids.tolist()), dtype=object)
    order = np.argsort(meta[:, 0].astype(np.int64))
    times, sources = meta[order, 1].astype(float), meta[order, 2]
    tids = [int(t) for t in np.argsort(-np.bincount(assigned[assigned >= 0], minlength=len(fit.topics)))
            if (assigned == t).any()]
    found = []
    scores = fit.sentiment[pos]
    trends = trend(times, assigned, tids)
    for tid in tids:
        members = np.where(assigned == tid)[0]
        topic = fit.topics[tid]
        scored = scores[members][~np.isnan(scores[members])]
        found.append({"topic": tid, "id": topic.get("id"), "born": topic.get("born"),
                      "label": topic["label"], "size": len(members), "terms": topic["terms"],
                      "language": topic["language"], "sources": dict(Counter(sources[members].tolist())),
                      "negative_share": round(float((scored < NEGATIVE).mean()), 4) if len(scored) else None,
                      "trend": trends.get(tid), "quotes": quotes_for(ws, fit, pos[members])})
    outliers = int((assigned == -1).sum())
    co = scope_coherence(ws, fit, ids, tids) if tids else {}
    listed = "; ".join(f"{t['label']} ({t['size']:,})" for t in found[:3])
    share = outliers / len(ids)
    none = "every message has a topic" if outliers == 0 else \
        f"{outliers:,} ({share:.0%}) in none" if share >= 0.005 else f"{outliers:,} in none"
    answer = (f"{len(found)} topics in {len(ids):,} messages ({none}); the largest: {listed}." if found else
              f"No topics in {len(ids):,} messages: none is large enough (at least {fit.info['min_topic_size']}).")
    answer += _languages_said(fit.info)
    rows = [{"topic": t["label"], "messages": t["size"],
             "negative": "" if t["negative_share"] is None else f"{t['negative_share']:.0%}",
             "trend": (t["trend"] or {}).get("words", "")} for t in found]
    return {"answer": answer, "rows": rows, "columns": ["topic", "messages", "negative", "trend"],
            "evidence": {"scope": scope.describe(), "messages": len(ids), "unassigned": outliers,
                         "unassigned_share": round(share, 4), "topics": found,
                         "over_time": _over_time(times, assigned, tids),
                         "coherence": {**co, "computed_on": "the scoped messages the topics describe (in-sample, not"
                                                            " held out); gensim CoherenceModel, top-10 terms"},
                         "fit": {**fit.info, "how": how, "topics_of": fit_on}},
            "model": f"BERTopic (UMAP + HDBSCAN, min topic size {fit.info['min_topic_size']}, fit on"
                     f" {fit.info['fit_on']:,} messages; relevance-ranked terms, labels KeyBERT-style; stop words of"
                     f" {', '.join(fit.info['stop_word_languages']) or 'en'}) on {ws.embed_model} embeddings"}

