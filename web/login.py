"""Signing in a browser in token mode: paste an API token once, get an HttpOnly cookie.

Pages, the bookmarklet popup and browser search then work like the API with a Bearer header.
The cookie is SameSite=Lax: sent when the bookmarklet opens its window from another site
(a top-level GET), never with another site's POST; admin forms also carry a CSRF token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .admin import form_fields
from .auth import COOKIE, Authenticator, cross_site
from .deps import templates

router = APIRouter()
COOKIE_DAYS = 30


def _page(request: Request, error: str = "", status: int = 200) -> Response:
    mode = request.app.state.settings.auth.mode
    return templates.TemplateResponse(request, "login.html", {"page": {"error": error, "mode": mode}},
                                      status_code=status)


@router.get("/login", response_class=HTMLResponse, summary="Sign in with an API token (token mode)")
def login_page(request: Request) -> Response:
    return _page(request)


@router.post("/login", response_class=HTMLResponse, summary="Set the sign-in cookie from a pasted token")
async def login(request: Request) -> Response:
    auth: Authenticator = request.app.state.auth
    if cross_site(request, auth.base_host):
        raise HTTPException(403, "cross-site request refused")
    token = (await form_fields(request)).get("token", "").strip()
    if auth.settings.mode != "token" or not token or auth.tokens.owner(token) is None:
        return _page(request, "That token is not valid (or this server does not use tokens).", 401)
    response = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https" or request.app.state.settings.web.base_url.startswith("https:")
    response.set_cookie(COOKIE, token, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="lax",
                        secure=secure, path="/")
    return response


@router.post("/logout", summary="Forget the sign-in cookie")
def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def sign_in_on_401(request: Request, exc: Any) -> Response:
    """A page (not the API) that needs a token shows the sign-in form instead of bare JSON."""
    if (exc.status_code == 401 and request.app.state.settings.auth.mode == "token"
            and not request.url.path.startswith("/api/")):
        return _page(request, "Sign in to continue.", 401)
    return await http_exception_handler(request, exc)
