"""The query evaluator (stdlib/query.pil): validation with carets, normalisation, routing."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.ingest import ingest
from engine.store import Workspace
from pilang.datum import Keyword
from pilang.errors import PilangError
from pilang.session import Session

DEMO = Path(__file__).parent.parent / "examples" / "demo"
K = Keyword


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    path = tmp_path_factory.mktemp("query") / "ws"
    ingest(Workspace(path), [DEMO], progress=False)
    return Session(workspace=path)


def error_of(session: Session, text: str) -> PilangError:
    with pytest.raises(PilangError) as info:
        session.eval_text(text, "q.pil")
    return info.value


@pytest.mark.parametrize("text, col, end_col, message", [
    ("(query (type analytic) (target volume))", 8, 23, "unknown query type analytic; valid types: persona-inquiry,"),
    ("(query (typo analytics) (target volume))", 8, 24, "unknown query clause typo; valid clauses: type, target"),
    ("(query (type analytics) (target volume) (parameters (aggregate mean)))", 53, 69,
     "unknown parameter aggregate; valid parameters: time-range, filters, aggregation"),
    ("(query (type analytics) (target volume) (parameters (aggregation mode)))", 53, 71,
     "unknown aggregation mode; valid: mean, median, distribution"),
    ("(query (type analytics) (target volume) (parameters (time-range \"2025-13-01\" \"2025-04-01\")))", 53, 91,
     "not a date"),
    ("(query (type analytics) (target vibes))", 25, 39, "no analytics target vibes; valid targets: volume,"),
    ("(query (type analytics))", 8, 24, "the query has no (target ...) clause"),
])
def test_a_bad_clause_is_an_error_with_a_caret_on_it(session: Session, text: str, col: int, end_col: int,
                                                      message: str) -> None:
    err = error_of(session, text)
    assert err.kind == "syntax" and message in err.message
    assert (err.span.file, err.span.line, err.span.col, err.span.end_col) == ("q.pil", 1, col, end_col)
    assert err.render().splitlines()[2] == "  " + " " * (col - 1) + "^" * (end_col - col)


@pytest.mark.parametrize("type_, capability", [("persona-inquiry", "personas"), ("prediction", "prediction models"),
                                               ("comparison", "personas and predictions")])
def test_unbuilt_query_types_say_what_is_missing(session: Session, type_: str, capability: str) -> None:
    err = error_of(session, f"(query (type {type_}) (target competitive-players))")
    assert err.kind == "engine" and err.message.startswith(f"not available yet: {type_} queries need")
    assert capability in err.message


def test_analytics_query_answers_with_evidence_and_handler(session: Session) -> None:
    r = session.eval_text("(query (type analytics) (target sentiment) (parameters (aggregation median)))")
    assert r.__pilang_get__(K("answer")).startswith("median sentiment")
    assert r.__pilang_get__(K("handler")).name == "analytics-handler"
    assert r.__pilang_get__(K("evidence"))[K("quotes")]
    assert r.to_png().startswith(b"\x89PNG") and "<b>" in r.to_html()


def test_parameters_are_normalised(session: Session) -> None:
    p = session.eval_text("(get (parse-query '((type analytics) (target volume) (parameters (context last-patch)"
                          " (filters (source discord) (channel general)) (confidence-interval 0.9)))) :params)")
    assert p[K("source")].name == "discord" and p[K("confidence")] == 0.9
    assert p[K("since")].startswith("2025-04-22") and p[K("context")][K("patch")] == "Hotfix 1.2.1"
    assert p[K("filters")] == {K("channel"): session.eval_text("'general")}
    r = session.eval_text("(query (type analytics) (target volume) (parameters (time-range \"2025-03-10\" \"2025-03-20\")))")
    assert r.__pilang_get__(K("evidence"))[K("days")] == 10


def test_routing_table_is_data_in_the_workspace_and_can_be_changed(session: Session) -> None:
    session.eval_text("(query (type analytics) (target volume))")
    routes = session.eval_text("(routing)")
    assert {(r[K("type")], r[K("handler")]) for r in routes} >= {("analytics", "analytics-handler")}
    session.eval_text("(define (volume-only q params) (analyze 'volume params 'volume-only))"
                      "(set-route! 'analytics 'volume 'volume-only)")
    r = session.eval_text("(query (type analytics) (target volume))")
    assert r.__pilang_get__(K("handler")).name == "volume-only"
    assert session.eval_text("(route-of 'analytics 'sentiment)").name == "analytics-handler"


def test_query_targets_feed_completion(session: Session) -> None:
    assert {"sentiment", "anomalies", "player-churn"} <= set(session.query_targets())


def test_direct_analytics_procedures(session: Session) -> None:
    r = session.eval_text("(trend 'volume :horizon 3 :confidence 0.8)")
    assert len(r.__pilang_get__(K("evidence"))[K("forecast")]) == 3
    assert session.eval_text("(get (anomalies :source 'discord) :handler)").name == "anomalies"
    r = session.eval_text("(query (type analytics) (target patterns) (parameters (metric sentiment) (window 5)))")
    assert "looks most like" in r.__pilang_get__(K("answer"))
