"""Change impact learned from history, churn (Cookie Cats and telemetry sequences), comparisons."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pilang_engine.data.simulate import patch_history, write_demo
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.personas import clusters as personas
from pilang_engine.predictions import churn, compare
from pilang_engine.predictions import reactions as predict
from pilang_engine.workspace.store import Workspace, WorkspaceError

TRUTH = json.loads((Path(__file__).parent.parent / "examples" / "demo_truth.json").read_text())


@pytest.fixture(scope="module")
def ws(demo_with_personas: Any) -> Workspace:
    return demo_with_personas("predict")


# The packaged sentiment model reads the simulator's praise of the onboarding hotfix ("the tutorial fix helped a
# lot", "login works after the hotfix") as negative, so that one strong effect shows with the wrong sign
MISREAD = {("Hotfix 1.2.1", "new-players")}


def _strong_effects(ws: Workspace) -> list[tuple[str, str, float, float]]:
    hist = predict.history(ws)
    assert [c["title"] for c in hist.changes] == [p["title"] for p in TRUTH["patches"]]
    return [(patch["title"], name, patch["effects"][name], hist.shifts[gid]["satisfaction"][i])
            for i, patch in enumerate(TRUTH["patches"]) for gid, name in hist.groups.items()
            if abs(patch["effects"].get(name) or 0) >= 0.5]


def test_measured_shifts_follow_the_simulators_known_effects(ws: Workspace) -> None:
    strong = _strong_effects(ws)
    assert len(strong) >= 6
    wrong = {(title, name) for title, name, effect, shift in strong if np.sign(shift) != np.sign(effect)}
    assert wrong <= MISREAD, wrong  # every other strong known effect shows with the right sign


@pytest.mark.xfail(strict=True, reason="known fault of the packaged sentiment model (MISREAD); strict, so a fix shows")
def test_the_onboarding_hotfix_reads_as_the_relief_it_was(ws: Workspace) -> None:
    assert all(np.sign(shift) == np.sign(effect) for title, name, effect, shift in _strong_effects(ws)
               if (title, name) in MISREAD)


def test_without_a_better_backtest_the_no_change_baseline_is_given(ws: Workspace) -> None:
    # the demo's five patches are each of a different kind: no past change predicts another
    out = predict.predict_reaction(ws, "nerf-weapon-damage", "competitive-players", confidence=0.8)
    nearest = out["evidence"]["similar_changes"][0]
    assert nearest["change"] == "Hotfix 1.0.4"
    (row,) = out["predictions"]
    assert row["group"] == "competitive-players"
    for key, how in out["evidence"]["predicted_from"].items():
        side, metric = key.split(":")
        score = out["held_out"][side][metric]
        assert (how == "similar changes") == (score["versus_no_change"]["verdict"] == "ahead")
    sat = row["satisfaction"]
    assert sat["from"] == "no-change baseline" and sat["mean"] == 0 and sat["low"] < 0 < sat["high"]
    measured = nearest["measured"]["competitive-players"]["satisfaction"]
    assert out["answer"].startswith('If "nerf weapon damage" ships, competitive-players: satisfaction no change expected')
    # why "no change", and what the closest past change did, is said beside the one-sentence headline
    assert measured < 0 and any(f"competitive-players satisfaction {measured:+.2f}" in n for n in out["evidence"]["notes"])


@pytest.fixture(scope="module")
def history_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A longer simulated history: 24 patches of five kinds over 240 days."""
    root = tmp_path_factory.mktemp("history")
    write_demo(root / "history", seed=3, players=200, days=240, patches=patch_history(24, 240, seed=1))
    ws = Workspace(root / "ws")
    ingest(ws, [root / "history"], progress=False)
    personas.fit(ws)
    return ws


def test_similar_past_changes_predict_the_reaction(history_ws: Workspace) -> None:
    out = predict.predict_reaction(history_ws, "Nerfed the damage of sniper rifles", "competitive-players")
    score = out["held_out"]["personas"]["satisfaction"]  # personas scored apart from the community
    assert score["spearman"] > 0.3 and score["n"] >= 60  # the ranking of reactions is learned
    assert out["held_out"]["community"]["satisfaction"]["n"] <= 23  # one group: each change after the first
    sat = out["predictions"][0]["satisfaction"]
    # 24 patches of five kinds: the ranking of reactions is learned (Spearman above), but the error gain over "no
    # change" (MAE 0.235 vs 0.242) is within chance by a paired bootstrap over the predicted changes, so the
    # no-change baseline answers. Strict: a better model turns this into "ahead" and this test must change with it
    assert score["versus_no_change"]["verdict"] == "tied", score
    assert sat["from"] == "no-change baseline" and sat["mean"] == 0 and sat["low"] < 0 < sat["high"]
    nearest = out["evidence"]["similar_changes"][0]
    assert nearest["similarity"] > 0.3 and nearest["measured"]["competitive-players"]["satisfaction"] < 0  # nerfs hurt
    cozy = predict.predict_reaction(history_ws, "New cosmetic skins and capes", "casual-players")
    assert cozy["evidence"]["similar_changes"][0]["measured"]["casual-players"]["satisfaction"] > 0  # cosmetics: +0.8


def test_wider_confidence_gives_wider_intervals(history_ws: Workspace) -> None:
    def width(c: float) -> float:
        v = predict.predict_reaction(history_ws, "Nerfed the damage of sniper rifles", "competitive-players",
                                     c)["predictions"][0]["satisfaction"]
        return v["high"] - v["low"]
    narrow, wide = width(0.5), width(0.95)
    assert np.isfinite(wide) and 0 < narrow < wide  # 24 patches give enough residuals for a bounded 95% interval


def test_conformal_intervals_come_from_crepes_and_are_unbounded_when_too_few() -> None:
    res = np.arange(-9.0, 10.0)  # 19 signed residuals
    low, high, ok = predict.conformal_interval(0.0, res, 0.9)
    assert ok and low == -high and 8.0 <= high <= 9.0
    assert predict.conformal_interval(0.0, np.array([0.1, -0.3]), 0.95)[2] is False  # too few: unbounded


def test_the_backtest_predicts_each_change_only_from_earlier_ones() -> None:
    hist = predict.History(changes=[{"id": i, "title": str(i), "time": i} for i in range(4)],
                           vectors=np.ones((4, 1), dtype=np.float32), groups={"community": "community"})
    y = np.array([1.0, 1.0, -1.0, -1.0])
    bt = predict.backtest(hist, y, "satisfaction")
    # change 1 from change 0; change 2 from 0-1; change 3 from 0-2 (never from a later change)
    assert bt["n"] == 3 and bt["change_ids"] == [1, 2, 3]
    assert np.allclose(bt["predicted"], [1.0, 1.0, 1 / 3]) and bt["baseline_mae"] == 1.0
    later = y.copy()
    later[3] = 100.0  # what happens last cannot move any earlier prediction
    assert np.allclose(predict.backtest(hist, later, "satisfaction")["predicted"][:2], bt["predicted"][:2])
    assert predict.backtest(hist, np.full(4, np.nan), "engagement") == {"n": 0}


def test_windows_stop_at_the_neighbouring_changes() -> None:
    day = predict.DAY
    changes = [{"time": 0.0}, {"time": 3 * day}, {"time": 30 * day}]
    bounds = predict.windows(changes)
    assert bounds[0] == (-predict.BEFORE_DAYS * day, 0.0, 3 * day)  # the next patch cuts the after-window
    assert bounds[1] == (0.0, 3 * day, 3 * day + predict.AFTER_DAYS * day)  # the previous one cuts the before
    assert bounds[2][0] == 30 * day - predict.BEFORE_DAYS * day


def test_backtest_personas_are_fitted_before_the_changes_they_score(demo_with_personas: Any) -> None:
    ws = demo_with_personas("predict-groups")  # its own copy: messages are deleted
    hist = predict.history(ws)
    k = ws.db.execute("SELECT count(*) FROM personas").fetchone()[0]
    assert len(hist.backtest_groups) == k and all(set(g) == set(predict.METRICS) for g in hist.backtest_groups.values())
    # messages after the last change must not change how any group was formed for the earlier ones
    with ws.transaction():
        ws.db.execute("DELETE FROM messages WHERE time > ?", [hist.changes[-1]["time"]])
    again = predict.history(ws)  # the delete made new data: the history is rebuilt, nothing cleared by hand
    assert again is not hist
    for name, shifts in again.backtest_groups.items():
        early = hist.backtest_groups[name]["satisfaction"][:-1]
        assert np.allclose(shifts["satisfaction"][:-1], early, equal_nan=True), name


def test_predictions_need_past_changes(tmp_path: Path) -> None:
    empty = Workspace(tmp_path / "ws")
    with pytest.raises(WorkspaceError, match="predictions learn from past dated changes"):
        predict.predict_reaction(empty, "nerf", None)


def test_telemetry_churn_beats_chance_on_held_out_players(ws: Workspace) -> None:
    out = churn.churn(ws)
    held = out["held_out"]
    # the LSTM answers only when a paired bootstrap on the held-out windows puts it ahead of the logistic baseline
    assert held["model_beats_baseline"] == (held["versus_baseline"]["verdict"] == "ahead")
    assert out["model"].startswith("BehaviorLSTM" if held["model_beats_baseline"] else "logistic regression")
    assert held["split"].startswith("by time and player")
    assert held["model"]["roc_auc"] > 0.7 and held["baseline_logistic_regression"]["roc_auc"] > 0.7
    answering = held["model"] if held["model_beats_baseline"] else held["baseline_logistic_regression"]
    assert answering["calibration_error"] < 0.1  # its risks are printed as probabilities
    low, high = held["model"]["roc_auc_interval"]
    assert low <= held["model"]["roc_auc"] <= high
    risks = [p["risk"] for p in out["evidence"]["at_risk"]]
    assert risks == sorted(risks, reverse=True)


def test_sequence_churn_trains_on_an_earlier_period_and_other_players() -> None:
    rng = np.random.default_rng(0)
    M = (rng.random((60, 90)) < 0.5).astype(float)
    for p in range(0, 60, 3):
        M[p, int(rng.integers(30, 80)):] = 0  # some players stop
    X, y, who, cuts = churn.windows(M, with_cuts=True)
    train, test, boundary = churn.time_and_player_split(y, who, cuts, 0)
    assert len(train) and len(test)
    assert (cuts[train] + churn.HORIZON_DAYS <= boundary).all()  # no training label reaches the test period
    assert (cuts[test] >= boundary).all() and not set(who[train]) & set(who[test])


def test_sequence_windows_label_silence_after_the_cutoff() -> None:
    M = np.zeros((2, 40))
    M[0, :] = 5.0  # always active
    M[1, :20] = 5.0  # stops on day 20
    X, y, who = churn.windows(M)
    assert X.shape[1] == churn.HISTORY_DAYS
    assert y[who == 0].sum() == 0 and y[who == 1].sum() >= 1


def test_ab_effect_interval() -> None:
    groups = ["a"] * 1000 + ["b"] * 1000
    retained = np.array([1.0] * 300 + [0.0] * 700 + [1.0] * 200 + [0.0] * 800)
    e = churn.ab_effect(groups, retained, 0.95)
    assert e["effect"] == 0.1 and e["interval"][0] < 0.1 < e["interval"][1] and e["significant"]


@pytest.fixture(scope="module")
def cookie_cats(shared_workspace: Any) -> Workspace:
    return shared_workspace("cookie-cats-ab-retention", "cookie_cats.csv")


def test_cookie_cats_churn_and_the_gate_effect(cookie_cats: Workspace) -> None:
    out = churn.churn(cookie_cats)
    ev, held = out["evidence"], out["held_out"]
    assert ev["players"] == 90_189 and ev["label"] == "churn = not retention_7"
    assert abs(ev["churned"] / ev["players"] - 0.814) < 0.001  # SOURCE.md: 18.6% retained at day 7
    assert "retention_7" not in ev["features"] and "version=gate_40" in ev["features"]
    # sum_gamerounds counts days 0-14 (SOURCE.md): alone it "predicts" day-7 churn; flagged, scored without
    assert held["single_feature_roc_auc"]["log1p(sum_gamerounds)"] > 0.85
    assert held["with_suspected_leaks"]["model"]["roc_auc"] > 0.85
    assert "log1p(sum_gamerounds)" not in ev["features"] and 0.6 < held["model"]["roc_auc"] < 0.8
    assert "possible leak" in out["answer"]
    gate = ev["ab_effects"]["version"]
    assert gate["difference"] == "gate_30 - gate_40" and abs(gate["effect"] - 0.0082) < 0.0005
    assert gate["interval"][0] > 0 and gate["significant"]


def test_personas_are_tested_only_on_what_their_clustering_did_not_see(ws: Workspace) -> None:
    out = compare.compare_personas(ws, "casual-players", "competitive-players")
    rows = {r["metric"]: r for r in out["rows"]}
    clustered = ["messages per player", "active days per player", "mean sentiment per player",
                 "negative message share per player"]
    for metric in clustered:  # shown, with no p-value: the personas were clustered on them
        assert rows[metric]["p_value"] is None and rows[metric]["significant"] is None
        assert rows[metric]["test"].startswith("descriptive")
    tested = [r for r in out["rows"] if r["p_value"] is not None]
    assert tested and all(r["metric"] not in clustered and "over players" in r["test"] for r in tested)
    assert "without a test" in out["answer"] and out["evidence"]["not_tested"] == clustered


def test_the_player_cluster_bootstrap_is_not_fooled_by_prolific_players() -> None:
    from scipy.stats import mannwhitneyu
    rng = np.random.default_rng(0)
    level = rng.normal(0, 1, 20)  # each player's own level; the two groups do not differ
    who = np.repeat(np.arange(20), 200)
    values = level[who] + rng.normal(0, 0.3, who.size)
    a, b = who < 10, who >= 10
    assert mannwhitneyu(values[a], values[b]).pvalue < 1e-6  # per message: a "certain" difference
    p, interval = compare.cluster_bootstrap(values[a], who[a], values[b], who[b])
    assert p > 0.05 and interval[0] < 0 < interval[1]
    shifted = values + np.where(b, 2.5, 0)  # a real difference between the groups is still found
    assert compare.cluster_bootstrap(shifted[a], who[a], shifted[b], who[b])[0] < 0.01


def test_holm_correction() -> None:
    rows = [{"p_value": p} for p in (0.01, 0.02, 0.04)]
    assert [r["significant"] for r in compare._holm(rows, 0.05)] == [True, True, True]
    rows = [{"p_value": p} for p in (0.01, 0.03, 0.04)]
    assert [r["significant"] for r in compare._holm(rows, 0.05)] == [True, False, False]


def test_compare_periods(ws: Workspace) -> None:
    out = compare.compare_periods(ws, "community", ("2025-03-01", "2025-03-11"), ("2025-03-11", "2025-03-18"))
    assert out["evidence"]["a"]["messages"] == ws.count(
        "messages", "WHERE time >= 1740787200 AND time < 1741651200")
    assert out["rows"][-1]["metric"] == "players posting"


def test_compare_changes(history_ws: Workspace) -> None:
    out = compare.compare_changes(history_ws, "Nerfed the damage of sniper rifles", "New cosmetic skins and capes",
                                  "casual-players")
    assert [r["metric"] for r in out["rows"]] == [f"casual-players: {m}" for m in predict.METRICS]
    sat = out["rows"][0]
    # casual players love cosmetics (+0.8) and shrug at nerfs; where similar changes do not beat "no
    # change" in this run's backtest, both are the no-change baseline
    assert sat["a"] < sat["b"] or sat["a"] == sat["b"] == 0.0
    for row in out["rows"]:  # significant exactly when the two intervals do not overlap
        (a_low, a_high), (b_low, b_high) = (map(float, part.strip("[]").split(", "))
                                            for part in row["test"].split(" intervals ")[1].split(" vs "))
        assert row["significant"] == (a_high < b_low or b_high < a_low)


def player_table(tmp_path: Path, n: int = 3000, seed: int = 0) -> tuple[Workspace, np.ndarray]:
    """A player table whose day-7 churn depends weakly on day-1 activity, with a 14-day count that
    (as in Cookie Cats) also sees the label's period, and pure noise columns."""
    from pilang_engine.ingestion.pipeline import ingest as run
    rng = np.random.default_rng(seed)
    day1 = rng.random(n) < 0.45
    churned = rng.random(n) < np.where(day1, 0.7, 0.9)
    rounds14 = rng.poisson(np.where(churned, 5, 60))  # counted over days 0-14: knows who came back
    lines = ["userid,version,retention_1,rounds_14d,noise_a,noise_b,retention_7"]
    for i in range(n):
        lines.append(f"{i},gate_{30 + 10 * (i % 2)},{str(day1[i]).upper()},{rounds14[i]},{rng.random():.6f},"
                     f"{rng.random():.6f},{str(not churned[i]).upper()}")
    path = tmp_path / "players.csv"
    path.write_text("\n".join(lines) + "\n")
    ws = Workspace(tmp_path / "ws")
    assert not run(ws, [path], progress=False).errors
    return ws, churned


def test_a_column_observed_after_the_label_is_excluded_and_listed(tmp_path: Path) -> None:
    from pilang_engine.ingestion.pipeline import ingest as run
    ws, _ = player_table(tmp_path)
    (tmp_path / "players.windows.json").write_text('{"rounds_14d": [0, 14]}')  # a sidecar declares it
    report = run(ws, [tmp_path / "players.csv"], progress=False)
    assert report.windows == {"players": {"rounds_14d": [0.0, 14.0]}}
    out = churn.churn(ws)
    ev = out["evidence"]
    assert "log1p(rounds_14d)" not in ev["features"] and "retention_1" in ev["features"]
    assert [e["column"] for e in ev["excluded"]] == ["rounds_14d"] and "leak" in ev["excluded"][0]["reason"]
    assert out["held_out"]["model"]["roc_auc"] < 0.75  # day-1 activity alone is a weak signal


def test_an_undeclared_leak_is_reported_and_scored_without(tmp_path: Path) -> None:
    ws, _ = player_table(tmp_path)
    out = churn.churn(ws)
    held, ev = out["held_out"], out["evidence"]
    assert held["single_feature_roc_auc"]["log1p(rounds_14d)"] > churn.LEAK_AUC
    assert held["with_suspected_leaks"]["model"]["roc_auc"] > 0.95  # the leak, had it been kept
    assert held["model"]["roc_auc"] < 0.75 and "log1p(rounds_14d)" not in ev["features"]  # the figures without it
    assert any(e.get("feature") == "log1p(rounds_14d)" and "possible leak" in e["reason"] for e in ev["excluded"])
    assert "possible leak" in out["answer"]


def test_players_at_risk_come_from_out_of_fold_predictions(tmp_path: Path) -> None:
    from pilang_engine.ingestion.pipeline import ingest as run
    rng = np.random.default_rng(1)
    n = 2000
    churned = rng.random(n) < 0.2  # pure noise: no column says anything about churn
    lines = ["userid,noise_a,noise_b,noise_c,retention_7"]
    lines += [f"{i},{rng.random():.6f},{rng.random():.6f},{rng.random():.6f},{str(not churned[i]).upper()}"
              for i in range(n)]
    (tmp_path / "noise.csv").write_text("\n".join(lines) + "\n")
    ws = Workspace(tmp_path / "ws")
    run(ws, [tmp_path / "noise.csv"], progress=False)
    out = churn.churn(ws)
    retained = {p: json.loads(v) for p, v in ws.db.execute("SELECT player, value FROM player_facts WHERE key = 'retention_7'")}
    top = [r["player"] for r in out["evidence"]["at_risk"]]
    # a model scoring the rows it trained on memorises them: its top 10 would all be churners
    assert sum(not retained[p] for p in top) <= 6 and "out-of-fold" in out["evidence"]["at_risk_from"]


def test_sequence_churn_risks_are_probabilities_not_class_weighted_scores() -> None:
    # 12% churners; a class-weighted loss would centre the risks near 0.5 and count most players "likely"
    rng = np.random.default_rng(0)
    n = 4000
    level = rng.gamma(2.0, 2.0, n)
    X = rng.poisson(level[:, None] * np.ones((1, churn.HISTORY_DAYS))).astype(float)
    true = 1 / (1 + np.exp(2.2 + 1.2 * (np.log1p(X[:, -7:].mean(axis=1)) - 1.5)))
    y = (rng.random(n) < true).astype(int)
    fit, held = np.arange(3000), np.arange(3000, n)
    p = churn.BehaviorLSTM(max_epochs=15).fit(X[fit], y[fit], fit).predict_proba(X[held])
    scores = churn.ranking_scores(y[held], p)
    assert abs(scores["mean_predicted"] - scores["base_rate"]) < 0.04 and scores["calibration_error"] < 0.06
    assert (p > 0.5).sum() <= 3 * max(int((true[held] > 0.5).sum()), 10)
    assert "more likely than not" in churn.likely_count(p, scores)
    uncalibrated = {**scores, "calibration_error": 0.2}  # then a count says what it is: above the base rate
    assert "above the base rate" in churn.likely_count(p, uncalibrated)


def test_leak_screening_never_sees_the_test_split() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((800, 3))
    y = (rng.random(800) < 0.3 + 0.4 * X[:, 0]).astype(int)
    train, test = np.arange(600), np.arange(600, 800)
    names = ["a", "b", "c"]
    screened = churn.single_feature_aucs(X, y, names, train, 0)
    flipped = y.copy()
    flipped[test] = 1 - flipped[test]  # the test labels, inverted: the screening must not move
    assert churn.single_feature_aucs(X, flipped, names, train, 0) == screened


def test_a_tie_with_the_baseline_keeps_the_baseline() -> None:
    from pilang_engine.evaluation.verdict import auc_difference, loss_difference
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.2).astype(int)
    signal = y + rng.normal(0, 1.5, 3000)
    close = signal + rng.normal(0, 0.05, 3000)  # a point lead of a few thousandths, by chance
    assert auc_difference(y, close, signal)["verdict"] == "tied"
    assert auc_difference(y, y + rng.normal(0, 0.5, 3000), signal)["verdict"] == "ahead"
    assert auc_difference(y, rng.random(3000), signal)["verdict"] == "behind"
    assert loss_difference([1.0, 1.1, 0.9, 1.0] * 5, [2.0, 2.1, 1.9, 2.2] * 5)["verdict"] == "ahead"


def test_the_same_table_in_two_workspaces_gives_the_same_figures(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, _ = player_table(tmp_path / "a", n=1000)
    second, _ = player_table(tmp_path / "b", n=1000)
    pseudonyms = [{r[0] for r in w.db.execute("SELECT player FROM player_facts")} for w in (first, second)]
    assert not pseudonyms[0] & pseudonyms[1]  # salted per workspace
    a, b = churn.churn(first), churn.churn(second)
    assert a["answer"] == b["answer"] and a["held_out"] == b["held_out"]


def test_churn_after_a_change_is_refused_where_players_write_once(tmp_path: Path) -> None:
    write_demo(tmp_path / "demo")
    space = Workspace(tmp_path / "ws")  # store reviews only: each reviewer writes once, silence means nothing
    ingest(space, [tmp_path / "demo" / "steam_reviews.json", tmp_path / "demo" / "patches.json"], progress=False)
    hist = predict.history(space)
    assert np.isnan(hist.shifts["community"]["churn_risk"]).all()
    out = predict.predict_reaction(space, "Nerfed the damage of sniper rifles")
    assert all(r["churn_risk"] is None for r in out["predictions"])
    assert "churn risk not predicted" in out["answer"] and "community" in out["evidence"]["not_predicted"]
