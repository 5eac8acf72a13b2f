"""A minimal line REPL: reads until the reader says a form is complete, prints results readably."""
from __future__ import annotations

import sys
from typing import TextIO

from .errors import PilangError
from .printer import write_string
from .reader import read
from .session import Session

PROMPT, CONTINUE = "pilang> ", "   ...> "


def is_complete(text: str) -> bool:
    """True when `text` holds only whole forms (a syntax error also counts: it is reported)."""
    try:
        read(text, "<check>")
    except PilangError as err:
        return not err.incomplete
    return True


def repl(session: Session, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
         interactive: bool = True) -> int:
    """Read-eval-print until end of input; errors are printed and every definition survives."""
    n = 0
    status = 0
    while True:
        buffer = ""
        while True:
            if interactive:
                stdout.write(PROMPT if not buffer else CONTINUE)
                stdout.flush()
            try:
                line = stdin.readline()
            except KeyboardInterrupt:
                stdout.write("\n")
                buffer, line = "", "\n"
                continue
            if not line:
                if buffer.strip():
                    status = _eval_print(session, buffer, f"<stdin-{n + 1}>", stdout, interactive) or status
                if interactive:
                    stdout.write("\n")
                return status
            buffer += line
            if buffer.strip() and is_complete(buffer):
                break
        n += 1
        status = _eval_print(session, buffer, f"<stdin-{n}>" if not interactive else f"<repl-{n}>",
                             stdout, interactive) or status


def _eval_print(session: Session, text: str, name: str, stdout: TextIO, interactive: bool) -> int:
    """Evaluate one input; print its value (unless nil) or its error. 1 after an error."""
    try:
        value = session.eval_text(text, name)
    except PilangError as err:
        stdout.flush()
        print(err.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 1
    if value is not None:
        stdout.write(write_string(value) + "\n")
    return 0
