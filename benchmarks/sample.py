"""The sample corpus (data/) as the benchmarks use it: settings, chunk texts, queries, encoders."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from common import REPO

from index.embedding import Embedder, load_embedder, load_query_embedder
from index.models import Document
from index.settings import EmbeddingSettings, Settings, load_settings
from ingest.chunking import Chunker
from ingest.sources import make_source

# Questions a person would type at the handbook; topped up with page titles to 100.
QUESTIONS = [
    "how do I expense a home office", "how much parental leave do I get", "who approves compensation changes",
    "what is the travel policy for team offsites", "how do I submit time off", "mental health benefits",
    "how do I report a phishing email", "password manager requirements", "how do I request access to an application",
    "what laptop do new hires get", "how do equity grants vest", "leveling guide for engineers",
    "how to give feedback to a teammate", "code of conduct violations", "how do I edit the handbook",
    "how to move a handbook page", "company holidays this year", "how to switch teams",
    "addressing underperformance", "how are invoices paid", "accounts receivable collections process",
    "what is ARR", "deal desk approvals", "contract signature authority", "vendor security review",
    "antivirus on my computer", "okta verify not working", "google groups for teams", "zoom etiquette",
    "how do retrospectives work", "writing an RFC", "asynchronous communication tips", "1-1 meetings",
    "remote work productivity", "hackathon ideas", "personal pronouns in profiles", "gender diversity goals",
    "business continuity plan", "data management policy", "acceptable use of company devices",
    "information security roles", "cloud security policy", "third party vendor management",
    "secure development lifecycle", "asset management policy", "mentorship program",
    "onboarding glossary", "product onboarding videos", "github notifications setup", "nomad life benefit",
]


@dataclass
class Sample:
    """Chunks of the sample corpus and encoders, shared by the benchmark parts of one run."""

    work: Path
    cache_dir: Path
    only: list[str] = field(default_factory=list)  # source names of whoknows.toml; empty = all
    _embedders: dict[str, Embedder] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)
    homes: dict[str, Path] = field(default_factory=dict)  # backend -> a built sample home
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # backend -> chunk vectors
    ingest_seconds: dict[str, list[float]] = field(default_factory=dict)  # backend -> ingest runs

    def settings(self, home: Path, backend: str = "torch") -> Settings:
        """The sample configuration (whoknows.toml: every source in data/) with another home."""
        s = load_settings(REPO / "whoknows.toml")
        s.home = home
        if self.only:
            s.sources = [c for c in s.sources if c.name in self.only]
        s.embedding = EmbeddingSettings(backend=backend, cache_dir=str(self.cache_dir))
        return s

    def texts(self) -> list[str]:
        """The unique chunk texts ingest embeds, in ingest order."""
        if not hasattr(self, "_texts"):
            s = self.settings(self.work / "unused")
            chunker = Chunker(s.chunking)
            seen: dict[str, str] = {}
            for cfg in s.sources:
                for item in make_source(cfg, s).iter_documents():
                    if isinstance(item, Document):
                        for c in chunker.chunk(item):
                            seen.setdefault(c.text_hash, c.embed_text)
            self._texts = list(seen.values())
        return self._texts

    def queries(self, n: int = 100) -> list[str]:
        out = list(QUESTIONS)
        for path in sorted((REPO / "data/handbook").rglob("*.md")):  # page titles
            m = re.search(r"^#\s+(.+)$", path.read_text(encoding="utf-8", errors="replace"), re.M)
            title = (m.group(1) if m else path.stem.replace("-", " ")).strip().lower()
            if title not in out:
                out.append(title)
        return out[:n]

    def embedder(self, backend: str) -> Embedder:
        if backend not in self._embedders:
            t0 = time.perf_counter()
            self._embedders[backend] = load_embedder(self.settings(self.work, backend).embedding)
            self.load_seconds[backend] = time.perf_counter() - t0
        return self._embedders[backend]

    def query_embedder(self, backend: str) -> Embedder:
        """The encoder as the server loads it for queries ([embedding] query_threads)."""
        return load_query_embedder(self.settings(self.work, backend).embedding)

    def fresh_home(self, name: str) -> Path:
        home = self.work / "homes" / name
        shutil.rmtree(home, ignore_errors=True)
        return home
