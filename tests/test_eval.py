"""Evaluator behaviour that the .pil tables cannot express: tail calls, depth, closures, threads."""
from __future__ import annotations

import threading

import pytest

from pilang.datum import from_iter
from pilang.errors import PilangError
from pilang.runtime import MAX_DEPTH
from pilang.session import Session


@pytest.fixture(scope="module")
def session() -> Session:
    return Session()


@pytest.mark.parametrize("program", [
    # self tail call through a global definition
    "(define (count-up i n) (if (= i n) i (count-up (+ i 1) n))) (count-up 0 1000000)",
    # mutual recursion: a tail call to another procedure
    "(define (ev? n) (if (= n 0) #t (od? (- n 1))))"
    "(define (od? n) (if (= n 0) #f (ev? (- n 1))))"
    "(if (ev? 1000000) 1000000 0)",
    # a named let, tail position inside cond (a prelude macro) and and/or
    "(let loop ((i 0)) (cond ((= i 1000000) i) (else (and #t (loop (+ i 1))))))",
    # tail calls through apply and a procedure held in a variable
    "(define (via-apply n) (if (= n 0) 1000000 (apply via-apply (list (- n 1))))) (via-apply 1000000)",
    "(define (hop f n) (if (= n 0) 1000000 (f f (- n 1)))) (hop hop 1000000)",
    # letrec-bound mutual recursion
    "(letrec ((a (fn (n) (if (= n 0) 1000000 (b (- n 1))))) (b (fn (n) (a n)))) (a 1000000))",
])
def test_tail_calls_run_a_million_deep_in_constant_stack(session: Session, program: str) -> None:
    assert session.eval_text(program) == 1_000_000


def test_non_tail_recursion_below_the_limit_works(session: Session) -> None:
    session.eval_text("(define (len xs) (if (null? xs) 0 (+ 1 (len (cdr xs)))))")
    session.env["big"] = from_iter(range(20_000))
    assert session.eval_text("(len big)") == 20_000
    assert MAX_DEPTH > 20_000


def test_closures_made_in_a_loop_each_keep_their_own_variable(session: Session) -> None:
    program = """
      (define (make-adders i acc)
        (if (= i 3) (reverse acc) (make-adders (+ i 1) (cons (fn (y) (+ y i)) acc))))
      (map (fn (f) (f 10)) (make-adders 0 nil))"""
    assert list(session.eval_text(program)) == [10, 11, 12]


def test_redefining_a_procedure_is_seen_by_its_old_callers(session: Session) -> None:
    session.eval_text("(define (g) 1) (define (caller) (g))")
    session.eval_text("(define (g) 2)")
    assert session.eval_text("(caller)") == 2


def test_a_wrapped_self_recursive_procedure_calls_its_new_binding(session: Session) -> None:
    session.eval_text("""
      (define calls 0)
      (define (countdown n) (if (= n 0) 'done (countdown (- n 1))))
      (define original countdown)
      (define (countdown n) (set! calls (+ calls 1)) (original n))""")
    assert session.eval_text("(countdown 5)").name == "done"
    assert session.eval_text("calls") == 6  # every recursive step went through the new binding


def test_evaluation_runs_on_one_big_stack_thread(session: Session) -> None:
    name = session.eval_text("(current-thread-name)") if "current-thread-name" in session.env else None
    assert name is None  # no such primitive: checked through the session object instead
    seen = session.run(lambda: threading.current_thread().name)
    assert seen == "pilang-eval" and seen == session.run(lambda: threading.current_thread().name)


def test_eval_apply_and_macroexpand_from_python(session: Session) -> None:
    assert session.eval_text("(eval (list '+ 1 2))") == 3
    assert session.eval_text("(apply (fn args (length args)) 1 2 '(3 4))") == 4
    assert str(session.eval_text("(write-string (macroexpand '(unless x y)))")) == "(if x nil (begin y))"


def test_python_exceptions_inside_primitives_become_pilang_errors(session: Session) -> None:
    with pytest.raises(PilangError) as info:
        session.eval_text("(sort (list 1 \"a\"))", "p.pil")
    assert info.value.kind == "type" and info.value.span.file == "p.pil"


def test_sessions_are_independent() -> None:
    a, b = Session(), Session()
    a.eval_text("(define only-in-a 1)")
    with pytest.raises(PilangError):
        b.eval_text("only-in-a")
