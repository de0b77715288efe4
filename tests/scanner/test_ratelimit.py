"""The per-region rate limiter, on a fake clock."""

from __future__ import annotations

import pytest

from scanner.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(clock: Clock, **kwargs) -> RateLimiter:
    return RateLimiter(clock=clock, sleep=clock.sleep, **kwargs)


def test_starts_with_a_full_bucket_then_paces_at_the_rate():
    clock = Clock()
    rl = limiter(clock, initial_rate=10, learn=False)
    assert [rl.acquire() for _ in range(10)] == [0.0] * 10  # the burst
    waits = [rl.acquire() for _ in range(20)]
    assert all(w == pytest.approx(0.1) for w in waits)
    assert clock.now == pytest.approx(2.0)


def test_slow_start_grows_only_under_demand():
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    clock.now += 5  # idle: no one waited
    rl.acquire()
    assert rl.rate == 10
    for _ in range(60):  # a caller that always wants more
        rl.acquire()
    assert rl.rate > 12


def test_a_throttle_settles_just_below_the_accepted_rate():
    clock = Clock()
    rl = limiter(clock, initial_rate=50)
    for _ in range(40):  # the service accepted 20 per second over the last 2 seconds
        clock.now += 0.05
        rl.record(throttled=False)
    rl.record(throttled=True)
    assert rl.rate == pytest.approx(0.9 * 20, rel=0.05)
    assert rl.throttles == 1
    rate = rl.rate
    rl.record(throttled=True)  # the same wave: no second cut
    assert rl.rate == rate and rl.throttles == 2


def test_after_a_throttle_growth_is_slow():
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    rl.record(throttled=True)
    settled = rl.rate
    for _ in range(200):
        rl.acquire()
    elapsed = clock.now
    assert settled < rl.rate <= settled * (1.02 ** (elapsed + 1))


def test_fixed_rate_never_learns():
    clock = Clock()
    rl = limiter(clock, initial_rate=3, learn=False)
    rl.record(throttled=True)
    for _ in range(50):
        rl.acquire()
    assert rl.rate == 3
