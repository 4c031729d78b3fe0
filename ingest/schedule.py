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

from index.runs import RunLog
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
        self._manual: threading.Thread | None = None
        self._guard = threading.Lock()
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

    def trigger(self, sources: list[str] | None = None) -> bool:
        """Start a re-index now, in the background (the admin page's button).

        Returns False, starting nothing, when a run is already going: one started here, a
        scheduled one, or one from the command line.
        """
        with self._guard:
            if (self._manual and self._manual.is_alive()) or self.run_going():
                return False
            self._manual = threading.Thread(target=self._run_now, args=(sources,),
                                            name="whoknows-reindex", daemon=True)
            self._manual.start()
        return True

    def run_going(self) -> bool:
        """A run is recorded as running by a process that is still alive."""
        state = self.settings.home / "state.sqlite"
        if not state.exists():
            return False
        log = RunLog(state)
        try:
            return any(r.status == "running" for r in log.last(3))
        finally:
            log.close()

    def _run_now(self, sources: list[str] | None) -> None:
        label = ", ".join(sources) if sources else "all sources"
        log.info("re-index of %s requested from the admin page", label)
        code = self.runner(sources)
        if code:
            log.warning("requested re-index of %s exited with %s", label, code)

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
