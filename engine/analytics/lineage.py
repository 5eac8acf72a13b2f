"""Topics that keep their identity across refits of growing data. Every refit of a source's topics numbers
its clusters anew; here each is matched to the topics seen before (by centroid and by shared terms), so a
topic keeps one id, and its label, while its terms stay the same. What does not match is a birth (a new
topic: a new complaint shows up as one), a death, a merge (two earlier topics matched by one) or a split
(one earlier topic matched by two), each dated. The lineage is kept per source in the workspace's meta
table; `history` reads it as a family tree.

Matching: topics a and b are one when their centroids' cosine is at least MATCH_COSINE, or at least
NEAR_COSINE with MATCH_TERMS of their top-10 terms shared; each is paired with its best match, and a pair
chosen from both sides is a continuation. A label is kept unless fewer than RELABEL_JACCARD of the terms
are still there."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..workspace.dates import iso
from ..workspace.store import Workspace
from .series import DAY, day_of

MATCH_COSINE = 0.80
NEAR_COSINE = 0.65
MATCH_TERMS = 3
RELABEL_JACCARD = 0.3
TERMS = 10
BIRTH_MIN_A_DAY = 2  # a born topic's date: the first day after the last fit with this many of its messages


def _key(source: str | None) -> str:
    return f"topic-lineage:{source or '*'}"


def load(ws: Workspace, source: str | None) -> dict[str, Any]:
    raw = ws.get_meta(_key(source))
    return json.loads(raw) if raw else {"next": 1, "topics": {}, "fits": {}, "events": [], "end": None}


def _terms(topic: dict[str, Any]) -> list[str]:
    return [t["term"] for t in topic["terms"][:TERMS]]


def alike(S: np.ndarray, shared: np.ndarray) -> np.ndarray:
    """Which pairs may be one topic, by their centroids' cosines `S` and their shared top terms `shared`."""
    return (S >= MATCH_COSINE) | ((S >= NEAR_COSINE) & (shared >= MATCH_TERMS))


def match(new_c: np.ndarray, new_terms: list[list[str]], old_c: np.ndarray, old_terms: list[list[str]]
          ) -> tuple[dict[int, int], dict[int, list[int]], dict[int, list[int]]]:
    """(continuations new -> old, merges new -> [olds], splits old -> [news]) by index. A new topic that
    several old ones pick as their best is a merge; an old one that several new ones pick is a split (its
    best new one continues it)."""
    if not len(new_c) or not len(old_c):
        return {}, {}, {}
    S = new_c @ old_c.T
    shared = np.array([[len(set(a) & set(b)) for b in old_terms] for a in new_terms])
    ok = alike(S, shared)
    score = np.where(ok, S, -np.inf)
    best_old = {i: int(score[i].argmax()) for i in range(len(new_c)) if ok[i].any()}
    best_new = {j: int(score[:, j].argmax()) for j in range(len(old_c)) if ok[:, j].any()}
    continues = {i: j for i, j in best_old.items() if best_new.get(j) == i}
    merges: dict[int, list[int]] = {}
    for j, i in best_new.items():
        if best_old.get(i) != j and i in continues:  # another old topic's best is a topic that continues one
            merges.setdefault(i, [continues[i]]).append(j)
    splits: dict[int, list[int]] = {}
    for i, j in best_old.items():
        if i not in continues and j in best_new:  # picked an old topic that continues as another new one
            splits.setdefault(j, []).append(i)
    return continues, merges, splits


def stable_ids(ws: Workspace, source: str | None, fit: Any) -> tuple[dict[int, int], dict[str, Any]]:
    """(the stable id of each of the fit's topics, by the fit's topic index; the lineage's topics by id),
    recording what changed since the source's previous fit: births, deaths, merges and splits, dated.
    Asked again for the same fit, the same answer (nothing is recorded twice)."""
    lineage = load(ws, source)
    done = lineage["fits"].get(fit.key)
    if done is not None:
        return {int(k): v for k, v in done.items()}, lineage["topics"]
    if fit.centroids is None or not len(fit.topics):
        return {}, lineage["topics"]
    from .topics import fit_times
    times = fit_times(ws, fit)  # the same cached read drivers and the watcher use
    with ws.transaction(data=False):  # read and written under the write lock: two processes record once
        lineage = load(ws, source)
        done = lineage["fits"].get(fit.key)
        if done is not None:
            return {int(k): v for k, v in done.items()}, lineage["topics"]
        ids = _record(lineage, fit, times)
        ws.set_meta(_key(source), json.dumps(lineage))  # bookkeeping: nothing derived is computed from it
    return ids, lineage["topics"]


def _record(lineage: dict[str, Any], fit: Any, times: np.ndarray) -> dict[int, int]:
    end = float(np.nanmax(times)) if np.isfinite(times).any() else None
    live = [int(t) for t, v in lineage["topics"].items() if v["died"] is None]
    old_c = np.array([lineage["topics"][str(t)]["centroid"] for t in live], np.float32).reshape(len(live), fit.centroids.shape[1])
    old_terms = [lineage["topics"][str(t)]["terms"] for t in live]
    new_terms = [_terms(t) for t in fit.topics]
    continues, merges, splits = match(fit.centroids, new_terms, old_c, old_terms)
    first = not lineage["topics"]
    when = day_of(end) if end is not None else None
    ids: dict[int, int] = {}
    events = lineage["events"]
    for i, topic in enumerate(fit.topics):
        members = fit.assigned == i
        mine = times[members]
        mine = mine[np.isfinite(mine)]
        size = int(members.sum())
        if i in continues:
            tid = live[continues[i]]
            entry = lineage["topics"][str(tid)]
            kept = len(set(entry["terms"]) & set(new_terms[i])) / max(len(set(entry["terms"]) | set(new_terms[i])), 1)
            if kept < RELABEL_JACCARD and topic["label"] != entry["label"]:
                events.append({"date": when, "kind": "relabel", "topic": tid, "from": entry["label"],
                               "to": topic["label"]})
                entry["label"] = topic["label"]
            entry.update(terms=new_terms[i], centroid=np.round(fit.centroids[i], 5).tolist(), size=size)
            ids[i] = tid
            continue
        tid = lineage["next"]
        lineage["next"] += 1
        parent = next((live[j] for j, news in splits.items() if i in news), None)
        born = _born(mine, lineage["end"]) if not first else (day_of(float(mine.min())) if len(mine) else when)
        lineage["topics"][str(tid)] = {"label": topic["label"], "terms": new_terms[i], "size": size, "born": born,
                                       "died": None, "parent": parent, "merged_into": None, "first_fit": first,
                                       "centroid": np.round(fit.centroids[i], 5).tolist()}
        if not first:
            events.append({"date": born, "kind": "split" if parent is not None else "birth", "topic": tid,
                           "label": topic["label"], **({"from": parent} if parent is not None else {})})
        ids[i] = tid
    taken = set(ids.values())
    for j, tid in enumerate(live):
        if tid in taken:
            continue
        entry = lineage["topics"][str(tid)]
        into = next((ids[i] for i, olds in merges.items() if j in olds), None)
        entry["died"] = when
        entry["merged_into"] = into
        events.append({"date": when, "kind": "merge" if into is not None else "death", "topic": tid,
                       "label": entry["label"], **({"into": into} if into is not None else {})})
    lineage["fits"][fit.key] = {str(i): t for i, t in ids.items()}
    lineage["fits"] = dict(list(lineage["fits"].items())[-50:])  # the latest fits' answers, for asking again
    lineage["end"] = end
    return ids


def _born(times: np.ndarray, since: float | None) -> str | None:
    """A new topic's birthday: the first day after `since` (the previous fit's last message) holding
    BIRTH_MIN_A_DAY of its messages; else the first day after it with any; else its first message's day."""
    if not len(times):
        return None
    later = np.sort(times[times > since]) if since is not None else np.sort(times)
    if not len(later):
        return day_of(float(times.min()))
    days, counts = np.unique((later // DAY).astype(int), return_counts=True)
    busy = days[counts >= BIRTH_MIN_A_DAY]
    return iso(float((busy[0] if len(busy) else days[0]) * DAY))[:10]


def history(ws: Workspace, source: str | None = None) -> dict[str, Any]:
    """The topics' family tree: each topic's id, label, when it was first seen or born, whether it died or
    merged, its parent (a split), and the dated events in order."""
    lineage = load(ws, source)
    rows = [{"id": int(t), "label": v["label"], "born": v["born"], "first_seen_in_first_fit": v["first_fit"],
             "died": v["died"], "merged_into": v["merged_into"], "split_from": v["parent"], "size": v["size"]}
            for t, v in sorted(lineage["topics"].items(), key=lambda kv: int(kv[0]))]
    events = lineage["events"]
    births = [e for e in events if e["kind"] in ("birth", "split")]
    answer = (f"{sum(r['died'] is None for r in rows)} live topics of {len(rows)} seen over {len(lineage['fits'])}"
              f" fit(s); {len(births)} born since the first fit"
              + (f", the latest: {births[-1]['label']} ({births[-1]['date']})" if births else "")
              + f"; {sum(e['kind'] == 'merge' for e in events)} merged, {sum(e['kind'] == 'death' for e in events)}"
              f" gone." if rows else "No topics fitted yet for this source: ask for (topics) first.")
    return {"answer": answer, "rows": rows,
            "columns": ["id", "label", "born", "died", "merged_into", "split_from", "size"],
            "evidence": {"source": source, "events": events, "fits": len(lineage["fits"]),
                         "matching": f"centroid cosine >= {MATCH_COSINE}, or >= {NEAR_COSINE} with {MATCH_TERMS}+ of"
                                     f" the top-{TERMS} terms shared; a label kept while >= {RELABEL_JACCARD:.0%} of"
                                     " its terms stay"}}
