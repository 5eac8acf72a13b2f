"""Alerts within a minute (analytics/live.py), measured.

Replayed (message by message, as a stream sees them, the baseline moving on each hour):
- false alerts per quiet day: a simulated busy chat (data/simulate.live_chat: 2,500 messages a day from
  400 players, threads that draw alike replies within minutes) with no event, and real review streams
  (Warframe's 4,264 Steam reviews over 29 days and four other games'), whose alerts are an upper bound
  (a real stream has real events: each alert is listed to be read);
- outages caught: login outages injected into the simulated chat, the share alerted and the delay from
  the outage's first message to the message that made the burst significant (stream time).
End to end (wall clock): the same chat's last days ingested, then an outage said through the fake
Discord gateway (benchmarks/discord_fake.py) at its own pace into `pilang stream`'s Gateway with a webhook
on 127.0.0.1: from the first outage message said to the webhook's post, p50 and p95, and the posts per
outage (once per finding)."""
from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from pilang_engine.analytics import live
from pilang_engine.data.simulate import START, live_chat
from pilang_engine.workspace.embed import embedder

MODEL = "all-MiniLM-L6-v2"


def run(quick: bool = False) -> None:
    quiet_days(quick)
    outages(quick)
    real_streams(quick)
    crashes(quick)
    end_to_end(quick)


def _crash_stream(rng: np.random.Generator, days: int, per_day: float, bad: tuple[float, float] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crash reports (time, build, player): players crash at the hours' rhythm (data/simulate.HOURLY) on the
    build of the week (a new one each Monday), some again within minutes (a restart that crashes);
    `bad` = (start, factor): a build released at `start` that crashes `factor` times as often."""
    from pilang_engine.data.simulate import HOURLY
    start = START.timestamp()
    out: list[tuple[float, str, str]] = []
    for day in range(days):
        for hour in range(24):
            t0 = start + day * 86400 + hour * 3600
            factor = bad[1] if bad and t0 >= bad[0] else 1.0
            build = "bad" if bad and t0 >= bad[0] else f"1.{day // 7}"
            for _ in range(rng.poisson(per_day / 24 * HOURLY[hour] / HOURLY.mean() * factor)):
                when, player = t0 + rng.uniform(0, 3600), f"p{rng.integers(5000)}"
                out.append((when, build, player))
                while rng.random() < 0.3:
                    when += rng.exponential(120)
                    out.append((when, build, player))
    out.sort()
    return (np.array([o[0] for o in out]), np.array([o[1] for o in out], dtype=object),
            np.array([o[2] for o in out], dtype=object))


def crashes(quick: bool = False) -> None:
    """Crash spikes (live.crash_spikes) replayed hour by hour: spikes on a quiet stream of 200 reports a
    day, and the delay to catch a bad build that crashes 3 or 10 times as often."""
    rng = np.random.default_rng(9)
    days = 10 if quick else 40

    def replay(times: np.ndarray, builds: np.ndarray, players: np.ndarray, since: float) -> list[float]:
        found, seen = [], {}
        for hour in np.arange(since, times.max() + 3600, 3600):
            centres = np.where((times >= hour) & (times < hour + 3600))[0]
            for t in live.crash_spikes(times, builds, players, centres, hour - live.HISTORY_GAP):
                when = float(times[t["at"]])
                if t["spike"] and when - seen.get(t["build"], -1e18) >= live.REMEMBER_HOURS * 3600:
                    found.append(when)
                if t["spike"]:
                    seen[t["build"]] = when
        return found
    since = START.timestamp() + 7 * 86400
    times, builds, players = _crash_stream(rng, days, 200)
    quiet = replay(times, builds, players, since)
    print(f"crash spikes on a quiet stream (200 reports a day, a new build each week): {len(quiet)} in {days - 7} days"
          f" ({len(quiet) / (days - 7):.3f} a day; stated {live.FALSE_ALARMS_PER_DAY})")
    for factor in (3, 10):
        delays = []
        for k in range(2 if quick else 10):
            bad = since + (k % 3) * 86400 + rng.uniform(0, 86400)
            times, builds, players = _crash_stream(rng, int((bad - START.timestamp()) // 86400) + 2, 200, (bad, factor))
            released = float(times[builds == "bad"].min())  # the first report on it (the next whole hour)
            spikes = [t for t in replay(times, builds, players, since) if t >= released]
            delays.append(spikes[0] - released if spikes else np.nan)
        d = np.array(delays)
        print(f"  a bad build crashing {factor}x as often: caught {int(np.isfinite(d).sum())} of {len(d)};"
              f" its first report to the alert: p50 {np.nanpercentile(d, 50):.0f} s, p95 {np.nanpercentile(d, 95):.0f} s")


def _vectors(texts: list[str]) -> np.ndarray:
    """Unit vectors of texts, each distinct text embedded once."""
    distinct = sorted(set(texts))
    where = {t: i for i, t in enumerate(distinct)}
    V = live._unit(np.asarray(embedder(MODEL).encode(distinct), np.float32))
    return V[[where[t] for t in texts]]


def replay(times: np.ndarray, authors: np.ndarray, X: np.ndarray, since: float) -> list[dict[str, Any]]:
    """Every message from `since` on tested as it arrives (history: what came before the hour, less
    live.HISTORY_GAP); the alerts, one per finding as live.py raises them (a burst alike to one raised in the
    last REMEMBER_HOURS is the same, and keeps it remembered)."""
    alerts: list[dict[str, Any]] = []
    lows: dict[int, float | None] = {}
    for hour in np.arange(since // 3600 * 3600, times.max() + 3600, 3600):
        history = live.History.of(times, X, hour - live.HISTORY_GAP)
        for d in history.past_days():
            if d not in lows:  # each past day tested once, against the history before it
                lows[d] = live.day_low(times, authors, X, d, [(a["time"], a["seen"], a["centroid"]) for a in alerts])
        history = history.calibrated(lows)
        centres = np.where((times >= hour) & (times < hour + 3600))[0]
        if not len(centres):
            continue
        for t in live.bursts(times, authors, X, centres, history):
            if not t["burst"]:
                continue
            c = t["centroid"]
            when = float(times[t["at"]])
            members = t["members"].tolist()
            same = [a for a in alerts if live.same_finding(a, when, c, members)]
            for a in same:
                a["seen"], a["members"] = when, sorted(set(a["members"]) | set(members))[-live.KEPT_MEMBERS:]
            if not same:
                alerts.append({**t, "time": when, "seen": when, "centroid": c, "members": members})
    return alerts


def quiet_days(quick: bool = False) -> None:
    warm, days = 7, (3 if quick else 30)
    chat = live_chat(seed=1, days=warm + days)
    X = _vectors([m["text"] for m in chat])
    times = np.array([m["time"] for m in chat])
    authors = np.array([m["author"] for m in chat], dtype=object)
    t0 = time.perf_counter()
    alerts = replay(times, authors, X, START.timestamp() + warm * 86400)
    tested = int((times >= START.timestamp() + warm * 86400).sum())
    # the first day has no history to be tested against; the calibration reaches back HISTORY_DAYS
    bounds = [1 / (min(warm + d - 1, live.HISTORY_DAYS - 1) + 1) for d in range(days)]
    print(f"quiet simulated chat: {days} days after {warm} of history, {tested:,} messages tested"
          f" ({tested / (time.perf_counter() - t0):,.0f}/s): {len(alerts)} false alerts, {len(alerts) / days:.3f} a day"
          f" (calibration's bound: 1/(D + 1) a day with D past days tested, here {bounds[0]:.3f} falling to"
          f" {bounds[-1]:.3f}: {sum(bounds):.1f} alert days at most, expected)")
    for a in alerts[:5]:
        print(f"  {time.strftime('%Y-%m-%d %H:%M', time.gmtime(a['time']))}: {a['players']} players,"
              f" {a['expected']:.2g} expected, p {a['p']:.2g}: {[chat[i]['text'] for i in a['members'][:3]]}")


def outages(quick: bool = False) -> None:
    for size in ((50,) if quick else (12, 25, 50)):
        _outages(size, quick)


def _outages(size: int, quick: bool) -> None:
    warm, days = 7, (2 if quick else 14)
    rng = np.random.default_rng(5)
    base = START.timestamp() + warm * 86400
    starts = sorted(base + d * 86400 + rng.uniform(0, 86400) for d in range(days))
    chat = live_chat(seed=2, days=warm + days + 1, outages=starts, outage_players=size)
    X = _vectors([m["text"] for m in chat])
    times = np.array([m["time"] for m in chat])
    authors = np.array([m["author"] for m in chat], dtype=object)
    alerts = replay(times, authors, X, base)
    outage = np.array([m["outage"] for m in chat])
    delays, caught = [], 0
    for s in starts:
        first = float(times[outage & (times >= s)].min())
        hit = [a for a in alerts if first <= a["time"] <= s + 3600 and outage[a["at"]]]
        if hit:
            caught += 1
            delays.append(hit[0]["time"] - first)
    false = sum(1 for a in alerts if not outage[a["at"]])
    when = (f" first outage message to the one that made it significant: p50 {np.percentile(delays, 50):.0f} s,"
            f" p95 {np.percentile(delays, 95):.0f} s;") if delays else ""
    print(f"login outages of {size} players over 20 minutes in the simulated chat: {caught} of {len(starts)} alerted;"
          f"{when} {false} other alerts in {days} days")


def _reviews(path: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    d = json.loads(path.read_text())
    r = d["reviews"]
    r = sorted(r.values() if isinstance(r, dict) else r, key=lambda x: x["timestamp_created"])
    return (np.array([x["timestamp_created"] for x in r], float),
            np.array([x["author"]["steamid"] for x in r], dtype=object), [x["review"] for x in r])


def real_streams(quick: bool = False) -> None:
    from pilang_engine.data.datasets import DatasetMissing, dataset
    try:
        paths = [dataset("steam-reviews-warframe") / "review_230410.json"]
        if not quick:
            folder = dataset("steam-reviews-multigame") / "raw_appreviews_json"
            paths += [folder / f"review_{app}.json" for app in (291860, 512900, 422970, 616090)]
    except DatasetMissing as exc:
        print(f"real review streams: skipped: {exc}")
        return
    total_days, total = 0.0, 0
    for path in paths:
        times, authors, texts = _reviews(path)
        X = _vectors(texts)
        since = float(times.min()) + 7 * 86400
        alerts = replay(times, authors, X, since)
        days = (times.max() - since) / 86400
        total_days, total = total_days + days, total + len(alerts)
        print(f"real stream {path.stem}: {len(texts):,} reviews, {days:.0f} days replayed, {len(alerts)} alerts"
              f" ({len(alerts) / days:.3f} a day; an upper bound on false ones)")
        for a in alerts:
            print(f"  {time.strftime('%Y-%m-%d %H:%M', time.gmtime(a['time']))}: {a['players']} players,"
                  f" {a['expected']:.2g} expected, p {a['p']:.2g}: {[texts[i][:50] for i in a['members'][:3]]}")
    print(f"real streams together: {total} alerts in {total_days:.0f} days ({total / max(total_days, 1):.4f} a day)")


def _export(folder: Any, chat: list[dict[str, Any]]) -> None:
    """The chat as a DiscordChatExporter file (one channel), for an ingest."""
    from datetime import datetime, timezone
    folder.mkdir(parents=True, exist_ok=True)
    # ids far from the fake gateway's (which count from 10,001): a message of each is never the other's
    messages = [{"id": str(10**15 + i), "type": "Default", "timestamp": datetime.fromtimestamp(m["time"], timezone.utc).isoformat(),
                 "content": m["text"], "author": {"id": m["author"], "name": m["author"]}} for i, m in enumerate(chat)]
    (folder / "general.json").write_text(json.dumps({
        "guild": {"id": "g-live", "name": "Live benchmark"}, "channel": {"id": "c-general", "name": "general"},
        "messages": messages}))


class _Webhook:
    """A webhook on 127.0.0.1 that notes when each post arrives."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.posts: list[tuple[float, dict[str, Any]]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                posts.append((time.monotonic(), json.loads(body)))
                self.send_response(204)
                self.end_headers()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def end_to_end(quick: bool = False) -> None:
    import asyncio
    import random
    import shutil
    import tempfile
    from datetime import datetime, timezone
    from pathlib import Path

    from pilang_engine.api import Gateway, ingest, live_alerts, live_stages
    from pilang_engine.data.simulate import OPENERS, OUTAGE
    from pilang_engine.personas import clusters as personas
    from pilang_engine.workspace.store import Workspace

    from .discord_fake import CHANNEL, GUILD, FakeDiscord, stream
    days, runs, size = (10, 2, 15) if quick else (21, 6, 25)
    rng = random.Random(4)
    with tempfile.TemporaryDirectory() as tmp:
        now = time.time()
        history = live_chat(seed=3, days=days, start=now - days * 86400, per_day=1200 if quick else 2500)
        _export(Path(tmp) / "history", history)
        ws = Workspace(Path(tmp) / "ws")
        t0 = time.perf_counter()
        ingest(ws, [Path(tmp) / "history"], progress=False)
        personas.fit(ws)
        ingested = time.perf_counter() - t0
        live._history(ws, now, [])  # each past day's low, computed once and kept in the workspace
        ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copies below take the whole database
        chatter = [m["text"] for m in history[-2000:]]
        delays: list[float] = []
        posts_per: list[int] = []
        evidence: list[int] = []
        errors: list[str] = []
        for run in range(runs):  # each outage in its own copy of the workspace: none sees another's messages
            copy = Path(tmp) / f"run{run}"
            shutil.copytree(Path(tmp) / "ws", copy)
            run_ws = Workspace(copy)
            hook, fake = _Webhook(), FakeDiscord()
            gw = Gateway(run_ws, "token", GUILD, [CHANNEL], api_base=fake.api, url=fake.url, rng=random.Random(run),
                         on_flush=live_alerts(run_ws, hook.url, "slack", say=lambda text: None), stages=live_stages())

            def said(text: str, author: str, fake: FakeDiscord = fake) -> None:
                fake.say(text, author=author, when=datetime.now(timezone.utc).isoformat())

            async def script(gw: Gateway, hook: _Webhook = hook, run: int = run, said: Any = said) -> None:
                await asyncio.to_thread(said, "warm up", "u-warm")
                for _ in range(600):
                    if gw.stats.stored:
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise RuntimeError(f"the warm-up message was not stored: {gw.stats.as_dict()}")
                gw.flush(force=True)  # the hour's baseline is built here (once an hour)
                for _ in range(10):  # the chat goes on
                    await asyncio.to_thread(said, rng.choice(chatter), f"c{rng.randrange(400)}")
                    await asyncio.sleep(rng.expovariate(1 / 1.0))
                start, outage = time.monotonic(), 0
                for k in range(size):
                    if hook.posts:
                        break
                    await asyncio.to_thread(said, rng.choice(OPENERS) + rng.choice(OUTAGE), f"o{run}-{k}")
                    outage += 1
                    for _ in range(2):  # and goes on through the outage
                        await asyncio.to_thread(said, rng.choice(chatter), f"c{rng.randrange(400)}")
                    await asyncio.sleep(rng.expovariate(1 / 4.0))
                deadline = time.monotonic() + 10
                while not hook.posts and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                if hook.posts:
                    delays.append(hook.posts[0][0] - start)
                    evidence.append(outage)
                for k in range(5):  # the outage goes on: a later post of it would land here
                    await asyncio.to_thread(said, rng.choice(OUTAGE), f"o{run}-late{k}")
                    await asyncio.sleep(0.5)
                await asyncio.sleep(2)
                posts_per.append(len(hook.posts))
            stream(gw, script)
            fake.close()
            hook.close()
            errors += gw.stats.errors
            last = hook.posts[-1][1] if hook.posts else None
        d = np.array(delays) if delays else np.array([np.nan])
        print(f"end to end ({days} days of a {len(history) // days:,}-message-a-day chat ingested in {ingested:.0f} s):"
              f" {len(delays)} of {runs} login outages (players arriving every 4 s on average) posted to the webhook;"
              f" first outage message said to the post: p50 {np.nanpercentile(d, 50):.1f} s, p95 {np.nanpercentile(d, 95):.1f} s;"
              f" outage players said by then: {evidence}; posts per outage {posts_per}; gateway errors {errors}")
        if last:
            print("  e.g. " + json.dumps(last)[:600])
