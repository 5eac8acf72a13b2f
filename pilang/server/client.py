"""The client side of the team server: a RemoteSession stands where a Session does, for the REPL,
scripts, -e, --json and the Jupyter kernel, so each renders values, errors and completions as it does
locally. What a program prints comes back with its response and is printed before its value."""
from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

from ..errors import PilangError


def wait_for(url: str, seconds: float = 60.0, ready: bool = True) -> bool:
    """Whether the server at `url` answers /v1/health within `seconds` (a server just started), and,
    with `ready`, says it is ready to start sessions at once."""
    import time

    import httpx
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url.rstrip('/')}/v1/health", timeout=1)
            if r.status_code == 200 and (not ready or r.json().get("ready", True)):
                return True
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    return False


class RemoteError(PilangError):
    """An error the server reported: rendered as the server rendered it (caret and pilang stack)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__(doc.get("kind") or "engine", doc.get("message") or "")
        self.doc = doc

    def render(self) -> str:
        return self.doc.get("text") or self.headline()


class RemoteValue:
    """A value evaluated on the server, as it came back: its JSON, written form, REPL lines, MIME bundle."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def __pilang_repr__(self) -> str:
        return self.doc["text"]

    def __pilang_json__(self) -> Any:
        return self.doc["json"]

    def __pilang_lines__(self) -> list[str]:
        return self.doc["pretty"].split("\n")

    def __pilang_mime__(self) -> dict[str, Any]:
        return self.doc.get("mime") or {"text/plain": self.doc["text"]}


class RemoteSession:
    """pilang evaluated by a team server at `url`, as the developer whose token this is."""

    remote = True

    def __init__(self, url: str, token: str | None, mime: bool = False, timeout: float | None = None,
                 argv: list[str] | None = None) -> None:
        """`argv`: a script's arguments, the server session's *argv* from the first evaluation on (as a
        local session's are from its start)."""
        import httpx
        self.token_given = bool(token)
        self.url = url.rstrip("/")
        self.mime = mime
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token or ''}"},
                                 timeout=httpx.Timeout(timeout, connect=10.0))
        self.show: Callable[[Any], None] = lambda v: print(v.__pilang_repr__())
        self.before_eval: list[Callable[[], None]] = []
        self.env: dict[str, Any] = {}  # nothing local: a front end's extra primitives have no effect here
        self._inputs = count(1)
        self._argv = argv
        self._notes: list[str] = []

    # ---- transport ----------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; its JSON. Failures of the server or the connection are pilang errors."""
        import httpx
        if not self.token_given:
            raise PilangError("permission", f"the server at {self.url} needs a token: set PILANG_TOKEN (an admin makes"
                              " one with `pilang token add NAME` where the server runs)")
        try:
            r = self.http.request(method, f"/v1/{path}", **kwargs)
        except KeyboardInterrupt:
            self.interrupt()
            raise
        except httpx.HTTPError as exc:
            raise PilangError("io", f"cannot reach the pilang server at {self.url}: {exc}") from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail")
            except ValueError:
                detail = r.text[:300]
            if isinstance(detail, dict) and "kind" in detail:
                raise RemoteError(detail)
            kind = "permission" if r.status_code in (401, 403) else "io"
            raise PilangError(kind, f"the server at {self.url} refused ({r.status_code}): {detail}")
        return r.json()

    def interrupt(self) -> None:
        """Ask the server to interrupt this developer's evaluation (Ctrl-C here)."""
        try:
            self.http.post("/v1/interrupt", timeout=10.0)
        except Exception:  # the server is gone: nothing left to interrupt
            pass

    # ---- what a Session offers ------------------------------------------------------------------

    def evaluate(self, text: str, file: str | None, each: Callable[[Any, Any], None] | None = None) -> dict[str, Any]:
        """Evaluate on the server; print what the program printed and show what it showed, give each
        top-level value to `each(None, value)` (--json), then raise the error if there was one."""
        argv, self._argv = self._argv, None
        out = self.request("POST", "eval", json={"code": text, "file": file or f"<input-{next(self._inputs)}>",
                                                 "argv": argv, "mime": self.mime})
        for hook in self.before_eval:  # a front end's: e.g. the kernel sends prints to the cell being run
            hook()
        if out.get("stdout"):
            sys.stdout.write(out["stdout"])
        if out.get("stderr"):
            sys.stderr.write(out["stderr"])
        for shown in out.get("shown") or ():
            self.show(RemoteValue(shown))
        for v in out["values"] if each is not None else ():
            each(None, RemoteValue({"json": v, "text": "", "pretty": ""}))
        self._notes += out.get("notes") or []
        if each is not None:  # a script: its values are out, so their notes follow
            self.say_notes()
        if not out["ok"]:
            raise RemoteError(out["error"])
        return out

    def say_notes(self) -> None:
        """The learner's notes from the server on what was just evaluated, as a local Session says them."""
        for note in self._notes:
            print(note, file=sys.stdout)
        self._notes = []

    def eval_text(self, text: str, file: str | None = None,
                  each: Callable[[Any, Any], None] | None = None) -> RemoteValue | None:
        """The last form's value (None for nil), as Session.eval_text gives it."""
        out = self.evaluate(text, file, each)
        return None if out["value"] is None else RemoteValue(out["value"])

    def load(self, path: str | Path, each: Callable[[Any, Any], None] | None = None) -> None:
        """Evaluate a local file on the server; `each(None, value)` for every top-level value (--json)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PilangError("io", f"{path}: {exc.strerror or exc}") from None
        self.evaluate(text, str(path), each)

    def completions(self, before: str) -> list[tuple[str, str]]:
        out = self.request("POST", "complete", json={"code": before})
        return [(m["text"], m["meta"]) for m in out["matches"]]

    def documentation(self, name: str) -> str:
        return self.request("GET", "doc", params={"name": name})["text"] if name else ""

    def whoami(self) -> dict[str, Any]:
        return self.request("GET", "whoami")

    def close(self) -> None:
        self.http.close()
