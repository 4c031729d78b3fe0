"""MediaWiki wikitext → readable Markdown-ish text, with headings kept for the chunker.

Templates, references, galleries, comments and file/category links go; link labels, table
cells (one row a line, cells joined by `` | ``), list items and code stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import mwparserfromhell
from mwparserfromhell.nodes import (
    Argument,
    Comment,
    ExternalLink,
    Heading,
    HTMLEntity,
    Node,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode

DROPPED_TAGS = {"ref", "references", "gallery", "math", "imagemap", "timeline", "score",
                "templatedata", "graph", "mapframe", "maplink", "indicator", "categorytree"}
CODE_TAGS = {"pre", "source", "syntaxhighlight", "code", "nowiki"}
DROPPED_LINK_PREFIXES = {"file", "image", "media", "category"}
INLINE_TEMPLATE_CHARS = 80
_INTERLANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]+)?:", re.I)
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_SPACES = re.compile(r"(?<=\S)[ \t\xa0]{2,}")
_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


@dataclass
class WikiPage:
    text: str  # Markdown-ish: "## Heading" lines, "- " list items
    categories: list[str] = field(default_factory=list)


def wikitext_to_markdown(wikitext: str) -> WikiPage:
    page = WikiPage("")
    text = _render_all(mwparserfromhell.parse(wikitext).nodes, page)
    lines = [_SPACES.sub(" ", ln).rstrip() for ln in text.splitlines()]
    page.text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return page


def _render_all(nodes: list[Node], page: WikiPage) -> str:
    return "".join(_render(n, page) for n in nodes)


def _strip(code: Wikicode | None, page: WikiPage) -> str:
    return _render_all(code.nodes, page).strip() if code is not None else ""


def _render(node: Node, page: WikiPage) -> str:
    if isinstance(node, Text):
        return _MAGIC_WORD.sub("", str(node))
    if isinstance(node, Heading):
        title = " ".join(_strip(node.title, page).split())
        return f"\n{'#' * min(node.level, 6)} {title}\n" if title else "\n"
    if isinstance(node, Wikilink):
        return _link(node, page)
    if isinstance(node, ExternalLink):
        return _strip(node.title, page) if node.title else str(node.url)
    if isinstance(node, HTMLEntity):
        return node.normalize()
    if isinstance(node, Tag):
        return _tag(node, page)
    if isinstance(node, Template):
        return _template(node, page)
    if isinstance(node, Comment | Argument):
        return ""
    return str(node)


def _template(node: Template, page: WikiPage) -> str:
    """Templates are mostly boxes and navigation and go; an inline one with a single short
    unnamed argument (``{{KEY|Ctrl}}``, ``{{Button|...}}``) is formatting: keep the argument."""
    if len(node.params) == 1 and not node.params[0].showkey:
        value = _strip(node.params[0].value, page)
        if len(value) <= INLINE_TEMPLATE_CHARS:
            return value
    return ""


def _link(node: Wikilink, page: WikiPage) -> str:
    target = str(node.title).strip()
    prefix = target.split(":", 1)[0].strip().lower() if ":" in target else ""
    if prefix == "category":
        page.categories.append(target.split(":", 1)[1].strip().replace("_", " "))
        return ""
    if prefix in DROPPED_LINK_PREFIXES or _INTERLANGUAGE.match(target):
        return ""
    if node.text is not None:
        return _strip(node.text, page)
    return target.lstrip(":").split("#")[0] or target.split("#")[-1]


def _tag(node: Tag, page: WikiPage) -> str:
    name = str(node.tag).strip().lower()
    if name in DROPPED_TAGS:
        return ""
    if name == "table":
        return _table(node, page)
    if name == "li":
        return "- "
    if name in ("br", "hr"):
        return "\n"
    if name in ("dt", "dd"):
        return ""
    if name in CODE_TAGS:
        return str(node.contents) if node.contents is not None else ""
    if node.contents is None:
        return ""
    inner = _render_all(node.contents.nodes, page)
    return f"\n{inner}\n" if name in ("p", "div", "blockquote", "center") else inner


def _table(node: Tag, page: WikiPage) -> str:
    """One line per row, cells joined by " | ", so a row stays together in a chunk."""
    rows: list[list[str]] = [[]]  # cells before the first "|-" form the first row
    for child in node.contents.nodes if node.contents is not None else []:
        if not isinstance(child, Tag):
            continue
        name = str(child.tag).lower()
        if name == "tr":
            rows.append([_cell(c, page) for c in (child.contents.nodes if child.contents is not None else [])
                         if isinstance(c, Tag) and str(c.tag).lower() in ("td", "th")])
        elif name in ("td", "th"):
            rows[-1].append(_cell(child, page))
    lines = [" | ".join(cells) for cells in rows if any(cells)]
    return "\n" + "\n".join(lines) + "\n" if lines else "\n"


def _cell(cell: Tag, page: WikiPage) -> str:
    return " ".join(_strip(cell.contents, page).split())
