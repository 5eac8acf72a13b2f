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
               "Subcommands: pilang ingest PATH... [--format F]; pilang demo --make [DIR]; "
               "pilang kernel install [--user|--sys-prefix|--prefix P]; pilang train gnn|fno [--task T];"
               " pilang bench [--quick].")
    parser.add_argument("file", nargs="?", help="a .pil script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (*argv*)")
    parser.add_argument("-e", "--eval", metavar="EXPR", action="append",
                        help="evaluate EXPR and print its value (may be repeated)")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    parser.add_argument("--workspace", metavar="DIR", help="workspace directory (default $PILANG_WORKSPACE or ./.pilang)")
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


def ingest(argv: Sequence[str]) -> int:
    """`pilang ingest PATH... [--format F] [--workspace DIR]`: ingest files and folders, print the report."""
    parser = argparse.ArgumentParser(prog="pilang ingest", description="Ingest community data into a workspace.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (formats are detected)")
    parser.add_argument("--format", help="read every file as this format (see --list-formats)")
    parser.add_argument("--workspace", help="workspace directory (default $PILANG_WORKSPACE or ./.pilang)")
    parser.add_argument("--model", help="embedding model for this workspace (all-MiniLM-L6-v2, all-mpnet-base-v2);"
                                        " switching re-embeds")
    parser.add_argument("--beam", action="store_true", help="run the stages as an Apache Beam pipeline"
                                                            " (pip install 'pilang[beam]'; DirectRunner by default)")
    parser.add_argument("--pipeline-option", action="append", metavar="OPT",
                        help="a Beam pipeline option, e.g. --pipeline-option=--runner=DataflowRunner (repeatable)")
    args = parser.parse_args(argv)
    from engine.embed import ModelUnavailable
    from engine.formats import FormatError
    from engine.ingest import ingest as run
    from engine.ingest import switch_model
    from engine.store import Workspace, WorkspaceError, default_path
    try:
        ws = Workspace(args.workspace or default_path())
        if args.model and args.model != ws.embed_model:
            print(f"switching the workspace to {args.model}: re-embedded {switch_model(ws, args.model):,} texts")
        if args.beam:
            from engine.scaleout import run as run_beam
            report = run_beam(ws.path, args.paths, fmt=args.format, options=args.pipeline_option)
        else:
            report = run(ws, args.paths, fmt=args.format)
    except (FormatError, WorkspaceError, ModelUnavailable) as exc:
        print(f"pilang ingest: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: every finished batch is kept; run the same command again to complete it",
              file=sys.stderr)
        return 130
    print(report.render())
    return 1 if report.errors else 0


def demo(argv: Sequence[str]) -> int:
    """`pilang demo --make [DIR]`: write the simulated community (the demo data and its ground truth)."""
    parser = argparse.ArgumentParser(prog="pilang demo", description="The simulated demo community.")
    parser.add_argument("--make", action="store_true", help="(re)generate the demo data files")
    parser.add_argument("dir", nargs="?", default="examples/demo", help="where to write (default examples/demo)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not args.make:
        parser.print_help()
        return 2
    from engine.simulate import write_demo
    summary = write_demo(Path(args.dir), seed=args.seed)
    print(f"wrote the demo community to {args.dir}: " + ", ".join(f"{v} {k}" for k, v in summary.items()))
    return 0


def kernel(argv: Sequence[str]) -> int:
    """`pilang kernel install [--user|--sys-prefix|--prefix P]`: register the Jupyter kernel."""
    parser = argparse.ArgumentParser(prog="pilang kernel", description="The pilang Jupyter kernel.")
    sub = parser.add_subparsers(dest="action", required=True)
    inst = sub.add_parser("install", help="install the kernel spec (kernel.json uses this Python)")
    where = inst.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for this user only")
    where.add_argument("--sys-prefix", action="store_true", help="into this Python environment")
    where.add_argument("--prefix", help="under this prefix")
    args = parser.parse_args(argv)
    from pilang_kernel.install import install
    prefix = sys.prefix if args.sys_prefix else args.prefix
    print(f"installed the pilang kernel in {install(user=args.user, prefix=prefix)}")
    return 0


def train(argv: Sequence[str]) -> int:
    """`pilang train gnn|fno [--task T] [--workspace DIR]`: train a spectral model, print its scores."""
    parser = argparse.ArgumentParser(prog="pilang train", description="Train a spectral-layer model in the workspace.")
    parser.add_argument("model", choices=["gnn", "fno"], help="gnn: per-player risk on the player graph;"
                                                               " fno: the forecasting operator")
    parser.add_argument("--task", choices=["toxicity", "disengagement"], help="the GNN's task (default: toxicity"
                                                                               " when labelled, else disengagement)")
    parser.add_argument("--workspace", help="workspace directory (default $PILANG_WORKSPACE or ./.pilang)")
    args = parser.parse_args(argv)
    from engine.spectral import fno, gnn
    from engine.store import Workspace, WorkspaceError, default_path
    from .bridge import model_summary
    try:
        ws = Workspace(args.workspace or default_path(), create=False)
        rec = gnn.train(ws, args.task) if args.model == "gnn" else fno.train(ws)
    except WorkspaceError as exc:
        print(f"pilang train: {exc}", file=sys.stderr)
        return 1
    summary = model_summary(rec)
    print(summary["answer"])
    print(f"  NTK: {summary['evidence']['ntk']}")
    return 0


SUBCOMMANDS = {"bench": bench, "ingest": ingest, "demo": demo, "kernel": kernel, "train": train}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (0 ok, 1 pilang error, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    from .printer import write_string
    from .session import Session
    try:
        session = Session(workspace=args.workspace)
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
        from .repl import pipe_repl, repl
        return repl(session) if sys.stdin.isatty() and sys.stdout.isatty() else pipe_repl(session)
    except PilangError as err:
        if isinstance(err.__cause__, BrokenPipeError):  # `pilang x.pil | head`: the reader left
            _silence_stdout()
            return 0
        sys.stdout.flush()
        if args.debug:
            traceback.print_exception(err.__cause__ or err)
        print(err.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())
