"""``confluence``: pages and blog posts of Confluence spaces, read live through the REST API
(Cloud: ``https://<site>.atlassian.net/wiki``; Data Center: the server's base URL).

One ``wiki`` document per page or blog post: the storage-format body as Markdown (headings
kept), then one section per comment. Labels are tags. Contributors come from the version
history: the creator and whoever made at least a fifth of the versions are ``author``s, the
others ``editor``s, each weighted by their share of the versions; commenters ``commenter``s.

Who may see a page: the space's read permission (``space_groups``, else the permissions the
API gives, else the admin group only, reported), narrowed by the page's and its ancestors'
view restrictions (users as ``user:<e-mail or username or account id>``, groups through
``group_map``). Several restricted levels keep only the entries all of them name.

Runs are incremental: a run lists only content modified since the last one (CQL
``lastmodified``, with ``overlap_hours`` of margin since CQL dates have minute precision in
the account's time zone) and fetches only pages whose version changed or that have new
comments; once every ``sweep_days`` a run lists every page (with its restrictions) to drop
pages deleted or hidden upstream and to pick up restriction changes, which bump no version.

Options: ``spaces`` (keys; empty = every global space), ``token_env`` (the environment
variable with the API token or personal access token), ``username`` (Cloud: the account's
e-mail, for Basic auth; empty = the token is a Bearer PAT), ``space_groups``
(``{KEY = [groups]}``), ``group_map`` (``{confluence group = whoknows group}``, e.g.
``{"confluence-users" = "everyone"}``), ``sweep_days`` (1), ``overlap_hours`` (24),
``max_pages`` (10000 listing pages), and ``delay``, ``retries``, ``max_wait``, ``timeout`` as
for ``discourse``.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from index.models import EVERYONE, USER_PREFIX, Contribution, Document, Failure, Person, Section, Unchanged, user_entry
from index.settings import Settings, SourceSettings

from ..storage_markdown import storage_to_markdown
from .confluence_api import (
    RESTRICTIONS,
    ConfluenceClient,
    Listing,
    cql,
    fetch_page,
    fetch_restrictions,
    list_content,
    space_info,
)
from .discourse_api import parse_time
from .files_common import acl_for
from .http_json import client_options, secret_from_env

TYPES = ("page", "blogpost")
GONE = (403, 404, 410)  # deleted, or no longer visible to the account: the page leaves the index


class ConfluenceSource:
    def __init__(self, cfg: SourceSettings, settings: Settings):
        if not cfg.path.startswith(("http://", "https://")):
            raise ValueError(f"source {cfg.name!r}: path must be the Confluence base URL (https://...)")
        self.cfg = cfg
        self.name = cfg.name
        self.base = cfg.path.rstrip("/")
        opts = cfg.options
        self.spaces = [str(s) for s in opts.get("spaces", [])]
        self.space_groups = {str(k): list(v) for k, v in dict(opts.get("space_groups", {})).items()}
        self.group_map = {str(k): str(v) for k, v in dict(opts.get("group_map", {})).items()}
        self.sweep_every = timedelta(days=float(opts.get("sweep_days", 1)))
        self.overlap = timedelta(hours=float(opts.get("overlap_hours", 24)))
        self.max_pages = int(opts.get("max_pages", 10_000))
        self.fallback = [settings.auth.admin_group]
        # {"since", "swept_at", "pages": {id: {"v": version, "r": restriction entries, "a": ancestor ids,
        #  "s": space key}}, "comments": {id: version}, "retry": [ids]}
        self.state: dict[str, Any] = {}
        self.client: ConfluenceClient | None = None
        self._names: dict[str, str] = {}
        self._listed: dict[str, list[str]] = {}  # page id → restriction entries, from a full listing
        self._outside: dict[str, list[str]] = {}  # the same for ancestors read on their own

    def _client(self) -> ConfluenceClient:
        opts = client_options(self.cfg.options, self.name, secret_from_env(self.cfg.options, "token_env", self.name))
        opts.api_username = str(self.cfg.options.get("username", ""))
        return ConfluenceClient(self.base, opts)

    def iter_documents(self) -> Iterator[Document | Unchanged | Failure]:
        self.client = client = self.client or self._client()
        started = datetime.now(UTC)
        audiences: dict[str, list[str]] = {}
        for space in space_info(client, self.spaces):
            key = str(space.get("key") or "")
            found = self.space_audience(space)
            if found is None:
                yield Failure(self.name, f"space/{key}", "who may read this space is unknown (the API shows this "
                              "account no space permissions): visible to the admin group only until "
                              "options.space_groups names its groups")
            audiences[key] = found or self.fallback
        known: dict[str, dict[str, Any]] = dict(self.state.get("pages") or {})
        comments: dict[str, int] = dict(self.state.get("comments") or {})
        since, swept = parse_time(self.state.get("since")), parse_time(self.state.get("swept_at"))
        full = not known or since is None or swept is None or started - swept >= self.sweep_every
        spaces = sorted(audiences)
        self._outside = {} if full else dict(self.state.get("outside") or {})
        if full:
            listing = list_content(client, cql(spaces, TYPES), f"version,{RESTRICTIONS}", self.max_pages)
            self._listed = {i: self.restriction_entries(s.restrictions) for i, s in listing.items.items()}
            changed, gone = self._full_changes(listing, known)
            if since is not None:  # comments bump no page version: list them as an incremental run does
                recent = list_content(client, cql(spaces, ("comment",), since - self.overlap), "version,container",
                                      self.max_pages)
                changed |= self._changes(recent, known, comments) - gone
        else:
            assert since is not None
            listing = list_content(client, cql(spaces, (*TYPES, "comment"), since - self.overlap),
                                   "version,container", self.max_pages)
            changed, gone = self._changes(listing, known, comments), set()
        changed |= set(self.state.get("retry") or [])
        for pid in gone:
            known.pop(pid, None)
        retry: list[str] = []
        fetched: set[str] = set()
        for pid in sorted(changed - gone):
            item = self._fetch(pid, known, audiences, comments)
            if isinstance(item, Failure):
                retry.append(pid)
                yield item
                if pid in known:  # kept as it was until it can be read again
                    fetched.add(pid)
                    yield Unchanged(f"{self.name}/{pid}")
                continue
            fetched.add(pid)
            if item is not None:
                yield item
        for pid in sorted(set(known) - fetched):
            yield Unchanged(f"{self.name}/{pid}")
        self.state = {"since": started.isoformat(), "pages": known, "comments": comments, "retry": retry,
                      "outside": self._outside,
                      "swept_at": (started if full and listing.complete else swept or started).isoformat()}

    def _full_changes(self, listing: Listing, known: dict[str, dict[str, Any]]) -> tuple[set[str], set[str]]:
        """Pages new, edited or with other restrictions, their descendants, and pages gone
        (only when the listing ran to its end: an incomplete one proves nothing)."""
        pages = {i: s for i, s in listing.items.items() if s.type in TYPES}
        changed = {i for i, s in pages.items() if i not in known or known[i]["v"] != s.version}
        moved = {i for i in pages if i in known and known[i]["r"] != self._listed[i]}
        changed |= moved | {i for i, k in known.items() if i in pages and set(k["a"]) & moved}
        gone = set(known) - set(pages) if listing.complete else set()
        return changed, gone

    def _changes(self, listing: Listing, known: dict[str, dict[str, Any]], comments: dict[str, int]) -> set[str]:
        """Pages whose version moved since the last run, and pages with new or edited comments."""
        changed = set()
        for i, s in listing.items.items():
            if s.type in TYPES and (i not in known or known[i]["v"] != s.version):
                changed.add(i)
            elif s.type == "comment" and s.container and comments.get(i) != s.version:
                changed.add(s.container)
        return changed

    def _fetch(self, pid: str, known: dict[str, dict[str, Any]], audiences: dict[str, list[str]],
               comments: dict[str, int]) -> Document | Failure | None:
        assert self.client is not None
        try:
            page = fetch_page(self.client, pid)
        except urllib.error.HTTPError as e:
            if e.code in GONE:
                known.pop(pid, None)
                return None
            return Failure(self.name, pid, f"HTTP {e.code} fetching the page; kept as it was, tried again next run")
        space = str((page.get("space") or {}).get("key") or "")
        if space not in audiences or page.get("status", "current") != "current" or page.get("type") not in TYPES:
            known.pop(pid, None)  # moved to a space not read, trashed, or not a page
            return None
        own = self.restriction_entries(page.get("restrictions"))
        ancestors = [str(a.get("id")) for a in page.get("ancestors") or [] if isinstance(a, dict)]
        levels = [self._ancestor_entries(a, known) for a in ancestors] + [own]
        version = int((page.get("version") or {}).get("number") or 0)
        known[pid] = {"v": version, "r": own, "a": ancestors, "s": space}
        for c in page["_comments"]:
            comments[str(c.get("id"))] = int((c.get("version") or {}).get("number") or 0)
        return self.document(page, self.visible_to(space, audiences[space], levels, pid))

    def _ancestor_entries(self, aid: str, known: dict[str, dict[str, Any]]) -> list[str]:
        """An ancestor's restriction entries: from this run's full listing, the last run's
        pages, or (an ancestor not read as a page, e.g. a new one) one request, kept until the
        next full listing."""
        if aid in self._listed:
            return self._listed[aid]
        if aid in known:
            return list(known[aid]["r"])
        if aid not in self._outside:
            assert self.client is not None
            self._outside[aid] = self.restriction_entries(fetch_restrictions(self.client, aid))
        return self._outside[aid]

    # ---- mapping -----------------------------------------------------------------------

    def space_audience(self, space: dict[str, Any]) -> list[str] | None:
        """The whoknows audience of a space: configured, else from its read permissions."""
        key = str(space.get("key") or "")
        if key in self.space_groups:
            return self.space_groups[key]
        entries: set[str] = set()
        for p in space.get("permissions") or []:
            op = p.get("operation") or {}
            if op.get("operation") != "read" or op.get("targetType") != "space":
                continue
            if p.get("anonymousAccess"):
                entries.add(EVERYONE)
            subjects = p.get("subjects") or {}
            entries |= {self.group_map.get(g["name"], g["name"])
                        for g in (subjects.get("group") or {}).get("results") or [] if g.get("name")}
            entries |= {user_entry(k) for u in (subjects.get("user") or {}).get("results") or [] if (k := _user_key(u))}
        return sorted(entries) or None

    def restriction_entries(self, restrictions: Any) -> list[str]:
        """Entries named by content's read restrictions; [] when it has none."""
        read = (restrictions or {}).get("read") or {}
        lists = read.get("restrictions") or {}
        groups = {self.group_map.get(g["name"], g["name"])
                  for g in (lists.get("group") or {}).get("results") or [] if g.get("name")}
        users = {user_entry(k) for u in (lists.get("user") or {}).get("results") or [] if (k := _user_key(u))}
        return sorted(groups | users)

    def visible_to(self, space: str, audience: list[str], levels: list[list[str]], pid: str) -> list[str]:
        restricted = [set(level) for level in levels if level]
        declared = audience
        if restricted:
            common = set.intersection(*restricted)
            if EVERYONE not in audience:  # a named user passes; a group only if it may read the space
                common = {e for e in common if e.startswith(USER_PREFIX) or e in audience}
            declared = sorted(common) or self.fallback
        return acl_for(f"{space}/{pid}", self.cfg.acl, declared)

    def person(self, user: Any) -> Person | None:
        if not isinstance(user, dict) or user.get("type") == "anonymous" or user.get("accountType") == "app":
            return None
        key = str(user.get("accountId") or user.get("username") or user.get("userKey") or "")
        if not key:
            return None
        name = str(user.get("displayName") or user.get("publicName") or user.get("username") or key)
        self._names[key] = name
        email = str(user.get("email") or "").strip().lower()
        profile = (f"{self.base}/people/{user['accountId']}" if user.get("accountId")
                   else f"{self.base}/display/~{user['username']}" if user.get("username") else "")
        return Person(name=name, handles=[f"{self.name}:{key}"], emails=[email] if email else [], profile_url=profile)

    def document(self, page: dict[str, Any], visible_to: list[str]) -> Document:
        history = page.get("history") or {}
        version = page.get("version") or {}
        contributions = self._editors(page, history, version)
        body = storage_to_markdown(str(((page.get("body") or {}).get("storage") or {}).get("value") or ""),
                                   self._names.get)
        sections = [Section(text=body)]
        for c in page["_comments"]:
            author = self.person((c.get("history") or {}).get("createdBy"))
            text = storage_to_markdown(str(((c.get("body") or {}).get("storage") or {}).get("value") or ""),
                                       self._names.get)
            if not text:
                continue
            sections.append(Section(text=text, heading=f"Comment by {author.name}" if author else "Comment",
                                    anchor=f"comment-{c.get('id')}", author=author))
            if author is not None:
                contributions.append(Contribution(author, "commenter", 0.2, parse_time(
                    (c.get("history") or {}).get("createdDate")), len(sections) - 1))
        labels = ((page.get("metadata") or {}).get("labels") or {}).get("results") or []
        webui = str((page.get("_links") or {}).get("webui") or "")
        pid = str(page.get("id"))
        space = str((page.get("space") or {}).get("key") or "")
        url = (self.cfg.url.format(id=pid, path=f"{space}/{pid}") if self.cfg.url
               else self.base + webui if webui.startswith("/") else "")
        return Document(
            id=f"{self.name}/{pid}", source=self.name, kind="wiki", title=str(page.get("title") or f"Page {pid}"),
            sections=sections, url=url, created_at=parse_time(history.get("createdDate")),
            updated_at=parse_time(version.get("when")), visible_to=visible_to,
            tags=[str(label["name"]) for label in labels if isinstance(label, dict) and label.get("name")],
            contributions=contributions, markdown=True,
        )

    def _editors(self, page: dict[str, Any], history: dict[str, Any], version: dict[str, Any]) -> list[Contribution]:
        """Authors and editors from the version history (minor edits count a quarter); without
        one, the creator and the last editor."""
        versions = [(v.get("by"), parse_time(v.get("when")), 0.25 if v.get("minorEdit") else 1.0)
                    for v in page["_versions"] if isinstance(v, dict)]
        if not versions:
            versions = [(history.get("createdBy"), parse_time(history.get("createdDate")), 1.0),
                        (version.get("by"), parse_time(version.get("when")), 1.0)]
        creator = self.person(history.get("createdBy"))
        people: dict[str, tuple[Person, float, datetime | None]] = {}
        for by, at, weight in versions:
            p = self.person(by)
            if p is None:
                continue
            _, total, last = people.get(p.handles[0], (p, 0.0, None))
            people[p.handles[0]] = (p, total + weight, max(t for t in (last, at) if t) if (last or at) else None)
        if creator is not None and creator.handles[0] not in people:
            people[creator.handles[0]] = (creator, 0.0, parse_time(history.get("createdDate")))
        total = sum(w for _, w, _ in people.values()) or 1.0
        out = []
        for handle, (p, w, at) in people.items():
            share = w / total
            is_author = share >= 0.2 or (creator is not None and handle == creator.handles[0])
            out.append(Contribution(p, "author" if is_author else "editor", round(max(share, 0.05), 3), at))
        return out


def _user_key(user: Any) -> str:
    """How a person is named in ``user:`` entries: e-mail, else username (Data Center), else account id."""
    if not isinstance(user, dict):
        return ""
    return str(user.get("email") or user.get("username") or user.get("accountId") or "").strip()
