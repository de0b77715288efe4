"""How collection work is handed to the scan driver (scanner/run.py), typed end to end.

A task is one AWS call made on a worker thread; its continuation runs on the main thread
with what the call returned, or the ApiError it failed with. `Continuation[T]` and `Submit`
tie the two together, and `continuation` binds a method's leading arguments without losing
its types (functools.partial would), so mypy checks each continuation against the call it
continues.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar, TypeVarTuple

from ..model import ApiError

T = TypeVar("T")
R = TypeVar("R")
Ts = TypeVarTuple("Ts")

# What the main thread does with a task's answer: the call's result, or why it failed.
Continuation = Callable[[T | ApiError], None]


class Submit(Protocol):
    """Schedule one AWS call on the scan's pool; `then` gets its answer on the main thread.
    `lane`: whose limits the call counts against (a region's name, or "sts"), if any."""

    def __call__(self, priority: tuple[float, ...], then: Continuation[T], operation: str,
                 call: Callable[[], T], lane: str | None = None) -> None: ...


def continuation(method: Callable[[*Ts, R], None], *bound: *Ts) -> Callable[[R], None]:
    """`method` with its leading arguments bound: like functools.partial, but typed, so the
    answer it takes is checked against the call it continues (see Submit)."""

    def then(answer: R) -> None:
        method(*bound, answer)

    return then
