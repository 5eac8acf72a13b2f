"""Errors name their place: exact line:col, the source line, a caret, and the pilang call stack."""
from __future__ import annotations

import pytest

from pilang.errors import PilangError
from pilang.session import Session


@pytest.fixture(scope="module")
def session() -> Session:
    return Session()


def error_of(session: Session, text: str, file: str = "t.pil") -> PilangError:
    with pytest.raises(PilangError) as info:
        session.eval_text(text, file)
    return info.value


@pytest.mark.parametrize("text, kind, line, col, end_col, message", [
    ("(define a 1)\n(+ a unknown-name)", "unbound", 2, 6, 18, "unknown-name is not defined"),
    ("(+ 1\n   (car 5))", "type", 2, 4, 11, "car needs a non-empty list, got integer"),
    ('(list 1 (+ 2 "x"))', "type", 1, 9, 18, "+ cannot combine integer and string"),
    ("(define (two a b) a)\n  (two 1)", "arity", 2, 3, 10, "two is missing 1 required argument"),
    ("(define (one a) a)\n(one 1 2 3)", "arity", 2, 1, 12, "one expects 1 argument, got 3"),
    ("(let ((f 5))\n  (f 1))", "type", 2, 3, 8, "an integer is not a procedure"),
    ('(string-length 42)', "type", 1, 1, 19, "string-length needs a string, got integer"),
    ("(if)", "syntax", 1, 1, 5, "bad if form"),
    ("(lambda (x 1) x)", "syntax", 1, 9, 14, "parameter must be a symbol"),
    ('(error "bad input" 3)', "user", 1, 1, 22, "bad input: 3"),
    ("(/ 1 0)", "value", 1, 1, 8, "division by zero"),
])
def test_runtime_and_compile_errors_point_at_the_form(session: Session, text: str, kind: str, line: int,
                                                       col: int, end_col: int, message: str) -> None:
    err = error_of(session, text)
    assert err.kind == kind
    assert (err.span.file, err.span.line, err.span.col, err.span.end_col) == ("t.pil", line, col, end_col)
    assert message in err.message
    lines = err.render().splitlines()
    assert lines[0] == f"t.pil:{line}:{col}: {kind} error: {err.message}"
    source_line = text.split("\n")[line - 1]
    assert lines[1] == "  " + source_line
    assert lines[2] == "  " + " " * (col - 1) + "^" * (end_col - col)


def test_error_inside_nested_calls_has_the_pilang_call_stack(session: Session) -> None:
    text = ("(define (inner x) (car x))\n"
            "(define (middle x) (+ 1 (inner x)))\n"
            "(define (outer x) (* 2 (middle x)))\n"
            "(outer 7)")
    err = error_of(session, text, "stack.pil")
    assert (err.span.line, err.span.col) == (1, 19)
    names = [name for name, _ in err.stack]
    assert names[-3:] == ["outer", "middle", "inner"]
    where = {name: (span.line, span.col) for name, span in err.stack}
    assert where["outer"] == (3, 24) and where["middle"] == (2, 25)
    assert "in middle at stack.pil:2:25" in err.render()


def test_error_inside_a_macro_expansion_points_at_the_macro_call(session: Session) -> None:
    err = error_of(session, "(define v 1)\n(when (car v) 1)", "macro.pil")
    assert err.kind == "type" and err.span.line == 2


def test_deep_recursion_is_a_pilang_error_not_a_crash(session: Session) -> None:
    err = error_of(session, "(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1)))))\n(deep 100000)")
    assert err.kind == "recursion"
    assert "tail call" in err.message
    assert (err.span.line, err.span.col) == (1, 37)
    assert "more frames" in err.render()  # a long stack is summarised, not printed 50,000 times
    assert session.eval_text("(deep 1000)") == 1000  # and the session goes on


def test_deep_recursion_through_a_primitive_is_also_caught(session: Session) -> None:
    err = error_of(session, "(define (down n) (if (= n 0) 0 (car (map (fn (k) (+ 1 (down (- n 1)))) '(1)))))"
                            "\n(down 100000)")
    assert err.kind == "recursion"


def test_errors_lose_no_definitions(session: Session) -> None:
    session.eval_text("(define kept 41)")
    error_of(session, "(undefined-call)")
    assert session.eval_text("(+ kept 1)") == 42


def test_compile_errors_in_later_forms_keep_earlier_forms(session: Session) -> None:
    error_of(session, "(define earlier 1)\n(let ((x)) (if))")
    assert session.eval_text("earlier") == 1


def test_deeply_nested_code_is_a_clear_error(session: Session) -> None:
    depth = 10_000
    err = error_of(session, "(+ 1 " * depth + "0" + ")" * depth)
    assert err.kind == "syntax" and "nested too deeply" in err.message
    assert session.eval_text("(+ 1 " * 50 + "0" + ")" * 50) == 50
