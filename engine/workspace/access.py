"""Who may use a workspace over the team server: named bearer tokens with a role. Only a SHA-256 hash
of each token is stored (a token is 256 random bits, so a slow hash would add nothing); a presented
token is compared with every live hash in constant time, and a revoked token stops working at once."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from .store import Workspace, WorkspaceError, now_iso

ROLES = ("analyst", "admin", "collector")  # a collector only posts events (POST /v1/events)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PREFIX = "pil_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_token(ws: Workspace, name: str, role: str = "analyst") -> str:
    """A new token for `name` (replacing any earlier one of that name); the token itself is returned
    once and never stored."""
    if not NAME.fullmatch(name or ""):
        raise WorkspaceError(f"a token name is 1-64 letters, digits or . _ @ - (it becomes the developer's name);"
                             f" got {name!r}")
    if role not in ROLES:
        raise WorkspaceError(f"a token's role is one of {', '.join(ROLES)}; got {role!r}")
    token = PREFIX + secrets.token_urlsafe(32)
    with ws.transaction(data=False):
        ws.db.execute("INSERT INTO tokens(name, role, hash, created, revoked) VALUES (?, ?, ?, ?, NULL)"
                      " ON CONFLICT(name) DO UPDATE SET role = excluded.role, hash = excluded.hash,"
                      " created = excluded.created, revoked = NULL", [name, role, _digest(token), now_iso()])
    return token


def revoke(ws: Workspace, name: str) -> bool:
    """Revoke `name`'s token; False when it has no live token."""
    with ws.transaction(data=False):
        cur = ws.db.execute("UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL", [now_iso(), name])
    return cur.rowcount > 0


def tokens(ws: Workspace) -> list[dict[str, Any]]:
    """Every token's name, role, when it was made and whether it was revoked (never the hash)."""
    rows = ws.db.execute("SELECT name, role, created, revoked FROM tokens ORDER BY name").fetchall()
    return [{"name": n, "role": r, "created": c, "revoked": v} for n, r, c, v in rows]


def identify(ws: Workspace, token: str | None) -> tuple[str, str] | None:
    """(name, role) of the live token presented, else None. Every live hash is compared, each in constant
    time, so how long this takes says nothing about which token came close."""
    if not token:
        return None
    presented = _digest(token)
    found = None
    for name, role, digest in ws.db.execute("SELECT name, role, hash FROM tokens WHERE revoked IS NULL"):
        if hmac.compare_digest(presented, digest) and found is None:
            found = (name, role)
    return found
