"""A document as the document page shows it: its text in passages, the passages that match a
query marked, and who contributed what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from markupsafe import Markup

from index.embedding import Embedder
from index.generations import IndexReader
from index.models import Contribution

from .permissions import LOCAL, Viewer
from .snippets import highlight, query_terms

MARK_WITHIN = 0.05  # passages this close (cosine) to the best one are marked too
MAX_MARKED = 3
SPLIT_MARKS = frozenset(".?!;,")


@dataclass
class Passage:
    chunk_id: int
    heading: str  # shown when it differs from the previous passage's
    anchor: str
    text: str  # without the overlap it shares with the previous passage
    html: Markup  # ``text`` escaped, query terms in <mark>
    matched: bool = False


@dataclass
class Contributor:
    id: str
    name: str
    roles: list[str]
    count: int
    last: datetime | None


@dataclass
class DocumentView:
    doc_id: str
    title: str
    url: str
    source: str
    kind: str
    tags: list[str]
    updated_at: datetime | None
    passages: list[Passage] = field(default_factory=list)
    contributors: list[Contributor] = field(default_factory=list)

    @property
    def matched(self) -> list[Passage]:
        return [p for p in self.passages if p.matched]


def document_view(reader: IndexReader, embedder: Embedder, doc_id: str, query: str = "",
                  viewer: Viewer = LOCAL) -> DocumentView | None:
    """The document ``doc_id`` with the passages closest to ``query`` marked; None when it
    does not exist or ``viewer`` may not see it (the same answer, so nothing is revealed)."""
    doc = reader.store.document(doc_id)
    if doc is None or not viewer.can_see(doc.visible_to):
        return None
    view = DocumentView(doc.id, doc.title, doc.url, doc.source, doc.kind, doc.tags, doc.updated_at)
    ids = reader.store.chunk_ids_of([doc_id])[doc_id]
    chunks = reader.store.chunks_by_ids(ids)
    previous = None
    for cid in ids:
        ch = chunks[cid]
        text = ch.text if previous is None or previous.section != ch.section else _drop_overlap(previous.text, ch.text)
        heading = ch.heading if previous is None or previous.heading != ch.heading else ""
        if view.passages and text[:1] in SPLIT_MARKS and not heading:  # the splitter keeps ". " at the start
            last = view.passages[-1]
            last.text += text[0]
            last.html = highlight(last.text, query)
            text = text[1:].lstrip()
        view.passages.append(Passage(cid, heading, ch.anchor, text, highlight(text, query)))
        previous = ch
    if query.strip() and ids:
        _mark(view.passages, reader, embedder, ids, query)
    view.contributors = _contributors(doc.contributions)
    return view


def _mark(passages: list[Passage], reader: IndexReader, embedder: Embedder, ids: list[int], query: str) -> None:
    """Mark the passages most similar to ``query``: the best and those within ``MARK_WITHIN``
    of it that also contain a query term."""
    qv = embedder.encode([query])[0]
    sims = reader.vectors.scores(ids, qv)
    best = float(sims.max())
    terms = query_terms(query)
    order = np.argsort(-sims)[:MAX_MARKED]
    for rank, i in enumerate(order):
        p = passages[int(i)]
        close = best - float(sims[i]) <= MARK_WITHIN and any(t in p.text.lower() for t in terms)
        p.matched = rank == 0 or close


def _drop_overlap(previous: str, text: str, longest: int = 600) -> str:
    """``text`` without the start it repeats from the end of ``previous`` (chunk overlap)."""
    for k in range(min(len(previous), len(text), longest), 20, -1):
        if previous.endswith(text[:k]):
            return text[k:].lstrip()
    return text


def _contributors(contributions: list[Contribution]) -> list[Contributor]:
    """People by how much they contributed, with their roles and last contribution."""
    out: dict[str, Contributor] = {}
    weight: dict[str, float] = {}
    for c in contributions:
        pid = c.person.id or c.person.name
        entry = out.setdefault(pid, Contributor(c.person.id, c.person.name, [], 0, None))
        entry.count += 1
        weight[pid] = weight.get(pid, 0.0) + c.weight
        if c.role not in entry.roles:
            entry.roles.append(c.role)
        if c.at is not None and (entry.last is None or c.at > entry.last):
            entry.last = c.at
    return sorted(out.values(), key=lambda e: -weight[e.id or e.name])
