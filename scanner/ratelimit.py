"""Client-side rate control per region, so parallel streams do not amplify throttling (and
for STS, whose AssumeRole calls the member view makes by the thousand; STS throttles with
code Throttling).

Access Analyzer publishes no request-rate quota, so the rate is learned. A region's limiter
starts at a typical AWS API rate and, while callers are actually waiting on it, grows by a
fifth every second ("slow start"). A ThrottlingException lowers the rate in one of two ways:

- measured: successes over the last two seconds, spanning at least one, tell what the
  service accepts. The rate becomes 90% of that, slow start ends, and from then on the rate
  grows by a small step per second, only while there is demand.
- unmeasured: without such successes (the region's first calls, or the first after a pause)
  there is no rate to measure; the answers of a burst say how many calls were in flight, not
  what the service sustains. The rate is halved, and the rate before the cut is kept as a
  ceiling: while calls succeed, without new throttles, under demand, the rate doubles every
  second back up to it, then slow start goes on. More throttles before any success do not
  cut again (the service accepted nothing at either rate, and botocore's backoff already
  spaces the retries); a real limit lets some calls through, and its next throttle is
  measured.

Throttles of one wave are one signal: a throttle of a request that took its token before
the last cut was paced at the old rate and changes nothing (when that time is unknown,
throttles within a second of the last cut are ignored instead). The result is a few
throttles per busy region instead of a steady stream of them, no waiting in a region that
never pushes the limit, and about a second at half the rate after a burst of throttles at
the start (on top of botocore's own backoff before each retry).

Every attempt passes through `acquire` (botocore's before-send event, so retries are paced
too) and reports back through `record` (its response-received event). The time it took its
token travels in the request context, the one dict botocore passes to both events.

The limiter also measures each attempt's round trip (from the moment it is sent, its token
taken, to its answer): with the rate, it tells how many calls a region needs in flight to
use its rate (`concurrency`, Little's law), which the scan driver holds each region to.

A throttled attempt is retried on a faster schedule than botocore's: its exponential backoff
starts at one second (rand(0, 1) * 2**n: 15 s on average before a call throttled five times
in a row gets through), which is right for a client that does not pace itself. Here the
limiter already slowed down, so the backoff starts at 25 ms and doubles, up to botocore's
own 20 s cap, over a few more attempts than other errors get: the first retries are quick,
the patience with a service that keeps throttling stays about the same (about a minute).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

THROTTLE_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling",
                            "RequestLimitExceeded", "SlowDown"})
THROTTLE_BACKOFF_BASE = 0.025  # seconds before the first retry of a throttled attempt
THROTTLE_BACKOFF_CAP = 20.0  # botocore's own cap
THROTTLE_EXTRA_ATTEMPTS = 4  # beyond max_attempts, for throttles only (see the docstring)


def throttle_retry_delay(attempts: int, jitter: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retrying an attempt that was throttled `attempts` times."""
    ceiling = min(THROTTLE_BACKOFF_CAP, THROTTLE_BACKOFF_BASE * 2.0 ** (attempts - 1))
    return float(ceiling * (0.5 + jitter() / 2))  # equal jitter: never zero, never the same
PACED_AT = "aa_scan_paced_at"  # request-context key: when the attempt asked for its token
SENT_AT = "aa_scan_sent_at"  # request-context key: when it had its token and was sent
MAX_CONCURRENCY = 32  # calls in flight in one region (and its client's connections), at most


class RateLimiter:
    """A token bucket whose rate is learned from the service's throttles (thread-safe)."""

    WINDOW = 2.0  # seconds of successes that estimate the accepted rate
    MEASURE = 1.0  # seconds the successes must span to measure a rate rather than a burst
    SLOW_START_GROWTH = 1.2  # per second, until the first measured throttle
    UNMEASURED_CUT = 0.5  # share of the last rate that worked, after an unmeasured throttle
    RECOVERY_GROWTH = 2.0  # per second, back up to the rate before an unmeasured cut
    BACKOFF = 0.9  # share of the accepted rate to settle at after a measured throttle
    PROBE_STEP = 0.02  # relative growth per second after a measured throttle
    MIN_RATE = 0.5
    LATENCY_WEIGHT = 0.2  # of each new round trip in the running mean
    INITIAL_LATENCY = 0.1  # seconds, until a round trip has been measured
    HEADROOM = 1.5  # calls in flight beyond rate x latency, so the rate can be seen to grow

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
        self._ceiling: float | None = None  # the rate before an unmeasured cut, to recover to
        self._cut = -1e9  # when the rate was last lowered
        self._successes: deque[float] = deque()
        self.throttles = 0
        self.latency: float | None = None  # seconds a round trip takes (a running mean)

    def now(self) -> float:
        """The limiter's clock: what `record` expects as `sent`."""
        return self._clock()

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

    def observe(self, seconds: float) -> None:
        """One attempt's round trip, from its sending to its answer (any answer)."""
        with self._lock:
            known = self.latency
            self.latency = seconds if known is None else (
                known + self.LATENCY_WEIGHT * (seconds - known))

    def concurrency(self, ceiling: int) -> int:
        """Calls to keep in flight so the rate is used: rate x round trip (Little's law),
        with headroom (callers that wait on the bucket are what lets the rate grow), at least
        one, at most `ceiling`."""
        latency = self.latency if self.latency is not None else self.INITIAL_LATENCY
        wanted = math.ceil(self.rate * latency * self.HEADROOM) + 1
        return max(1, min(ceiling, wanted))

    def record(self, throttled: bool, sent: float | None = None) -> None:
        """One response: a throttle may lower the rate, successes measure the accepted rate.

        `sent` is when the request asked for its token (`now()` just before `acquire`), if
        known: a throttle of a request paced before the last cut belongs to that cut's wave.
        """
        if not self.learn:
            return
        with self._lock:
            now = self._clock()
            self._refill(now)
            while self._successes and self._successes[0] < now - self.WINDOW:
                self._successes.popleft()
            if not throttled:
                self._successes.append(now)
                return
            self.throttles += 1
            if sent is not None and sent < self._cut:
                return  # paced at the old rate: the cut already answered it
            if sent is None and now - self._cut < 1.0:
                return  # no send time: one cut per second of throttles
            if self._successes and now - self._successes[0] >= self.MEASURE:
                span = min(self.WINDOW, now - self._successes[0])
                accepted = len(self._successes) / span
                self._slow_start = False
                self._ceiling = None
                self._lower(now, min(self.rate, accepted) * self.BACKOFF)
                return
            if self._ceiling is None:
                self._ceiling = self.rate
            target = max(self.MIN_RATE, self._ceiling * self.UNMEASURED_CUT)
            if target < self.rate:
                self._lower(now, target)
            else:  # already there: recovery waits for a second without throttles from now
                self._grown = now
                self._waited = False

    def _lower(self, now: float, rate: float) -> None:
        self.rate = max(self.MIN_RATE, rate)
        self._tokens = min(self._tokens, 0.0)
        self._cut = now
        self._grown = now  # growth is judged on a full second at the new rate, unthrottled
        self._waited = False

    def _refill(self, now: float) -> None:
        elapsed = now - self._stamp
        self._stamp = now
        self._tokens = min(max(1.0, self.rate), self._tokens + elapsed * self.rate)
        if self.learn and now - self._grown >= 1.0:
            seconds = now - self._grown
            if self._ceiling is not None:
                # Recovering from an unmeasured cut: fast, but only on evidence that the cut
                # was not needed (calls waited and succeeded; a throttle restarts the second).
                succeeded = bool(self._successes) and self._successes[-1] >= self._grown
                if self._waited and succeeded:
                    self.rate = min(self._ceiling, self.rate * self.RECOVERY_GROWTH ** seconds)
                    if self.rate >= self._ceiling:
                        self._ceiling = None
            elif self._waited:  # grow only under demand
                growth = self.SLOW_START_GROWTH if self._slow_start else 1 + self.PROBE_STEP
                self.rate *= growth ** seconds
            self._grown = now
            self._waited = False


def _throttled(parsed_response: Any, response_dict: Any) -> bool:
    code = ((parsed_response or {}).get("Error") or {}).get("Code")
    status = (response_dict or {}).get("status_code")
    return code in THROTTLE_CODES or status == 429


def attach(client: Any, limiter: RateLimiter, max_attempts: int) -> None:
    """Pace every attempt of a botocore client through `limiter`, and retry its throttled
    attempts on the limiter's schedule (see the module docstring)."""
    service = client.meta.service_model.service_id.hyphenize()
    # max_attempts 1 means no retries at all; otherwise throttles get a few more attempts.
    throttle_attempts = max_attempts + THROTTLE_EXTRA_ATTEMPTS if max_attempts > 1 else 1

    def before_send(request: Any = None, **_: Any) -> None:
        paced_at = limiter.now()
        limiter.acquire()
        context = getattr(request, "context", None)
        if isinstance(context, dict):  # the same dict reaches response-received
            context[PACED_AT] = paced_at
            context[SENT_AT] = limiter.now()

    def response_received(parsed_response: Any = None, response_dict: Any = None,
                          exception: Any = None, context: Any = None, **_: Any) -> None:
        if exception is not None or parsed_response is None:
            return  # no answer (a timeout, a reset): says nothing about the rate
        known = isinstance(context, dict)
        if known and context.get(SENT_AT) is not None:
            limiter.observe(limiter.now() - context[SENT_AT])
        limiter.record(_throttled(parsed_response, response_dict),
                       context.get(PACED_AT) if known else None)

    def needs_retry(response: Any = None, attempts: int = 0, **_: Any) -> float | None:
        """The delay before retrying a throttled attempt; None leaves any other outcome
        (and a throttle past the attempts allowed) to botocore's retry handler."""
        if not response or attempts >= throttle_attempts:
            return None
        http, parsed = response
        if not _throttled(parsed, {"status_code": getattr(http, "status_code", None)}):
            return None
        return throttle_retry_delay(attempts)

    client.meta.events.register(f"before-send.{service}", before_send)
    client.meta.events.register(f"response-received.{service}", response_received)
    # First, so its delay is the one botocore's endpoint uses (the first non-None answer).
    client.meta.events.register_first(f"needs-retry.{service}", needs_retry)
