"""Re-indexing on a schedule inside `whoknows serve`.

Jobs come from ``[schedule] cron`` (all sources without their own ``cron``) and each
source's ``cron``. A due job runs ``whoknows reindex`` in a child process, so a crash or the
memory of a big run never touches the server; the ingest lock keeps runs one at a time.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime

from index.schedule import Job, jobs_for, next_runs
from index.settings import Settings

log = logging.getLogger("whoknows.schedule")

Runner = Callable[[list[str] | None], int]

__all__ = ["Scheduler", "subprocess_runner", "Job", "jobs_for", "next_runs"]


def subprocess_runner(settings: Settings) -> Runner:
    """Run `whoknows reindex` for the given sources in a child process."""
    def run(sources: list[str] | None) -> int:
        cmd = [sys.executable, "-m", "web.cli", "reindex", "--quiet"]
        if settings.config_path:
            cmd += ["--config", str(settings.config_path)]
        for s in sources or []:
            cmd += ["--source", s]
        return subprocess.run(cmd, check=False).returncode
    return run


class Scheduler:
    """A daemon thread that sleeps until the next due job and runs it."""

    def __init__(self, settings: Settings, runner: Runner | None = None):
        self.settings = settings
        self.runner = runner or subprocess_runner(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.next: list[tuple[datetime, Job]] = []

    def start(self) -> None:
        if not jobs_for(self.settings) or self._thread:
            return
        self._thread = threading.Thread(target=self._loop, name="whoknows-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def run_due(self, now: datetime, last: datetime) -> list[Job]:
        """Run every job with a fire time in (last, now]; returns them."""
        due = [j for j in jobs_for(self.settings) if j.next_after(last) <= now]
        for job in due:
            log.info("scheduled re-index of %s", job.label)
            code = self.runner(job.sources)
            if code:
                log.warning("scheduled re-index of %s exited with %s", job.label, code)
        return due

    def _loop(self) -> None:
        last = datetime.now().astimezone()
        while not self._stop.is_set():
            self.next = next_runs(self.settings, last)
            wait = (self.next[0][0] - datetime.now().astimezone()).total_seconds()
            if wait > 0 and self._stop.wait(min(wait, 60)):
                return
            now = datetime.now().astimezone()
            if self.next and self.next[0][0] <= now:
                self.run_due(now, last)
                last = now
