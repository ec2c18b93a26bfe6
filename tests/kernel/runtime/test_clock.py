"""AbsoluteTime, interval conversions, IOSleep, IODelay and IOPause on the virtual clock."""

from __future__ import annotations

import time

import pytest

from kextlab.errors import InternalError, InterruptContextViolation, LockError
from kextlab.kernel.clock import (
    IODelay,
    IOPause,
    IOSleep,
    IOSleepWithLeeway,
    absolutetime_to_nanoseconds,
    clock_absolutetime_interval_to_deadline,
    clock_get_uptime,
    clock_interval_to_absolutetime_interval,
    clock_interval_to_deadline,
    kMicrosecondScale,
    kMillisecondScale,
    kNanosecondScale,
    kSecondScale,
    kTickScale,
    mach_absolute_time,
    nanoseconds_to_absolutetime,
)
from kextlab.kernel.locks import IOSimpleLockAlloc, IOSimpleLockLock, IOSimpleLockUnlock
from kextlab.sim.context import Context
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.time import MICROSECOND, MILLISECOND, SECOND
from tests.kernel.runtime.conftest import Device


def test_the_scale_factors_are_iotypes_values() -> None:
    """kNanosecondScale ... kTickScale as IOKit/IOTypes.h defines them (a 100 Hz tick)."""
    assert (kNanosecondScale, kMicrosecondScale, kMillisecondScale) == (1, 1000, 1_000_000)
    assert (kSecondScale, kTickScale) == (1_000_000_000, 10_000_000)


def test_absolute_time_is_the_virtual_clock_in_nanoseconds(scheduler: Scheduler) -> None:
    """mach_absolute_time and clock_get_uptime read Scheduler.now; the timebase is 1/1."""
    scheduler.run(1234)
    assert mach_absolute_time() == clock_get_uptime() == 1234
    assert nanoseconds_to_absolutetime(5_000) == 5_000
    assert absolutetime_to_nanoseconds(5_000) == 5_000
    assert clock_interval_to_absolutetime_interval(3, kMillisecondScale) == 3 * MILLISECOND
    assert clock_interval_to_absolutetime_interval(2, kTickScale) == 20 * MILLISECOND
    assert clock_interval_to_deadline(7, kMicrosecondScale) == 1234 + 7 * MICROSECOND
    assert clock_absolutetime_interval_to_deadline(66) == 1300


def test_iosleep_blocks_the_thread_while_the_machine_runs(scheduler: Scheduler) -> None:
    """Two sleeping threads interleave; each wakes exactly its interval later."""
    log: list[tuple[str, int]] = []

    def sleeper(name: str, milliseconds: int) -> None:
        for _ in range(2):
            IOSleep(milliseconds)
            log.append((name, scheduler.now // MILLISECOND))

    scheduler.spawn(sleeper, "slow", 3, name="slow")
    scheduler.spawn(sleeper, "fast", 2, name="fast")
    scheduler.run()
    assert log == [("fast", 2), ("slow", 3), ("fast", 4), ("slow", 6)]


def test_a_thirty_second_iosleep_costs_no_real_time(scheduler: Scheduler) -> None:
    """Virtual time: 30 s of sleep pass in well under a real second."""
    woke: list[int] = []
    scheduler.spawn(lambda: (IOSleep(30_000), woke.append(scheduler.now)), name="sleeper")
    started = time.monotonic()
    scheduler.run()
    assert time.monotonic() - started < 1.0
    assert woke == [30 * SECOND]


def test_iosleepwithleeway_wakes_at_the_interval_exactly(scheduler: Scheduler) -> None:
    """The leeway allows lateness that kextlab never takes."""
    woke: list[int] = []
    scheduler.spawn(lambda: (IOSleepWithLeeway(5, 2), woke.append(scheduler.now)), name="s")
    scheduler.run()
    assert woke == [5 * MILLISECOND]
    with pytest.raises(ValueError, match="-1 ms of leeway is negative"):
        IOSleepWithLeeway(1, -1)


def test_iosleep_refuses_interrupt_context_disabled_interrupts_and_spin_locks(
    scheduler: Scheduler,
) -> None:
    """A sleep where a driver may not block raises, even a sleep of 0 ms."""
    errors: list[str] = []

    def on_interrupt() -> None:
        try:
            IOSleep(0)
        except InterruptContextViolation as error:
            errors.append(str(error))

    def thread() -> None:
        state = scheduler.interrupts.disable()
        try:
            IOSleep(1)
        except InterruptContextViolation as error:
            errors.append(str(error))
        scheduler.interrupts.restore(state)
        lock = IOSimpleLockAlloc()
        IOSimpleLockLock(lock)
        try:
            IOSleep(1)
        except LockError as error:
            errors.append(str(error))
        IOSimpleLockUnlock(lock)

    Device(scheduler, on_interrupt).interrupt_at(0)
    scheduler.spawn(thread, name="driver")
    scheduler.run()
    assert errors == [
        "IOSleep: thread 'driver' would block with interrupts disabled",
        "IOSleep: blocking in interrupt context",  # the interrupt, deferred to the restore
        "IOSleep: thread 'driver' would block while holding 1 IOSimpleLock(s); a spin lock "
        "holder may not sleep (unlock it first)",
    ]
    assert scheduler.now == 0


def test_iodelay_spins_while_devices_progress(scheduler: Scheduler) -> None:
    """IODelay keeps the thread on the CPU and consumes time; due events run meanwhile."""
    log: list[str] = []
    scheduler.at(500, lambda: log.append(f"device at {scheduler.now}"), "device")

    def poller() -> None:
        IODelay(1)
        log.append(f"poller at {scheduler.now}")
        IOPause(250)
        log.append(f"poller at {scheduler.now}")

    scheduler.spawn(poller, name="poller")
    scheduler.run()
    assert log == ["device at 500", "poller at 1000", "poller at 1250"]


def test_iodelay_costs_nothing_in_interrupt_context(scheduler: Scheduler) -> None:
    """Handlers are instantaneous: a delay there is allowed and takes no virtual time."""
    seen: list[tuple[int, Context]] = []

    def on_interrupt() -> None:
        IODelay(100)
        seen.append((scheduler.now, scheduler.context))

    Device(scheduler, on_interrupt).interrupt_at(42)
    scheduler.run()
    assert seen == [(42, Context.INTERRUPT)]


def test_the_host_runs_the_machine_through_its_delays(scheduler: Scheduler) -> None:
    """From host code IOSleep and IODelay run the machine until the time has passed."""
    ran: list[int] = []
    scheduler.at(2 * MILLISECOND, lambda: ran.append(scheduler.now), "event")
    IOSleep(3)
    IODelay(5)
    assert ran == [2 * MILLISECOND]
    assert scheduler.now == 3 * MILLISECOND + 5 * MICROSECOND


def test_negative_intervals_are_refused(scheduler: Scheduler) -> None:
    """The C functions take unsigned intervals: a negative one is a caller's bug."""
    for call, unit in ((IOSleep, "ms"), (IODelay, "us"), (IOPause, "ns")):
        with pytest.raises(ValueError, match=f"-1 {unit} is negative"):
            call(-1)
    assert scheduler.now == 0


def test_the_clock_needs_a_running_machine() -> None:
    """Outside any machine there is no clock to read."""
    with pytest.raises(InternalError, match="mach_absolute_time called outside a running"):
        mach_absolute_time()
