"""Shared parts of the benchmarks: figures, the report, timing helpers and the sample corpus."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1",
               "UNSTRUCTURED_DISABLE_NOTICE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(_k, _v)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@dataclass
class Figure:
    part: str
    name: str
    value: float | str
    unit: str = ""
    note: str = ""


@dataclass
class Report:
    command: str
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))
    machine: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, part: str, name: str, value: float | str, unit: str = "", note: str = "") -> None:
        if isinstance(value, float):
            value = round(value, 4 if abs(value) < 10 else 1)
        fig = Figure(part, name, value, unit, note)
        self.figures.append(fig)
        print(f"  [{part}] {name}: {value} {unit} {note}".rstrip(), flush=True)

    def table(self) -> str:
        rows = [("part", "figure", "value", "unit", "note")]
        rows += [(f.part, f.name, str(f.value), f.unit, f.note) for f in self.figures]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = []
        for i, r in enumerate(rows):
            cells = [r[j].ljust(widths[j]) if j != 2 else r[j].rjust(widths[j]) for j in range(4)]
            lines.append("  ".join(cells) + ("  " + r[4] if r[4] else ""))
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def save(self, folder: Path = RESULTS) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        path = folder / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(data, indent=2))
        (folder / "latest.json").write_text(json.dumps(data, indent=2))
        return path


def load_average() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def machine_info() -> dict[str, Any]:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, check=False).stdout.strip()
    except OSError:
        rev = ""
    return {"cpus": os.cpu_count(), "load_average_at_start": load_average(), "git": rev,
            "python": sys.version.split()[0]}


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(1, math.ceil(p / 100 * len(s))) - 1]


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
