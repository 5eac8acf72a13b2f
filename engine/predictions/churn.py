"""Churn: from a player table with a retention label (e.g. Cookie Cats: churn = not retained at day 7),
a gradient-boosted model scored on a held-out split beside a logistic-regression baseline, with the
A/B effect of each two-level column; from telemetry, a BehaviorLSTM-style sequence model over each
player's daily activity beside a logistic baseline on summary features."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from ..evaluation.verdict import auc_difference, calibration, words
from ..ingestion.pipeline import column_windows
from ..workspace.progress import step
from ..workspace.store import Workspace, WorkspaceError

# Label keys a player table may carry, and whether the key means "retained" (churn = not it).
LABELS = {"retention_7": True, "retained_7": True, "retained": True, "churned": False, "churn": False}
TOP_AT_RISK = 10
HISTORY_DAYS, HORIZON_DAYS, STEP_DAYS = 21, 14, 3  # sequence window, what "churned" looks ahead, cutoff stride
DAY = 86400.0
CALIBRATED = 0.05  # held-out expected calibration error up to which probabilities are read as probabilities


def _table(ws: Workspace, source: str | None) -> tuple[str, str, list[str], dict[str, list[Any]]]:
    """(source, label key, players, columns) of a player table that carries a churn label."""
    rows = ws.db.execute("SELECT source, key FROM player_facts GROUP BY source, key").fetchall()
    for src, key in sorted(rows, key=lambda r: (r[0] != source, r[0])):
        if key in LABELS and source in (None, src):
            # rows in the source's own order (as ingested), not by pseudonym: pseudonyms are salted per
            # workspace, and a split over them would give each workspace other figures for the same file
            facts = ws.db.execute("SELECT player, key, value FROM player_facts WHERE source = ? ORDER BY rowid", [src])
            table: dict[str, dict[str, Any]] = {}
            for player, k, v in facts:
                table.setdefault(player, {})[k] = json.loads(v)
            players = list(table)
            keys = sorted({k for t in table.values() for k in t})
            return src, key, players, {k: [table[p].get(k) for p in players] for k in keys}
    raise WorkspaceError("no player table with a churn label (a column named one of "
                         f"{', '.join(LABELS)}); ingest one, or use telemetry" +
                         (f" (none in source {source!r})" if source else ""))


def _day(name: str) -> int | None:
    """The day a column named like retention_7 observes."""
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _design(columns: dict[str, list[Any]], label: str, windows: dict[str, list[float]] | None = None
            ) -> tuple[np.ndarray, list[str], dict[str, list[Any]], list[dict[str, Any]], list[str]]:
    """Numeric features (booleans as 0/1, counts log-scaled, text one-hot) from every column observed
    no later than the label (a declared window, else the day in its name: retention_14 would leak into
    retention_7); two-level text columns; the excluded columns with the reason; each feature's column."""
    windows = windows or {}
    label_day = _day(label)
    feats, names, groups, excluded, origin = [], [], {}, [], []
    for key, values in columns.items():
        if key == label:
            continue
        span = windows.get(key) or ([_day(key), _day(key)] if _day(key) is not None else None)
        if span is not None and label_day is not None and span[1] >= label_day:
            excluded.append({"column": key, "window": span,
                             "reason": f"observed over days {span[0]:g}-{span[1]:g}, not before the label"
                                       f" ({label}, day {label_day}): it would leak the outcome"})
            continue
        if all(isinstance(v, (bool, type(None))) for v in values):
            feats.append([float(bool(v)) for v in values])
            names.append(key)
            origin.append(key)
        elif all(isinstance(v, (int, float, type(None))) for v in values):
            x = np.array([np.nan if v is None else float(v) for v in values])
            feats.append(np.log1p(np.clip(x, 0, None)) if np.nanmin(x) >= 0 else x)
            names.append(f"log1p({key})" if np.nanmin(x) >= 0 else key)
            origin.append(key)
        else:
            levels = sorted({str(v) for v in values if v is not None})
            if 1 < len(levels) <= 20:
                for level in levels[1:]:
                    feats.append([float(str(v) == level) for v in values])
                    names.append(f"{key}={level}")
                    origin.append(key)
                if len(levels) == 2:
                    groups[key] = [str(v) for v in values]
    X = np.nan_to_num(np.column_stack(feats)) if feats else np.zeros((len(next(iter(columns.values()))), 0))
    return X, names, groups, excluded, origin


def ranking_scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Held-out ROC-AUC and PR-AUC of risk probabilities p for labels y, and their calibration (Brier score,
    expected calibration error): a probability printed as one must be one."""
    from sklearn.metrics import average_precision_score, roc_auc_score
    return {"roc_auc": round(float(roc_auc_score(y, p)), 4), "pr_auc": round(float(average_precision_score(y, p)), 4),
            **calibration(y, p)}


def likely_count(p: np.ndarray, held: dict[str, float]) -> str:
    """How many players are more likely than not to churn, said so only when the held-out probabilities
    are calibrated (calibration error within CALIBRATED); else how many are above the base rate."""
    if held.get("calibration_error", 1.0) <= CALIBRATED:
        return (f"{int((p > 0.5).sum())} of {len(p)} are more likely than not to churn (held-out calibration error"
                f" {held['calibration_error']:.3f}); about {p.sum():.0f} are expected to")
    return (f"{int((p > held['base_rate']).sum())} of {len(p)} are above the base rate of {held['base_rate']:.0%}"
            f" (the probabilities are not calibrated: held-out calibration error {held['calibration_error']:.3f})")


def player_split(y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held out) rows with every player on one side and churners on both (1/folds held out)."""
    from sklearn.model_selection import StratifiedGroupKFold
    return next(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def _auc_interval(y: np.ndarray, p: np.ndarray, confidence: float, rng: np.random.Generator, n: int = 200) -> list[float]:
    """Bootstrap interval of the held-out ROC-AUC."""
    from sklearn.metrics import roc_auc_score
    aucs = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() != y[i].max():
            aucs.append(roc_auc_score(y[i], p[i]))
    return [round(float(np.quantile(aucs, (1 - confidence) / 2)), 4), round(float(np.quantile(aucs, (1 + confidence) / 2)), 4)]


def ab_effect(groups: list[str], retained: np.ndarray, confidence: float) -> dict[str, Any]:
    """Retention per level of a two-level column and the difference with a Wald interval."""
    from scipy.stats import norm
    g = np.array(groups)
    a, b = sorted(set(groups))
    ra, rb = retained[g == a], retained[g == b]
    pa, pb = ra.mean(), rb.mean()
    se = math.sqrt(pa * (1 - pa) / len(ra) + pb * (1 - pb) / len(rb))
    z = norm.ppf(0.5 + confidence / 2)
    diff = pa - pb
    p_value = 2 * (1 - norm.cdf(abs(diff) / se)) if se > 0 else 1.0
    return {"levels": {a: {"players": int(len(ra)), "retention": round(float(pa), 4)},
                       b: {"players": int(len(rb)), "retention": round(float(pb), 4)}},
            "difference": f"{a} - {b}", "effect": round(float(diff), 4),
            "interval": [round(float(diff - z * se), 4), round(float(diff + z * se), 4)],
            "p_value": round(float(p_value), 4), "significant": bool(p_value < 1 - confidence)}


LEAK_AUC = 0.85  # a single feature this good out of fold on the training players is a possible leak


def _models(seed: int) -> tuple[Any, Any]:
    """The model and its logistic-regression baseline, unfitted."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return (HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed),
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)))


def _score(X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int) -> dict[str, Any]:
    """Model and baseline fitted on train, scored on the held-out rows."""
    model, baseline = _models(seed)
    model.fit(X[train], y[train])
    baseline.fit(X[train], y[train])
    p_model, p_base = model.predict_proba(X[test])[:, 1], baseline.predict_proba(X[test])[:, 1]
    return {"model": model, "p_model": p_model, "p_base": p_base, "ours": ranking_scores(y[test], p_model),
            "theirs": ranking_scores(y[test], p_base)}


def single_feature_aucs(X: np.ndarray, y: np.ndarray, names: list[str], train: np.ndarray, seed: int,
                        folds: int = 3) -> dict[str, float]:
    """Each feature alone: a small boosted model's out-of-fold ROC-AUC within the training players only (the
    test split never chooses which features the model keeps)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    out = {}
    for j, name in enumerate(names):
        p = cross_val_predict(HistGradientBoostingClassifier(max_iter=50, random_state=seed), X[train][:, [j]],
                              y[train], cv=cv, method="predict_proba")[:, 1]
        out[name] = round(float(roc_auc_score(y[train], p)), 4)
    return out


def out_of_fold(X: np.ndarray, y: np.ndarray, use_model: bool, seed: int, folds: int = 5) -> np.ndarray:
    """Every player's risk from a model that never saw that player (stratified folds)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    est = _models(seed)[0 if use_model else 1]
    return cross_val_predict(est, X, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                             method="predict_proba")[:, 1]


@step("fitting churn models on the player table")
def table_churn(ws: Workspace, source: str | None = None, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Churn from a labelled player table: model vs baseline on held-out players, columns observed after
    the label excluded, single features too good to be true scored without, A/B effects, and the players
    most at risk by out-of-fold predictions."""
    from sklearn.inspection import permutation_importance
    from sklearn.model_selection import train_test_split
    src, label, players, columns = _table(ws, source)
    retained = np.array([bool(v) for v in columns[label]])
    y = (~retained if LABELS[label] else retained).astype(int)
    X, names, groups, excluded, origin = _design(columns, label, column_windows(ws, src))
    if X.shape[1] == 0:
        raise WorkspaceError(f"player table {src!r} has no feature columns observed before {label}")
    train, test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=seed, stratify=y)
    full = _score(X, y, train, test, seed)
    alone = single_feature_aucs(X, y, names, train, seed)
    suspects = [n for n, auc in alone.items() if auc > LEAK_AUC]
    keep = [j for j, n in enumerate(names) if n not in suspects]
    without = _score(X[:, keep], y, train, test, seed) if suspects and keep else None
    used = without or full  # the honest model: without the suspected leaks where there are any
    Xu, used_names = X[:, keep] if without else X, [names[j] for j in keep] if without else names
    ours, theirs = used["ours"], used["theirs"]
    ours["roc_auc_interval"] = _auc_interval(y[test], used["p_model"], confidence, np.random.default_rng(seed))
    versus = auc_difference(y[test], used["p_model"], used["p_base"], seed=seed)
    beats = versus["verdict"] == "ahead"  # a tie keeps the baseline
    sub = test[:5000]
    imp = permutation_importance(used["model"], Xu[sub], y[sub], scoring="roc_auc", n_repeats=3, random_state=seed)
    importance = sorted(({"feature": n, "auc_drop": round(float(d), 4)} for n, d in zip(used_names, imp.importances_mean)),
                        key=lambda r: -r["auc_drop"])
    effects = {k: ab_effect(v, (1 - y).astype(float), confidence) for k, v in groups.items()}
    risk = out_of_fold(Xu, y, beats, seed)  # never from rows a model trained on
    top = np.argsort(-risk)[:TOP_AT_RISK]
    ab = "; ".join(f"{k}: {e['difference']} retention {e['effect']:+.4f} [{e['interval'][0]:+.4f}, {e['interval'][1]:+.4f}]"
                   f"{' (significant)' if e['significant'] else ' (not significant)'}" for k, e in effects.items())
    pct = round(confidence * 100)
    leak_note = ""
    if suspects:
        leak_note = (f"; {', '.join(f'{n} alone scores {alone[n]:.3f}' for n in suspects)} out of fold on the"
                     " training players, a"
                     f" possible leak (declare its observation window): with it the model scores"
                     f" {full['ours']['roc_auc']:.3f}, the figures here are without it")
    baseline_name = f"the logistic baseline ({theirs['roc_auc']:.3f})"
    held = {"split": f"{len(test):,} players (25%, stratified; in the table's own row order)", "model": ours,
            "baseline_logistic_regression": theirs, "model_beats_baseline": beats, "versus_baseline": versus,
            "single_feature_roc_auc": alone, "single_feature_screened_on": "training players, 3-fold out of fold"}
    if without is not None:
        held["with_suspected_leaks"] = {"model": full["ours"], "baseline_logistic_regression": full["theirs"]}
    return {"answer": f"churn (not {label}) in {src}: {y.mean():.1%} of {len(y):,} players; held-out ROC-AUC"
                      f" {ours['roc_auc']:.3f} [{ours['roc_auc_interval'][0]:.3f}, {ours['roc_auc_interval'][1]:.3f}],"
                      f" {words(versus, baseline_name)}" + leak_note + too_easy(ours, theirs)
                      + (f"; {pct}% A/B effect {ab}" if ab else ""),
            "evidence": {"source": src, "label": f"churn = not {label}" if LABELS[label] else f"churn = {label}",
                         "players": len(y), "churned": int(y.sum()), "features": used_names,
                         "excluded": excluded + [{"column": origin[names.index(n)], "feature": n,
                                                  "reason": f"alone it reaches ROC-AUC {alone[n]:.3f} out of fold on the"
                                                            " training players"
                                                            f" (> {LEAK_AUC}): a possible leak"} for n in suspects],
                         "importance": importance, "ab_effects": effects,
                         "at_risk_from": f"out-of-fold predictions of the {'model' if beats else 'baseline'}"
                                         " (5 folds: no player is scored by a model that saw it)",
                         "at_risk": [{"player": players[i], "risk": round(float(risk[i]), 3)} for i in top]},
            "model": ("HistGradientBoostingClassifier (200 rounds)" if beats else
                      "logistic regression (the boosted model did not beat it)") + " on the table's columns",
            "held_out": held}


def activity(ws: Workspace) -> tuple[list[str], np.ndarray, float]:
    """Players x days matrix of summed telemetry values (event count where no value), and day 0."""
    rows = ws.db.execute("SELECT player, time, coalesce(value, 1) FROM telemetry WHERE time IS NOT NULL"
                         " AND player IS NOT NULL ORDER BY id").fetchall()
    if not rows:
        raise WorkspaceError("no dated telemetry to learn churn from (ingest telemetry events: player, time, event, value)")
    players = list(dict.fromkeys(r[0] for r in rows))  # by first event, not by (salted) pseudonym
    where = {p: i for i, p in enumerate(players)}
    t = np.array([r[1] for r in rows])
    start = math.floor(t.min() / DAY)
    days = (np.floor(t / DAY) - start).astype(int)
    M = np.zeros((len(players), int(days.max()) + 1))
    np.add.at(M, ([where[r[0]] for r in rows], days), [float(r[2]) for r in rows])
    return players, M, start * DAY


def windows(M: np.ndarray, with_cuts: bool = False) -> Any:
    """Sliding samples: HISTORY_DAYS of a player's activity before a cutoff, label = no activity in
    the HORIZON_DAYS after it; players with no activity in the history are left out. (X, y, player),
    and each window's cutoff day with `with_cuts`."""
    X, y, who, cuts = [], [], [], []
    for cut in range(HISTORY_DAYS, M.shape[1] - HORIZON_DAYS + 1, STEP_DAYS):
        hist, future = M[:, cut - HISTORY_DAYS:cut], M[:, cut:cut + HORIZON_DAYS]
        alive = hist.sum(axis=1) > 0
        X.append(hist[alive])
        y.append((future[alive].sum(axis=1) == 0).astype(int))
        who.append(np.where(alive)[0])
        cuts.append(np.full(int(alive.sum()), cut))
    if not X:
        raise WorkspaceError(f"telemetry spans {M.shape[1]} days; sequence churn needs at least"
                             f" {HISTORY_DAYS + HORIZON_DAYS}")
    out = (np.concatenate(X), np.concatenate(y), np.concatenate(who))
    return (*out, np.concatenate(cuts)) if with_cuts else out


def time_and_player_split(y: np.ndarray, who: np.ndarray, cuts: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(train, test, first test cutoff): test = the last third of the cutoffs, for a quarter of the
    players held out; train = the other players' windows whose label period ends before the first
    test cutoff. A forecast is scored on a later period and on players it never saw."""
    order = np.unique(cuts)
    boundary = int(order[min(len(order) - 1, (2 * len(order)) // 3)])
    _, held = player_split(y, who, 4, seed)
    test_players = np.isin(who, np.unique(who[held]))
    train = np.flatnonzero((cuts + HORIZON_DAYS <= boundary) & ~test_players)
    test = np.flatnonzero((cuts >= boundary) & test_players)
    return train, test, boundary


def summary_features(X: np.ndarray) -> np.ndarray:
    """What the non-sequence baseline sees: mean, last-week mean, active days, days since last, trend."""
    active = X > 0
    last = np.where(active.any(axis=1), X.shape[1] - 1 - np.argmax(active[:, ::-1], axis=1), X.shape[1])
    slope = np.polyfit(np.arange(X.shape[1]), np.log1p(X).T, 1)[0]
    return np.column_stack([np.log1p(X.mean(axis=1)), np.log1p(X[:, -7:].mean(axis=1)), active.sum(axis=1),
                            last, slope])


class BehaviorLSTM:
    """An LSTM over daily (log activity, active) pairs; the last hidden state gives the churn logit.
    Trained with early stopping on players held out from its own training set."""

    def __init__(self, hidden: int = 32, max_epochs: int = 40, patience: int = 5, seed: int = 0) -> None:
        import torch
        torch.manual_seed(seed)
        self.torch = torch
        self.lstm = torch.nn.LSTM(2, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)
        self.max_epochs, self.patience, self.seed = max_epochs, patience, seed
        self.epochs = 0

    def _inputs(self, X: np.ndarray) -> Any:
        x = np.stack([np.log1p(X), (X > 0).astype(float)], axis=-1)
        return self.torch.tensor(x, dtype=self.torch.float32)

    def _logits(self, x: Any) -> Any:
        _, (h, _) = self.lstm(x)
        return self.head(h[-1]).squeeze(-1)

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> BehaviorLSTM:
        """Train on 80% of the players; stop when the other 20%'s log-loss stops improving (the risks are read as
        probabilities: a ranking criterion such as ROC-AUC can stop while they are still near the initial 0.5)."""
        import copy
        torch = self.torch
        fit_rows, val_rows = player_split(y, groups, 5, self.seed)
        x, t = self._inputs(X[fit_rows]), torch.tensor(y[fit_rows], dtype=torch.float32)
        x_val, t_val = self._inputs(X[val_rows]), torch.tensor(y[val_rows], dtype=torch.float32)
        params = list(self.lstm.parameters()) + list(self.head.parameters())
        opt = torch.optim.Adam(params, lr=0.01)
        # unweighted: a class weight would move every probability towards 0.5 (a churn rate of 12% weighted
        # to balance reads as 0.5), and the risks are printed as probabilities
        loss_fn = torch.nn.BCEWithLogitsLoss()
        best, best_state, waited = float("inf"), None, 0
        for epoch in range(self.max_epochs):
            for batch in torch.randperm(len(t)).split(512):
                opt.zero_grad()
                loss_fn(self._logits(x[batch]), t[batch]).backward()
                opt.step()
            with torch.no_grad():
                score = float(loss_fn(self._logits(x_val), t_val))
            if score < best - 1e-5:
                best, waited, self.epochs = score, 0, epoch + 1
                best_state = copy.deepcopy((self.lstm.state_dict(), self.head.state_dict()))
            else:
                waited += 1
                if waited >= self.patience:
                    break
        self.lstm.load_state_dict(best_state[0])
        self.head.load_state_dict(best_state[1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.torch.sigmoid(self._logits(self._inputs(X))).numpy()


@step("fitting churn models on activity sequences")
def sequence_churn(ws: Workspace, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Churn from telemetry sequences: BehaviorLSTM vs logistic regression on summary features, on
    players held out from training; the players most at risk now."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    players, M, _ = activity(ws)
    X, y, who, cuts = windows(M, with_cuts=True)
    if len(set(who[y == 1].tolist())) < 4:
        raise WorkspaceError(f"{len(set(who[y == 1].tolist()))} players went silent in the telemetry; sequence churn"
                             " needs at least 4 to train and score on")
    train, test, boundary = time_and_player_split(y, who, cuts, seed)
    if len(np.unique(y[train])) < 2 or len(np.unique(y[test])) < 2:
        raise WorkspaceError(f"telemetry spans {M.shape[1]} days: too short to train on an earlier period and score"
                             " on a later one with churners in both")
    lstm = BehaviorLSTM(seed=seed).fit(X[train], y[train], who[train])
    base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(summary_features(X[train]), y[train])
    p_lstm, p_base = lstm.predict_proba(X[test]), base.predict_proba(summary_features(X[test]))[:, 1]
    ours, theirs = ranking_scores(y[test], p_lstm), ranking_scores(y[test], p_base)
    ours["roc_auc_interval"] = _auc_interval(y[test], p_lstm, confidence, np.random.default_rng(seed))
    versus = auc_difference(y[test], p_lstm, p_base, seed=seed)
    beats = versus["verdict"] == "ahead"  # a tie keeps the baseline
    now = M[:, -HISTORY_DAYS:]
    alive = np.where(now.sum(axis=1) > 0)[0]
    if not len(alive):
        risk = np.zeros(0)
    elif beats:
        risk = lstm.predict_proba(now[alive])
    else:
        risk = base.predict_proba(summary_features(now[alive]))[:, 1]
    held = ours if beats else theirs
    baseline_name = f"the logistic baseline ({theirs['roc_auc']:.3f})"
    top = alive[np.argsort(-risk)[:TOP_AT_RISK]] if len(alive) else []
    by_player = dict(zip(alive.tolist(), risk.tolist()))
    return {"answer": f"churn (no activity in the next {HORIZON_DAYS} days) from {len(players):,} players' telemetry:"
                      f" held-out ROC-AUC {ours['roc_auc']:.3f} [{ours['roc_auc_interval'][0]:.3f},"
                      f" {ours['roc_auc_interval'][1]:.3f}], {words(versus, baseline_name)}"
                      f"{'' if beats else ', which answers'}; of the active players, {likely_count(risk, held)}"
                      + too_easy(ours, theirs),
            "evidence": {"players": len(players), "days": int(M.shape[1]), "windows": int(len(y)),
                         "churn_share": round(float(y.mean()), 3),
                         "at_risk": [{"player": players[i], "risk": round(by_player[i], 3),
                                      "active_days_in_window": int((M[i, -HISTORY_DAYS:] > 0).sum())} for i in top]},
            "model": (f"BehaviorLSTM (LSTM 32 units over {HISTORY_DAYS} days of activity,"
                      f" {lstm.epochs} epoch{'s' if lstm.epochs != 1 else ''}"
                      " by early stopping on held-out training players, unweighted loss)" if beats else
                      "logistic regression on summary features (the BehaviorLSTM did not beat it)"),
            "held_out": {"split": f"by time and player: {len(test):,} windows from day {boundary} on, of players never"
                                  f" seen in training (25%); trained on windows whose {HORIZON_DAYS}-day label ended"
                                  " before that day",
                         "model": ours, "baseline_logistic_regression": theirs, "model_beats_baseline": beats,
                         "versus_baseline": versus}}


TOO_EASY_AUC = 0.99


def too_easy(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    """A warning in the answer when the model and the simple baseline both score near perfectly: the data
    are too easy to tell models apart (simulated players whose churn shows in their own activity), which
    says nothing about real players."""
    if min(ours["roc_auc"], theirs["roc_auc"]) < TOO_EASY_AUC:
        return ""
    return (f"; warning: a near-perfect score for the model and the baseline alike (ROC-AUC ≥ {TOO_EASY_AUC}) says"
            " these data are too easy to tell churn models apart (simulated data often are), not that churn is solved")


def churn(ws: Workspace, source: str | None = None, confidence: float = 0.95) -> dict[str, Any]:
    """Churn from the labelled player table (or the one named), else from telemetry sequences."""
    has_table = ws.db.execute(f"SELECT 1 FROM player_facts WHERE key IN ({','.join('?' * len(LABELS))}) LIMIT 1",
                              list(LABELS)).fetchone()
    if source == "telemetry" or (source is None and not has_table):
        return sequence_churn(ws, confidence)
    return table_churn(ws, source, confidence)
