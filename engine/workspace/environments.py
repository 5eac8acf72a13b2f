"""Each developer's global environment on the team server, kept as the definitions they made (the
source text of each top-level define, defmacro, set! or load, in order), so a session that starts again
(after an idle time or a server restart) replays them and has the same names as before."""
from __future__ import annotations

from .store import Workspace, now_iso


def save(ws: Workspace, developer: str, source: str, file: str) -> int:
    """Append one definition to `developer`'s environment; its number (seq)."""
    with ws.transaction(data=False):
        seq = ws.db.execute("SELECT coalesce(max(seq), 0) + 1 FROM environments WHERE developer = ?",
                            [developer]).fetchone()[0]
        ws.db.execute("INSERT INTO environments(developer, seq, source, file, time) VALUES (?, ?, ?, ?, ?)",
                      [developer, seq, source, file, now_iso()])
    return int(seq)


def definitions(ws: Workspace, developer: str) -> list[tuple[str, str]]:
    """(source, file) of every definition `developer` made, oldest first."""
    return [(s, f) for s, f in ws.db.execute("SELECT source, file FROM environments WHERE developer = ? ORDER BY seq",
                                             [developer])]


def numbered(ws: Workspace, developer: str, after: int = 0) -> list[tuple[int, str, str]]:
    """(seq, source, file) of `developer`'s definitions numbered above `after`, oldest first."""
    return [(int(n), s, f) for n, s, f in ws.db.execute(
        "SELECT seq, source, file FROM environments WHERE developer = ? AND seq > ? ORDER BY seq", [developer, after])]


def numbers(ws: Workspace, developer: str) -> set[int]:
    """The numbers of `developer`'s definitions now stored (a server replica compares them with those
    its session holds: one it holds that is gone means the environment was cleared)."""
    return {int(r[0]) for r in ws.db.execute("SELECT seq FROM environments WHERE developer = ?", [developer])}


def clear(ws: Workspace, developer: str) -> int:
    """Forget `developer`'s environment; how many definitions it held."""
    with ws.transaction(data=False):
        return ws.db.execute("DELETE FROM environments WHERE developer = ?", [developer]).rowcount
