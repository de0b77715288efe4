"""The per-region rate limiter, on a fake clock."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from scanner.ratelimit import RateLimiter, attach


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(clock: Clock, **kwargs) -> RateLimiter:
    return RateLimiter(clock=clock, sleep=clock.sleep, **kwargs)


def client() -> Any:
    """A real Access Analyzer client (no call below reaches the network)."""
    return botocore.session.get_session().create_client(
        "accessanalyzer", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


class Wire:
    """botocore's two events around one attempt, emitted by hand so that attempts overlap."""

    def __init__(self, clock: Clock, rl: RateLimiter) -> None:
        self.clock = clock
        self.events = client().meta.events
        attach(SimpleNamespace(meta=SimpleNamespace(
            events=self.events, service_model=client().meta.service_model)), rl, 1)

    def send(self) -> dict[str, Any]:
        request = SimpleNamespace(context={})
        self.events.emit("before-send.accessanalyzer.ListFindings", request=request)
        return request.context

    def answer(self, context: dict[str, Any], at: float, throttled: bool) -> None:
        self.clock.now = max(self.clock.now, at)
        error = {"Error": {"Code": "ThrottlingException"}} if throttled else {}
        self.events.emit("response-received.accessanalyzer.ListFindings", context=context,
                         parsed_response=error, exception=None,
                         response_dict={"status_code": 429 if throttled else 200})


def busy_seconds(clock: Clock, rl: RateLimiter, seconds: float) -> None:
    """A caller that always wants more, and every call succeeds."""
    end = clock.now + seconds
    while clock.now < end:
        rl.acquire()
        rl.record(throttled=False)


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


def test_after_a_measured_throttle_growth_is_slow():
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    for _ in range(20):  # two seconds of successes: the throttle below is measured
        clock.now += 0.1
        rl.record(throttled=False)
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


def test_throttles_of_one_wave_cut_the_rate_once():
    # Five requests leave together; their throttles come back over 2.4 seconds (slow answers).
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    wire = Wire(clock, rl)
    wave = [wire.send() for _ in range(5)]
    for context, at in zip(wave, (0.2, 0.7, 1.3, 1.9, 2.6), strict=True):
        wire.answer(context, at, throttled=True)
    assert rl.throttles == 5
    assert rl.rate == 5.0  # one cut, to half: nothing measured what the service accepts


def test_a_throttle_paced_after_a_cut_still_counts():
    # A real, persistent limit: successes at 10 per second, then throttles, wave after wave.
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    wire = Wire(clock, rl)
    for step in range(1, 21):
        wire.answer(wire.send(), step / 10, throttled=False)
    late = wire.send()  # paced before the cut below
    wire.answer(wire.send(), 2.05, throttled=True)
    first_cut = rl.rate
    assert first_cut == pytest.approx(0.9 * 10, rel=0.05)  # measured: 20 in 2 seconds
    wire.answer(late, 2.1, throttled=True)  # the same wave
    assert rl.rate == first_cut
    clock.now = 2.2
    wire.answer(wire.send(), 2.4, throttled=True)  # paced at the new rate, still too fast
    assert rl.rate == pytest.approx(0.9 * 17 / 2)  # a second cut: 17 successes in 2 seconds
    assert rl.throttles == 3


def test_after_a_burst_only_throttle_the_rate_recovers_fast():
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    rl.record(throttled=True)  # no success yet, no send time: the fall-back path
    assert rl.rate < 10.0
    busy_seconds(clock, rl, 3.0)
    assert rl.rate >= 10.0  # back to where it was
    busy_seconds(clock, rl, 3.0)
    assert rl.rate > 15.0  # and slow start goes on: the rate was never measured


def test_retries_throttled_before_any_success_do_not_compound():
    # One call throttled five times in a row, each retry after botocore's backoff: the
    # service accepted nothing at 10 or at 5 per second, so there is nothing to cut to.
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    wire = Wire(clock, rl)
    for at in (0.1, 0.9, 2.6, 5.8, 12.1):
        clock.now = at - 0.1
        wire.answer(wire.send(), at, throttled=True)
    assert rl.throttles == 5
    assert rl.rate == 5.0
    busy_seconds(clock, rl, 2.5)
    assert rl.rate >= 10.0


def test_the_first_answers_of_a_burst_do_not_measure_a_rate():
    # Two successes came back just before the first throttle: that is how many calls were
    # in flight, not what the service sustains (2 in a quarter second would say 8/s).
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    wire = Wire(clock, rl)
    burst = [wire.send() for _ in range(10)]
    wire.answer(burst[0], 0.10, throttled=False)
    wire.answer(burst[1], 0.11, throttled=False)
    wire.answer(burst[2], 0.12, throttled=True)
    assert rl.rate == 5.0
    busy_seconds(clock, rl, 3.0)
    assert rl.rate >= 10.0


def test_recovery_waits_while_throttles_continue_and_ends_at_a_measured_one():
    clock = Clock()
    rl = limiter(clock, initial_rate=10)
    wire = Wire(clock, rl)
    wire.answer(wire.send(), 0.1, throttled=True)
    assert rl.rate == 5.0
    highest = rl.rate
    next_throttle = 0.6
    while clock.now < 2.0:  # successes under demand, and a new throttle every half second
        context = wire.send()  # waits for its token: demand
        throttled = clock.now >= next_throttle
        next_throttle += 0.5 if throttled else 0.0
        wire.answer(context, clock.now, throttled)
        highest = max(highest, rl.rate)
    assert highest == 5.0  # no recovery while the service keeps throttling
    # Once the successes span a second, a throttle measures what the service accepts (at
    # 1.7 s: the 5 successes since 0.3 s) and settles below it; growth is slow from there.
    assert rl.rate == pytest.approx(0.9 * 5 / 1.4)
    settled = rl.rate
    busy_seconds(clock, rl, 3.0)
    assert settled < rl.rate <= settled * 1.02 ** 4


def test_botocore_carries_the_pacing_time_from_send_to_answer(monkeypatch):
    # The request context is the one dict botocore hands to before-send (as request.context)
    # and to response-received (as context), attempt by attempt.
    clock = Clock()
    clock.now = 7.0
    rl = limiter(clock, initial_rate=10)
    recorded: list[tuple[bool, float | None]] = []
    monkeypatch.setattr(rl, "record", lambda throttled, sent=None: recorded.append(
        (throttled, sent)))
    aa = client()
    attach(aa, rl, 1)

    def throttle(request: Any, **_: Any) -> AWSResponse:
        clock.now += 0.3  # the answer takes a while
        body = SimpleNamespace(stream=lambda **_: iter([b'{"message": "Rate exceeded"}']))
        return AWSResponse(request.url, 429, {"x-amzn-ErrorType": "ThrottlingException",
                                              "Content-Type": "application/json"}, body)

    aa.meta.events.register("before-send.accessanalyzer", throttle)  # after the limiter's
    with pytest.raises(aa.exceptions.ThrottlingException):
        aa.list_analyzers()
    assert recorded == [(True, 7.0)]


def test_a_throttled_call_is_retried_quickly_and_still_gives_up(monkeypatch):
    """botocore waits rand(0, 1) * 2**n s before each retry (15 s on average for a call
    throttled five times in a row); a paced client retries from 25 ms, doubling, with a few
    more attempts for throttles, so its patience stays about the same."""
    import botocore.endpoint
    from botocore.config import Config

    from scanner.ratelimit import THROTTLE_EXTRA_ATTEMPTS, throttle_retry_delay

    assert [round(throttle_retry_delay(n, lambda: 1.0), 3) for n in (1, 2, 3, 11, 30)] == [
        0.025, 0.05, 0.1, 20.0, 20.0]
    assert throttle_retry_delay(1, lambda: 0.0) == 0.0125  # equal jitter: never zero
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", slept.append)

    def run(throttles: int, max_attempts: int) -> tuple[int, Any]:
        aa = botocore.session.get_session().create_client(
            "accessanalyzer", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret", config=Config(retries={
                "mode": "standard", "total_max_attempts": max_attempts}))
        attach(aa, RateLimiter(initial_rate=1000, learn=False), max_attempts)
        calls = []

        def answer(request: Any, **_: Any) -> AWSResponse:
            calls.append(1)
            throttled = len(calls) <= throttles
            body = SimpleNamespace(stream=lambda **_: iter(
                [b'{"message": "Rate exceeded"}' if throttled else b'{"analyzers": []}']))
            headers = {"Content-Type": "application/json"}
            if throttled:
                headers["x-amzn-ErrorType"] = "ThrottlingException"
            return AWSResponse(request.url, 429 if throttled else 200, headers, body)

        aa.meta.events.register("before-send.accessanalyzer", answer)
        try:
            result: Any = aa.list_analyzers()
        except aa.exceptions.ThrottlingException as exc:
            result = exc
        return len(calls), result

    calls, result = run(throttles=5, max_attempts=8)
    assert calls == 6 and result["analyzers"] == []
    assert sum(slept) < 0.8  # botocore's own schedule allows up to 31 s here
    slept.clear()
    calls, result = run(throttles=100, max_attempts=8)
    assert calls == 8 + THROTTLE_EXTRA_ATTEMPTS and isinstance(result, Exception)
    assert 20 < sum(slept) < 80  # about a minute of patience, like botocore's
    slept.clear()
    calls, result = run(throttles=100, max_attempts=1)  # no retries means none
    assert calls == 1 and slept == []
