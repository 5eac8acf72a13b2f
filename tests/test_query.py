"""The query evaluator (stdlib/query.pil): validation with carets, normalisation, routing."""
from __future__ import annotations

import re

from typing import Any

import pytest

from pilang.datum import Keyword
from pilang.errors import PilangError
from pilang.session import Session

K = Keyword


@pytest.fixture(scope="module")
def session(demo_copy: Any) -> Session:
    return Session(workspace=demo_copy("query"))


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
    ("(query (type analytic))", 8, 23, "unknown query type analytic"),  # the bad type before the missing target
])
def test_a_bad_clause_is_an_error_with_a_caret_on_it(session: Session, text: str, col: int, end_col: int,
                                                      message: str) -> None:
    err = error_of(session, text)
    assert err.kind == "syntax" and message in err.message
    assert (err.span.file, err.span.line, err.span.col, err.span.end_col) == ("q.pil", 1, col, end_col)
    assert err.render().splitlines()[2] == "  " + " " * (col - 1) + "^" * (end_col - col)
    assert "call stack" not in err.render() and "stdlib" not in err.render()  # the evaluator's frames are not the user's


def get(r: object, *keys: str) -> object:
    for k in keys:
        r = r.__pilang_get__(K(k)) if hasattr(r, "__pilang_get__") else r[K(k)]
    return r


def test_persona_inquiry_answers_from_the_personas_messages(session: Session) -> None:
    r = session.eval_text('(query (type persona-inquiry) (target casual-players)'
                          ' (parameters (question "How would they react to increased difficulty?")))')
    assert get(r, "handler").name == "persona-handler"
    quotes = get(r, "evidence", "quotes")
    assert quotes and all(f"#{q[K('id')]}" in get(r, "answer") for q in quotes)
    tone = get(r, "evidence", "sentiment")
    assert f"{tone[K('negative')]} are negative" in get(r, "answer")
    assert tone[K("negative")] > tone[K("positive")]  # casual players disliked the difficulty patch (known truth)


@pytest.mark.parametrize("text, message", [
    ('(query (type persona-inquiry) (target casual) (parameters (question "x")))',
     "no persona named casual; the targets here are:"),
    ("(query (type persona-inquiry) (target casual-players))", "a persona-inquiry needs (parameters (question"),
    ("(query (type prediction) (target casual-players))", "a prediction needs (parameters (change"),
    ("(query (type comparison) (target casual-players))", "a comparison needs (parameters (versus"),
    ("(query (type comparison) (target casual-players) (parameters (versus nerf)))",
     "compare casual-players with another persona or a (time-range ...)"),
    ("(query (type prediction) (target player-churn) (parameters (change nerf) (confidence-interval 2)))",
     "between 0 and 1"),
])
def test_persona_queries_check_their_parameters(session: Session, text: str, message: str) -> None:
    err = error_of(session, text)
    assert err.kind == "syntax" and message in err.message and err.span.file == "q.pil"


def test_prediction_queries(session: Session) -> None:
    r = session.eval_text("(query (type prediction) (target player-churn)"
                          " (parameters (change nerf-weapon-damage) (confidence-interval 0.9)))")
    answer = get(r, "answer")
    assert get(r, "handler").name == "prediction-handler" and answer.startswith('If "nerf weapon damage" ships, community')
    assert answer.count(". ") == 0 and "inf" not in answer and "churn_risk" not in answer  # one sentence, in words
    assert "90% interval" in answer or "too little history to bound it" in answer
    # churn risk is a share of the active players (a level, not a shift): never "+0.10"
    assert re.search(r"churn risk \d+% of active players go silent", answer), answer
    groups = [row[K("group")] for row in get(r, "rows")]
    assert groups[0] == "community" and {"competitive-players", "casual-players"} <= set(groups)
    assert get(r, "evidence", "similar-changes")[0][K("change")] == "Hotfix 1.0.4"
    assert K("satisfaction") in get(r, "held-out", "community")  # the community scored apart from personas
    churn = session.eval_text("(query (type prediction) (target player-churn))")
    assert get(churn, "held-out", "model", "roc-auc") > 0.5 and get(churn, "evidence", "at-risk")


def test_satisfaction_engagement_and_churn_are_targets_of_a_prediction(session: Session) -> None:
    """Once rejected as "no persona named satisfaction", with a stack into stdlib/query.pil."""
    r = session.eval_text("(query (type prediction) (target satisfaction) (parameters (change nerf-weapon-damage)))")
    answer = get(r, "answer")
    assert answer.startswith('If "nerf weapon damage" ships, community') and "satisfaction" in answer
    assert "engagement" not in answer and "churn" not in answer  # the headline is about what was asked
    e = session.eval_text("(query (type prediction) (target engagement) (parameters (change nerf-weapon-damage)))")
    assert "engagement" in get(e, "answer")
    churn = session.eval_text("(query (type prediction) (target churn))")
    assert get(churn, "held-out", "model", "roc-auc") > 0.5
    err = error_of(session, "(query (type prediction) (target satisfaction))")
    assert "(change nerf-weapon-damage)" in err.message and "call stack" not in err.render()
    err = error_of(session, "(query (type prediction) (target vibes) (parameters (change x)))")
    assert "or what is predicted: satisfaction, engagement, churn" in err.message


def test_comparison_queries(session: Session) -> None:
    r = session.eval_text("(query (type comparison) (target competitive-players) (parameters (versus casual-players)))")
    rows = {row[K("metric")]: row for row in get(r, "rows")}
    sentiment = rows["mean sentiment per player"]  # clustered on: described, never tested
    assert sentiment[K("p_value")] is None and str(sentiment[K("test")]).startswith("descriptive")
    assert sentiment[K("a")] < sentiment[K("b")]
    r = session.eval_text('(query (type comparison) (target casual-players) (parameters (time-range "2025-03-10"'
                          ' "2025-03-23") (versus (time-range "2025-03-23" "2025-04-05"))))')
    assert get(r, "evidence", "a", "range")[0].startswith("2025-03-10")
    r = session.eval_text("(query (type comparison) (target nerf-weapon-damage) (parameters (versus new-cosmetic-skins)))")
    assert "nerf weapon damage" in get(r, "answer") and len(get(r, "rows")) == 15


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
    session.eval_text("(personas)")
    assert {"sentiment", "anomalies", "player-churn", "competitive-players", "loot-grinders"} <= set(session.query_targets())
    from pilang.introspect import completions
    offered = [name for name, _ in completions(session, "(pers")]
    assert "persona" in offered and not any(n.endswith("-handler") for n in offered)  # what a user types
    assert not any(n.endswith("-handler") or n == "parse-query" for n, _ in completions(session, "("))


def test_direct_analytics_procedures(session: Session) -> None:
    r = session.eval_text("(trend 'volume :horizon 3 :confidence 0.8)")
    assert len(r.__pilang_get__(K("evidence"))[K("forecast")]) == 3
    assert session.eval_text("(get (anomalies :source 'discord) :handler)").name == "anomalies"
    r = session.eval_text("(query (type analytics) (target patterns) (parameters (metric sentiment) (window 5)))")
    assert "looks most like" in r.__pilang_get__(K("answer"))


@pytest.mark.parametrize("filters, sql, args", [
    ("(channel general)", "json_extract(meta, '$.channel') = ?", ["general"]),
    ("(source discord) (channel help)", "source = ? AND json_extract(meta, '$.channel') = ?", ["discord", "help"]),
    ("(thread {thread})", "thread = ?", None),
    ("(author {author})", "author = ?", None),
])
def test_filters_by_channel_author_thread_and_meta_fields_select_those_messages(
        session: Session, filters: str, sql: str, args: list[str] | None) -> None:
    ws = session.engine.workspace()
    thread, author = ws.db.execute("SELECT thread, author FROM messages WHERE thread IS NOT NULL AND time IS NOT NULL"
                                   " LIMIT 1").fetchone()
    args = args if args is not None else [thread if "thread" in filters else author]
    want = ws.db.execute(f"SELECT count(*) FROM messages WHERE time IS NOT NULL AND {sql}", args).fetchone()[0]
    assert want > 0
    text = filters.format(thread=f'"{thread}"', author=f'"{author}"')
    result = session.eval_text(f"(query (type analytics) (target volume) (parameters (filters {text})))")
    assert result.data[K("evidence")][K("messages")] == want
    assert session.eval_text(f"(query (type analytics) (target sentiment) (parameters (filters {text})))"
                             ).data[K("evidence")][K("messages")] == want


def test_a_filter_name_that_is_not_plain_is_an_error(session: Session) -> None:
    err = error_of(session, "(query (type analytics) (target volume) (parameters (filters (|a'b| x))))")
    assert err.kind == "engine" and "plain name" in err.message
