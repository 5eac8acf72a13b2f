"""Hodge decomposition of flows on the player graph: a flow on edges splits into a gradient part
(from a potential on players), a curl part (circulation around triangles) and a harmonic rest.
No kept library does this, so it is written here with networkx, scipy.sparse and lsqr."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import lsqr

from ..workspace.store import Workspace


@dataclass
class Complex:
    """Nodes, oriented edges (u < v by index) and triangles, with their incidence matrices."""
    nodes: list[str]
    edges: list[tuple[int, int]]
    triangles: list[tuple[int, int, int]]
    B1: csr_matrix  # nodes x edges: -1 at the tail, +1 at the head
    B2: csr_matrix  # edges x triangles: +1 on (a,b) and (b,c), -1 on (a,c)


def build_complex(nodes: list[str], pairs: list[tuple[str, str]]) -> Complex:
    """The 2-complex of an undirected graph: its edges and all its triangles."""
    index = {n: i for i, n in enumerate(nodes)}
    edges = sorted({tuple(sorted((index[a], index[b]))) for a, b in pairs if a != b})
    eid = {e: k for k, e in enumerate(edges)}
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    triangles = sorted({tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]})
    rows, cols, vals = [], [], []
    for k, (a, b) in enumerate(edges):
        rows += [a, b]
        cols += [k, k]
        vals += [-1.0, 1.0]
    B1 = csr_matrix((vals, (rows, cols)), shape=(len(nodes), len(edges)))
    rows, cols, vals = [], [], []
    for t, (a, b, c) in enumerate(triangles):
        for edge, sign in (((a, b), 1.0), ((b, c), 1.0), ((a, c), -1.0)):
            rows.append(eid[edge])
            cols.append(t)
            vals.append(sign)
    B2 = csr_matrix((vals, (rows, cols)), shape=(len(edges), len(triangles)))
    return Complex(nodes, edges, triangles, B1, B2)


def decompose(cx: Complex, flow: np.ndarray) -> dict[str, np.ndarray]:
    """flow = gradient + curl + harmonic, by least squares on the incidence matrices."""
    potential = lsqr(cx.B1.T, flow, atol=1e-12, btol=1e-12, iter_lim=10_000)[0] if cx.edges else np.zeros(len(cx.nodes))
    gradient = cx.B1.T @ potential
    if cx.triangles:
        circulation = lsqr(cx.B2, flow, atol=1e-12, btol=1e-12, iter_lim=10_000)[0]
        curl = cx.B2 @ circulation
    else:
        circulation, curl = np.zeros(0), np.zeros_like(flow)
    return {"potential": potential, "gradient": gradient, "circulation": circulation, "curl": curl,
            "harmonic": flow - gradient - curl}


def reply_flows(ws: Workspace) -> tuple[list[str], list[tuple[str, str]], dict[tuple[str, str], float]]:
    """Net reply and mention flow between players: positive from the lower-named to the higher."""
    net: dict[tuple[str, str], float] = {}
    for src, dst, w in ws.db.execute("SELECT src, dst, sum(weight) FROM edges WHERE kind IN ('reply', 'mention')"
                                     " GROUP BY src, dst ORDER BY src, dst"):
        key, sign = ((src, dst), 1.0) if src < dst else ((dst, src), -1.0)
        net[key] = net.get(key, 0.0) + sign * w
    nodes = sorted({n for pair in net for n in pair})
    return nodes, list(net), net


def hodge(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """Who the conversation flows towards (gradient), where it circulates (curl), and the rest."""
    nodes, pairs, net = reply_flows(ws)
    if len(pairs) < 3:
        return {"answer": "too few reply or mention flows between players for a Hodge decomposition",
                "evidence": {"flows": len(pairs)}}
    cx = build_complex(nodes, pairs)
    flow = np.array([net[(cx.nodes[a], cx.nodes[b])] for a, b in cx.edges])
    parts = decompose(cx, flow)
    total = float(flow @ flow)
    share = {k: round(float(parts[k] @ parts[k]) / total, 4) for k in ("gradient", "curl", "harmonic")}
    pot = parts["potential"]
    order = np.argsort(-pot)
    sinks = [{"player": cx.nodes[i], "potential": round(float(pot[i]), 3)} for i in order[:5]]
    sources = [{"player": cx.nodes[i], "potential": round(float(pot[i]), 3)} for i in order[::-1][:5]]
    loops = []
    if cx.triangles:
        for t in np.argsort(-np.abs(parts["circulation"]))[:3]:
            loops.append({"players": [cx.nodes[i] for i in cx.triangles[t]],
                          "circulation": round(float(parts["circulation"][t]), 3)})
    return {"answer": f"of the reply flow among {len(nodes)} players on {len(cx.edges)} edges, {share['gradient']:.0%} is"
                      f" gradient (conversation runs towards a few players), {share['curl']:.0%} circulates in"
                      f" {len(cx.triangles)} triangles, {share['harmonic']:.0%} is harmonic",
            "evidence": {"players": len(nodes), "edges": len(cx.edges), "triangles": len(cx.triangles),
                         "energy_share": share, "most_replied_to": sinks, "most_replying": sources,
                         "strongest_loops": loops},
            "model": "Hodge decomposition (incidence matrices, scipy lsqr)"}
