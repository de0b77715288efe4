"""Client-side rate control per region, so parallel streams do not amplify throttling.

Access Analyzer publishes no request-rate quota, so the rate is learned. A region's limiter
starts at a typical AWS API rate and, while callers are actually waiting on it, grows by a
fifth every second ("slow start"). The first ThrottlingException ends the slow start: the
rate becomes 90% of what the service accepted over the last two seconds, and from then on
it grows by a small step per second, only while there is demand. The result is a few
throttles per busy region instead of a steady stream of them, and no waiting in a region
that never pushes the limit.

Every attempt passes through `acquire` (botocore's before-send event, so retries are paced
too) and reports back through `record` (its response-received event).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

THROTTLE_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling",
                            "RequestLimitExceeded", "SlowDown"})


class RateLimiter:
    """A token bucket whose rate is learned from the service's throttles (thread-safe)."""

    WINDOW = 2.0  # seconds of successes that estimate the accepted rate
    SLOW_START_GROWTH = 1.2  # per second, until the first throttle
    BACKOFF = 0.9  # share of the accepted rate to settle at after a throttle
    PROBE_STEP = 0.02  # relative growth per second after the first throttle
    MIN_RATE = 0.5

    def __init__(self, initial_rate: float = 10.0, learn: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = float(initial_rate)
        self.learn = learn
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        self._tokens = max(1.0, self.rate)  # a full bucket: the first second is a burst
        self._stamp = now
        self._grown = now
        self._waited = False
        self._slow_start = True
        self._last_throttle = -1e9
        self._successes: deque[float] = deque()
        self.throttles = 0

    def acquire(self) -> float:
        """Take a token, waiting for it if the bucket is empty; returns the seconds waited.

        The token is reserved at once (the bucket may go into debt), so callers are served
        in arrival order and each sleeps exactly once.
        """
        with self._lock:
            self._refill(self._clock())
            self._tokens -= 1.0
            if self._tokens >= 0.0:
                return 0.0
            self._waited = True
            pause = -self._tokens / self.rate
        self._sleep(pause)
        return pause

    def record(self, throttled: bool) -> None:
        """One response: a throttle lowers the rate, successes measure the accepted rate."""
        if not self.learn:
            return
        with self._lock:
            now = self._clock()
            self._refill(now)
            if not throttled:
                self._successes.append(now)
                while self._successes and self._successes[0] < now - self.WINDOW:
                    self._successes.popleft()
                return
            self.throttles += 1
            if now - self._last_throttle < 1.0:
                return  # one adjustment per wave of throttles
            self._last_throttle = now
            self._slow_start = False
            while self._successes and self._successes[0] < now - self.WINDOW:
                self._successes.popleft()
            span = min(self.WINDOW, max(0.25, now - (self._successes[0] if self._successes
                                                     else now)))
            accepted = len(self._successes) / span if self._successes else self.rate / 2
            self.rate = max(self.MIN_RATE, min(self.rate, accepted) * self.BACKOFF)
            self._tokens = min(self._tokens, 0.0)

    def _refill(self, now: float) -> None:
        elapsed = now - self._stamp
        self._stamp = now
        self._tokens = min(max(1.0, self.rate), self._tokens + elapsed * self.rate)
        if self.learn and now - self._grown >= 1.0:
            if self._waited:  # grow only under demand
                growth = self.SLOW_START_GROWTH if self._slow_start else 1 + self.PROBE_STEP
                self.rate *= growth ** (now - self._grown)
            self._grown = now
            self._waited = False


def attach(client: Any, limiter: RateLimiter) -> None:
    """Pace every attempt of a botocore client through `limiter`."""
    service = client.meta.service_model.service_id.hyphenize()

    def before_send(**_: Any) -> None:
        limiter.acquire()

    def response_received(parsed_response: Any = None, response_dict: Any = None,
                          exception: Any = None, **_: Any) -> None:
        if exception is not None or parsed_response is None:
            return  # no answer (a timeout, a reset): says nothing about the rate
        code = ((parsed_response or {}).get("Error") or {}).get("Code")
        status = (response_dict or {}).get("status_code")
        limiter.record(code in THROTTLE_CODES or status == 429)

    client.meta.events.register(f"before-send.{service}", before_send)
    client.meta.events.register(f"response-received.{service}", response_received)
