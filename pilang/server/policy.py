"""What pilang code may do over the team server, by role. Locally a program may read and write any file
the user can, open any workspace and reach the compiled code's helpers; over the server it may not:

- files are read and written only inside the server's workspace directory (a relative path starts
  there), and never the workspace's own store (its database, indexes, models, caches): `load`,
  `ingest`, `ingest-images`, `transcribe`, `voice->query`, `voice-query`, `report`;
- `open-workspace` is refused (the server works on its one workspace);
- the implementation's names (the compiled code's helpers, Python's dunder names) cannot be read or
  defined, so no program reaches Python itself (the global environment has no Python builtins);
- an analyst queries, rates and defines; ingesting, syncing, training and changing routing are an
  admin's (`ADMIN_ONLY`).

No primitive starts a process or opens a network connection except `sync` (an admin's), so nothing more
is needed for those. What a program prints is captured per request (see sessions.py), never the
server's own output."""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..datum import Keyword
from ..errors import PilangError

# primitive -> what it does, for the message an analyst gets
ADMIN_ONLY = {
    "ingest": "ingests data", "ingest-images": "ingests images", "sync": "syncs live sources",
    "train": "trains a model", "set-route!": "changes routing",
    "undo-learning": "undoes a learned rewrite (of routing or macros)", "freeze-learning": "stops the learner",
    "unfreeze-learning": "restarts the learner", "set-embedding-model": "re-embeds the workspace",
}
REFUSED = {"open-workspace": "the server works on its one workspace (run pilang locally to open another)"}
ALL = "all"
# what the workspace directory itself holds (its database, indexes, trained models, caches)
OWN_FILES = {"index.faiss", "index.json", "images.faiss", "images.json", "models", "cache"}
# primitive -> (positional arguments that are paths: ALL or a set of indices, keyword arguments that are
# paths, defaults for path keywords the caller left out, so they too land inside the workspace)
PATHS: dict[str, tuple[Any, tuple[str, ...], dict[str, str]]] = {
    "ingest": (ALL, (), {}),
    "ingest-images": (ALL, ("checkpoint", "config"), {}),
    "transcribe": ({0}, (), {}),
    "voice->query": ({0}, (), {}),
    "voice-query": ({0}, (), {}),
    "report": (set(), ("out",), {"out": "report.html"}),
}


class Sandbox:
    """Applied to a Session before its library loads (Session(sandbox=...))."""

    def __init__(self, root: str | Path, role: str, developer: str) -> None:
        self.root = Path(root).resolve()
        self.role, self.developer = role, developer
        self.replaying = False  # set while a session replays its saved definitions

    def __call__(self, session: Any) -> None:
        env = session.env
        session.compiler.sandboxed = True
        for name, why in REFUSED.items():
            env[name] = _replace(env[name], _refused(f"{name} is not allowed over the server: {why}"))
        for name, (positions, keywords, defaults) in PATHS.items():
            env[name] = _replace(env[name], self._paths(env[name], name, positions, keywords, defaults))
        if self.role != "admin":
            for name, what in ADMIN_ONLY.items():
                env[name] = _replace(env[name], _refused(f"{name} {what}, which only an admin does over the server,"
                                                         f" and {self.developer}'s token has the {self.role} role"))
            env["personas"] = _replace(env["personas"], self._no_refit(env["personas"]))
            env["install-routes!"] = _replace(env["install-routes!"], self._library_routes(env["install-routes!"]))
        for name in (*ADMIN_ONLY, "report"):
            env[name] = _replace(env[name], self._not_replayed(env[name], name))
        within = session.load_target
        session.load_target = lambda path, from_file: Path(self.inside(str(within(path, from_file)), "load"))

    def _not_replayed(self, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
        """A definition replayed when a session starts again must not ingest, train or write a report
        again (`(define model (train 'gnn))`): it is skipped instead, and the developer told."""
        def once(*args: Any) -> Any:
            if self.replaying:
                raise PilangError("permission", f"{name} is not run again when a session restarts, so a definition"
                                  " that calls it is not replayed")
            return fn(*args)
        return once

    def seal(self, session: Any) -> None:
        """After the library has loaded: the default routes it installs (on a fresh workspace's first
        query) are the only ones an analyst's session may add, and its candidate handlers the only
        ones the learner may route to."""
        from ..bridge import to_python
        self.library_routes = {tuple(to_python(r)) for r in session.env.get("default-routes") or ()}
        # ratings move routes only among the library's candidate handlers: a developer's own rebinding of
        # handler-candidates (their handler, defined only for them) never becomes the team's route
        session.learner.fixed_candidates = session.env.get("handler-candidates") or ()

    def _library_routes(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def install(routes: Any) -> Any:
            from ..bridge import to_python
            asked = {tuple(to_python(r)) for r in routes or ()}
            if not asked <= getattr(self, "library_routes", set()):
                raise PilangError("permission", f"install-routes! with routes of your own changes routing, which only"
                                  f" an admin does over the server, and {self.developer}'s token has the {self.role}"
                                  " role (the library's default routes install themselves)")
            return fn(routes)
        return install

    def inside(self, path: Any, who: str) -> str:
        """`path` (relative to the workspace directory) as an absolute path inside it, else a permission
        error. Links are followed first, so none leads out."""
        if type(path) is not str:
            return path  # the primitive says what it takes
        target = Path(path)
        full = (target if target.is_absolute() else self.root / target).resolve()
        if full != self.root and self.root not in full.parents:
            raise PilangError("permission", f"{who}: {path!r} is outside the workspace; over the server, files are"
                              " read and written only inside the workspace directory (a relative path starts there)")
        first = full.relative_to(self.root).parts[:1]
        if not first or first[0] in OWN_FILES or first[0].startswith(("workspace.db", ".")):
            raise PilangError("permission", f"{who}: {path!r} is the workspace's own store, which code over the server"
                              " neither reads nor writes; use a folder of your own inside it (e.g. inbox/)")
        return str(full)

    def _paths(self, fn: Callable[..., Any], who: str, positions: Any, keywords: tuple[str, ...],
               defaults: dict[str, str]) -> Callable[..., Any]:
        def checked(*args: Any) -> Any:
            out, given, i = [], set(), 0
            while i < len(args):
                a = args[i]
                if type(a) is Keyword and i + 1 < len(args):
                    value = args[i + 1]
                    given.add(a.name)
                    out += [a, self.inside(value, who) if a.name in keywords else value]
                    i += 2
                    continue
                out.append(self.inside(a, who) if positions == ALL or i in positions else a)
                i += 1
            for key, default in defaults.items():
                if key not in given:
                    out += [Keyword(key), self.inside(default, who)]
            return fn(*out)
        return checked

    def _no_refit(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def personas(*args: Any) -> Any:
            for k, v in zip(args, args[1:]):
                if type(k) is Keyword and k.name == "refit" and v not in (False, None):
                    raise PilangError("permission", f"(personas :refit #t) refits the personas, which is an admin's to"
                                      f" do: {self.developer}'s token has the {self.role} role")
            return fn(*args)
        return personas


def _refused(message: str) -> Callable[..., Any]:
    """A primitive that only says why it is refused."""
    def refused(*args: Any) -> Any:
        raise PilangError("permission", message)
    return refused


def _replace(original: Callable[..., Any], new: Callable[..., Any]) -> Callable[..., Any]:
    """`new` in the original primitive's place, with its name, signature and documentation (so ,help
    and completion read the same), marked as a primitive."""
    wrapped = functools.wraps(original)(new)
    wrapped.__pilang_primitive__ = True
    return wrapped
