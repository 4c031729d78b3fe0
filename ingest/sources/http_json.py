"""A polite JSON-over-HTTP client for live sources (Discourse, Confluence): requests spaced
by a delay, HTTP 429/503 retried after the Retry-After the server asks for (capped), and
credentials carried in headers that never reach a log line or a repr.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class _SameServerRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same scheme, host and port: the credentials in the
    request's headers would otherwise go along to whatever host the response names."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            raise urllib.error.HTTPError(req.full_url, code, f"redirect to another server ({new.netloc}) refused",
                                         headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameServerRedirects)


class SourceUnavailable(RuntimeError):
    """The server cannot be reached, refuses the credentials or keeps rate limiting."""


@dataclass
class ClientOptions:
    delay: float = 1.0  # seconds between requests (Discourse allows 60 API requests/min by default)
    retries: int = 3  # retries of a request answered with 429 or 503
    max_wait: float = 60.0  # longest Retry-After honoured; longer waits are cut to this
    timeout: float = 30.0
    api_key: str = field(default="", repr=False)  # never in a log line or a traceback's repr
    api_username: str = ""


class JsonClient:
    """GETs JSON from one server; subclasses add their credentials in ``_headers``."""

    agent = "whoknows"

    def __init__(self, base_url: str, opts: ClientOptions, sleep: Callable[[float], None] = time.sleep):
        self.base = base_url.rstrip("/")
        self.opts = opts
        self.sleep = sleep
        self._last = 0.0
        self.requests = 0

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": self.agent}

    def get(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        """JSON of ``path``; raises ``urllib.error.HTTPError`` for 4xx/5xx other than 429/503,
        ``SourceUnavailable`` when the server cannot be reached or keeps rate limiting.
        ``path`` may carry its own query (a "next page" link the server gave)."""
        query = urllib.parse.urlencode(params) if params else ""
        url = self.base + path + (("&" if "?" in path else "?") + query if query else "")
        for attempt in range(self.opts.retries + 1):
            self._pause()
            try:
                req = urllib.request.Request(url, headers=self._headers())
                with _OPENER.open(req, timeout=self.opts.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                if e.code not in (429, 503) or attempt == self.opts.retries:
                    if e.code in (429, 503):
                        raise SourceUnavailable(
                            f"{self.base} still answers HTTP {e.code} after {self.opts.retries} retries") from None
                    raise
                self.sleep(self._retry_after(e.headers.get("Retry-After"), attempt))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                reason = getattr(e, "reason", e)
                raise SourceUnavailable(f"cannot reach {self.base}: {reason}") from None
        raise AssertionError("unreachable")

    def _pause(self) -> None:
        wait = self._last + self.opts.delay - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last = time.monotonic()
        self.requests += 1

    def _retry_after(self, value: str | None, attempt: int) -> float:
        """Seconds to wait: Retry-After (seconds or an HTTP date), else exponential backoff."""
        wait = float(2 ** attempt)
        if value:
            try:
                wait = float(value)
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(value)
                    wait = (when - datetime.now(UTC)).total_seconds()
                except (TypeError, ValueError):
                    pass  # an unreadable Retry-After: keep the backoff
        return min(max(wait, 0.0), self.opts.max_wait)


def secret_from_env(options: dict[str, Any], option: str, source: str) -> str:
    """The secret in the environment variable that ``options[option]`` names ("" when none is
    named); a named but unset variable is an error that names the variable, never a value."""
    env = str(options.get(option, "")).strip()
    if not env:
        return ""
    value = os.environ.get(env, "")
    if not value:
        raise ValueError(f"source {source!r}: environment variable {env} (options.{option}) is not set")
    return value


def client_options(options: dict[str, Any], source: str, key: str = "") -> ClientOptions:
    """Client settings from a source's options: delay, retries, max_wait, timeout."""
    return ClientOptions(
        delay=float(options.get("delay", 1.0)), retries=int(options.get("retries", 3)),
        max_wait=float(options.get("max_wait", 60.0)), timeout=float(options.get("timeout", 30.0)), api_key=key,
    )
