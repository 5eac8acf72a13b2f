"""The team server's HTTP connections, with a deadline for reading each request: uvicorn closes an idle
connection between requests (keep-alive), but not one that opens and then sends its request slowly or
never (a few hundred of those would use up the server's file descriptors)."""
from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

READ_DONE = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)


class TimedProtocol(H11Protocol):
    """H11Protocol that closes a connection whose request (headers and body) has not arrived within
    `read_seconds` of its first byte, or of the connection opening."""

    read_seconds = 15.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """A timer while a request is being read; none once it is whole, or while keep-alive waits."""
        if self.conn.their_state in READ_DONE or self.timeout_keep_alive_task is not None:
            self._stop_timer()
        elif self._read_timer is None:
            self._read_timer = self.loop.call_later(self.read_seconds, self._too_slow)

    def _stop_timer(self) -> None:
        if getattr(self, "_read_timer", None) is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self, *_: Any) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()
