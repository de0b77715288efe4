"""A bounded pool of worker threads that serves tasks by priority (lowest value first).

The scan driver (scanner/run.py) submits one AWS call per task: region discovery and
analyzers before findings pages, the pages of the regions with the most work left first,
the member view's calls last. concurrent.futures' pool serves tasks in the order given.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_Item = tuple[Future[Any], Callable[[], Any]]  # a task on the pool: its future, its call


class PriorityPool:
    """A fixed set of daemon worker threads serving tasks lowest priority value first."""

    def __init__(self, workers: int) -> None:
        self._queue: queue.PriorityQueue[tuple[tuple[float, ...], int, _Item | None]] = (
            queue.PriorityQueue())
        self._sequence = itertools.count()
        self._threads = [threading.Thread(target=self._work, name=f"aa-scan-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, priority: tuple[float, ...], fn: Callable[[], T]) -> Future[T]:
        """Run `fn` on a worker, lowest `priority` first; its result or exception in the
        future."""
        future: Future[T] = Future()
        self._queue.put((priority, next(self._sequence), (future, fn)))
        return future

    def _work(self) -> None:
        while True:
            _, _, item = self._queue.get()
            if item is None:
                return
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the main thread, which decides
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel what has not started; let the idle workers exit."""
        while True:
            try:
                _, _, item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put(((float("inf"),), next(self._sequence), None))
