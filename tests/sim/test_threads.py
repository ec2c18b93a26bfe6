"""Kernel threads on greenlets: slices, sleeping, preemption points, exits and panics."""

from __future__ import annotations

import pytest

from kextlab.errors import KernelPanic
from kextlab.sim import Context, Scheduler, ThreadState, exit_thread
from kextlab.sim.time import MILLISECOND, SECOND


def test_a_thread_starts_at_the_present_and_returns_a_result() -> None:
    """spawn queues the thread; it runs when the machine runs and keeps its result."""
    scheduler = Scheduler()
    scheduler.run_for(500)
    contexts: list[Context] = []

    def entry(value: int) -> int:
        contexts.append(scheduler.context)
        return value * 2

    thread = scheduler.spawn(entry, 21, name="worker")
    assert thread.state is ThreadState.READY
    assert thread.join()
    assert thread.result == 42
    assert thread.state is ThreadState.FINISHED
    assert contexts == [Context.THREAD]
    assert scheduler.now == 500
    assert scheduler.live_threads() == []


def test_sleep_costs_virtual_time_only() -> None:
    """IOSleep-style sleeping advances the virtual clock, not the host's."""
    scheduler = Scheduler()
    woke: list[int] = []

    def sleeper() -> None:
        scheduler.sleep(30 * SECOND)
        woke.append(scheduler.now)

    scheduler.spawn(sleeper, name="sleeper")
    scheduler.run()
    assert woke == [30 * SECOND]


def test_threads_interleave_at_blocking_points() -> None:
    """Two threads that sleep alternately interleave in virtual-time order."""
    scheduler = Scheduler()
    log: list[tuple[str, int]] = []

    def worker(name: str, period: int) -> None:
        for _ in range(3):
            log.append((name, scheduler.now))
            scheduler.sleep(period)

    scheduler.spawn(worker, "fast", 10, name="fast")
    scheduler.spawn(worker, "slow", 25, name="slow")
    scheduler.run()
    assert log == [("fast", 0), ("slow", 0), ("fast", 10), ("fast", 20), ("slow", 25), ("slow", 50)]


def test_a_polling_thread_sees_the_device_progress() -> None:
    """consume() is a preemption point: events due meanwhile run, like a device finishing."""
    scheduler = Scheduler()
    status = {"done": False}
    polls: list[int] = []
    scheduler.at(1000, lambda: status.update(done=True), "device.done")

    def poller() -> None:
        while not status["done"]:
            polls.append(scheduler.now)
            scheduler.consume(250)

    scheduler.spawn(poller, name="poller")
    scheduler.run()
    assert polls == [0, 250, 500, 750]
    assert scheduler.now == 1000


def test_consume_without_due_events_does_not_switch() -> None:
    """The fast path: with nothing due, consume moves the clock and no event is dispatched."""
    scheduler = Scheduler()

    def busy() -> None:
        for _ in range(100):
            scheduler.consume(10)

    scheduler.spawn(busy, name="busy")
    scheduler.run()
    assert scheduler.now == 1000
    assert scheduler.events_dispatched == 1  # only the thread's start


def test_yield_lets_threads_due_now_run_first() -> None:
    """An explicit yield runs everything already due at the present instant."""
    scheduler = Scheduler()
    log: list[str] = []

    def first() -> None:
        log.append("first before")
        scheduler.yield_thread()
        log.append("first after")

    def second() -> None:
        log.append("second")

    scheduler.spawn(first, name="first")
    scheduler.spawn(second, name="second")
    scheduler.run()
    assert log == ["first before", "second", "first after"]


def test_exit_thread_ends_the_thread_early() -> None:
    """exit_thread (IOExitThread) unwinds the caller; nothing after it runs."""
    scheduler = Scheduler()
    log: list[str] = []

    def entry() -> None:
        log.append("before")
        exit_thread()
        log.append("after")

    thread = scheduler.spawn(entry, name="exiting")
    scheduler.run()
    assert log == ["before"]
    assert not thread.is_alive


def test_an_exception_in_a_thread_panics_the_machine() -> None:
    """An uncaught exception in a kernel thread is a kernel panic naming the thread."""
    scheduler = Scheduler()

    def driver() -> None:
        scheduler.sleep(MILLISECOND)
        raise KeyError("missing property")

    thread = scheduler.spawn(driver, name="com.example.driver")
    with pytest.raises(KernelPanic) as panic:
        scheduler.run()
    assert 'kernel thread "com.example.driver" (thread 1) raised KeyError' in panic.value.report
    assert "virtual time: 0.001000000 s" in panic.value.report
    assert isinstance(thread.exception, KeyError)


def test_join_with_timeout_gives_up_in_virtual_time() -> None:
    """join(timeout) returns False when the thread is still running at the deadline."""
    scheduler = Scheduler()
    thread = scheduler.spawn(lambda: scheduler.sleep(SECOND), name="slow")
    assert thread.join(timeout=MILLISECOND) is False
    assert scheduler.now == MILLISECOND
    assert thread.join() is True
    assert scheduler.now == SECOND


def test_threads_can_join_each_other() -> None:
    """A thread blocked in join resumes when the other thread finishes."""
    scheduler = Scheduler()
    log: list[tuple[str, int]] = []
    worker = scheduler.spawn(lambda: scheduler.sleep(40), name="worker")

    def waiter() -> None:
        worker.join()
        log.append(("joined", scheduler.now))

    scheduler.spawn(waiter, name="waiter")
    scheduler.run()
    assert log == [("joined", 40)]


def test_shutdown_unwinds_live_threads() -> None:
    """shutdown kills blocked threads; their finally blocks run; nothing stays live."""
    scheduler = Scheduler()
    cleaned: list[str] = []

    def stuck() -> None:
        try:
            scheduler.sleep(SECOND)
        finally:
            cleaned.append("finally")

    scheduler.spawn(stuck, name="stuck")
    scheduler.run_for(10)
    assert len(scheduler.live_threads()) == 1
    scheduler.shutdown()
    assert cleaned == ["finally"]
    assert scheduler.live_threads() == []
    assert scheduler.pending_events() == 0
