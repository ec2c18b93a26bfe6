"""IOTimerEventSource: one-shot timeouts in virtual time, re-arming, cancelling,
and where the action runs."""

from __future__ import annotations

import itertools
import time

import pytest

from kextlab.kernel.ioreturn import kIOReturnNoResources, kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.workloop import IOTimerEventSource, IOWorkLoop
from kextlab.kernel.workloop.timer_event_source import (
    kIOTimerEventSourceOptionsPriorityWorkLoop,
)
from kextlab.sim.time import MICROSECOND, MILLISECOND, SECOND
from tests.kernel.workloop.conftest import Driver


@pytest.fixture
def loop(kernel: Kernel) -> IOWorkLoop:
    made = IOWorkLoop.workLoop()
    assert made is not None
    return made


def _timer(loop: IOWorkLoop, driver: Driver, *options: int) -> IOTimerEventSource:
    def action(owner: Driver, sender: IOTimerEventSource) -> None:
        owner.calls.append((loop.inGate(), loop.onThread(), sender.fired))

    timer = IOTimerEventSource.timerEventSource(*options, driver, action)
    assert timer is not None
    assert loop.addEventSource(timer) == kIOReturnSuccess
    return timer


def _finish(loop: IOWorkLoop, timer: IOTimerEventSource, driver: Driver) -> None:
    loop.removeEventSource(timer)
    timer.release()
    loop.release()
    driver.release()


def test_a_thirty_second_timeout_fires_once_in_virtual_time(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """setTimeoutMS(30000) fires exactly 30 s later in virtual time, in milliseconds of
    real time."""
    driver = Driver()
    timer = _timer(loop, driver)
    start = kernel.scheduler.now
    wall = time.perf_counter()
    fired_at: list[int] = []
    timer.setAction(lambda owner, sender: fired_at.append(kernel.scheduler.now))
    assert timer.setTimeoutMS(30_000) == kIOReturnSuccess
    kernel.machine.run()
    assert time.perf_counter() - wall < 2.0
    assert fired_at == [start + 30 * SECOND]
    kernel.machine.run_for(60 * SECOND)
    assert fired_at == [start + 30 * SECOND]  # a one-shot
    _finish(loop, timer, driver)


def test_the_default_timer_runs_its_action_under_the_gate_off_the_loop_thread(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """Default priority: a callout thread closes the gate and calls the action."""
    driver = Driver()
    timer = _timer(loop, driver)
    timer.setTimeoutUS(250)
    kernel.machine.run()
    assert driver.calls == [(True, False, 1)]
    _finish(loop, timer, driver)


def test_a_work_loop_timer_runs_its_action_on_the_loop_thread(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """kIOTimerEventSourceOptionsPriorityWorkLoop: the loop's own thread runs the action."""
    driver = Driver()
    timer = _timer(loop, driver, kIOTimerEventSourceOptionsPriorityWorkLoop)
    timer.setTimeoutTicks(1)
    start = kernel.scheduler.now
    kernel.machine.run()
    assert driver.calls == [(True, True, 1)]
    assert kernel.scheduler.now >= start + 10 * MILLISECOND
    _finish(loop, timer, driver)


@pytest.mark.parametrize("options", [(), (kIOTimerEventSourceOptionsPriorityWorkLoop,)])
def test_an_action_that_rearms_makes_a_periodic_timer(
    kernel: Kernel, loop: IOWorkLoop, options: tuple[int, ...]
) -> None:
    """Re-arming from the action is how a periodic timer is built."""
    driver = Driver()
    times: list[int] = []

    def tick(owner: Driver, sender: IOTimerEventSource) -> None:
        times.append(kernel.scheduler.now)
        if len(times) < 5:
            sender.setTimeoutMS(2)

    timer = IOTimerEventSource.timerEventSource(*options, driver, tick)
    assert timer is not None
    loop.addEventSource(timer)
    timer.setTimeoutMS(2)
    kernel.machine.run()
    assert len(times) == 5
    assert all(later - earlier == 2 * MILLISECOND for earlier, later in itertools.pairwise(times))
    _finish(loop, timer, driver)


@pytest.mark.parametrize("options", [(), (kIOTimerEventSourceOptionsPriorityWorkLoop,)])
def test_cancel_and_rearm(kernel: Kernel, loop: IOWorkLoop, options: tuple[int, ...]) -> None:
    """cancelTimeout withdraws the expiry; re-arming moves the deadline (only the last counts)."""
    driver = Driver()
    timer = _timer(loop, driver, *options)
    timer.setTimeoutMS(5)
    assert timer.is_armed()
    timer.cancelTimeout()
    assert not timer.is_armed()
    kernel.machine.run_for(10 * MILLISECOND)
    assert driver.calls == []
    start = kernel.scheduler.now
    fired: list[int] = []
    timer.setAction(lambda owner, sender: fired.append(kernel.scheduler.now))
    timer.setTimeoutMS(5)
    timer.setTimeoutMS(7)
    kernel.machine.run()
    assert fired == [start + 7 * MILLISECOND]
    _finish(loop, timer, driver)


def test_disable_withdraws_and_enable_rearms_at_the_same_deadline(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """A disabled timer does not fire; enabling it again re-arms its deadline."""
    driver = Driver()
    timer = _timer(loop, driver)
    start = kernel.scheduler.now
    fired: list[int] = []
    timer.setAction(lambda owner, sender: fired.append(kernel.scheduler.now))
    timer.wakeAtTime(start + 3 * MILLISECOND)
    timer.disable()
    kernel.machine.run_for(MILLISECOND)
    timer.enable()
    kernel.machine.run()
    assert fired == [start + 3 * MILLISECOND]
    _finish(loop, timer, driver)


def test_wake_at_time_with_a_scale_and_a_deadline_in_the_past(
    kernel: Kernel, loop: IOWorkLoop
) -> None:
    """wakeAtTimeUS takes an absolute time; a deadline already past fires at once."""
    driver = Driver()
    timer = _timer(loop, driver)
    kernel.machine.run_for(MILLISECOND)
    now = kernel.scheduler.now
    fired: list[int] = []
    timer.setAction(lambda owner, sender: fired.append(kernel.scheduler.now))
    deadline = (now // MICROSECOND + 100) * MICROSECOND
    timer.wakeAtTimeUS(now // MICROSECOND + 100)
    kernel.machine.run()
    assert fired == [deadline]
    timer.wakeAtTime(now)  # in the past now
    kernel.machine.run()
    assert fired[-1] == deadline
    assert len(fired) == 2
    _finish(loop, timer, driver)


def test_a_timer_without_an_action_cannot_be_armed(kernel: Kernel, loop: IOWorkLoop) -> None:
    """wakeAtTime needs an action: kIOReturnNoResources."""
    driver = Driver()
    timer = IOTimerEventSource.timerEventSource(driver)
    assert timer is not None
    loop.addEventSource(timer)
    assert timer.setTimeoutMS(1) == kIOReturnNoResources
    _finish(loop, timer, driver)


def test_freeing_an_armed_timer_cancels_it(kernel: Kernel, loop: IOWorkLoop) -> None:
    """A timer released while armed never fires and leaves nothing pending."""
    driver = Driver()
    timer = _timer(loop, driver)
    timer.setTimeoutMS(5)
    loop.removeEventSource(timer)
    timer.release()
    loop.release()
    kernel.machine.run()
    assert driver.calls == []
    assert kernel.scheduler.pending_events() == 0
    driver.release()
