"""What a front end asks about the language as a person types: whether the input is complete, the
documentation of a name, completions of the word being typed, and where that word begins. One module
for the REPL, the Jupyter kernel and the team server (none reaches into another's helpers)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .compiler import SPECIAL_DOCS
from .datum import Keyword
from .errors import PilangError
from .output.notation import write_string
from .reader import read
from .registry import defined_in, signature_of
from .runtime import Macro

HELP = """pilang REPL commands:
  ,help [name]   this text, or the documentation of a primitive, procedure, macro or special form
  ,doc name      the same as ,help name
  ,load FILE     evaluate a .pil file
  ,time EXPR     evaluate EXPR and print how long it took
  ,workspace DIR switch to the workspace in DIR (without DIR: say which one is in use)
  ,voice FILE    transcribe a spoken question, show the query made of it, and run it
  ? QUESTION     a question in plain words: the query it means is shown, then run (as (ask "QUESTION"))
  ,quit          leave (Ctrl-D also does)
Enter runs the input once it holds complete forms; Alt-Enter (or Esc Enter) inserts a newline.
Ctrl-C interrupts a running evaluation, or clears the line at the prompt. Ctrl-R searches history."""


def completeness(text: str) -> tuple[str, str]:
    """("complete" | "incomplete" | "invalid", indent for the next line), as the reader sees `text`; a
    plain-words question (`? ...`) is one line, complete."""
    if text.lstrip().startswith("?"):
        return "complete", ""
    try:
        read(text, "<check>")
    except PilangError as err:
        if err.incomplete:
            depth = max(0, sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}"))
            return "incomplete", "  " * depth
        return "invalid", ""
    return "complete", ""


def is_complete(text: str) -> bool:
    """True when `text` holds only whole forms (a syntax error also counts: it is reported)."""
    return completeness(text)[0] != "incomplete"


def documentation(session: Any, name: str) -> str:
    """The help text for a name: special form, macro, procedure or primitive."""
    if getattr(session, "remote", False):  # a team server's session: it knows its names
        return session.documentation(name)
    if name in SPECIAL_DOCS:
        return f"special form {name}\n  {SPECIAL_DOCS[name]}"
    if name not in session.env or name.startswith(" "):
        return f"{name} is not defined"
    value = session.env[name]
    if isinstance(value, Macro):
        return f"macro {name}\n  {value.doc or '(no documentation)'}"
    if callable(value):
        sig = getattr(value, "__pilang_signature__", None) or signature_of(value, name)
        text = f"{'primitive' if getattr(value, '__pilang_primitive__', False) else 'procedure'} {sig}\n" \
               f"  {(value.__doc__ or '(no documentation)').strip()}"
        return text + (f"\n  defined in {defined_in(value)}" if getattr(value, "__pilang_primitive__", False) else "")
    return f"{name} = {write_string(value)[:200]}"


def completions(session: Any, text_before: str) -> list[tuple[str, str]]:
    """(candidate, one-line description) for the word being typed, in context."""
    if getattr(session, "remote", False):
        return session.completions(text_before)
    start = len(text_before) - word_length(text_before)
    word = text_before[start:]
    before = text_before[:start].rstrip()
    if before.endswith("(type"):
        pool: Iterable[str] = session.query_types()  # the query evaluator's own list
    elif before.endswith("(target"):
        pool = session.query_targets()
    elif word.startswith(":"):  # the keyword arguments of the procedure being called, then any keyword
        head = session.env.get(call_head(before) or "", None)
        sig = getattr(head, "__pilang_signature__", "")
        own = [w.rstrip(")") for w in sig.split() if w.startswith(":")]
        pool = own + sorted({":" + k.name for k in Keyword._table.values()} - set(own))
    else:
        # the library's own helpers (the query evaluator's handlers, its parsers) are callable, not offered
        internal = {getattr(x, "name", x) for x in session.env.get("*internal*") or ()}
        pool = sorted(set(SPECIAL_DOCS) | {n for n in session.env if not n.startswith((" ", "__"))
                                           and n not in internal})
    out = []
    for name in pool:
        if name.startswith(word):
            doc = documentation(session, name).split("\n")
            out.append((name, doc[1].strip() if len(doc) > 1 else doc[0]))
    return out


def call_head(text: str) -> str | None:
    """The operator of the innermost form still open at the end of `text`."""
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        c = text[i]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth == 0:
                rest = text[i + 1:].split()
                return rest[0] if c == "(" and rest else None
            depth -= 1
    return None


def word_length(before: str) -> int:
    """How many characters of `before` belong to the word being typed (the completion's span)."""
    n = 0
    while n < len(before) and before[-1 - n] not in " \t\n()[]{}\"'`,":
        n += 1
    return n
