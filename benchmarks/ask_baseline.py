"""The rules that turned a spoken question into a query before pilang/ask.py (engine/media/voice.py,
until 2026-12-06), kept as the baseline the ask benchmark measures the translator against."""
from __future__ import annotations

import re

ANALYTICS = {"sentiment": "sentiment", "mood": "sentiment", "volume": "volume", "how many messages": "volume",
             "anomal": "anomalies", "unusual": "anomalies", "spike": "anomalies", "topic": "topics",
             "talking about": "topics", "forecast": "forecast", "trend": "forecast", "pattern": "patterns"}
PERIODS = {"last week": "last-week", "past week": "last-week", "last month": "last-month",
           "past month": "last-month", "last patch": "last-patch", "latest patch": "last-patch",
           "since the patch": "last-patch"}
CHANGE = re.compile(r"\b(?:if we|when we|we were to|after we|should we)\s+(.+?)[.?!]*$")


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip()


def _persona(text: str, personas: list[str]) -> str | None:
    """The persona the words name: every word of its name but the trailing 'players' is said."""
    said = set(_words(text).split())
    stem = {w.rstrip("s") for w in said}
    best = None
    for name in personas:
        words = [w for w in name.split("-") if w not in ("players", "player")]
        if words and all(w in said or w.rstrip("s") in stem for w in words):
            if best is None or len(name) > len(best):
                best = name
    return best


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_query(text: str, personas: list[str]) -> tuple[str, str]:
    """The pilang query a spoken sentence asks, and the rule that matched (for the user to check)."""
    said = _words(text)
    period = next((p for k, p in PERIODS.items() if k in said), None)
    context = f" (context {period})" if period else ""
    persona = _persona(text, personas)
    names = [p for p in personas if _persona(text, [p])]
    change = CHANGE.search(said)
    if ("compare" in said or " versus " in f" {said} " or " vs " in f" {said} ") and len(names) >= 2:
        a, b = sorted(names, key=lambda n: said.find(n.split("-")[0]))[:2]
        return (f"(query (type comparison) (target {a}) (parameters (versus {b})))", "comparison of two personas")
    if "churn" in said or "leave the game" in said or "quit" in said.split():
        if change:
            return (f"(query (type prediction) (target player-churn) (parameters (change {_quote(change.group(1))})))",
                    "churn after a change")
        return "(query (type prediction) (target player-churn))", "churn"
    if change and (persona or "predict" in said or "react" in said or "happen" in said):
        target = persona or "community"
        return (f"(query (type prediction) (target {target}) (parameters (change {_quote(change.group(1))})))",
                "reaction to a change")
    if persona:
        return (f"(query (type persona-inquiry) (target {persona}) (parameters (question {_quote(text.strip())})))",
                "question to a persona")
    for key, target in ANALYTICS.items():
        if key in said:
            return f"(query (type analytics) (target {target}) (parameters{context}))".replace(" (parameters)", ""), \
                f"analytics: {target}"
    return f"(search {_quote(text.strip())} :k 10)", "no query words: a semantic search for what was said"
