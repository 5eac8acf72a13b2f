"""Plain words -> query (pilang/ask.py) on the written questions (benchmarks/ask_questions.py), asked of
the demo workspace: exact match of each part (type, target, period, filters) and of the whole query, per
split, beside the voice rules that came before it (benchmarks/ask_baseline.py) in the same run; latency
per question, warm; and the lift from corrections: a translator with no example library taught the
queries of 50 dev questions, scored on the held-out ones (never the corrected ones)."""
from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pilang_engine.api import phrase_of
from pilang_engine.personas import clusters as personas

from pilang import ask as A

from .ask_baseline import to_query as voice_rules
from .ask_questions import QUESTIONS, split
from .common import simulated

CORRECTIONS = 50


def parts(query: str | None) -> dict[str, str | None]:
    """What a query says, part by part: type (or search), target, period, filters."""
    if not query:
        return {"type": None, "target": None, "period": None, "filters": None}
    if query.startswith("(search"):
        return {"type": "search", "target": query, "period": None, "filters": None}

    def clause(pattern: str) -> str | None:
        m = re.search(pattern, query)
        return m.group(0) if m else None
    return {"type": clause(r"\(type [\w-]+\)"), "target": clause(r"\(target [\w-]+\)"),
            "period": clause(r"\((?:context|time-range) [^)]*\)"), "filters": clause(r"\(filters (?:\([^)]*\) ?)+\)")}


def score(pairs: list[tuple[str, str | None]]) -> dict[str, float]:
    """Share of exact matches of each part and of the whole query."""
    out = {}
    for part in ("type", "target", "period", "filters"):
        out[part] = sum(parts(g)[part] == parts(p)[part] for g, p in pairs) / len(pairs)
    out["query"] = sum(g == p for g, p in pairs) / len(pairs)
    return out


def run(quick: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws, _ = simulated(Path(tmp), "ask")
        personas.fit(ws)
        vocab = ws.vocabulary()
        encode, key = A._encoder(ws)
        A.translate("warm up", vocab, encode, key)
        rows = []
        for name in ("dev", "held-out"):
            qs = [(q, g) for q, g in QUESTIONS if split(q) == name]
            times, ours = [], []
            for q, g in qs:
                t0 = time.perf_counter()
                ours.append((g, A.translate(q, vocab, encode, key).query))
                times.append(time.perf_counter() - t0)
            base = [(g, voice_rules(q, vocab["personas"])[0]) for q, g in qs]
            rows.append((name, len(qs), score(ours), score(base), statistics.median(times)))
        print("| split | questions | translator: type | target | period | filters | whole query | voice rules:"
              " whole query (type) | p50 ms |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, n, o, b, p50 in rows:
            print(f"| {name} | {n} | {o['type']:.1%} | {o['target']:.1%} | {o['period']:.1%} | {o['filters']:.1%} |"
                  f" {o['query']:.1%} | {b['query']:.1%} ({b['type']:.1%}) | {1000 * p50:.1f} |")
        print("goal: >= 90% whole-query exact match on the held-out split; p50 <= 50 ms warm (this machine)")
        lift(vocab, encode, key)


def lift(vocab: dict[str, Any], encode: Any, key: Any) -> None:
    """Corrections teach a translator that starts with no example library (one example per intent, its
    name): held-out accuracy before and after the queries of CORRECTIONS dev questions are taught."""
    held = [(q, g) for q, g in QUESTIONS if split(q) == "held-out"]
    taught = [(q, g) for q, g in QUESTIONS if split(q) == "dev"][:CORRECTIONS]
    full = A.EXAMPLES
    A.EXAMPLES = {intent: [intent] for intent in full}
    A.Library._cache.clear()
    try:
        before = sum(A.translate(q, vocab, encode, ("cold", key)).query == g for q, g in held) / len(held)
        learned = [(phrase_of(q), A.intent_of(g), g) for q, g in taught]
        after = sum(A.translate(q, vocab, encode, ("cold", key), learned).query == g for q, g in held) / len(held)
    finally:
        A.EXAMPLES = full
        A.Library._cache.clear()
    with_library = sum(A.translate(q, vocab, encode, key).query == g for q, g in held) / len(held)
    print(f"learning from corrections, held-out whole-query match: a translator with no example library {before:.1%},"
          f" after {len(taught)} corrections of dev questions {after:.1%} (+{after - before:.1%}); the shipped"
          f" library {with_library:.1%}")
