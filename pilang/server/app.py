"""`pilang serve`: the team server, a FastAPI app over one workspace (served by uvicorn).

Every endpoint but /v1/health needs `Authorization: Bearer <token>` (tokens: `pilang token add`); the
token's name is the developer the learner learns for, and their own global environment. The API is
versioned under /v1 and described at /openapi.json (and /docs)."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from .. import __version__
from .developers import Busy, Limits
from .workers import READY, Ended, Full, Pool, warm_up

API = "v1"


class EvalRequest(BaseModel):
    code: str = Field(description="pilang source: any number of top-level forms")
    file: str | None = Field(None, description="the name errors give this source (default <input-N>)")
    argv: list[str] | None = Field(None, description="a script's arguments (*argv*)")
    mime: bool = Field(False, description="also render each value as a notebook MIME bundle")


class ErrorDoc(BaseModel):
    kind: str
    message: str
    file: str | None
    line: int | None
    column: int | None
    end_line: int | None
    end_column: int | None
    caret: str = Field(description="the source line and a line of carets under the error")
    text: str = Field(description="the error as pilang prints it: headline, caret lines, pilang call stack")


class Rendered(BaseModel):
    json_: Any = Field(alias="json", description="the value as `pilang --json` prints it")
    text: str = Field(description="its written form (what a script's -e prints)")
    pretty: str = Field(description="what the REPL prints")
    mime: dict[str, Any] | None = Field(None, description="text/plain, text/html, image/png (when asked)")


class EvalResponse(BaseModel):
    ok: bool
    values: list[Any] = Field(description="every top-level value but definitions and nil, as `pilang --json` gives"
                                          " them, one per form")
    value: Rendered | None = Field(description="the last form's value, rendered (null for nil)")
    shown: list[Rendered] = Field(description="values the program showed with (show x)")
    stdout: str
    stderr: str
    notes: list[str] = Field([], description="the learner's notes on what was evaluated (a tip, an alias learned),"
                                             " for the client to say after the value")
    error: ErrorDoc | None
    developer: str
    seconds: float


class CompleteRequest(BaseModel):
    code: str
    cursor: int | None = Field(None, description="where the cursor is (default: the end)")


class AskRequest(BaseModel):
    question: str = Field(description="a question in plain words, e.g. what are players upset about since the last patch?")
    run: bool = Field(True, description="run the query it becomes (false: only translate)")


class RateRequest(BaseModel):
    rating: int = Field(ge=1, le=5)
    interaction: int | None = Field(None, description="an interaction id (default: the last query)")
    comment: str | None = None


class Identity:
    def __init__(self, name: str, role: str) -> None:
        self.name, self.role = name, role


def create_app(workspace: str | Path, limits: Limits | None = None, imports: tuple[str | Path, ...] = ()) -> FastAPI:
    """The app over the workspace at `workspace` (which must exist). `imports`: folders (besides the
    workspace's inbox/) that code over the server may read files from, an admin's ingest above all."""
    from pilang_engine.api import identify
    from pilang_engine.api import clear_definitions as clear, definitions
    from pilang_engine.api import Workspace

    from .policy import INBOX, outputs_of

    root = Path(workspace).resolve()
    limits = limits or Limits()
    auth_ws = Workspace(root, create=False)
    auth_lock = threading.Lock()
    pool = Pool(root, limits, tuple(Path(p).resolve() for p in imports))
    warm_up()  # the fork server imports the engine's libraries while the server starts

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        import anyio.to_thread
        # a thread per request in flight: every developer's share, and room for the rest
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(
            40, limits.sessions * limits.per_developer + 16)
        yield
        pool.close()
        auth_ws.close()

    app = FastAPI(title="pilang team server", lifespan=lifespan, version=__version__,
                  description="pilang over one shared workspace: each developer (a bearer token's name) has their own"
                              " global environment, in a process of their own; analysts query, rate and define,"
                              " admins also ingest, sync, train and change routing.")
    app.state.pool = pool

    app.add_middleware(SizeLimit, limit=limits.request_bytes)
    app.add_middleware(AccessLog)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _plain(exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def fault(request: Request, exc: Exception) -> JSONResponse:  # a fault of ours: said, never a bare 500
        print(f"pilang serve: {request.method} {request.url.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return JSONResponse({"detail": {"kind": "engine", "message": f"the server failed: {type(exc).__name__}: {exc}",
                                        "text": f"engine error: the server failed: {type(exc).__name__}"}},
                            status_code=500)

    async def who(request: Request) -> Identity:
        """The developer the token names (a collector's token opens nothing but POST /v1/events)."""
        me = await anyone(request)
        if me.role == "collector":
            raise HTTPException(403, f"{me.name} is a collector token: it may only POST /v1/events")
        return me

    async def anyone(request: Request) -> Identity:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "this server needs `Authorization: Bearer <token>` (pilang token add NAME"
                                     " makes one; clients read it from PILANG_TOKEN)",
                                headers={"WWW-Authenticate": "Bearer"})
        with auth_lock:
            found = identify(auth_ws, token.strip())
        if found is None:
            raise HTTPException(401, "the token is not valid here (unknown, or revoked)",
                                headers={"WWW-Authenticate": "Bearer"})
        return Identity(*found)

    async def admitted(me: Identity = Depends(who)) -> Any:
        """The developer, with a place among their requests in flight (at most limits.per_developer)."""
        if not pool.admit(me.name):
            raise HTTPException(429, f"{me.name} already has {limits.per_developer} requests running or waiting; one"
                                     " must end first (POST /v1/interrupt stops the running one)",
                                headers={"Retry-After": str(max(1, int(limits.seconds)))})
        try:
            yield me
        finally:
            pool.release(me.name)

    def run(me: Identity, op: str, *args: Any) -> tuple[str, Any]:
        try:
            return pool.run(me.name, me.role, op, *args)
        except Busy as exc:
            raise HTTPException(409, str(exc)) from None
        except Full as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None

    @app.get(f"/{API}/health", tags=["server"])
    async def health() -> dict[str, Any]:
        """Whether the server is up (no token needed; it never waits for a session), and whether it is
        ready to start sessions at once (false for the first seconds, while it loads the engine's libraries)."""
        return {"ok": True, "version": __version__, "api": API, "ready": READY.is_set()}

    @app.get(f"/{API}/whoami", tags=["server"])
    async def whoami(me: Identity = Depends(who)) -> dict[str, Any]:
        """The developer and role the token stands for."""
        return {"developer": me.name, "role": me.role}

    @app.post(f"/{API}/eval", response_model=EvalResponse, response_model_by_alias=True, tags=["language"])
    def evaluate(body: EvalRequest, me: Identity = Depends(admitted)) -> Any:
        """Evaluate pilang source in the developer's own global environment. A pilang error is a
        completed evaluation (ok false, the error beside whatever values came before it); an evaluation
        past the time limit is interrupted, with error kind "timeout"."""
        started = time.perf_counter()
        try:
            _, doc = run(me, "eval", body.code, body.file or f"<input-{next(counter)}>", body.argv, body.mime)
        except Ended as ended:  # the session did not stop, or died: the error, as any other
            return _ended(ended, me, started)
        return Response(doc, media_type="application/json")

    counter = iter(range(1, 1 << 62))

    from .collector import Collector
    collector = Collector(root, limits)

    @app.post(f"/{API}/events", status_code=202, tags=["collector"])
    async def events(request: Request, me: Identity = Depends(anyone)) -> Any:
        """A batch of the game's telemetry events and crash reports (JSON lines, a JSON array, or msgpack with
        `Content-Type: application/msgpack`), from a `collector` token (or an admin's). Stored before the 202
        that acknowledges it: `{"events", "crashes", "duplicates", "refused"}`; an item sent again (same `id`)
        is a duplicate, never stored twice. 429 with Retry-After when the token sends faster than its rate
        or the writer is behind; 400 for a batch that is not JSON lines or msgpack."""
        if me.role not in ("collector", "admin"):
            raise HTTPException(403, "posting events takes a collector token (pilang token add NAME --role collector)")
        body = await request.body()
        return await collector.take(me.name, body, request.headers.get("content-type", ""))

    @app.post(f"/{API}/ask", tags=["language"])
    def ask(body: AskRequest, me: Identity = Depends(admitted)) -> Any:
        """A question in plain words: the query it means (`query`, `confidence`, `intent`, `alternatives`,
        `why`: as `pilang --json ask --dry-run`), and with `run` the evaluation of that query (`answer`, as
        /v1/eval answers), in the developer's own session, where a correction they run next is learned."""
        started = time.perf_counter()
        quoted = '"' + body.question.replace("\\", "\\\\").replace('"', '\\"') + '"'
        try:
            _, doc = run(me, "eval", f"(ask {quoted} :run #f)", "<ask>", None, False)
        except Ended as ended:
            return _ended(ended, me, started)
        translated = json.loads(doc)
        if not translated["ok"]:
            raise HTTPException(422, translated["error"])
        out = translated["values"][-1]
        if body.run and out.get("query"):
            try:
                _, answer = run(me, "eval", out["query"], "<ask>", None, False)
            except Ended as ended:
                return _ended(ended, me, started)
            out["answer"] = json.loads(answer)
        return out

    @app.post(f"/{API}/interrupt", tags=["language"])
    async def interrupt(me: Identity = Depends(who)) -> dict[str, Any]:
        """Interrupt the developer's running evaluation (a client's Ctrl-C)."""
        return {"interrupted": pool.interrupt(me.name)}

    @app.post(f"/{API}/complete", tags=["language"])
    def complete(body: CompleteRequest, me: Identity = Depends(admitted)) -> Any:
        """Completions for the word before the cursor, each with a one-line description."""
        return _answer(run, me, "complete", body.code, body.cursor)

    @app.get(f"/{API}/doc", tags=["language"])
    def doc(name: str, me: Identity = Depends(admitted)) -> Any:
        """The documentation of a name (as ,help shows it)."""
        return _answer(run, me, "doc", name)

    @app.get(f"/{API}/environment", tags=["language"])
    def environment(me: Identity = Depends(who)) -> dict[str, Any]:
        """The definitions that make up the developer's global environment, in order."""
        with auth_lock:  # stored rows: no session is needed (or made) to list them
            rows = definitions(auth_ws, me.name)
        return {"developer": me.name, "definitions": [{"source": s, "file": f} for s, f in rows]}

    @app.delete(f"/{API}/environment", tags=["language"])
    def reset(me: Identity = Depends(who)) -> dict[str, Any]:
        """Forget the developer's definitions; their next request starts a fresh session."""
        pool.drop(me.name)
        with auth_lock:
            forgot = clear(auth_ws, me.name)
        return {"developer": me.name, "forgot": forgot}

    @app.get(f"/{API}/files", tags=["workspace"])
    def files(me: Identity = Depends(who)) -> dict[str, Any]:
        """What the developer's code wrote (reports): their output folder, and the import folders' names."""
        folder = outputs_of(root, me.name)
        found = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        return {"developer": me.name, "outputs": [{"name": str(p.relative_to(folder)), "bytes": p.stat().st_size}
                                                  for p in found],
                "imports": [str(p) for p in pool.imports] or [str(root / INBOX)]}

    @app.get(f"/{API}/files/{{name:path}}", tags=["workspace"])
    def download(name: str, me: Identity = Depends(who)) -> Any:
        """One file of the developer's output folder (a report they wrote)."""
        folder = outputs_of(root, me.name)
        target = (folder / name).resolve()
        if folder not in target.parents or not target.is_file():
            raise HTTPException(404, f"{name!r} is not a file in your output folder (GET /v1/files lists them)")
        return FileResponse(target)

    @app.post(f"/{API}/rate", tags=["learning"])
    def rate(body: RateRequest, me: Identity = Depends(admitted)) -> Any:
        """Rate the developer's last query (or an interaction of theirs) 1-5: the learner's feedback.
        One rating per interaction, by the developer who made it."""
        args = ([body.interaction] if body.interaction is not None else []) + [body.rating]
        return _call(run, me, "rate", *args, *([body.comment] if body.comment else []))

    @app.get(f"/{API}/routing", tags=["learning"])
    def routing(me: Identity = Depends(admitted)) -> Any:
        """The routing table: which handler answers each (type, target)."""
        return _call(run, me, "routing")

    @app.get(f"/{API}/macros", tags=["learning"])
    def macros(me: Identity = Depends(admitted)) -> Any:
        """Learned macros the developer may use (their own and the team's)."""
        return _call(run, me, "learned-macros")

    @app.get(f"/{API}/learning-log", tags=["learning"])
    def learning_log(limit: int = 30, me: Identity = Depends(admitted)) -> Any:
        """The learner's rewrites, newest first, with what undoes each."""
        return _call(run, me, "learning-log", limit)

    @app.get(f"/{API}/sources", tags=["workspace"])
    def sources(me: Identity = Depends(admitted)) -> Any:
        """What the workspace holds, by source."""
        return _call(run, me, "sources")

    @app.get(f"/{API}/stats", tags=["workspace"])
    def stats(me: Identity = Depends(admitted)) -> Any:
        """The workspace's counts (as (stats) gives them)."""
        return _call(run, me, "stats")

    return app


def _ended(ended: Ended, me: Identity, started: float) -> Response:
    """The response of an evaluation whose session was ended (or died) during it: an error like any other."""
    from .developers import encode
    text = f"{ended.kind} error: {ended.message}"
    return Response(encode({"ok": False, "values": [], "value": None, "shown": [], "stdout": "", "stderr": "",
                            "error": {"kind": ended.kind, "message": ended.message, "file": None, "line": None,
                                      "column": None, "end_line": None, "end_column": None, "caret": "",
                                      "text": text},
                            "developer": me.name, "seconds": round(time.perf_counter() - started, 4)}),
                    media_type="application/json")


def _answer(run: Any, me: Identity, op: str, *args: Any) -> Any:
    """A worker's answer to a read request, or the HTTP error it calls for."""
    try:
        status, payload = run(me, op, *args)
    except Ended as ended:
        raise HTTPException(503, {"kind": ended.kind, "message": ended.message,
                                  "text": f"{ended.kind} error: {ended.message}"}) from None
    if status != "ok":
        raise HTTPException(403 if payload.get("kind") == "permission" else 422, payload)
    return Response(payload, media_type="application/json") if isinstance(payload, bytes) else payload


def _call(run: Any, me: Identity, name: str, *args: Any) -> Any:
    return _answer(run, me, "call", name, args)


def _plain(x: Any) -> Any:
    """Validation errors as JSON (their inputs may hold anything a client sent)."""
    return json.loads(json.dumps(x, default=str, ensure_ascii=True))


class SizeLimit:
    """Refuse (413) a request body over `limit` bytes: by its Content-Length before reading it, and
    by counting as it arrives when it has none."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            response = JSONResponse({"detail": self.refusal(int(length))}, status_code=413)
            return await response(scope, receive, send)
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self.refusal(seen))
            return message
        await self.app(scope, counted, send)

    def refusal(self, size: int) -> str:
        return f"the request is {size:,} bytes or more; the server takes at most {self.limit:,} (pilang serve --max-request)"


class AccessLog:
    """The server's access log: method, path (never its query string, where a careless client may put a
    token), status and time, one line a request on stderr; and on every response the header
    `X-Pilang-Process`, the server process that answered (one of `pilang serve --workers N`'s replicas)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [0]

        async def sent(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-pilang-process", PROCESS)]}
            await send(message)
        try:
            await self.app(scope, receive, sent)
        finally:
            client = scope.get("client") or ("-", 0)
            print(f"pilang serve: {client[0]}:{client[1]} {scope['method']} {scope['path']} {status[0]}"
                  f" {(time.perf_counter() - started) * 1000:.0f} ms", file=sys.stderr)


def serve(workspace: str | Path, host: str = "127.0.0.1", port: int = 8484, limits: Limits | None = None,
          log_level: str = "info", imports: tuple[str | Path, ...] = (), workers: int = 1) -> None:
    """Run the server until interrupted (SIGINT or SIGTERM: every session is ended at once, and the
    server is gone within a few seconds). `workers` > 1: that many server processes share the port
    (replicas, as behind a load balancer), each with its own developers' sessions; a developer's request
    may land on any of them, and their definitions, kept in the store, follow them there."""
    from .connections import TimedProtocol
    limits = limits or Limits()
    TimedProtocol.read_seconds = limits.read_seconds
    options: dict[str, Any] = {"host": host, "port": port, "log_level": log_level, "access_log": False,
                               "http": TimedProtocol, "timeout_keep_alive": 5, "timeout_graceful_shutdown": 3,
                               "limit_concurrency": 1000}
    if workers > 1:
        import dataclasses
        os.environ[REPLICA_SPEC] = json.dumps({"workspace": str(Path(workspace).resolve()), "limits": dataclasses.asdict(limits),
                                               "imports": [str(p) for p in imports]})
        uvicorn.run(f"{__name__}:replica", factory=True, workers=workers, **options)
        return
    app = create_app(workspace, limits, imports)
    Server(uvicorn.Config(app, **options), app.state.pool).run()


PROCESS = str(os.getpid()).encode()
REPLICA_SPEC = "PILANG_SERVE_REPLICA"  # what each replica of `pilang serve --workers N` serves, as JSON


def replica() -> FastAPI:
    """One replica's app (uvicorn's factory, in each server process `serve(workers=N)` starts)."""
    from .connections import TimedProtocol
    spec = json.loads(os.environ[REPLICA_SPEC])
    limits = Limits(**spec["limits"])
    TimedProtocol.read_seconds = limits.read_seconds
    return create_app(spec["workspace"], limits, tuple(spec["imports"]))


class Server(uvicorn.Server):
    """uvicorn's server, ending every session as soon as it is told to stop (a request waiting on a
    session that would never end then ends with it)."""

    def __init__(self, config: uvicorn.Config, pool: Pool) -> None:
        super().__init__(config)
        self.pool = pool

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        threading.Thread(target=self.pool.close, args=(0.5,), daemon=True).start()
