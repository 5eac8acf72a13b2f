"""`pilang eval`: one table over the real data sets present (../shared/data or $PILANG_DATA): each
model, its task, the data, how it was split, the metric, its score on data it never saw, the strongest
simple baseline's score in the same run, and whether the model beats it. A data set that is missing,
or too small for a task, gives a row that says so instead of a number."""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..data.datasets import DatasetMissing, dataset
from ..ingestion.pipeline import ingest
from ..workspace.store import Workspace, WorkspaceError

COLUMNS = ["model", "task", "data", "split", "metric", "model_score", "baseline", "baseline_score", "beats_baseline"]


def row(model: str, task: str, data: str, split: str, metric: str, score: float | None, baseline: str,
        base: float | None, higher_is_better: bool = True, note: str | None = None,
        beats: bool | None = None) -> dict[str, Any]:
    """One row of the table; `beats` given where a test decides it (e.g. a paired bootstrap: a tie is not a win)."""
    if beats is None:
        beats = None if score is None or base is None else (score > base if higher_is_better else score < base)
    return {"model": model, "task": task, "data": data, "split": split, "metric": metric,
            "model_score": None if score is None else round(float(score), 4), "baseline": baseline,
            "baseline_score": None if base is None else round(float(base), 4), "beats_baseline": beats,
            **({"note": note} if note else {})}


class Lab:
    """Workspaces of the shared data sets, each ingested once per run."""

    def __init__(self, root: Path) -> None:
        self.root, self.spaces = root, {}

    def workspace(self, name: str, *paths: Path, **options: Any) -> Workspace:
        if name not in self.spaces:
            ws = Workspace(self.root / name)
            report = ingest(ws, list(paths), progress=False, **options)
            if report.errors:
                raise WorkspaceError("; ".join(report.errors))
            self.spaces[name] = ws
        return self.spaces[name]


def churn_rows(lab: Lab) -> Iterator[dict[str, Any]]:
    from ..predictions import churn
    path = dataset("cookie-cats-ab-retention") / "cookie_cats.csv"
    ws = lab.workspace("cookie-cats", path, windows={"sum_gamerounds": [0, 14]})  # SOURCE.md: rounds over days 0-14
    held = churn.churn(ws)["held_out"]
    yield row("gradient boosting", "day-7 churn", "Cookie Cats (90,189 players)", held["split"], "ROC-AUC",
              held["model"]["roc_auc"], "logistic regression", held["baseline_logistic_regression"]["roc_auc"],
              note="sum_gamerounds excluded: it counts days 0-14, after the day-7 label")


SPLITS = {"reviews of unseen games, English": "12 whole games, none in training (leave-one-game-out)",
          "chat, unseen matches": "Dota 2 chat, the upstream test matches (none in training)",
          "tickets (complaint tweets to support accounts)": "held out by sector (trained on 5 others)",
          "game slang (pilang's own set)": "held out whole (a check, written by pilang's developers)"}
BASELINES = {"vader": "VADER", "tfidf_lr": "TF-IDF + logistic regression (same training rows)",
             "anchors": "anchor phrases (the old fallback)"}


def _verdict(vs: dict[str, Any]) -> str:
    words = {"ahead": "ahead of", "tied": "tied with", "behind": "behind"}[vs["verdict"]]
    lo, hi = vs["interval"]
    return f"{words} {vs['baseline']} ({vs['difference']:+.3f}, 95% paired bootstrap [{lo:+.3f}, {hi:+.3f}])"


def sentiment_rows(lab: Lab) -> Iterator[dict[str, Any]]:
    """The packaged model on every held-out set beside the strongest of VADER, TF-IDF + logistic regression and
    the anchor phrases, in this run; then a workspace's own labels, out of fold."""
    from ..analytics.sentiment import packaged
    from ..analytics.sentiment_training import shipped_report
    report = shipped_report(log=lambda line: None)
    for name, scores in report.items():
        m = scores["packaged"]
        if "neutral_share" in m:  # factual text: how much of it reads as neutral
            best = max(BASELINES, key=lambda b: scores[b]["neutral_share"])
            yield row("packaged game-text sentiment", "factual text read as neutral", f"{name} ({m['n']:,} rows)",
                      "held out whole", "neutral share", m["neutral_share"], BASELINES[best],
                      scores[best]["neutral_share"], note="; ".join(f"{BASELINES[b].split(' (')[0]}"
                                                                   f" {scores[b]['neutral_share']:.3f}" for b in BASELINES))
            continue
        best = max(BASELINES, key=lambda b: scores[b].get("balanced_accuracy", 0))
        others = ", ".join(f"{BASELINES[b].split(' (')[0]} {scores[b]['balanced_accuracy']:.3f}" for b in BASELINES)
        vs = m["vs_best_baseline"]
        yield row("packaged game-text sentiment", "sentiment, positive vs negative", f"{name} ({m['n']:,} rows)",
                  SPLITS.get(name, "held out"), "balanced accuracy", m["balanced_accuracy"], BASELINES[best],
                  scores[best]["balanced_accuracy"],
                  note=f"negative recall {m['negative_recall']:.3f}, macro-F1 {m['macro_f1']:.3f}"
                       + (f", 3-class macro-F1 {m['macro_f1_3']:.3f}" if "macro_f1_3" in m else "")
                       + f"; baselines: {others}; {_verdict(vs)}", beats=vs["verdict"] == "ahead")
    whole = packaged().card["held_out"].get("chat, whole set held out (a model trained without chat)")
    if whole:
        best = max(BASELINES, key=lambda b: whole[b].get("balanced_accuracy", 0))
        yield row("game-text sentiment trained without chat", "sentiment, positive vs negative",
                  f"Dota 2 chat, whole set ({whole['packaged']['n']:,} rows)", "held out whole",
                  "balanced accuracy", whole["packaged"]["balanced_accuracy"], BASELINES[best],
                  whole[best]["balanced_accuracy"], note="from the training run's card (sentiment.json): this model"
                                                          " is not shipped; it shows how the model moves to chat unseen"
                                                          + (f"; {_verdict(whole['packaged']['vs_best_baseline'])}"
                                                             if "vs_best_baseline" in whole["packaged"] else ""),
                  beats=whole["packaged"].get("vs_best_baseline", {}).get("verdict", "ahead") == "ahead")
    yield from workspace_sentiment_rows(lab)
    yield from toxicity_rows()


def toxicity_rows() -> Iterator[dict[str, Any]]:
    """The packaged toxicity model's held-out figures, from its training run (the card): ROC-AUC beside TF-IDF +
    logistic regression on the same rows and VADER's negativity."""
    from ..analytics.toxicity import packaged_toxicity
    names = {"tfidf_lr": "TF-IDF + logistic regression (same training rows)", "vader_negativity": "VADER negativity"}
    for name, held in packaged_toxicity().card["held_out"].items():
        m = held["packaged"]
        best = max(names, key=lambda b: held[b]["roc_auc"])
        yield row("packaged game-chat toxicity", "toxic or not (English chat)", f"{name} ({m['n']:,} rows)",
                  "held out", "ROC-AUC", m["roc_auc"], names[best], held[best]["roc_auc"],
                  note=f"Brier {m['brier']:.3f}, calibration error {m['calibration_error']:.3f}, balanced accuracy"
                       f" at 0.5 {m['balanced_accuracy']:.3f}, base rate {m['base_rate']:.2f}; from the training"
                       " run's card (toxicity.json)")


def workspace_sentiment_rows(lab: Lab) -> Iterator[dict[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    from ..analytics.sentiment import FOLDS, model_for
    ws = lab.workspace("warframe-reviews", dataset("steam-reviews-warframe"))
    model = model_for(ws)
    held = model.held_out
    if not held:
        yield row("packaged sentiment, adapted to a workspace", "review sentiment (recommend flag)",
                  "Warframe Steam reviews", "-", "balanced accuracy", None, "TF-IDF + logistic regression", None,
                  note="fewer labelled reviews than a fit needs")
        return
    texts = dict(ws.rows_in("SELECT id, text FROM messages WHERE id IN ({marks})", held["ids"]))
    docs, y = [texts[i] for i in held["ids"]], np.array(held["labels"])
    pred = np.zeros(len(y), int)
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(docs, y):
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        lr = LogisticRegression(max_iter=2000, class_weight="balanced", C=4.0)
        lr.fit(vec.fit_transform([docs[i] for i in train]), y[train])
        pred[test] = lr.predict(vec.transform([docs[i] for i in test]))
    base = balanced_accuracy_score(y, pred)
    s = model.score
    yield row(f"packaged sentiment ({s['chosen']}: adapted {s['adapted']:.3f}, packaged alone {s['packaged']:.3f})",
              "review sentiment (recommend flag)", "Warframe Steam reviews", f"{len(y):,} reviews, {FOLDS}-fold out of"
              " fold", "balanced accuracy", s["value"], "TF-IDF + logistic regression (the same folds)", base)


def forecast_rows(lab: Lab) -> Iterator[dict[str, Any]]:
    from ..analytics import forecasting as F
    from ..analytics.reports import daily_features
    from ..analytics.series import Scope
    sets = [("warframe-reviews", "Warframe Steam reviews", [dataset("steam-reviews-warframe")]),
            ("cyberpunk-posts", "r/cyberpunkgame posts", [dataset("reddit-cyberpunkgame-posts")])]
    for name, label, paths in sets:
        ws = lab.workspace(name, *paths)
        _, feats, *_ = daily_features(ws, Scope())
        for metric, y in (("volume", feats[:, 0]), ("sentiment", feats[:, 1])):
            bt = F.backtest(y)
            if not bt["origins"]:
                yield row("ETS", f"daily {metric}, next 7 days", label, "-", "MAE", None, "seasonal naive / no change",
                          None, note=f"{len(y)} days: too short for a backtest")
                continue
            best = min(("seasonal_naive", "no_change"), key=lambda k: bt["mae"][k])
            yield row("ETS (statsmodels)", f"daily {metric}, next 7 days", f"{label} ({len(y)} days)",
                      f"rolling origin, {bt['origins']} origins", "MAE", bt["mae"]["ets"], F.NAMES[best],
                      bt["mae"][best], higher_is_better=False)


def fno_rows(lab: Lab) -> Iterator[dict[str, Any]]:
    from ..spectral import fno
    ws = lab.workspace("cyberpunk-posts", dataset("reddit-cyberpunkgame-posts"))
    c = fno.train(ws)["scores"]["community"]
    for metric, s in c.items():
        best = min(("ets_mae", "seasonal_naive_mae", "no_change_mae"), key=lambda k: s[k])
        yield row("FNO", f"daily {metric}, next 7 days", "r/cyberpunkgame posts", f"rolling origin, {s['origins']}"
                  " origins (trained before the first)", "MAE", s["fno_mae"],
                  {"ets_mae": "ETS", "seasonal_naive_mae": "seasonal naive", "no_change_mae": "no change"}[best],
                  s[best], higher_is_better=False)


def anomaly_rows(lab: Lab) -> Iterator[dict[str, Any]]:
    from ..analytics.reports import anomalies
    ws = lab.workspace("warframe-reviews", dataset("steam-reviews-warframe"))
    patches = lab.workspace("warframe-patches", dataset("patch-notes-warframe"))
    out = anomalies(ws, {})
    days = [np.datetime64(a["day"]) for a in out["evidence"]["anomalies"]]
    lo, hi = ws.db.execute("SELECT min(time), max(time) FROM messages WHERE time IS NOT NULL").fetchone()
    changes = [np.datetime64(int(t), "s").astype("datetime64[D]") for (t,) in patches.db.execute(
        "SELECT time FROM changes WHERE time BETWEEN ? AND ?", [lo, hi])]
    n_days = out["evidence"]["days"]
    if not changes:
        yield row("anomalies", "flag a dated change", "Warframe reviews", "-", "hit rate", None, "chance", None,
                  note="no dated change inside the reviews' dates")
        return
    hits = np.mean([any(abs((d - c).astype(int)) <= 1 for d in days) for c in changes])
    flagged = len(set(days)) / n_days
    chance = 1 - (1 - flagged) ** 3  # a 3-day window holding a flagged day at random
    yield row("anomalies (5% false alarms per series)", "a flagged day within a day of a patch", "Warframe reviews"
              f" + patch notes ({len(changes)} patches in {n_days} days)", "none (a detector)", "hit rate", hits,
              "chance (same flag rate)", chance)


def change_rows(lab: Lab) -> Iterator[dict[str, Any]]:
    from ..predictions.reactions import history
    ws = lab.workspace("warframe-all", dataset("steam-reviews-warframe"), dataset("patch-notes-warframe"))
    hist = history(ws)
    measured = int((~np.isnan(hist.shifts.get("community", {}).get("satisfaction", np.zeros(0)))).sum())
    yield row("similar past changes", "satisfaction shift after a patch", "Warframe reviews + patch notes",
              "time-ordered backtest", "MAE", None, "no change", None,
              note=f"{measured} patches have both windows inside the reviews' dates; a backtest needs 3")


def gnn_rows(lab: Lab) -> Iterator[dict[str, Any]]:
    from ..spectral import gnn
    ws = lab.workspace("conda", dataset("dota2-ingame-chat-conda") / "CONDA_valid.csv")
    s = gnn.train(ws, "toxicity")["scores"]
    yield row("ChebConv GNN", "toxic in a match's second half, from its first", f"Dota 2 chat, CONDA valid"
              f" ({s['players']:,} players)", s["split"], "ROC-AUC", s["gnn"]["roc_auc"],
              "MLP on the same features without the graph", s["non_graph_mlp"]["roc_auc"])


SUITE: list[Callable[[Lab], Iterator[dict[str, Any]]]] = [churn_rows, sentiment_rows, forecast_rows, fno_rows,
                                                          anomaly_rows, change_rows, gnn_rows]


def evaluate(progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every row of the table; a missing data set gives a row saying so."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp))
        for part in SUITE:
            started = time.perf_counter()
            try:
                out += list(part(lab))
            except DatasetMissing as exc:
                out.append(row(part.__name__.removesuffix("_rows"), "-", "-", "-", "-", None, "-", None,
                               note=f"skipped: {exc}"))
            if progress:
                progress(f"{part.__name__.removesuffix('_rows')}: {time.perf_counter() - started:.0f} s")
    return out


def render(rows: list[dict[str, Any]]) -> str:
    """The table as aligned text, notes under it."""
    def cell(r: dict[str, Any], c: str) -> str:
        v = r.get(c)
        if c == "beats_baseline":
            return "n/a" if v is None else ("yes" if v else "NO")
        return "n/a" if v is None else str(v)
    cells = [[cell(r, c) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(x, widths)).rstrip() for x in cells]
    notes = [f"  {r['model']} / {r['task']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))
