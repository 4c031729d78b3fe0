"""API tokens: created by `whoknows token create`, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .migrations import connect_state
from .runs import now_iso

PREFIX = "wk_"


@dataclass
class TokenOwner:
    id: int
    user: str
    groups: list[str]
    created_at: str
    revoked: bool = False


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    def __init__(self, path: Path):
        self.path = path

    def _db(self) -> sqlite3.Connection:
        return connect_state(self.path)

    def create(self, user: str, groups: list[str]) -> str:
        """A new token for ``user``; the plain token is returned once and never stored."""
        if not user.strip():
            raise ValueError("a token needs a user name")
        token = PREFIX + secrets.token_urlsafe(32)
        db = self._db()
        try:
            db.execute("INSERT INTO tokens(user, groups, hash, created_at) VALUES (?,?,?,?)",
                       (user.strip(), json.dumps(sorted({g.strip() for g in groups if g.strip()})),
                        _hash(token), now_iso()))
        finally:
            db.close()
        return token

    def owner(self, token: str) -> TokenOwner | None:
        if not token.startswith(PREFIX) or len(token) > 200 or not self.path.exists():
            return None
        db = self._db()
        try:
            r = db.execute("SELECT id, user, groups, created_at FROM tokens WHERE hash = ? AND revoked = 0",
                           (_hash(token),)).fetchone()
        finally:
            db.close()
        return TokenOwner(r[0], r[1], json.loads(r[2]), r[3]) if r else None

    def list(self) -> list[TokenOwner]:
        db = self._db()
        try:
            rows = db.execute("SELECT id, user, groups, created_at, revoked FROM tokens ORDER BY id").fetchall()
        finally:
            db.close()
        return [TokenOwner(r[0], r[1], json.loads(r[2]), r[3], bool(r[4])) for r in rows]

    def revoke(self, token_id: int) -> bool:
        db = self._db()
        try:
            return db.execute("UPDATE tokens SET revoked = 1 WHERE id = ?", (token_id,)).rowcount > 0
        finally:
            db.close()
