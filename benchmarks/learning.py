"""The tetration learner on a simulated stream of developers with hidden preferences (deterministic
with a seed): some handlers really are better for some routes, each developer has recurring query
shapes and recurring typos. Prints mean rating per 100 interactions with learning off and on (L1
only, L1-L3, L1-L4), regret against the best fixed routing, and the macros and aliases learned and
how many are correct. The stream drives the same engine functions the pilang session calls."""
from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pilang_engine import learning
from pilang_engine.learning import bandit, interactions, shapes
from pilang_engine.workspace.store import Workspace

# (type, target) -> candidate handlers with their hidden mean rating (1-5): simulation parameters
ROUTES = {
    ("analytics", "forecast"): {"analytics-handler": 3.9, "fno-forecast-handler": 2.8},
    ("persona-inquiry", "*"): {"persona-handler": 3.0, "persona-lm-handler": 4.1},
    ("prediction", "*"): {"prediction-handler": 3.6, "prediction-alt-handler": 3.2},
}
TARGETS = {"forecast": "forecast", "*": ["competitive-players", "casual-players", "player-churn"]}
TYPOS = {"player-churn": "churn", "competitive-players": "competitive", "forecast": "forcast"}
DEVELOPERS = 6
SHAPE_BONUS = 0.4  # developers rate a query a little higher when a macro saved them the typing
ERROR_RATING = 1  # a query that fails is as bad as it gets


def query_tree(type_: str, target: str, param: tuple[str, str]) -> list[Any]:
    return ["L", ["S", "query"], ["L", ["S", "type"], ["S", type_]], ["L", ["S", "target"], ["S", target]],
            ["L", ["S", "parameters"], ["L", ["S", param[0]], ["T", param[1]]]]]


class Developer:
    """Hidden habits: three recurring shapes (route + parameter), a typo rate, taste noise."""

    def __init__(self, name: str, rng: random.Random) -> None:
        self.name, self.rng = name, rng
        routes = list(ROUTES)
        self.shapes = [(routes[i % len(routes)], rng.choice(["question", "change", "horizon"])) for i in range(3)]
        self.typo_rate = rng.uniform(0.1, 0.25)
        self.macros: dict[str, Any] = {}  # accepted macro name -> the shape it writes

    def next_query(self) -> tuple[tuple[str, str], str, list[Any], bool]:
        (type_, route_target), param = self.rng.choice(self.shapes)
        target = route_target if route_target != "*" else self.rng.choice(TARGETS["*"])
        typo = target in TYPOS and self.rng.random() < self.typo_rate
        written = TYPOS[target] if typo else target
        return (type_, route_target), target, query_tree(type_, written, (param, f"v{self.rng.randrange(50)}")), typo


def simulate(levels: int, n: int, seed: int) -> dict[str, Any]:
    """One stream of n interactions with learning up to `levels` (0: off); the scores."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        learning.set_params(ws, {**learning.DEFAULTS, "levels": levels})
        candidates = {key: list(handlers) for key, handlers in ROUTES.items()}
        for (type_, target), handlers in ROUTES.items():  # the routing a team starts with: the worse handler
            ws.set_route(type_, target, min(handlers, key=handlers.get), "default")
        devs = [Developer(f"dev{i}", random.Random(seed * 100 + i)) for i in range(DEVELOPERS)]
        ratings, regret, t = [], [], 0
        best = {key: max(h.values()) for key, h in ROUTES.items()}
        while len(ratings) < n:
            dev = devs[t % DEVELOPERS]
            t += 1
            key, target, tree, typo = dev.next_query()
            session = f"{dev.name}-s"
            rewritten, used = shapes.rewrite(ws, dev.name, tree) if levels >= 2 else (tree, [])
            if typo and not used:  # the typo fails, the developer retypes it
                interactions.record(ws, session, dev.name, shapes.text(tree), tree, "", None, "", 1.0, "unknown target",
                                    "query", key[0], None, [])
                ratings.append(ERROR_RATING)
                regret.append(best[key] - ERROR_RATING)
                tree, rewritten = (query_tree(key[0], target, (tree[4][2][1][1], tree[4][2][2][1])),) * 2
            routed = ws.db.execute("SELECT handler FROM routes WHERE type = ? AND target = ?", list(key)).fetchone()[0]
            handler, _ = bandit.choose(ws, key[0], key[1], candidates[key], routed, rng)
            macro = next((name for name, shape in dev.macros.items() if shapes.match(shape, rewritten) is not None), None)
            quality = ROUTES[key][handler] + (SHAPE_BONUS if macro else 0)
            rating = int(np.clip(round(rng.gauss(quality, 0.7)), 1, 5))
            out = interactions.record(ws, session, dev.name, shapes.text(rewritten), rewritten, "", handler, "", 1.0, None,
                                      "query", key[0], target, used + ([macro] if macro else []))
            if "offer" in out and rng.random() < 0.8:  # most developers take an offered macro
                shapes.accept(ws, dev.name, out["offer"]["name"])
                dev.macros[out["offer"]["name"]] = out["offer"]["pattern"]
            interactions.rate(ws, session, rating, interaction=out["id"], candidates=candidates)
            ratings.append(rating)
            regret.append(best[key] - ROUTES[key][handler])
        learned = shapes.listing(ws)
        aliases = [r for r in learned if r["kind"] == "alias"]
        macros = [r for r in learned if r["kind"] == "macro"]
        right_alias = sum(1 for r in aliases if TYPOS.get(r["definition"]) == r["name"])
        right_macro = sum(1 for r in macros if any(f"({p} ," in r["definition"] for _, p in
                                                   next(d for d in devs if d.name == r["developer"] or r["developer"] == "*").shapes))
        return {"ratings": ratings[:n], "regret": float(np.sum(regret[:n])), "aliases": (len(aliases), right_alias),
                "macros": (len(macros), right_macro), "promoted": sum(1 for r in learned if r["developer"] == learning.TEAM),
                "params": learning.params(ws), "routes": {f"{r['type']} {r['target']}": r["handler"] for r in ws.routes()}}


def run(quick: bool = False) -> None:
    n = 300 if quick else 1200
    seeds = [1] if quick else [1, 2, 3]
    print(f"simulated stream: {DEVELOPERS} developers, {n} rated interactions, seeds {seeds}; hidden handler quality"
          f" {ROUTES}")
    for label, levels in (("learning off", 0), ("L1 only", 1), ("L1-L3", 3), ("L1-L4", 4)):
        runs = [simulate(levels, n, seed) for seed in seeds]
        per100 = np.mean([[np.mean(r["ratings"][i:i + 100]) for i in range(0, n, 100)] for r in runs], axis=0)
        regret = np.mean([r["regret"] for r in runs])
        last = runs[-1]
        print(f"{label:12s} mean rating per 100: {' '.join(f'{v:.2f}' for v in per100)} | overall"
              f" {np.mean([np.mean(r['ratings']) for r in runs]):.3f} | regret vs best fixed routing {regret:.0f}"
              f" | aliases {last['aliases'][0]} ({last['aliases'][1]} correct), macros {last['macros'][0]}"
              f" ({last['macros'][1]} correct), promoted {last['promoted']}")
        if levels == 4:
            p = last["params"]
            print(f"             L4 ended at l1_rate {p['l1_rate']:.2f}, exploration {p['exploration']:.3f},"
                  f" min_repeats {p['min_repeats']:.0f}, promote_rating {p['promote_rating']:.2f}; routes {last['routes']}")
