"""``beir``: a BEIR-format folder (``corpus.jsonl`` with ``_id``, ``title``, ``text``).

Used by ``whoknows eval retrieval`` to index a judged corpus through the real pipeline, and
usable as a source in its own right. Each line becomes one document ``<source>/<_id>``;
a line that is not a JSON object with an ``_id`` is reported as a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from index.models import Document, Failure, Section
from index.settings import Settings, SourceSettings


class BeirSource:
    def __init__(self, cfg: SourceSettings, settings: Settings):
        self.cfg = cfg
        self.name = cfg.name
        root = settings.resolve(cfg.path)
        self.corpus = root / "corpus.jsonl" if root.is_dir() else root

    def iter_documents(self) -> Iterator[Document | Failure]:
        if not self.corpus.is_file():
            raise FileNotFoundError(f"source {self.name!r}: corpus.jsonl not found: {self.corpus}")
        with self.corpus.open(encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, start=1):
                if line.strip():
                    yield self.read(line, n)

    def read(self, line: str, n: int) -> Document | Failure:
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            return Failure(self.name, f"line {n}", f"not JSON: {e}")
        except RecursionError:
            return Failure(self.name, f"line {n}", "not JSON this reader can take: nested too deeply")
        if not isinstance(row, dict) or not str(row.get("_id", "")).strip():
            return Failure(self.name, f"line {n}", "no _id")
        doc_id = str(row["_id"]).strip()
        title, text = str(row.get("title") or "").strip(), str(row.get("text") or "").strip()
        if not (title or text):
            return Failure(self.name, doc_id, "empty title and text")
        url = self.cfg.url.format(id=doc_id, path=doc_id) if self.cfg.url else ""
        return Document(id=f"{self.name}/{doc_id}", source=self.name, kind="document",
                        title=title, sections=[Section(text or title)], url=url)


def native_id(doc_id: str) -> str:
    """The BEIR ``_id`` of a document id ``<source>/<_id>``."""
    return doc_id.split("/", 1)[1] if "/" in doc_id else doc_id


def corpus_path(folder: Path) -> Path:
    return folder / "corpus.jsonl"
