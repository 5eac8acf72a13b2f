"""The team server's collector (`POST /v1/events`): batches of the game's telemetry and crash reports,
stored by one writer in the server's process (engine/ingestion/collector.py) before they are
acknowledged, so an acknowledged event is never lost, even to a kill -9 right after the 202. Each token
has a rate (a token bucket: `events_per_second`, a burst of twice that); when more than
`events_waiting` batches wait for the writer, new ones get 429 with Retry-After, never a silent drop."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from .developers import Limits


class Collector:
    def __init__(self, root: Path, limits: Limits) -> None:
        self.root, self.limits = root, limits
        self.ws: Any = None
        self.lock = threading.Lock()
        self.waiting = 0
        self.count_lock = threading.Lock()
        self.buckets: dict[str, tuple[float, float]] = {}  # token name -> (tokens, last refill)

    def _admit(self, name: str) -> None:
        rate = self.limits.events_per_second
        now = time.monotonic()
        with self.count_lock:
            tokens, last = self.buckets.get(name, (2 * rate, now))
            tokens = min(2 * rate, tokens + (now - last) * rate)
            if tokens < 1:
                self.buckets[name] = (tokens, now)
                raise HTTPException(429, f"{name} sends faster than {rate:g} batches a second",
                                    headers={"Retry-After": str(max(1, round((1 - tokens) / rate)))})
            if self.waiting >= self.limits.events_waiting:
                raise HTTPException(429, "the collector's writer is behind; send this batch again shortly",
                                    headers={"Retry-After": "1"})
            self.buckets[name] = (tokens - 1, now)
            self.waiting += 1

    async def take(self, name: str, body: bytes, content_type: str) -> Any:
        import anyio.to_thread
        from pilang_engine.api import BadBatch, event_items
        self._admit(name)
        try:
            try:
                batch = event_items(body, content_type)
            except BadBatch as exc:
                raise HTTPException(400, str(exc)) from None
            done = await anyio.to_thread.run_sync(self._store, batch)
        finally:
            with self.count_lock:
                self.waiting -= 1
        return JSONResponse(done, status_code=202)

    def _store(self, batch: list[Any]) -> dict[str, Any]:
        from pilang_engine.api import Workspace, accept_events
        with self.lock:  # one writer: a batch is one transaction, committed before the 202
            if self.ws is None:
                self.ws = Workspace(self.root, create=False)
            return accept_events(self.ws, batch)
