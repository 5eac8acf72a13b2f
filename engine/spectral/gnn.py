"""Per-player risk from the interaction graph: a Chebyshev spectral GNN (torch-geometric ChebConv,
symmetric normalisation, K chosen on validation) over player features plus Laplacian-eigenvector
positional encodings, against the same features without the graph (an MLP) in the same run.
Tasks: toxicity (messages labelled with CONDA intents) and disengagement (silent after a cutoff)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..personas.clusters import players
from ..predictions.churn import ranking_scores
from ..workspace.graph import player_graph
from ..workspace.store import Workspace, WorkspaceError
from . import device, record, save, stale, weights
from .ntk import Tracker, empirical_ntk

TOXIC = ("E", "I")  # CONDA intents: explicit and implicit toxicity
QUIET_DAYS = 14  # disengagement: no message in the last QUIET_DAYS days of the data
PCA_DIMS = 16
PE_DIMS = 8
DENSE_PE_LIMIT = 2000  # components up to this many players get an exact dense eigendecomposition
HIDDEN = 32
K_CHOICES = (2, 3, 4)
EPOCHS, PATIENCE = 300, 40
PROBE = 64
DAY = 86400.0


@dataclass
class Graph:
    """Nodes (players), their features and labels, and the weighted edges between them."""
    task: str
    players: list[str]
    x: np.ndarray
    y: np.ndarray
    edges: np.ndarray  # (2, E), both directions
    weight: np.ndarray  # (E,)
    feature_names: list[str]
    label: str


def task_for(ws: Workspace) -> str:
    """toxicity when labelled messages exist, else disengagement."""
    labelled = ws.db.execute("SELECT 1 FROM messages WHERE json_extract(meta, '$.intent') IS NOT NULL LIMIT 1").fetchone()
    return "toxicity" if labelled else "disengagement"


def build(ws: Workspace, task: str) -> Graph:
    """The task's nodes, features (from what is known before the label), labels and edges."""
    from sklearn.decomposition import PCA
    if task == "toxicity":
        rows = ws.db.execute("SELECT author, max(json_extract(meta, '$.intent') IN ('E', 'I')) FROM messages"
                             " WHERE json_extract(meta, '$.intent') IS NOT NULL AND author IS NOT NULL GROUP BY author").fetchall()
        if not rows:
            raise WorkspaceError("toxicity needs messages with toxicity labels (CONDA's intentClass); ingest them")
        label = dict(rows)
        p = players(ws, sorted(label))
        label_text = "player wrote an explicitly or implicitly toxic message (CONDA intent E or I)"
    elif task == "disengagement":
        last = ws.db.execute("SELECT max(time) FROM messages").fetchone()[0]
        if last is None:
            raise WorkspaceError("disengagement needs dated messages")
        cutoff = last - QUIET_DAYS * DAY
        p = players(ws, until=cutoff)
        later = {r[0] for r in ws.db.execute("SELECT DISTINCT author FROM messages WHERE time >= ?", [cutoff])}
        label = {a: int(a not in later) for a in p.authors}
        label_text = f"player silent in the data's last {QUIET_DAYS} days (features from the messages before)"
    else:
        raise WorkspaceError(f"unknown risk task {task!r} (known: toxicity, disengagement)")
    if len(p.authors) < 20:
        raise WorkspaceError(f"{task}: {len(p.authors)} players is too few to train a graph model")
    y = np.array([label[a] for a in p.authors], dtype=np.float32)
    if y.min() == y.max():
        raise WorkspaceError(f"{task}: every player has the same label; nothing to learn")
    emb = PCA(min(PCA_DIMS, len(p.authors) - 1, p.embedding.shape[1]), random_state=0).fit_transform(p.embedding)
    x = np.hstack([emb, p.behaviour]).astype(np.float32)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    where = {a: i for i, a in enumerate(p.authors)}
    g = player_graph(ws)
    src, dst, w = [], [], []
    for a, b, d in g.edges(data=True):
        if a in where and b in where:
            src += [where[a], where[b]]
            dst += [where[b], where[a]]
            w += [d["weight"]] * 2
    names = [f"embedding pc{i + 1}" for i in range(emb.shape[1])] + ["log messages", "log active days",
                                                                      "mean sentiment", "negative share"]
    return Graph(task, p.authors, x, y, np.array([src, dst], dtype=np.int64).reshape(2, -1),
                 np.log1p(np.array(w, dtype=np.float32)), names, label_text)


def positional_encoding(graph: Graph) -> np.ndarray:
    """The first non-trivial eigenvectors of each connected component's normalised Laplacian: with many
    components (one per match) a whole-graph solver would only find the components' zero modes, and
    ARPACK may not converge. Small components are solved densely, large ones by torch-geometric's
    AddLaplacianEigenvectorPE; components of fewer than 3 players get zeros."""
    import torch
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from torch_geometric.data import Data
    from torch_geometric.transforms import AddLaplacianEigenvectorPE
    from torch_geometric.utils import get_laplacian, to_dense_adj
    n = len(graph.players)
    pe = np.zeros((n, PE_DIMS), np.float32)
    if graph.edges.shape[1] == 0:
        return pe
    adjacency = coo_matrix((np.ones(graph.edges.shape[1]), (graph.edges[0], graph.edges[1])), shape=(n, n))
    _, component = connected_components(adjacency, directed=False)
    order = np.argsort(component, kind="stable")
    bounds = np.flatnonzero(np.diff(component[order])) + 1
    edge_component = component[graph.edges[0]]
    for nodes in np.split(order, bounds):
        m = len(nodes)
        if m < 3:
            continue
        k = min(PE_DIMS, m - 2)
        local = np.full(n, -1)
        local[nodes] = np.arange(m)
        sub = torch.from_numpy(local[graph.edges[:, edge_component == component[nodes[0]]]])
        if m <= DENSE_PE_LIMIT:
            index, weight = get_laplacian(sub, normalization="sym", num_nodes=m)
            lap = to_dense_adj(index, edge_attr=weight, max_num_nodes=m)[0].double().numpy()
            pe[nodes, :k] = np.linalg.eigh(lap)[1][:, 1:k + 1]
        else:
            pe[nodes, :k] = AddLaplacianEigenvectorPE(k, attr_name="pe", is_undirected=True)(
                Data(edge_index=sub, num_nodes=m)).pe.numpy()
    return pe


def models() -> tuple[Any, Any]:
    """The two model classes (built lazily: torch loads on first use)."""
    import torch
    from torch_geometric.nn import ChebConv

    class ChebNet(torch.nn.Module):
        """Two Chebyshev spectral convolutions (order K, symmetric normalisation) and a linear head."""

        def __init__(self, features: int, k: int) -> None:
            super().__init__()
            self.conv1 = ChebConv(features, HIDDEN, K=k, normalization="sym")
            self.conv2 = ChebConv(HIDDEN, HIDDEN, K=k, normalization="sym")
            self.head = torch.nn.Linear(HIDDEN, 1)

        def forward(self, x: Any, edge_index: Any, edge_weight: Any) -> Any:
            h = torch.relu(self.conv1(x, edge_index, edge_weight))
            h = torch.nn.functional.dropout(h, 0.3, self.training)
            h = torch.relu(self.conv2(h, edge_index, edge_weight))
            return self.head(h).squeeze(-1)

    class PlayerMLP(torch.nn.Module):
        """The same depth and width without the graph."""

        def __init__(self, features: int) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(features, HIDDEN), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                           torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1))

        def forward(self, x: Any, *graph: Any) -> Any:
            return self.net(x).squeeze(-1)
    return ChebNet, PlayerMLP


def split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 60/20/20 node split."""
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, test_size=0.4, random_state=seed, stratify=y)
    val, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=y[rest])
    return train, val, test


def fit_one(model: Any, inputs: tuple[Any, ...], y: Any, train: Any, val: Any, tracker: Tracker | None = None) -> tuple[float, int]:
    """Adam with early stopping on validation ROC-AUC; the model keeps its best weights."""
    import copy

    import torch
    from sklearn.metrics import roc_auc_score
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    rate = float(y[train].mean())
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((1 - rate) / max(rate, 1e-6), device=y.device))
    best, best_state, best_epoch = -1.0, None, 0
    y_val = y[val].cpu().numpy()
    for epoch in range(EPOCHS):
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(*inputs)[train], y[train])
        loss.backward()
        opt.step()
        if tracker is not None:
            tracker.record(epoch, float(loss.detach()))
        model.eval()
        with torch.no_grad():
            score = roc_auc_score(y_val, model(*inputs)[val].cpu().numpy())
        if score > best:
            best, best_state, best_epoch = score, copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= PATIENCE:
            break
    if tracker is not None:
        tracker.record(epoch, float(loss.detach()), force=True)
    model.load_state_dict(best_state)
    return best, best_epoch + 1


def train(ws: Workspace, task: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Train the GNN (K chosen on validation) and the non-graph MLP on one split, track the GNN's NTK,
    save the GNN in the workspace; returns its record."""
    import torch
    task = task or task_for(ws)
    graph = build(ws, task)
    torch.manual_seed(seed)
    dev = device()
    pe = positional_encoding(graph)
    x_graph = torch.from_numpy(np.hstack([graph.x, pe])).to(dev)
    x_plain = torch.from_numpy(graph.x).to(dev)
    edges, weight = torch.from_numpy(graph.edges).to(dev), torch.from_numpy(graph.weight).to(dev)
    y = torch.from_numpy(graph.y).to(dev)
    train_idx, val_idx, test_idx = (torch.from_numpy(s).to(dev) for s in split(graph.y, seed))
    ChebNet, PlayerMLP = models()
    trials = {}
    for k in K_CHOICES:
        torch.manual_seed(seed)
        model = ChebNet(x_graph.shape[1], k).to(dev)
        trials[k] = fit_one(model, (x_graph, edges, weight), y, train_idx, val_idx)[0]
    k = max(trials, key=trials.get)
    torch.manual_seed(seed)
    gnn = ChebNet(x_graph.shape[1], k).to(dev)
    probe = train_idx[torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(seed))[:PROBE].to(dev)]
    tracker = Tracker(lambda: empirical_ntk(gnn, (x_graph, edges, weight), probe), every=10)
    val_auc, epochs = fit_one(gnn, (x_graph, edges, weight), y, train_idx, val_idx, tracker)
    torch.manual_seed(seed)
    mlp = PlayerMLP(x_plain.shape[1]).to(dev)
    fit_one(mlp, (x_plain,), y, train_idx, val_idx)
    gnn.eval()
    mlp.eval()
    with torch.no_grad():
        p_gnn = torch.sigmoid(gnn(x_graph, edges, weight)).cpu().numpy()
        p_mlp = torch.sigmoid(mlp(x_plain)).cpu().numpy()
    test = test_idx.cpu().numpy()
    scores = {"task": task, "label": graph.label, "players": len(graph.players), "positives": int(graph.y.sum()),
              "edges": int(graph.edges.shape[1] // 2), "split": "stratified 60/20/20 nodes (test never seen)",
              "gnn": {**ranking_scores(graph.y[test], p_gnn[test]), "k": k, "validation_auc_by_k": trials, "epochs": epochs},
              "non_graph_mlp": ranking_scores(graph.y[test], p_mlp[test]), "device": dev}
    ntk = {"records": tracker.records, "verdict": tracker.verdict(), "probe": PROBE,
           "seconds_per_record": round(float(np.mean(tracker.seconds)), 4)}
    config = {"task": task, "k": k, "features": x_graph.shape[1], "feature_names": graph.feature_names + [f"pe{i + 1}" for i in range(PE_DIMS)]}
    save(ws, f"gnn:{task}", "ChebConv GNN", {k_: v.cpu() for k_, v in gnn.state_dict().items()}, config, scores, ntk)
    return record(ws, f"gnn:{task}")


def risk(ws: Workspace, task: str | None = None, top: int = 15) -> dict[str, Any]:
    """Players most at risk by the saved GNN (trained first if there is none), with its scores."""
    import torch
    task = task or task_for(ws)
    rec = record(ws, f"gnn:{task}") or train(ws, task)
    graph = build(ws, task)
    ChebNet, _ = models()
    model = ChebNet(rec["config"]["features"], rec["config"]["k"]).to(device())
    model.load_state_dict(weights(ws, rec))
    model.eval()
    dev = device()
    x = torch.from_numpy(np.hstack([graph.x, positional_encoding(graph)])).to(dev)
    if x.shape[1] != rec["config"]["features"]:
        rec = train(ws, task)
        return risk(ws, task, top)
    with torch.no_grad():
        p = torch.sigmoid(model(x, torch.from_numpy(graph.edges).to(dev), torch.from_numpy(graph.weight).to(dev))).cpu().numpy()
    order = np.argsort(-p)[:top]
    s = rec["scores"]
    degree = np.bincount(graph.edges[0], minlength=len(graph.players)) if graph.edges.size else np.zeros(len(graph.players), int)
    answer = (f"{task} risk from the player graph ({s['players']:,} players, {s['edges']:,} edges): held-out ROC-AUC"
              f" {s['gnn']['roc_auc']:.3f} (ChebConv K={s['gnn']['k']}) vs {s['non_graph_mlp']['roc_auc']:.3f} without the"
              f" graph; {int((p > 0.5).sum())} players above 0.5")
    evidence = {"label": s["label"], "at_risk": [{"player": graph.players[i], "risk": round(float(p[i]), 3),
                                                  "labelled": int(graph.y[i]), "neighbours": int(degree[i])} for i in order],
                "trained": rec["trained"], "ntk_verdict": rec["ntk"]["verdict"]}
    note = stale(ws, rec)
    if note:
        evidence["note"] = note
    return {"answer": answer, "evidence": evidence, "model": f"ChebConv GNN (K={s['gnn']['k']}, sym. normalisation,"
            f" {PE_DIMS} Laplacian-eigenvector PEs) on {s['device']}", "held_out": {"gnn": s["gnn"], "non_graph_mlp": s["non_graph_mlp"]}}
