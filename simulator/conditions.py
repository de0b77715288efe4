"""Per-region service conditions (latency, rate limits, denials, faults) and call statistics."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Conditions:
    """How a region's Access Analyzer endpoint behaves. All fields optional in a scenario."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_limit: float | None = None  # sustained requests per second (token bucket)
    burst: int | None = None  # bucket size; defaults to the rate limit, at least 1
    error_rate: float = 0.0  # share of requests answered with InternalServerException
    deny: bool = False  # every call denied, as a region-deny SCP does
    hang_seconds: float = 0.0  # the endpoint accepts the request but answers this late
    error_operations: tuple[str, ...] = ()  # faults only for these operations (all if empty)
    error_after: int = 0  # faults start after this many calls to the region
    throttle_first: int = 0  # the region's first N calls are throttled, whatever the rate
    reject_credentials: bool = False  # answers like a region not enabled, whatever it is listed as


DENY_MESSAGE = (
    "User: {principal} is not authorized to perform: access-analyzer:{operation} "
    "on resource: arn:aws:access-analyzer:{region}:{account}:* with an explicit deny "
    "in a service control policy"
)


class TokenBucket:
    """A thread-safe token bucket: `take()` is False when the caller must be throttled."""

    def __init__(self, rate: float, burst: int | None) -> None:
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, round(rate)))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            stamp = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (stamp - self._stamp) * self.rate)
            self._stamp = stamp
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class Stats:
    """Calls per operation per region, throttles and faults issued, peak concurrency, and how
    long each region's first call waited to get through unthrottled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            self.throttles: dict[str, int] = defaultdict(int)
            self.faults: dict[str, int] = defaultdict(int)
            self.denials: dict[str, int] = defaultdict(int)
            self.in_flight = 0
            self.peak_in_flight = 0
            self.in_flight_by_region: dict[str, int] = defaultdict(int)
            self.peak_by_region: dict[str, int] = defaultdict(int)
            self.operations: dict[tuple[str, str], int] = defaultdict(int)
            self.first_call: dict[str, float] = {}
            self.first_unthrottled: dict[str, float] = {}

    def enter(self, service: str, region: str, operation: str) -> None:
        with self._lock:
            self.calls[f"{service}:{region}"][operation] += 1
            self.first_call.setdefault(region, time.monotonic())
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.in_flight_by_region[region] += 1
            self.peak_by_region[region] = max(self.peak_by_region[region],
                                              self.in_flight_by_region[region])

    def leave(self, region: str) -> None:
        with self._lock:
            self.in_flight -= 1
            self.in_flight_by_region[region] -= 1

    def record(self, service: str, operation: str) -> None:
        """Every operation a client (not the world's own seeding) called, any service."""
        with self._lock:
            self.operations[(service, operation)] += 1

    def unthrottled(self, region: str) -> None:
        """A call of the region got past throttling (the first one ends the region's wait)."""
        with self._lock:
            self.first_unthrottled.setdefault(region, time.monotonic())

    def count(self, kind: str, region: str) -> None:
        with self._lock:
            getattr(self, kind)[region] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            calls: dict[str, dict[str, dict[str, int]]] = {}
            for key, ops in self.calls.items():
                service, region = key.split(":", 1)
                calls.setdefault(service, {})[region] = dict(ops)
            return {
                "calls": calls,
                "total_calls": sum(sum(ops.values()) for ops in self.calls.values()),
                "throttles": dict(self.throttles),
                "faults": dict(self.faults),
                "denials": dict(self.denials),
                "peak_concurrent_requests": self.peak_in_flight,
                "peak_concurrent_requests_by_region": dict(self.peak_by_region),
                "operations": {f"{service}:{operation}": count for (service, operation), count
                               in sorted(self.operations.items())},
                # From a region's first Access Analyzer call to the arrival of its first call
                # that was not throttled: the client's retry backoff through a burst.
                "seconds_to_first_unthrottled": {
                    region: round(stamp - self.first_call[region], 3)
                    for region, stamp in self.first_unthrottled.items()},
            }


class RegionGate:
    """Applies a region's conditions to one request; owned by the world, shared by threads."""

    def __init__(self, conditions: Conditions, seed: int | None = None) -> None:
        self.conditions = conditions
        self.bucket = (TokenBucket(conditions.rate_limit, conditions.burst)
                       if conditions.rate_limit else None)
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        self._calls = 0
        self._arrivals = 0

    def throttled(self) -> bool:
        """Whether to answer this call with ThrottlingException.

        The region's first `throttle_first` calls are, whatever the rate (a burst of throttles
        at the start, then none); after them the rate limit, if any, decides.
        """
        c = self.conditions
        if c.throttle_first:
            with self._random_lock:
                self._arrivals += 1
                if self._arrivals <= c.throttle_first:
                    return True
        return self.bucket is not None and not self.bucket.take()

    def delay(self) -> float:
        c = self.conditions
        if c.hang_seconds:
            return c.hang_seconds
        if not c.latency_ms and not c.jitter_ms:
            return 0.0
        with self._random_lock:
            jitter = self._random.uniform(-c.jitter_ms, c.jitter_ms) if c.jitter_ms else 0.0
        return max(0.0, c.latency_ms + jitter) / 1000.0

    def fault(self, operation: str) -> bool:
        c = self.conditions
        with self._random_lock:
            self._calls += 1
            if not c.error_rate or self._calls <= c.error_after:
                return False
            if c.error_operations and operation not in c.error_operations:
                return False
            return self._random.random() < c.error_rate
