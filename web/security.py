"""Security headers on every response, a limit on request bodies, and links that cannot run script."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

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


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length and (not length.isdigit() or int(length) > MAX_BODY):
            response: Response = PlainTextResponse("request body too large", status_code=413)
        elif len(str(request.url)) > 16384:
            response = PlainTextResponse("request URL too long", status_code=414)
        else:
            response = await call_next(request)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        return response


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
