"""HTTP for connectors (httpx): JSON GETs with polite pacing, retries with exponential backoff on 5xx,
timeouts and dropped connections, and rate limits honoured (HTTP 429: `Retry-After`,
`X-RateLimit-Reset-After`, or a `retry_after` in the body, as Discord sends) without failing the run.
Secrets go in headers only; no URL with a secret in it is ever logged or raised."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

MAX_RETRIES = 5  # 5xx, timeouts and dropped connections, per request
MAX_WAITS = 30  # rate-limit waits per request before giving up
def backoff() -> float:
    """Seconds before the first retry (doubling after): $PILANG_HTTP_BACKOFF, else 1."""
    return float(os.environ.get("PILANG_HTTP_BACKOFF", "1.0"))


def timeout() -> float:
    """Seconds a request may take: $PILANG_HTTP_TIMEOUT, else 30."""
    return float(os.environ.get("PILANG_HTTP_TIMEOUT", "30"))
LONGEST_WAIT = 300.0  # a rate-limit wait longer than this fails the request rather than hang the run


class ConnectorError(Exception):
    """A source that could not be read (after retries): says which source and why, never a secret."""


class Client:
    """One API: a base URL, headers (auth), and at least `pace` seconds between requests."""

    def __init__(self, base: str, headers: dict[str, str] | None = None, pace: float = 0.0,
                 on_wait: Callable[[str], None] | None = None, auth: Any = None) -> None:
        import httpx
        self.base = base.rstrip("/")
        self.http = httpx.Client(headers={"User-Agent": "pilang-sync", **(headers or {})}, timeout=timeout(),
                                 auth=auth, follow_redirects=True)
        self.pace, self.last = pace, 0.0
        self.on_wait = on_wait or (lambda message: None)
        self.requests = self.retries = self.waits = 0
        self.waited = 0.0

    def close(self) -> None:
        self.http.close()

    def _sleep(self, seconds: float, why: str) -> None:
        self.on_wait(f"{why}: waiting {seconds:.1f} s")
        self.waited += seconds
        time.sleep(seconds)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON at base + path, after retries and rate-limit waits; ConnectorError if it cannot be had."""
        import httpx
        url = self.base + path
        failures = waits = 0
        while True:
            gap = self.pace - (time.monotonic() - self.last)
            if gap > 0:
                time.sleep(gap)
            self.last = time.monotonic()
            self.requests += 1
            try:
                response = self.http.get(url, params=params)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                failures += 1
                if failures > MAX_RETRIES:
                    raise ConnectorError(f"{url}: {type(exc).__name__} after {MAX_RETRIES} retries") from None
                self.retries += 1
                self._sleep(backoff() * 2 ** (failures - 1), f"{type(exc).__name__} on {path}")
                continue
            if response.status_code == 429:
                waits += 1
                wait = retry_after(response)
                if waits > MAX_WAITS or wait > LONGEST_WAIT:
                    raise ConnectorError(f"{url}: rate limited ({waits} waits; asked to wait {wait:.0f} s)")
                self.waits += 1
                self._sleep(wait, "rate limited" + (" (global)" if _is_global(response) else ""))
                continue
            if response.status_code >= 500:
                failures += 1
                if failures > MAX_RETRIES:
                    raise ConnectorError(f"{url}: HTTP {response.status_code} after {MAX_RETRIES} retries")
                self.retries += 1
                self._sleep(backoff() * 2 ** (failures - 1), f"HTTP {response.status_code} on {path}")
                continue
            if response.status_code in (401, 403):
                raise ConnectorError(f"{url}: HTTP {response.status_code}: the credentials were refused"
                                     " (check the token and the bot's permissions)")
            if response.status_code >= 400:
                raise ConnectorError(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
            remaining = response.headers.get("X-RateLimit-Remaining")
            if remaining == "0" and response.headers.get("X-RateLimit-Reset-After"):  # the bucket is empty
                self._sleep(float(response.headers["X-RateLimit-Reset-After"]), "rate-limit bucket empty")
            try:
                return response.json()
            except ValueError:
                failures += 1  # a page cut off mid-body reads as invalid JSON: ask again
                if failures > MAX_RETRIES:
                    raise ConnectorError(f"{url}: the response is not JSON") from None
                self.retries += 1
                self._sleep(backoff() * 2 ** (failures - 1), f"a broken page on {path}")


def retry_after(response: Any) -> float:
    """Seconds a 429 asks to wait: the body's retry_after (Discord), else Retry-After or
    X-RateLimit-Reset-After, else the backoff."""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("retry_after"), (int, float)):
            return float(body["retry_after"])
    except ValueError:
        pass
    for header in ("Retry-After", "X-RateLimit-Reset-After"):
        value = response.headers.get(header)
        if value:
            try:
                return float(value)
            except ValueError:
                continue
    return backoff()


def _is_global(response: Any) -> bool:
    try:
        body = response.json()
        return bool(isinstance(body, dict) and body.get("global")) or response.headers.get("X-RateLimit-Global") == "true"
    except ValueError:
        return response.headers.get("X-RateLimit-Global") == "true"
