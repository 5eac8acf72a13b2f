"""The spectral layer: GNN vs the same features without the graph (CONDA toxicity, simulated
disengagement), FNO vs statsmodels forecast MAE on held-out tails (Warframe reviews, simulator), NTK
time on a 64-sample probe, and training time on this machine's device (CUDA when present)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pilang_engine.data.datasets import DatasetMissing, dataset
from pilang_engine.data.simulate import patch_history
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.personas import clusters as personas
from pilang_engine.spectral import device, fno, gnn
from pilang_engine.workspace.store import Workspace

from . import common


def simulated(tmp: Path, name: str, **options: Any) -> Workspace:
    ws = common.simulated(tmp, name, **options)[0]
    personas.fit(ws)
    return ws


def report_gnn(label: str, ws: Workspace, task: str) -> None:
    t0 = time.perf_counter()
    rec = gnn.train(ws, task)
    s = rec["scores"]
    print(f"GNN {label} ({task}: {s['players']:,} players, {s['positives']:,} positive, {s['edges']:,} edges):"
          f" ChebConv K={s['gnn']['k']} ROC-AUC {s['gnn']['roc_auc']:.3f} PR-AUC {s['gnn']['pr_auc']:.3f} vs no graph"
          f" {s['non_graph_mlp']['roc_auc']:.3f} / {s['non_graph_mlp']['pr_auc']:.3f}"
          f" [train {time.perf_counter() - t0:.1f} s on {s['device']}; NTK {rec['ntk']['seconds_per_record'] * 1000:.0f} ms"
          f" per {rec['ntk']['probe']}-node probe; {rec['ntk']['verdict']}]")


def report_fno(label: str, ws: Workspace) -> None:
    t0 = time.perf_counter()
    rec = fno.train(ws)
    s = rec["scores"]
    parts = "; ".join(f"{t} MAE {c['fno_mae']} vs ETS {c['ets_mae']}, seasonal naive {c['seasonal_naive_mae']},"
                      f" no change {c['no_change_mae']}"
                      f" ({'FNO' if s['wins'][t] else 'statsmodels'} wins)" for t, c in s["community"].items())
    overall = "; ".join(f"{t} {c['fno_mae']:.3f} vs ETS {c['ets_mae']:.3f} / seasonal naive {c['seasonal_naive_mae']:.3f}"
                        for t, c in s["all_series_in_std_units"].items())
    print(f"FNO {label} (community, last {fno.HORIZON} days held out): {parts}")
    print(f"    all {s['series']} series, MAE in standard deviations: {overall}"
          f" [{s['windows']} windows, {s['epochs']} epochs, train {time.perf_counter() - t0:.1f} s on {s['device']};"
          f" NTK {rec['ntk']['seconds_per_record'] * 1000:.0f} ms per {rec['ntk']['probe']}-window probe]")


def run(quick: bool = False) -> None:
    print(f"device: {device()}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        demo = simulated(base, "demo")
        report_gnn("on the demo simulator", demo, "disengagement")
        report_fno("on the demo simulator (60 days)", demo)
        if quick:
            return
        history = simulated(base, "history", seed=3, players=400, days=240, patches=patch_history(24, 240, seed=1))
        report_gnn("on a 240-day simulated history", history, "disengagement")
        report_fno("on a 240-day simulated history", history)
        try:
            conda = [dataset("dota2-ingame-chat-conda") / f"CONDA_{part}.csv" for part in ("train", "valid")]
        except DatasetMissing as exc:
            print(f"conda: skipped: {exc}")
        else:
            ws = Workspace(base / "conda")
            ingest(ws, conda, progress=False)
            report_gnn("on CONDA (Dota 2 chat, match and conversation graph)", ws, "toxicity")
        wf = common.warframe(base)
        if wf is not None:
            report_fno("on Warframe Steam reviews (28 days)", wf)
