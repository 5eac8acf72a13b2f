"""Each developer's session runs in a worker process of its own, so nothing one developer's code does
can stop another's: a computation that holds the interpreter lock, a `finally` that never ends, or an
evaluation that eats memory costs that developer's process only. A worker is forked from a fork server
that imported the engine's libraries once (warm.py), so it starts in milliseconds and never imports a
heavy module mid-request.

The server (this module's Pool, in the server's process) keeps at most `Limits.sessions` workers,
closing the least recently used idle one to make room, and ends a worker whose evaluation has not
stopped `Limits.grace` seconds after its time limit (its definitions are replayed, each under the same
limit, when its developer comes back). Inside a worker (`main`), the time limit interrupts the
evaluation as Ctrl-C does and keeps interrupting it; RLIMIT_DATA caps its memory.

Messages: the server sends (op, args) and gets (status, payload), status "ok" or "error" (payload: an
error document) and, for "eval", the response document already encoded (bytes)."""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .developers import Busy, Limits

WARM_MODULE = "pilang.server.warm"


class Ended(Exception):
    """A worker stopped answering (it was ended) or died; the message says which, in the user's words."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


class Full(Exception):
    """Every session the server may keep is busy."""


# ---- inside a worker ---------------------------------------------------------------------------

def main(conn: Connection, spec: dict[str, Any]) -> None:
    """A worker's life: make the developer's session, then answer requests until told to close."""
    os.environ.clear()
    os.environ.update(spec["env"])  # the server's environment now, not the fork server's at its start
    from ..errors import PilangError
    from .developers import Desk, encode, error_doc
    limits: Limits = spec["limits"]
    desk = Desk(Path(spec["root"]), spec["name"], spec["role"], limits, tuple(Path(p) for p in spec["imports"]))
    signal.signal(signal.SIGINT, lambda *_: desk.interrupt("client"))  # the client's Ctrl-C, sent by the server
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    conn.send(("ok", {"pid": os.getpid(), "memory": _limit_memory(limits.memory_bytes)}))
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            break
        if op == "close":
            break
        try:
            if op == "eval":
                reply: tuple[str, Any] = ("ok", encode(desk.evaluate(*args)))
            elif op == "replay":
                reply = ("ok", desk.replay(*args))
            elif op == "skip":  # stored definitions this session must not replay (one never stopped)
                desk.known.update(args[0])
                reply = ("ok", None)
            elif op == "call":
                reply = ("ok", json.dumps(desk.call(args[0], *args[1]), ensure_ascii=False).encode("utf-8", "replace"))
            elif op == "complete":
                reply = ("ok", desk.complete(*args))
            elif op == "doc":
                reply = ("ok", desk.doc(*args))
            else:
                reply = ("error", {"kind": "value", "message": f"unknown request {op!r}"})
        except PilangError as err:
            reply = ("error", error_doc(err))
        except KeyboardInterrupt:  # an interrupt that found nothing of the request left to stop
            reply = ("error", {"kind": "interrupted", "message": "the request was interrupted", "text": "interrupted"})
        except Exception as exc:  # never lose the worker to a fault of ours: the request says what it was
            reply = ("error", {"kind": "engine", "message": f"{type(exc).__name__}: {exc}",
                               "text": f"engine error: {type(exc).__name__}: {exc}"})
        try:
            conn.send(reply)
        except (OSError, ValueError):
            break
    desk.close()


def _limit_memory(limit: int) -> int | None:
    """Cap this process's data (heap, anonymous maps) at `limit` bytes: an allocation past it raises
    MemoryError, a pilang `memory` error, and the session goes on. At least 512 MiB above what the
    session holds when it starts. What was set, or None."""
    import resource
    if limit <= 0:
        return None
    try:
        with open("/proc/self/status") as status:
            held = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:"))
    except (OSError, StopIteration):
        held = 0
    limit = max(limit, held + (512 << 20))
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ValueError, OSError):
        return None
    return limit


# ---- the server's side -------------------------------------------------------------------------

def context() -> Any:
    """The fork server context, preloading the engine's libraries (once per server process)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([WARM_MODULE])
    return ctx


READY = threading.Event()  # the fork server has imported what workers share: a session starts in milliseconds


def warm_up() -> None:
    """Start the fork server now (it imports the libraries every worker shares), in the background;
    READY is set once it can fork."""
    def start() -> None:
        probe = context().Process(target=_noop, name="pilang-warm-up", daemon=True)
        probe.start()  # returns once the fork server has finished its imports and forked
        probe.join(60)
        READY.set()
    if not READY.is_set():
        threading.Thread(target=start, name="pilang-forkserver", daemon=True).start()


def _noop() -> None:
    pass


class Worker:
    """The server's handle on one developer's worker process."""

    def __init__(self, root: Path, name: str, role: str, limits: Limits, imports: tuple[Path, ...]) -> None:
        self.name, self.role, self.limits = name, role, limits
        self.lock = threading.Lock()  # one request at a time, as at a REPL
        self.busy = False
        self.last_used = time.monotonic()
        self.untold: list[str] = []  # definitions that did not replay, said in the next response
        self.ended = False
        self.conn, child = context().Pipe()
        spec = {"root": str(root), "name": name, "role": role, "limits": limits,
                "imports": [str(p) for p in imports], "env": dict(os.environ)}
        self.proc = context().Process(target=main, args=(child, spec), name=f"pilang-session-{name}", daemon=True)
        self.proc.start()
        child.close()
        status, info = self._answer(max(limits.deadline(), 120.0))  # the first start waits for the fork server
        self.memory = info.get("memory") if status == "ok" else None

    def request(self, op: str, *args: Any) -> tuple[str, Any]:
        """(status, payload) for one request, or Ended when the worker does not answer in time or died."""
        self.conn.send((op, args))
        return self._answer(self.limits.deadline())

    def _answer(self, timeout: float) -> tuple[str, Any]:
        try:
            ready = self.conn.poll(timeout)
        except (OSError, EOFError):
            ready = True
        if not ready:
            self.kill()
            raise Ended("timeout", f"the evaluation ran past the server's limit of {self.limits.seconds:g} s and did"
                        f" not stop when interrupted, so {self.name}'s session was ended; its definitions are"
                        " replayed on the next request (each under the same limit)")
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise Ended(*self._death()) from None

    def _death(self) -> tuple[str, str]:
        self.proc.join(2)
        code = self.proc.exitcode
        if code is not None and code < 0 and -code in (signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV):
            return "memory", (f"{self.name}'s session stopped ({signal.Signals(-code).name}), most likely out of memory"
                              f" (a session may hold {self.limits.memory_bytes / (1 << 30):.1f} GiB); its definitions"
                              " are replayed on the next request")
        return "engine", (f"{self.name}'s session stopped unexpectedly (exit status {code}); its definitions are replayed"
                          " on the next request")

    def interrupt(self) -> bool:
        """Interrupt the running request (a client's Ctrl-C); False when none runs."""
        if not self.busy or self.ended:
            return False
        try:
            os.kill(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    def alive(self) -> bool:
        return not self.ended and self.proc.is_alive()

    def kill(self) -> None:
        self.ended = True
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def close(self, wait: float = 2.0) -> None:
        """End the worker: asked to close, killed if it has not within `wait` seconds."""
        if self.ended:
            return
        self.ended = True
        try:
            self.conn.send(("close", ()))
        except (OSError, ValueError):
            pass
        self.proc.join(wait)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()


class Pool:
    """Every developer's worker, made on first use (their definitions replayed); one idle past the
    limit is closed, and at most `limits.sessions` live at once."""

    def __init__(self, root: Path, limits: Limits, imports: tuple[Path, ...] = ()) -> None:
        self.root, self.limits, self.imports = root, limits, tuple(imports)
        self.workers: dict[str, Worker] = {}
        self.lock = threading.Lock()
        self.making: dict[str, threading.Lock] = {}
        self.inflight: Counter[str] = Counter()
        self.closed = False

    # -- admission: a developer's requests in flight ---------------------------------------------

    def admit(self, name: str) -> bool:
        with self.lock:
            if self.inflight[name] >= self.limits.per_developer:
                return False
            self.inflight[name] += 1
            return True

    def release(self, name: str) -> None:
        with self.lock:
            self.inflight[name] -= 1
            if self.inflight[name] <= 0:
                del self.inflight[name]

    # -- requests ---------------------------------------------------------------------------------

    def run(self, name: str, role: str, op: str, *args: Any) -> tuple[str, Any]:
        """One request on the developer's worker: (status, payload). Busy when an earlier request of
        theirs does not end in time, Full when the server has no session to spare, Ended when the
        worker was ended or died during it."""
        worker = self.worker(name, role)
        if not worker.lock.acquire(timeout=self.limits.deadline()):
            raise Busy(f"{name}'s previous request is still running (over {self.limits.seconds:g} s)")
        if worker.ended:  # ended while this request waited for it: a fresh session
            worker.lock.release()
            return self.run(name, role, op, *args)
        try:
            worker.busy = True
            if op == "eval":
                args, worker.untold = (*args, worker.untold), []
            try:
                return worker.request(op, *args)
            except Ended:
                self.forget(worker)
                raise
        finally:
            worker.busy = False
            worker.last_used = time.monotonic()
            worker.lock.release()

    def interrupt(self, name: str) -> bool:
        worker = self.workers.get(name)
        return worker.interrupt() if worker is not None else False

    # -- sessions ---------------------------------------------------------------------------------

    def worker(self, name: str, role: str) -> Worker:
        """The developer's worker, started (and their definitions replayed) when there is none."""
        with self.lock:
            self._sweep()
            found = self.workers.get(name)
            if found is not None and found.role == role and found.alive():
                return found
            making = self.making.setdefault(name, threading.Lock())
        if not making.acquire(timeout=self.limits.deadline()):  # one developer's first requests make one session
            raise Busy(f"{name}'s session is still starting (its definitions are being replayed)")
        try:
            with self.lock:
                found = self.workers.get(name)
                if found is not None and found.role == role and found.alive():
                    return found
            if found is not None:  # dead, or the token was given another role: a session under the new one
                self.forget(found)
                found.close()
            self._make_room()
            worker = self._started(name, role)
            with self.lock:
                if self.closed:
                    worker.close()
                    raise Full("the server is shutting down")
                self.workers[name] = worker
            return worker
        finally:
            making.release()

    def _started(self, name: str, role: str) -> Worker:
        """A new worker with the developer's definitions replayed, in order, each under the time limit.
        One that does not stop ends the worker; a new one replays the others."""
        from pilang_engine.api import numbered_definitions
        from pilang_engine.api import Workspace
        ws = Workspace(self.root, create=False)
        try:
            saved = numbered_definitions(ws, name)
        finally:
            ws.close()
        skipped: dict[int, str] = {}
        while True:
            worker = Worker(self.root, name, role, self.limits, self.imports)
            notes, at = [], None
            try:
                for at, (seq, source, file) in enumerate(saved):
                    if at not in skipped:
                        _, failed = worker.request("replay", source, file, seq)
                        if failed:
                            notes.append(failed)
                break
            except Ended as ended:  # that definition never stopped: skipped in a fresh worker
                _, source, file = saved[at]
                skipped[at] = f"{file}: {' '.join(source.split())[:80]}: {ended.message}"
        if skipped:
            worker.request("skip", [saved[at][0] for at in skipped])
        worker.untold = [*skipped.values(), *notes]
        for note in worker.untold:
            print(f"pilang serve: {name}: a definition did not replay: {note}", file=sys.stderr)
        return worker

    def _make_room(self) -> None:
        with self.lock:
            if len(self.workers) < self.limits.sessions:
                return
            idle = [w for w in self.workers.values() if not w.busy and not w.lock.locked()]
            if not idle:
                raise Full(f"the server keeps at most {self.limits.sessions} sessions and every one is busy")
            oldest = min(idle, key=lambda w: w.last_used)
            del self.workers[oldest.name]
        oldest.close()

    def forget(self, worker: Worker) -> None:
        with self.lock:
            if self.workers.get(worker.name) is worker:
                del self.workers[worker.name]

    def drop(self, name: str) -> None:
        """End the developer's session now (their environment was forgotten)."""
        with self.lock:
            worker = self.workers.pop(name, None)
        if worker is not None:
            worker.kill()

    def _sweep(self) -> None:
        now = time.monotonic()
        for name, worker in list(self.workers.items()):
            if not worker.alive() or (now - worker.last_used > self.limits.idle_seconds and not worker.lock.locked()):
                del self.workers[name]
                threading.Thread(target=worker.close, daemon=True).start()

    def close(self, wait: float = 2.0) -> None:
        """End every worker (asked first, killed after `wait` seconds): requests waiting on them end."""
        with self.lock:
            self.closed = True
            workers, self.workers = list(self.workers.values()), {}
        threads = [threading.Thread(target=w.close, args=(wait,), daemon=True) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(wait + 6)
