"""Persona answers: the persona's messages most relevant to a question (faiss over its members'
messages), the sentiment of those messages (message sentiment: not stance toward the question), diverse quotes with ids and dates, the persona's measured reaction to the
most similar past change, and a short first-person answer built only from that evidence."""
from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..analytics.drivers import drivers
from ..analytics.sentiment import message_vectors, model_for, score_of
from ..workspace.dates import iso
from ..workspace.store import Workspace
from . import clusters as personas

RETRIEVE = 50  # messages retrieved per question
MIN_RELEVANCE = 0.25  # cosine below this is not about the question
QUOTES = 3


def evidence(ws: Workspace, name: str, question: str) -> dict[str, Any]:
    """Everything an answer may say: the persona, the relevant messages' sentiment, quotes, and the
    persona's measured shift after the past change closest to the question."""
    persona = personas.find(ws, name)
    allowed = personas.member_ids(ws, persona["id"])
    q = ws.embedder().encode([question])[0]
    scores, ids = ws.vector_index().search(q, RETRIEVE, allowed)
    keep = scores >= max(MIN_RELEVANCE, float(scores[0]) - 0.25) if len(scores) else np.zeros(0, bool)
    ids, scores = ids[keep], scores[keep]
    rows = ws.messages_by_id([int(i) for i in ids])
    ids = np.array([i for i in ids if int(i) in rows], dtype=np.int64)
    vecs = message_vectors(ws, ids.tolist())
    model = model_for(ws)
    sent, net = model.scores_and_net(ids.tolist())
    picked = personas.mmr(vecs, q, QUOTES) if len(ids) else []
    quotes = [{"id": int(ids[i]), "time": iso(rows[int(ids[i])]["time"]), "source": rows[int(ids[i])]["source"],
               "relevance": round(float(scores[i]), 3), "sentiment": None if np.isnan(sent[i]) else round(float(sent[i]), 3),
               "text": " ".join(rows[int(ids[i])]["text"].split())[:240]} for i in picked]
    # message sentiment, not stance: "I love the new armour" is positive whatever it says of the question
    scored = ~np.isnan(sent)
    sentiment = {"relevant_messages": int(len(ids)), "positive": int((net == 1).sum()),
                 "negative": int((net == -1).sum()), "neutral": int((net == 0).sum()),
                 "unscored": int((~scored).sum()),
                 "mean_sentiment": round(float(sent[scored].mean()), 3) if scored.any() else None,
                 "what": "sentiment of the messages closest to the question (not stance toward it)"}
    return {"persona": persona["name"], "persona_id": persona["id"], "players": persona["size"],
            "question": question, "sentiment": sentiment, "quotes": quotes, "past_change": _past_change(ws, persona, q),
            "model": model.describe(sorted({q["source"] for q in quotes}) or None)}


def _past_change(ws: Workspace, persona: dict[str, Any], q: np.ndarray) -> dict[str, Any] | None:
    """The past change most like the question and the persona's measured shifts after it."""
    from ..predictions.reactions import history
    hist = history(ws)
    if not hist.changes or persona["id"] not in hist.shifts:
        return None
    sims = hist.vectors @ q
    i = int(np.argmax(sims))
    shifts = {m: float(v[i]) for m, v in hist.shifts[persona["id"]].items() if not np.isnan(v[i])}
    if sims[i] < MIN_RELEVANCE or not shifts:
        return None
    return {"change": hist.changes[i]["title"], "id": hist.changes[i]["id"], "date": iso(hist.changes[i]["time"]),
            "similarity": round(float(sims[i]), 3), "shifts": {k: round(v, 3) for k, v in shifts.items()},
            "messages_before_after": hist.counts[persona["id"]][i].tolist()}


def extractive(ev: dict[str, Any]) -> str:
    """The answer in the persona's voice, every figure and quote taken from the evidence."""
    st = ev["sentiment"]
    n = st["relevant_messages"]
    if n == 0:
        return (f"We ({ev['persona']}, {ev['players']} players) have not talked about this: none of our messages"
                f" is close to the question.")
    tone = ("mostly negative" if st["negative"] > 1.5 * st["positive"] else
            "mostly positive" if st["positive"] > 1.5 * st["negative"] else "mixed")
    text = (f"We ({ev['persona']}, {ev['players']} players) sound {tone} when we talk about this: of our {n}"
            f" messages closest to the question, {st['negative']} are negative, {st['positive']} positive and"
            f" {st['neutral']} neutral in sentiment (the messages' tone, not a vote on the question).")
    if ev["quotes"]:
        said = "; ".join(f"\u201c{q['text']}\u201d (#{q['id']}, {(q['time'] or 'undated')[:10]})" for q in ev["quotes"])
        text += f" In our words: {said}."
    pc = ev.get("past_change")
    if pc and "satisfaction" in pc["shifts"]:
        text += (f" After {pc['change']} ({pc['date'][:10]}), the past change closest to this, our net sentiment"
                 f" (positive minus negative share) moved {pc['shifts']['satisfaction']:+.2f}.")
    return text


UPSET = re.compile(r"\b(upset|complain\w*|unhappy|angry|annoy\w*|frustrat\w*|hate|dislike|bother\w*|"
                   r"problems?|issues?|why)\b", re.I)


def ask(ws: Workspace, name: str, question: str, phrase: bool = False) -> dict[str, Any]:
    """A persona's answer to a question with its evidence; `phrase` lets the local LM word it (kept
    only when it introduces nothing absent from the evidence)."""
    ev = evidence(ws, name, question)
    answer, how = extractive(ev), "extractive (quotes and counts from the retrieved messages)"
    if phrase:
        from .phrase import phrase_answer
        worded, verdict = phrase_answer(ev, score_of)
        ev["lm"] = verdict
        if worded:
            answer, how = worded, f"worded by {verdict['model']} from the quotes, checked against them"
    if UPSET.search(question):  # "what are they upset about?": what moved their mood lately, and since when
        found = drivers(ws, {"filters": {"persona": name}, "context": "last-month"})
        ev["drivers"] = {"answer": found["answer"], "period": found["evidence"].get("scope"),
                         "versus": found["evidence"].get("versus"),
                         "drivers": found["evidence"].get("drivers", [])[:3]}
        if found["evidence"].get("drivers"):
            answer += f" Over the last month: {found['answer']}"
    sentiment = ev.pop("model")
    quality = personas.separation(ws)
    ev["personas_separation"] = {k: quality[k] for k in ("silhouette", "stability", "weakly_separated")}
    if quality["note"]:
        answer += f" (Note: {quality['note']}.)"
    return {"answer": answer, "evidence": ev, "model": how,
            "held_out": {"sentiment_model": sentiment["model"],
                         "sentiment": sentiment["held_out"] or "not scored: no labelled reviews to score it on"}}
