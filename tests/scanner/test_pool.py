"""The pool starts threads as tasks need them, up to its bound; the driver's lanes hold each
region to the calls its rate and round trip use, the rest waiting in priority order."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from scanner.config import Options
from scanner.pool import PriorityPool
from scanner.ratelimit import RateLimiter
from scanner.run import AUTO_WORKERS, Scan


def test_threads_start_as_tasks_need_them_up_to_the_bound():
    pool = PriorityPool(3)
    assert pool.threads == 0
    assert pool.submit((0,), lambda: 1).result(timeout=5) == 1
    assert pool.threads == 1
    for _ in range(5):  # one at a time: the idle thread takes each
        pool.submit((0,), lambda: None).result(timeout=5)
    assert pool.threads == 1
    release = threading.Event()
    futures = [pool.submit((0,), lambda: release.wait(5)) for _ in range(6)]
    assert pool.threads == 3
    release.set()
    assert all(f.result(timeout=5) for f in futures)
    pool.shutdown()


def test_the_most_urgent_task_goes_first_when_every_thread_is_busy():
    pool = PriorityPool(1)
    release = threading.Event()
    blocker = pool.submit((0,), lambda: release.wait(5))
    order: list[str] = []
    futures = [pool.submit((2,), lambda: order.append("late")),
               pool.submit((1,), lambda: order.append("urgent"))]
    release.set()
    blocker.result(timeout=5)
    for future in futures:
        future.result(timeout=5)
    assert order == ["urgent", "late"]
    pool.shutdown()


def lane_scan(limiter: RateLimiter | None, workers: int | None = None) -> Scan:
    factory = SimpleNamespace(limiters={"eu-west-1": limiter} if limiter else {})
    scan = Scan(Options(workers=workers), factory)  # type: ignore[arg-type]
    scan._pool = PriorityPool(workers or AUTO_WORKERS)
    return scan


def test_a_region_takes_the_calls_its_rate_and_round_trip_use_and_no_more():
    limiter = RateLimiter(initial_rate=10)
    limiter.observe(0.25)  # 10 a second at 250 ms: 2.5 in flight, 5 with the headroom
    assert limiter.concurrency(32) == 5
    scan = lane_scan(limiter)
    lock, running, peak = threading.Lock(), [0], [0]
    release = threading.Event()

    def call() -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1
        return 1

    started: list[tuple[float, ...]] = []  # the priority of each call, as the lane starts it
    start = scan._start
    scan._start = lambda lane, priority, task: (started.append(priority),  # type: ignore[method-assign]
                                                start(lane, priority, task))
    answers: list[object] = []
    for number in range(12):
        scan._submit_other((3,) if number < 6 else (2,), answers.append,
                           "access-analyzer:ListAnalyzers", call, lane="eu-west-1")
    lane = scan._lanes["eu-west-1"]
    assert (lane.running, len(lane.waiting)) == (5, 7)
    assert scan._pool is not None and scan._pool.threads == 5  # no thread waits on the lane
    release.set()
    scan._drain()
    assert peak[0] <= 5 and answers == [1] * 12
    # five at once, then the waiting ones in priority order: the urgent ones (2) first
    assert started == [(3,)] * 5 + [(2,)] * 6 + [(3,)]
    scan._pool.shutdown()


def test_without_pacing_or_with_workers_the_bound_is_the_ceiling():
    assert lane_scan(None)._lane("eu-west-1").limit() == 32
    assert lane_scan(None, workers=3)._lane("eu-west-1").limit() == 3
    paced = RateLimiter(initial_rate=100)
    paced.observe(2.0)
    assert lane_scan(paced, workers=4)._lane("eu-west-1").limit() == 4
