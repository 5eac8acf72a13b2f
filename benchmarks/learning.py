"""The tetration learner on a simulated stream of developers with hidden preferences (deterministic
with a seed). The stream starts from pilang's default routing, routes only to handlers that exist
(stdlib/query.pil's handler-candidates), gives no built-in bonus to learned macros, and its failures
are both typos (unknown names) and data errors (last-patch on a workspace without patches, then
last-week). Prints mean rating per 100 interactions with learning off (the default routing), with the
best fixed routing (an oracle), and with learning on (L1 only, L1-L3, L1-L4): the lift over each, the
aliases learned (right ones, and wrong ones from data errors) and the macros. The stream drives the
same engine functions the pilang session calls."""
from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pilang_engine import learning
from pilang_engine.learning import bandit, interactions, shapes
from pilang_engine.workspace.store import Workspace

# (type, target) -> the handlers that exist for it, with their hidden mean rating (1-5): simulation
# parameters. The default route is pilang's (stdlib/query.pil); only persona-inquiry has a better
# candidate to learn, forecast's alternative is worse, prediction has one handler.
ROUTES = {
    ("analytics", "forecast"): {"analytics-handler": 3.9, "fno-forecast-handler": 2.8},
    ("persona-inquiry", "*"): {"persona-handler": 3.0, "persona-lm-handler": 4.1},
    ("prediction", "*"): {"prediction-handler": 3.6},
}
DEFAULT_ROUTES = {("analytics", "forecast"): "analytics-handler", ("persona-inquiry", "*"): "persona-handler",
                  ("prediction", "*"): "prediction-handler"}
TARGETS = {"forecast": "forecast", "*": ["competitive-players", "casual-players", "player-churn"]}
TYPOS = {"player-churn": "churn", "competitive-players": "competitive", "forecast": "forcast"}
DATA_ERROR_RATE = 0.05  # a query asks for (context last-patch) where there are no patches, then last-week
DEVELOPERS = 6
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


def with_context(tree: list[Any], period: str) -> list[Any]:
    """The query with a (context PERIOD) parameter added."""
    return [*tree[:4], [*tree[4], ["L", ["S", "context"], ["S", period]]]]


def simulate(levels: int, n: int, seed: int, fixed: dict[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """One stream of n interactions with learning up to `levels` (0: off), from the default routing
    (or, with `fixed`, that routing and no learning); the scores."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        learning.set_params(ws, {**learning.DEFAULTS, "levels": 0 if fixed else levels})
        candidates = {key: list(handlers) for key, handlers in ROUTES.items() if len(handlers) > 1}
        for (type_, target), handler in (fixed or DEFAULT_ROUTES).items():
            ws.set_route(type_, target, handler, "default")
        devs = [Developer(f"dev{i}", random.Random(seed * 100 + i)) for i in range(DEVELOPERS)]
        ratings, t, data_errors = [], 0, 0
        while len(ratings) < n:
            dev = devs[t % DEVELOPERS]
            t += 1
            key, target, tree, typo = dev.next_query()
            session = f"{dev.name}-s"
            rewritten, used = shapes.rewrite(ws, dev.name, tree) if levels >= 2 and not fixed else (tree, [])
            if typo and not used:  # the typo fails naming the unknown target, the developer retypes it
                written = tree[3][2][1]
                interactions.record(ws, session, dev.name, shapes.text(tree), tree, "", None, "", 1.0,
                                    f"no {key[0]} target {written}; valid targets: {target}", "query", key[0], None, [])
                ratings.append(ERROR_RATING)
                tree = rewritten = query_tree(key[0], target, (tree[4][2][1][1], tree[4][2][2][1]))
            if rng.random() < DATA_ERROR_RATE:  # a data error: no patches to anchor last-patch, then last-week
                failed = with_context(rewritten, "last-patch")
                interactions.record(ws, session, dev.name, shapes.text(failed), failed, "", None, "", 1.0,
                                    "last-patch: the workspace has no dated changes (ingest patch notes)", "query",
                                    key[0], None, [])
                ratings.append(ERROR_RATING)
                rewritten = with_context(rewritten, "last-week")
                data_errors += 1
            routed = ws.db.execute("SELECT handler FROM routes WHERE type = ? AND target = ?", list(key)).fetchone()[0]
            handler = (bandit.choose(ws, key[0], key[1], candidates[key], routed, rng)[0]
                       if key in candidates and not fixed else routed)
            macro = next((name for name, shape in dev.macros.items() if shapes.match(shape, rewritten) is not None), None)
            rating = int(np.clip(round(rng.gauss(ROUTES[key][handler], 0.7)), 1, 5))  # no bonus for macros
            out = interactions.record(ws, session, dev.name, shapes.text(rewritten), rewritten, "", handler, "", 1.0, None,
                                      "query", key[0], target, used + ([macro] if macro else []))
            if "offer" in out and rng.random() < 0.8:  # most developers take an offered macro
                shapes.accept(ws, dev.name, out["offer"]["name"])
                dev.macros[out["offer"]["name"]] = out["offer"]["pattern"]
            interactions.rate(ws, session, rating, interaction=out["id"], candidates=candidates)
            ratings.append(rating)
        learned = shapes.listing(ws)
        aliases = [r for r in learned if r["kind"] == "alias"]
        macros = [r for r in learned if r["kind"] == "macro"]
        right_alias = sum(1 for r in aliases if TYPOS.get(r["definition"]) == r["name"])
        wrong_alias = sum(1 for r in aliases if r["name"] == "last-patch")
        return {"ratings": ratings[:n], "aliases": (len(aliases), right_alias, wrong_alias), "macros": len(macros),
                "promoted": sum(1 for r in learned if r["developer"] == learning.TEAM), "data_errors": data_errors,
                "params": learning.params(ws), "routes": {f"{r['type']} {r['target']}": r["handler"] for r in ws.routes()}}


def run(quick: bool = False) -> None:
    n = 300 if quick else 1200
    seeds = [1] if quick else [1, 2, 3]
    best = {key: max(h, key=h.get) for key, h in ROUTES.items()}
    print(f"simulated stream: {DEVELOPERS} developers, {n} interactions, seeds {seeds}; hidden handler quality"
          f" {ROUTES}; failures: typos and data errors ({DATA_ERROR_RATE:.0%} of queries)")

    def mean(runs: list[dict[str, Any]]) -> float:
        return float(np.mean([np.mean(r["ratings"]) for r in runs]))
    default = [simulate(0, n, seed) for seed in seeds]
    oracle = [simulate(0, n, seed, fixed=best) for seed in seeds]
    print(f"{'default routing':16s} mean rating {mean(default):.3f} (learning off)")
    print(f"{'best fixed':16s} mean rating {mean(oracle):.3f} (an oracle that knows the hidden quality: {best})")
    for label, levels in (("L1 only", 1), ("L1-L3", 3), ("L1-L4", 4)):
        runs = [simulate(levels, n, seed) for seed in seeds]
        per100 = np.mean([[np.mean(r["ratings"][i:i + 100]) for i in range(0, n, 100)] for r in runs], axis=0)
        last = runs[-1]
        print(f"{label:16s} mean rating {mean(runs):.3f}: lift {mean(runs) - mean(default):+.3f} over the default"
              f" routing, {mean(runs) - mean(oracle):+.3f} over the best fixed | per 100: {' '.join(f'{v:.2f}' for v in per100)}"
              f" | aliases {last['aliases'][0]} ({last['aliases'][1]} right, {last['aliases'][2]} from data errors),"
              f" macros {last['macros']}, promoted {last['promoted']}")
        if levels == 4:
            p = last["params"]
            print(f"{'':16s} L4 ended at l1_rate {p['l1_rate']:.2f}, exploration {p['exploration']:.3f},"
                  f" min_repeats {p['min_repeats']:.0f}, promote_rating {p['promote_rating']:.2f}; routes {last['routes']}")
