"""A bounded pool of worker threads that serves tasks by priority (lowest value first).

The scan driver (scanner/run.py) submits one AWS call per task: region discovery and
analyzers before findings pages, the pages of the regions with the most work left first,
the member view's calls last. concurrent.futures' pool serves tasks in the order given.

Threads are started as tasks need them, up to the bound: the driver admits to the pool only
the calls each region can use at once (its rate times its round trip), so a scan of a few
regions runs on a few threads and one of thirty busy regions on as many as they need.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_Item = tuple[Future[Any], Callable[[], Any]]  # a task on the pool: its future, its call


class PriorityPool:
    """Daemon worker threads, at most `workers`, serving tasks lowest priority value first."""

    def __init__(self, workers: int) -> None:
        self._queue: queue.PriorityQueue[tuple[tuple[float, ...], int, _Item | None]] = (
            queue.PriorityQueue())
        self._sequence = itertools.count()
        self._bound = max(1, workers)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a task
        self._queued = 0  # tasks no thread has taken yet

    @property
    def threads(self) -> int:
        """Threads started so far (never more than the bound)."""
        return len(self._threads)

    def submit(self, priority: tuple[float, ...], fn: Callable[[], T]) -> Future[T]:
        """Run `fn` on a worker, lowest `priority` first; its result or exception in the
        future."""
        future: Future[T] = Future()
        with self._lock:
            self._queued += 1
            if self._queued > self._idle and len(self._threads) < self._bound:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"aa-scan-{len(self._threads)}")
                self._threads.append(thread)
                self._idle += 1
                thread.start()
        self._queue.put((priority, next(self._sequence), (future, fn)))
        return future

    def _work(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is None:
                return
            with self._lock:
                self._idle -= 1
                self._queued -= 1
            future, fn = item
            if not future.set_running_or_notify_cancel():
                self._rest()
                continue
            try:
                result = fn()
            except BaseException as exc:  # handed to the main thread, which decides
                self._rest()
                future.set_exception(exc)
                continue
            # Idle before the answer is handed over: the next task it prompts finds this
            # thread free instead of starting another.
            self._rest()
            future.set_result(result)

    def _rest(self) -> None:
        with self._lock:
            self._idle += 1

    def shutdown(self, wait: float = 0.0) -> None:
        """Cancel what has not started; let the idle workers exit, waiting up to `wait`
        seconds for them to have (a worker still in a call is left to finish it)."""
        while True:
            try:
                _, _, item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
                with self._lock:
                    self._queued -= 1
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(((float("inf"),), next(self._sequence), None))
        deadline = time.monotonic() + wait
        for thread in threads:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            thread.join(remaining)
