"""Discord in real time (connectors/gateway.py) against a fake Discord on 127.0.0.1 (benchmarks/discord_fake.py):
a stream through a dropped connection, a RECONNECT and out-of-order events stores every message once;
an INVALID_SESSION re-identifies and a REST catch-up fills the gap; edits keep the old text as a version,
deletes take the text out of search; an authentication failure stops with its reason."""
from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from pilang_engine.api import Workspace, search
from pilang_engine.connectors.gateway import Gateway, GatewayFatal

from benchmarks.discord_fake import CHANNEL, GUILD, FakeDiscord, stream


class _Zero(random.Random):
    def random(self) -> float:  # no jitter: the shortest waits the protocol allows
        return 0.0


@pytest.fixture()
def fake() -> Iterator[FakeDiscord]:
    f = FakeDiscord()
    yield f
    f.close()


def gateway(ws: Workspace, fake: FakeDiscord) -> Gateway:
    return Gateway(ws, "secret-token", GUILD, [CHANNEL], api_base=fake.api, url=fake.url, rng=_Zero())


async def stored(gw: Gateway, n: int, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.02)):
        if gw.stats.stored >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{gw.stats.stored} of {n} messages stored: {gw.stats.as_dict()}")


def rows(ws: Workspace) -> list[tuple[str, str]]:
    return ws.db.execute("SELECT external_id, text FROM messages WHERE source = 'discord' ORDER BY id").fetchall()


def test_a_stream_through_a_drop_a_reconnect_and_events_out_of_order_stores_each_message_once(
        tmp_path: Path, fake: FakeDiscord) -> None:
    ws = Workspace(tmp_path / "ws")
    said: list[str] = []

    async def script(gw: Gateway) -> None:
        say = lambda i: said.append(fake.say(f"message {i}: the ranked queue is slow tonight"))  # noqa: E731
        for i in range(10):
            await asyncio.to_thread(say, i)
        await stored(gw, 10)
        await asyncio.to_thread(fake.drop)  # no close frame: the client resumes and the gateway replays
        for i in range(10, 20):
            await asyncio.to_thread(say, i)
        await stored(gw, 20)
        await asyncio.to_thread(fake.reconnect)
        fake.shuffle_next()
        for i in range(20, 30):
            await asyncio.to_thread(say, i)
        await stored(gw, 30)
    gw = gateway(ws, fake)
    stream(gw, script, 60)
    got = rows(ws)
    assert [r[0] for r in got] == said or sorted(r[0] for r in got) == sorted(said)
    assert len(got) == len(set(r[0] for r in got)) == 30  # each once
    assert gw.stats.resumes >= 2 and fake.identifies == 1  # resumed twice, one session throughout
    assert gw.seq == fake.seq  # the sequence never moved back on the late event
    channels = {json.loads(m)["channel"] for (m,) in ws.db.execute("SELECT meta FROM messages WHERE source = 'discord'")}
    assert channels == {"general"}  # the channel's name, as the REST sync stores it
    hit = search(ws, "the ranked queue is slow", k=1)
    assert hit and hit[0]["source"] == "discord"  # searchable: embedded and indexed as it arrived
    assert gw.stats.as_dict()["searchable_p95_s"] < 30


def test_an_invalid_session_identifies_again_and_a_rest_catch_up_fills_the_gap(tmp_path: Path,
                                                                                fake: FakeDiscord) -> None:
    ws = Workspace(tmp_path / "ws")

    async def script(gw: Gateway) -> None:
        for i in range(5):
            await asyncio.to_thread(fake.say, f"before {i}")
        await stored(gw, 5)
        for i in range(4):  # said while the session was lost: only REST has them
            fake.say(f"in the gap {i}", live=False)
        await asyncio.to_thread(fake.invalidate)
        await stored(gw, 9)
        await asyncio.to_thread(fake.say, "after the new session")
        await stored(gw, 10)
    gw = gateway(ws, fake)
    stream(gw, script, 60)
    texts = [t for _, t in rows(ws)]
    assert len(texts) == 10 == len(set(texts)) and any("in the gap 3" in t for t in texts)
    assert fake.identifies == 2 and gw.stats.catch_ups >= 2
    state = json.loads(ws.db.execute("SELECT state FROM connectors WHERE name = ?", [f"discord:guild:{GUILD}"]).fetchone()[0])
    assert state["after"][CHANNEL] == max(fake.messages, key=int)  # the REST sync's cursor, kept by the stream too


def test_an_edit_keeps_the_old_text_as_a_version_and_a_delete_takes_the_text_out_of_search(tmp_path: Path,
                                                                                            fake: FakeDiscord) -> None:
    ws = Workspace(tmp_path / "ws")
    ids: dict[str, str] = {}

    async def script(gw: Gateway) -> None:
        ids["edited"] = await asyncio.to_thread(fake.say, "the rifle feels fine")
        ids["deleted"] = await asyncio.to_thread(fake.say, "a crude insult about the moderators")
        ids["kept"] = await asyncio.to_thread(fake.say, "loving the new map")
        await stored(gw, 3)
        await asyncio.to_thread(fake.edit, ids["edited"], "the login server is down for everyone")
        await asyncio.to_thread(fake.delete, ids["deleted"])
        for _ in range(500):
            if gw.stats.edited and gw.stats.deleted:
                break
            await asyncio.sleep(0.02)
    gw = gateway(ws, fake)
    stream(gw, script, 60)
    by_ext = {e: (i, t, json.loads(m)) for i, e, t, m in ws.db.execute(
        "SELECT id, external_id, text, meta FROM messages WHERE source = 'discord'")}
    mid, text, meta = by_ext[ids["edited"]]
    assert text == "the login server is down for everyone" and meta["versions"][0]["text"] == "the rifle feels fine"
    did, dtext, dmeta = by_ext[ids["deleted"]]
    assert dtext == "" and dmeta["deleted"] and "versions" not in dmeta  # kept, marked, its words gone
    from pilang_engine.ingestion.pipeline import finish, Report
    finish(ws, set(), Report(), True, False, None)  # the edit's new text embedded
    assert search(ws, "login server down", k=1)[0]["id"] == mid
    assert did not in [h["id"] for h in search(ws, "insult about the moderators", k=5)]


def test_an_authentication_failure_stops_with_its_reason(tmp_path: Path, fake: FakeDiscord) -> None:
    ws = Workspace(tmp_path / "ws")
    fake.refuse(4004)

    async def script(gw: Gateway) -> None:
        await asyncio.sleep(5)
    with pytest.raises(GatewayFatal, match="4004 authentication failed"):
        stream(gateway(ws, fake), script)


def test_pilang_stream_discord_stores_what_is_said_and_reports_it(tmp_path: Path, fake: FakeDiscord) -> None:
    """The command: history over REST when the session starts, then what is said live, for --duration."""
    import os
    import subprocess
    import sys
    import threading
    import time
    for i in range(3):
        fake.say(f"said before the stream {i}", live=False)

    def later() -> None:
        time.sleep(4)
        for i in range(3):
            fake.say(f"said live {i}")
    threading.Thread(target=later, daemon=True).start()
    r = subprocess.run([sys.executable, "-m", "pilang", "--json", "stream", "discord", "--guild", GUILD, "--channel",
                        CHANNEL, "--api-base", fake.api, "--gateway", fake.url, "--duration", "12s",
                        "--workspace", str(tmp_path / "ws")], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "DISCORD_TOKEN": "secret-token"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["stored"] == 6 and out["caught_up"] == 3, out
    texts = [t for _, t in rows(Workspace(tmp_path / "ws"))]
    assert sorted(texts) == sorted([f"said before the stream {i}" for i in range(3)] + [f"said live {i}" for i in range(3)])
    r = subprocess.run([sys.executable, "-m", "pilang", "stream", "discord", "--guild", GUILD,
                        "--workspace", str(tmp_path / "ws")], capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"})
    assert r.returncode == 1 and "DISCORD_TOKEN" in r.stderr
