"""Reading a BEIR-format folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path


class BeirError(ValueError):
    """The folder is not a usable BEIR data set."""


@dataclass
class BeirSet:
    folder: Path
    split: str
    queries: dict[str, str] = field(default_factory=dict)  # judged queries only, in qrels order
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query id → doc id → grade

    @property
    def corpus(self) -> Path:
        return self.folder / "corpus.jsonl"


def load_beir(folder: Path, split: str = "test", limit: int | None = None) -> BeirSet:
    """The judged queries of ``split`` (the first ``limit`` of them, if given)."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for p in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not p.is_file():
            raise BeirError(f"{p} not found (a BEIR folder has corpus.jsonl, queries.jsonl, "
                            f"qrels/{split}.tsv)")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            try:
                grade = int(float(row[2]))
            except ValueError:
                continue
            if grade > 0:
                qrels.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    texts: dict[str, str] = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                texts[str(row["_id"])] = str(row.get("text", ""))
    missing = [q for q in qrels if q not in texts]
    if missing:
        raise BeirError(f"{len(missing)} judged queries are not in queries.jsonl (e.g. {missing[0]})")
    ids = list(qrels)[:limit] if limit else list(qrels)
    return BeirSet(folder, split, {q: texts[q] for q in ids}, {q: qrels[q] for q in ids})
