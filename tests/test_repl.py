"""The REPL driven for real in a pseudo-terminal (pexpect), its completer, and the pygments lexer."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Token,
)

from pilang.lexer import PilangLexer
from pilang.introspect import completions, documentation, is_complete
from pilang.session import Session


def quit_repl(child: pexpect.spawn) -> None:
    child.expect("pilang>")  # the prompt is back: the line is empty, so Ctrl-D leaves
    child.sendcontrol("d")
    child.expect(pexpect.EOF)


def spawn(history: Path) -> pexpect.spawn:
    env = dict(os.environ, PILANG_HISTORY=str(history), TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn(sys.executable, ["-m", "pilang"], env=env, encoding="utf-8", timeout=30,
                          dimensions=(40, 160))
    child.expect("pilang>")
    return child


def test_multiline_entry_errors_and_definitions_survive(tmp_path: Path) -> None:
    child = spawn(tmp_path / "history")
    child.send("(define (sq x)\r")
    child.expect(r"\.\.\.>")  # Enter on an incomplete form opens a continuation line
    child.send("(* x x))\r")
    child.expect("sq")
    child.send("(car 5)\r")
    child.expect("type error: car needs a non-empty list")
    child.send("(sq 12)\r")
    child.expect("144")
    # a map longer than the terminal is a key/value table, one key a line, not a wrapped {:...}
    child.send('(hash-map :players (range 60) :name "a long map" :nested {:a 1 :b 2})\r')
    child.expect(r"players +\(0 1 2 ")
    child.expect(r"\r\nname +a long map\r\nnested +a 1; b 2\r\n")
    quit_repl(child)


def test_ctrl_c_interrupts_an_infinite_loop_within_a_second(tmp_path: Path) -> None:
    child = spawn(tmp_path / "history")
    child.send("(define (f) (f))\r")
    child.expect("f")
    child.send("(f)\r")
    time.sleep(0.5)
    started = time.monotonic()
    child.sendintr()
    child.expect("interrupted")
    assert time.monotonic() - started < 1.0
    child.send("(+ 40 2)\r")
    child.expect("42")
    quit_repl(child)


def test_an_interrupt_waits_for_an_import_to_end_and_leaves_the_module_whole(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from pilang.session import Session
    (tmp_path / "slow_heavy_module.py").write_text("import time\nfor _ in range(20):\n    time.sleep(0.05)\nREADY = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    s = Session(prelude=False)
    threading.Timer(0.2, s.thread.interrupt).start()  # Ctrl-C (or a time limit) in the middle of a first import
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        s.thread.run(lambda: __import__("slow_heavy_module"))
    assert time.monotonic() - started >= 0.9  # raised once the import had ended, not inside it
    import slow_heavy_module  # whole, not "partially initialized"
    assert slow_heavy_module.READY == 1
    assert s.thread.run(lambda: 42) == 42  # nothing of the interrupt is left for the next job
    s.thread.interrupt()  # an interrupt while nothing runs is for nobody
    assert s.thread.run(lambda: sum(range(100_000))) == 4999950000
    s.close()


def test_history_persists_across_sessions(tmp_path: Path) -> None:
    history = tmp_path / "history"
    child = spawn(history)
    child.send("(* 6 7)\r")
    child.expect("42")
    quit_repl(child)
    assert "(* 6 7)" in history.read_text()
    child = spawn(history)
    child.send("\x1b[A")  # up arrow recalls the last input of the previous session
    child.send("\r")
    child.expect("42")
    quit_repl(child)


def test_tab_completes_a_user_definition_and_commands_work(tmp_path: Path) -> None:
    child = spawn(tmp_path / "history")
    child.send("(define zebra-count 3)\r")
    child.expect("zebra-count")
    child.send("(+ 1 zebr\t")
    child.send(")\r")
    child.expect(r"\D4\r\n")
    child.send(",help car\r")
    child.expect("First element of a non-empty list")
    child.send(",time (+ 1 2)\r")
    child.expect(r"ms")
    child.send(",quit\r")
    child.expect(pexpect.EOF)


@pytest.fixture(scope="module")
def session() -> Session:
    return Session()


def test_completion_of_symbols_user_definitions_and_query_clauses(session: Session) -> None:
    names = [c for c, _ in completions(session, "(de")]
    assert {"define", "defined?", "defmacro", "defn"} <= set(names)
    session.eval_text("(define (retention-rate x) \"Share of players who came back.\" x)")
    ((name, meta),) = completions(session, "(retention-r")
    assert name == "retention-rate" and meta == "Share of players who came back."
    assert [c for c, _ in completions(session, "(query (type per")] == ["persona-inquiry"]
    session.eval_text("(define query-types (append query-types '(what-if)))")  # the evaluator's list is the one offered
    assert [c for c, _ in completions(session, "(query (type wh")] == ["what-if"]
    session.eval_text("(define *query-targets* '(competitive-players player-churn))")
    assert [c for c, _ in completions(session, "(query (type prediction) (target pl")] == ["player-churn"]
    assert ":k" in [c for c, _ in completions(session, "(search \"x\" :")]


def test_documentation_of_forms_macros_and_primitives(session: Session) -> None:
    assert documentation(session, "if").startswith("special form if")
    assert documentation(session, "cond").startswith("macro cond")
    assert documentation(session, "search").startswith("primitive (search text :k :source :since :until)")
    assert "not defined" in documentation(session, "nope")


def test_is_complete_uses_the_reader() -> None:
    assert is_complete("(+ 1 2)") and is_complete("(+ 1 2))")  # the stray ) is reported, not waited on
    assert not is_complete("(+ 1") and not is_complete('"open') and not is_complete("#| open")


# ---- the lexer --------------------------------------------------------------------------

def test_lexer_is_registered_for_name_and_extension() -> None:
    assert isinstance(get_lexer_by_name("pilang"), PilangLexer)
    assert isinstance(get_lexer_for_filename("tour.pil"), PilangLexer)


def test_every_token_class_of_the_grammar_is_highlighted() -> None:
    text = "(define x #t) ; note\n#| block |# #;(gone) [1 -2.5e3] {:k \"s\\n\"} 'q `(a ,b ,@c) |odd name| (a . b)"
    tokens = {(t, v) for t, v in PilangLexer().get_tokens(text) if v.strip()}
    expected = {(Keyword, "define"), (Name, "x"), (Keyword.Constant, "#t"), (Comment.Single, "; note"),
                (Comment.Multiline, "#| block |#"), (Comment.Special, "#;"), (Number, "1"), (Number, "-2.5e3"),
                (Name.Constant, ":k"), (String, '"s\\n"'), (Operator, "'"), (Operator, "`"), (Operator, ","),
                (Operator, ",@"), (Name.Variable, "|odd name|"), (Punctuation, "."), (Punctuation, "("),
                (Punctuation, "["), (Punctuation, "{")}
    assert expected <= tokens
    assert (Token.Error, "#") in set(PilangLexer().get_tokens("#x"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_lexing_never_raises_and_keeps_every_character(text: str) -> None:
    tokens = list(PilangLexer(stripnl=False).get_tokens(text))
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert "".join(v for _, v in tokens) == (expected if expected.endswith("\n") else expected + "\n")
