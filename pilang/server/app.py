"""`pilang serve`: the team server, a FastAPI app over one workspace (served by uvicorn).

Every endpoint but /v1/health needs `Authorization: Bearer <token>` (tokens: `pilang token add`); the
token's name is the developer the learner learns for, and their own global environment. The API is
versioned under /v1 and described at /openapi.json (and /docs)."""
from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .. import __version__
from .sessions import Busy, Desk, Limits, Pool, route_output

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
    error: ErrorDoc | None
    developer: str
    seconds: float


class CompleteRequest(BaseModel):
    code: str
    cursor: int | None = Field(None, description="where the cursor is (default: the end)")


class RateRequest(BaseModel):
    rating: int = Field(ge=1, le=5)
    interaction: int | None = Field(None, description="an interaction id (default: the last query)")
    comment: str | None = None


class Identity:
    def __init__(self, name: str, role: str) -> None:
        self.name, self.role = name, role


def create_app(workspace: str | Path, limits: Limits | None = None) -> FastAPI:
    """The app over the workspace at `workspace` (which must exist)."""
    from pilang_engine.workspace.access import identify
    from pilang_engine.workspace.environments import clear, definitions
    from pilang_engine.workspace.store import Workspace

    root = Path(workspace).resolve()
    limits = limits or Limits()
    auth_ws = Workspace(root, create=False)
    auth_lock = threading.Lock()
    pool = Pool(root, limits)
    route_output()
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        pool.close()
        auth_ws.close()

    app = FastAPI(title="pilang team server", lifespan=lifespan, version=__version__,
                  description="pilang over one shared workspace: each developer (a bearer token's name) has their own"
                              " global environment; analysts query, rate and define, admins also ingest, sync, train"
                              " and change routing.")
    app.state.pool = pool

    app.add_middleware(SizeLimit, limit=limits.request_bytes)

    def who(request: Request) -> Identity:
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

    def desk(me: Identity = Depends(who)) -> Desk:
        return pool.desk(me.name, me.role)

    @app.get(f"/{API}/health", tags=["server"])
    def health() -> dict[str, Any]:
        """Whether the server is up (no token needed)."""
        return {"ok": True, "version": __version__, "api": API}

    @app.get(f"/{API}/whoami", tags=["server"])
    def whoami(me: Identity = Depends(who)) -> dict[str, Any]:
        """The developer and role the token stands for."""
        return {"developer": me.name, "role": me.role}

    @app.post(f"/{API}/eval", response_model=EvalResponse, response_model_by_alias=True, tags=["language"])
    def evaluate(body: EvalRequest, d: Desk = Depends(desk)) -> Any:
        """Evaluate pilang source in the developer's own global environment. A pilang error is a
        completed evaluation (ok false, the error beside whatever values came before it); an evaluation
        past the time limit is interrupted, with error kind "timeout"."""
        try:
            return d.evaluate(body.code, body.file or f"<input-{next(counter)}>", body.argv, body.mime)
        except Busy as exc:
            raise HTTPException(409, str(exc)) from None

    counter = iter(range(1, 1 << 62))

    @app.post(f"/{API}/interrupt", tags=["language"])
    def interrupt(d: Desk = Depends(desk)) -> dict[str, Any]:
        """Interrupt the developer's running evaluation (a client's Ctrl-C)."""
        return {"interrupted": d.interrupt()}

    @app.post(f"/{API}/complete", tags=["language"])
    def complete(body: CompleteRequest, d: Desk = Depends(desk)) -> dict[str, Any]:
        """Completions for the word before the cursor, each with a one-line description."""
        from ..repl import _word_length, completions
        before = body.code[:body.cursor] if body.cursor is not None else body.code
        found = d.session.run(lambda: completions(d.session, before))
        return {"matches": [{"text": n, "meta": m} for n, m in found], "start": len(before) - _word_length(before),
                "end": len(before)}

    @app.get(f"/{API}/doc", tags=["language"])
    def doc(name: str, d: Desk = Depends(desk)) -> dict[str, Any]:
        """The documentation of a name (as ,help shows it)."""
        from ..repl import documentation
        text = d.session.run(lambda: documentation(d.session, name))
        return {"name": name, "found": not text.endswith("is not defined"), "text": text}

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

    @app.post(f"/{API}/rate", tags=["learning"])
    def rate(body: RateRequest, d: Desk = Depends(desk)) -> Any:
        """Rate the developer's last query (or an interaction) 1-5: the learner's feedback."""
        args = ([body.interaction] if body.interaction is not None else []) + [body.rating]
        return _call(d, "rate", *args, *([body.comment] if body.comment else []))

    @app.get(f"/{API}/routing", tags=["learning"])
    def routing(d: Desk = Depends(desk)) -> Any:
        """The routing table: which handler answers each (type, target)."""
        return _call(d, "routing")

    @app.get(f"/{API}/macros", tags=["learning"])
    def macros(d: Desk = Depends(desk)) -> Any:
        """Learned macros the developer may use (their own and the team's)."""
        return _call(d, "learned-macros")

    @app.get(f"/{API}/learning-log", tags=["learning"])
    def learning_log(limit: int = 30, d: Desk = Depends(desk)) -> Any:
        """The learner's rewrites, newest first, with what undoes each."""
        return _call(d, "learning-log", limit)

    @app.get(f"/{API}/sources", tags=["workspace"])
    def sources(d: Desk = Depends(desk)) -> Any:
        """What the workspace holds, by source."""
        return _call(d, "sources")

    @app.get(f"/{API}/stats", tags=["workspace"])
    def stats(d: Desk = Depends(desk)) -> Any:
        """The workspace's counts (as (stats) gives them)."""
        return _call(d, "stats")

    return app


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


def _call(d: Desk, name: str, *args: Any) -> Any:
    from ..errors import PilangError
    from .sessions import error_doc
    try:
        return d.call(name, *args)
    except Busy as exc:
        raise HTTPException(409, str(exc)) from None
    except PilangError as err:
        status = 403 if err.kind == "permission" else 422
        raise HTTPException(status, error_doc(err)) from None


def serve(workspace: str | Path, host: str = "127.0.0.1", port: int = 8484, limits: Limits | None = None,
          log_level: str = "info") -> None:
    """Run the server until interrupted."""
    import uvicorn
    uvicorn.run(create_app(workspace, limits), host=host, port=port, log_level=log_level)
