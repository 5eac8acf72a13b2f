"""A fake Discord for tests and benchmarks, on 127.0.0.1 only: a gateway (websockets) that speaks the v10
frames pilang's client uses (HELLO, IDENTIFY -> READY, RESUME -> the missed events then RESUMED,
heartbeats and their ACKs, RECONNECT, INVALID_SESSION, close codes), and the REST routes a catch-up
reads (`/gateway/bot`, `/channels/{id}/messages?after=`). What it says is scripted: `say()` messages,
edits and deletes; `drop()` cuts the connection without a close frame; `reconnect()`, `invalidate()`,
`refuse(code)` and `shuffle_next()` (the next two events sent out of order)."""
from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

DEBUG = False  # print every frame the fake gets (debugging a test)
GUILD = "900"
CHANNEL = "901"


class FakeDiscord:
    def __init__(self, heartbeat_ms: int = 1000) -> None:
        self.heartbeat_ms = heartbeat_ms
        self.messages: dict[str, dict[str, Any]] = {}  # every message said, by id (what REST returns)
        self.log: list[dict[str, Any]] = []  # the session's dispatched events, with their sequence numbers
        self.session = 0
        self.seq = 0
        self.next_id = 10_000
        self.conn: Any = None
        self.live = False
        self.sent = 0
        self.identifies = 0
        self.resumes = 0
        self.refusal: int | None = None
        self.swap = False
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.ready.wait(10)
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), self._rest())
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.api = f"http://127.0.0.1:{self.http.server_address[1]}"

    # ---- the gateway ------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        from websockets.asyncio.server import serve
        self.stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0) as server:
            self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            self.ready.set()
            await self.stop.wait()

    async def _handle(self, conn: Any) -> None:
        self.conn, self.live, self.sent = conn, False, 0  # events go out live only once the session is ready
        await conn.send(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}}))
        try:
            async for raw in conn:
                frame = json.loads(raw)
                op = frame["op"]
                if DEBUG:
                    print("fake got op", op, frame.get("d") if op != 1 else "", flush=True)
                if op == 1:
                    await conn.send(json.dumps({"op": 11}))
                elif op == 2:
                    if self.refusal:
                        await conn.close(self.refusal, "refused")
                        return
                    self.identifies += 1
                    self.session += 1
                    self.log, self.seq = [], 0
                    await self._dispatch("READY", {"session_id": f"s{self.session}", "resume_gateway_url": self.url})
                    await self._go_live(conn)
                elif op == 6:
                    d = frame["d"]
                    if d["session_id"] != f"s{self.session}":
                        await conn.send(json.dumps({"op": 9, "d": False}))
                        continue
                    self.resumes += 1
                    self.sent = d["seq"] or 0
                    await self._go_live(conn)
                    await self._dispatch("RESUMED", {})
                    await self._go_live(conn)
        except Exception as exc:  # noqa: BLE001 (a dropped connection ends its handler)
            if DEBUG:
                print("fake handler ended", repr(exc), flush=True)
        finally:
            if self.conn is conn:
                self.conn = None

    async def _go_live(self, conn: Any) -> None:
        """Send what the session has not sent yet (a resume's replay, or what was said during READY), then live."""
        while pending := [e for e in self.log if e["s"] > self.sent and e["t"] not in ("READY", "RESUMED")]:
            for event in pending:
                await conn.send(json.dumps(event))
                self.sent = max(self.sent, event["s"])
        self.live = True

    async def _dispatch(self, kind: str, d: dict[str, Any]) -> None:
        self.seq += 1
        event = {"op": 0, "s": self.seq, "t": kind, "d": d}
        self.log.append(event)
        if kind in ("READY", "RESUMED") and self.conn is not None:
            self.live = False
            await self.conn.send(json.dumps(event))
            self.sent = max(self.sent, event["s"])
            return
        if self.conn is not None and self.live:
            try:
                if self.swap and kind.startswith("MESSAGE"):
                    self.held = event
                    self.swap = False
                    return
                await self.conn.send(json.dumps(event))
                self.sent = max(self.sent, event["s"])
                if getattr(self, "held", None) is not None and event is not self.held:
                    await self.conn.send(json.dumps(self.held))
                    self.held = None
            except Exception:  # noqa: BLE001 (not connected: the event waits in the log for a resume)
                pass

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    # ---- the script -------------------------------------------------------------------------

    def say(self, text: str, channel: str = CHANNEL, live: bool = True, author: str | None = None,
            when: str | None = None) -> str:
        """A message in the channel; `live=False`: said while no session was open (only REST has it).
        `author` (a user id; default one of seven), `when` (ISO time; default a fixed hour)."""
        self.next_id += 1
        mid = str(self.next_id)
        who = author or f"u{self.next_id % 7}"
        m = {"id": mid, "channel_id": channel, "guild_id": GUILD, "type": 0, "content": text,
             "timestamp": when or f"2025-06-01T12:{self.next_id % 60:02d}:00+00:00",
             "author": {"id": who, "username": f"player-{who}"}}
        self.messages[mid] = m
        if live:
            self._run(self._dispatch("MESSAGE_CREATE", m))
        return mid

    def edit(self, mid: str, text: str) -> None:
        self.messages[mid]["content"] = text
        self._run(self._dispatch("MESSAGE_UPDATE", {"id": mid, "channel_id": CHANNEL, "guild_id": GUILD, "content": text,
                                                    "edited_timestamp": "2025-06-01T13:00:00+00:00"}))

    def delete(self, mid: str) -> None:
        self.messages.pop(mid, None)
        self._run(self._dispatch("MESSAGE_DELETE", {"id": mid, "channel_id": CHANNEL, "guild_id": GUILD}))

    def drop(self) -> None:
        """Cut the connection with no close frame (a network drop)."""
        async def cut() -> None:
            if self.conn is not None:
                self.conn.transport.abort()
        self._run(cut())

    def reconnect(self) -> None:
        async def go() -> None:
            if self.conn is not None:
                await self.conn.send(json.dumps({"op": 7, "d": None}))
        self._run(go())

    def invalidate(self) -> None:
        """INVALID_SESSION (not resumable): the client must identify anew and catch up over REST."""
        async def go() -> None:
            self.session += 1  # the old session is gone
            if self.conn is not None:
                await self.conn.send(json.dumps({"op": 9, "d": False}))
        self._run(go())

    def refuse(self, code: int) -> None:
        """Close with `code` now and at every IDENTIFY after."""
        self.refusal = code

        async def go() -> None:
            if self.conn is not None:
                await self.conn.close(code, "refused")
        self._run(go())

    def shuffle_next(self) -> None:
        """Send the next two message events in the wrong order."""
        self.swap = True
        self.held = None

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(5)
        self.http.shutdown()

    # ---- REST -------------------------------------------------------------------------------

    def _rest(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                if url.path.endswith("/gateway/bot"):
                    body: Any = {"url": fake.url, "shards": 1, "session_start_limit": {"total": 1000, "remaining": 999,
                                                                                      "reset_after": 0, "max_concurrency": 1}}
                elif url.path.rstrip("/").split("/")[-2] == "channels":  # GET /channels/{id}
                    body = {"id": url.path.rstrip("/").split("/")[-1], "name": "general", "type": 0}
                elif url.path.endswith("/messages"):
                    after = int(parse_qs(url.query).get("after", ["0"])[0])
                    channel = url.path.split("/")[-2]
                    page = sorted((m for m in fake.messages.values() if int(m["id"]) > after and m["channel_id"] == channel),
                                  key=lambda m: int(m["id"]))[:100]
                    body = list(reversed(page))  # newest first, as Discord pages
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
        return Handler


def stream(gw: Any, script: Any, timeout: float | None = None) -> None:
    """Run a gateway client (connectors/gateway.py) and an async `script(gw)` that talks through the fake
    together; the script's end ends the stream."""
    async def main() -> None:
        stop = asyncio.Event()

        async def drive() -> None:
            try:
                await script(gw)
            finally:
                stop.set()
        driver = asyncio.create_task(drive())
        await asyncio.wait_for(gw.run(stop), timeout)
        await driver
    asyncio.run(main())
