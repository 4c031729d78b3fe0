"""Who is asking, per ``[auth] mode``: local, an SSO proxy's headers, or an API token.

Tokens come as ``Authorization: Bearer ...`` or, for browsers (pages, the bookmarklet popup,
browser search), as the HttpOnly cookie that ``/login`` sets from a pasted token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from pathlib import Path

from fastapi import HTTPException, Request

from index.settings import AuthSettings
from index.tokens import TokenStore
from search.permissions import LOCAL, Viewer

COOKIE = "whoknows_token"


class Authenticator:
    def __init__(self, settings: AuthSettings, home: Path):
        self.settings = settings
        self.tokens = TokenStore(home / "state.sqlite")
        self._networks = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self._secret = _secret(home)

    def viewer(self, request: Request) -> Viewer:
        mode = self.settings.mode
        if mode == "local":
            return LOCAL
        if mode == "proxy":
            return self._from_proxy(request)
        return self._from_token(request)

    def _from_proxy(self, request: Request) -> Viewer:
        host = request.client.host if request.client else ""
        try:
            trusted = any(ipaddress.ip_address(host) in n for n in self._networks)
        except ValueError:
            trusted = False
        user = request.headers.get(self.settings.user_header, "").strip()
        if not trusted or not user:
            raise HTTPException(401, "sign in through the company's login proxy")
        groups = frozenset(g.strip() for g in request.headers.get(self.settings.groups_header, "").split(",")
                           if g.strip())
        return Viewer(user[:200], groups, admin=self.settings.admin_group in groups)

    def _from_token(self, request: Request) -> Viewer:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        owner = self.tokens.owner(token) if token else None
        if owner is None:
            raise HTTPException(401, "a valid API token is needed (Authorization: Bearer ...)",
                                headers={"WWW-Authenticate": "Bearer"})
        groups = frozenset(owner.groups)
        return Viewer(owner.user, groups, admin=self.settings.admin_group in groups)

    def csrf_token(self, viewer: Viewer) -> str:
        """A per-user token for admin forms: a cross-site page cannot know it."""
        return hmac.new(self._secret, f"csrf:{viewer.user}".encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, viewer: Viewer, token: str) -> None:
        if not hmac.compare_digest(self.csrf_token(viewer), token or ""):
            raise HTTPException(403, "this form has expired or came from another site; reload the page")


def _secret(home: Path) -> bytes:
    path = home / "secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()
