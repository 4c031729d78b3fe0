"""Post HTML (Stack Exchange bodies, Discourse ``cooked``) → readable plain text.

Paragraphs stay separated by a blank line, list items get a dash, ``<pre>`` blocks keep their
whitespace inside a fenced block, ``<script>``/``<style>`` and their content are dropped.
Uses the standard library's tolerant HTMLParser: broken markup never raises.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {
    "p", "div", "section", "article", "header", "footer", "aside", "blockquote", "table", "tr",
    "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "figure", "details",
    "summary",
}
_DROP = {"script", "style", "template", "noscript", "iframe", "object", "svg", "head", "title"}
_VOID = {"br", "img", "hr", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.drop_depth = 0
        self.pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            if tag not in _VOID:
                self.drop_depth += 1
            return
        if self.drop_depth:
            return
        if tag == "pre":
            self.pre_depth += 1
            self.parts.append("\n\n```\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag == "img":
            alt = dict(attrs).get("alt") or ""
            if alt.strip():
                self.parts.append(f"[image: {alt.strip()}]")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self.drop_depth = max(0, self.drop_depth - 1)
            return
        if self.drop_depth:
            return
        if tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
            self.parts.append("\n```\n\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.drop_depth:
            return
        if self.pre_depth:
            self.parts.append(data)
        else:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text of an HTML fragment; empty string for empty or script-only input."""
    if not html or not html.strip():
        return ""
    end = html.rfind("-->")
    unclosed = html.find("<!--", end + 3 if end >= 0 else 0)
    if unclosed >= 0:  # hidden to its end, as browsers do; html.parser took minutes on many of them
        html = html[:unclosed]
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    out: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if line.strip() == "```":
            while in_fence and out and not out[-1].strip():
                out.pop()  # trailing blank lines of a code block
            in_fence = not in_fence
            out.append("```")
            continue
        out.append(line.rstrip() if in_fence else " ".join(line.split()))
    text = "\n".join(out)
    text = re.sub(r"```\n*```", "", text)  # an empty <pre>
    return re.sub(r"\n{3,}", "\n\n", text).strip()
