"""The team server under load: N concurrent clients (16; 4 with --quick) on loopback, each its own
developer, run a mix of search, persona-inquiry, analytics, prediction and rate for 60 s (8 s quick)
while an admin ingests a new batch of messages every few seconds. Printed: requests/s, p50/p95/p99
latency per kind, errors (target: none), rows lost (target: none: every ingested message is in the
workspace at the end), and the same mix through one local Session in this process for comparison
(its requests/s is the baseline the server's ratio is against). Each client runs every kind once
before the clock starts (a session's first query fits what it needs), so the figures are steady state.

Then, on a server with a 10 s time limit, N-1 normal clients run the mix twice, alone and beside an
adversary (one developer sending a definition that never stops when interrupted, a huge power, an
endless loop and a huge value, over and over): the normal clients' p95, slowest request and errors in
each (target: no error and no request past the time limit while the adversary runs)."""
from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

QUESTION = "How would they react to increased difficulty?"


def mix(persona: str) -> list[tuple[str, str]]:
    """(kind, pilang source) in the order a client cycles through them; rate is the API's endpoint."""
    return [
        ("search", '(length (search "matchmaking queue takes forever" :k 5))'),
        ("persona-inquiry", f'(get (query (type persona-inquiry) (target {persona}) (parameters (question "{QUESTION}"))) :answer)'),
        ("analytics", "(get (query (type analytics) (target sentiment)) :answer)"),
        ("prediction", "(get (query (type prediction) (target player-churn) (parameters (change nerf-weapon-damage))) :answer)"),
        ("rate", ""),
        ("search", '(length (search "the new patch broke my build" :k 5))'),
        ("analytics", "(get (query (type analytics) (target volume)) :answer)"),
    ]


def export(path: Path, n: int, first_id: int) -> Path:
    doc = {"guild": {"id": "7", "name": "load"}, "channel": {"id": "c77", "name": "feedback"},
           "messages": [{"id": str(first_id + i), "type": "Default",
                         "timestamp": f"2025-05-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00",
                         "content": f"wave {first_id} message {i}: the {'queue' if i % 3 else 'loot'} feels"
                                    f" {'slow' if i % 2 else 'fair'} since the patch",
                         "author": {"id": f"load{i % 50}", "name": f"loader{i % 50}"}} for i in range(n)]}
    path.write_text(json.dumps(doc))
    return path


def percentiles(xs: list[float]) -> str:
    if not xs:
        return "-"
    p50, p95, p99 = np.percentile(np.array(xs) * 1000, [50, 95, 99])
    return f"{p50:7.0f} {p95:7.0f} {p99:7.0f}"


ATTACKS = [
    "(define (f) (try (f) (finally (f)))) (f)",  # never stops when interrupted: its session is ended
    "(> (expt 7 16000000) 0)",  # a power that, once started, nothing could stop
    "(define (spin) (spin)) (spin)",  # runs to the time limit
    '(make-vector 3000000 "abcdefgh")',  # a value too large to send
]
ADVERSARY_LIMIT = 10.0


def run(quick: bool = False) -> None:
    from pilang_engine.workspace.access import add_token

    from pilang.session import Session

    clients, seconds = (4, 8.0) if quick else (16, 60.0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ws, persona, tokens, admin = team_workspace(tmp_path, tmp_path / "ws", clients)
        mallory = add_token(ws, "mallory")
        base = ws.count("messages")
        ws.close()
        (tmp_path / "ws" / "inbox").mkdir()
        url, server = start(tmp_path / "ws", 120.0)
        try:
            reads = load(url, tokens, admin, persona, seconds / 2, tmp_path / "ws" / "inbox", base, writes=False)
            results = load(url, tokens, admin, persona, seconds, tmp_path / "ws" / "inbox", base)
        finally:
            err = stop(server)
        if any(token in err for token in [admin, *tokens.values()]):
            print("!! a token appeared in the server's log")
        if results["errors"]:
            print("the server's log ends:\n" + "\n".join(err.splitlines()[-15:]))
        normal = dict(list(tokens.items())[:clients - 1])
        url, server = start(tmp_path / "ws", ADVERSARY_LIMIT)
        try:
            calm = load(url, normal, admin, persona, seconds / 2, tmp_path / "ws" / "inbox", 0, writes=False)
            attacked = load(url, normal, admin, persona, seconds / 2, tmp_path / "ws" / "inbox", 0, writes=False,
                            adversary=mallory)
        finally:
            stop(server)
        # the same mix through one local session, in this process, on the workspace as the load left it
        local = local_mix(Session(workspace=tmp_path / "ws"), persona, seconds / 2)

    report(results, local, clients, seconds, reads)
    report_adversary(calm, attacked, clients - 1, seconds / 2)


def team_workspace(tmp_path: Path, folder: Path, clients: int) -> tuple[Any, str, dict[str, str], str]:
    """The demo community ingested into `folder`, personas fitted, a token per client and an admin's:
    (workspace, a persona's name, {developer: token}, the admin's token)."""
    from pilang_engine.data.simulate import write_demo
    from pilang_engine.ingestion.pipeline import ingest
    from pilang_engine.personas import clusters as personas
    from pilang_engine.workspace.access import add_token
    from pilang_engine.workspace.store import Workspace
    write_demo(tmp_path / "demo")
    ws = Workspace(folder)
    ingest(ws, [tmp_path / "demo"], progress=False)
    personas.fit(ws)
    persona = ws.db.execute("SELECT name FROM personas ORDER BY name").fetchone()[0]
    tokens = {f"dev{i:02d}": add_token(ws, f"dev{i:02d}") for i in range(clients)}
    return ws, persona, tokens, add_token(ws, "ops", "admin")


def start(workspace: Path, limit: float, extra: tuple[str, ...] = ()) -> tuple[str, subprocess.Popen]:
    from pilang.server.client import wait_for
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", prefix="pilang-serve-", suffix=".log", delete=False)  # noqa: SIM115
    # the log to a file: a pipe nobody reads while the load runs fills, and the server then waits on it
    server = subprocess.Popen([sys.executable, "-m", "pilang", "serve", "--workspace", str(workspace), "--port",
                               str(port), "--time-limit", str(limit), "--grace", "3", "--log-level", "warning", *extra],
                              stdout=subprocess.DEVNULL, stderr=log, text=True)
    server.log = log  # type: ignore[attr-defined]
    if not wait_for(url, 240):
        server.kill()
        raise RuntimeError("the server did not start")
    return url, server


def stop(server: subprocess.Popen) -> str:
    """Stop the server (SIGTERM); its log."""
    server.terminate()
    server.wait(60)
    log = server.log  # type: ignore[attr-defined]
    log.seek(0)
    text = log.read()
    log.close()
    os.unlink(log.name)
    return text


def load(url: str, tokens: dict[str, str], admin: str, persona: str, seconds: float, inbox: Path,
         base: int, writes: bool = True, adversary: str | None = None) -> dict[str, Any]:
    import httpx
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(tokens) + 2 + (1 if adversary else 0))
    stop = threading.Event()

    def one(http: httpx.Client, kind: str, code: str) -> None:
        t = time.perf_counter()
        try:
            if kind == "rate":
                r = http.post("/v1/rate", json={"rating": 4})
                ok = r.status_code == 200
                why = r.text[:200]
            else:
                r = http.post("/v1/eval", json={"code": code, "file": f"<{kind}>"})
                body = r.json() if r.status_code == 200 else {}
                ok = r.status_code == 200 and body.get("ok")
                why = (body.get("error") or {}).get("text", r.text)[:200]
        except httpx.HTTPError as exc:
            ok, why = False, str(exc)
        took = time.perf_counter() - t
        with lock:
            if ok:
                latencies.setdefault(kind, []).append(took)
            else:
                errors.append(f"{kind}: {why}")

    def client(token: str, measured: list[int]) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as http:
            try:
                for kind, code in mix(persona):  # warm-up: not measured
                    http.post("/v1/eval", json={"code": code or "1"})
            except httpx.HTTPError as exc:
                with lock:
                    errors.append(f"warm-up: {exc!r}")
            start.wait()
            for kind, code in itertools.cycle(mix(persona)):
                if stop.is_set():
                    break
                one(http, kind, code)
                measured[0] += 1

    ingested = {"files": 0, "taken": 0, "seconds": []}
    attacks: list[tuple[str, float]] = []

    def attacker() -> None:  # one developer's requests, each of them an attack, back to back
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {adversary}"}, timeout=300) as http:
            start.wait()
            for code in itertools.cycle(ATTACKS):
                if stop.is_set():
                    break
                t = time.perf_counter()
                try:
                    r = http.post("/v1/eval", json={"code": code})
                    outcome = str(r.status_code) + ("" if r.status_code != 200 else f" {(r.json().get('error') or {}).get('kind')}")
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                attacks.append((outcome, time.perf_counter() - t))

    def writer() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=300) as http:
            start.wait()
            wave = len(list(inbox.glob("wave*.json")))
            while writes and not stop.is_set():
                name = f"wave{wave}.json"
                export(inbox / name, 500, 10_000_000 + wave * 1000)
                t = time.perf_counter()
                r = http.post("/v1/eval", json={"code": f'(get (ingest "inbox/{name}") :taken)'}).json()
                ingested["seconds"].append(time.perf_counter() - t)
                if r.get("ok"):
                    ingested["files"] += 1
                    ingested["taken"] += 500
                else:
                    errors.append(f"ingest: {(r.get('error') or {}).get('text', r)}"[:200])
                wave += 1
                stop.wait(3.0)

    counts = [[0] for _ in tokens]
    threads = [threading.Thread(target=client, args=(tok, counts[i])) for i, tok in enumerate(tokens.values())]
    threads.append(threading.Thread(target=writer))
    if adversary:
        threads.append(threading.Thread(target=attacker))
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=300) as http:
        final = http.post("/v1/eval", json={"code": "(get (stats) :messages)"}).json()["values"][0]
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed, "requests": sum(c[0] for c in counts),
            "ingested": ingested, "lost": (base + ingested["taken"] - final) if writes else 0, "attacks": attacks}


def local_mix(session: Any, persona: str, seconds: float) -> dict[str, Any]:
    """The mix through one in-process session, one request at a time (no HTTP, no concurrency)."""
    latencies: dict[str, list[float]] = {}
    for kind, code in mix(persona):  # warm-up, as the clients had
        session.eval_text(code or "(rate 4)")
    n, began = 0, time.perf_counter()
    for kind, code in itertools.cycle(mix(persona)):
        if time.perf_counter() - began > seconds:
            break
        t = time.perf_counter()
        session.eval_text(code or "(rate 4)")
        latencies.setdefault(kind, []).append(time.perf_counter() - t)
        n += 1
    return {"latencies": latencies, "requests": n, "elapsed": time.perf_counter() - began}


def report(results: dict[str, Any], local: dict[str, Any], clients: int, seconds: float,
           reads: dict[str, Any]) -> None:
    rps = results["requests"] / results["elapsed"]
    local_rps = local["requests"] / local["elapsed"]
    ing = results["ingested"]
    reads_rps = reads["requests"] / reads["elapsed"]
    print(f"server, reads only: {clients} clients for {seconds / 2:.0f} s: {reads_rps:.1f} requests/s, errors:"
          f" {len(reads['errors'])}; p50 ms " + ", ".join(f"{k} {np.median(v) * 1000:.0f}"
                                                        for k, v in sorted(reads["latencies"].items())))
    print(f"server: {clients} clients for {seconds:.0f} s on {os.cpu_count()} cores: {results['requests']:,} requests,"
          f" {rps:.1f} requests/s; local session (one at a time, baseline): {local_rps:.1f} requests/s;"
          f" ratio {rps / local_rps:.2f}")
    print(f"writes while reading: {ing['files']} ingests of 500 messages (median {np.median(ing['seconds'] or [0]):.1f} s"
          f" each); rows lost: {results['lost']} (target 0); errors: {len(results['errors'])} (target 0)")
    for e in results["errors"][:5]:
        print(f"  error: {e}")
    print(f"{'kind':<16} {'n':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}   {'local n':>7} {'p50 ms':>7} {'p95 ms':>7}"
          f" {'p99 ms':>7}")
    for kind in ("search", "persona-inquiry", "analytics", "prediction", "rate"):
        s, lo = results["latencies"].get(kind, []), local["latencies"].get(kind, [])
        print(f"{kind:<16} {len(s):>6} {percentiles(s)}   {len(lo):>7} {percentiles(lo)}")


def report_adversary(calm: dict[str, Any], attacked: dict[str, Any], clients: int, seconds: float) -> None:
    def whole(r: dict[str, Any]) -> list[float]:
        return [x for v in r["latencies"].values() for x in v]
    print(f"adversary: {clients} normal clients for {seconds:.0f} s each, alone and beside one developer attacking"
          f" (time limit {ADVERSARY_LIMIT:g} s)")
    print(f"{'':22s} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6}")
    for label, r in (("normal clients alone", calm), ("beside the adversary", attacked)):
        xs = whole(r)
        print(f"{label:22s} {len(xs):>8} {percentiles(xs)} {max(xs, default=0) * 1000:7.0f} {len(r['errors']):>6}")
        for e in r["errors"][:3]:
            print(f"  error: {e}")
    slowest = max(whole(attacked), default=0)
    ratio = np.percentile(np.array(whole(attacked)), 95) / np.percentile(np.array(whole(calm)), 95) if whole(calm) else 0
    print(f"p95 beside the adversary / alone: {ratio:.2f}; slowest normal request {slowest:.1f} s"
          f" ({'within' if slowest <= ADVERSARY_LIMIT else 'PAST'} the time limit); errors {len(attacked['errors'])}"
          " (target 0)")
    outcomes: dict[str, list[float]] = {}
    for outcome, took in attacked["attacks"]:
        outcomes.setdefault(outcome, []).append(took)
    print("the adversary's requests: " + ", ".join(f"{k}: {len(v)} (median {np.median(v):.1f} s)"
                                                   for k, v in sorted(outcomes.items())))
