"""A retrieval set from a Stack Exchange dump, in BEIR format.

Each question's title is a query; the relevant document is its own thread (the question
body and its answers) indexed WITHOUT the title, so a system must match the question to
its thread by content. Output: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/test.tsv``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from defusedxml import ElementTree


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: str) -> str:
    """Visible text of a post body, whitespace collapsed."""
    p = _Text()
    p.feed(html)
    p.close()
    return " ".join(" ".join(p.parts).split())


@dataclass
class _Thread:
    title: str
    body: str
    answers: list[tuple[int, str]] = field(default_factory=list)  # (score, text)


def read_threads(posts_xml: Path) -> dict[str, _Thread]:
    """Questions with their answers (best-scored first) from a dump's Posts.xml."""
    threads: dict[str, _Thread] = {}
    answers: list[tuple[str, int, str]] = []
    for _, el in ElementTree.iterparse(str(posts_xml), events=("end",)):
        if el.tag != "row":
            continue
        a = el.attrib
        kind = a.get("PostTypeId")
        if kind == "1" and a.get("Title", "").strip():
            threads[a["Id"]] = _Thread(a["Title"].strip(), html_text(a.get("Body", "")))
        elif kind == "2" and a.get("ParentId"):
            answers.append((a["ParentId"], int(a.get("Score", "0") or 0), html_text(a.get("Body", ""))))
        el.clear()
    for parent, score, text in answers:
        if parent in threads and text:
            threads[parent].answers.append((score, text))
    for t in threads.values():
        t.answers.sort(key=lambda st: -st[0])
    return threads


def make_se_beir(dump: Path, out: Path) -> int:
    """Write the BEIR set for the dump folder (or Posts.xml) ``dump`` into ``out``.

    Returns the number of queries written.
    """
    posts = dump / "Posts.xml" if dump.is_dir() else dump
    threads = read_threads(posts)
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    n = 0
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus, \
         (out / "queries.jsonl").open("w", encoding="utf-8") as queries, \
         (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for qid, t in sorted(threads.items(), key=lambda kv: int(kv[0])):
            text = "\n\n".join([t.body, *(a for _, a in t.answers)]).strip()
            if not text:
                continue
            corpus.write(json.dumps({"_id": f"t{qid}", "title": "", "text": text}) + "\n")
            queries.write(json.dumps({"_id": f"q{qid}", "text": t.title}) + "\n")
            qrels.write(f"q{qid}\tt{qid}\t1\n")
            n += 1
    return n
