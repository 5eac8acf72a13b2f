"""The team server on each store, on this machine: the embedded SQLite + faiss (one server process, as
it must be: one writer at a time) against PostgreSQL + pgvector (a real server started by pgserver) with
one and two server processes (`pilang serve --workers N`). The workload is the server benchmark's (its
16 clients, each its own developer, cycle through search, persona-inquiry, analytics, prediction and
rate), on the same demo workspace (migrated with `pilang migrate` to the PostgreSQL store, so both hold
the same rows): reads alone, then beside an admin ingesting a batch of 500 messages every 3 s. Printed:
requests/s, p50/p95 over all requests, errors and rows lost (targets: none). Then the ingest rate of
1e5 messages (a Discord export, parsed, pseudonymised, stored with the graph's edges; embedding left
out: it is the same work on both stores and is measured by the embedding benchmark) into each store.
The vector layer's figures (search p50 and recall@10 at 1e5 and 1e6 vectors) are the store benchmark's."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .server import export, load, start, stop, team_workspace


def run(quick: bool = False) -> None:
    import pgserver

    from pilang_engine.workspace.postgres import migrate

    clients, seconds = (4, 6.0) if quick else (16, 40.0)
    ingest_n = 5_000 if quick else 100_000
    os.environ.pop("PILANG_STORE", None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
        try:
            base_uri = server.get_uri()

            def database(name: str) -> str:
                import psycopg
                with psycopg.connect(base_uri, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                return base_uri.replace("/postgres?", f"/{name}?", 1)

            ws, persona, tokens, admin = team_workspace(tmp_path, tmp_path / "lite", clients)
            base = ws.count("messages")
            uri = database("served")
            shutil.copytree(tmp_path / "lite", tmp_path / "pgcache")  # the same inbox folder beside each
            checked = migrate(ws, uri)
            ws.close()
            print(f"demo workspace: {base:,} messages; migrated to PostgreSQL in {checked['seconds']} s"
                  f" (counts match: {checked['counts_match']})")
            rows = []
            for label, folder, extra in (("sqlite, 1 process", tmp_path / "lite", ()),
                                         ("postgresql, 1 process", tmp_path / "pgcache", ("--store", uri)),
                                         ("postgresql, 2 processes", tmp_path / "pgcache", ("--store", uri, "--workers", "2"))):
                inbox = folder / "inbox"
                inbox.mkdir(exist_ok=True)
                url, proc = start(folder, 120.0, extra)
                try:
                    reads = load(url, tokens, admin, persona, seconds / 2, inbox, base, writes=False)
                    before = _count(folder, extra)
                    mixed = load(url, tokens, admin, persona, seconds, inbox, before)
                finally:
                    log = stop(proc)
                if reads["errors"] or mixed["errors"]:
                    print(f"{label}: errors; the server's log ends:\n" + "\n".join(log.splitlines()[-10:]))
                rows.append((label, reads, mixed))
            _report(rows, clients, seconds)
            _ingest_rates(tmp_path, database, ingest_n)
        finally:
            server.cleanup()


def _count(folder: Path, extra: tuple[str, ...]) -> int:
    from pilang_engine.workspace.store import Workspace
    ws = Workspace(folder, create=False, store=extra[1] if extra else None)
    try:
        return ws.count("messages")
    finally:
        ws.close()


def _all(result: dict[str, Any]) -> list[float]:
    return [x for xs in result["latencies"].values() for x in xs]


def _report(rows: list[tuple[str, dict[str, Any], dict[str, Any]]], clients: int, seconds: float) -> None:
    base = rows[0][1]["requests"] / rows[0][1]["elapsed"]
    print(f"{clients} clients; reads alone for {seconds / 2:.0f} s, then beside an admin ingesting 500 messages every"
          f" 3 s for {seconds:.0f} s; {os.cpu_count()} cores (the clients, the servers and PostgreSQL share them)")
    print(f"{'store':<26} {'reads/s':>8} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7}   {'mixed/s':>8} {'ratio':>6}"
          f" {'p50 ms':>7} {'p95 ms':>7} {'ingests':>7} {'errors':>6} {'lost':>5}")
    for label, reads, mixed in rows:
        r, m = _all(reads), _all(mixed)
        rps, mps = reads["requests"] / reads["elapsed"], mixed["requests"] / mixed["elapsed"]
        print(f"{label:<26} {rps:>8.1f} {rps / base:>6.2f} {np.percentile(r, 50) * 1000:>7.0f}"
              f" {np.percentile(r, 95) * 1000:>7.0f}   {mps:>8.1f} {mps / base:>6.2f}"
              f" {np.percentile(m, 50) * 1000:>7.0f} {np.percentile(m, 95) * 1000:>7.0f}"
              f" {mixed['ingested']['files']:>7} {len(reads['errors']) + len(mixed['errors']):>6} {mixed['lost']:>5}")
    print("(ratio: against the SQLite server's reads/s in this run)")


def _ingest_rates(tmp_path: Path, database: Any, n: int) -> None:
    from pilang_engine.ingestion.pipeline import ingest
    from pilang_engine.workspace.store import Workspace
    files = []
    for i in range(0, n, 20_000):
        files.append(export(tmp_path / f"bulk{i}.json", min(20_000, n - i), 50_000_000 + i))
    for label, store in (("sqlite", None), ("postgresql", database("bulk"))):
        ws = Workspace(tmp_path / f"bulk-{label}", store=store)
        t = time.perf_counter()
        report = ingest(ws, files, progress=False, embed=False)
        took = time.perf_counter() - t
        print(f"ingest of {report.taken['messages']:,} messages into {label}: {took:.1f} s,"
              f" {report.taken['messages'] / took:,.0f} messages/s (parsing, pseudonyms, rows, graph edges; no embedding)")
        ws.close()
