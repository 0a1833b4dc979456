"""The in-process worker gives way to webhook bursts, and runs at full speed otherwise."""

from __future__ import annotations

import pytest

from service.worker import runner
from service.worker.runner import Pacer


class _Clock:
    """A monotonic clock the test moves by hand; `sleep` records and advances it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(runner.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(runner.time, "sleep", fake.sleep)
    return fake


def _step(pacer: Pacer, clock: _Clock, seconds: float) -> None:
    with pacer.paced():
        clock.now += seconds


def test_a_busy_api_holds_the_worker_to_its_share(clock: _Clock) -> None:
    pacer = Pacer(lambda: True, share=0.25)
    _step(pacer, clock, 0.01)
    # 10 ms of work at a 25 % share: 30 ms of pause, so work is a quarter of the time.
    assert clock.slept == [pytest.approx(0.03)]


def test_an_idle_api_costs_the_worker_nothing(clock: _Clock) -> None:
    _step(Pacer(lambda: False, share=0.25), clock, 0.01)
    _step(Pacer(None, share=0.25), clock, 0.01)
    _step(Pacer(lambda: True, share=1.0), clock, 0.01)
    assert clock.slept == []


def test_a_long_step_never_stalls_the_worker_for_long(clock: _Clock) -> None:
    _step(Pacer(lambda: True, share=0.1), clock, 2.0)
    assert clock.slept == [Pacer.MAX_PAUSE_SECONDS]
