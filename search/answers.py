"""Answers with citations: extractive by default, "asked before" for forums, an optional LLM.

The extractive answer picks the sentences of the best passages that are closest to the
question (embedding similarity plus query-term overlap); forum questions are never quoted
(they lead to their thread through "asked before" instead). Its confidence combines the best
sentence's and the best passage's similarity; below ``min_confidence`` whoknows says it has
no confident answer and names who to ask instead. ``whoknows eval answers`` measures both
sides and sweeps the threshold (search/evaluation/answers.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import numpy as np

from index import sentences
from index.gaps import NO_ANSWER, GapLog
from index.generations import IndexReader
from index.rows import ChunkHit
from index.sentences import split_sentences
from index.settings import AnswerSettings

from .asking import AskRouter, AskSuggestion, ask_links, mailto_all
from .experts import Expert
from .llm import ChatClient, LlmError, PromptPassage, build_messages, check_citations
from .permissions import LOCAL, Viewer
from .searcher import MAX_QUERY_CHARS, Searcher
from .sentence_evidence import stored_codes
from .snippets import _stem_prefix, plain_text, query_terms


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    url: str
    quote: str
    author: str = ""
    at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "doc_id": self.doc_id, "title": self.title, "url": self.url,
                "quote": self.quote, "author": self.author,
                "at": self.at.isoformat() if self.at else None}


@dataclass
class AskedBefore:
    doc_id: str
    title: str
    url: str
    answer: str
    author: str
    at: datetime | None
    accepted: bool
    similarity: float

    def to_json(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "title": self.title, "url": self.url, "answer": self.answer,
                "author": self.author, "at": self.at.isoformat() if self.at else None,
                "accepted": self.accepted, "similarity": round(self.similarity, 4)}


@dataclass
class Answer:
    question: str
    answer: str = ""
    confident: bool = False
    confidence: float = 0.0
    citations: list[Citation] = field(default_factory=list)
    asked_before: AskedBefore | None = None
    experts: list[Expert] = field(default_factory=list)
    ask: list[AskSuggestion] = field(default_factory=list)  # whom to ask: the experts, fairly routed
    ask_link: str = ""
    generated: bool = False
    took_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "confident": self.confident,
                "confidence": round(self.confidence, 4), "generated": self.generated,
                "citations": [c.to_json() for c in self.citations],
                "asked_before": self.asked_before.to_json() if self.asked_before else None,
                "experts": [e.to_json() for e in self.experts], "ask": [a.to_json() for a in self.ask],
                "ask_link": self.ask_link,
                "took_ms": round(self.took_ms, 2)}


def keyword_overlap(question: str, sentence: str) -> float:
    terms = [_stem_prefix(t) for t in query_terms(question)]
    if not terms:
        return 0.0
    low = sentence.lower()
    return sum(1 for t in terms if t in low) / len(terms)


class Answerer:
    def __init__(self, searcher: Searcher, settings: AnswerSettings, gaps: GapLog | None = None,
                 llm: ChatClient | None = None, router: AskRouter | None = None):
        self.searcher = searcher
        self.router = router
        self.settings = settings
        self.gaps = gaps
        self.llm = llm

    def ask(self, question: str, viewer: Viewer = LOCAL) -> Answer:
        """The extractive (or, when configured and valid, generated) answer, from what
        ``viewer`` may see."""
        t0 = time.perf_counter()
        ans, passages = self._extract(question, viewer)
        if self.llm and passages and ans.asked_before is None:
            try:
                text = self.llm.complete(build_messages(ans.question, _prompt(passages)))
                self._use_generated(ans, text, passages)
            except LlmError:
                pass  # keep the extractive answer
        self._finish(ans, viewer)
        ans.took_ms = (time.perf_counter() - t0) * 1000
        return ans

    def ask_stream(self, question: str, viewer: Viewer = LOCAL) -> Iterator[tuple[str, Any]]:
        """Events for a streaming page: ("token", text)… then ("answer", Answer)."""
        ans, passages = self._extract(question, viewer)
        if self.llm and passages and ans.asked_before is None:
            text = ""
            try:
                for delta in self.llm.stream(build_messages(ans.question, _prompt(passages))):
                    text += delta
                    yield "token", delta
                self._use_generated(ans, text, passages)
            except LlmError:
                pass
        self._finish(ans, viewer)
        yield "answer", ans

    def _sentence_similarities(self, reader: IndexReader, question: str, passages: list[tuple[ChunkHit, float]],
                               sents: list[tuple[int, str]]) -> np.ndarray:
        """Each sentence's cosine with the question: from the sentence vectors kept at indexing
        (``[search] sentence_weight`` on; a chunk's rows are its sentences in this order) when
        every passage has them, else encoded now (~30 sentences: most of an answer's time)."""
        qvec = self.searcher.query_vector(question)
        dim = len(qvec)
        counts = Counter(i for i, _ in sents)  # passage -> its sentences, in passage order
        ids = [passages[i][0].id for i in counts]
        stored = stored_codes(reader, ids, dim)
        blobs = [stored.get(cid, b"") for cid in ids]
        if all(len(b) == n * dim for b, n in zip(blobs, counts.values(), strict=True)):
            return sentences.cosines(b"".join(blobs), dim, qvec)
        return self.searcher.embedder.encode([s for _, s in sents]) @ qvec

    def _use_generated(self, ans: Answer, text: str, passages: list[tuple[ChunkHit, float]]) -> None:
        cited = check_citations(text, set(range(1, len(passages) + 1)))
        ans.citations = [self._citation(n, passages[n - 1][0], passages[n - 1][0].text[:300])
                         for n in cited]
        ans.answer, ans.generated, ans.confident = text.strip(), True, True

    def evidence(self, question: str, viewer: Viewer = LOCAL) -> tuple[AskedBefore | None, Answer]:
        """Threshold-free, for evaluation: the closest earlier forum thread with an answer
        (whatever its similarity) and the extractive answer with its confidence."""
        ans = Answer(question=" ".join(question.split())[:MAX_QUERY_CHARS])
        if not ans.question:
            return None, ans
        reader = self.searcher.index.get()
        cands = self._candidates(reader, ans.question, viewer)
        self._extractive(reader, ans, cands)
        return self._asked_before(reader, cands, floor=-1.0), ans

    def _candidates(self, reader: IndexReader, question: str, viewer: Viewer) -> list[tuple[ChunkHit, float]]:
        return self.searcher.candidates(reader, question, max(60, self.settings.passages * 4),
                                        viewer.restrict())

    def _extract(self, question: str, viewer: Viewer) -> tuple[Answer, list[tuple[ChunkHit, float]]]:
        question = " ".join(question.split())[:MAX_QUERY_CHARS]
        ans = Answer(question=question)
        if not question:
            return ans, []
        reader = self.searcher.index.get()
        cands = self._candidates(reader, question, viewer)
        ans.experts = self.searcher._experts(reader, [(ch.id, s) for ch, s in cands], question, viewer=viewer)
        passages = _diverse(cands, self.settings.passages)
        if not passages:
            return ans, []
        ans.asked_before = self._asked_before(reader, cands, self.settings.asked_before)
        if ans.asked_before:
            ab = ans.asked_before
            ans.answer, ans.confident, ans.confidence = ab.answer, True, ab.similarity
            ans.citations = [Citation(1, ab.doc_id, ab.title, ab.url, ab.answer[:300], ab.author, ab.at)]
            return ans, passages
        self._extractive(reader, ans, cands)
        return ans, passages

    def _extractive(self, reader: IndexReader, ans: Answer, cands: list[tuple[ChunkHit, float]]) -> None:
        passages = _diverse([c for c in cands if quotable(c[0])], self.settings.passages)
        sents = [(i, s) for i, (ch, _) in enumerate(passages) for s in split_sentences(ch.text)]
        if not sents:
            return
        sims = self._sentence_similarities(reader, ans.question, passages, sents)
        kw = np.array([keyword_overlap(ans.question, s) for _, s in sents])
        scores = sims + self.settings.keyword_weight * kw
        order = np.argsort(-scores)
        chosen = [int(j) for j in order[: self.settings.sentences]
                  if scores[j] >= scores[order[0]] - 0.15]
        numbers: dict[int, int] = {}
        parts = []
        for j in sorted(chosen, key=lambda j: (sents[j][0], j)):
            pi, sentence = sents[j][0], plain_text(sents[j][1])  # shown as read: [text](url) -> text
            if pi not in numbers:
                numbers[pi] = len(numbers) + 1
                ans.citations.append(self._citation(numbers[pi], passages[pi][0], sentence))
            parts.append(f"{sentence} [{numbers[pi]}]")
        ans.answer = " ".join(parts)
        best_passage = max(s for _, s in passages)
        ans.confidence = float(0.5 * sims[order[0]] + 0.5 * best_passage)
        ans.confident = ans.confidence >= self.settings.min_confidence

    def _asked_before(self, reader: IndexReader, cands: list[tuple[ChunkHit, float]], floor: float
                      ) -> AskedBefore | None:
        """The most similar forum question with an answer, if at least ``floor`` similar."""
        for ch, score in cands:
            if score < floor:
                return None
            if ch.kind != "forum" or ch.section != 0:
                continue
            doc = reader.store.document(ch.doc_id)
            if doc is None:
                continue
            best = _best_answer(doc)
            if best is None:
                continue
            sec, accepted, who, at = best
            return AskedBefore(doc.id, doc.title, _link(doc.url, doc.sections[sec].anchor),
                               doc.sections[sec].text[:800], who, at, accepted, score)
        return None

    def _citation(self, n: int, ch: ChunkHit, quote_: str) -> Citation:
        authors = self.searcher.index.get().store.authors_of([ch.doc_id]).get(ch.doc_id, [])
        return Citation(n, ch.doc_id, ch.title, _link(ch.url, ch.anchor), quote_,
                        authors[0].name if authors else "", ch.updated_at)

    def _finish(self, ans: Answer, viewer: Viewer = LOCAL) -> None:
        store = self.searcher.index.get().store
        if self.router is not None:
            ans.ask = self.router.whom_to_ask(store, ans.experts, ans.question, viewer)
        else:
            links = ask_links(store, [e.person.id for e in ans.experts[:3]], ans.question)
            ans.ask = [AskSuggestion(e, links[e.person.id]) for e in ans.experts[:3]]
        if ans.confident or not ans.question:
            return
        if self.gaps:
            self.gaps.record(ans.question, NO_ANSWER)
        if self.settings.ask_url:
            ans.ask_link = self.settings.ask_url.format(question=quote(ans.question[:200]))
        else:
            ans.ask_link = mailto_all(ans.ask)


def _best_answer(doc: Any) -> tuple[int, bool, str, datetime | None] | None:
    """The accepted answer's section, else the top-voted answer's."""
    best: tuple[int, bool, str, datetime | None] | None = None
    best_score = -10**9
    for c in doc.contributions:
        if c.section is None or c.section >= len(doc.sections):
            continue
        if c.role == "accepted-answerer":
            return c.section, True, c.person.name, c.at
        if c.role == "answerer" and (c.score or 0) > best_score:
            best, best_score = (c.section, False, c.person.name, c.at), c.score or 0
    return best


def quotable(ch: ChunkHit) -> bool:
    """A forum question is evidence (it finds its thread, see "asked before") but never the
    answer: quoting someone else's question back at the asker answers nothing."""
    return not (ch.kind == "forum" and ch.section == 0)


def _diverse(cands: list[tuple[ChunkHit, float]], n: int) -> list[tuple[ChunkHit, float]]:
    """The best ``n`` passages, at most two per document."""
    per_doc: dict[str, int] = {}
    out = []
    for ch, s in cands:
        if per_doc.get(ch.doc_id, 0) < 2:
            per_doc[ch.doc_id] = per_doc.get(ch.doc_id, 0) + 1
            out.append((ch, s))
        if len(out) == n:
            break
    return out


def _prompt(passages: list[tuple[ChunkHit, float]]) -> list[PromptPassage]:
    return [PromptPassage(i, ch.title, ch.text) for i, (ch, _) in enumerate(passages, 1)]


def _link(url: str, anchor: str) -> str:
    return f"{url}#{anchor}" if url and anchor and "#" not in url else url
