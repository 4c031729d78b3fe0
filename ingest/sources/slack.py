"""``slack``: a Slack workspace export (the zip, or the folder it unpacks to).

The export has ``users.json``, ``channels.json`` (public channels) and, where the plan
exports them, ``groups.json`` (private channels), ``mpims.json`` (group DMs) and ``dms.json``,
plus one folder per conversation with a JSON file per day. A thread (a message and its
replies, wherever the days put them) is one ``forum`` document; unthreaded messages in a
channel form ``chat`` documents, one per run without a pause longer than ``quiet_minutes``.
Each message is a section with its author, time and permalink anchor (``p<ts>``).

Options:

- ``workspace_url``: e.g. ``https://acme.slack.com``, for permalinks and profile links.
- ``quiet_minutes`` (30): a pause this long ends a run of unthreaded messages.
- ``max_run_messages`` (50): a run is cut into documents of at most this many messages.
- ``channel_groups``: ``{channel name or id = [groups]}``, who may see a channel's messages
  (overrides the default below, for public channels too).
- ``include_dms`` (false): also index group DMs and DMs, visible to their members only.

Private channels (and DMs) are visible to their members: ``user:<e-mail>`` entries (or
``user:<source>:<username>`` without an e-mail), which admit a viewer signed in under that
name, or the groups ``channel_groups`` gives; a private conversation without a member list
is visible to the admin group only. Roles in threads: ``asker`` (the first message),
``answerer`` (a reply by someone else), ``commenter`` (the asker's own replies),
``accepted-answerer`` (in addition, the reply of the person the asker thanks, else the reply
with the most reactions). In runs every message's author is an ``author``. ``score`` is the
message's reactions (its author's own not counted). Joins, leaves, topic changes, bot and
app messages, deleted messages (tombstones) are skipped; edited messages are read as edited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from index.models import EVERYONE, Contribution, Document, Failure, Person, Section, Unchanged, user_entry
from index.settings import Settings, SourceSettings

from .files_common import acl_for, replayed
from .slack_export import ExportFileError, SlackExport, looks_like_slack_export
from .slack_markup import mentioned_users, slack_to_text

__all__ = ["SlackSource", "looks_like_slack_export"]

WEIGHTS = {"asker": 1.0, "answerer": 1.0, "accepted-answerer": 1.0, "commenter": 0.2, "author": 1.0}
KEPT_SUBTYPES = {"", "thread_broadcast", "file_share", "me_message"}
THANKS = re.compile(r"\b(thanks|thank you|thank u|thx|tysm|ty|cheers|much appreciated|that worked|"
                    r"that did it|works now|solved it)\b", re.I)
THANKS_REACTIONS = {"white_check_mark", "heavy_check_mark", "pray", "thankyou", "raised_hands"}
CONVERSATIONS = (("channels.json", "public"), ("groups.json", "private"), ("mpims.json", "mpim"), ("dms.json", "dm"))
SLACKBOT = "USLACKBOT"


@dataclass
class Conversation:
    id: str
    name: str
    folder: str
    kind: str  # public | private | mpim | dm
    members: list[str] = field(default_factory=list)


@dataclass
class Message:
    ts: str
    at: datetime
    user: str
    text: str  # Slack markup as exported
    thread_ts: str
    day: str  # the day file it came from
    votes: int = 0
    thanked_by: set[str] = field(default_factory=set)  # users who left a thank-you reaction
    edited: datetime | None = None


class SlackSource:
    def __init__(self, cfg: SourceSettings, settings: Settings):
        self.cfg = cfg
        self.name = cfg.name
        self.root = settings.resolve(cfg.path)
        opts = cfg.options
        self.base = str(opts.get("workspace_url", "")).rstrip("/")
        self.gap = timedelta(minutes=float(opts.get("quiet_minutes", 30)))
        self.max_run = max(1, int(opts.get("max_run_messages", 50)))
        self.include_dms = bool(opts.get("include_dms", False))
        self.channel_groups = {str(k): list(v) for k, v in dict(opts.get("channel_groups", {})).items()}
        self.fallback = [settings.auth.admin_group]
        # incremental runs: {"files": fingerprint, "ids": [...], "failures": [[item, reason]], "by_file": {day: [ids]}}
        self.state: dict[str, Any] = {}
        self.people: dict[str, Person] = {}
        self.emails: dict[str, str] = {}
        self.bots: set[str] = set()
        self.channel_names: dict[str, str] = {}
        self._unknown: set[str] = set()
        self._days: dict[str, set[str]] = {}  # document id → the day files its messages came from

    def iter_documents(self) -> Iterator[Document | Unchanged | Failure]:
        with SlackExport(self.root, int(self.cfg.max_file_mb * 1024 * 1024)) as export:
            files = export.fingerprint()
            if (again := replayed(self.name, self.state, files)) is not None:
                yield from again
                return
            old_by_file: dict[str, list[str]] = dict(self.state.get("by_file") or {})
            ids: list[str] = []
            failures: list[list[str]] = []
            by_file: dict[str, list[str]] = {}
            for item in self._read(export):
                if isinstance(item, Document):
                    ids.append(item.id)
                    for day in sorted(self._days.pop(item.id, ())):
                        by_file.setdefault(day, []).append(item.id)
                else:
                    failures.append([item.item, item.reason])
                yield item
            # a day file that could not be read this time keeps the documents it gave last time
            produced = set(ids)
            for failed, _ in failures:
                for doc_id in old_by_file.get(failed, []):
                    if doc_id not in produced:
                        produced.add(doc_id)
                        ids.append(doc_id)
                        by_file.setdefault(failed, []).append(doc_id)
                        yield Unchanged(doc_id)
            self.state = {"files": files, "ids": ids, "failures": failures, "by_file": by_file}

    def _read(self, export: SlackExport) -> Iterator[Document | Failure]:
        for name in export.unsafe:
            yield Failure(self.name, name, "member path leaves the export (absolute or '..'); not read")
        self._users(export)
        conversations = self._conversations(export)
        days: dict[str, list[str]] = {}  # folder → its day files, in name (date) order
        for n in export.names:
            if n.count("/") == 1:
                days.setdefault(n.split("/", 1)[0], []).append(n)
        for folder in sorted(set(days) - {c.folder for c in conversations}):
            yield Failure(self.name, folder, "folder is in none of channels.json, groups.json, mpims.json, "
                          "dms.json: who may see it is unknown, so it was not read")
        for conv in conversations:
            if conv.kind in ("mpim", "dm") and not self.include_dms:
                continue
            messages: list[Message] = []
            for day in days.get(conv.folder, []):
                yield from self._read_day(export, day, messages)
            yield from self._documents(conv, messages)

    def _roster(self, export: SlackExport, name: str, required: bool) -> list[dict[str, Any]]:
        """A roster file's entries; one that exists but cannot be read fails the source (names,
        e-mails and who may see each channel depend on it), naming the file."""
        if not export.has(name):
            if required:
                raise ValueError(f"{self.root.name} has no {name}: not a Slack export")
            return []
        try:
            data = export.read_json(name)
        except ExportFileError as e:
            raise ValueError(f"{name} is unreadable ({e}); the source was left as it was") from None
        if not isinstance(data, list):
            raise ValueError(f"{name} is not a list; the source was left as it was")
        return [d for d in data if isinstance(d, dict) and isinstance(d.get("id"), str)]

    def _users(self, export: SlackExport) -> None:
        for u in self._roster(export, "users.json", required=True):
            uid, profile = u["id"], _dict(u.get("profile"))
            if u.get("is_bot") or u.get("is_app_user") or uid == SLACKBOT:
                self.bots.add(uid)
                continue
            username = str(u.get("name") or uid)
            name = str(profile.get("real_name") or u.get("real_name") or profile.get("display_name") or username)
            email = str(profile.get("email") or "").strip().lower()
            self.emails[uid] = email
            self.people[uid] = Person(name=name.strip() or username,
                                      handles=[f"{self.name}:{uid}", f"{self.name}:{username}"],
                                      emails=[email] if email else [],
                                      profile_url=f"{self.base}/team/{uid}" if self.base else "")

    def _conversations(self, export: SlackExport) -> list[Conversation]:
        out = []
        for file, kind in CONVERSATIONS:
            for c in self._roster(export, file, required=file == "channels.json"):
                name = str(c.get("name") or c["id"])
                folder = c["id"] if kind == "dm" else name
                members = [m for m in c.get("members") or [] if isinstance(m, str)]
                if kind == "dm":
                    name = "dm-" + "-".join(self._person(m, "").name for m in members)
                self.channel_names[c["id"]] = name
                out.append(Conversation(c["id"], name, folder, kind, members))
        return out

    def _read_day(self, export: SlackExport, day: str, into: list[Message]) -> Iterator[Failure]:
        try:
            data = export.read_json(day)
        except ExportFileError as e:
            yield Failure(self.name, day, str(e))
            return
        if not isinstance(data, list):
            yield Failure(self.name, day, "not a list of messages")
            return
        bad = 0
        for raw in data:
            try:
                msg = self._message(raw, day)
            except (KeyError, TypeError, ValueError, OverflowError):
                bad += 1
                continue
            if msg is None:
                continue
            if msg.user not in self.people and msg.user not in self._unknown:
                self._unknown.add(msg.user)
                yield Failure(self.name, f"users/{msg.user}",
                              f"unknown user id {msg.user} (first in {day}); named from the message's own profile")
                self.people[msg.user] = _profile_person(raw, msg.user, self.name)
            into.append(msg)
        if bad:
            entries = "entry" if bad == 1 else "entries"
            yield Failure(self.name, day, f"{bad} {entries} without a readable message and ts skipped")

    def _message(self, raw: Any, day: str) -> Message | None:
        """A message worth indexing, or None for joins, bots, deletions and empty ones."""
        if not isinstance(raw, dict):
            raise TypeError("not a message object")
        if raw.get("type", "message") != "message":
            return None
        user = str(raw.get("user") or "")
        if (str(raw.get("subtype") or "") not in KEPT_SUBTYPES or raw.get("hidden") or not user
                or user in self.bots or (raw.get("bot_id") and user not in self.people)):
            return None
        ts = str(raw["ts"])
        at = datetime.fromtimestamp(float(ts), UTC)
        text = str(raw.get("text") or "")
        files = [str(f.get("title") or f.get("name")) for f in raw.get("files") or []
                 if isinstance(f, dict) and (f.get("title") or f.get("name"))]
        text = "\n".join([text, *(f"[file: {f}]" for f in files)]).strip()
        if not text:
            return None
        msg = Message(ts, at, user, text, str(raw.get("thread_ts") or ""), day)
        for r in raw.get("reactions") or []:
            if isinstance(r, dict):
                users = [u for u in r.get("users") or [] if isinstance(u, str)]
                msg.votes += max(0, int(r.get("count") or len(users)) - (user in users))
                if r.get("name") in THANKS_REACTIONS:
                    msg.thanked_by.update(users)
        edited = raw.get("edited")
        if isinstance(edited, dict) and edited.get("ts"):
            msg.edited = datetime.fromtimestamp(float(edited["ts"]), UTC)
        return msg

    def _person(self, uid: str, fallback: str) -> Person:
        p = self.people.get(uid)
        if p is None:
            return Person(fallback or uid, [f"{self.name}:{uid}"])
        return replace(p, handles=list(p.handles), emails=list(p.emails))

    def _documents(self, conv: Conversation, messages: list[Message]) -> Iterator[Document]:
        unique = {m.ts: m for m in sorted(messages, key=lambda m: float(m.ts), reverse=True)}  # one copy per ts
        ordered = sorted(unique.values(), key=lambda m: float(m.ts))
        replied = {m.thread_ts for m in ordered if m.thread_ts and m.thread_ts != m.ts}
        threads: dict[str, list[Message]] = {}
        loose: list[Message] = []
        for m in ordered:
            if m.thread_ts and m.thread_ts != m.ts:
                threads.setdefault(m.thread_ts, []).append(m)
            elif m.ts in replied:
                threads.setdefault(m.ts, []).insert(0, m)
            else:
                loose.append(m)
        for tts, msgs in threads.items():
            yield self.document(conv, msgs, thread_ts=tts)
        run: list[Message] = []
        for m in loose:
            if run and (m.at - run[-1].at > self.gap or len(run) >= self.max_run):
                yield self.document(conv, run)
                run = []
            run.append(m)
        if run:
            yield self.document(conv, run)

    def document(self, conv: Conversation, msgs: list[Message], thread_ts: str = "") -> Document:
        asked = bool(thread_ts) and msgs[0].ts == thread_ts  # False: the parent was deleted
        asker = msgs[0].user if asked else ""
        credited = credited_reply(msgs, asker) if asked else None
        sections: list[Section] = []
        contributions: list[Contribution] = []
        for i, m in enumerate(msgs):
            author = self._person(m.user, "")
            text = slack_to_text(m.text, lambda u: self.people[u].name if u in self.people else None,
                                 self.channel_names.get)
            edited = " (edited)" if m.edited else ""
            sections.append(Section(text=text, heading=f"{author.name}, {m.at:%Y-%m-%d %H:%M}{edited}",
                                    anchor=_anchor(m.ts), author=author))
            if not thread_ts:
                role = "author"
            else:
                role = "asker" if asked and i == 0 else "commenter" if m.user == asker else "answerer"
            roles = [role, "accepted-answerer"] if i == credited else [role]
            contributions += [Contribution(author, r, WEIGHTS[r], m.at, i, m.votes) for r in roles]
        first = _first_line(sections[0].text)
        title = f"#{conv.name}: {first}" if thread_ts else f"#{conv.name}, {msgs[0].at:%Y-%m-%d %H:%M}: {first}"
        times = [t for m in msgs for t in (m.at, m.edited) if t]
        doc_id = f"{self.name}/{conv.id}/{thread_ts or msgs[0].ts}"
        self._days[doc_id] = {m.day for m in msgs}
        return Document(
            id=doc_id, source=self.name,
            kind="forum" if thread_ts else "chat", title=title, sections=sections,
            url=self.permalink(conv, msgs[0].ts, thread_ts), created_at=msgs[0].at, updated_at=max(times),
            visible_to=self.visible_to(conv, thread_ts or msgs[0].ts), tags=[conv.name] if conv.kind != "dm" else [],
            contributions=contributions,
        )

    def visible_to(self, conv: Conversation, ts: str) -> list[str]:
        declared = self.channel_groups.get(conv.name) or self.channel_groups.get(conv.id)
        if not declared and conv.kind != "public":
            declared = sorted({user_entry(self.emails.get(u) or f"{self.name}:{u}") for u in conv.members}) \
                or self.fallback
        return acl_for(f"{conv.name}/{ts}", self.cfg.acl, declared or [EVERYONE])

    def permalink(self, conv: Conversation, ts: str, thread_ts: str) -> str:
        path = f"archives/{conv.id}/{_anchor(ts)}"
        if self.cfg.url:
            return self.cfg.url.format(id=f"{conv.id}/{ts}", path=path)
        if not self.base:
            return ""
        query = f"?thread_ts={thread_ts}&cid={conv.id}" if thread_ts and thread_ts != ts else ""
        return f"{self.base}/{path}{query}"


def credited_reply(msgs: list[Message], asker: str) -> int | None:
    """The reply credited as the answer: the one by the person the asker thanks (in a reply,
    by mention or else the last helper before the thanks; or with a check-mark/thank-you
    reaction), else the reply by someone else with the most reactions."""
    for i, m in enumerate(msgs[1:], 1):
        if m.user != asker or not THANKS.search(m.text):
            continue
        earlier = [j for j in range(1, i) if msgs[j].user != asker]
        named = [u for u in mentioned_users(m.text) if u != asker]
        picked = [j for j in earlier if msgs[j].user == named[0]] if named else earlier[-1:]
        if picked:
            return max(picked, key=lambda j: (msgs[j].votes, j))
    marked = [j for j, m in enumerate(msgs[1:], 1) if m.user != asker and asker in m.thanked_by]
    if marked:
        return marked[0]
    helped = [j for j, m in enumerate(msgs[1:], 1) if m.user != asker and m.votes > 0]
    return max(helped, key=lambda j: (msgs[j].votes, -j)) if helped else None


def _profile_person(raw: dict[str, Any], uid: str, source: str) -> Person:
    profile = _dict(raw.get("user_profile"))
    name = str(profile.get("real_name") or profile.get("display_name") or profile.get("name") or uid)
    return Person(name=name, handles=[f"{source}:{uid}"])


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _anchor(ts: str) -> str:
    return "p" + ts.replace(".", "")


def _first_line(text: str, limit: int = 90) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip() and ln.strip() != "```"), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"

