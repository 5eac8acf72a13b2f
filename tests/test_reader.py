"""The reader: datums, their spans, write/read round trips, and bad input."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilang.datum import Keyword, Span, Symbol, from_iter, gensym
from pilang.errors import PilangError
from pilang.output.notation import write_string
from pilang.reader import read, read_file, read_one


def test_atoms() -> None:
    forms = [d for d, _ in read('42 -7 3.5 1e3 -.5 "s\\n" #t #f #true nil :kw sym |odd sym| +inf.0')]
    assert forms == [42, -7, 3.5, 1000.0, -0.5, "s\n", True, False, True, None, Keyword("kw"),
                     Symbol("sym"), Symbol("odd sym"), math.inf]


def test_symbols_that_look_like_numbers_or_dots() -> None:
    assert [d for d, _ in read("- + ... 1+ -> ->> set! persona? a.b")] == [
        Symbol(n) for n in ("-", "+", "...", "1+", "->", "->>", "set!", "persona?", "a.b")]


def test_compound_and_prefixed_forms() -> None:
    (lst, _), (vec, _), (m, _), (q, _), (qq, _), (dotted, _) = read(
        "(a (b)) [1 2] {:a 1} 'x `(a ,b ,@c) (1 . 2)")
    assert lst == from_iter([Symbol("a"), from_iter([Symbol("b")])])
    assert vec == [1, 2] and m == {Keyword("a"): 1}
    assert q == from_iter([Symbol("quote"), Symbol("x")])
    assert write_string(qq) == "`(a ,b ,@c)"
    assert dotted.car == 1 and dotted.cdr == 2


def test_comments_are_skipped() -> None:
    text = "; line\n(a #| block\ncomment |# b #;(ignored form) c) #;skipped d"
    assert [write_string(d) for d, _ in read(text)] == ["(a b c)", "d"]


def test_every_datum_carries_file_line_column_and_end() -> None:
    forms = read('(define x\n  "text")\n:k', "f.pil")
    (lst, span), (kw, kspan) = forms
    assert span == Span("f.pil", 1, 1, 2, 10)
    assert kspan == Span("f.pil", 3, 1, 3, 3)
    cells = []
    p = lst
    while p is not None:
        cells.append(p.cspan)
        p = p.cdr
    assert cells == [Span("f.pil", 1, 2, 1, 8), Span("f.pil", 1, 9, 1, 10), Span("f.pil", 2, 3, 2, 9)]


def test_vector_and_map_element_spans() -> None:
    (vec, _), (m, _) = read("[a  bb]\n{:k 1}", "v.pil")
    assert vec.spans == [Span("v.pil", 1, 2, 1, 3), Span("v.pil", 1, 5, 1, 7)]
    assert m.span == Span("v.pil", 2, 1, 2, 7) and m.spans == [Span("v.pil", 2, 2, 2, 4)]


def test_ten_thousand_deep_nesting_reads_and_writes() -> None:
    depth = 10_000
    datum = read_one("(" * depth + "x" + ")" * depth)
    text = write_string(datum)
    assert text.count("(") == depth
    assert read_one(text) == datum


# ---- write -> read round trips -------------------------------------------------------------

names = st.from_regex(r"[a-zA-Z!$%&*/<=>?^_~+\-][a-zA-Z0-9!$%&*/<=>?^_~+\-.]{0,8}", fullmatch=True)
atoms = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.text(max_size=20), st.booleans(), st.none(),
    names.map(Symbol), names.map(Keyword), st.text(min_size=1, max_size=8).map(Symbol))
datums = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5).map(from_iter),
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.integers(), names.map(Keyword), st.text(max_size=5)), inner, max_size=4),
        st.tuples(st.lists(inner, min_size=1, max_size=3), atoms.filter(lambda a: a is not None)).map(
            lambda t: from_iter(t[0], t[1]))),
    max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(datums)
def test_write_then_read_gives_an_equal_datum(datum: object) -> None:
    assert read_one(write_string(datum)) == datum


def test_gensyms_are_written_unreadably() -> None:
    text = write_string(gensym("tmp"))
    assert text.startswith("#:tmp")
    with pytest.raises(PilangError):
        read_one(text)


def test_quote_forms_write_short() -> None:
    assert write_string(read_one("(quote (unquote-splicing x))")) == "',@x"


# ---- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, line, col, message, incomplete", [
    ("(a (b c)", 1, 1, "'(' is never closed", True),
    ("(a\n  [b)", 2, 5, "')' does not match '[' opened at line 2, column 3", False),
    ("(a))", 1, 4, "unexpected ')': no form is open here", False),
    (")", 1, 1, "unexpected ')'", False),
    ('(print "abc)', 1, 8, "unterminated string", True),
    ('"a\\qb"', 1, 3, "invalid escape \\q", False),
    ('"x\n \\u12"', 2, 2, "\\u needs 4 hex digits", False),
    ("#x", 1, 1, "unknown syntax '#x'", False),
    ("{:a}", 1, 2, "a map needs key-value pairs", False),
    ("(. a)", 1, 2, "'.' can only appear before the last element", False),
    ("'", 1, 1, "input ended where a datum was expected", True),
    ("#| never closed", 1, 1, "unterminated block comment", True),
])
def test_syntax_errors_name_the_place(text: str, line: int, col: int, message: str, incomplete: bool) -> None:
    with pytest.raises(PilangError) as info:
        read(text, "bad.pil")
    err = info.value
    assert err.kind == "syntax"
    assert (err.span.file, err.span.line, err.span.col) == ("bad.pil", line, col)
    assert message in err.message
    assert err.incomplete is incomplete
    rendered = err.render().splitlines()
    assert rendered[0].startswith(f"bad.pil:{line}:{col}: syntax error:")
    assert rendered[2].index("^") == 2 + col - 1  # the caret sits under the column


def test_non_utf8_file_is_located(tmp_path) -> None:
    path = tmp_path / "latin1.pil"
    path.write_bytes(b'(print "ok")\n(print "caf\xe9")\n')
    with pytest.raises(PilangError) as info:
        read_file(path)
    assert info.value.span.line == 2 and info.value.span.col == 12
    assert "not valid UTF-8: byte 0xe9" in info.value.message


def test_missing_file_is_an_io_error(tmp_path) -> None:
    with pytest.raises(PilangError) as info:
        read_file(tmp_path / "nope.pil")
    assert info.value.kind == "io"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="()[]{}\"'`,@;#|\\ \nab1.:", max_size=40))
def test_reader_never_fails_with_anything_but_a_pilang_syntax_error(text: str) -> None:
    try:
        read(text)
    except PilangError as err:
        assert err.kind == "syntax" and err.span is not None
