"""Per-player risk from the interaction graph: a Chebyshev spectral GNN (torch-geometric ChebConv,
symmetric normalisation, K chosen on validation) over player features plus Laplacian-eigenvector
positional encodings, against the same features without the graph (an MLP) in the same run.
Tasks: toxicity (messages labelled with CONDA intents) and disengagement (silent after a cutoff)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..evaluation.verdict import auc_difference, words
from ..personas.clusters import players
from ..predictions.churn import likely_count, ranking_scores
from ..workspace.graph import player_graph
from ..workspace.progress import step
from ..workspace.dates import iso
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
    """Nodes (players), their raw features and labels, and the weighted edges between them, all from
    the messages the task may see (before its label's period)."""
    task: str
    players: list[str]
    embedding: np.ndarray  # (n, d) unit mean message embedding
    behaviour: np.ndarray  # (n, 4)
    y: np.ndarray
    edges: np.ndarray  # (2, E), both directions
    weight: np.ndarray  # (E,)
    label: str
    seen: str  # which messages the features and edges come from


FEATURE_NAMES = ["log messages", "log active days", "mean sentiment", "negative share"]


@dataclass
class Design:
    """The feature transform, fitted on the training graph only (PCA of the embedding, then
    standardisation) and applied unchanged to any later graph."""
    components: np.ndarray
    center: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, embedding: np.ndarray, behaviour: np.ndarray) -> Design:
        """Fitted on the training players' rows only."""
        from sklearn.decomposition import PCA
        pca = PCA(min(PCA_DIMS, len(embedding) - 1, embedding.shape[1]), random_state=0).fit(embedding)
        x = np.hstack([(embedding - pca.mean_) @ pca.components_.T, behaviour])
        return cls(pca.components_, pca.mean_, x.mean(axis=0), x.std(axis=0) + 1e-6)

    def apply(self, g: Graph) -> np.ndarray:
        x = np.hstack([(g.embedding - self.center) @ self.components.T, g.behaviour])
        return ((x - self.mean) / self.std).astype(np.float32)

    def names(self) -> list[str]:
        return [f"embedding pc{i + 1}" for i in range(len(self.components))] + FEATURE_NAMES

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k).tolist() for k in ("components", "center", "mean", "std")}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Design:
        return cls(*(np.array(d[k], dtype=np.float64) for k in ("components", "center", "mean", "std")))


def task_for(ws: Workspace) -> str:
    """toxicity when labelled messages exist, else disengagement."""
    labelled = ws.db.execute("SELECT 1 FROM messages WHERE json_extract(meta, '$.intent') IS NOT NULL LIMIT 1").fetchone()
    return "toxicity" if labelled else "disengagement"


def last_time(ws: Workspace) -> float:
    last = ws.db.execute("SELECT max(time) FROM messages").fetchone()[0]
    if last is None:
        raise WorkspaceError("disengagement needs dated messages")
    return float(last)


def _early_messages(ws: Workspace) -> None:
    """TEMP table gnn_early(id): each match's messages in its first half (by chat time): what a
    toxicity forecast may see; the second half holds the labels."""
    ws.db.execute("DROP TABLE IF EXISTS temp.gnn_early")
    ws.db.execute("CREATE TEMP TABLE gnn_early AS SELECT id FROM (SELECT id, percent_rank() OVER (PARTITION BY context"
                  " ORDER BY CAST(json_extract(meta, '$.chat_time') AS REAL)) AS r"
                  " FROM messages WHERE json_extract(meta, '$.intent') IS NOT NULL) early WHERE r < 0.5")


def build(ws: Workspace, task: str, cutoff: float | None = None, labelled: bool = True) -> Graph:
    """The task's nodes, features and edges from what is known before its label, and the labels.
    disengagement: messages before `cutoff` (default: the data's last QUIET_DAYS days are the label);
    label = silent in the QUIET_DAYS after it. toxicity: each match's first half of chat; label = a
    toxic (CONDA E/I) message in the second half. `labelled=False` builds the features only (to
    forecast a window that has not happened yet)."""
    if task == "toxicity":
        if not ws.db.execute("SELECT 1 FROM messages WHERE json_extract(meta, '$.intent') IS NOT NULL LIMIT 1").fetchone():
            raise WorkspaceError("toxicity needs messages with toxicity labels (CONDA's intentClass); ingest them")
        _early_messages(ws)
        where = "m.id IN (SELECT id FROM temp.gnn_early)"
        p = players(ws, where=where)
        rows = ws.db.execute("SELECT author, max(CASE WHEN json_extract(meta, '$.intent') IN ('E', 'I') THEN 1 ELSE 0 END) FROM messages"
                             " WHERE json_extract(meta, '$.intent') IS NOT NULL AND author IS NOT NULL"
                             " AND id NOT IN (SELECT id FROM gnn_early) GROUP BY author ORDER BY author").fetchall()
        later = dict(rows)
        label = {a: int(later.get(a, 0)) for a in p.authors}
        label_text = ("player writes an explicitly or implicitly toxic message (CONDA intent E or I) in the second"
                      " half of a match's chat, from their messages in the first halves")
        seen = "each match's first half of chat (by chat time)"
        graph_where, graph_args = "id IN (SELECT id FROM temp.gnn_early)", []
    elif task == "disengagement":
        last = last_time(ws)
        cutoff = last - QUIET_DAYS * DAY if cutoff is None else cutoff
        p = players(ws, until=cutoff)
        later = {r[0] for r in ws.db.execute("SELECT DISTINCT author FROM messages WHERE time >= ? AND time < ?",
                                             [cutoff, cutoff + QUIET_DAYS * DAY])}
        label = {a: int(a not in later) for a in p.authors}
        label_text = f"player silent in the {QUIET_DAYS} days after the cutoff (features and edges from before it)"
        seen = f"messages before {iso(cutoff)}"
        graph_where, graph_args = "time < ?", [cutoff]
    else:
        raise WorkspaceError(f"unknown risk task {task!r} (known: toxicity, disengagement)")
    if len(p.authors) < 20:
        raise WorkspaceError(f"{task}: {len(p.authors)} players is too few to train a graph model")
    y = np.array([label[a] for a in p.authors], dtype=np.float32)
    if labelled and y.min() == y.max():
        raise WorkspaceError(f"{task}: every player has the same label; nothing to learn")
    where = {a: i for i, a in enumerate(p.authors)}
    g = player_graph(ws, graph_where, graph_args)  # the same messages as the features: none from the label's period
    src, dst, w = [], [], []
    for a, b, d in g.edges(data=True):
        if a in where and b in where:
            src += [where[a], where[b]]
            dst += [where[b], where[a]]
            w += [d["weight"]] * 2
    return Graph(task, p.authors, p.embedding, p.behaviour, y, np.array([src, dst], dtype=np.int64).reshape(2, -1),
                 np.log1p(np.array(w, dtype=np.float32)), label_text, seen)


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


def split(y: np.ndarray, seed: int, test: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified node split (train, validation, test); test=0 gives an 80/20 train/validation split."""
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(y))
    if test == 0:
        train, val = train_test_split(idx, test_size=0.2, random_state=seed, stratify=y)
        return train, val, np.zeros(0, dtype=int)
    train, rest = train_test_split(idx, test_size=2 * test, random_state=seed, stratify=y)
    val, held = train_test_split(rest, test_size=0.5, random_state=seed, stratify=y[rest])
    return train, val, held


def tensors(graph: Graph, design: Design, dev: str) -> tuple[Any, Any, Any, Any]:
    """(features with positional encodings, features alone, edges, edge weights) on the device."""
    import torch
    x = design.apply(graph)
    return (torch.from_numpy(np.hstack([x, positional_encoding(graph)])).to(dev), torch.from_numpy(x).to(dev),
            torch.from_numpy(graph.edges).to(dev), torch.from_numpy(graph.weight).to(dev))


def fit_one(model: Any, inputs: tuple[Any, ...], y: Any, train: Any, val: Any, tracker: Tracker | None = None) -> tuple[float, int]:
    """Adam with early stopping on validation log-loss; the model keeps its best weights. Returns their validation
    ROC-AUC and the epoch."""
    import copy

    import torch
    from sklearn.metrics import roc_auc_score
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    # unweighted: the risks are printed as probabilities, and a class weight moves them towards 0.5
    loss_fn = torch.nn.BCEWithLogitsLoss()
    # the weights kept are those with the lowest validation log-loss (the risks are read as probabilities; a ranking
    # criterion can keep weights whose probabilities are still near the initial 0.5); their validation ROC-AUC is
    # what chooses K
    best, best_state, best_epoch, best_auc = float("inf"), None, 0, 0.5
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
            out = model(*inputs)[val]
            score = float(loss_fn(out, y[val]))
        if score < best - 1e-5:
            best, best_state, best_epoch = score, copy.deepcopy(model.state_dict()), epoch
            best_auc = float(roc_auc_score(y_val, out.cpu().numpy()))
        elif epoch - best_epoch >= PATIENCE:
            break
    if tracker is not None:
        tracker.record(epoch, float(loss.detach()), force=True)
    model.load_state_dict(best_state)
    return best_auc, best_epoch + 1


@step("training the graph network (and its MLP baseline)")
def train(ws: Workspace, task: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Train the GNN (K chosen on validation) and the non-graph MLP, score both on data they never saw,
    track the GNN's NTK, save it; returns its record. disengagement is a forecast, split by time: trained
    on the window before the last (features before last - 2 x QUIET_DAYS, labels from the QUIET_DAYS after),
    scored on the last window (features before last - QUIET_DAYS, labels from the last QUIET_DAYS). toxicity is
    split by player (60/20/20), features from the first half of each match, labels from the second."""
    import torch
    task = task or task_for(ws)
    dev = device()
    if task == "disengagement":
        last = last_time(ws)
        fit_graph = build(ws, task, cutoff=last - 2 * QUIET_DAYS * DAY)
        eval_graph = build(ws, task, cutoff=last - QUIET_DAYS * DAY)
        train_idx, val_idx, _ = split(fit_graph.y, seed, test=0)
        test = np.arange(len(eval_graph.players))
        how = (f"by time: trained on labels from the {QUIET_DAYS} days before the last {QUIET_DAYS} (features and"
               f" edges from {fit_graph.seen}), scored on the last {QUIET_DAYS} days (features and edges from"
               f" {eval_graph.seen})")
    else:
        fit_graph = eval_graph = build(ws, task)
        train_idx, val_idx, test = split(fit_graph.y, seed)
        how = "by player: stratified 60/20/20 (test players never seen)"
    design = Design.fit(fit_graph.embedding[train_idx], fit_graph.behaviour[train_idx])
    xg, xp, edges, weight = tensors(fit_graph, design, dev)
    y = torch.from_numpy(fit_graph.y).to(dev)
    tr, va = torch.from_numpy(train_idx).to(dev), torch.from_numpy(val_idx).to(dev)
    torch.manual_seed(seed)
    ChebNet, PlayerMLP = models()
    trials = {}
    for k in K_CHOICES:
        torch.manual_seed(seed)
        model = ChebNet(xg.shape[1], k).to(dev)
        trials[k] = fit_one(model, (xg, edges, weight), y, tr, va)[0]
    k = max(trials, key=trials.get)
    torch.manual_seed(seed)
    gnn = ChebNet(xg.shape[1], k).to(dev)
    probe = tr[torch.randperm(len(tr), generator=torch.Generator().manual_seed(seed))[:PROBE].to(dev)]
    tracker = Tracker(lambda: empirical_ntk(gnn, (xg, edges, weight), probe), every=10)
    _, epochs = fit_one(gnn, (xg, edges, weight), y, tr, va, tracker)
    torch.manual_seed(seed)
    mlp = PlayerMLP(xp.shape[1]).to(dev)
    fit_one(mlp, (xp,), y, tr, va)
    gnn.eval()
    mlp.eval()
    eg, ep, e_edges, e_weight = tensors(eval_graph, design, dev)
    with torch.no_grad():
        p_gnn = torch.sigmoid(gnn(eg, e_edges, e_weight)).cpu().numpy()
        p_mlp = torch.sigmoid(mlp(ep)).cpu().numpy()
    truth = eval_graph.y[test]
    ours, theirs = ranking_scores(truth, p_gnn[test]), ranking_scores(truth, p_mlp[test])
    versus = auc_difference(truth, p_gnn[test], p_mlp[test], seed=seed)
    scores = {"task": task, "label": eval_graph.label, "players": len(eval_graph.players),
              "positives": int(truth.sum()), "edges": int(eval_graph.edges.shape[1] // 2), "split": how,
              "gnn": {**ours, "k": k, "validation_auc_by_k": trials, "epochs": epochs},
              "non_graph_mlp": theirs, "versus_baseline": versus,
              "gnn_beats_baseline": versus["verdict"] == "ahead", "device": dev,  # a tie keeps the MLP
              "held_out_players": [eval_graph.players[i] for i in test] if task == "toxicity" else None,
              "held_out_risk": [round(float(v), 4) for v in p_gnn[test]] if task == "toxicity" else None,
              "held_out_risk_mlp": [round(float(v), 4) for v in p_mlp[test]] if task == "toxicity" else None}
    ntk = {"records": tracker.records, "verdict": tracker.verdict(), "probe": PROBE,
           "seconds_per_record": round(float(np.mean(tracker.seconds)), 4)}
    config = {"task": task, "k": k, "features": int(xg.shape[1]), "mlp_features": int(xp.shape[1]),
              "feature_names": design.names()
              + [f"pe{i + 1}" for i in range(PE_DIMS)], "design": design.to_json()}
    state = {**{f"gnn.{k_}": v.cpu() for k_, v in gnn.state_dict().items()},
             **{f"mlp.{k_}": v.cpu() for k_, v in mlp.state_dict().items()}}  # the MLP answers where the GNN ties
    save(ws, f"gnn:{task}", "ChebConv GNN", state, config, scores, ntk)
    return record(ws, f"gnn:{task}")


def risk(ws: Workspace, task: str | None = None, top: int = 15) -> dict[str, Any]:
    """Players most at risk by the saved GNN (trained first if there is none), from predictions on
    data it never trained on: for disengagement a forecast of the next QUIET_DAYS from everything known
    now; for toxicity its predictions for the held-out players."""
    import torch
    task = task or task_for(ws)
    rec = record(ws, f"gnn:{task}") or train(ws, task)
    if "mlp_features" not in rec["config"] or "versus_baseline" not in rec["scores"]:  # saved by an older pilang
        rec = train(ws, task)
    s = rec["scores"]
    graph_wins = s["gnn_beats_baseline"]
    if task == "disengagement":
        graph = build(ws, task, cutoff=last_time(ws) + 1, labelled=False)  # everything: the label is the future
        design = Design.from_json(rec["config"]["design"])
        ChebNet, PlayerMLP = models()
        prefix = "gnn." if graph_wins else "mlp."
        model = (ChebNet(rec["config"]["features"], rec["config"]["k"]) if graph_wins else
                 PlayerMLP(rec["config"]["mlp_features"])).to(device())
        model.load_state_dict({k_[len(prefix):]: v for k_, v in weights(ws, rec).items() if k_.startswith(prefix)})
        model.eval()
        x, xp, edges, weight = tensors(graph, design, device())
        with torch.no_grad():
            p = torch.sigmoid(model(x, edges, weight) if graph_wins else model(xp)).cpu().numpy()
        who, what = graph.players, f"forecast: silent in the next {QUIET_DAYS} days (from everything known now)"
        degree = np.bincount(graph.edges[0], minlength=len(who)) if graph.edges.size else np.zeros(len(who), int)
        neighbours = dict(zip(who, degree.tolist()))
    else:
        who, p = s["held_out_players"], np.array(s["held_out_risk" if graph_wins else "held_out_risk_mlp"])
        what, neighbours = "held-out players' predicted risk (players the model never trained on)", {}
    order = np.argsort(-p)[:top]
    held = s["gnn"] if graph_wins else s["non_graph_mlp"]
    mlp = f"the same features without the graph ({s['non_graph_mlp']['roc_auc']:.3f})"
    answer = (f"{task} risk from the player graph ({s['players']:,} players, {s['edges']:,} edges): held-out ROC-AUC"
              f" {s['gnn']['roc_auc']:.3f} (ChebConv K={s['gnn']['k']}), {words(s['versus_baseline'], mlp)}"
              f"{'' if graph_wins else ', which answers'}; of these players, {likely_count(p, held)}")
    evidence = {"label": s["label"], "split": s["split"], "at_risk_from": what,
                "at_risk": [{"player": who[i], "risk": round(float(p[i]), 3),
                             **({"neighbours": int(neighbours[who[i]])} if neighbours else {})} for i in order],
                "trained": rec["trained"], "ntk_verdict": rec["ntk"]["verdict"]}
    note = stale(ws, rec)
    if note:
        evidence["note"] = note
    name = (f"ChebConv GNN (K={s['gnn']['k']}, sym. normalisation, {PE_DIMS} Laplacian-eigenvector PEs)" if graph_wins
            else "MLP on the player features (the graph network did not beat it)")
    return {"answer": answer, "evidence": evidence, "model": f"{name} on {s['device']}",
            "held_out": {"gnn": s["gnn"], "non_graph_mlp": s["non_graph_mlp"], "versus_baseline": s["versus_baseline"],
                         "gnn_beats_baseline": graph_wins}}
