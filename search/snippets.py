"""Snippets: the window of a passage that best matches the query, with terms highlighted.

Highlighting returns HTML built only from escaped text and ``<mark>`` tags, so a document's
content can never inject markup.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from html import escape

from markupsafe import Markup

_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be by do does for from has have how i in is it its of on or that the "
    "this to was what when where which who why will with you your can we our".split()
)


def query_terms(query: str) -> list[str]:
    terms = [t.lower() for t in _WORD.findall(query[:1000])]
    keep = [t for t in terms if t not in STOPWORDS and len(t) > 1]
    return list(dict.fromkeys(keep or terms))[:32]


def _stem_prefix(term: str) -> str:
    # crude stemming so "expenses" marks "expense" and vice versa
    return term[:-1] if len(term) > 4 and term.endswith("s") else term


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"(\*\*|__|`+|^#+\s|<[^>]{1,80}>)", re.M)


def plain_text(text: str) -> str:
    """Passage text as a reader sees it: Markdown links by their text, no emphasis marks."""
    return _MD_MARKS.sub("", _MD_LINK.sub(r"\1", text))


def _joined(first: str, then: str) -> str:
    """Two consecutive passages as one text, without the overlap chunking repeats between them."""
    for k in range(min(len(first), len(then), 400), 7, -1):  # 8+ characters: not a chance match
        if first.endswith(then[:k]):
            return first + then[k:]
    return f"{first} {then}"


def make_snippet(text: str, query: str, size: int = 240, around: tuple[str, str] = ("", "")) -> str:
    """The ``size``-character window of ``text`` with the most query-term hits. A ``text``
    shorter than ``size`` reads on into the passage after it, or, when it is the last, ends a
    window that begins in the passage before it (``around``: their texts), so a one-line
    section is shown in context rather than alone."""
    text = " ".join(plain_text(text).split())
    before, after = (" ".join(plain_text(t).split()) for t in around)
    if len(text) < size and after:
        joined = _joined(text, after)
        if len(joined) <= size:
            return joined
        end = joined.rfind(" ", len(text), size)
        return joined[: end if end > len(text) else size] + " …"
    if len(text) < size and before:
        joined = _joined(before, text)
        if len(joined) <= size:
            return joined
        start = joined.find(" ", len(joined) - size, len(joined) - len(text))
        return "… " + joined[start + 1 if start >= 0 else len(joined) - size :]
    if len(text) <= size:
        return text
    terms = [_stem_prefix(t) for t in query_terms(query)]
    lower = text.lower()
    positions = sorted(m.start() for t in terms for m in re.finditer(re.escape(t), lower))
    best, best_hits = 0, 0
    for p in positions:  # the hits in each window by bisection: a long passage has hundreds
        start = max(0, p - size // 4)
        hits = bisect_left(positions, start + size) - bisect_left(positions, start)
        if hits > best_hits:
            best, best_hits = start, hits
    start = min(best, len(text) - size)  # a match near the end: the window ends with the text, still full
    if start > 0:  # begin at a word boundary
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + size // 2 else end
    return ("… " if start > 0 else "") + text[start:end] + (" …" if end < len(text) else "")


def highlight(text: str, query: str) -> Markup:
    """``text`` escaped, with query terms wrapped in <mark>."""
    terms = [_stem_prefix(t) for t in query_terms(query)]
    if not terms:
        return Markup(escape(text))
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\w*",
        re.IGNORECASE,
    )
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last : m.start()]))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("".join(out))
