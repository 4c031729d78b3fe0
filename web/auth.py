"""Who is asking, per ``[auth] mode``: local, an SSO proxy's headers, or an API token.

Tokens come as ``Authorization: Bearer ...`` or, for browsers (pages, the bookmarklet popup,
browser search), as the HttpOnly cookie that ``/login`` (web/login.py) sets from a pasted token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from index.settings import AuthSettings
from index.tokens import TokenStore
from search.permissions import LOCAL, Viewer

COOKIE = "whoknows_token"
LOOPBACK_NAMES = {"127.0.0.1", "::1", "localhost"}
CSRF_MAX_AGE = 12 * 3600  # seconds an admin form's token stays valid (a working day)


class Authenticator:
    def __init__(self, settings: AuthSettings, home: Path, base_url: str = ""):
        self.settings = settings
        self.base_host = urlsplit(base_url).netloc.lower()  # the public address, behind a proxy
        self.tokens = TokenStore(home / "state.sqlite")
        self._networks = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self._secret = _secret(home)

    def viewer(self, request: Request) -> Viewer:
        mode = self.settings.mode
        if mode == "local":
            self._refuse_rebinding(request)
            return LOCAL
        if mode == "proxy":
            return self._from_proxy(request)
        return self._from_token(request)

    def _refuse_rebinding(self, request: Request) -> None:
        """Local mode trusts whoever reaches the loopback port, so a browser request to it must
        name the loopback host (or ``[web] base_url``): a page on another site that re-points
        its own host name at 127.0.0.1 (DNS rebinding) would otherwise read everything."""
        try:
            from_loopback = ipaddress.ip_address(request.client.host if request.client else "").is_loopback
        except ValueError:
            return  # not a network client (the test client)
        host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
        if from_loopback and host not in LOOPBACK_NAMES and host != urlsplit("//" + self.base_host).hostname:
            raise HTTPException(403, f"local mode answers on 127.0.0.1 or localhost, not {host[:100]!r}; "
                                "set [web] base_url for another name")

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

    def viewer_key(self, viewer: Viewer, request: Request) -> str:
        """Who a vote or an open is from: the user, or in local mode (anonymous, one user per
        address) a keyed hash of the address, so the state database holds no addresses and a
        plain hash of one cannot be reversed by trying them all."""
        if self.settings.mode != "local":
            return viewer.user
        address = request.client.host if request.client else ""
        return "anon:" + hmac.new(self._secret, f"viewer:{address}".encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_token(self, viewer: Viewer, request: Request, now: float | None = None) -> str:
        """A token for admin forms, tied to the user, their sign-in cookie (if any) and the time
        it was made: a cross-site page can neither read it nor compute it, and a copy that
        leaks (a saved page, a log) stops working after ``CSRF_MAX_AGE``."""
        made = int(time.time() if now is None else now)
        return f"{made}.{self._csrf_mac(viewer, request, made)}"

    def _csrf_mac(self, viewer: Viewer, request: Request, made: int) -> str:
        session = hashlib.sha256(request.cookies.get(COOKIE, "").encode()).hexdigest()
        return hmac.new(self._secret, f"csrf:{viewer.user}:{session}:{made}".encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, viewer: Viewer, request: Request, token: str) -> None:
        """Refuse a state-changing request that a page on another site could have sent.

        A request that authenticates with an ``Authorization: Bearer`` token in token mode is
        not cross-site forgeable (browsers never add that header on their own). Anything
        else, whose credentials a browser sends by itself (the sign-in cookie, an SSO proxy's
        session, being on loopback in local mode), must come from whoknows' own pages and
        carry the form's token.
        """
        if self.settings.mode == "token" and request.headers.get("authorization", "").lower().startswith("bearer "):
            return
        if cross_site(request, self.base_host):
            raise HTTPException(403, "cross-site request refused")
        if not self._csrf_valid(viewer, request, token or ""):
            raise HTTPException(403, "this form has expired or came from another site; reload the page")

    def _csrf_valid(self, viewer: Viewer, request: Request, token: str) -> bool:
        """``token`` is "<made>.<mac>" from ``csrf_token``, for this user and sign-in, made
        within ``CSRF_MAX_AGE`` (a minute of clock skew allowed)."""
        made, _, mac = token.partition(".")
        if not (made.isdigit() and len(made) <= 12 and -60 <= time.time() - int(made) <= CSRF_MAX_AGE):
            return False
        expected = self._csrf_mac(viewer, request, int(made))
        return hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace"))


def cross_site(request: Request, base_host: str = "") -> bool:
    """The browser says the request came from another site (Sec-Fetch-Site, Origin): an
    Origin must be this server's Host or the configured public address."""
    site = request.headers.get("sec-fetch-site", "")
    if site and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    netloc = urlsplit(origin).netloc.lower()
    return not netloc or netloc not in (request.headers.get("host", "").lower(), base_host)


def _secret(home: Path) -> bytes:
    path = home / "secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()
