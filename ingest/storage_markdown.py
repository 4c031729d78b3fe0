"""Confluence storage format (XHTML with ``ac:``/``ri:`` elements) → Markdown text.

Headings stay Markdown headings (``## Setup``) so chunks carry their heading path; code and
noformat macros become fenced blocks; info/note/warning/tip panels keep their text behind a
label; links to pages, attachments and people read as the page title, file name or person;
images become ``[image: file]``; task lists ``- [ ]``/``- [x]``; tables one row a line.
Macro parameters and body-less macros (table of contents, children) are dropped.

Parsed like post HTML (``html_text``) by libxml2's HTML parser as a stream of events, in time
linear in the input. That parser reads CDATA as a comment, so CDATA sections (code macro
bodies) are turned into escaped text first, by a linear scan.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping

from lxml import etree

from .html_text import _tidy

_BLOCK = {
    "p", "div", "section", "blockquote", "table", "ul", "ol", "dl", "dt", "dd", "hr", "figure",
    "ac:layout", "ac:layout-section", "ac:layout-cell", "ac:rich-text-body", "ac:task-list",
}
_DROP = {"script", "style", "template", "noscript", "iframe", "object", "svg", "head", "title",
         "ac:parameter", "ac:task-id", "ac:task-status", "ac:emoticon", "ac:placeholder"}
_CODE_MACROS = {"code", "noformat"}
_PANELS = {"info": "Info", "note": "Note", "warning": "Warning", "tip": "Tip", "panel": ""}
_TARGETS = {"ri:page": "ri:content-title", "ri:blog-post": "ri:content-title", "ri:attachment": "ri:filename",
            "ri:space": "ri:space-key", "ri:url": "ri:value"}


def uncdata(text: str) -> str:
    """CDATA sections replaced by their escaped content, in one pass over the text."""
    out: list[str] = []
    pos = 0
    while (start := text.find("<![CDATA[", pos)) >= 0:
        end = text.find("]]>", start + 9)
        end = len(text) if end < 0 else end
        out += [text[pos:start], html.escape(text[start + 9:end], quote=False)]
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


class _StorageParser:
    """The parser's target: Markdown parts from start, end and data events."""

    def __init__(self, user_name: Callable[[str], str | None]) -> None:
        self.user_name = user_name
        self.parts: list[str] = []
        self.drop_depth = 0
        self.in_status = False
        self.code_depth = 0
        self.macros: list[str] = []
        self.links: list[list[str]] = []  # per open ac:link: [target text, "body" if it has a body]

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        if tag in _DROP:
            self.drop_depth += 1  # libxml2 closes every element it opens
            self.in_status = tag == "ac:task-status"
            return
        if self.drop_depth:
            return
        if tag == "ac:structured-macro":
            name = attrib.get("ac:name", "")
            self.macros.append(name)
            if name in _CODE_MACROS:
                self.code_depth += 1
                self.parts.append("\n\n```\n")
            elif _PANELS.get(name):
                self.parts.append(f"\n\n{_PANELS[name]}: ")
            return
        if tag == "pre":
            self.code_depth += 1
            self.parts.append("\n\n```\n")
        elif len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "ac:task":
            self.parts.append("\n- [ ] ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag == "tr":
            self.parts.append("\n")
        elif tag == "ac:link":
            self.links.append(["", ""])
        elif tag in ("ac:link-body", "ac:plain-text-link-body") and self.links:
            self.links[-1][1] = "body"
        elif tag in _TARGETS and self.links:
            self.links[-1][0] = attrib.get(_TARGETS[tag], "")
        elif tag == "ri:user":
            who = attrib.get("ri:account-id") or attrib.get("ri:username") or attrib.get("ri:userkey") or ""
            mention = "@" + (self.user_name(who) or "user")
            if self.links:
                self.links[-1][0] = mention
            else:
                self.parts.append(mention)
        elif tag == "ac:image":
            self.parts.append("[image")
        elif tag == "ri:attachment" and self.parts and self.parts[-1] == "[image":
            self.parts[-1] = f"[image: {attrib.get('ri:filename', '')}]"
        elif tag == "time" and attrib.get("datetime"):
            self.parts.append(attrib["datetime"])
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def end(self, tag: str) -> None:
        if tag in _DROP:
            self.drop_depth = max(0, self.drop_depth - 1)
            self.in_status = False
            return
        if self.drop_depth:
            return
        if tag == "ac:structured-macro":
            name = self.macros.pop() if self.macros else ""
            if name in _CODE_MACROS and self.code_depth:
                self.code_depth -= 1
                self.parts.append("\n```\n\n")
            return
        if tag == "pre" and self.code_depth:
            self.code_depth -= 1
            self.parts.append("\n```\n\n")
        elif tag == "ac:link" and self.links:
            target, body = self.links.pop()
            if not body:
                self.parts.append(target)
        elif tag == "ac:image" and self.parts and self.parts[-1] == "[image":
            self.parts[-1] = "[image]"
        elif tag in _BLOCK or (len(tag) == 2 and tag[0] == "h" and tag[1] in "123456"):
            self.parts.append("\n\n")

    def data(self, data: str) -> None:
        if self.in_status and data.strip() == "complete" and "\n- [ ] " in self.parts[-3:]:
            i = len(self.parts) - 1 - self.parts[::-1].index("\n- [ ] ")
            self.parts[i] = "\n- [x] "
        if self.drop_depth:
            return
        self.parts.append(data if self.code_depth else re.sub(r"\s+", " ", data))

    def comment(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def storage_to_markdown(storage: str, user_name: Callable[[str], str | None] = lambda _: None) -> str:
    """Markdown of a storage-format body; ``user_name`` names a user id mentioned in it."""
    if not storage or not storage.strip():
        return ""
    target = _StorageParser(user_name)
    parser = etree.HTMLParser(target=target, recover=True, no_network=True)
    try:
        parser.feed(uncdata(storage))
        parser.close()
    except etree.Error:  # libxml2 gave up part way: keep what it read
        pass
    return _tidy("".join(target.parts).replace("\xa0", " "))
