"""The `pilang` command: run a script, evaluate an expression, or start the REPL."""
from __future__ import annotations

import argparse
import subprocess
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import __version__
from .errors import PilangError


def common_options(before: argparse.Namespace | None = None) -> argparse.ArgumentParser:
    """The options every command takes, before or after its subcommand: a parent parser (argparse's
    `parents=`), its defaults those given before the subcommand (`pilang --workspace D train fno`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", metavar="DIR", help="workspace directory (default $PILANG_WORKSPACE or ./.pilang)")
    common.add_argument("--store", metavar="URI", help="keep the workspace in PostgreSQL + pgvector"
                        " (postgresql://...; default $PILANG_STORE, else SQLite in the workspace directory, which"
                        " with a store holds only caches); see docs/workspace.md")
    common.add_argument("--debug", action="store_true", default=None, help="show Python tracebacks for errors")
    common.add_argument("--json", action="store_true", default=None,
                        help="print each top-level value as one JSON document a line (see docs/json.md)")
    common.add_argument("--server", metavar="URL", help="evaluate on a team server (pilang serve) instead of locally;"
                                                        " the token is read from $PILANG_TOKEN")
    if before is not None:
        common.set_defaults(**{k: v for k, v in vars(before).items() if v is not None})
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pilang", description="pilang, the Player Intelligence Language.", parents=[common_options()],
        epilog=epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", help="a .pil script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (*argv*)")
    parser.add_argument("-e", "--eval", metavar="EXPR", action="append",
                        help="evaluate EXPR and print its value (may be repeated)")
    parser.add_argument("--version", action="version", version=f"pilang {__version__}")
    return parser


def epilog() -> str:
    """The help's closing text: the subcommands, each by the synopsis its own docstring opens with, so
    the list is SUBCOMMANDS itself and a new subcommand shows up here by being added there."""
    import textwrap
    lines = ["With no FILE and no -e: a REPL on a terminal, else the forms read from stdin.", "",
             "Subcommands (pilang SUBCOMMAND --help for each):"]
    for fn in SUBCOMMANDS.values():
        synopsis = " ".join((fn.__doc__ or "").split("\n\n")[0].split()).replace("`", "")
        lines += textwrap.wrap(synopsis, 100, initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines + ["", "--workspace, --store, --json and --debug go before or after a subcommand."])


def leading_options(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The common options written before anything else (`pilang --workspace D train fno`), and the rest."""
    i = 0
    while i < len(argv):
        if argv[i] in ("--debug", "--json") or argv[i].startswith(("--workspace=", "--server=", "--store=")):
            i += 1
        elif argv[i] in ("--workspace", "--server", "--store"):
            i += 2
        else:
            break
    return common_options().parse_args(argv[:i]), list(argv[i:])


def open_workspace(args: argparse.Namespace, create: bool = False) -> Any:
    """The workspace a command names (--workspace, else $PILANG_WORKSPACE or ./.pilang; in --store)."""
    from pilang_engine.api import Workspace, default_path
    use_store(args)
    return Workspace(args.workspace or default_path(), create=create)


def use_store(args: argparse.Namespace) -> None:
    """--store, for every workspace this process and the processes it starts open (server sessions,
    pipeline workers): the same as $PILANG_STORE."""
    import os
    if getattr(args, "store", None):
        os.environ["PILANG_STORE"] = args.store


@contextmanager
def reported(command: str, args: argparse.Namespace | None = None, interrupted: str | None = None) -> Iterator[None]:
    """A subcommand's tail, once: the engine's errors (no workspace, a bad file, a model missing, an
    unreadable date) as one line `pilang COMMAND: ...` and exit status 1 (a traceback with --debug), and
    Ctrl-C as `interrupted` and status 130."""
    from pilang_engine.api import FormatError, ModelUnavailable, WorkspaceError
    try:
        yield
    except (FormatError, WorkspaceError, ModelUnavailable, ValueError, OSError) as exc:
        if args is not None and args.debug:
            raise
        print(f"pilang {command}: {exc}", file=sys.stderr)
        raise Exit(1) from None
    except KeyboardInterrupt:
        if interrupted is None:
            raise
        print(f"interrupted: {interrupted}", file=sys.stderr)
        raise Exit(130) from None


class Exit(Exception):  # noqa: N818 (a status, not an error)
    """A subcommand's early end with an exit status (see `reported`)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def print_json(value: Any) -> None:
    sys.stdout.write(json_line(value))


def bench(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang bench [--quick]`: run the benchmarks of the source checkout."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "__main__.py").exists():
        print("pilang bench: the benchmarks are not installed with pilang; they run from a source checkout"
              " (cd into it, then: pilang bench, or python -m benchmarks)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "benchmarks", *argv], cwd=root)


def ingest(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang ingest PATH... [--format F] [--workspace DIR]`: ingest files and folders, print the report."""
    parser = argparse.ArgumentParser(prog="pilang ingest", description="Ingest community data into a workspace.",
                                     parents=[common_options(before)])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (formats are detected)")
    parser.add_argument("--format", help="read every file as this format (see --list-formats)")
    parser.add_argument("--map", action="append", metavar="FIELD=COLUMN,...",
                        help="read a CSV/JSONL of messages through a column map, e.g. --format csv --map"
                             " text=review,time=review_date,id=id,author=user,source=steam (a value that names no"
                             " column is a constant); fields: text time id author source thread context reply_to")
    parser.add_argument("--time-format", help="how the mapped time column is written, e.g. '%%d.%%m.%%Y %%H:%%M:%%S'"
                                              " (default: detected)")
    parser.add_argument("--window", action="append", metavar="COLUMN=FIRST-LAST",
                        help="the days a player table's column observes, e.g. sum_gamerounds=0-14 (repeatable);"
                             " a column observed after a label's day is never a feature for it")
    parser.add_argument("--model", help="embedding model for this workspace (all-MiniLM-L6-v2, all-mpnet-base-v2);"
                                        " switching re-embeds")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"],
                        help="the embedder's precision for this workspace: auto (the default: bf16 where the CPU"
                             " computes it natively, else fp32), fp32, bf16 (the same vectors within 1e-4), or int8"
                             " (faster on CPUs without bf16, calibrated on the workspace's texts; its vectors are a"
                             " model of their own, so switching re-embeds)")
    parser.add_argument("--beam", action="store_true", help="run the stages as an Apache Beam pipeline"
                                                            " (pip install 'pilang[beam]'; DirectRunner by default)")
    parser.add_argument("--pipeline-option", action="append", metavar="OPT",
                        help="a Beam pipeline option, e.g. --pipeline-option=--runner=DataflowRunner (repeatable)")
    args = parser.parse_args(argv)
    from pilang_engine.api import ingest_with_beam, switch_model
    from pilang_engine.api import ingest as run
    with reported("ingest", interrupted="every finished batch is kept; run the same command again to complete it"):
        ws = open_workspace(args, create=True)
        if (args.model and args.model != ws.embed_name) or (args.precision and args.precision != ws.embed_precision):
            embedded = switch_model(ws, args.model, precision=args.precision, defer=True)
            print(f"the workspace embeds with {ws.embed_name} in {ws.embed_precision} ({ws.runs_as()}):"
                  f" re-embedded {embedded:,} texts", file=sys.stderr if args.json else sys.stdout)
        if args.beam and args.window:
            print("pilang ingest: --window is not taken with --beam; declare the windows with a"
                  " <table>.windows.json beside the table, or ingest the table in-process", file=sys.stderr)
            return 2
        if args.beam:
            report = ingest_with_beam(ws.path, args.paths, fmt=args.format, options=args.pipeline_option)
        else:
            report = run(ws, args.paths, fmt=args.format, windows=parse_windows(args.window or []), mapping=args.map,
                         time_format=args.time_format)
    return print_report(report, args.json)


def print_report(report: Any, as_json: bool, done: str = "ingested", what: str = "file(s)") -> int:
    """An ingest or sync report, as JSON or text; the exit status (1 when a file or source failed)."""
    if as_json:
        print_json(report.as_dict())
    else:
        print(report.render(done, what))
    return 1 if report.errors else 0


def parse_windows(specs: Sequence[str]) -> dict[str, list[float]]:
    """--window COLUMN=FIRST-LAST options as {column: [first, last]}."""
    out = {}
    for spec in specs:
        column, _, span = spec.partition("=")
        first, _, last = span.partition("-")
        try:
            out[column] = [float(first), float(last)]
        except ValueError:
            raise SystemExit(f"pilang ingest: --window takes COLUMN=FIRST-LAST (days), e.g. sum_gamerounds=0-14;"
                             f" got {spec!r}") from None
    return out


def demo(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang demo --make [DIR]`: write the simulated community (the demo data and its ground truth)."""
    parser = argparse.ArgumentParser(prog="pilang demo", description="The simulated demo community.",
                                     parents=[common_options(before)])
    parser.add_argument("--make", action="store_true", help="(re)generate the demo data files")
    parser.add_argument("dir", nargs="?", default="examples/demo", help="where to write (default examples/demo)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not args.make:
        parser.print_help()
        return 2
    from pilang_engine.api import write_demo
    summary = write_demo(Path(args.dir), seed=args.seed)
    if args.json:
        print_json({"dir": args.dir, **summary})
        return 0
    print(f"wrote the demo community to {args.dir}: " + ", ".join(f"{v} {k}" for k, v in summary.items()))
    return 0


def kernel(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang kernel install [--user|--sys-prefix|--prefix P] [--workspace DIR | --server URL]`: register the
    Jupyter kernel (with --workspace, its notebooks open that workspace; with --server, they evaluate on
    that team server)."""
    parser = argparse.ArgumentParser(prog="pilang kernel", description="The pilang Jupyter kernel.")
    sub = parser.add_subparsers(dest="action", required=True)
    inst = sub.add_parser("install", help="install the kernel spec (kernel.json uses this Python)",
                          parents=[common_options(before)])
    where = inst.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for this user only")
    where.add_argument("--sys-prefix", action="store_true", help="into this Python environment")
    where.add_argument("--prefix", help="under this prefix")
    args = parser.parse_args(argv)
    from pilang_kernel.install import install
    prefix = sys.prefix if args.sys_prefix else args.prefix
    if args.server and args.workspace:
        print("pilang kernel install: --server and --workspace exclude each other (a server has its workspace)",
              file=sys.stderr)
        return 2
    where_to = install(user=args.user, prefix=prefix, workspace=args.workspace, server=args.server)
    print(f"installed the pilang kernel in {where_to}" + (f" (workspace {args.workspace})" if args.workspace else "")
          + (f" (server {args.server}; the token is read from PILANG_TOKEN where Jupyter runs)" if args.server else ""))
    return 0


def train(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang train gnn|fno [--task T] [--workspace DIR]`: train a spectral model, print its scores."""
    parser = argparse.ArgumentParser(prog="pilang train", description="Train a spectral-layer model in the workspace.",
                                     parents=[common_options(before)])
    parser.add_argument("model", choices=["gnn", "fno"], help="gnn: per-player risk on the player graph;"
                                                               " fno: the forecasting operator")
    parser.add_argument("--task", choices=["toxicity", "disengagement"], help="the GNN's task (default: toxicity"
                                                                               " when labelled, else disengagement)")
    args = parser.parse_args(argv)
    from pilang_engine.api import model_summary, train_fno, train_gnn
    with reported("train"):
        ws = open_workspace(args)
        rec = train_gnn(ws, args.task) if args.model == "gnn" else train_fno(ws)
    summary = model_summary(rec)
    if args.json:
        print_json(summary)
        return 0
    print(summary["answer"])
    print(f"  NTK: {summary['evidence']['ntk']}")
    return 0


def evaluate(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang eval [--json]`: every model on the real data sets present, beside its baseline."""
    parser = argparse.ArgumentParser(prog="pilang eval", parents=[common_options(before)],
                                     description="Score every model on the real data sets present ($PILANG_DATA or"
                                                 " ../shared/data), each beside its strongest simple baseline.")
    parser.add_argument("--quick", action="store_true", help="smaller samples where a model allows (figures differ"
                                                                 " from a full run)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (docs/quality.md's)")
    parser.add_argument("--only", metavar="KEYS", help="comma-separated model keys (churn, sequence-churn, sentiment,"
                                                        " toxicity, topics, personas, forecast, fno, anomalies,"
                                                        " change-impact, gnn)")
    args = parser.parse_args(argv)
    from pilang_engine.api import evaluate as run
    from pilang_engine.api import evaluation_markdown as markdown
    from pilang_engine.api import evaluation_text as render
    only = set(args.only.split(",")) if args.only else None
    rows = run(lambda line: print(f"; {line}", file=sys.stderr), quick=args.quick, only=only)
    if args.json:
        for r in rows:
            print_json(r)
    else:
        print(markdown(rows) if args.markdown else render(rows))
    return 0


def report(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang report [--since P] [--until D] [--out FILE] [--format html|md]`: a report to share."""
    parser = argparse.ArgumentParser(prog="pilang report", parents=[common_options(before)],
                                     description="Write one self-contained report (HTML, or Markdown for a wiki) for a"
                                                 " period: drivers, sentiment, volume, forecast, unusual days, personas,"
                                                 " churn risk, each number beside its model and held-out score.")
    parser.add_argument("--since", default="last-week", help="last-week (default), last-month, last-patch, all or a date")
    parser.add_argument("--until", help="a date (default: the latest message)")
    parser.add_argument("--out", default="report.html", help="the file to write (default report.html)")
    parser.add_argument("--format", choices=["html", "md"], help="default: from --out's suffix")
    args = parser.parse_args(argv)
    from .report import write
    with reported("report", args):
        done = write(open_workspace(args), args.out, args.since, args.until, args.format)
    if args.json:
        print_json(done)
    else:
        print(f"wrote {done['report']} ({done['format']}, {done['bytes']:,} bytes) in {done['seconds']} s")
    return 0


def sync(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang sync [steam|discord|zendesk] [options]`: pull what is new from a live source (registering
    it), or from every registered source."""
    parser = argparse.ArgumentParser(prog="pilang sync", parents=[common_options(before)],
                                     description="Pull what is new from live sources into the workspace. With a kind,"
                                                 " registers that source; with none, syncs every registered one.")
    parser.add_argument("kind", nargs="?", choices=["steam", "discord", "zendesk"])
    parser.add_argument("--app", help="steam: the store's app id")
    parser.add_argument("--language", help="steam: english, all (default) ...")
    parser.add_argument("--channel", help="discord: a channel id")
    parser.add_argument("--guild", help="discord: a guild id (every text channel)")
    parser.add_argument("--token-env", help="the environment variable holding the token (DISCORD_TOKEN, ZENDESK_TOKEN)")
    parser.add_argument("--subdomain", help="zendesk: the S in S.zendesk.com")
    parser.add_argument("--email-env", help="zendesk: the environment variable holding the agent's e-mail")
    parser.add_argument("--api-base", help="the API's base URL (a proxy, or a test server)")
    args = parser.parse_args(argv)
    from pilang_engine.api import sync as run
    options = {k: getattr(args, k) for k in ("app", "language", "channel", "guild", "token_env", "subdomain",
                                             "email_env", "api_base")}
    with reported("sync", interrupted="every page stored is kept with its cursor; run the same command again to go on"):
        report = run(open_workspace(args, create=args.kind is not None), args.kind, options if args.kind else None)
    return print_report(report, args.json, "synced", "source(s)")


def _every(text: str) -> float:
    """15m, 1h, 90s, or seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--every takes 15m, 1h, 90s ...; got {text!r}") from None


def watch(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang watch [--every 15m] [--once] [--webhook URL | --webhook-env VAR] [--format slack|discord]`."""
    parser = argparse.ArgumentParser(prog="pilang watch", parents=[common_options(before)],
                                     description="Sync every registered source, look for unusual days and topics pulling"
                                                 " sentiment down in what arrived, and alert each new finding once.")
    parser.add_argument("--every", type=_every, default=900.0, help="time between rounds (default 15m)")
    parser.add_argument("--once", action="store_true", help="one round, then exit (for cron or a systemd timer)")
    parser.add_argument("--webhook", help="a Slack- or Discord-compatible incoming webhook URL (prefer --webhook-env)")
    parser.add_argument("--webhook-env", help="the environment variable holding the webhook URL")
    parser.add_argument("--format", choices=["slack", "discord"], default="slack", help="the webhook's payload")
    args = parser.parse_args(argv)
    import os
    import time as clock

    from pilang_engine.api import watch_once
    url = args.webhook or (os.environ.get(args.webhook_env) if args.webhook_env else None)
    if args.webhook_env and not url:
        print(f"pilang watch: the environment variable {args.webhook_env} is not set", file=sys.stderr)
        return 1
    status = 0
    try:
        with reported("watch"):
            ws = open_workspace(args)
        while True:
            # without a webhook findings print: on stderr under --json, whose stdout is one JSON object a round
            done = watch_once(ws, url, args.format, say=(lambda text: print(text, file=sys.stderr)) if args.json else print)
            for error in done["errors"]:
                print(f"pilang watch: {error}", file=sys.stderr)
            status = 1 if done["errors"] else 0
            if args.json:
                print_json(done)
            else:
                print(f"; watch {clock.strftime('%Y-%m-%d %H:%M')}: synced {done['synced']} new messages,"
                      f" {done['findings']} finding(s), {done['alerted']} alerted", file=sys.stderr)
            if args.once:
                return status
            clock.sleep(args.every)
    except KeyboardInterrupt:
        return status


def serve(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang serve [--host H] [--port P] [--workspace DIR]`: the team server over one workspace."""
    parser = argparse.ArgumentParser(prog="pilang serve", parents=[common_options(before)],
                                     description="Serve one workspace to a team over HTTP (see docs/server.md). Every"
                                                 " request needs a token from `pilang token add`.")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1; put a"
                                                            " reverse proxy with TLS in front for a network)")
    from .server.developers import Limits
    parser.add_argument("--port", type=int, default=8484)
    parser.add_argument("--time-limit", type=float, default=Limits.seconds, metavar="SECONDS",
                        help=f"an evaluation running longer is interrupted (default {Limits.seconds:g})")
    parser.add_argument("--max-request", type=int, default=Limits.request_bytes, metavar="BYTES",
                        help=f"the largest request body taken (default {Limits.request_bytes:,})")
    parser.add_argument("--idle", type=float, default=Limits.idle_seconds, metavar="SECONDS",
                        help="a developer's session unused this long is closed, and replayed when used again"
                             f" (default {Limits.idle_seconds:g})")
    parser.add_argument("--grace", type=float, default=Limits.grace, metavar="SECONDS",
                        help="an evaluation still running this long after its time limit ends its developer's session"
                             f" (their definitions are replayed on their next request; default {Limits.grace:g})")
    parser.add_argument("--memory", type=float, default=Limits.memory_bytes / (1 << 30), metavar="GIB",
                        help="the data one developer's session may hold, in GiB (past it an allocation is a memory"
                             f" error; 0: no limit; default {Limits.memory_bytes / (1 << 30):g})")
    parser.add_argument("--sessions", type=int, default=Limits.sessions, metavar="N",
                        help="developers' sessions (processes) alive at once; the least recently used idle one"
                             f" makes room (default {Limits.sessions})")
    parser.add_argument("--per-developer", type=int, default=Limits.per_developer, metavar="N",
                        help=f"requests one developer may have running or waiting (default {Limits.per_developer})")
    parser.add_argument("--read-timeout", type=float, default=Limits.read_seconds, metavar="SECONDS",
                        help="a request's headers and body must arrive within this, or the connection is closed"
                             f" (default {Limits.read_seconds:g})")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="DIR",
                        help="a folder code over the server may read files from (ingest, load), besides the"
                             " workspace's inbox/ (repeatable)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes sharing the port (replicas; default 1): a developer's requests may land"
                             " on any, their definitions follow them through the store. With more than one, use a"
                             " PostgreSQL store (--store): SQLite has one writer at a time")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    from pilang_engine.api import tokens

    from .server.app import serve as run
    with reported("serve"):
        ws = open_workspace(args)
        live = [t for t in tokens(ws) if not t["revoked"]]
        ws.close()
    path = ws.path
    if not live:
        print(f"pilang serve: no tokens yet, so nobody could use the server; make one first: pilang --workspace"
              f" {path} token add NAME --role admin", file=sys.stderr)
        return 1
    missing = [d for d in args.imports if not Path(d).is_dir()]
    if missing:
        print(f"pilang serve: --import {missing[0]}: no such folder", file=sys.stderr)
        return 1
    limits = Limits(seconds=args.time_limit, request_bytes=args.max_request, idle_seconds=args.idle, grace=args.grace,
                    memory_bytes=int(args.memory * (1 << 30)), sessions=args.sessions,
                    per_developer=args.per_developer, read_seconds=args.read_timeout)
    if args.workers < 1:
        print("pilang serve: --workers must be 1 or more", file=sys.stderr)
        return 1
    run(path, args.host, args.port, limits, args.log_level, tuple(args.imports), args.workers)
    return 0


def token(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang token add NAME [--role analyst|admin|collector]`, `pilang token revoke NAME`, `pilang token list`."""
    from pilang_engine.api import ROLES, add_token, revoke_token, tokens
    parser = argparse.ArgumentParser(prog="pilang token", description="The team server's access tokens.")
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", parents=[common_options(before)],
                         help="make a token for NAME (the developer's name); printed once, on its last line")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="analyst",
                     help="analyst (default): query, rate, define; admin: also ingest, sync, train, change routing")
    rev = sub.add_parser("revoke", parents=[common_options(before)], help="revoke NAME's token (at once)")
    rev.add_argument("name")
    sub.add_parser("list", parents=[common_options(before)], help="every token's name, role and state (never the token)")
    args = parser.parse_args(argv)
    with reported("token"):
        ws = open_workspace(args, create=args.action == "add")
        if args.action == "add":
            secret = add_token(ws, args.name, args.role)
            print(f"a token for {args.name} ({args.role}); it is shown this once, only its hash is kept:")
            print(secret)
        elif args.action == "revoke":
            if not revoke_token(ws, args.name):
                print(f"pilang token: {args.name} has no live token", file=sys.stderr)
                return 1
            print(f"revoked {args.name}'s token")
        elif args.json:
            for row in tokens(ws):
                print_json(row)
        else:
            rows = tokens(ws)
            for r in rows:
                print(f"{r['name']:<20} {r['role']:<8} made {r['created']}" + (f", revoked {r['revoked']}" if r["revoked"] else ""))
            if not rows:
                print("no tokens (pilang token add NAME makes one)")
    return 0


def export(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang export messages [--format csv|jsonl] [--out F] [--since D] [--until D] [--source S]`."""
    parser = argparse.ArgumentParser(prog="pilang export", parents=[common_options(before)],
                                     description="Write every message with its language, sentiment (score, label,"
                                                 " probabilities), toxicity, topic and persona, for BI tools.")
    parser.add_argument("what", choices=["messages"])
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from --out's suffix, else csv")
    parser.add_argument("--out", help="the file to write (default: standard output)")
    parser.add_argument("--since", help="only messages from this date on")
    parser.add_argument("--until", help="only messages before this date")
    parser.add_argument("--source", help="only this source's messages (steam, discord, tickets ...)")
    parser.add_argument("--no-topics", action="store_true", help="leave the topic columns out (no topic fit)")
    args = parser.parse_args(argv)
    from pilang_engine.api import Scope, export_messages, parse_date
    fmt = args.format or ("jsonl" if (args.out or "").endswith((".jsonl", ".json")) else "csv")
    with reported("export", args):
        ws = open_workspace(args)
        scope = Scope(source=args.source, since=parse_date(args.since), until=parse_date(args.until))
        if args.out:
            with open(args.out, "w", newline="", encoding="utf-8") as f:
                done = export_messages(ws, f, fmt, scope, topics=not args.no_topics)
        else:
            done = export_messages(ws, sys.stdout, fmt, scope, topics=not args.no_topics)
    summary = {"out": args.out, **done}
    if args.json and args.out:
        print_json(summary)
    else:
        notes = "".join(f"; {n}" for n in done["notes"])
        print(f"exported {done['messages']:,} messages ({done['format']}, {done['unscored']:,} without a sentiment)"
              f" to {args.out or 'stdout'} in {done['seconds']} s{notes}", file=sys.stderr if not args.out else
              sys.stdout)
    return 0


def reference() -> str:
    """The CLI reference (docs/cli.md) in Markdown: each command's --help as its parser prints it, the way
    Datasette keeps its own; tests/test_docs.py fails when the file is stale (`pilang --cli-reference >
    docs/cli.md` rewrites it)."""
    import contextlib
    import io
    import os
    nested = {"kernel": [["install"]], "token": [["add"], ["revoke"], ["list"]]}
    pages: list[tuple[str, list[str]]] = [("pilang", [])]
    for name in SUBCOMMANDS:
        pages.append((f"pilang {name}", [name]))
        pages += [(f"pilang {name} {' '.join(more)}", [name, *more]) for more in nested.get(name, [])]
    out = ["# The `pilang` command line", "",
           "Generated from the parsers by `pilang --cli-reference` (tests/test_docs.py checks it is current).", ""]
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: the same width wherever it is generated
    try:
        for title, argv in pages:
            text = io.StringIO()
            with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
                if argv == ["bench"]:  # a subprocess in the checkout (none in a wheel): its synopsis stands
                    print(" ".join((bench.__doc__ or "").split()).replace("`", ""))
                elif argv:
                    SUBCOMMANDS[argv[0]]([*argv[1:], "--help"], leading_options([])[0])
                else:
                    build_parser().parse_args(["--help"])
            out += [f"## {title}", "", "```", text.getvalue().rstrip(), "```", ""]
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(out)


def stream(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang stream discord --guild ID [--channel ID...] [--duration S]`: hold Discord's gateway open and store messages as they are said."""
    parser = argparse.ArgumentParser(prog="pilang stream", parents=[common_options(before)],
                                     description="Stream a Discord guild in real time as a bot (the gateway): messages,"
                                                 " edits and deletes are stored as they happen and searchable within"
                                                 " seconds; after a drop the stream resumes, and a new session catches up"
                                                 " over REST from the last stored message. Ctrl-C stops it.")
    parser.add_argument("kind", choices=["discord"])
    parser.add_argument("--guild", required=True, help="the guild (server) id")
    parser.add_argument("--channel", action="append", help="only this channel id (repeatable; default: every channel)")
    parser.add_argument("--token-env", default="DISCORD_TOKEN", help="the environment variable holding the bot token")
    parser.add_argument("--api-base", help="Discord's REST base URL (a proxy, or a test server)")
    parser.add_argument("--gateway", help="the gateway's URL (default: asked of GET /gateway/bot)")
    parser.add_argument("--duration", type=_every, help="stop after this long (15m, 1h, 90s); default: until Ctrl-C")
    parser.add_argument("--webhook", help="post live alerts (bursts of alike messages) to this Slack- or Discord-compatible"
                                          " webhook as they happen (prefer --webhook-env)")
    parser.add_argument("--webhook-env", help="the environment variable holding the webhook URL")
    parser.add_argument("--format", choices=["slack", "discord"], default="slack", help="the webhook's payload")
    parser.add_argument("--no-alerts", action="store_true", help="store only: no live burst checks")
    args = parser.parse_args(argv)
    import asyncio
    import os

    from pilang_engine.api import Gateway, GatewayFatal, live_alerts, live_stages
    token = os.environ.get(args.token_env)
    if not token:
        print(f"pilang stream: no bot token: set the environment variable {args.token_env}", file=sys.stderr)
        return 1
    url = args.webhook or (os.environ.get(args.webhook_env) if args.webhook_env else None)
    if args.webhook_env and not url:
        print(f"pilang stream: the environment variable {args.webhook_env} is not set", file=sys.stderr)
        return 1
    with reported("stream", args, interrupted="every message stored is kept; run the same command to go on"):
        ws = open_workspace(args, create=True)
        options = {"api_base": args.api_base} if args.api_base else {}
        # without a webhook alerts print: on stderr under --json, whose stdout is the one stats object
        alerts = None if args.no_alerts else live_alerts(
            ws, url, args.format, say=(lambda text: print(text, file=sys.stderr)) if args.json else print)
        gw = Gateway(ws, token, args.guild, args.channel, url=args.gateway, token_env=args.token_env, on_flush=alerts,
                     stages=live_stages(), **options)

        async def run() -> Any:
            stop = asyncio.Event()
            if args.duration:
                asyncio.get_running_loop().call_later(args.duration, stop.set)
            return await gw.run(stop)
        try:
            stats = asyncio.run(run())
        except GatewayFatal as exc:
            print(f"pilang stream: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            gw.flush(force=True)
            stats = gw.stats
        if args.json:
            print_json(stats.as_dict())
        else:
            d = stats.as_dict()
            print(f"streamed: {d['stored']} messages stored ({d['caught_up']} by catch-up), {d['edited']} edited,"
                  f" {d['deleted']} deleted; {d['connections']} connections, {d['resumes']} resumes")
    return 0


def migrate(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang migrate --to postgresql://...`: copy the workspace into PostgreSQL + pgvector and check the copy."""
    parser = argparse.ArgumentParser(prog="pilang migrate", parents=[common_options(before)],
                                     description="Copy the workspace (every table's rows, the vectors, the trained"
                                                 " models' files) into an empty PostgreSQL database with pgvector, index"
                                                 " the vectors (HNSW, cosine), and check the copy: rows counted on both"
                                                 " sides, and the nearest neighbours of 20 sampled vectors, exact and"
                                                 " through the index, against the workspace's own. Needs pilang[postgres].")
    parser.add_argument("--to", required=True, help="the database: postgresql://user[:password]@host[:port]/name")
    args = parser.parse_args(argv)
    from pilang_engine.api import migrate_to_postgres as run
    with reported("migrate", args):
        ws = open_workspace(args)
        done = run(ws, args.to, say=(lambda s: None) if args.json else (lambda s: print(f"; {s}", file=sys.stderr)))
    if args.json:
        print_json(done)
    else:
        s = done["search"]
        print(f"migrated to {done['to']} in {done['seconds']} s: {sum(done['tables'].values()):,} rows in"
              f" {len(done['tables'])} tables, {done['model_files']} model files; counts"
              f" {'match' if done['counts_match'] else 'DIFFER: ' + str(done['mismatched'])}; nearest {s['k']} of"
              f" {s['sampled']} sampled vectors: {s['overlap_exact']:.0%} the same exactly, {s['recall_hnsw']:.0%}"
              " through the HNSW index")
    return 0 if done["ok"] else 1


def ask(argv: Sequence[str], before: argparse.Namespace) -> int:
    """`pilang ask [--dry-run] QUESTION...`: a question in plain words becomes the query it means, shown, then run."""
    parser = argparse.ArgumentParser(prog="pilang ask", parents=[common_options(before)],
                                     description="Translate a question in plain words into the pilang query it means"
                                                 " (resolved against the workspace's personas, channels, sources and"
                                                 " patches), show it, then run it. With --json: one object with query,"
                                                 " confidence, intent, alternatives, why and (when run) answer.")
    parser.add_argument("question", nargs="+", help="the question, e.g. what are players upset about since the last patch?")
    parser.add_argument("--dry-run", action="store_true", help="only show the query; do not run it")
    args = parser.parse_args(argv)
    from .ask import show, translate_in
    from .learner import developer
    from .output.notation import write_string
    from .output.tojson import json_value
    from .session import Session
    question = " ".join(args.question)
    out = sys.stdout
    with reported("ask", args):
        session = Session(workspace=args.workspace)
        t = translate_in(session.engine.workspace(), question, developer())
        doc = {k: v for k, v in t.as_dict().items() if k != "slots"}
        if t.query is None:
            if args.json:
                print_json(doc)
            else:
                print(show(t), file=sys.stderr)
            return 1
        if args.dry_run:
            print_json(doc) if args.json else print(show(t, color=out.isatty()))
            return 0
        if args.json:
            sys.stdout = sys.stderr  # what the query prints goes to stderr; stdout carries one JSON object
        else:
            print(show(t, color=out.isatty()))
        try:
            value = session.eval_text(t.query, "<ask>")
        except PilangError as err:
            print(err.render(), file=sys.stderr)
            return 1
        finally:
            sys.stdout = out
        if args.json:
            print_json({**doc, "answer": json_value(value)})
        elif value is not None:
            print(write_string(value))
        session.say_notes()
    return 0


SUBCOMMANDS = {"ask": ask, "bench": bench, "ingest": ingest, "demo": demo, "kernel": kernel, "train": train, "eval": evaluate,
               "report": report, "sync": sync, "stream": stream, "watch": watch, "serve": serve, "token": token, "export": export,
               "migrate": migrate}



def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (0 ok, 1 pilang error, 130 interrupted). No failure
    ends in a Python traceback unless --debug asks for one: whatever the commands below did not turn
    into a message of their own is named here, with the file or setting it concerns where it says."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except Exception as exc:
        sys.stdout.flush()
        if "--debug" in argv:
            traceback.print_exception(exc)
        print(f"error: {describe_failure(exc)}" + ("" if "--debug" in argv else " (--debug shows the traceback)"),
              file=sys.stderr)
        return 1


def describe_failure(exc: BaseException) -> str:
    """One line for a failure: the engine's own errors by their message, the rest by kind and message;
    a wrapped cause (Beam wraps a parser's error in its own) by the innermost message."""
    from pilang_engine.api import FormatError
    inner = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        inner = inner.__cause__ or inner.__context__
    for candidate in (exc, inner):
        if isinstance(candidate, FormatError):
            return str(candidate)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".rstrip(": ")


def _main(argv: list[str]) -> int:
    before, rest = leading_options(argv)
    if rest == ["--cli-reference"]:
        print(reference())
        return 0
    if rest and rest[0] in SUBCOMMANDS:
        try:
            return SUBCOMMANDS[rest[0]](rest[1:], before)
        except Exit as done:
            return done.status
    args = build_parser().parse_args(argv)
    use_store(args)
    from .output.notation import write_string
    from .session import Session
    from .output.tojson import is_json_line
    out = sys.stdout
    try:
        if args.server and args.workspace:
            print("pilang: --workspace names a local workspace; with --server the server's own is used",
                  file=sys.stderr)
            return 2
        if args.server:
            import os

            from .server.client import RemoteSession
            session: Any = RemoteSession(args.server, os.environ.get("PILANG_TOKEN"), argv=list(args.args or []))
        else:
            session = Session(workspace=args.workspace)
            session.env["*argv*"] = list(args.args or [])
        if args.json:  # stdout carries only JSON lines: what the program prints goes to stderr
            sys.stdout = sys.stderr
        if args.eval:
            for expr in args.eval:
                value = session.eval_text(expr, "<-e>")
                if args.json:
                    out.write(json_line(value))
                elif value is not None:
                    print(write_string(value))
                session.say_notes()
            return 0
        def each(form: Any, value: Any) -> None:  # --json: a line for each top-level value
            if is_json_line(form, value):
                out.write(json_line(value))
                out.flush()
        if args.file:
            session.load(args.file, each if args.json else None)
            return 0
        if args.json:  # forms from stdin, as a script
            session.eval_text(sys.stdin.read(), "<stdin>", each)
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
    finally:
        sys.stdout = out


def json_line(value: Any) -> str:
    """One JSON document and a newline (see pilang/output/tojson.py for the mapping)."""
    from .output.tojson import json_string
    return json_string(value) + "\n"


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())
