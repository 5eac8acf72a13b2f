"""Plain words -> query (pilang/ask.py): questions resolved against the demo workspace's names, the
`? ...` prompt, `pilang ask` and its JSON, a question that maps to nothing, and corrections that teach
a phrase to one developer and then, agreed by two, to the team."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pilang_engine.workspace.store import Workspace

from pilang import ask as A
from pilang.repl import pipe_repl
from pilang.session import Session


@pytest.fixture(scope="module")
def asked(demo_with_personas: Any) -> Path:
    ws = demo_with_personas("ask")
    ws.close()
    return ws.path


@pytest.mark.parametrize("question, query", [
    ("what are players upset about since the last patch?", "(query (type analytics) (target drivers) (parameters"
                                                           " (context last-patch)))"),
    ("sentimnet in the help channel last wk", "(query (type analytics) (target sentiment) (parameters (context"
                                              " last-week) (filters (channel help))))"),
    ("# of tickets in march", '(query (type analytics) (target volume) (parameters (time-range "2025-03-01"'
                              ' "2025-04-01") (filters (source tickets))))'),
    ("why are the pvp players mad since the nerf", '(query (type analytics) (target drivers) (parameters (time-range'
                                                   ' "2025-03-11" all) (filters (persona competitive-players))))'),
    ("how do the sweats feel about matchmaking", '(query (type persona-inquiry) (target competitive-players)'
                                                 ' (parameters (question "how do the sweats feel about matchmaking")))'),
    ("how would casuals take it if we double the drop rates", '(query (type prediction) (target casual-players)'
                                                              ' (parameters (change "double the drop rates")))'),
    ("casuals vs grinders", "(query (type comparison) (target casual-players) (parameters (versus loot-grinders)))"),
    ("compare march and april", '(query (type comparison) (target community) (parameters (time-range "2025-04-01"'
                                ' "2025-05-01") (versus (time-range "2025-03-01" "2025-04-01"))))'),
    ("show me posts mentioning nightmare mode", '(search "nightmare mode" :k 10)'),
    ("which players are likely to leave", "(query (type prediction) (target player-churn))"),
    ("sentiment on the 3rd of april", '(query (type analytics) (target sentiment) (parameters (time-range "2025-04-03"'
                                      ' "2025-04-04")))'),
    ("mood on 04/20/2025", '(query (type analytics) (target sentiment) (parameters (time-range "2025-04-20"'
                           ' "2025-04-21")))'),
    ("what's the outlook for the next 7 days", "(query (type analytics) (target forecast))"),
    ("median sentiment on steam last month", "(query (type analytics) (target sentiment) (parameters (context"
                                             " last-month) (filters (source steam)) (aggregation median)))"),
    ("what kinds of players are there", "(personas)"),
    ("what changed for the worse between the two hotfixes", '(query (type analytics) (target drivers) (parameters'
                                                             ' (time-range "2025-04-05" "2025-04-22")))'),
])
def test_questions_become_the_queries_they_mean(asked: Path, question: str, query: str) -> None:
    ws = Workspace(asked)
    t = A.translate_in(ws, question)
    assert t.query == query, t.as_dict()
    assert 0 < t.confidence <= 1 and t.seconds < 5


def test_a_question_it_cannot_map_says_so_and_offers_the_closest(asked: Path) -> None:
    t = A.translate_in(Workspace(asked), "And so, my fellow Americans, ask not what your country can do for you")
    assert t.query is None and t.confidence == 0
    assert t.alternatives and t.alternatives[-1]["query"].startswith('(search "And so, my fellow Americans')
    assert "no query" in A.show(t)


def test_the_prompt_the_language_and_the_cli_share_one_translator(asked: Path) -> None:
    session = Session(workspace=asked)
    out = io.StringIO()
    assert pipe_repl(session, io.StringIO("? how many messages last week in #help\n"), out) == 0
    shown = (session.eval_text('(ask "how many messages last week in #help" :run #f)'))
    from pilang.bridge import to_python
    shown = to_python(shown)
    assert shown["query"] == ("(query (type analytics) (target volume) (parameters (context last-week) (filters"
                              " (channel help))))")
    r = subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(asked), "--json", "ask", "--dry-run",
                        "how many messages last week in #help"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["query"] == shown["query"] and set(doc) >= {"query", "confidence", "intent", "alternatives", "why"}
    assert all({"query", "intent", "score"} <= set(a) for a in doc["alternatives"])
    r = subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(asked), "--json", "ask",
                        "how many messages last week in #help"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["answer"]["answer"]  # run: the query's answer under it


def test_an_edited_query_teaches_the_phrase_to_its_developer_then_to_the_team(asked: Path, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    path = tmp_path / "ws"
    shutil.copytree(asked, path)
    question = "how many msgs in the help channel lately"
    meant = "(query (type analytics) (target volume) (parameters (context last-month) (filters (channel help))))"

    def teach(who: str) -> Session:
        monkeypatch.setenv("PILANG_DEVELOPER", who)
        s = Session(workspace=path)
        first = s.eval_text(f'(ask "{question}" :run #f)')
        from pilang.bridge import to_python
        assert to_python(first)["query"] != meant
        s.eval_text(meant)  # the developer edits the shown query and runs the edit
        s.say_notes()
        return s

    teach("ana")
    from pilang_engine.api import learned_phrases
    ws = Workspace(path)
    assert A.translate_in(ws, question, "ana").query == meant  # learned for ana (L1)
    assert A.translate_in(ws, question, "bo").query != meant  # not yet the team's
    teach("bo")  # a second developer teaches the same: the team's (L3)
    assert A.translate_in(Workspace(path), question, "cy").query == meant
    assert any(p[0] == "how many msgs in the help channel lately" for p in learned_phrases(Workspace(path), "cy"))
    log = [e for e in __import__("pilang_engine.api", fromlist=["x"]).learning_entries(Workspace(path))
           if "phrase" in e["action"]]
    assert [e["level"] for e in log][:2] == ["L3", "L1"]  # newest first: the promotion, then bo's own


def test_voice_uses_the_same_translator(asked: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session(workspace=asked)
    monkeypatch.setattr("pilang.prims.media._heard", lambda s, path: {"text": "Any unusual spikes last week?"})
    from pilang.bridge import to_python
    text, query, why = to_python(session.eval_text('(voice->query "clip.wav")'))
    assert query == "(query (type analytics) (target anomalies) (parameters (context last-week)))" and why
