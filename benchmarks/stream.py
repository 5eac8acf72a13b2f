"""Real time, on this machine. Discord's gateway (connectors/gateway.py) against the fake Discord on 127.0.0.1
(benchmarks/discord_fake.py): messages per second stored end to end (said by the fake,
received, stored, embedded, indexed: searchable), the delay from a message's arrival to its being
searchable (p50, p95), and a stream through 20 forced drops (no close frame): every message stored, none
twice. The embedder and faiss are the workspace's own; the fake's cost is in the figures too. The
collector (`POST /v1/events` on `pilang serve`): events a second from 8 concurrent senders, latency, and
the server killed -9 under load: every acknowledged event stored."""
from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from pilang_engine.api import Workspace, search
from pilang_engine.connectors.gateway import Gateway

from .discord_fake import CHANNEL, GUILD, FakeDiscord, stream

WORDS = ("the login server", "ranked matchmaking", "the new rifle", "drop rates", "the tutorial", "photo mode")


async def _until(gw: Gateway, n: int, timeout: float = 300) -> None:
    t0 = time.monotonic()
    while gw.stats.stored < n:
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{gw.stats.stored} of {n} stored: {gw.stats.as_dict()}")
        await asyncio.sleep(0.01)


def _stream(ws: Workspace, fake: FakeDiscord, script) -> Gateway:
    gw = Gateway(ws, "token", GUILD, [CHANNEL], api_base=fake.api, url=fake.url, rng=random.Random(0))
    stream(gw, script)
    return gw


def run(quick: bool = False) -> None:
    gateway(quick)
    collector(quick)


def gateway(quick: bool = False) -> None:
    n = 200 if quick else 2000
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeDiscord()
        ws = Workspace(Path(tmp) / "ws")
        started: list[float] = []

        async def burst(gw: Gateway) -> None:
            await asyncio.to_thread(fake.say, "warm up: the embedder loads")
            await _until(gw, 1)
            started.append(time.perf_counter())
            for i in range(n):
                await asyncio.to_thread(fake.say, f"{rng.choice(WORDS)} is {rng.choice(('broken', 'great', 'slow'))} #{i}")
            await _until(gw, n + 1)
            gw.flush(force=True)
            started.append(time.perf_counter())
        gw = _stream(ws, fake, burst)
        seconds = started[1] - started[0]
        d = gw.stats.as_dict()
        found = search(ws, f"#{n - 1}", k=3)
        print(f"gateway, {n} messages said as fast as the fake sends them: stored and searchable in {seconds:.1f} s"
              f" ({n / seconds:.0f} messages/s end to end); arrival to searchable p50 {d['searchable_p50_s']:.2f} s,"
              f" p95 {d['searchable_p95_s']:.2f} s (batches of up to 32 or 1 s); last message found by search:"
              f" {bool(found)}")
        fake.close()

        fake = FakeDiscord()
        ws = Workspace(Path(tmp) / "drops")
        said: list[str] = []
        drops = 5 if quick else 20

        async def dropping(gw: Gateway) -> None:
            for k in range(drops):
                for i in range(10):
                    said.append(await asyncio.to_thread(fake.say, f"drop {k} message {i}"))
                await asyncio.sleep(rng.random() * 0.3)
                await asyncio.to_thread(fake.drop)
            for i in range(10):
                said.append(await asyncio.to_thread(fake.say, f"after the drops {i}"))
            await _until(gw, len(said))
        gw = _stream(ws, fake, dropping)
        stored = [r[0] for r in ws.db.execute("SELECT external_id FROM messages WHERE source = 'discord'")]
        print(f"gateway through {drops} forced drops (no close frame): {len(said)} said, {len(set(stored) & set(said))}"
              f" stored, {len(stored) - len(set(stored))} twice, {len(set(said) - set(stored))} lost;"
              f" {gw.stats.resumes} resumes, {fake.identifies} identify, {gw.stats.caught_up} by REST catch-up")
        fake.close()


def _serve(path: Path, port: int) -> tuple[object, str]:
    import subprocess
    import sys

    from pilang.server.client import wait_for
    proc = subprocess.Popen([sys.executable, "-m", "pilang", "serve", "--workspace", str(path), "--port", str(port),
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    if not wait_for(url, 120, ready=False):
        proc.kill()
        raise RuntimeError("pilang serve did not start")
    return proc, url


def _senders(url: str, tokens: list[str], seconds: float, batch: int, acked: list[str], latencies: list[float],
             refused: list[int]) -> None:
    """One thread a token, each posting batches of `batch` events for `seconds`; what a 202 acknowledged."""
    import threading
    import uuid

    import httpx

    def send(token: str) -> None:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ids = [uuid.uuid4().hex for _ in range(batch)]
            body = "\n".join(f'{{"id": "{i}", "player": "p{n % 50}", "time": {1.7e9 + n}, "event": "tick", "value": 1}}'
                             for n, i in enumerate(ids))
            t0 = time.perf_counter()
            try:
                r = client.post("/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
            except httpx.HTTPError:
                continue  # the server went away: nothing acknowledged
            if r.status_code == 202:
                latencies.append(time.perf_counter() - t0)
                acked.extend(ids)
            else:
                refused.append(r.status_code)
                time.sleep(float(r.headers.get("Retry-After", "0.2")) if r.status_code == 429 else 0.2)
        client.close()
    threads = [threading.Thread(target=send, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def collector(quick: bool = False) -> None:
    """8 senders (a collector token each) against `pilang serve`: events a second acknowledged, p95 latency;
    then the same under load with the server killed -9 mid-way and restarted: acknowledged vs stored."""
    import signal
    import socket
    import statistics

    from pilang_engine.workspace import access
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ws"
        ws = Workspace(path)
        tokens = [access.add_token(ws, f"game-{i}", "collector") for i in range(8)]
        ws.close()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc, url = _serve(path, port)
        acked: list[str] = []
        lat: list[float] = []
        refused: list[int] = []
        seconds = 3 if quick else 10
        t0 = time.perf_counter()
        _senders(url, tokens, seconds, 100, acked, lat, refused)
        took = time.perf_counter() - t0
        proc.terminate()
        proc.wait(30)
        lat.sort()
        print(f"collector, 8 senders x batches of 100 events for {seconds} s: {len(acked) / took:,.0f} events/s"
              f" acknowledged; latency p50 {1000 * statistics.median(lat):.0f} ms, p95"
              f" {1000 * lat[int(0.95 * (len(lat) - 1))]:.0f} ms; refused {len(refused)} (429: {refused.count(429)})")
        before = len(acked)
        proc, url = _serve(path, port)
        import threading
        threading.Timer(seconds / 2, lambda: proc.send_signal(signal.SIGKILL)).start()
        _senders(url, tokens, seconds, 100, acked, lat, refused)
        proc.wait(30)
        proc, url = _serve(path, port)  # restarted: what it holds
        ws = Workspace(path)
        stored = {r[0] for r in ws.db.execute("SELECT external_id FROM telemetry WHERE source = 'collector'")}
        lost = [i for i in acked if i not in stored]
        print(f"collector killed -9 under load and restarted: {len(acked) - before:,} events acknowledged in that run,"
              f" {len(acked):,} in all; {len(stored):,} stored; acknowledged but lost: {len(lost)}")
        proc.terminate()
        proc.wait(30)
