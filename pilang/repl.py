"""The pilang REPL: a prompt-toolkit session (reader-aware Enter, highlighting, completion with
docstrings, persistent history) on a terminal, and a plain form reader when stdin is a pipe."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .errors import PilangError
from .introspect import HELP, completeness, completions, documentation, is_complete, word_length
from .output.notation import write_string
from .session import Session

PROMPT, CONTINUE = "pilang> ", "   ...> "


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
            from pilang_engine.api import default_path
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
    from .ask import as_form
    try:
        value = session.eval_text(as_form(text), name)
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
            from .output.answers import value_lines
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
        if buffer.strip() and (buffer.lstrip().startswith("?") or is_complete(buffer)):
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
                yield Completion(name, start_position=-word_length(before), display_meta=meta[:70])

    keys = KeyBindings()

    @keys.add("enter")
    def _(event: Any) -> None:
        buf = event.current_buffer
        text = buf.document.text
        status, indent = completeness(text)
        if text.strip() and not text.strip().startswith((",", "?")) and status == "incomplete":
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


def repl(session: Session, prompt: Any = None, out: TextIO = sys.stdout) -> int:
    """The interactive loop: errors print with their caret and every definition survives."""
    prompt = prompt or make_prompt(session)
    out.write("pilang — ,help for commands, ? a question in plain words, Ctrl-D to leave\n")
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

