"""A Fourier neural operator over the (time x channel) grid of daily series: mean sentiment, volume
and the leading principal components of the day's mean message embedding, for the community and each
source. It maps the last W days to the next H days of sentiment and volume. It is
trained only on days before a rolling-origin backtest (the same origins the analytics use), scored at
each origin beside ETS, the weekly seasonal-naive forecast and no change (each refitted on the days
before the origin), and takes over forecast queries only for a metric where it beats all three. A day
without messages has no sentiment: it enters the input as the last known level and is never a target."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analytics.sentiment import message_vectors, model_for
from ..analytics.series import DAY, day_of
from ..evaluation.verdict import loss_difference
from ..workspace.derived import derived
from ..workspace.progress import step
from ..workspace.store import Workspace, WorkspaceError
from . import device, record, save, stale, weights
from .ntk import Tracker, empirical_ntk

HORIZON = 7  # days the operator predicts at once (longer forecasts roll it forward)
MAX_WINDOW = 14
EMBED_PCS = 8
WIDTH, MODES, LAYERS = 16, 4, 2  # small: a few hundred windows train it (wider overfits, see benchmarks)
EPOCHS, PATIENCE = 400, 30
PROBE = 64
NTK_EVERY = 20
TARGETS = ("sentiment", "volume")  # the first two channels, what forecasts are of


@dataclass
class Series:
    """One group's daily grid: days, raw channels (T, C), which days the two targets were observed
    on (T, 2), and its normalisation (from the days before the backtest)."""
    name: str
    days: list[str]
    values: np.ndarray
    observed: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def z(self) -> np.ndarray:
        return (self.values - self.mean) / self.std


def grids(ws: Workspace) -> list[Series]:
    """Daily grids for the community and each source (groups with >= 3 weeks of data). Every input
    transform (embedding PCA, normalisation, gap fill) fitted on the days before the backtest's first
    origin. Cached until the next ingest."""
    return derived(ws, "fno-grids", lambda: _grids(ws))


def _grids(ws: Workspace) -> list[Series]:
    """The grids, computed (see `grids`)."""
    from sklearn.decomposition import PCA
    rows = ws.db.execute("SELECT id, time, source FROM messages WHERE time IS NOT NULL ORDER BY time").fetchall()
    if not rows:
        raise WorkspaceError("forecasting needs dated messages")
    vecs = message_vectors(ws, [r[0] for r in rows])
    sent = model_for(ws).scores([r[0] for r in rows])
    sent = np.where(np.isnan(sent), 0.0, sent)  # a message with no score enters the grid as neutral
    times = np.array([r[1] for r in rows])
    start = np.floor(times.min() / DAY)
    day = (np.floor(times / DAY) - start).astype(int)
    n_days = int(day.max()) + 1
    first_origin = backtest_origins(n_days)[0]
    # every input transform is fitted on the days before the backtest: the PCA of the embeddings here, the
    # normalisation and the gap fill below (personas, fitted on the whole history, are not a channel)
    before = vecs[day < first_origin] if (day < first_origin).sum() > EMBED_PCS else vecs[:EMBED_PCS + 1]
    pcs = PCA(min(EMBED_PCS, vecs.shape[1]), random_state=0).fit(before[:: max(1, len(before) // 20000)]).transform(vecs)
    days = [day_of((start + i) * DAY) for i in range(n_days)]
    groups = {"community": np.ones(len(rows), bool)}
    for src in sorted({r[2] for r in rows}):
        groups[f"source:{src}"] = np.array([r[2] == src for r in rows])
    out = []
    for name, mask in groups.items():
        d = day[mask]
        if len(np.unique(d)) < 21:
            continue
        counts = np.bincount(d, minlength=n_days).astype(float)
        grid = np.zeros((n_days, 2 + pcs.shape[1]))
        grid[:, 1] = counts
        for c, col in ((0, sent[mask]), *((2 + j, pcs[mask, j]) for j in range(pcs.shape[1]))):
            sums = np.bincount(d, weights=col, minlength=n_days)
            grid[:, c] = np.divide(sums, counts, out=np.full(n_days, np.nan), where=counts > 0)
        observed = np.column_stack([counts > 0, np.ones(n_days, bool)])  # sentiment exists only with messages
        for c in [0, *range(2, grid.shape[1])]:  # as input, a day without messages keeps the last known level
            col = grid[:, c]
            known = col[:first_origin][~np.isnan(col[:first_origin])]
            first = float(known.mean()) if len(known) else 0.0  # leading gaps: the mean before the backtest
            for t in range(n_days):
                if np.isnan(col[t]):
                    col[t] = col[t - 1] if t else first
        fit_part = grid[:first_origin]
        out.append(Series(name, days, grid, observed, fit_part.mean(axis=0), fit_part.std(axis=0) + 1e-6))
    if not out:
        raise WorkspaceError("forecasting needs at least 21 days with messages")
    return out


def backtest_origins(n_days: int) -> list[int]:
    """The rolling-origin backtest's origins: the analytics' own, leaving room to train before them."""
    from ..analytics.forecasting import ORIGINS, origins
    return origins(n_days, HORIZON, ORIGINS, min_train=3 * HORIZON) or [n_days - HORIZON]


def window_for(series: list[Series]) -> int:
    """Input days: up to MAX_WINDOW, fewer for short histories so several windows fit before the backtest."""
    first = backtest_origins(len(series[0].days))[0]
    return int(max(5, min(MAX_WINDOW, (first - HORIZON) // 2)))


def windows(series: list[Series], w: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (N, C, w), targets (N, 2, HORIZON); NaN where a target day had no messages) from every
    series, every target day before the backtest's first origin."""
    xs, ys = [], []
    for s in series:
        z = s.z()
        target = np.where(s.observed, z[:, :2], np.nan)
        first = backtest_origins(len(s.days))[0]
        for t in range(w, first - HORIZON + 1):
            xs.append(z[t - w:t].T)
            ys.append(target[t:t + HORIZON].T)
    return np.array(xs, np.float32), np.array(ys, np.float32)


def masked_mse(pred: Any, target: Any) -> Any:
    """Mean squared error over the target days that were observed."""
    import torch
    seen = ~torch.isnan(target)
    return torch.nn.functional.mse_loss(pred[seen], target[seen])


def operator(channels: int, w: int) -> Any:
    """The FNO: lift, spectral convolutions (torch.fft) with pointwise skips, project, map W -> H days."""
    import torch

    class SpectralConv1d(torch.nn.Module):
        """Multiply the lowest Fourier modes by learned complex weights; drop the rest."""

        def __init__(self, width: int, modes: int) -> None:
            super().__init__()
            self.modes = modes
            scale = 1 / (width * width)
            self.weight = torch.nn.Parameter(scale * torch.randn(width, width, modes, 2))

        def forward(self, x: Any) -> Any:
            spectrum = torch.fft.rfft(x)
            w = torch.view_as_complex(self.weight)
            out = torch.zeros_like(spectrum)
            out[..., :self.modes] = torch.einsum("bix,iox->box", spectrum[..., :self.modes], w)
            return torch.fft.irfft(out, n=x.shape[-1])

    class FNO1d(torch.nn.Module):
        """Fourier neural operator over time; channels in, sentiment and volume for HORIZON days out,
        as a learned correction to their recent level."""

        def __init__(self) -> None:
            super().__init__()
            modes = min(MODES, w // 2 + 1)
            self.lift = torch.nn.Conv1d(channels + 1, WIDTH, 1)
            self.spectral = torch.nn.ModuleList(SpectralConv1d(WIDTH, modes) for _ in range(LAYERS))
            self.pointwise = torch.nn.ModuleList(torch.nn.Conv1d(WIDTH, WIDTH, 1) for _ in range(LAYERS))
            self.project = torch.nn.Conv1d(WIDTH, 2, 1)
            self.ahead = torch.nn.Linear(w, HORIZON)
            self.register_buffer("grid", torch.linspace(0, 1, w).reshape(1, 1, w))

        def forward(self, x: Any) -> Any:
            h = self.lift(torch.cat([x, self.grid.expand(x.shape[0], 1, -1)], dim=1))
            for spectral, pointwise in zip(self.spectral, self.pointwise):
                h = torch.nn.functional.gelu(spectral(h) + pointwise(h))
            # a correction to the recent level (mean of the last 3 days): persistence is the prior
            return x[:, :2, -3:].mean(dim=-1, keepdim=True) + self.ahead(self.project(h))
    return FNO1d()


def backtest(model: Any, series: list[Series], w: int) -> dict[str, Any]:
    """At each origin of the rolling backtest, every series' next HORIZON days predicted by the FNO (from
    the w days before; trained before the first origin) and by ETS, the weekly seasonal-naive forecast and
    no change (each refitted on the days before the origin): MAE over the observed target days, for the
    community and over all series."""
    import torch

    from ..analytics import forecasting
    per_series, res = {}, []
    model.eval()
    dev = next(model.parameters()).device
    for s in series:
        at = backtest_origins(len(s.days))
        z = s.z()
        x = torch.from_numpy(np.stack([z[o - w:o].T for o in at]).astype(np.float32)).to(dev)
        with torch.no_grad():
            pred_z = model(x).cpu().numpy().transpose(0, 2, 1)  # (origins, HORIZON, 2)
        scores = {}
        for c, t in enumerate(TARGETS):
            y = np.where(s.observed[:, c], s.values[:, c], np.nan)
            fno = {o: pred_z[i, :, c] * s.std[c] + s.mean[c] for i, o in enumerate(at)}  # by origin
            bt = forecasting.backtest(y, {"fno": lambda history, steps: fno[len(history)][:steps], **forecasting.CANDIDATES},
                            horizon=HORIZON, at=at)
            mae = bt["mae"]
            scores[t] = {"fno_mae": mae["fno"], "ets_mae": mae["ets"], "seasonal_naive_mae": mae["seasonal_naive"],
                         "no_change_mae": mae["no_change"], "origins": bt["origins"]}
            rivals = [k for k in ("ets", "seasonal_naive", "no_change") if mae[k] is not None]
            best = min(rivals, key=mae.get)
            scores[t]["best_baseline"] = best
            scores[t]["versus_best_baseline"] = loss_difference(bt["per_origin"]["fno"], bt["per_origin"][best])
        per_series[s.name] = scores
        days = np.add.outer(at, np.arange(HORIZON))  # held-out errors in z units, for the forecast's interval
        res.append(np.where(s.observed[days], np.abs(pred_z - z[days, :2]), np.nan))
    keys = ("fno_mae", "ets_mae", "seasonal_naive_mae", "no_change_mae")
    overall = {t: {k: round(float(np.mean([v[t][k] / series[i].std[c] for i, v in enumerate(per_series.values())])), 4)
                   for k in keys} for c, t in enumerate(TARGETS)}
    return {"community": per_series.get("community"), "all_series_in_std_units": overall, "series": per_series,
            "residuals_z": np.concatenate(res).tolist()}


def beats_baselines(scores: dict[str, Any]) -> bool:
    """Whether the FNO's backtest error is below the best of ETS, the seasonal-naive forecast and no change
    by a paired bootstrap over the origins (a tie keeps the baseline)."""
    return scores["versus_best_baseline"]["verdict"] == "ahead"


@step("training the forecasting operator (and backtesting its baselines)")
def train(ws: Workspace, seed: int = 0) -> dict[str, Any]:
    """Fit the operator on every series' windows before the backtest, track its NTK, backtest it against
    ETS, seasonal naive and no change, save it, and route forecast queries to it where it beat them all."""
    import copy

    import torch
    series = grids(ws)
    w = window_for(series)
    X, Y = windows(series, w)
    if len(X) < 8:
        raise WorkspaceError(f"only {len(X)} training windows; the FNO needs a longer history")
    torch.manual_seed(seed)
    dev = device()
    model = operator(X.shape[1], w).to(dev)
    order = np.random.default_rng(seed).permutation(len(X))
    val, fit_rows = order[:max(2, len(X) // 5)], order[max(2, len(X) // 5):]
    x, y = torch.from_numpy(X[fit_rows]).to(dev), torch.from_numpy(Y[fit_rows]).to(dev)
    x_val, y_val = torch.from_numpy(X[val]).to(dev), torch.from_numpy(Y[val]).to(dev)
    probe = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:PROBE].to(dev)]
    tracker = Tracker(lambda: empirical_ntk(model, (probe,), per_sample=True), every=NTK_EVERY)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    best, best_state, best_epoch = float("inf"), None, 0
    for epoch in range(EPOCHS):  # early stopping on validation windows
        model.train()
        opt.zero_grad()
        loss = masked_mse(model(x), y)
        loss.backward()
        opt.step()
        tracker.record(epoch, float(loss.detach()))
        model.eval()
        with torch.no_grad():
            val_loss = float(masked_mse(model(x_val), y_val))
        if val_loss < best:
            best, best_state, best_epoch = val_loss, copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= PATIENCE:
            break
    tracker.record(epoch, float(loss.detach()), force=True)
    model.load_state_dict(best_state)
    bt = backtest(model, series, w)
    community = bt["community"] or next(iter(bt["series"].values()))
    wins = {t: beats_baselines(community[t]) for t in TARGETS}
    scores = {"backtest": f"rolling origin: {community[TARGETS[0]]['origins']} origins, {HORIZON} days each, the FNO"
                          f" trained before the first (input: the {w} days before each origin); ETS, seasonal naive"
                          " and no change refitted at each origin",
              "community": community, "all_series_in_std_units": bt["all_series_in_std_units"], "wins": wins,
              "series": len(series), "windows": int(len(X)), "epochs": best_epoch + 1, "device": dev,
              "residuals_z": bt["residuals_z"]}
    ntk = {"records": tracker.records, "verdict": tracker.verdict(), "probe": int(len(probe)),
           "seconds_per_record": round(float(np.mean(tracker.seconds)), 4)}
    config = {"channels": int(X.shape[1]), "window": w, "horizon": HORIZON, "series": [s.name for s in series]}
    save(ws, "fno", "Fourier neural operator", {k: v.cpu() for k, v in model.state_dict().items()}, config, scores, ntk)
    reason = "; ".join(f"{t}: FNO MAE {community[t]['fno_mae']} vs ETS {community[t]['ets_mae']}, seasonal naive"
                       f" {community[t]['seasonal_naive_mae']}, no change {community[t]['no_change_mae']}" for t in TARGETS)
    ws.set_route("analytics", "forecast", "fno-forecast-handler" if any(wins.values()) else "analytics-handler",
                 f"rolling-origin backtest on the community ({reason}): "
                 + (f"the FNO forecasts {', '.join(t for t in TARGETS if wins[t])}" if any(wins.values())
                    else "statsmodels kept"))
    return record(ws, "fno")


def forecast(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """A forecast by the saved operator for the community or a
    source (`:source`), rolled forward HORIZON days at a time, with conformal intervals from its backtest."""
    import torch

    from ..analytics.reports import forecast as statsmodels_forecast
    rec = record(ws, "fno")
    if rec is None:
        raise WorkspaceError("the FNO is not trained yet in this workspace: (train 'fno) or `pilang train fno`")
    metric = params.get("metric") or "volume"
    if metric not in TARGETS:
        raise WorkspaceError(f"the FNO forecasts {' or '.join(TARGETS)}, not {metric}")
    if not rec["scores"]["wins"][metric]:  # where the FNO lost its backtest, the analytics' forecast answers
        out = statsmodels_forecast(ws, params)
        c = rec["scores"]["community"][metric]
        out.setdefault("evidence", {})["fno"] = (f"the FNO did not answer: for {metric} its backtest MAE {c['fno_mae']}"
                                                 f" did not beat ETS {c['ets_mae']}, seasonal naive"
                                                 f" {c['seasonal_naive_mae']} and no change {c['no_change_mae']}")
        return out
    horizon = int(params.get("horizon") or 14)
    confidence = float(params.get("confidence") or 0.95)
    name = f"source:{params['source']}" if params.get("source") else "community"
    series = {s.name: s for s in grids(ws)}
    if name not in series:
        raise WorkspaceError(f"the FNO has no series {name!r} (known: {', '.join(series)})")
    s = series[name]
    cfg = rec["config"]
    model = operator(cfg["channels"], cfg["window"]).to(device())
    model.load_state_dict(weights(ws, rec))
    model.eval()
    z = s.z()
    history, preds = z.copy(), []
    while len(preds) * HORIZON < horizon:
        x = torch.from_numpy(history[-cfg["window"]:].T[None].astype(np.float32)).to(device())
        with torch.no_grad():
            step = model(x)[0].cpu().numpy().T  # (HORIZON, 2)
        block = np.repeat(history[-1:], HORIZON, axis=0)  # the other channels hold their last value
        block[:, :2] = step
        history = np.vstack([history, block])
        preds.append(step)
    c = TARGETS.index(metric)
    mean = np.vstack(preds)[:horizon, c] * s.std[c] + s.mean[c]
    res = np.array(rec["scores"]["residuals_z"], dtype=float)[:, :, c].ravel()  # held-out errors, z units
    res = res[~np.isnan(res)]
    k = min(len(res), int(np.ceil((len(res) + 1) * confidence)))
    half = np.sort(res)[k - 1] * s.std[c]
    last = np.datetime64(s.days[-1])
    future = [str(last + np.timedelta64(i, "D")) for i in range(1, horizon + 1)]
    evidence: dict[str, Any] = {"series": name, "history_days": len(s.days),
                                "forecast": [{"day": d, "mean": round(float(m), 3), "low": round(float(m - half), 3),
                                              "high": round(float(m + half), 3)} for d, m in zip(future, mean)]}
    note = stale(ws, rec)
    if note:
        evidence["note"] = note
    return {"answer": f"{metric} over the next {horizon} days ({name}): {mean[0]:.2f} tomorrow to {mean[-1]:.2f} on"
                      f" {future[-1]} ({round(confidence * 100)}% interval +/- {half:.2f})",
            "evidence": evidence,
            "series": {"x": s.days + future, metric: s.values[:, c].tolist() + [float("nan")] * horizon,
                       "forecast": [float("nan")] * len(s.days) + mean.tolist()},
            "model": f"Fourier neural operator ({cfg['window']} days in, {HORIZON} out, {LAYERS} spectral layers)",
            "held_out": {"metric": f"MAE on each series' last {HORIZON} days", "community": rec["scores"]["community"]}}
