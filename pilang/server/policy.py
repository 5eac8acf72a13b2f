"""What pilang code may do over the team server, by role. Locally a program may read and write any file
the user can, open any workspace and reach the compiled code's helpers; over the server it may not:

- files (every primitive argument declared as a path, and `load`; see pilang/files.py) are read only
  from the server's import folders (the workspace's `inbox/`, and each `pilang serve --import DIR`) and
  the developer's own output folder, and written only into that output folder
  (`<workspace>/outputs/<developer>/`); never the workspace's own store (its database, indexes,
  models, caches), whatever the path is written as;
- `open-workspace` is refused (the server works on its one workspace);
- the implementation's names (the compiled code's helpers, Python's dunder names) cannot be read or
  defined, so no program reaches Python itself (the global environment has no Python builtins);
- an analyst queries, rates and defines; ingesting, syncing, training and changing routing are an
  admin's (`ADMIN_ONLY`), and so is forgetting what the team learned.

No primitive starts a process or opens a network connection except `sync` (an admin's), so nothing more
is needed for those. What a program prints is captured per request (see developers.py), never the
server's own output."""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..datum import Keyword
from ..errors import PilangError
from ..files import WRITE, Files

# primitive -> what it does, for the message an analyst gets
ADMIN_ONLY = {
    "ingest": "ingests data", "ingest-images": "ingests images", "sync": "syncs live sources",
    "train": "trains a model", "set-route!": "changes routing",
    "undo-learning": "undoes a learned rewrite (of routing or macros)", "freeze-learning": "stops the learner",
    "unfreeze-learning": "restarts the learner", "set-embedding-model": "re-embeds the workspace",
}
REFUSED = {"open-workspace": "the server works on its one workspace (run pilang locally to open another)"}
# what the workspace directory itself holds (its database, indexes, trained models, caches)
OWN_FILES = {"index.faiss", "index.json", "images.faiss", "images.json", "models", "cache"}
INBOX, OUTPUTS = "inbox", "outputs"


def outputs_of(root: Path, developer: str) -> Path:
    """The folder a developer's code writes into (token names are letters, digits and . _ @ -, never
    starting with a dot, so this is always a child of outputs/)."""
    folder = (root / OUTPUTS / developer).resolve()
    assert folder.parent == (root / OUTPUTS).resolve(), developer
    return folder


class ServerFiles(Files):
    """Reads from the import folders and the developer's output folder; writes into that folder only."""

    def __init__(self, root: Path, developer: str, imports: Sequence[Path] = ()) -> None:
        self.root = root.resolve()
        self.outputs = outputs_of(self.root, developer)
        self.imports = [Path(p).resolve() for p in ([self.root / INBOX, *imports])]

    def allow(self, path: str, mode: str, who: str) -> str:
        target = Path(path)
        if mode == WRITE:  # a name in the developer's output folder
            full = (target if target.is_absolute() else self.outputs / target).resolve()
            if not _within(full, self.outputs) or full == self.outputs:
                raise PilangError("permission", f"{who}: {path!r} is outside your output folder; over the server, files"
                                  f" are written only there ({self._shown(self.outputs)}/): give a name such as"
                                  " \"weekly.html\"")
            self._not_own(full, path, who)
            full.parent.mkdir(parents=True, exist_ok=True)
            return str(full)
        full = (target if target.is_absolute() else self.root / target).resolve()  # links followed first
        self._not_own(full, path, who)
        if not any(_within(full, folder) for folder in (*self.imports, self.outputs)):
            shown = ", ".join(f"{self._shown(f)}/" for f in self.imports)
            raise PilangError("permission", f"{who}: {path!r} is outside the workspace's import folders; over the"
                              f" server, files are read only from {shown} (an admin adds more with pilang serve"
                              f" --import DIR) and from your output folder {self._shown(self.outputs)}/")
        return str(full)

    def _not_own(self, full: Path, path: str, who: str) -> None:
        if not _within(full, self.root):
            return
        first = full.relative_to(self.root).parts[:1]
        if not first or first[0] in OWN_FILES or first[0].startswith(("workspace.db", ".")):
            raise PilangError("permission", f"{who}: {path!r} is the workspace's own store, which code over the server"
                              " neither reads nor writes")

    def _shown(self, folder: Path) -> str:
        return str(folder.relative_to(self.root)) if _within(folder, self.root) else str(folder)


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class Sandbox:
    """Applied to a Session before its library loads (Session(sandbox=...))."""

    def __init__(self, root: str | Path, role: str, developer: str, imports: Sequence[Path] = ()) -> None:
        self.root = Path(root).resolve()
        self.role, self.developer = role, developer
        self.files = ServerFiles(self.root, developer, imports)
        self.replaying = False  # set while a session replays its saved definitions

    def __call__(self, session: Any) -> None:
        env = session.env
        session.compiler.sandboxed = True
        for name, why in REFUSED.items():
            env[name] = _replace(env[name], _refused(f"{name} is not allowed over the server: {why}"))
        session.files, session.role = self.files, self.role
        if self.role != "admin":
            for name, what in ADMIN_ONLY.items():
                env[name] = _replace(env[name], _refused(f"{name} {what}, which only an admin does over the server,"
                                                         f" and {self.developer}'s token has the {self.role} role"))
            env["personas"] = _replace(env["personas"], self._no_refit(env["personas"]))
            env["install-routes!"] = _replace(env["install-routes!"], self._library_routes(env["install-routes!"]))
        for name in (*ADMIN_ONLY, "report"):
            env[name] = _replace(env[name], self._not_replayed(env[name], name))

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
