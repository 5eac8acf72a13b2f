"""Discord in real time (connectors/gateway.py) against the fake Discord on 127.0.0.1
(benchmarks/discord_fake.py), on this machine: messages per second stored end to end (said by the fake,
received, stored, embedded, indexed: searchable), the delay from a message's arrival to its being
searchable (p50, p95), and a stream through 20 forced drops (no close frame): every message stored, none
twice. The embedder and faiss are the workspace's own; the fake's cost is in the figures too."""
from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path

from pilang_engine.api import Workspace, search
from pilang_engine.connectors.gateway import Gateway

from .discord_fake import CHANNEL, GUILD, FakeDiscord

WORDS = ("the login server", "ranked matchmaking", "the new rifle", "drop rates", "the tutorial", "photo mode")


async def _until(gw: Gateway, n: int, timeout: float = 300) -> None:
    t0 = time.monotonic()
    while gw.stats.stored < n:
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{gw.stats.stored} of {n} stored: {gw.stats.as_dict()}")
        await asyncio.sleep(0.01)


def _stream(ws: Workspace, fake: FakeDiscord, script) -> Gateway:
    gw = Gateway(ws, "token", GUILD, [CHANNEL], api_base=fake.api, url=fake.url, rng=random.Random(0))

    async def main() -> None:
        stop = asyncio.Event()

        async def drive() -> None:
            try:
                await script(gw)
            finally:
                stop.set()
        task = asyncio.create_task(drive())
        await gw.run(stop)
        await task
    asyncio.run(main())
    return gw


def run(quick: bool = False) -> None:
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
