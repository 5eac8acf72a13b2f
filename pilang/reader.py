"""The reader: text -> datums with source spans, parsed by grammar/pilang.lark (LALR)."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from .datum import Keyword, Pair, Span, SrcMap, SrcVector, Symbol
from .errors import PilangError, remember_source
from .resources import grammar_path

OPENERS = {"LPAR": ")", "LSQB": "]", "LBRACE": "}"}
CLOSERS = {"RPAR": ")", "RSQB": "]", "RBRACE": "}"}
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "0": "\0", "a": "\a",
           "b": "\b", "f": "\f", "v": "\v", "e": "\x1b", "|": "|", "\n": ""}
HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
QUOTE, QUASIQUOTE = Symbol("quote"), Symbol("quasiquote")
UNQUOTE, UNQUOTE_SPLICING = Symbol("unquote"), Symbol("unquote-splicing")
FLOAT_SPECIALS = {"+inf.0": float("inf"), "-inf.0": float("-inf"), "+nan.0": float("nan")}
INT_RE = re.compile(r"[+-]?\d+\Z")


class _Empty:
    """The empty list `()` while its parent is built: nil itself cannot carry a span."""

    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span


class _Discarded:
    """A `#;`-commented datum, dropped by the enclosing form."""

    __slots__ = ()


DISCARDED = _Discarded()


class _Builder(Transformer):
    """Builds datums bottom-up during the LALR parse; atoms are converted with their spans."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.file = "<input>"

    def _span(self, tok: Token) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    def _between(self, a: Token, b: Token) -> Span:
        return Span(self.file, a.line, a.column, b.end_line, b.end_column)

    def convert(self, item: Any) -> tuple[Any, Span]:
        """A child of a form -> (datum, span)."""
        if isinstance(item, Token):
            return self.atom(item), self._span(item)
        if type(item) is _Empty:
            return None, item.span
        return item, item.span

    def atom(self, tok: Token) -> Any:
        """Turn an atom token into its value."""
        kind, text = tok.type, tok.value
        if kind == "SYMBOL":
            return None if text == "nil" else Symbol(text)
        if kind == "NUMBER":
            if text in FLOAT_SPECIALS:
                return FLOAT_SPECIALS[text]
            return int(text) if INT_RE.match(text) else float(text)
        if kind == "STRING":
            return self.unescape(tok, text[1:-1], 1)
        if kind == "KEYWORD":
            return Keyword(text[1:])
        if kind == "BOOLEAN":
            return text in ("#t", "#true")
        return Symbol(self.unescape(tok, text[1:-1], 1))  # PIPE_SYMBOL

    def unescape(self, tok: Token, body: str, offset: int) -> str:
        """Decode backslash escapes; an invalid one is a syntax error pointing at it."""
        if "\\" not in body:
            return body
        out: list[str] = []
        i = 0
        while i < len(body):
            c = body[i]
            if c != "\\":
                out.append(c)
                i += 1
                continue
            e = body[i + 1]
            if e in ESCAPES:
                out.append(ESCAPES[e])
                i += 2
            elif e in HEX_ESCAPES:
                digits = body[i + 2:i + 2 + HEX_ESCAPES[e]]
                if len(digits) != HEX_ESCAPES[e] or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                    self.bad_escape(tok, offset + i, 2 + len(digits), f"\\{e} needs {HEX_ESCAPES[e]} hex digits")
                code = int(digits, 16)
                if code > 0x10FFFF:
                    self.bad_escape(tok, offset + i, 2 + len(digits), "code point beyond U+10FFFF")
                out.append(chr(code))
                i += 2 + len(digits)
            else:
                self.bad_escape(tok, offset + i, 2, f"invalid escape \\{e}"
                                f" (valid: \\n \\t \\r \\\\ \\\" \\0 \\xHH \\uHHHH \\UHHHHHHHH)")
        return "".join(out)

    def bad_escape(self, tok: Token, index: int, width: int, message: str) -> None:
        """Raise a syntax error at character `index` of the token's text."""
        before = tok.value[:index]
        line = tok.line + before.count("\n")
        col = (index - before.rfind("\n")) if "\n" in before else tok.column + index
        raise PilangError("syntax", message, Span(self.file, line, col, line, col + width))

    def build_list(self, open_tok: Token, items: list[Any], close_tok: Token, tail: Any = None) -> Any:
        """Cons up a list from children, recording the list span and each element's span."""
        span = self._between(open_tok, close_tok)
        result = tail
        for item in reversed(items):
            if item is DISCARDED:
                continue
            datum, dspan = self.convert(item)
            cell = Pair(datum, result)
            cell.cspan = dspan
            result = cell
        if result is None:
            return _Empty(span)
        result.span = span
        return result

    def start(self, items: list[Any]) -> list[tuple[Any, Span]]:
        return [self.convert(x) for x in items if x is not DISCARDED]

    def discard(self, _items: list[Any]) -> _Discarded:
        return DISCARDED

    def list(self, items: list[Any]) -> Any:
        return self.build_list(items[0], items[1:-1], items[-1])

    def dotted(self, items: list[Any]) -> Any:
        tail, _ = self.convert(items[-2])
        head = self.build_list(items[0], items[1:-3], items[-1], tail)
        if type(head) is _Empty:  # only discarded items before the dot
            raise PilangError("syntax", "a dotted list needs an element before '.'", head.span)
        return head

    def vector(self, items: list[Any]) -> SrcVector:
        vec = SrcVector()
        vec.spans = []
        for item in items[1:-1]:
            if item is not DISCARDED:
                datum, span = self.convert(item)
                vec.append(datum)
                vec.spans.append(span)
        vec.span = self._between(items[0], items[-1])
        return vec

    def map(self, items: list[Any]) -> SrcMap:
        span = self._between(items[0], items[-1])
        entries = [self.convert(x) for x in items[1:-1] if x is not DISCARDED]
        if len(entries) % 2:
            raise PilangError("syntax", f"a map needs key-value pairs, got {len(entries)} items"
                              " (odd)", entries[-1][1])
        m = SrcMap()
        m.spans = []
        for (k, kspan), (v, _) in zip(entries[::2], entries[1::2]):
            try:
                m[k] = v
            except TypeError:
                raise PilangError("syntax", "a map key must be hashable (not a vector or map)", kspan) from None
            m.spans.append(kspan)
        m.span = span
        return m

    def _prefixed(self, head: Symbol, items: list[Any]) -> Pair:
        datum, dspan = self.convert(items[1])
        inner = Pair(datum, None)
        inner.cspan = dspan
        form = Pair(head, inner)
        form.cspan = self._span(items[0])
        form.span = Span(self.file, items[0].line, items[0].column, dspan.end_line, dspan.end_col)
        return form

    def quote(self, items: list[Any]) -> Pair:
        return self._prefixed(QUOTE, items)

    def quasiquote(self, items: list[Any]) -> Pair:
        return self._prefixed(QUASIQUOTE, items)

    def unquote(self, items: list[Any]) -> Pair:
        return self._prefixed(UNQUOTE, items)

    def unquote_splicing(self, items: list[Any]) -> Pair:
        return self._prefixed(UNQUOTE_SPLICING, items)


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _Builder]:
    builder = _Builder()
    parser = Lark(grammar_path().read_text(), parser="lalr", lexer="basic",
                  transformer=builder, cache=True, maybe_placeholders=False)
    return parser, builder


def read(text: str, file: str = "<input>") -> list[tuple[Any, Span]]:
    """Read every datum in `text`, returning (datum, span) pairs; syntax errors name the place."""
    remember_source(file, text)
    parser, builder = _parser()
    builder.file = file
    try:
        return parser.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(parser, text, file, exc) from None


def read_one(text: str, file: str = "<input>") -> Any:
    """Read exactly one datum from `text`."""
    forms = read(text, file)
    if len(forms) != 1:
        raise PilangError("syntax", f"expected one datum, found {len(forms)}",
                          forms[1][1] if forms else None)
    return forms[0][0]


def decode_source(data: bytes, file: str) -> str:
    """Decode a source file as UTF-8, or raise a syntax error naming the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        remember_source(file, data.decode("utf-8", errors="replace"))
        raise PilangError("syntax", f"not valid UTF-8: byte 0x{data[exc.start]:02x}"
                          f" (pilang source files are UTF-8)", Span(file, line, col, line, col + 1)) from None


def read_file(path: str | Path) -> list[tuple[Any, Span]]:
    """Read all datums of a UTF-8 source file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PilangError("io", f"cannot read {path}: {exc.strerror or exc}") from None
    return read(decode_source(data, str(path)), str(path))


def _tokens(parser: Lark, text: str) -> list[Token]:
    """The tokens of `text` up to the first lexical error."""
    out: list[Token] = []
    try:
        for tok in parser.lex(text):
            out.append(tok)
    except UnexpectedInput:
        pass
    return out


def _syntax_error(parser: Lark, text: str, file: str, exc: UnexpectedInput) -> PilangError:
    """Explain a parse failure in a user's terms: unbalanced, unterminated, unexpected."""
    def at(line: int, col: int, width: int = 1) -> Span:
        return Span(file, line, col, line, col + width)

    stack: list[Token] = []
    for tok in _tokens(parser, text):
        if tok.type in OPENERS:
            stack.append(tok)
        elif tok.type in CLOSERS:
            if not stack:
                return PilangError("syntax", f"unexpected '{tok}': no form is open here",
                                   at(tok.line, tok.column))
            opener = stack.pop()
            if OPENERS[opener.type] != tok.value:
                return PilangError("syntax", f"'{tok}' does not match '{opener}' opened at line "
                                   f"{opener.line}, column {opener.column} (expected"
                                   f" '{OPENERS[opener.type]}')", at(tok.line, tok.column))
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        rest = text[exc.pos_in_stream:]
        if ch == '"':
            return PilangError("syntax", "unterminated string: no closing '\"'",
                               at(exc.line, exc.column), incomplete=True)
        if rest.startswith("#|"):
            return PilangError("syntax", "unterminated block comment: no closing '|#'",
                               at(exc.line, exc.column, 2), incomplete=True)
        if ch == "|":
            return PilangError("syntax", "unterminated |symbol|: no closing '|'",
                               at(exc.line, exc.column), incomplete=True)
        if ch == "#":
            word = re.match(r"#[^\s()\[\]{}\"';`,]*", rest).group(0)
            return PilangError("syntax", f"unknown syntax '{word}' (known: #t #f #true #false"
                               " #| |# #;)", at(exc.line, exc.column, len(word)))
        if ch == ":":
            return PilangError("syntax", "a keyword needs a name after ':'", at(exc.line, exc.column))
        return PilangError("syntax", f"unexpected character {ch!r}", at(exc.line, exc.column))
    if stack:
        opener = stack[-1]
        return PilangError("syntax", f"'{opener}' is never closed (expected '{OPENERS[opener.type]}'"
                           " before the end of input)", at(opener.line, opener.column), incomplete=True)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return PilangError("syntax", "input ended where a datum was expected",
                           at(exc.line if exc.line > 0 else text.count("\n") + 1,
                              exc.column if exc.column > 0 else 1), incomplete=True)
    tok = exc.token
    what = {"DOT": "'.' can only appear before the last element of a list",
            "DATUM_COMMENT": "'#;' must be followed by a datum"}.get(tok.type, f"unexpected '{tok}'")
    return PilangError("syntax", what, Span(file, tok.line, tok.column, tok.end_line, tok.end_column))
