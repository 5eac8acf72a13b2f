"""PilangLexer: pygments highlighting built from the terminals of grammar/pilang.lark, so the
grammar stays the one definition of the syntax. Registered as the pygments lexer `pilang`."""
from __future__ import annotations

import re

from pygments.lexer import RegexLexer
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Token,
)

# Grammar terminal -> pygments token type.
TOKEN_TYPES = {
    "COMMENT": Comment.Single, "BLOCK_COMMENT": Comment.Multiline, "DATUM_COMMENT": Comment.Special,
    "STRING": String, "NUMBER": Number, "BOOLEAN": Keyword.Constant, "KEYWORD": Name.Constant,
    "PIPE_SYMBOL": Name.Variable, "SYMBOL": Name, "DOT": Punctuation,
    "LPAR": Punctuation, "RPAR": Punctuation, "LSQB": Punctuation, "RSQB": Punctuation,
    "LBRACE": Punctuation, "RBRACE": Punctuation, "QUOTE": Operator, "QUASIQUOTE": Operator,
    "UNQUOTE_SPLICING": Operator, "UNQUOTE": Operator,
}
# Names shown as keywords: the special forms and the prelude's derived forms.
SPECIAL_FORMS = ("quote", "quasiquote", "unquote", "unquote-splicing", "if", "define", "set!", "lambda", "fn",
                 "let", "let*", "letrec", "begin", "and", "or", "defmacro", "try", "catch", "finally", "load")
DERIVED_FORMS = ("cond", "when", "unless", "case", "->", "->>", "assert", "dotimes", "dolist", "defn", "else",
                 "query", "type", "target", "parameters")
ORDER = ("BLOCK_COMMENT", "COMMENT", "DATUM_COMMENT", "STRING", "NUMBER", "BOOLEAN", "DOT", "KEYWORD",
         "PIPE_SYMBOL", "UNQUOTE_SPLICING", "UNQUOTE", "QUOTE", "QUASIQUOTE",
         "LPAR", "RPAR", "LSQB", "RSQB", "LBRACE", "RBRACE", "SYMBOL")


def _rules() -> list[tuple[str, object]]:
    from .reader import _parser
    patterns = {t.name: t.pattern.to_regexp() for t in _parser()[0].terminals}
    delimiter = r"(?=[\s()\[\]{}\"';`,]|$)"
    words = "|".join(re.escape(w) for w in SPECIAL_FORMS + DERIVED_FORMS)
    rules: list[tuple[str, object]] = [(r"\s+", Text)]
    for name in ORDER:
        if name == "SYMBOL":
            rules.append((rf"(?:{words}){delimiter}", Keyword))
        rules.append((patterns[name], TOKEN_TYPES[name]))
    rules.append((r'"(?:[^"\\]|\\.)*\Z', String))  # a string still being typed
    rules.append((r".", Token.Error))  # unknown # syntax, a lone ':' ...
    return rules


class PilangLexer(RegexLexer):
    """Lexer for pilang, the Player Intelligence Language."""

    name = "pilang"
    aliases = ["pilang"]
    filenames = ["*.pil"]
    mimetypes = ["text/x-pilang"]
    flags = re.MULTILINE | re.DOTALL
    tokens = {"root": _rules()}
