"""Discord in real time: a bot's gateway connection (API v10, JSON frames over a websocket; the protocol
facts are in ../shared/REFERENCE.md). IDENTIFY with GUILD_MESSAGES and MESSAGE_CONTENT; heartbeats at
HELLO's interval (the first after a random part of it), a beat with no ACK since the last one is a
zombie connection, closed and resumed; RESUME after a drop with the session id and the last sequence
(missed events are replayed), RECONNECT resumes, INVALID_SESSION re-identifies (after 1-5 s) or
resumes as it says, and a re-identify is followed by a REST catch-up of every channel from its last
stored message (the REST sync's own pager, connectors/discord.py), so a gap is filled. Messages are
stored through the same path as the REST sync (the DiscordChatExporter shape, one source
registration, its per-channel cursor), so nothing is stored twice whichever way it arrives; edits
replace the text and keep the old one as a version; deletes keep the message, marked, with its text
gone and out of search. What arrives is embedded and indexed in small batches (FLUSH_MESSAGES or
FLUSH_SECONDS), so it is searchable within seconds; `on_flush` then runs (the live alerts,
watch.live_alerts). Close codes 4004 (authentication), 4013/4014
(intents) stop with the reason; identifies respect `session_start_limit`."""
from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ingestion import formats as F
from ..ingestion.formats.discord import message_record
from ..ingestion.pipeline import Report, finish
from ..ingestion.stages import Stage
from ..workspace.dates import parse_date
from ..workspace.store import Workspace
from . import Out, register
from .discord import API, FORM, TYPES, exported
from .http import Client, ConnectorError

GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 9, 1 << 15
INTENTS = GUILD_MESSAGES | MESSAGE_CONTENT
FATAL = {4004: "authentication failed (check the bot token)", 4010: "invalid shard", 4011: "sharding required",
         4012: "invalid API version", 4013: "invalid intents", 4014: "disallowed intents: enable the Message Content"
         " intent in the Developer Portal (Bot > Privileged Gateway Intents)"}
REIDENTIFY = {4007, 4009}  # invalid seq, session timed out: a new session
FLUSH_MESSAGES = 32
FLUSH_SECONDS = 1.0
BACKOFF = (0.5, 1, 2, 5, 10, 30)
ACK_GRACE = 1.0  # seconds a missing heartbeat ACK is waited for before the connection counts as a zombie


class GatewayFatal(ConnectorError):
    """The gateway refused us for a reason retrying will not fix."""


@dataclass
class Stats:
    """What a stream did: events seen, messages stored, edits, deletes, connections, resumes, identifies,
    REST catch-ups, and the delay from each stored message's arrival to its being searchable."""
    events: int = 0
    stored: int = 0
    edited: int = 0
    deleted: int = 0
    connections: int = 0
    resumes: int = 0
    identifies: int = 0
    catch_ups: int = 0
    caught_up: int = 0  # messages the REST catch-ups stored (said while no session was open)
    searchable_delays: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "searchable_delays"}
        if self.searchable_delays:
            d = sorted(self.searchable_delays)
            out["searchable_p50_s"] = round(d[len(d) // 2], 4)
            out["searchable_p95_s"] = round(d[min(len(d) - 1, int(0.95 * len(d)))], 4)
        return out


class Gateway:
    """One bot's stream of a guild (or some of its channels) into a workspace. `run()` until `stop` is
    set (or `until(stats)` says so); `url`: the gateway's address (default: GET /gateway/bot)."""

    def __init__(self, ws: Workspace, token: str, guild: str, channels: list[str] | None = None,
                 api_base: str = API, url: str | None = None, intents: int = INTENTS,
                 token_env: str = "DISCORD_TOKEN", rng: random.Random | None = None,
                 on_flush: Callable[[], Any] | None = None, stages: Sequence[Stage] | None = None) -> None:
        self.ws, self.token, self.guild, self.intents = ws, token, str(guild), intents
        self.channels = {str(c) for c in channels or []}
        self.api_base, self.url = api_base, url
        self.rng = rng or random.Random()
        self.source = register(ws, "discord", {"guild": self.guild, "token_env": token_env,
                                               "api_base": api_base if api_base != API else None})
        self.report, self.groups = Report(), set()
        self.out = Out(ws, self.source, FORM, self.report, self.groups, _NoBar())
        self.session_id: str | None = None
        self.resume_url: str | None = None
        self.seq: int | None = None
        self.acked = True
        self.stats = Stats()
        self.pending: list[float] = []  # arrival times of stored messages not yet searchable
        self.last_flush = time.monotonic()
        self.names: dict[str, str | None] = {}  # channel id -> name, as far as known
        self.identify_times: list[float] = []
        self.start_limit: dict[str, Any] | None = None
        self.on_flush = on_flush  # after each batch is searchable (the live alerts, watch.live_alerts)
        self.stages = stages  # what each batch runs after storing (default ingestion's own; api.live_stages)

    # ---- the connection --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None, until: Any = None) -> Stats:
        """Stream until `stop` is set or `until(stats)` is true; reconnecting as the protocol says."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake
        stop = stop or asyncio.Event()
        failures = 0
        while not stop.is_set() and not (until and until(self.stats)):
            resume = self.session_id is not None and self.seq is not None
            base = (self.resume_url if resume and self.resume_url else None) or self.url or self._gateway_url()
            target = base + ("&" if "?" in base else "?") + "v=10&encoding=json"
            beat: asyncio.Task[None] | None = None
            if not resume:
                await self._identify_slot()  # before connecting: IDENTIFY goes right after HELLO
            try:
                async with connect(target, max_size=2 ** 22, open_timeout=10, close_timeout=2) as conn:
                    self.stats.connections += 1
                    hello = json.loads(await asyncio.wait_for(conn.recv(), 30))
                    if hello.get("op") != 10:
                        raise ConnectorError(f"the gateway's first frame was op {hello.get('op')}, not HELLO")
                    interval = float(hello["d"]["heartbeat_interval"]) / 1000
                    self.acked = True
                    if resume:
                        self.stats.resumes += 1
                        await conn.send(json.dumps({"op": 6, "d": {"token": self.token, "session_id": self.session_id,
                                                                   "seq": self.seq}}))
                    else:
                        await self._identify(conn)
                    beat = asyncio.create_task(self._heartbeat(conn, interval))
                    failures = 0
                    await self._read(conn, stop, until)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                if code in FATAL:
                    self.flush(force=True)
                    raise GatewayFatal(f"the Discord gateway closed the connection: {code} {FATAL[code]}") from None
                if code in REIDENTIFY:
                    self.session_id = None
            except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
                failures += 1
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF)) - 1] * (0.5 + self.rng.random()))
            finally:
                if beat is not None:
                    beat.cancel()
                self.flush(force=True)
        return self.stats

    async def _read(self, conn: Any, stop: asyncio.Event, until: Any) -> None:
        """Frames until the connection ends, a reconnect is asked for, or the stream is to stop."""
        while not stop.is_set() and not (until and until(self.stats)):
            try:
                raw = await asyncio.wait_for(conn.recv(), FLUSH_SECONDS)
            except asyncio.TimeoutError:
                self.flush()
                continue
            frame = json.loads(raw)
            op = frame.get("op")
            if op == 0:
                await self._dispatch(frame)
            elif op == 1:  # the gateway asks for a beat now
                await conn.send(json.dumps({"op": 1, "d": self.seq}))
            elif op == 11:
                self.acked = True
            elif op == 7:  # RECONNECT: resume on a new connection
                await conn.close(4900, "reconnect")
                return
            elif op == 9:  # INVALID_SESSION: d true, resume; false, a new session after 1-5 s
                if not frame.get("d"):
                    self.session_id, self.seq = None, None
                    await asyncio.sleep(1 + 4 * self.rng.random())
                await conn.close(4900, "invalid session")
                return
            self.flush()

    async def _heartbeat(self, conn: Any, interval: float) -> None:
        """A beat every interval (the first after a random part of it); no ACK since the last beat: a
        zombie connection, closed so the stream resumes on a new one."""
        await asyncio.sleep(interval * self.rng.random())
        while True:
            if not self.acked:  # an ACK may wait unread behind our own work (a flush): a moment to read it
                await asyncio.sleep(min(interval, ACK_GRACE))
            if not self.acked:
                await conn.close(4901, "no heartbeat ACK")
                return
            self.acked = False
            await conn.send(json.dumps({"op": 1, "d": self.seq}))
            await asyncio.sleep(interval)

    async def _identify_slot(self) -> None:
        """Wait until an IDENTIFY is allowed by `session_start_limit` (max_concurrency per 5 s; none at all
        when none remain today)."""
        limit = self.start_limit or {}
        if limit.get("remaining") == 0:
            raise GatewayFatal(f"no session starts left today; they reset in {limit.get('reset_after', 0) / 1000:.0f} s")
        per5 = int(limit.get("max_concurrency") or 1)
        now = time.monotonic()
        recent = [t for t in self.identify_times if now - t < 5]
        if len(recent) >= per5:
            await asyncio.sleep(5 - (now - recent[0]))
        self.identify_times = [t for t in recent if time.monotonic() - t < 5] + [time.monotonic()]

    async def _identify(self, conn: Any) -> None:
        self.stats.identifies += 1
        await conn.send(json.dumps({"op": 2, "d": {"token": self.token, "intents": self.intents,
                                                   "properties": {"os": "linux", "browser": "pilang", "device": "pilang"}}}))

    def _gateway_url(self) -> str:
        """GET /gateway/bot: the address, and the session start limit the identifies keep to."""
        client = Client(self.api_base, headers={"Authorization": f"Bot {self.token}"})
        try:
            info = client.get("/gateway/bot")
        finally:
            client.close()
        self.start_limit = info.get("session_start_limit") if isinstance(info, dict) else None
        self.url = str(info["url"])
        return self.url

    # ---- events ----------------------------------------------------------------------------------

    async def _dispatch(self, frame: dict[str, Any]) -> None:
        s, kind, d = frame.get("s"), frame.get("t"), frame.get("d") or {}
        if isinstance(s, int):
            self.seq = s if self.seq is None else max(self.seq, s)  # a late frame never moves it back
        self.stats.events += 1
        if kind == "READY":
            self.session_id, self.resume_url = d.get("session_id"), d.get("resume_gateway_url")
            self.catch_up()  # on the loop: the workspace connection is this thread's
        elif kind in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"):
            if str(d.get("guild_id") or self.guild) != self.guild or (self.channels and str(d.get("channel_id")) not in self.channels):
                return
            if kind == "MESSAGE_CREATE":
                self.store(d)
            elif kind == "MESSAGE_UPDATE":
                if "content" in d and self.ws.edit_message("discord", str(d["id"]), d["content"] or "",
                                                           parse_date(d.get("edited_timestamp")) if d.get("edited_timestamp") else time.time()):
                    self.stats.edited += 1
            else:
                for i in d.get("ids") or [d.get("id")]:
                    if i is not None and self.ws.delete_message("discord", str(i), time.time()):
                        self.stats.deleted += 1

    def _name(self, channel: str) -> str | None:
        """The channel's name (GET /channels/{id}, once), which the REST sync stores with each message."""
        if channel not in self.names:
            client = Client(self.api_base, headers={"Authorization": f"Bot {self.token}"})
            try:
                info = client.get(f"/channels/{channel}")
                self.names[channel] = info.get("name") if isinstance(info, dict) else None
            except ConnectorError:
                self.names[channel] = None
            finally:
                client.close()
        return self.names[channel]

    def store(self, m: dict[str, Any]) -> None:
        """One message, as the REST sync stores it, with its channel's cursor in the same transaction."""
        channel = str(m.get("channel_id"))
        self._name(channel)
        if m.get("type", 0) not in TYPES:
            return
        records = list(F.guarded([(exported(m), f"discord channel {channel} message {m.get('id')}")],
                                 lambda x, where: message_record(x, where, channel, self.names.get(channel))))
        state = dict(self.out.source.state)
        after = dict(state.get("after") or {})
        if int(m["id"]) > int(after.get(channel, "0")):
            after[channel] = str(m["id"])
        state["after"] = after
        before = self.report.taken.get("messages", 0)
        self.out.write(records, state)
        if self.report.taken.get("messages", 0) > before:
            self.stats.stored += 1
            self.pending.append(time.monotonic())

    def catch_up(self) -> None:
        """Every channel seen, from its last stored message, over REST (after a new session: what was said
        while no session was open); stored through the same path, so nothing twice."""
        from .discord import _channel
        channels = sorted(set((self.source.state.get("after") or {})) | self.channels)
        if not channels:
            return
        client = Client(self.api_base, headers={"Authorization": f"Bot {self.token}"})
        before = self.report.taken.get("messages", 0)
        try:
            for channel in channels:
                _channel(client, self.out, channel, self._name(channel))
        except ConnectorError as exc:
            self.stats.errors.append(f"catch-up: {exc}")
        finally:
            client.close()
        caught = self.report.taken.get("messages", 0) - before
        self.stats.stored += caught
        self.stats.caught_up += caught
        self.pending += [time.monotonic()] * caught
        self.stats.catch_ups += 1
        self.flush(force=True)

    def flush(self, force: bool = False) -> None:
        """Embed, index and score what arrived, every FLUSH_MESSAGES messages or FLUSH_SECONDS."""
        now = time.monotonic()
        if not self.pending or not (force or len(self.pending) >= FLUSH_MESSAGES or now - self.last_flush >= FLUSH_SECONDS):
            if force or now - self.last_flush >= FLUSH_SECONDS:
                self.last_flush = now
            return
        finish(self.ws, self.groups, self.report, True, False, self.stages)
        self.groups.clear()
        done = time.monotonic()
        self.stats.searchable_delays += [done - t for t in self.pending]
        self.pending, self.last_flush = [], done
        if self.on_flush is not None:
            try:
                self.on_flush()
            except Exception as exc:  # noqa: BLE001 (an alert that fails never stops the stream; said, and stored on)
                self.stats.errors.append(f"alerts: {type(exc).__name__}: {exc}")


class _NoBar:
    def update(self, n: int) -> None:
        pass
