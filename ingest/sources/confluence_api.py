"""The Confluence REST API (v1, ``/rest/api``, served by Cloud and Data Center alike) as the
``confluence`` source needs it: spaces with their permissions, content listed by CQL page by
page, and one page with its body, comments, restrictions and version history.

Plain HTTP through the shared ``JsonClient`` (delay, 429/503 back-off, secrets in headers)
rather than ``atlassian-python-api``: that client retries 429s on its own schedule, pulls in
requests, oauthlib and more, and its Cloud/Server split is one base URL and one auth header,
which is all this needs.
"""

from __future__ import annotations

import base64
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .http_json import JsonClient

RESTRICTIONS = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
PAGE_EXPAND = f"body.storage,version,history,space,ancestors,metadata.labels,{RESTRICTIONS}"
COMMENT_EXPAND = "body.storage,history,version"
PAGE_SIZE = 50
CQL_TIME = "%Y/%m/%d %H:%M"  # CQL dates have minute precision, in the account's time zone


class ConfluenceClient(JsonClient):
    """GETs from one Confluence. ``api_username`` set: HTTP Basic with it and the API token
    (Cloud: e-mail + API token); else the token as a Bearer personal access token (Data Center)."""

    agent = "whoknows (Confluence source)"

    def _headers(self) -> dict[str, str]:
        h = super()._headers()
        if self.opts.api_key and self.opts.api_username:
            pair = f"{self.opts.api_username}:{self.opts.api_key}".encode()
            h["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif self.opts.api_key:
            h["Authorization"] = f"Bearer {self.opts.api_key}"
        return h

    def results(self, path: str, params: list[tuple[str, str]], max_pages: int = 10_000
                ) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """(results, more pages follow) per page, following ``_links.next``. A next link is only
        followed as a path on this server: credentials never go to a host a response names."""
        data = self.get(path, params)
        for _ in range(max_pages):
            results = [r for r in data.get("results") or [] if isinstance(r, dict)]
            nxt = _next_path(data)
            yield results, nxt is not None
            if nxt is None:
                return
            data = self.get(nxt)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _next_path(data: dict[str, Any]) -> str | None:
    links = _dict(data.get("_links"))
    nxt = links.get("next")
    if not isinstance(nxt, str) or not nxt.startswith("/") or nxt.startswith("//"):
        return None
    context = str(links.get("context") or "")
    if context and nxt.startswith(context + "/"):
        nxt = nxt[len(context):]  # our base URL already ends in the context path
    return nxt


@dataclass
class Summary:
    """A content item as a listing shows it."""

    id: str
    type: str
    version: int
    container: str = ""  # for a comment: the page it belongs to
    restrictions: dict[str, Any] | None = None  # only in the full listing


@dataclass
class Listing:
    items: dict[str, Summary] = field(default_factory=dict)
    complete: bool = True


def cql(spaces: list[str], types: tuple[str, ...], since: datetime | None = None) -> str:
    where = [f"type in ({', '.join(types)})"]
    if spaces:
        quoted = ('"' + s.replace("\\", "").replace('"', "") + '"' for s in spaces)
        where.insert(0, "space in (" + ", ".join(quoted) + ")")
    if since is not None:
        where.append(f'lastmodified >= "{since.strftime(CQL_TIME)}"')
    return " and ".join(where) + " order by lastmodified desc"


def list_content(client: ConfluenceClient, query: str, expand: str, max_pages: int) -> Listing:
    """Every item a CQL query finds; ``complete`` is False when ``max_pages`` cut it short."""
    out = Listing()
    for results, more in client.results("/rest/api/content/search",
                                        [("cql", query), ("limit", str(PAGE_SIZE)), ("expand", expand)], max_pages):
        for r in results:
            out.items[str(r.get("id"))] = Summary(
                str(r.get("id")), str(r.get("type") or ""), int(_dict(r.get("version")).get("number") or 0),
                str(_dict(r.get("container")).get("id") or ""), r.get("restrictions") if "restrictions" in r else None)
        out.complete = not more
    return out


def fetch_page(client: ConfluenceClient, page_id: str) -> dict[str, Any]:
    """The page (or blog post) with body, labels, ancestors and restrictions, plus
    ``_comments`` (all of them, nested ones too) and ``_versions`` (its history)."""
    page: dict[str, Any] = client.get(f"/rest/api/content/{page_id}", [("expand", PAGE_EXPAND)])
    page["_comments"] = [c for results, _ in client.results(
        f"/rest/api/content/{page_id}/child/comment",
        [("expand", COMMENT_EXPAND), ("depth", "all"), ("limit", str(PAGE_SIZE))]) for c in results]
    try:
        page["_versions"] = [v for results, _ in client.results(
            f"/rest/api/content/{page_id}/version", [("limit", str(PAGE_SIZE))]) for v in results]
    except urllib.error.HTTPError as e:
        if e.code not in (400, 404, 501):  # an older Data Center: the page's creator and last editor only
            raise
        page["_versions"] = []
    return page


def fetch_restrictions(client: ConfluenceClient, content_id: str) -> dict[str, Any]:
    """An ancestor's read restrictions (when the full listing did not show it)."""
    data = client.get(f"/rest/api/content/{content_id}", [("expand", RESTRICTIONS)])
    return data.get("restrictions") or {}


def space_info(client: ConfluenceClient, keys: list[str]) -> list[dict[str, Any]]:
    """The spaces (all global ones when ``keys`` is empty), with permissions where the API gives them."""
    if keys:
        return [client.get(f"/rest/api/space/{k}", [("expand", "permissions")]) for k in keys]
    return [s for results, _ in client.results("/rest/api/space", [("type", "global"), ("limit", str(PAGE_SIZE)),
                                                                    ("expand", "permissions")]) for s in results]
