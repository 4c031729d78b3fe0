"""Security headers on every response, a limit on request bodies, and links that cannot run script."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Every asset is whoknows' own: no CDN, no inline script, nothing framed.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
MAX_BODY = 64 * 1024


class SecurityHeaders:
    """Plain ASGI middleware (not ``BaseHTTPMiddleware``, which costs a task per request and
    hides a client's disconnect from the route)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        refused: Response | None = None
        if length and (not length.isdigit() or int(length) > MAX_BODY):
            refused = PlainTextResponse("request body too large", status_code=413)
        elif len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > 16384:
            refused = PlainTextResponse("request URL too long", status_code=414)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in HEADERS.items():
                    headers.setdefault(k, v)
            await send(message)

        if refused is not None:
            await refused(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)


LINK_SCHEMES = ("", "http", "https", "mailto")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]")  # browsers drop these: "java\tscript:" is javascript:


def safe_url(url: str | None) -> str:
    """``url`` when following it cannot run script (http, https, mailto or a path), else "".

    Document and profile links come from sources and config; a ``javascript:`` or ``data:``
    link there must never become an ``href`` on whoknows' pages.
    """
    if not url:
        return ""
    try:
        scheme = urlsplit(_IGNORED_IN_URLS.sub("", url)).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in LINK_SCHEMES else ""
