"""The pilang REPL: a prompt-toolkit session (reader-aware Enter, highlighting, completion with
docstrings, persistent history) on a terminal, and a plain form reader when stdin is a pipe."""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from .datum import Keyword
from .errors import PilangError
from .printer import write_string
from .reader import read
from .registry import defined_in, signature_of
from .runtime import Macro
from .session import Session

PROMPT, CONTINUE = "pilang> ", "   ...> "
QUERY_TYPES = ("persona-inquiry", "prediction", "analytics", "comparison")
HELP = """pilang REPL commands:
  ,help [name]   this text, or the documentation of a primitive, procedure, macro or special form
  ,doc name      the same as ,help name
  ,load FILE     evaluate a .pil file
  ,time EXPR     evaluate EXPR and print how long it took
  ,workspace DIR switch to the workspace in DIR (without DIR: say which one is in use)
  ,voice FILE    transcribe a spoken question, show the query made of it, and run it
  ,quit          leave (Ctrl-D also does)
Enter runs the input once it holds complete forms; Alt-Enter (or Esc Enter) inserts a newline.
Ctrl-C interrupts a running evaluation, or clears the line at the prompt. Ctrl-R searches history."""
SPECIAL_DOCS = {
    "quote": "(quote datum) or 'datum: the datum itself, unevaluated.",
    "quasiquote": "`template: the template with ,x evaluated and ,@xs spliced in.",
    "if": "(if test then [else]): then when test is true (anything but #f and nil), else otherwise.",
    "define": "(define name value) or (define (name params...) body...): bind a name (globally at top level).",
    "set!": "(set! name value): change an existing binding.",
    "lambda": "(lambda (params...) body...): a procedure; (a . rest) or [a & rest] take rest arguments.",
    "fn": "(fn (params...) body...): the same as lambda.",
    "let": "(let ((name value) ...) body...) binds in parallel; (let loop ((i 0)) ...) is a named loop.",
    "let*": "(let* ((name value) ...) body...): bind in order, each seeing the previous.",
    "letrec": "(letrec ((name value) ...) body...): mutually recursive bindings.",
    "begin": "(begin form...): evaluate in order, yield the last.",
    "and": "(and x...): the first false value, else the last value (#t for none).",
    "or": "(or x...): the first true value, else #f.",
    "defmacro": "(defmacro name (params...) body...): a macro from argument datums to a new form.",
    "try": "(try body... (catch e handler...) (finally cleanup...)): handle errors raised in body.",
    "load": '(load "file.pil"): evaluate a file (relative to the file that says it).',
}


def completeness(text: str) -> tuple[str, str]:
    """("complete" | "incomplete" | "invalid", indent for the next line), as the reader sees `text`."""
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


def documentation(session: Session, name: str) -> str:
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


def completions(session: Session, text_before: str) -> list[tuple[str, str]]:
    """(candidate, one-line description) for the word being typed, in context."""
    if getattr(session, "remote", False):
        return session.completions(text_before)
    start = len(text_before) - _word_length(text_before)
    word = text_before[start:]
    before = text_before[:start].rstrip()
    if before.endswith("(type"):
        pool: Iterable[str] = QUERY_TYPES
    elif before.endswith("(target"):
        pool = session.query_targets()
    elif word.startswith(":"):  # the keyword arguments of the procedure being called, then any keyword
        head = session.env.get(_call_head(before) or "", None)
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


def run_command(session: Session, line: str, out: TextIO) -> bool:
    """Run a ,command; False for ,quit."""
    cmd, _, arg = line.strip()[1:].partition(" ")
    arg = arg.strip()
    if cmd in ("quit", "q", "exit"):
        return False
    if cmd in ("help", "h", "doc"):
        out.write((documentation(session, arg) if arg else HELP) + "\n")
    elif cmd == "load":
        try:
            session.load(Path(arg).expanduser())
            out.write(f"loaded {arg}\n")
        except PilangError as err:
            print(err.render(), file=sys.stderr)
    elif cmd == "voice":
        _eval_print(session, f"(voice-query {json.dumps(arg)})", "<voice>", out, pretty=True)
    elif cmd == "workspace" and getattr(session, "remote", False):
        out.write(f"workspace: the one the server at {session.url} works on\n" if not arg else
                  ",workspace: a server works on its one workspace (run pilang locally to open another)\n")
    elif cmd == "workspace":
        if arg:
            _eval_print(session, f"(open-workspace {json.dumps(arg)})", "<workspace>", out, pretty=True)
        else:
            from pilang_engine.workspace.store import default_path
            out.write(f"workspace: {Path(session.engine.path or default_path()).resolve()}\n")
    elif cmd == "time":
        started = time.perf_counter()
        _eval_print(session, arg, "<time>", out, pretty=True)
        out.write(f"; {1000 * (time.perf_counter() - started):.1f} ms\n")
    else:
        out.write(f"unknown command ,{cmd} (try ,help)\n")
    return True


def _eval_print(session: Session, text: str, name: str, out: TextIO, pretty: bool = False) -> int:
    """Evaluate one input; print its value (unless nil) or its error. 1 after an error. `pretty` (the
    interactive REPL) prints a long map as a key/value table; a pipe gets the written form."""
    try:
        value = session.eval_text(text, name)
    except PilangError as err:
        out.flush()
        print(err.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        out.flush()
        print("interrupted", file=sys.stderr)
        return 1
    if value is not None:
        if pretty:
            from .render import value_lines
            out.write("\n".join(value_lines(value)) + "\n")
        else:
            out.write(write_string(value) + "\n")
    out.flush()
    session.say_notes()
    return 0


def pipe_repl(session: Session, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Evaluate forms read from a pipe, printing values; exit status 1 if any form failed."""
    status, buffer, n = 0, "", 0
    for line in stdin:
        buffer += line
        if buffer.strip() and is_complete(buffer):
            n += 1
            status = _eval_print(session, buffer, f"<stdin-{n}>", stdout) or status
            buffer = ""
    if buffer.strip():
        status = _eval_print(session, buffer, f"<stdin-{n + 1}>", stdout) or status
    return status


def history_file() -> Path:
    """The REPL history, in the user's data directory ($PILANG_HISTORY overrides)."""
    import os

    import platformdirs
    path = Path(os.environ.get("PILANG_HISTORY") or Path(platformdirs.user_data_dir("pilang")) / "history")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def make_prompt(session: Session, **kwargs: Any) -> Any:
    """The prompt-toolkit session: reader-aware Enter, highlighting, completion, history."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
    from prompt_toolkit.lexers import PygmentsLexer

    from .lexer import PilangLexer

    class PilangCompleter(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Any:
            before = document.text_before_cursor
            for name, meta in completions(session, before):
                yield Completion(name, start_position=-_word_length(before), display_meta=meta[:70])

    keys = KeyBindings()

    @keys.add("enter")
    def _(event: Any) -> None:
        buf = event.current_buffer
        text = buf.document.text
        status, indent = completeness(text)
        if text.strip() and not text.strip().startswith(",") and status == "incomplete":
            buf.insert_text("\n" + indent)
        else:
            buf.validate_and_handle()

    @keys.add("escape", "enter")
    def _(event: Any) -> None:
        event.current_buffer.insert_text("\n")

    return PromptSession(
        message=PROMPT, multiline=True, prompt_continuation=CONTINUE, key_bindings=keys,
        lexer=PygmentsLexer(PilangLexer), completer=PilangCompleter(), complete_while_typing=False,
        history=FileHistory(str(history_file())), auto_suggest=AutoSuggestFromHistory(),
        enable_history_search=False, input_processors=[HighlightMatchingBracketProcessor(chars="[](){}")],
        **kwargs)


def _call_head(text: str) -> str | None:
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


def _word_length(before: str) -> int:
    n = 0
    while n < len(before) and before[-1 - n] not in " \t\n()[]{}\"'`,":
        n += 1
    return n


def repl(session: Session, prompt: Any = None, out: TextIO = sys.stdout) -> int:
    """The interactive loop: errors print with their caret and every definition survives."""
    prompt = prompt or make_prompt(session)
    out.write("pilang — ,help for commands, Ctrl-D to leave\n")
    if getattr(session, "remote", False):
        me = session.whoami()
        out.write(f"connected to {session.url} as {me['developer']} ({me['role']})\n")
    n = 0
    while True:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:
            continue  # Ctrl-C at the prompt clears the line
        except EOFError:
            return 0
        if not text.strip():
            continue
        if text.strip().startswith(","):
            if not run_command(session, text, out):
                return 0
            continue
        n += 1
        _eval_print(session, text, f"<repl-{n}>", out, pretty=True)
        out.flush()

