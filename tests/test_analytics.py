"""Analytics: Hodge decomposition invariants, and the analytics on the demo community."""
from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pytest
from pilang_engine.analytics import reports
from pilang_engine.analytics.hodge import build_complex, decompose, hodge
from pilang_engine.workspace.store import Workspace


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hodge_parts_are_orthogonal_and_reconstruct_the_flow(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(30, 0.25, seed=seed)
    nodes = [f"n{i}" for i in g.nodes]
    cx = build_complex(nodes, [(f"n{a}", f"n{b}") for a, b in g.edges])
    assert cx.triangles and abs(cx.B1 @ cx.B2).sum() == 0  # the boundary of a boundary is zero
    flow = rng.normal(size=len(cx.edges))
    parts = decompose(cx, flow)
    g_, c_, h_ = parts["gradient"], parts["curl"], parts["harmonic"]
    assert np.allclose(g_ + c_ + h_, flow)
    assert abs(g_ @ c_) < 1e-8 and abs(g_ @ h_) < 1e-6 and abs(c_ @ h_) < 1e-6
    assert np.allclose(cx.B1 @ h_, 0, atol=1e-6) and np.allclose(cx.B2.T @ h_, 0, atol=1e-6)  # harmonic: div- and curl-free


def test_a_pure_gradient_flow_is_all_gradient() -> None:
    nodes = ["a", "b", "c", "d"]
    cx = build_complex(nodes, [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")])
    potential = np.array([0.0, 1.0, 3.0, 7.0])
    flow = cx.B1.T @ potential
    parts = decompose(cx, flow)
    assert np.allclose(parts["gradient"], flow) and np.allclose(parts["curl"], 0) and np.allclose(parts["harmonic"], 0)


def test_a_pure_circulation_is_all_curl() -> None:
    cx = build_complex(["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")])
    flow = cx.B2 @ np.array([2.0])
    parts = decompose(cx, flow)
    assert np.allclose(parts["curl"], flow) and np.allclose(parts["gradient"], 0)


@pytest.fixture(scope="module")
def demo_ws(demo_copy: Any) -> Workspace:
    return Workspace(demo_copy("analytics"))


def test_volume_counts_every_dated_message(demo_ws: Workspace) -> None:
    out = reports.volume(demo_ws, {})
    assert out["evidence"]["messages"] == demo_ws.count("messages", "WHERE time IS NOT NULL")
    assert sum(out["series"]["messages"]) == out["evidence"]["messages"]
    only = reports.volume(demo_ws, {"source": "steam"})
    assert only["evidence"]["messages"] == demo_ws.count("messages", "WHERE source = 'steam'")


def test_sentiment_separates_praise_from_complaints(demo_ws: Workspace) -> None:
    out = reports.sentiment(demo_ws, {"aggregation": "distribution"})
    assert out["evidence"]["positive"] > out["evidence"]["negative"] > 0
    assert sum(out["evidence"]["distribution"].values()) == out["evidence"]["messages"]
    assert all(q["sentiment"] < 0 for q in out["evidence"]["quotes"])


def test_anomalies_and_forecast_carry_evidence_and_scores(demo_ws: Workspace) -> None:
    out = reports.anomalies(demo_ws, {})
    assert out["evidence"]["anomalies"] and all(a["messages"] for a in out["evidence"]["anomalies"])
    fc = reports.forecast(demo_ws, {"metric": "volume", "horizon": 5, "confidence": 0.9})
    rows = fc["evidence"]["forecast"]
    assert len(rows) == 5 and all(r["low"] < r["mean"] < r["high"] for r in rows)
    assert fc["held_out"]["value"] >= 0 and "naive_last_value_mae" in fc["held_out"]


def test_hodge_on_the_demo_reply_graph(demo_ws: Workspace) -> None:
    out = hodge(demo_ws, {})
    share = out["evidence"]["energy_share"]
    assert abs(sum(share.values()) - 1) < 1e-3 and out["evidence"]["triangles"] > 0


def test_npmi_and_diversity_on_constructed_documents() -> None:
    from pilang_engine.analytics.topics import diversity, npmi_coherence
    docs = ["rifle nerf ranked", "rifle nerf", "loot drop grind", "loot drop", "tutorial login", "story pet"]
    assert npmi_coherence([["loot", "drop"]], docs) == pytest.approx(1.0)
    assert npmi_coherence([["rifle", "story"]], docs) == -1.0
    assert diversity([["a", "b"], ["c", "d"]]) == 1.0 and diversity([["a", "b"], ["a", "c"]]) == 0.75


def test_topics_find_the_personas_themes(demo_ws: Workspace) -> None:
    from pilang_engine.analytics.topics import topics
    out = topics(demo_ws, {"source": "discord"})
    found = out["evidence"]["topics"]
    assert len(found) >= 3 and sum(t["size"] for t in found) + out["evidence"]["unassigned"] == out["evidence"]["messages"]
    vocabulary = " ".join(w["term"] for t in found for w in t["terms"])
    assert sum(word in vocabulary for word in ("ranked", "drop", "tutorial", "skins", "nerf", "loot")) >= 3
    assert all(t["quotes"] and t["sources"] == {"discord": t["size"]} for t in found)
    assert -1 <= out["evidence"]["coherence"]["value"] <= 1 and out["evidence"]["over_time"]
    assert "held_out" not in out and "in-sample" in out["evidence"]["coherence"]["metric"]  # named as what it is


def test_patterns_match_earlier_stretches_of_the_series(demo_ws: Workspace) -> None:
    from pilang_engine.analytics.patterns import patterns
    out = patterns(demo_ws, {"metric": "volume", "window": 7, "k": 3})
    matches = out["evidence"]["matches"]
    assert 1 <= len(matches) <= 3 and all(m["from"] <= m["to"] < out["evidence"]["latest"][:10] for m in matches)
    assert [m["distance"] for m in matches] == sorted(m["distance"] for m in matches)
