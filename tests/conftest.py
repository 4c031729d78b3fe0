"""Shared test parts: a deterministic fake embedder, temp homes, tiny corpora."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index.settings import Settings, SourceSettings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


class FakeEmbedder:
    """Bag of hashed words: texts sharing words are close. Deterministic and instant.

    Counts calls so tests can assert what was (re-)embedded.
    """

    model_id = "fake-bow-64"
    dim = 64

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
            if not n:
                out[i, 0] = 1.0
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def source_items(items: Iterable[Any]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """A source's output split: documents by id, failures' reasons by item, unchanged ids."""
    from index.models import Failure, Unchanged

    docs: dict[str, Any] = {}
    failures: dict[str, str] = {}
    unchanged: list[str] = []
    for item in items:
        if isinstance(item, Failure):
            failures[item.item] = item.reason
        elif isinstance(item, Unchanged):
            unchanged.append(item.doc_id)
        else:
            docs[item.id] = item
    return docs, failures, unchanged


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def wiki(tmp_path: Path) -> Path:
    """A tiny Markdown wiki with authors in front matter."""
    root = tmp_path / "wiki"
    write(root / "expenses.md", """---
authors: ["Ada Lovelace <ada@corp.example>", "Bob Builder"]
tags: [finance]
updated: 2024-03-01
---
# Expenses

## Home office

You can expense a desk and a chair for your home office up to 500 dollars.
File the receipt in the expense tool within 60 days.

## Travel

Book flights through the travel portal; economy class for trips under six hours.
""")
    write(root / "onboarding/laptop.md", """---
author: Carol Chen <carol@corp.example>
---
# Getting a laptop

New hires receive a laptop on their first day. IT ships it to your home address.
""")
    write(root / "engineering/deploys.md", """# Deploying to production

Deploys go out with the release train every Tuesday. Rollbacks use the deploy tool.
""")
    return root


@pytest.fixture
def settings(tmp_path: Path, wiki: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        sources=[SourceSettings(name="wiki", kind="markdown", path=str(wiki),
                                url="https://wiki.example/{path}")],
    )


def count_rows(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def rerun_without_a_page(settings: Settings, wiki: Path, embedder, table: str, calls: list[str]) -> None:
    """Delete a page of the ``wiki`` fixture and re-index: ``table`` (per-chunk second-stage
    evidence) still has one row per chunk, and nothing was encoded (``calls``)."""
    from index.generations import Home
    from ingest.pipeline import run_ingest

    (wiki / "expenses.md").unlink()
    calls.clear()
    run_ingest(settings, embedder)
    reader = Home(settings.home).open_reader()
    assert count_rows(reader.store.db, table) == count_rows(reader.store.db, "chunks")
    reader.close()
    assert calls == []  # the rest came from the embedding cache


def index_with_rows_per_chunk(settings: Settings, embedder, table: str, column: str) -> list[tuple[str, bytes]]:
    """Index ``settings``' sources; (chunk text, ``column``) of ``table``'s row for every chunk
    (per-chunk second-stage evidence: exactly one each)."""
    from index.generations import Home
    from ingest.pipeline import run_ingest

    run_ingest(settings, embedder)
    reader = Home(settings.home).open_reader()
    db = reader.store.db
    rows = db.execute(f"SELECT c.text, t.{column} FROM chunks c JOIN {table} t ON t.chunk_id = c.id").fetchall()
    assert len(rows) == count_rows(db, "chunks") > 0
    reader.close()
    return rows
