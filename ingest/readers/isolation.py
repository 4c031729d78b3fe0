"""Run readers in a worker process, so no single file can hang, crash or bloat the ingest run.

A parser stuck in a loop (or in C code, where no Python timeout reaches) is killed after
``timeout_s``; a parser that segfaults or runs out of memory kills only the worker. Either
way the file gets a reason and a fresh worker reads the next one. The worker is a fresh
``python -m ingest.readers.isolation`` (nothing of the parent's threads, torch state or
``__main__``) talking over two pipes, kept for the whole run so unstructured and spaCy load once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from . import Unreadable

STARTUP_TIMEOUT_S = 120
# how the reasons of failures that may not happen again begin (a loaded machine, a lost worker):
# such files are read again at the next run even when they did not change
PASSING_REASONS = ("the parser worker process", "parser gave up", "parser crashed")


class ReaderTimeout(Unreadable):
    pass


class ReaderCrashed(Unreadable):
    pass


def _worker(tasks: Connection, results: Connection) -> None:
    results.send(("ready", None))
    while True:
        try:
            task = tasks.recv()
        except (EOFError, KeyboardInterrupt):  # the parent is gone
            return
        if task is None:
            return
        fn, args = task
        try:
            results.send(("ok", fn(*args)))
        except Unreadable as e:
            results.send(("unreadable", str(e)))
        except Exception as e:
            results.send(("error", f"{type(e).__name__}: {e}"[:500]))


class IsolatedCalls:
    """Calls functions in one long-lived worker process, each with a time limit.

    Use as a context manager; ``call(fn, *args)`` returns ``fn(*args)`` or raises
    ``Unreadable`` (with ``ReaderTimeout``/``ReaderCrashed`` for a killed worker).
    ``fn`` must be importable by name (a module-level function) and its result picklable.
    """

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._tasks: Connection | None = None
        self._results: Connection | None = None

    def __enter__(self) -> IsolatedCalls:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> tuple[Connection, Connection]:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        # the worker imports what this process imports, from the same places
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        # parsers print banners, notices and warnings; keep the run's output clean
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "ingest.readers.isolation", str(task_r), str(result_w)],
            pass_fds=(task_r, result_w), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(task_r)
        os.close(result_w)
        self._tasks = Connection(task_w, readable=False)
        self._results = Connection(result_r, writable=False)
        # a busy machine may take seconds to start Python: that is not the file's time
        try:
            started = self._results.poll(STARTUP_TIMEOUT_S) and self._results.recv()[0] == "ready"
        except (EOFError, OSError):
            started = False
        if not started:
            self._kill()
            raise ReaderCrashed("the parser worker process did not start")
        return self._tasks, self._results

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._tasks is None or self._results is None:
            tasks, results = self._start()
        else:
            tasks, results = self._tasks, self._results
        try:
            tasks.send((fn, args))
            ready = results.poll(self.timeout_s)
            status, value = results.recv() if ready else ("timeout", None)
        except (EOFError, OSError):
            status, value = "crashed", None
        if status == "ok":
            return value
        if status in ("unreadable", "error"):
            raise Unreadable(value)
        self._kill()
        if status == "timeout":
            raise ReaderTimeout(f"parser gave up after {self.timeout_s:g} s (timeout_s); file skipped")
        raise ReaderCrashed("parser crashed (out of memory or a bug in a native library); file skipped")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
        for conn in (self._tasks, self._results):
            if conn is not None:
                conn.close()
        self._proc = self._tasks = self._results = None

    def close(self) -> None:
        if self._tasks is not None:
            try:
                self._tasks.send(None)
                if self._proc is not None:
                    self._proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()


if __name__ == "__main__":
    _worker(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
