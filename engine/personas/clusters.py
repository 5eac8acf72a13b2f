"""Personas: players (authors) clustered on their mean message embedding and behaviour, the number of
clusters chosen by silhouette and stability, each named from its distinctive terms, described by its
behaviour profile and diverse representative quotes, and kept with stable ids across refits."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analytics.sentiment import message_vectors, model_for
from ..workspace.progress import step
from ..workspace.dates import iso
from ..workspace.derived import derived
from ..workspace.store import Workspace, WorkspaceError, dumps, now_iso

DAY = 86400.0
MIN_PLAYERS = 12  # fewer players than this and there is nothing to cluster
MIN_FIT_MESSAGES = 3  # players with at least this many messages define the clusters (when enough have)
MAX_K = 10
SILHOUETTE_SAMPLE = 4000
STABILITY_RUNS, STABILITY_MIN = 5, 0.75
BEHAVIOUR_WEIGHT = 0.35  # the behaviour block's share of the distance, against the unit-norm embedding
SAME_PERSONA = 0.85  # a refit cluster whose centroid is this close to an old persona keeps its id and name
REFIT_GROWTH = 1.25  # refit when the players grew by this factor since the last fit; else assign newcomers
QUIET_DAYS = 14  # a player silent this long before the data's end has gone quiet

# Player archetypes a persona may be named after. A persona is named from its own data (its two most
# distinctive terms) unless an archetype fits it clearly: its meaning (terms and messages) is close to
# the archetype's, ahead of the next archetype by a margin, AND its own distinctive terms use the
# archetype's words (on the CS2 reviews, positive reviewers' "good fun game" sat closest to
# casual-players by meaning alone, with none of its words).
ARCHETYPES = {
    "competitive-players": "competitive players talking about ranked matches, pvp, the meta, builds, "
                           "leaderboards, matchmaking, tournaments and balance",
    "casual-players": "casual players enjoying the story, fashion, cosmetics, skins, outfits, pets, pretty "
                      "looks, chill vibes, relaxing play, exploring and playing with friends",
    "loot-grinders": "players grinding and farming for loot, rare drops, drop rates, rng and resources",
    "new-players": "new players and beginners asking for help: the tutorial, the first quest, learning the "
                   "controls, getting started, logging in",
    "social-players": "social players talking about clans, guilds, community events and making friends",
    "spenders": "players talking about prices, the store, premium currency, bundles and spending money",
    "bug-reporters": "players reporting bugs, glitches and performance problems: frame rate, lag, stutter, "
                     "desync, memory leaks",
    "lore-fans": "players discussing the lore, characters, quests and the story's plot",
    "toxic-players": "players insulting and flaming teammates with slurs, swearing and trash talk",
    "critics": "players complaining that the developers do not listen, with refunds and negative reviews",
}
NAME_MIN_SIMILARITY = 0.45  # below this a persona means no archetype (unrelated ones score ~0.1-0.4)
NAME_MARGIN = 0.03  # ahead of the second-closest archetype by at least this much
NAME_TERMS = 2  # of its 10 distinctive terms, at least this many share a word stem with the archetype's text
WEAK_SILHOUETTE = 0.15  # below this the personas overlap: said plainly with them and in their answers
WORD = re.compile(r"\b[a-z][a-z]+\b")


@dataclass
class Players:
    """Per-player rows: embedding mean, behaviour features, and what they were computed from."""
    authors: list[str]
    platforms: list[str]
    embedding: np.ndarray  # unit-norm mean message embedding, (n, dim)
    behaviour: np.ndarray  # (n, len(BEHAVIOUR)), raw
    messages: np.ndarray  # message count
    sentiment: np.ndarray  # mean message sentiment
    playtime: np.ndarray  # hours, where the platform reports it (else 0)


BEHAVIOUR = ["log messages", "log active days", "mean sentiment", "negative share"]


def players(ws: Workspace, authors: list[str] | None = None, until: float | None = None,
            where: str | None = None) -> Players:
    """Feature rows for every author with messages (or for the given authors), from their messages
    (only those before `until`, and only those meeting `where`, an SQL condition on `messages m`)."""
    query = ("SELECT m.author, m.id, m.time, a.platform FROM messages m JOIN authors a ON a.id = m.author"
             " WHERE m.author {who}" + (f" AND m.time < {float(until)!r}" if until is not None else "")
             + (f" AND ({where})" if where else "") + " ORDER BY m.author, m.id")
    if authors is None:
        rows = ws.db.execute(query.replace("{who}", "IS NOT NULL")).fetchall()
    else:
        rows = ws.rows_in(query.replace("{who}", "IN ({marks})"), authors)
        rows.sort(key=lambda r: (r[0], r[1]))
    if not rows:
        return Players([], [], np.zeros((0, ws.vector_index().dim()), np.float32), np.zeros((0, len(BEHAVIOUR))),
                       np.zeros(0), np.zeros(0), np.zeros(0))
    first: dict[str, int] = {}
    for r in rows:
        first[r[0]] = min(first.get(r[0], r[1]), r[1])
    # players in order of their first message, not of their pseudonyms (salted per workspace): the same
    # data clusters the same way in every workspace
    rows.sort(key=lambda r: (first[r[0]], r[1]))
    vecs = message_vectors(ws, [r[1] for r in rows])
    model = model_for(ws)
    ids = [r[1] for r in rows]
    sent, net = model.scores_and_net(ids)
    names, starts = np.unique(np.array([r[0] for r in rows]), return_index=True)
    order = np.argsort(starts)
    names, starts = names[order], starts[order]
    counts = np.diff(np.append(starts, len(rows)))
    emb = np.add.reduceat(vecs, starts, axis=0)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-9
    # a player's mean over the messages that have a score (one with none counts as neutral, 0)
    scored = np.add.reduceat((~np.isnan(sent)).astype(float), starts)
    mean_sent = np.divide(np.add.reduceat(np.nan_to_num(sent), starts), scored, out=np.zeros(len(starts)),
                          where=scored > 0)
    negative = np.divide(np.add.reduceat((net == -1).astype(float), starts), scored, out=np.zeros(len(starts)),
                         where=scored > 0)
    days = np.array([np.nan if r[2] is None else np.floor(r[2] / DAY) for r in rows])
    active = np.array([len(set(d[~np.isnan(d)].tolist())) for d in np.split(days, starts[1:])])
    behaviour = np.column_stack([np.log1p(counts), np.log1p(active), mean_sent, negative])
    return Players(names.tolist(), [rows[s][3] for s in starts], emb.astype(np.float32), behaviour,
                   counts.astype(float), mean_sent, _playtime_hours(ws, names.tolist()))


def _playtime_hours(ws: Workspace, authors: list[str]) -> np.ndarray:
    """Hours played where the platform reports it (Steam's playtime_forever, in minutes), else 0."""
    found = {a: minutes / 60.0 for a, minutes in ws.rows_in(
        "SELECT id, CAST(json_extract(attrs, '$.playtime_forever') AS REAL) FROM authors WHERE id IN ({marks})", authors)
        if isinstance(minutes, (int, float))}
    return np.array([found.get(a, 0.0) for a in authors])


def _space(p: Players) -> np.ndarray:
    """The clustering space: the unit embedding beside the behaviour block, standardised within each
    platform (one review is a normal count on Steam, not on Discord: platforms must not become personas)."""
    z = np.zeros_like(p.behaviour)
    platforms = np.array(p.platforms)
    for name in set(p.platforms):
        rows = platforms == name
        block = p.behaviour[rows]
        z[rows] = (block - block.mean(axis=0)) / (block.std(axis=0) + 1e-6)
    return np.hstack([p.embedding, z * (BEHAVIOUR_WEIGHT / np.sqrt(z.shape[1]))]).astype(np.float32)


def stability(X: np.ndarray, labels: np.ndarray, k: int, rng: np.random.Generator, seed: int, n_init: int,
              runs: int = STABILITY_RUNS) -> float:
    """Mean ARI between `labels` and k-means refits on random 80% subsamples."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    aris = []
    for run in range(runs):
        sub = rng.choice(len(X), int(0.8 * len(X)), replace=False)
        aris.append(adjusted_rand_score(labels[sub], KMeans(k, n_init=n_init, random_state=seed + run + 1)
                                        .fit_predict(X[sub])))
    return float(np.mean(aris))


def core_players(p: Players) -> np.ndarray:
    """The players that define the clusters: those with MIN_FIT_MESSAGES or more, or everyone where too few do."""
    core = p.messages >= MIN_FIT_MESSAGES
    return core if core.sum() >= MIN_PLAYERS * 4 else np.ones(len(p.authors), bool)


def choose_k(X: np.ndarray, seed: int = 0) -> tuple[int, np.ndarray, list[dict[str, Any]]]:
    """The number of clusters with the best silhouette among stable choices, its labels, and the
    score of every candidate (silhouette on a sample; stability = mean ARI of refits on 80% subsamples)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    rng = np.random.default_rng(seed)
    n = len(X)
    sample = rng.choice(n, min(n, SILHOUETTE_SAMPLE), replace=False)
    n_init = 10 if n <= 5000 else 3
    candidates, fits = [], {}
    for k in range(2, min(MAX_K, n // 4) + 1):
        km = KMeans(k, n_init=n_init, random_state=seed).fit(X)
        labels = km.labels_
        sil = float(silhouette_score(X[sample], labels[sample])) if len(set(labels[sample])) > 1 else -1.0
        fits[k] = labels
        candidates.append({"k": k, "silhouette": round(sil, 4)})
    for c in sorted(candidates, key=lambda c: -c["silhouette"])[:3]:
        c["stability"] = round(stability(X, fits[c["k"]], c["k"], rng, seed, n_init), 4)
    stable = [c for c in candidates if c.get("stability", 0) >= STABILITY_MIN] or \
        [max((c for c in candidates if "stability" in c), key=lambda c: c["stability"])]
    best = max(stable, key=lambda c: c["silhouette"])
    return best["k"], fits[best["k"]], candidates


def distinctive_terms(texts_by_cluster: list[list[str]], top: int = 10) -> list[list[str]]:
    """Each cluster's top terms by class-based TF-IDF (the cluster's messages as one document)."""
    from sklearn.feature_extraction.text import CountVectorizer
    docs = [" ".join(t) for t in texts_by_cluster]
    vec = CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=1, token_pattern=WORD.pattern,
                          max_features=50_000)
    try:
        counts = vec.fit_transform(docs).toarray().astype(float)
    except ValueError:  # no words at all
        return [[] for _ in docs]
    tf = counts / (counts.sum(axis=1, keepdims=True) + 1e-9)
    avg_words = counts.sum() / len(docs)
    idf = np.log(1 + avg_words / (counts.sum(axis=0) + 1e-9))
    vocab = np.array(vec.get_feature_names_out())
    repeated = np.array([len(set(t.split())) < len(t.split()) for t in vocab])  # "farm farm" says nothing new
    score = np.where(repeated, 0.0, tf * idf)
    return [vocab[np.argsort(-row)[:top]].tolist() for row in score]


def _same_stem(a: str, b: str) -> bool:
    """Crude stemming: words of 4+ letters that agree on their first 5 (or all of the shorter one's
    first 4-5): "farm" ~ "farming", "skins" ~ "skin", "grind" ~ "grinding"."""
    k = min(5, len(a), len(b))
    return k >= 4 and a[:k] == b[:k]


def archetype_support(terms: list[str], archetype: str) -> int:
    """How many of a persona's distinctive terms share a word stem with the archetype's description."""
    words = [w for w in WORD.findall(ARCHETYPES[archetype].lower()) if len(w) > 3]
    return sum(1 for t in terms if any(_same_stem(w, a) for w in WORD.findall(t.lower()) if len(w) > 3 for a in words))


def name_personas(terms: list[list[str]], centroids: np.ndarray, encode: Any) -> list[str]:
    """A name per cluster from its data: its two most distinctive single words, unless an archetype
    fits it clearly (one cluster per archetype, by optimal assignment over the averaged similarity of
    its terms and its messages' centroid; at least NAME_MIN_SIMILARITY, NAME_MARGIN ahead of the next
    archetype, and NAME_TERMS of its own terms in the archetype's words)."""
    from scipy.optimize import linear_sum_assignment
    archetypes = list(ARCHETYPES)
    T = encode([("players who talk about " + ", ".join(t)) if t else "players" for t in terms])
    A = encode(list(ARCHETYPES.values()))
    sims = (T @ A.T + centroids @ A.T) / 2
    rows, cols = linear_sum_assignment(-sims)
    chosen = {}
    for r, c in zip(rows, cols):
        runner_up = np.max(np.delete(sims[r], c)) if sims.shape[1] > 1 else -1.0
        if (sims[r, c] >= NAME_MIN_SIMILARITY and sims[r, c] - runner_up >= NAME_MARGIN
                and archetype_support(terms[r], archetypes[c]) >= NAME_TERMS):
            chosen[r] = archetypes[c]
    out: list[str] = []
    for i, t in enumerate(terms):
        name = chosen.get(i)
        if name is None:
            words = [w for w in t if " " not in w][:2] or ["other"]
            name = "-".join(words) + "-players"
        while name in out:
            name += "-2"
        out.append(name)
    return out


def separation(ws: Workspace) -> dict[str, Any]:
    """The chosen fit's silhouette and stability, and a plain sentence when the personas overlap."""
    info = fit_info(ws)
    chosen = next((c for c in info.get("candidates", []) if c["k"] == info.get("k")), {})
    sil = chosen.get("silhouette")
    weak = sil is not None and sil < WEAK_SILHOUETTE
    note = (f"the personas are weakly separated (silhouette {sil:.2f}, below {WEAK_SILHOUETTE}): they overlap,"
            " so read them as tendencies rather than distinct kinds of players") if weak else None
    return {"silhouette": sil, "stability": chosen.get("stability"), "weakly_separated": weak, "note": note}


def mmr(vectors: np.ndarray, target: np.ndarray, n: int, lam: float = 0.6) -> list[int]:
    """Maximal marginal relevance: rows close to `target` and unlike those already picked."""
    if len(vectors) == 0:
        return []
    relevance = vectors @ target
    picked: list[int] = [int(np.argmax(relevance))]
    while len(picked) < min(n, len(vectors)):
        redundancy = (vectors @ vectors[picked].T).max(axis=1)
        score = lam * relevance - (1 - lam) * redundancy
        score[picked] = -np.inf
        picked.append(int(np.argmax(score)))
    return picked


def _member_messages(ws: Workspace, authors: list[str]) -> list[tuple[int, float | None, str, str, str, str]]:
    """(id, time, text, author, source, content_hash) of the given authors' messages."""
    return sorted(ws.rows_in("SELECT id, time, text, author, source, content_hash FROM messages WHERE author IN ({marks})",
                             authors))  # by id: in one order on every store (ties among terms follow it)


def silence_means_something(messages_per_player: np.ndarray) -> bool:
    """Whether "gone quiet" is worth reporting: not where one message per player is the norm (a store
    review is written once; its author's silence afterwards says nothing)."""
    return len(messages_per_player) > 0 and float(np.median(messages_per_player)) > 1


def _describe(ws: Workspace, p: Players, members: np.ndarray, last_time: float | None,
              rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any], list[dict[str, Any]], list[str]]:
    """A persona's centroid, behaviour profile, representative quotes (MMR) and its message texts."""
    authors = [p.authors[i] for i in members]
    msgs = _member_messages(ws, authors)
    centroid = p.embedding[members].mean(axis=0)
    centroid /= np.linalg.norm(centroid) + 1e-9
    sources: dict[str, int] = {}
    for m in msgs:
        sources[m[4]] = sources.get(m[4], 0) + 1
    latest: dict[str, float] = {}
    for m in msgs:
        if m[1] is not None:
            latest[m[3]] = max(latest.get(m[3], m[1]), m[1])
    quiet = sum(1 for a in authors if a in latest and last_time is not None and latest[a] < last_time - QUIET_DAYS * DAY)
    playtime = p.playtime[members]
    profile = {"players": len(members), "messages": len(msgs),
               "messages_per_player": round(float(np.median(p.messages[members])), 1),
               "active_days_per_player": round(float(np.median(np.expm1(p.behaviour[members, 1]))), 1),
               "mean_sentiment": round(float(np.average(p.sentiment[members], weights=p.messages[members])), 3),
               "negative_share": round(float(np.average(p.behaviour[members, 3], weights=p.messages[members])), 3),
               "sources": sources,
               "median_playtime_hours": round(float(np.median(playtime[playtime > 0])), 1) if (playtime > 0).any() else None,
               "gone_quiet": quiet if silence_means_something(p.messages[members]) else None}
    # quotes: MMR among (a sample of) the persona's distinct messages nearest its centroid
    seen, pool = set(), []
    for m in msgs:
        if m[5] not in seen and len(m[2]) >= 12:
            seen.add(m[5])
            pool.append(m)
    if len(pool) > 5000:
        pool = [pool[i] for i in rng.choice(len(pool), 5000, replace=False)]
    vecs = message_vectors(ws, [m[0] for m in pool])
    near = np.argsort(-(vecs @ centroid))[:300]
    quotes = [{"id": pool[near[i]][0], "time": iso(pool[near[i]][1]), "source": pool[near[i]][4],
               "text": " ".join(pool[near[i]][2].split())[:240]} for i in mmr(vecs[near], centroid, 5)]
    return centroid, profile, quotes, [m[2] for m in msgs]


@step("clustering players into personas")
def fit(ws: Workspace, seed: int = 0) -> list[dict[str, Any]]:
    """Cluster the workspace's players into personas and store them (ids and names kept for clusters
    that match an earlier fit)."""
    p = players(ws)
    if len(p.authors) < MIN_PLAYERS:
        raise WorkspaceError(f"personas need at least {MIN_PLAYERS} players with messages; the workspace has"
                             f" {len(p.authors)} (ingest chat, reviews or tickets first)")
    core = core_players(p)
    X = _space(p)
    k, core_labels, candidates = choose_k(X[core], seed)
    centers = np.stack([X[core][core_labels == c].mean(axis=0) for c in range(k)])
    labels = np.argmin(((X[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    labels[core] = core_labels
    distance = np.sqrt(((X - centers[labels]) ** 2).sum(-1))
    last_time = ws.db.execute("SELECT max(time) FROM messages").fetchone()[0]
    rng = np.random.default_rng(seed)
    described = [_describe(ws, p, np.where(labels == c)[0], last_time, rng) for c in range(k)]
    terms = distinctive_terms([d[3] if len(d[3]) <= 20000 else [d[3][i] for i in rng.choice(len(d[3]), 20000, replace=False)]
                               for d in described])
    enc = ws.embedder()
    centroids = np.stack([d[0] for d in described])
    ids, names = _stable_ids(ws, centroids, name_personas(terms, centroids, enc.encode))
    stamp = now_iso()
    with ws.transaction():
        ws.db.execute("DELETE FROM personas")
        ws.db.execute("DELETE FROM persona_members")
        ws.db.conn.executemany(
            "INSERT INTO personas(id, name, size, centroid, terms, profile, quotes, fitted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(ids[c], names[c], int((labels == c).sum()), described[c][0].astype(np.float32).tobytes(), dumps(terms[c]),
              dumps(described[c][1]), dumps(described[c][2]), stamp) for c in range(k)])
        ws.db.conn.executemany("INSERT INTO persona_members(author, persona, distance, fitted) VALUES (?, ?, ?, ?)",
                               [(a, ids[labels[i]], float(distance[i]), int(core[i])) for i, a in enumerate(p.authors)])
        ws.set_meta("personas", dumps({"fitted": stamp, "players": len(p.authors), "fitted_on": int(core.sum()),
                                       "k": k, "candidates": candidates, "model": ws.embed_model,
                                       "features": ["mean message embedding", *BEHAVIOUR]}))
    return stored(ws)


def quality(ws: Workspace, seed: int = 0, null_runs: int = 3, quick: bool = False) -> dict[str, Any]:
    """The personas' separation (silhouette) and stability (mean ARI of refits on 80% subsamples) beside the
    same k on the same players' features with each column shuffled independently (the space keeps every
    feature's spread and loses its structure): clusters that do no better than that found nothing."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    ensure(ws)
    info = fit_info(ws)
    p = players(ws)
    X = _space(p)[core_players(p)]
    rng = np.random.default_rng(seed)
    if quick and len(X) > 2000:
        X = X[rng.choice(len(X), 2000, replace=False)]
    k = info["k"]
    chosen = next(c for c in info["candidates"] if c["k"] == k)
    sample = rng.choice(len(X), min(len(X), SILHOUETTE_SAMPLE), replace=False)

    def scores(Z: np.ndarray) -> tuple[float, float]:
        labels = KMeans(k, n_init=3, random_state=seed).fit_predict(Z)
        return float(silhouette_score(Z[sample], labels[sample])), stability(Z, labels, k, rng, seed, 3, runs=1)
    null = [scores(np.column_stack([rng.permutation(col) for col in X.T])) for _ in range(null_runs)]
    return {"players": int(len(X)), "k": k, "silhouette": chosen["silhouette"],
            "stability": chosen.get("stability", float("nan")),
            "null_silhouette": round(float(np.mean([n[0] for n in null])), 4),
            "null_silhouette_max": round(float(max(n[0] for n in null)), 4),
            "null_stability": round(float(np.mean([n[1] for n in null])), 4), "null_runs": null_runs}


def _stable_ids(ws: Workspace, centroids: np.ndarray, names: list[str]) -> tuple[list[str], list[str]]:
    """Ids (and names) of an earlier fit for the clusters that match it; new ids for the rest."""
    from scipy.optimize import linear_sum_assignment
    old = ws.db.execute("SELECT id, name, centroid FROM personas").fetchall()
    ids: list[str | None] = [None] * len(centroids)
    names = list(names)
    if old and len(old[0][2]) == centroids.shape[1] * 4:
        prev = np.stack([np.frombuffer(o[2], np.float32) for o in old])
        sims = centroids @ prev.T
        for r, c in zip(*linear_sum_assignment(-sims)):
            if sims[r, c] >= SAME_PERSONA:
                ids[r], names[r] = old[c][0], old[c][1]
    used = {int(o[0][1:]) for o in old if o[0][1:].isdigit()} | {int(i[1:]) for i in ids if i}
    taken = {n for i, n in zip(ids, names) if i}
    for r in range(len(ids)):
        if ids[r] is None:
            ids[r] = f"P{max(used, default=0) + 1}"
            used.add(int(ids[r][1:]))
            while names[r] in taken:
                names[r] += "-2"
            taken.add(names[r])
    return [str(i) for i in ids], names


def stored(ws: Workspace) -> list[dict[str, Any]]:
    """The stored personas, largest first."""
    rows = ws.db.execute("SELECT id, name, size, terms, profile, quotes, fitted FROM personas ORDER BY size DESC, id").fetchall()
    return [{"id": r[0], "name": r[1], "size": r[2], "terms": json.loads(r[3]), "profile": json.loads(r[4]),
             "quotes": json.loads(r[5]), "fitted": r[6]} for r in rows]


def ensure(ws: Workspace) -> list[dict[str, Any]]:
    """The personas, fitted first if the workspace has none yet."""
    return stored(ws) or fit(ws)


def fit_info(ws: Workspace) -> dict[str, Any]:
    """How the current personas were found (k, candidates with silhouette and stability, features)."""
    return json.loads(ws.get_meta("personas") or "{}")


def find(ws: Workspace, name: str) -> dict[str, Any]:
    """One persona by name or id; an unknown name is an error listing the known ones."""
    found = ensure(ws)
    for p in found:
        if name in (p["name"], p["id"]):
            return p
    raise WorkspaceError(f"no persona named {name!r}; the personas are: {', '.join(p['name'] for p in found)}")


def member_ids(ws: Workspace, persona_id: str) -> np.ndarray:
    """Message ids of a persona's players (cached until the next ingest or refit)."""
    return derived(ws, f"persona-messages:{persona_id}", lambda: np.array([r[0] for r in ws.db.execute(
        "SELECT m.id FROM messages m JOIN persona_members pm ON pm.author = m.author WHERE pm.persona = ?",
        [persona_id])], dtype=np.int64))


def refresh(ws: Workspace, refit: bool = True) -> dict[str, Any]:
    """After an ingest: refit when the players grew by REFIT_GROWTH since the fit, else give each new
    player the persona with the nearest centroid. Nothing happens before personas were first found.
    refit=False (a live stream's batches): newcomers are only ever assigned; the next ingest or watch
    round refits."""
    info = json.loads(ws.get_meta("personas") or "{}")
    if not info:
        return {"personas": "not fitted"}
    if info.get("model") != ws.embed_model:
        return {"personas": "refit", "count": len(fit(ws))} if refit else {"personas": "stale (refit at the next ingest)"}
    new = [r[0] for r in ws.db.execute("SELECT DISTINCT author FROM messages WHERE author IS NOT NULL AND author NOT IN"
                                       " (SELECT author FROM persona_members)")]
    if not new:
        return {"personas": "unchanged"}
    # growth since the fit, counting the players assigned by earlier batches too: ten 10% batches refit
    members = ws.db.execute("SELECT count(*) FROM persona_members").fetchone()[0]
    if refit and members + len(new) >= REFIT_GROWTH * info["players"]:
        return {"personas": "refit", "count": len(fit(ws))}
    rows = ws.db.execute("SELECT id, centroid FROM personas").fetchall()
    centroids = np.stack([np.frombuffer(r[1], np.float32) for r in rows])
    p = players(ws, new)
    sims = p.embedding @ centroids.T
    best = sims.argmax(axis=1)
    with ws.transaction():
        ws.db.conn.executemany("INSERT INTO persona_members(author, persona, distance, fitted) VALUES (?, ?, ?, 0)",
                               [(a, rows[best[i]][0], float(1 - sims[i, best[i]])) for i, a in enumerate(p.authors)])
        ws.db.execute("UPDATE personas SET size = (SELECT count(*) FROM persona_members pm WHERE pm.persona = personas.id)")
    return {"personas": "assigned", "players": len(p.authors)}


def refresh_stage(ws: Workspace, run: Any) -> None:
    """The ingest stage (see ingestion.stages): new players join the personas, or they are refit."""
    run.report.personas = refresh(ws)


def assign_stage(ws: Workspace, run: Any) -> None:
    """A live stream's stage: new players join the nearest persona, never a refit."""
    run.report.personas = refresh(ws, refit=False)
