"""Event waits: assert_wait/thread_block, wakeups, deadlines, clear_wait and aborts."""

from __future__ import annotations

import pytest

from kextlab.errors import InterruptContextViolation, SchedulingError
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.wait import (
    KERN_FAILURE,
    KERN_NOT_WAITING,
    KERN_SUCCESS,
    KERN_TERMINATED,
    THREAD_ABORTSAFE,
    THREAD_AWAKENED,
    THREAD_INTERRUPTED,
    THREAD_INTERRUPTIBLE,
    THREAD_RESTART,
    THREAD_TIMED_OUT,
    THREAD_UNINT,
    THREAD_WAITING,
    assert_wait,
    assert_wait_deadline,
    clear_wait,
    thread_abort,
    thread_abort_safely,
    thread_block,
    thread_wakeup,
    thread_wakeup_one,
    wait_table,
)
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.thread import KernelThread
from kextlab.sim.time import MILLISECOND
from tests.kernel.runtime.conftest import Device


def test_the_constants_have_xnus_values() -> None:
    """wait_result_t and wait_interrupt_t as osfmk/kern/kern_types.h defines them."""
    assert (THREAD_WAITING, THREAD_AWAKENED, THREAD_TIMED_OUT) == (-1, 0, 1)
    assert (THREAD_INTERRUPTED, THREAD_RESTART) == (2, 3)
    assert (THREAD_UNINT, THREAD_INTERRUPTIBLE, THREAD_ABORTSAFE) == (0, 1, 2)
    assert (KERN_FAILURE, KERN_TERMINATED, KERN_NOT_WAITING) == (5, 37, 48)


def sleeper(event: object, interruptible: int, results: list[tuple[int, int]]) -> None:
    scheduler = wait_table().scheduler
    assert assert_wait(event, interruptible) == THREAD_WAITING
    results.append((thread_block(), scheduler.now))


def test_thread_wakeup_ends_the_wait_of_every_sleeper(scheduler: Scheduler) -> None:
    """thread_wakeup wakes all sleepers on the event; one with none is KERN_NOT_WAITING."""
    results: list[tuple[int, int]] = []
    for index in range(2):
        scheduler.spawn(sleeper, "event", THREAD_UNINT, results, name=f"sleeper {index}")
    scheduler.run()
    assert wait_table().sleepers("event") == 2
    scheduler.run(5 * MILLISECOND)
    assert thread_wakeup("event") == KERN_SUCCESS
    scheduler.run()
    assert results == [(THREAD_AWAKENED, 5 * MILLISECOND)] * 2
    assert thread_wakeup("event") == KERN_NOT_WAITING
    assert wait_table().sleepers("event") == 0


def test_thread_wakeup_one_wakes_the_longest_sleeper(scheduler: Scheduler) -> None:
    """Sleepers leave in arrival order, one per thread_wakeup_one."""
    order: list[str] = []

    def named(name: str) -> None:
        assert_wait(("queue", 1), THREAD_UNINT)
        thread_block()
        order.append(name)

    for name in ("a", "b", "c"):
        scheduler.spawn(named, name, name=name)
    scheduler.run()
    for _ in range(3):
        thread_wakeup_one(("queue", 1))  # an equal tuple is the same event
        scheduler.run()
    assert order == ["a", "b", "c"]


def test_a_wakeup_between_assert_wait_and_thread_block_is_not_lost(scheduler: Scheduler) -> None:
    """Once the wait is asserted, a wakeup before thread_block makes it return at once."""
    results: list[tuple[int, int]] = []

    def waiter() -> None:
        assert_wait("event", THREAD_UNINT)
        IOSleep(1)  # meanwhile, the waker wakes the event (this sleep is no event wait)
        results.append((thread_block(), scheduler.now))

    scheduler.spawn(waiter, name="waiter")
    scheduler.at(MILLISECOND // 2, lambda: thread_wakeup("event"), "waker")
    scheduler.run()
    assert results == [(THREAD_AWAKENED, MILLISECOND)]


def test_deadlines_end_waits_with_timed_out(scheduler: Scheduler) -> None:
    """A deadline times the wait out; one already past does so at once."""
    results: list[tuple[int, int]] = []

    def waiter(deadline: int) -> None:
        assert assert_wait_deadline("never", THREAD_UNINT, deadline) == THREAD_WAITING
        results.append((thread_block(), scheduler.now))

    scheduler.run(10)
    scheduler.spawn(waiter, 3 * MILLISECOND, name="future")
    scheduler.spawn(waiter, 1, name="past")
    scheduler.run()
    assert results == [(THREAD_TIMED_OUT, 10), (THREAD_TIMED_OUT, 3 * MILLISECOND)]
    assert scheduler.pending_events() == 0


def test_clear_wait_ends_a_wait_with_any_result(scheduler: Scheduler) -> None:
    """clear_wait reports KERN_NOT_WAITING, refuses to interrupt an uninterruptible wait,
    and otherwise ends the wait with the result given."""
    results: list[tuple[int, int]] = []
    thread = scheduler.spawn(sleeper, "event", THREAD_UNINT, results, name="sleeper")
    assert clear_wait(thread, THREAD_RESTART) == KERN_NOT_WAITING  # not started yet
    scheduler.run()
    assert clear_wait(thread, THREAD_INTERRUPTED) == KERN_FAILURE
    assert clear_wait(thread, THREAD_RESTART) == KERN_SUCCESS
    scheduler.run()
    assert results == [(THREAD_RESTART, 0)]
    assert wait_table().sleepers("event") == 0


def test_thread_abort_interrupts_interruptible_waits_only(scheduler: Scheduler) -> None:
    """An abort ends an interruptible wait; an uninterruptible one keeps waiting and the
    abort, pending, ends the thread's next interruptible wait before it starts."""
    results: list[tuple[int, int]] = []
    patient = scheduler.spawn(sleeper, "unint", THREAD_UNINT, results, name="patient")
    restless = scheduler.spawn(sleeper, "int", THREAD_INTERRUPTIBLE, results, name="restless")
    scheduler.run()
    assert thread_abort(restless) == KERN_SUCCESS
    assert thread_abort(patient) == KERN_SUCCESS
    scheduler.run()
    assert results == [(THREAD_INTERRUPTED, 0)]
    thread_wakeup("unint")
    scheduler.run()
    assert results[1] == (THREAD_AWAKENED, 0)
    assert thread_abort(patient) == KERN_TERMINATED

    def twice() -> None:
        IOSleep(1)  # the abort arrives while this thread is not waiting
        results.append((assert_wait("x", THREAD_ABORTSAFE), scheduler.now))
        results.append((assert_wait("x", THREAD_ABORTSAFE), scheduler.now))
        thread_wakeup("x")  # asserted, not yet blocked in: thread_block returns at once
        results.append((thread_block(), scheduler.now))

    late = scheduler.spawn(twice, name="late")
    scheduler.run(0)
    thread_abort(late)
    scheduler.run()
    assert results[2:] == [
        (THREAD_INTERRUPTED, MILLISECOND),  # the pending abort, consumed
        (THREAD_WAITING, MILLISECOND),
        (THREAD_AWAKENED, MILLISECOND),
    ]


def test_thread_abort_safely_ends_only_abortsafe_waits(scheduler: Scheduler) -> None:
    """thread_abort_safely leaves THREAD_INTERRUPTIBLE waits alone."""
    results: list[tuple[int, int]] = []
    safe = scheduler.spawn(sleeper, "a", THREAD_ABORTSAFE, results, name="safe")
    plain = scheduler.spawn(sleeper, "b", THREAD_INTERRUPTIBLE, results, name="plain")
    scheduler.run()
    thread_abort_safely(safe)
    thread_abort_safely(plain)
    scheduler.run()
    assert results == [(THREAD_INTERRUPTED, 0)]
    assert wait_table().sleepers("b") == 1
    thread_abort(plain)  # a full abort does end it
    scheduler.run()
    assert results[1] == (THREAD_INTERRUPTED, 0)


def test_waits_are_refused_where_nothing_may_block(scheduler: Scheduler) -> None:
    """assert_wait in an interrupt handler raises; so does asserting twice, or a bad type."""
    errors: list[type[BaseException]] = []

    def on_interrupt() -> None:
        try:
            assert_wait("event", THREAD_UNINT)
        except InterruptContextViolation as error:
            errors.append(type(error))
        thread_wakeup("event")  # waking never blocks: allowed in a handler

    Device(scheduler, on_interrupt).interrupt_at(1)
    scheduler.run()
    assert errors == [InterruptContextViolation]
    with pytest.raises(ValueError, match="interruptible type 7"):
        assert_wait("event", 7)
    with pytest.raises(TypeError, match="the event must be hashable, not dict"):
        assert_wait({}, THREAD_UNINT)

    def greedy() -> None:
        assert_wait("one", THREAD_UNINT)
        try:
            assert_wait("two", THREAD_UNINT)
        except SchedulingError as error:
            errors.append(type(error))
        thread_wakeup("one")
        thread_block()

    scheduler.spawn(greedy, name="greedy")
    scheduler.run()
    assert errors[1:] == [SchedulingError]


def test_thread_block_without_a_wait_just_yields(scheduler: Scheduler) -> None:
    """thread_block with nothing asserted lets due events run and returns AWAKENED."""
    log: list[str] = []

    def yielder() -> None:
        log.append(f"block: {thread_block()}")

    scheduler.spawn(yielder, name="yielder")
    scheduler.at(0, lambda: log.append("event"), "due")
    scheduler.run()
    assert log == ["event", f"block: {THREAD_AWAKENED}"]


def test_an_unwound_sleeper_leaves_no_trace(scheduler: Scheduler) -> None:
    """A thread killed in its wait (machine shutdown) is taken off the event's queue."""
    results: list[tuple[int, int]] = []
    thread: KernelThread = scheduler.spawn(sleeper, "event", THREAD_UNINT, results, name="s")
    scheduler.run()
    scheduler.shutdown()
    assert not thread.is_alive
    assert wait_table().sleepers("event") == 0
    assert thread_wakeup("event") == KERN_NOT_WAITING
