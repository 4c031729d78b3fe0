"""What feedback tells a knowledge manager: the most down-voted documents and answers
(candidates for going stale) and the queries whose results people open but never vote up."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from index.feedback import FeedbackLog, QueryOpens
from index.generations import LiveIndex

from .permissions import LOCAL, Viewer


@dataclass
class DownVoted:
    kind: str  # result | answer
    doc_id: str
    title: str  # "" when the document is no longer in the index
    up: int
    down: int
    queries: int


@dataclass
class FeedbackReport:
    down_voted: list[DownVoted] = field(default_factory=list)
    opened_not_helped: list[QueryOpens] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.down_voted and not self.opened_not_helped

    def to_json(self) -> dict[str, Any]:
        return {"down_voted": [asdict(d) for d in self.down_voted],
                "opened_without_up_votes": [asdict(q) for q in self.opened_not_helped]}


def feedback_report(log: FeedbackLog, index: LiveIndex, viewer: Viewer = LOCAL, limit: int = 20) -> FeedbackReport:
    """The report, with titles of the documents ``viewer`` may see (only those)."""
    reader = index.get()
    docs, store = reader.docs(), reader.store
    out = FeedbackReport(opened_not_helped=log.opened_without_up_votes(limit))
    for t in log.most_down_voted(limit=limit):
        facts = docs.audience_and_source(t.item_id)
        if facts is not None and not viewer.can_see(facts[0]):
            continue  # not even its id: the report is no way around the permissions
        doc = store.document(t.item_id) if facts is not None else None
        out.down_voted.append(DownVoted(t.kind, t.item_id, doc.title if doc else "", t.up, t.down, t.queries))
    return out
