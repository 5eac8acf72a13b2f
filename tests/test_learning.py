"""The tetration learner: interactions, L1 routing from ratings, L2 macros and aliases, L3 promotion,
L4 tuning, and that everything is visible, reversible, and still when frozen."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from pilang_engine import learning
from pilang_engine.learning import bandit, interactions, meta, shapes
from pilang_engine.workspace.store import NotAllowed, Workspace, WorkspaceError

from pilang.datum import Keyword
from pilang.errors import PilangError
from pilang.learner import from_tree, to_tree
from pilang.output.notation import write_string
from pilang.reader import read_one
from pilang.session import Session

K = Keyword


@pytest.fixture(scope="module")
def demo(demo_copy: Any) -> Path:
    return demo_copy("learning")


def fresh(demo: Path, tmp_path: Path) -> Path:
    import shutil
    shutil.copytree(demo, tmp_path / "ws")
    return tmp_path / "ws"


def session_for(path: Path, developer: str, monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.setenv("PILANG_DEVELOPER", developer)
    return Session(workspace=path)


def test_every_form_is_an_interaction_once_a_workspace_is_open(demo: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    s = session_for(fresh(demo, tmp_path), "ana", monkeypatch)
    s.eval_text("(define x 1)")  # no workspace opened yet: nothing to record into
    s.eval_text("(query (type analytics) (target volume))")
    s.eval_text("(+ x 1)")
    with pytest.raises(PilangError):
        s.eval_text("(query (type analytics) (target volum))")
    s.eval_text("(query (type analytics) (target volume))")
    s.eval_text("(rate 4)")
    ws = s.engine.workspace()
    rows = ws.db.execute("SELECT developer, text, handler, kind, qtype, qtarget, error, clarifies, latency_ms FROM interactions"
                         " ORDER BY id").fetchall()
    assert [r[1] for r in rows] == ["(query (type analytics) (target volume))", "(+ x 1)",
                                    "(query (type analytics) (target volum))", "(query (type analytics) (target volume))"]
    assert rows[0][:6] == ("ana", rows[0][1], "analytics-handler", "query", "analytics", "volume") and rows[0][8] > 0
    assert rows[1][3] == "other" and "no analytics target volum" in rows[2][6]
    ids = [r[0] for r in ws.db.execute("SELECT id FROM interactions ORDER BY id")]
    assert rows[3][7] == ids[2]  # the corrected query clarifies the failed one
    assert ws.db.execute("SELECT interaction, rating FROM feedback").fetchall() == [(ids[3], 4)]


def test_a_printed_query_is_still_the_query_rated(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = session_for(fresh(demo, tmp_path), "eve", monkeypatch)
    s.eval_text("(print (query (type analytics) (target volume)))")  # how scripts show answers
    s.eval_text("(print 1)")
    assert s.eval_text("(rate 5)")[K("rating")] == 5
    ws = s.engine.workspace()
    assert ws.db.execute("SELECT kind, qtype, qtarget, handler FROM interactions i JOIN feedback f"
                         " ON f.interaction = i.id").fetchall() == [("query", "analytics", "volume", "analytics-handler")]


PERSONA_CANDIDATES = {("persona-inquiry", "*"): ["persona-handler", "persona-lm-handler"]}


def rated(ws: Workspace, developer: str, handler: str, rating: int) -> dict[str, Any]:
    """One persona question by `developer`, answered by `handler`, rated by them."""
    out = interactions.record(ws, f"{developer}-s", developer, "(q)", ["L", ["S", "q"]], "", handler, "", 1.0, None,
                              "query", "persona-inquiry", "competitive-players", [])
    return interactions.rate(ws, f"{developer}-s", rating, interaction=out["id"], candidates=PERSONA_CANDIDATES,
                             developer=developer)


def test_l1_routes_by_ratings_and_the_rewrite_is_logged_and_undoable(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.set_route("persona-inquiry", "*", "persona-handler", "default")
    candidates = PERSONA_CANDIDATES[("persona-inquiry", "*")]
    for _ in range(6):  # one developer on their own workspace: their ratings are the team's
        rated(ws, "ana", "persona-handler", 2)
        rated(ws, "ana", "persona-lm-handler", 5)
    route = next(r for r in ws.routes() if r["type"] == "persona-inquiry")
    assert route["handler"] == "persona-lm-handler" and route["origin"].startswith("learned (L1)")
    rng = random.Random(0)
    picks = [bandit.choose(ws, "persona-inquiry", "*", candidates, route["handler"], rng)[0] for _ in range(300)]
    assert picks.count("persona-lm-handler") > 240  # mostly the better one, still exploring
    entry = next(e for e in learning.entries(ws) if e["level"] == "L1")
    learning.undo(ws, entry["id"])
    assert next(r for r in ws.routes() if r["type"] == "persona-inquiry")["handler"] == "persona-handler"


def test_on_a_team_one_developer_cannot_move_a_route_but_two_who_agree_can(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.set_route("persona-inquiry", "*", "persona-handler", "default")
    rated(ws, "bo", "persona-handler", 4)  # a second developer uses the workspace: routes are a team's now

    def route() -> str:
        return next(r for r in ws.routes() if r["type"] == "persona-inquiry")["handler"]
    for _ in range(12):  # one analyst, voting over and over
        rated(ws, "mal", "persona-handler", 1)
        rated(ws, "mal", "persona-lm-handler", 5)
    assert route() == "persona-handler"
    for _ in range(3):  # a second developer agrees: each developer is one voice, and two agree
        rated(ws, "bo", "persona-lm-handler", 5)
    assert route() == "persona-lm-handler"
    entry = next(e for e in learning.entries(ws) if e["level"] == "L1")
    assert "by 2 developer(s)" in entry["reason"]


def test_an_interaction_is_rated_once_and_only_by_its_developer(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    out = interactions.record(ws, "bo-s", "bo", "(q)", ["L", ["S", "q"]], "", "h", "", 1.0, None, "query",
                              "analytics", "volume", [])
    with pytest.raises(NotAllowed, match="bo's"):
        interactions.rate(ws, "mal-s", 5, interaction=out["id"], developer="mal")
    interactions.rate(ws, "bo-s", 4, interaction=out["id"], developer="bo")
    with pytest.raises(WorkspaceError, match="already rated"):
        interactions.rate(ws, "bo-s", 5, interaction=out["id"], developer="bo")
    assert ws.db.execute("SELECT rating FROM feedback").fetchall() == [(4,)]


def test_anti_unification() -> None:
    a, b = (to_tree(read_one(t)) for t in ('(query (type analytics) (target sentiment) (parameters (filters (source discord))))',
                                            '(query (type analytics) (target sentiment) (parameters (filters (source steam))))'))
    g = shapes.lgg(a, b)
    assert shapes.variables(g) == {0: "source"}
    assert shapes.match(g, a) == {0: ["S", "discord"]}
    name, definition = shapes.macro_for(g)
    assert name == "my-analytics-sentiment-by-source"
    assert definition == ("(defmacro my-analytics-sentiment-by-source (source) `(query (type analytics) (target sentiment)"
                          " (parameters (filters (source ,source)))))")
    calls = [to_tree(read_one(t)) for t in ("(print (train 'gnn))", "(print (ntk 'gnn))")]
    assert shapes.varies_operator(shapes.lgg(*calls))  # never offered: it would hide what runs
    form = read_one('(f [1 "s" :k] #t nil 2.5)')
    assert write_string(from_tree(to_tree(form))) == write_string(form)


def test_l2_offers_a_macro_for_a_repeated_shape_and_installs_it_on_accept(demo: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = fresh(demo, tmp_path)
    s = session_for(path, "bo", monkeypatch)
    for day in ("2025-03-01", "2025-03-10", "2025-04-01"):
        s.eval_text(f'(query (type analytics) (target volume) (parameters (time-range "{day}" "2025-05-01")))')
    said = capsys.readouterr()
    assert said.out == ""  # kept until the front end has shown the answer it is about
    s.say_notes()
    s.eval_text('(query (type analytics) (target volume) (parameters (time-range "2025-04-05" "2025-05-01")))')
    s.say_notes()
    said = capsys.readouterr()  # on stdout (a notebook shows stderr in red), short, and said once
    assert said.out == "; tip: (accept 'my-analytics-volume-by-time-range) makes a shorthand for this shape you often write\n"
    assert "tip:" not in said.err
    ws = s.engine.workspace()
    (offer,) = [r for r in shapes.listing(ws) if r["kind"] == "macro"]
    assert offer["status"] == "offered" and offer["developer"] == "bo" and offer["name"] == "my-analytics-volume-by-time-range"
    s.eval_text("(accept 'my-analytics-volume-by-time-range)")
    expanded = s.eval_text("(macroexpand-1 '(my-analytics-volume-by-time-range \"2025-03-05\"))")
    assert write_string(expanded) == ('(query (type analytics) (target volume) (parameters (time-range "2025-03-05"'
                                      ' "2025-05-01")))')
    r = s.eval_text('(my-analytics-volume-by-time-range "2025-03-05")')
    assert r.__pilang_get__(K("handler")).name == "analytics-handler"
    again = session_for(path, "bo", monkeypatch)  # a new session: the macro loads on first use
    assert again.eval_text('(my-analytics-volume-by-time-range "2025-03-05")').__pilang_get__(K("evidence"))
    other = session_for(path, "cy", monkeypatch)
    with pytest.raises(PilangError, match="unbound"):
        other.eval_text('(my-analytics-volume-by-time-range "2025-03-05")')
    # an offered macro is installed by using it
    for day in ("2025-03-01", "2025-03-10", "2025-04-01"):
        other.eval_text(f'(query (type analytics) (target volume) (parameters (time-range "2025-02-01" "{day}")))')
    (offer,) = [r["name"] for r in shapes.listing(ws) if r["developer"] == "cy"]
    assert other.eval_text(f'({offer} "2025-04-10")').__pilang_get__(K("handler")).name == "analytics-handler"
    assert [e["reason"] for e in learning.entries(ws) if e["subject"] == offer][0] == "used by cy"


def typo_then_fix(s: Session) -> Session:
    """The developer mistypes a target (an unknown name), then writes it right."""
    with pytest.raises(PilangError):
        s.eval_text("(query (type analytics) (target volum))")
    s.eval_text("(query (type analytics) (target volume))")
    return s


def test_l2_alias_from_a_corrected_error_then_l3_promotes_it(demo: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = fresh(demo, tmp_path)
    for dev in ("ana", "bo"):
        s = typo_then_fix(session_for(path, dev, monkeypatch))
        r = s.eval_text("(query (type analytics) (target volum))")  # read as volume now
        assert r.__pilang_get__(K("handler")).name == "analytics-handler"
        s.eval_text("(rate 5)")
    ws = s.engine.workspace()
    learned = {(r["name"], r["developer"]): r for r in shapes.listing(ws)}
    assert learned[("volum", "ana")]["definition"] == "volume" and learned[("volum", "ana")]["uses"] == 1
    assert learned[("volum", learning.TEAM)]["status"] == "promoted"
    newcomer = session_for(path, "cy", monkeypatch)
    assert newcomer.eval_text("(query (type analytics) (target volum))").__pilang_get__(K("answer"))
    assert "forgot the alias volum (the team's)" == newcomer.eval_text("(forget 'volum)")
    with pytest.raises(PilangError, match="no analytics target volum"):
        newcomer.eval_text("(query (type analytics) (target volum))")
    log = newcomer.eval_text("(learning-log)")
    assert {"alias", "promote", "forget"} <= {row[K("action")] for row in log}


def test_l4_learns_faster_when_rewrites_raised_ratings(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")

    def interaction(rating: int) -> int:
        out = interactions.record(ws, "s", "ana", "(q)", ["L", ["S", "q"]], "", "h", "", 1.0, None, "query",
                                  "analytics", "volume", [])
        return interactions.rate(ws, "s", rating, interaction=out["id"])["feedback"]
    for _ in range(10):
        interaction(2)
    anchor = interaction(2)
    learning.log(ws, "L1", "route", "(analytics volume) -> h2", "test", {"kind": "none"}, [anchor])
    for _ in range(meta.EVERY):
        interaction(5)
    p = learning.params(ws)
    assert p["l1_rate"] > learning.DEFAULTS["l1_rate"] and p["exploration"] < learning.DEFAULTS["exploration"]
    entry = next(e for e in learning.entries(ws) if e["level"] == "L4")
    assert "helping" in entry["reason"]
    learning.undo(ws, entry["id"])
    assert learning.params(ws)["l1_rate"] == learning.DEFAULTS["l1_rate"]


def test_nothing_is_rewritten_while_learning_is_frozen(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = session_for(fresh(demo, tmp_path), "dee", monkeypatch)
    s.eval_text("(query (type analytics) (target volume))")
    s.eval_text("(freeze-learning)")
    ws = s.engine.workspace()
    before = (ws.db.execute("SELECT count(*) FROM learned").fetchone(), ws.routes())
    with pytest.raises(PilangError):
        s.eval_text("(query (type analytics) (target volum))")
    for day in ("2025-03-01", "2025-03-10", "2025-04-01", "2025-04-02"):
        s.eval_text("(query (type analytics) (target volume))")
        s.eval_text(f'(query (type analytics) (target volume) (parameters (time-range "{day}" "2025-05-01")))')
        s.eval_text("(rate 1)")
    assert (ws.db.execute("SELECT count(*) FROM learned").fetchone(), ws.routes()) == before
    assert ws.count("feedback") == 4  # ratings are still kept
    assert [e["action"] for e in learning.entries(ws)] == ["freeze"]


def test_an_alias_needs_an_unknown_name_and_a_near_miss(tmp_path: Path) -> None:
    def q(target: str) -> Any:
        return to_tree(read_one(f"(query (type analytics) (target volume) (parameters (context {target})))"))
    no_patches = {"id": 1, "error": "last-patch: the workspace has no dated changes (ingest patch notes)",
                  "form": q("last-patch")}
    assert shapes.alias_candidate(no_patches, {"id": 2, "form": q("last-week")}) is None  # a data error, not a name
    unknown = {"id": 1, "error": "unknown period 'last-patchh' (known: last-week, last-month, last-patch, all)",
               "form": q("last-patchh")}
    assert shapes.alias_candidate(unknown, {"id": 2, "form": q("last-patch")}) == (["S", "last-patchh"], ["S", "last-patch"])
    far = {**unknown, "error": "unknown period 'fortnight' (known: ...)", "form": q("fortnight")}
    assert shapes.alias_candidate(far, {"id": 2, "form": q("last-week")}) is None  # not a near miss
    assert shapes.near_miss("churn", "player-churn") and shapes.near_miss("anomalys", "anomalies")
    assert not shapes.near_miss("last-patch", "last-week")


def test_a_data_error_then_another_query_learns_no_alias(demo: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = fresh(demo, tmp_path)
    s = session_for(path, "ana", monkeypatch)
    ws = s.engine.workspace()
    with ws.transaction():
        ws.db.execute("DELETE FROM changes")
    with pytest.raises(PilangError, match="no dated changes"):
        s.eval_text("(query (type analytics) (target volume) (parameters (context last-patch)))")
    s.eval_text("(query (type analytics) (target volume) (parameters (context last-week)))")
    assert [r for r in shapes.listing(ws) if r["kind"] == "alias"] == []


def test_an_alias_that_later_queries_contradict_is_never_promoted(demo: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = fresh(demo, tmp_path)
    for dev in ("ana", "bo"):
        s = typo_then_fix(session_for(path, dev, monkeypatch))
        for rating in ((5, 1) if dev == "ana" else (5, 5)):  # mean 4 over 4 uses: enough to promote ...
            s.eval_text("(query (type analytics) (target volum))")
            s.eval_text(f"(rate {rating})")  # ... but once the alias was not what ana meant
    ws = s.engine.workspace()
    assert shapes.contradicted(ws, "volum")
    assert ("volum", learning.TEAM) not in {(r["name"], r["developer"]) for r in shapes.listing(ws)}


def test_the_learning_benchmark_routes_only_to_handlers_that_exist_from_the_default_routing() -> None:
    import importlib.util
    if importlib.util.find_spec("benchmarks") is None:
        pytest.skip("the benchmarks live in the source checkout")
    from benchmarks import learning as bench
    env = Session().env
    handlers = {h for hs in bench.ROUTES.values() for h in hs}
    assert all(h in env for h in handlers), handlers - set(env)
    defaults = {(str(t), str(g)): str(h) for t, g, h in (map(lambda x: x.name, r) for r in env["default-routes"])}
    for (type_, target), handler in bench.DEFAULT_ROUTES.items():
        assert defaults.get((type_, target), defaults.get((type_, "*"))) == handler or (
            (type_, target) == ("analytics", "forecast") and handler == defaults[("analytics", "*")])
    assert not hasattr(bench, "SHAPE_BONUS")  # no built-in win for macros
