"""Personas and predictions: persona recovery (ARI) on simulated communities with known personas,
change-impact backtests (time-ordered, against "no change"; community and personas apart),
churn AUC against a logistic baseline (Cookie Cats, simulated telemetry), and `ask` latency on
1e5 messages."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pilang_engine.data.datasets import DatasetMissing, dataset
from pilang_engine.data.simulate import patch_history
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.personas import answers
from pilang_engine.personas import clusters as personas
from pilang_engine.predictions import churn
from pilang_engine.predictions import reactions as predict
from pilang_engine.workspace.store import Workspace
from scipy.stats import spearmanr
from sklearn.metrics import adjusted_rand_score

from . import common
from .common import simulated


def ari(ws: Workspace, truth: dict[str, Any]) -> tuple[float, int, int]:
    """ARI of the found personas against the simulator's, over every author the truth knows."""
    label = {}
    for pl in truth["players"]:
        for platform, raw in (("discord", pl["discord"]), ("steam", pl["steam"]), ("tickets", pl["account"])):
            label[ws.pseudonym(platform, raw)] = pl["persona"]
    found = dict(ws.db.execute("SELECT author, persona FROM persona_members").fetchall())
    common = [a for a in found if a in label]
    return adjusted_rand_score([label[a] for a in common], [found[a] for a in common]), len(common), len(set(found.values()))


def recovery(tmp: Path, quick: bool) -> None:
    for seed, players in ((7, 120),) if quick else ((7, 120), (11, 300), (23, 600)):
        ws, truth = simulated(tmp, f"sim{seed}", seed=seed, players=players)
        t0 = time.perf_counter()
        found = personas.fit(ws)
        score, n, k = ari(ws, truth)
        print(f"persona recovery, simulator seed {seed} ({players} players, {n} authors): ARI {score:.3f},"
              f" k={k} (true 4), fit {time.perf_counter() - t0:.1f} s; names: {', '.join(p['name'] for p in found)}")


def change_impact(tmp: Path, quick: bool) -> None:
    """The time-ordered backtest on a long simulated history with repeated kinds of change: the
    community, and the personas as known before each change, scored apart."""
    n, days = (8, 90) if quick else (24, 240)
    patches = patch_history(n, days, seed=1)
    ws, _ = simulated(tmp, "history", seed=3, players=200, days=days, patches=patches)
    personas.fit(ws)
    hist = predict.history(ws)
    print(f"change impact, simulated history ({n} patches over {days} days, 200 players, 4 personas), each change"
          " predicted only from earlier ones, windows cut at the neighbouring changes:")
    sides = {"community": {"community": hist.shifts["community"]}, "personas (as known before each change)":
             hist.backtest_groups}
    for side, groups in sides.items():
        for metric in predict.METRICS:
            parts = [bt for bt in (predict.backtest(hist, g.get(metric), metric) for g in groups.values())
                     if bt.get("n", 0) >= 2]
            if not parts:
                print(f"    {side}: {metric}: too few measured changes")
                continue
            p, b, m = (np.concatenate([bt[k] for bt in parts]) for k in ("predicted", "baseline", "measured"))
            rho = spearmanr(p, m).statistic if np.std(p) > 0 and np.std(m) > 0 else float("nan")
            verdict = "beats" if np.abs(p - m).mean() < np.abs(b - m).mean() else "does not beat"
            print(f"    {side:38s} {metric:12s} n={len(m):3d}  MAE {np.abs(p - m).mean():.3f} vs no-change"
                  f" {np.abs(b - m).mean():.3f} (ratio {np.abs(p - m).mean() / np.abs(b - m).mean():.2f}, {verdict}),"
                  f" Spearman {rho:+.3f}")


def warframe(tmp: Path) -> None:
    t0 = time.perf_counter()
    ws = common.warframe(tmp)
    if ws is None:
        return
    found = personas.stored(ws)
    print(f"warframe reviewers: {len(found)} personas (ingest and fit {time.perf_counter() - t0:.1f} s):"
          f" {', '.join(p['name'] + ' (' + str(p['size']) + ')' for p in found)}")
    hist = predict.history(ws)
    measured = [i for i, v in enumerate(hist.shifts["community"]["satisfaction"]) if not np.isnan(v)]
    print(f"    {len(hist.changes)} patch notes; {len(measured)} fall inside the reviews' dates with both windows"
          f" (the time-ordered backtest needs 3):")
    for i in measured:
        shifts = {m: round(float(hist.shifts["community"][m][i]), 3) for m in predict.METRICS}
        print(f"      {hist.changes[i]['title']}: community {shifts}")
    run_churn(ws=None)


def run_churn(ws: Workspace | None) -> None:
    if ws is not None:
        out = churn.churn(ws)
        held = out["held_out"]
        print(f"churn from simulated telemetry ({out['evidence']['windows']} windows): BehaviorLSTM ROC-AUC"
              f" {held['model']['roc_auc']:.3f} PR-AUC {held['model']['pr_auc']:.3f} vs logistic on summary features"
              f" {held['baseline_logistic_regression']['roc_auc']:.3f} / {held['baseline_logistic_regression']['pr_auc']:.3f}")
        return
    try:
        path = dataset("cookie-cats-ab-retention") / "cookie_cats.csv"
    except DatasetMissing as exc:
        print(f"cookie cats: skipped: {exc}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        cc = Workspace(Path(tmp) / "cc")
        ingest(cc, [path], progress=False)
        t0 = time.perf_counter()
        out = churn.churn(cc)
        held, gate = out["held_out"], out["evidence"]["ab_effects"]["version"]
        print(f"churn on Cookie Cats (not retained at day 7, {held['split']} held out, {time.perf_counter() - t0:.1f} s):"
              f" gradient boosting ROC-AUC {held['model']['roc_auc']:.4f} {held['model']['roc_auc_interval']}"
              f" PR-AUC {held['model']['pr_auc']:.4f} vs logistic regression {held['baseline_logistic_regression']['roc_auc']:.4f}"
              f" / {held['baseline_logistic_regression']['pr_auc']:.4f}")
        print(f"    gate 30 vs 40: day-7 retention {gate['effect']:+.4f} {gate['interval']} (p={gate['p_value']});"
              f" importance {[(i['feature'], i['auc_drop']) for i in out['evidence']['importance']]}")


def ask_latency(tmp: Path, quick: bool) -> None:
    """Warm `ask` on a community of about 1e5 messages (4,000 simulated players), without the LM."""
    players = 400 if quick else 4000
    ws, _ = simulated(tmp, "large", seed=5, players=players)
    personas.fit(ws)
    names = [p["name"] for p in personas.stored(ws)]
    questions = ["How would they react to increased difficulty?", "What do they think of the drop rates?",
                 "Are they happy with the new skins?", "What annoys them about matchmaking?",
                 "Do they get stuck in the tutorial?"]
    for name in names:
        answers.ask(ws, name, questions[0])  # warm-up: models, index, member ids, change history
    times = []
    for _ in range(4):
        for name in names:
            for q in questions:
                t0 = time.perf_counter()
                answers.ask(ws, name, q)
                times.append(time.perf_counter() - t0)
    times.sort()
    print(f"ask on {ws.count('messages'):,} messages ({len(names)} personas, warm, no LM): p50"
          f" {statistics.median(times) * 1000:.1f} ms, p95 {times[int(len(times) * 0.95) - 1] * 1000:.1f} ms"
          f" over {len(times)} questions (target <= 200 ms)")


def run(quick: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        recovery(base, quick)
        change_impact(base, quick)
        run_churn(Workspace(base / "history-ws"))
        if not quick:
            warframe(base)
        ask_latency(base, quick)
