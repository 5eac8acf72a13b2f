"""The `pilang` command: run a script, evaluate an expression, or start the REPL."""
from __future__ import annotations

import argparse
import subprocess
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import PilangError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pilang", description="pilang, the Player Intelligence Language.",
        epilog="With no FILE and no -e: a REPL on a terminal, else the forms read from stdin. "
               "Subcommands: pilang bench [--quick] runs the benchmarks.")
    parser.add_argument("file", nargs="?", help="a .pil script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (*argv*)")
    parser.add_argument("-e", "--eval", metavar="EXPR", action="append",
                        help="evaluate EXPR and print its value (may be repeated)")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"pilang {__version__}")
    return parser


def bench(argv: Sequence[str]) -> int:
    """`pilang bench [--quick]`: run the benchmarks of the source checkout."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__main__.py").exists():
        print("pilang bench: the benchmarks live in the source checkout, which this installation lacks",
              file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "benchmarks", *argv], cwd=root)


SUBCOMMANDS = {"bench": bench}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (0 ok, 1 pilang error, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    from .printer import write_string
    from .session import Session
    try:
        session = Session()
        session.env["*argv*"] = list(args.args or [])
        if args.eval:
            for expr in args.eval:
                value = session.eval_text(expr, "<-e>")
                if value is not None:
                    print(write_string(value))
            return 0
        if args.file:
            session.load(args.file)
            return 0
        from .repl import repl
        interactive = sys.stdin.isatty()
        return repl(session, interactive=interactive)
    except PilangError as err:
        sys.stdout.flush()
        if args.debug:
            traceback.print_exception(err.__cause__ or err)
        print(err.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())
