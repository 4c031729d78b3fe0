"""Run a real ingest in a subprocess with a slow fake encoder, for the SIGKILL tests.

    python -m tests.kill_driver CONFIG MARKER_DIR STAGE

STAGE says where to linger so the test can kill the process there: ``embed`` (every encode
call sleeps), ``publish`` (before CURRENT is replaced), ``cleanup`` (after CURRENT is replaced,
before old generations are removed). A file MARKER_DIR/<stage> appears when it gets there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from index.generations import Home
from index.settings import load_settings
from ingest.pipeline import IngestOptions, run_ingest
from tests.conftest import FakeEmbedder


class SlowEmbedder(FakeEmbedder):
    def __init__(self, marker: Path):
        super().__init__()
        self.marker = marker

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.marker.touch()
        time.sleep(0.3)
        return super().encode(texts)


def main() -> None:
    config, marker_dir, stage = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    embedder = FakeEmbedder()
    if stage == "embed":
        embedder = SlowEmbedder(marker_dir / "embed")
    elif stage == "publish":
        original = Home.publish

        def slow_publish(self, writer):  # type: ignore[no-untyped-def]
            writer.finish()
            (marker_dir / "publish").touch()
            time.sleep(30)
            original(self, writer)
        Home.publish = slow_publish  # type: ignore[method-assign]
    elif stage == "cleanup":
        def slow_remove_old(self, keep=2):  # type: ignore[no-untyped-def]
            (marker_dir / "cleanup").touch()
            time.sleep(30)
        Home.remove_old = slow_remove_old  # type: ignore[method-assign]
    run_ingest(load_settings(config), embedder, IngestOptions(embed_batch=8))


if __name__ == "__main__":
    main()
