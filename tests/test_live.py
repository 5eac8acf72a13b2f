"""Alerts within a minute (analytics/live.py): bursts of alike messages counted by player on a trailing
window, a baseline that never sees the window (or, calibrating, the day it tests), calibrated on past
quiet days; crash spikes on a build against the whole game's usual; and the stream end to end: messages
said through the fake Discord gateway reach a webhook once per finding."""
from __future__ import annotations

import asyncio
import json
import random
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pilang_engine.analytics import live

from benchmarks.discord_fake import CHANNEL, GUILD, FakeDiscord, stream

DAY = 86400.0
T0 = 1_740_787_200.0  # a midnight, UTC
DIM = 32


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def chat(rng: np.random.Generator, days: int, per_day: int = 600, subjects: int = 40
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A quiet chat of random vectors: threads on one of `subjects` (alike within, ~0.8) drawing replies
    from other players within minutes, the rest unalike chatter."""
    S = _unit(rng.normal(size=(subjects, DIM)))
    times, authors, X = [], [], []
    for _ in range(int(days * per_day / 2.5)):
        t, s = T0 + rng.uniform(0, days * DAY), int(rng.integers(subjects))
        for _ in range(int(rng.geometric(0.4))):
            on = rng.random() < 0.5
            times.append(t)
            authors.append(f"p{rng.integers(300)}")
            X.append(S[s] + rng.normal(scale=0.08, size=DIM) if on else rng.normal(size=DIM))
            t += rng.exponential(60)
    order = np.argsort(times)
    return (np.array(times)[order], np.array(authors, dtype=object)[order], _unit(np.array(X))[order].astype(np.float32))


def with_burst(times: np.ndarray, authors: np.ndarray, X: np.ndarray, at: float, players: int, rng: np.random.Generator,
               one_player: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The chat with `players` messages alike to a new subject said within two minutes from `at`."""
    new = _unit(rng.normal(size=(1, DIM)))[0]
    t = at + np.sort(rng.uniform(0, 120, players))
    a = np.array(["same-player" if one_player else f"burst{k}" for k in range(players)], dtype=object)
    V = _unit(new + rng.normal(scale=0.08, size=(players, DIM))).astype(np.float32)
    times2, authors2, X2 = np.concatenate([times, t]), np.concatenate([authors, a]), np.concatenate([X, V])
    order = np.argsort(times2, kind="stable")
    burst = np.zeros(len(times2), bool)
    burst[len(times):] = True
    return times2[order], authors2[order], X2[order], burst[order]


def history_at(times: np.ndarray, authors: np.ndarray, X: np.ndarray, until: float,
               lows: dict[int, float | None] | None = None) -> live.History:
    lows = {} if lows is None else lows
    h = live.History.of(times, X, until)
    for d in h.past_days():
        if d not in lows:
            lows[d] = live.day_low(times, authors, X, d)
    return h.calibrated(lows)


def test_a_burst_of_new_players_is_caught_where_one_player_repeating_is_not() -> None:
    rng = np.random.default_rng(0)
    times, authors, X = chat(rng, 10)
    at = T0 + 9.5 * DAY
    h = history_at(times, authors, X, at - live.HISTORY_GAP)
    assert h.days == 8 and 0 < h.bar < 1  # the first day has no history to be tested against
    for one_player, expect in ((False, True), (True, False)):
        t2, a2, X2, burst = with_burst(times, authors, X, at, 8, np.random.default_rng(1), one_player)
        tests = live.bursts(t2, a2, X2, np.where(burst)[0], h)
        assert any(t["burst"] for t in tests) is expect
    t2, a2, X2, burst = with_burst(times, authors, X, at, 8, np.random.default_rng(1))
    found = [t for t in live.bursts(t2, a2, X2, np.where(burst)[0], h) if t["burst"]]
    assert found[0]["players"] >= live.MIN_PLAYERS and found[0]["p"] < h.bar
    assert set(a2[found[0]["members"]]) <= {f"burst{k}" for k in range(8)}


def test_a_centre_sees_only_the_window_before_it_and_the_baseline_only_what_came_before_the_gap() -> None:
    rng = np.random.default_rng(2)
    times, authors, X = chat(rng, 9)
    at = T0 + 8.5 * DAY
    t2, a2, X2, burst = with_burst(times, authors, X, at, 8, np.random.default_rng(3))
    h = history_at(t2, a2, X2, at - live.HISTORY_GAP)
    first = np.where(burst)[0][:3]
    early = live.bursts(t2, a2, X2, first, h)
    # the later burst messages are there, but a centre never counts what came after it
    assert all(t["players"] <= 3 for t in early)
    assert all(int(m) <= t["at"] for t in early for m in t["members"])
    # the baseline: moving the burst (or anything after `until`) changes nothing in it
    later = live.History.of(times, X, at - live.HISTORY_GAP)
    assert np.array_equal(h.sample, later.sample) and np.allclose(h.per_window, later.per_window)


def test_a_past_day_is_tested_against_the_history_before_it_and_without_the_bursts_raised() -> None:
    rng = np.random.default_rng(4)
    times, authors, X = chat(rng, 10)
    t2, a2, X2, burst = with_burst(times, authors, X, T0 + 5.3 * DAY, 10, np.random.default_rng(5))
    low = live.day_low(t2, a2, X2, int(T0 // DAY) + 5)
    assert low is not None and low < 1e-9  # the burst, as the stream saw it that day
    # what came after the day changes nothing in it (nor what the next day says)
    cut = t2 < T0 + 6 * DAY
    assert live.day_low(t2[cut], a2[cut], X2[cut], int(T0 // DAY) + 5) == low
    # a burst raised is an event, not a quiet day: left out of the bar
    centroid = _unit(X2[burst].mean(axis=0, keepdims=True))[0]
    quiet = live.day_low(t2, a2, X2, int(T0 // DAY) + 5, raised=[(float(t2[burst].min()), float(t2[burst].max()), centroid)])
    assert quiet is not None and quiet > low
    assert live.day_low(t2, a2, X2, int(T0 // DAY)) is None  # no history before the first day


def test_a_quiet_chat_of_threads_raises_about_as_few_alerts_as_calibration_says() -> None:
    rng = np.random.default_rng(6)
    days = 18
    times, authors, X = chat(rng, days)
    alert_days, bound, lows = set(), 0.0, {}
    for day in range(8, days):
        h = history_at(times, authors, X, T0 + day * DAY - live.HISTORY_GAP, lows)
        bound += h.false_alarms()
        centres = np.where((times >= T0 + day * DAY) & (times < T0 + (day + 1) * DAY))[0]
        if any(t["burst"] for t in live.bursts(times, authors, X, centres, h)):
            alert_days.add(day)
    # exchangeable quiet days: each beats all D before it with chance 1/(D+1); the Poisson test alone would
    # fire on most days of such clumped threads
    assert len(alert_days) <= max(3, 2 * bound), (sorted(alert_days), bound)


def test_a_bad_build_spikes_where_one_player_crashing_on_every_restart_does_not() -> None:
    rng = np.random.default_rng(7)
    times = np.sort(T0 + rng.uniform(0, 10 * DAY, 2000))
    builds = np.array(["1.0"] * len(times), dtype=object)
    players = np.array([f"p{i}" for i in rng.integers(5000, size=len(times))], dtype=object)
    at = T0 + 10 * DAY + 600
    for who, expect in (([f"q{k}" for k in range(12)], True), (["same"] * 12, False)):
        t2 = np.concatenate([times, at + np.arange(12) * 10.0])
        b2 = np.concatenate([builds, np.array(["1.1"] * 12, dtype=object)])
        p2 = np.concatenate([players, np.array(who, dtype=object)])
        tests = live.crash_spikes(t2, b2, p2, np.arange(len(times), len(t2)), T0 + 10 * DAY)
        assert any(t["spike"] for t in tests) is expect


@pytest.fixture()
def fake() -> Any:
    f = FakeDiscord()
    yield f
    f.close()


def test_an_outage_said_through_the_gateway_is_posted_to_the_webhook_once(tmp_path: Path, fake: FakeDiscord,
                                                                        httpserver: Any) -> None:
    from pilang_engine.api import Gateway, Workspace, ingest, live_alerts, live_stages
    from pilang_engine.data.simulate import OUTAGE, live_chat
    from pilang_engine.personas import clusters as personas

    from benchmarks.live import _export
    now = time.time()
    history = live_chat(seed=3, days=10, start=now - 10 * DAY, players=100, per_day=200)
    _export(tmp_path / "history", history)
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [tmp_path / "history"], progress=False)
    personas.fit(ws)
    # one living topic in the lineage (as a topic fit leaves it): the burst is named by it, without a refit
    C = ws.embedder().encode(list(OUTAGE))
    centroid = (C.mean(axis=0) / np.linalg.norm(C.mean(axis=0))).round(5).tolist()
    ws.set_meta("topic-lineage:*", json.dumps({"next": 8, "fits": {}, "events": [], "end": None, "topics": {
        "7": {"label": "login / servers / connect", "terms": ["login"], "size": 40, "born": "2025-01-01", "died": None,
              "parent": None, "merged_into": None, "first_fit": True, "centroid": centroid}}}))
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    check = live_alerts(ws, httpserver.url_for("/hook"), "slack", say=lambda text: None)
    gw = Gateway(ws, "token", GUILD, [CHANNEL], api_base=fake.api, url=fake.url, rng=random.Random(0),
                 on_flush=check, stages=live_stages())

    def say(text: str, author: str) -> None:
        fake.say(text, author=author, when=datetime.now(timezone.utc).isoformat())

    async def script(gw: Gateway) -> None:
        for k, text in enumerate(OUTAGE[:10]):
            await asyncio.to_thread(say, text, f"outage{k}")
        await asyncio.to_thread(say, "is it back yet? can't log in still", "outage0")
        for _ in range(200):
            if gw.stats.stored >= 11 and httpserver.log:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # another flush: the same outage is not posted again
        await asyncio.to_thread(say, "servers down for me too, login fails", "outage11")
        while gw.stats.stored < 12:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)
    stream(gw, script, timeout=60)
    posts = [json.loads(req.get_data()) for req, _ in httpserver.log]
    assert len(posts) == 1, posts
    text = posts[0]["text"]
    assert text.startswith("pilang: Burst since") and "players wrote alike messages" in text
    assert re.search(r"beyond the most extreme of the (8|9) days before: at most 0\.1[01]? false alarms a day", text), text
    assert "personas" in text
    assert "about 'login / servers / connect' (topic 7)" in text
    assert not gw.stats.errors
    assert ws.db.execute("SELECT count(*) FROM alerts WHERE key LIKE 'burst:%' AND delivered = 1").fetchone()[0] == 1
    # the streamed players joined the nearest persona, without a refit
    assert ws.db.execute("SELECT count(DISTINCT pm.author) FROM persona_members pm JOIN messages m ON m.author = pm.author"
                         " WHERE m.source = 'discord' AND pm.fitted = 0").fetchone()[0] == 11


def test_the_watcher_raises_a_crash_spike_from_the_collector_once(tmp_path: Path) -> None:
    from pilang_engine.api import Workspace, accept_events, watch_once
    ws = Workspace(tmp_path / "ws")
    rng = np.random.default_rng(8)
    now = time.time()
    usual = [{"id": f"u{i}", "stack_hash": f"s{i % 7}", "build": "1.4", "platform": "pc", "message": "crash",
              "player": f"p{rng.integers(3000)}", "time": float(t)}
             for i, t in enumerate(np.sort(now - 3 * DAY + rng.uniform(0, 3 * DAY - 7200, 300)))]
    assert accept_events(ws, usual)["crashes"] == 300
    said: list[str] = []
    assert watch_once(ws, say=said.append)["findings"] == 0  # the usual crashes: nothing to say
    bad = [{"id": f"b{k}", "stack_hash": "deadbeef", "build": "1.5", "platform": "pc",
            "message": "NullReferenceException in LoginFlow", "player": f"q{k}", "time": now - 120 + 10 * k}
           for k in range(12)]
    accept_events(ws, bad)
    assert watch_once(ws, say=said.append)["alerted"] == 1
    assert said[-1].startswith("pilang: Crash spike on build 1.5") and "stack deadbeef" in said[-1]
    assert "LoginFlow" in said[-1]
    accept_events(ws, [{**bad[0], "id": "b-more", "player": "q-more", "time": now}])
    assert watch_once(ws, say=said.append)["alerted"] == 0  # the same spike, still going: said once
