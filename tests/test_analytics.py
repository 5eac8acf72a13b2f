"""Analytics: Hodge decomposition invariants, and the analytics on the demo community."""
from __future__ import annotations

import re

from typing import Any

import networkx as nx
import numpy as np
import pytest
from pilang_engine.analytics import anomalies, forecasting, reports
from pilang_engine.analytics.hodge import build_complex, decompose, hodge
from pilang_engine.analytics.series import Scope
from pilang_engine.data.simulate import community_days
from pilang_engine.workspace.store import Workspace, WorkspaceError


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


def _demo_truth() -> dict[str, bool]:
    """Each demo text -> whether the simulator wrote it as praise (a template is praise or complaint, so the
    text decides; reviews carry their verdict)."""
    import json
    from pathlib import Path

    from pilang_engine.data.simulate import simulate
    truth = json.loads((Path(__file__).parent.parent / "examples" / "demo_truth.json").read_text())
    sim = simulate(seed=truth["seed"], players=len(truth["players"]), days=truth["days"])
    out = {m["text"]: m["positive"] for m in sim["messages"]}
    out.update({r[2]: r[3] for r in sim["reviews"]})
    return out


def _demo_readings(ws: Workspace) -> tuple[np.ndarray, np.ndarray]:
    from pilang_engine.analytics.sentiment import model_for
    truth = _demo_truth()
    rows = [(i, truth[t]) for i, t in ws.db.execute("SELECT id, text FROM messages") if t in truth]
    P = model_for(ws).proba([i for i, _ in rows])
    return np.array([y for _, y in rows]), P


def test_sentiment_separates_praise_from_complaints(demo_ws: Workspace) -> None:
    """Scored against what the simulator wrote (praise or complaint), message by message."""
    from sklearn.metrics import balanced_accuracy_score
    y, P = _demo_readings(demo_ws)
    assert len(y) > 0.8 * demo_ws.count("messages")  # replies (an @mention added) and tickets (subject + body) aside
    assert balanced_accuracy_score(y, P[:, 2] >= P[:, 0]) >= 0.80
    out = reports.sentiment(demo_ws, {"aggregation": "distribution"})
    assert out["evidence"]["positive"] > 0 and out["evidence"]["negative"] > 0
    assert sum(out["evidence"]["distribution"].values()) == out["evidence"]["messages"]
    assert all(q["sentiment"] < 0 for q in out["evidence"]["quotes"])
    assert "packaged game-text model" in out["model"]


@pytest.mark.xfail(strict=True, reason="known fault of the packaged model: it reads some of the simulator's praise"
                                       " as negative ('X feels competitive and balanced', 'the tutorial fix helped a"
                                       " lot'), so the demo counts more negative than positive messages where the"
                                       " simulator wrote 59% praise; strict, so a fix shows")
def test_the_demo_reads_as_mostly_praise_as_written(demo_ws: Workspace) -> None:
    y, P = _demo_readings(demo_ws)
    assert y.mean() > 0.5
    assert (P.argmax(axis=1) == 2).sum() > (P.argmax(axis=1) == 0).sum()


def test_a_surge_written_into_the_demo_is_the_day_flagged(demo_copy: Any) -> None:
    ws = Workspace(demo_copy("analytics-surge"))
    first = ws.db.execute("SELECT min(time) FROM messages").fetchone()[0]
    start = first - first % 86400
    day = start + 30 * 86400  # a quiet mid-history day: 400 more messages than the community writes in a day
    with ws.transaction():
        ws.db.execute("INSERT INTO messages(source, external_id, author, time, thread, text, content_hash, meta)"
                      " SELECT source, 'surge-' || id, author, ? + (id % 80000), thread, text, content_hash, meta"
                      " FROM messages WHERE source = 'discord' ORDER BY id LIMIT 400", [day])
    out = reports.anomalies(ws, {})
    flagged = {a["day"]: a for a in out["evidence"]["anomalies"]}
    surge = str(np.datetime64(int(day), "s").astype("datetime64[D]"))
    assert surge in flagged and flagged[surge]["driver"] == "volume" and flagged[surge]["direction"] == "high"
    assert out["evidence"]["false_alarm_rate"] == 0.05 and "5% false-alarm rate" in out["answer"]
    # the demo's other days hold only its patches' gradual reactions: at most one more day passes the threshold
    assert len(flagged) <= 2 and all(a["messages"] for a in flagged.values())


def test_the_forecast_interval_covers_the_demos_held_back_days(demo_ws: Workspace) -> None:
    days, feats, *_ = reports.daily_features(demo_ws, Scope())
    cut = days[-14]  # forecast the last 14 days from the days before them, then look at what happened
    fc = reports.forecast(demo_ws, {"metric": "volume", "horizon": 14, "confidence": 0.9, "until": cut})
    rows = fc["evidence"]["forecast"]
    assert [r["day"] for r in rows] == days[-14:]
    truth = feats[-14:, 0]
    inside = np.mean([r["low"] <= t <= r["high"] for r, t in zip(rows, truth)])
    assert inside >= 0.75, (inside, rows, truth)  # a 90% interval: most of the held-back days
    held = fc["held_out"]
    assert set(held["mae"]) == {"ets", "seasonal_naive", "no_change"} and all(v >= 0 for v in held["mae"].values())
    # chosen on the first origins, its error from the later ones: the answer's figure is not a minimum
    assert held["nested"] and "14 days each" in held["metric"] and "scored on the last" in held["metric"]
    assert held["ets_interval_coverage"] is None or 0 <= held["ets_interval_coverage"] <= 1
    # the same backtest as rows a person reads, the answering model first, with every candidate's error
    answering = [r for r in held["backtest"] if r["answers"]]
    assert held["backtest"][0] == answering[0] and len(answering) == 1 and len(held["backtest"]) == 3
    assert sorted(r["mean_error"] for r in held["backtest"]) == sorted(held["mae"].values())
    # volume in whole messages: "46 messages a day", never 46.33; where ETS's own interval under-covered, the
    # answer says so beside the headline
    assert re.match(r"\d[\d,]* messages a day expected tomorrow", fc["answer"]), fc["answer"]
    under = held["chosen"] == "ets" and held["ets_interval_coverage"] is not None and \
        held["ets_interval_coverage"] < 0.9 - forecasting.COVERAGE_SLACK
    assert under == any("held only" in n for n in fc["evidence"].get("notes", []))


def test_a_flat_series_flags_nothing() -> None:
    days = 90
    flags, _ = anomalies.detect(np.full(days, 50.0), np.full(days, 0.1), np.full(days, 0.05))
    assert flags == []


def test_series_with_no_event_flag_at_the_stated_rate_and_events_are_found() -> None:
    rng = np.random.default_rng(0)
    null = [{f["series"] for f in anomalies.detect(*community_days(rng))[0]} for _ in range(300)]
    for series in ("volume", "sentiment"):
        assert np.mean([series in found for found in null]) <= anomalies.FALSE_ALARM  # any flagged day, per series
    # the price of thresholds that respect each series' own tails (test below): fewer 4-SD events are found
    for series, least in (("volume", 0.5), ("sentiment", 0.4)):
        hits = []
        for _ in range(100):
            day = int(rng.integers(5, 85))
            flags, _ = anomalies.detect(*community_days(rng, event=(day, series, 4.0)))
            hits.append(any(abs(f["index"] - day) <= 1 and f["series"] == series for f in flags))
        assert np.mean(hits) >= least, series


@pytest.mark.parametrize(("df", "dispersion", "series", "most"), [
    (10, None, "sentiment", 0.08), (5, None, "sentiment", 0.13), (3, None, "sentiment", 0.15),
    (None, 5.0, "volume", 0.08), (None, 2.0, "volume", 0.10)])
def test_heavy_tailed_and_overdispersed_null_series_keep_near_the_stated_rate(df: int | None, dispersion: float | None,
                                                                             series: str, most: float) -> None:
    # with the simulator's tails built into the threshold these flagged 15% (t10), 44% (t5), 71% (t3); the tail fit
    # on the series' own z-scores holds t10 and negative binomial counts to about the stated 5%, and heavier tails to
    # about 10% (90 days cannot pin a tail down: measured in `pilang bench --only analytics`)
    rng = np.random.default_rng(3)
    flagged = [bool(anomalies.detect(*community_days(rng, tails=df, dispersion=dispersion), series=(series,))[0])
               for _ in range(200)]
    assert np.mean(flagged) <= most


def test_days_without_messages_are_missing_not_neutral(demo_copy: Any) -> None:
    demo_ws = Workspace(demo_copy("analytics-gaps"))  # its own copy: messages are deleted
    first = demo_ws.db.execute("SELECT min(time) FROM messages").fetchone()[0]
    start = first - first % 86400
    quiet = (start + 10 * 86400, start + 12 * 86400)  # two days with no messages at all
    with demo_ws.transaction():
        demo_ws.db.execute("DELETE FROM messages WHERE time >= ? AND time < ?", quiet)
    days, feats, *_ = reports.daily_features(demo_ws, Scope())
    assert feats[10, 0] == feats[11, 0] == 0 and np.isnan(feats[10:12, 1]).all() and np.isnan(feats[10:12, 2]).all()
    out = reports.anomalies(demo_ws, {})
    assert not {days[10], days[11]} & {a["day"] for a in out["evidence"]["anomalies"] if a["driver"] != "volume"}
    fc = reports.forecast(demo_ws, {"metric": "sentiment", "horizon": 3})
    assert fc["evidence"]["days_without_messages"] == 2 and all(np.isfinite(r["mean"]) for r in fc["evidence"]["forecast"])


def test_an_unknown_forecast_metric_is_an_error_naming_the_valid_ones(demo_ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="no forecast metric 'toxicity'; the metrics are: volume, sentiment"):
        reports.forecast(demo_ws, {"metric": "toxicity"})


def test_the_rolling_origin_backtest_fits_each_model_only_on_days_before_its_origin() -> None:
    y = np.concatenate([np.full(60, 10.0), np.full(7, 1000.0)])  # the future jumps: nothing before says so
    seen = []
    def spy(history: np.ndarray, steps: int) -> np.ndarray:
        seen.append(len(history))
        assert history.max() <= 10.0 or len(history) > 60  # a model never sees the days it is scored on
        return forecasting.no_change(history, steps)
    bt = forecasting.backtest(y, {"spy": spy})
    assert bt["origins"] == 8 and seen == forecasting.origins(len(y)) and bt["mae"]["spy"] > 0
    assert forecasting.seasonal_naive(np.arange(14.0), 3).tolist() == [7.0, 8.0, 9.0]
    assert forecasting.best({"ets": 1.0, "seasonal_naive": 1.0, "no_change": 2.0}) == "seasonal_naive"


def test_the_winners_backtest_error_is_not_the_minimum_of_several_on_the_same_days() -> None:
    # three forecasters of pure noise, alike in skill: the least error on one backtest flatters its owner
    rng = np.random.default_rng(0)
    flattered, honest, single = [], [], []
    for _ in range(60):
        y = rng.normal(0, 1, 80)
        noise = {name: (lambda h, steps, r=np.random.default_rng(int(rng.integers(1 << 30))): r.normal(0, 1, steps))
                 for name in ("no_change", "seasonal_naive", "ets")}
        bt = forecasting.backtest(y, noise)
        flattered.append(min(bt["mae"].values()))
        honest.append(forecasting.choose(bt)["mae"][forecasting.choose(bt)["chosen"]])
        single.append(bt["mae"]["ets"])
    assert np.mean(flattered) < np.mean(single) - 0.03  # the old figure: optimistic
    assert abs(np.mean(honest) - np.mean(single)) < 0.03  # the nested figure: what a pick would really score


def test_a_forecast_whose_ets_fit_fails_is_not_called_ets(demo_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(y: np.ndarray, steps: int, confidence: float | None = None) -> Any:
        raise forecasting.FitFailed("ETS could not be fitted: singular")
    monkeypatch.setattr(forecasting, "ets", broken)
    monkeypatch.setitem(forecasting.CANDIDATES, "ets", lambda y, h: broken(y, h))
    fc = reports.forecast(demo_ws, {"metric": "volume", "horizon": 7})
    held = fc["held_out"]
    assert held["mae"].get("ets") is None and held["failed_fits"]["ets"] >= 1
    assert not fc["model"].startswith("statsmodels ETS") and held["chosen"] != "ets"
    assert all(r["high"] > r["low"] for r in fc["evidence"]["forecast"])  # a baseline's interval, not zero-width


def test_the_forecast_interval_comes_from_a_backtest_of_the_horizon_asked_for(demo_ws: Workspace) -> None:
    fc = reports.forecast(demo_ws, {"metric": "volume", "horizon": 14})
    assert "14 days each" in fc["held_out"]["metric"] and len(fc["evidence"]["forecast"]) == 14


def test_hodge_on_the_demo_reply_graph(demo_ws: Workspace) -> None:
    out = hodge(demo_ws, {})
    share = out["evidence"]["energy_share"]
    assert abs(sum(share.values()) - 1) < 1e-3 and out["evidence"]["triangles"] > 0


def test_patterns_match_earlier_stretches_of_the_series(demo_ws: Workspace) -> None:
    from pilang_engine.analytics.patterns import patterns
    out = patterns(demo_ws, {"metric": "volume", "window": 7, "k": 3})
    matches = out["evidence"]["matches"]
    assert 1 <= len(matches) <= 3 and all(m["from"] <= m["to"] < out["evidence"]["latest"][:10] for m in matches)
    assert [m["distance"] for m in matches] == sorted(m["distance"] for m in matches)
