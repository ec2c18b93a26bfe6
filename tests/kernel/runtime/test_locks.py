"""IOLock, IORecursiveLock, IOSimpleLock and IORWLock, in virtual time."""

from __future__ import annotations

import time

import pytest

from kextlab.errors import InterruptContextViolation, KernelPanic, LockError, SchedulingError
from kextlab.kernel.clock import IODelay, IOSleep, clock_interval_to_deadline, kSecondScale
from kextlab.kernel.locks import (
    SPIN_STEP_MAX,
    THREAD_AWAKENED,
    THREAD_TIMED_OUT,
    THREAD_UNINT,
    IOLock,
    IOLockAlloc,
    IOLockFree,
    IOLockLock,
    IOLockSleep,
    IOLockSleepDeadline,
    IOLockTryLock,
    IOLockUnlock,
    IOLockWakeup,
    IORecursiveLockAlloc,
    IORecursiveLockFree,
    IORecursiveLockHaveLock,
    IORecursiveLockLock,
    IORecursiveLockSleep,
    IORecursiveLockSleepDeadline,
    IORecursiveLockTryLock,
    IORecursiveLockUnlock,
    IORecursiveLockWakeup,
    IORWLockAlloc,
    IORWLockFree,
    IORWLockRead,
    IORWLockTryRead,
    IORWLockTryWrite,
    IORWLockUnlock,
    IORWLockWrite,
    IOSimpleLock,
    IOSimpleLockAlloc,
    IOSimpleLockDestroy,
    IOSimpleLockFree,
    IOSimpleLockInit,
    IOSimpleLockLock,
    IOSimpleLockLockDisableInterrupt,
    IOSimpleLockTryLock,
    IOSimpleLockUnlock,
    IOSimpleLockUnlockEnableInterrupt,
    LockTimeOut,
)
from kextlab.sim.preemption import PreemptionPolicy
from kextlab.sim.scheduler import Scheduler
from kextlab.sim.time import MILLISECOND, SECOND
from tests.kernel.runtime.conftest import Device

# -- IOLock -------------------------------------------------------------------------------------


def test_a_contended_iolock_goes_to_its_waiters_in_arrival_order(scheduler: Scheduler) -> None:
    """Unlock hands the lock to the longest waiter; each holder's sleep lets others queue."""
    lock = IOLockAlloc()
    order: list[tuple[str, int]] = []

    def worker(name: str) -> None:
        IOLockLock(lock)
        order.append((name, scheduler.now))
        IOSleep(1)
        IOLockUnlock(lock)

    for name in ("a", "b", "c"):
        scheduler.spawn(worker, name, name=name)
    scheduler.run()
    assert order == [("a", 0), ("b", MILLISECOND), ("c", 2 * MILLISECOND)]
    assert lock.owner is None
    IOLockFree(lock)


def test_iolock_trylock_fails_while_another_thread_holds_it(scheduler: Scheduler) -> None:
    """IOLockTryLock takes a free lock and returns False, without blocking, on a held one."""
    lock = IOLockAlloc()
    results: list[bool] = []

    def holder() -> None:
        IOLockLock(lock)
        IOSleep(1)
        IOLockUnlock(lock)

    def trier() -> None:
        results.append(IOLockTryLock(lock))
        IOSleep(2)
        results.append(IOLockTryLock(lock))
        IOLockUnlock(lock)

    scheduler.spawn(holder, name="holder")
    scheduler.spawn(trier, name="trier")
    scheduler.run()
    assert results == [False, True]


def test_iolock_misuse_names_the_lock_and_the_threads(scheduler: Scheduler) -> None:
    """Re-taking, unlocking by another thread and freeing a held lock raise LockError."""
    lock = IOLockAlloc()
    assert "test_iolock_misuse_names_the_lock_and_the_threads" in lock.name
    IOLockLock(lock)
    with pytest.raises(LockError, match=r"host takes lock 'IOLock \d+ \(test_iolock_misuse"):
        IOLockLock(lock)
    assert not IOLockTryLock(lock)  # try-locking one's own mutex fails, as in xnu
    with pytest.raises(LockError, match="still held by host"):
        IOLockFree(lock)
    errors: list[str] = []

    def thief() -> None:
        try:
            IOLockUnlock(lock)
        except LockError as error:
            errors.append(str(error))

    scheduler.spawn(thief, name="thief")
    scheduler.run()
    assert len(errors) == 1
    assert "thief releases lock" in errors[0]
    assert "held by host" in errors[0]
    IOLockUnlock(lock)
    IOLockFree(lock)
    with pytest.raises(LockError, match="was freed"):
        IOLockLock(lock)
    with pytest.raises(LockError, match="was freed"):
        IOLockFree(lock)


def test_iolock_refuses_interrupt_context_even_when_free(scheduler: Scheduler) -> None:
    """A sleeping lock in an interrupt handler raises InterruptContextViolation."""
    lock = IOLockAlloc()
    raised: list[str] = []

    def on_interrupt() -> None:
        for attempt in (IOLockLock, IOLockTryLock):
            try:
                attempt(lock)
            except InterruptContextViolation as error:
                raised.append(str(error))

    device = Device(scheduler, on_interrupt)
    device.interrupt_at(10)
    scheduler.run()
    assert len(raised) == 2
    assert "blocking in interrupt context" in raised[0]
    assert "interrupt handlers may only take IOSimpleLocks" in raised[1]
    assert lock.owner is None


def test_an_iolock_is_a_context_manager(scheduler: Scheduler) -> None:
    """``with lock:`` takes and releases it, even when the block raises."""
    lock = IOLock()
    with lock:
        assert lock.owner is not None
    assert lock.owner is None
    with pytest.raises(ValueError, match="inside"), lock:
        raise ValueError("inside")
    assert lock.owner is None


# -- sleeping on events --------------------------------------------------------------------------


def test_iolocksleep_releases_the_lock_and_retakes_it_when_woken(scheduler: Scheduler) -> None:
    """The sleeper waits with the lock released; the waker's IOLockWakeup ends the sleep."""
    lock = IOLockAlloc()
    state = {"ready": False}
    log: list[str] = []

    def consumer() -> None:
        IOLockLock(lock)
        while not state["ready"]:
            result = IOLockSleep(lock, "ready", THREAD_UNINT)
            log.append(f"woke {result} at {scheduler.now}, holding {lock.owner is not None}")
        IOLockUnlock(lock)

    def producer() -> None:
        IOSleep(5)
        IOLockLock(lock)  # free: the consumer sleeps without it
        state["ready"] = True
        IOLockWakeup(lock, "ready", False)
        log.append("woken")
        IOLockUnlock(lock)

    consumer_thread = scheduler.spawn(consumer, name="consumer")
    scheduler.spawn(producer, name="producer")
    scheduler.run()
    assert log == ["woken", f"woke {THREAD_AWAKENED} at {5 * MILLISECOND}, holding True"]
    assert lock.owner is None
    assert not consumer_thread.is_alive


def test_a_wakeup_with_no_sleeper_is_lost(scheduler: Scheduler) -> None:
    """IOLockWakeup before anyone sleeps wakes nobody later: the sleeper times out."""
    lock = IOLockAlloc()
    results: list[int] = []

    def late_sleeper() -> None:
        IOSleep(1)
        IOLockLock(lock)
        deadline = clock_interval_to_deadline(10, 1_000_000)
        results.append(IOLockSleepDeadline(lock, "event", deadline, THREAD_UNINT))
        results.append(scheduler.now)
        IOLockUnlock(lock)

    scheduler.spawn(late_sleeper, name="sleeper")
    IOLockWakeup(lock, "event", False)  # the host wakes the event before anyone sleeps
    scheduler.run()
    assert results == [THREAD_TIMED_OUT, 11 * MILLISECOND]


def test_onethread_wakes_the_longest_sleeper_and_all_wakes_the_rest(scheduler: Scheduler) -> None:
    """oneThread=True ends one sleep, in arrival order; False ends every remaining one."""
    lock = IOLockAlloc()
    woken: list[str] = []

    def sleeper(name: str) -> None:
        IOLockLock(lock)
        IOLockSleep(lock, "go", THREAD_UNINT)
        woken.append(name)
        IOLockUnlock(lock)

    for name in ("first", "second", "third"):
        scheduler.spawn(sleeper, name, name=name)
    scheduler.run()
    IOLockWakeup(lock, "go", True)
    scheduler.run()
    assert woken == ["first"]
    IOLockWakeup(lock, "go", False)
    scheduler.run()
    assert woken == ["first", "second", "third"]


def test_a_thirty_second_deadline_passes_in_no_real_time(scheduler: Scheduler) -> None:
    """IOLockSleepDeadline times out at its deadline on the virtual clock, at once."""
    lock = IOLockAlloc()
    results: list[tuple[int, int]] = []

    def sleeper() -> None:
        IOLockLock(lock)
        deadline = clock_interval_to_deadline(30, kSecondScale)
        results.append((IOLockSleepDeadline(lock, lock, deadline, THREAD_UNINT), scheduler.now))
        IOLockUnlock(lock)

    scheduler.spawn(sleeper, name="sleeper")
    started = time.monotonic()
    scheduler.run()
    assert time.monotonic() - started < 1.0
    assert results == [(THREAD_TIMED_OUT, 30 * SECOND)]
    assert scheduler.pending_events() == 0


def test_a_wakeup_before_the_deadline_cancels_its_timer(scheduler: Scheduler) -> None:
    """A sleep woken early returns THREAD_AWAKENED and leaves no timeout event behind;
    a deadline of 0 never expires."""
    lock = IOLockAlloc()
    results: list[tuple[int, int]] = []

    def sleeper(deadline: int) -> None:
        IOLockLock(lock)
        results.append((IOLockSleepDeadline(lock, "wake", deadline, THREAD_UNINT), scheduler.now))
        IOLockUnlock(lock)

    scheduler.spawn(sleeper, 30 * SECOND, name="with deadline")
    scheduler.spawn(sleeper, 0, name="without")
    scheduler.run(2 * SECOND)
    IOLockWakeup(lock, "wake", False)
    scheduler.run()
    assert results == [(THREAD_AWAKENED, 2 * SECOND), (THREAD_AWAKENED, 2 * SECOND)]
    assert scheduler.pending_events() == 0


def test_sleeping_needs_the_lock_and_thread_context(scheduler: Scheduler) -> None:
    """IOLockSleep without holding the lock is a LockError; in a handler, a violation."""
    lock = IOLockAlloc()
    with pytest.raises(LockError, match="the caller must hold the lock"):
        IOLockSleep(lock, "event", THREAD_UNINT)
    raised: list[type[BaseException]] = []

    def holder() -> None:
        IOLockLock(lock)
        IODelay(10)  # the interrupt arrives while this thread holds the lock
        IOLockUnlock(lock)

    def on_interrupt() -> None:
        try:
            IOLockSleep(lock, "event", THREAD_UNINT)  # the interrupted thread holds it
        except InterruptContextViolation as error:
            raised.append(type(error))

    Device(scheduler, on_interrupt).interrupt_at(5_000)
    scheduler.spawn(holder, name="holder")
    scheduler.run()
    assert raised == [InterruptContextViolation]


# -- IORecursiveLock -------------------------------------------------------------------------------


def test_a_recursive_lock_counts_its_depth_and_excludes_others(scheduler: Scheduler) -> None:
    """The holder may retake it; another thread gets it only after the last unlock."""
    lock = IORecursiveLockAlloc()
    log: list[str] = []

    def owner() -> None:
        for _ in range(3):
            IORecursiveLockLock(lock)
        assert IORecursiveLockTryLock(lock)
        log.append(f"depth {lock.depth}, have {IORecursiveLockHaveLock(lock)}")
        IOSleep(1)
        for _ in range(4):
            IORecursiveLockUnlock(lock)
            owner = lock.owner.name if lock.owner is not None else None
            log.append(f"unlocked: {owner} at depth {lock.depth}")

    def other() -> None:
        log.append(
            f"other tries: {IORecursiveLockTryLock(lock)}, have {IORecursiveLockHaveLock(lock)}"
        )
        IORecursiveLockLock(lock)
        log.append(f"other holds at {scheduler.now}")
        IORecursiveLockUnlock(lock)

    scheduler.spawn(owner, name="owner")
    scheduler.spawn(other, name="other")
    scheduler.run()
    assert log == [
        "depth 4, have True",
        "other tries: False, have False",
        "unlocked: owner at depth 3",
        "unlocked: owner at depth 2",
        "unlocked: owner at depth 1",
        "unlocked: other at depth 1",  # handed straight to the waiter
        f"other holds at {MILLISECOND}",
    ]
    IORecursiveLockFree(lock)


def test_recursive_sleep_releases_every_level_and_restores_the_depth(scheduler: Scheduler) -> None:
    """IORecursiveLockSleep at depth 3 frees the lock for others and returns at depth 3."""
    lock = IORecursiveLockAlloc()
    log: list[str] = []

    def sleeper() -> None:
        for _ in range(3):
            IORecursiveLockLock(lock)
        result = IORecursiveLockSleep(lock, "event", THREAD_UNINT)
        log.append(
            f"sleeper back: {result}, depth {lock.depth}, have {IORecursiveLockHaveLock(lock)}"
        )
        deadline = clock_interval_to_deadline(3, 1_000_000)
        result = IORecursiveLockSleepDeadline(lock, "never", deadline, THREAD_UNINT)
        log.append(f"timed out: {result == THREAD_TIMED_OUT}, depth {lock.depth}")
        for _ in range(3):
            IORecursiveLockUnlock(lock)

    def waker() -> None:
        IORecursiveLockLock(lock)  # possible only because the sleeper released all three
        log.append(f"waker holds, depth {lock.depth}")
        IORecursiveLockWakeup(lock, "event", True)
        IORecursiveLockUnlock(lock)

    scheduler.spawn(sleeper, name="sleeper")
    scheduler.spawn(waker, name="waker")
    scheduler.run()
    assert log == [
        "waker holds, depth 1",
        f"sleeper back: {THREAD_AWAKENED}, depth 3, have True",
        "timed out: True, depth 3",
    ]
    assert lock.depth == 0


def test_havelock_in_an_interrupt_handler_sees_the_interrupted_thread(scheduler: Scheduler) -> None:
    """As xnu's IOThreadSelf() there, the caller of a handler is the thread it interrupted."""
    lock = IORecursiveLockAlloc()
    seen: list[bool] = []

    def holder() -> None:
        IORecursiveLockLock(lock)
        state = scheduler.interrupts.disable()
        IODelay(1)  # the device interrupts meanwhile: deferred to the restore
        scheduler.interrupts.restore(state)  # delivered here, on this thread's stack
        IORecursiveLockUnlock(lock)

    Device(scheduler, lambda: seen.append(IORecursiveLockHaveLock(lock))).interrupt_at(500)
    scheduler.spawn(holder, name="holder")
    scheduler.run()
    assert seen == [True]


# -- IOSimpleLock ---------------------------------------------------------------------------------


def test_a_thread_spins_until_the_preempted_holder_releases(scheduler: Scheduler) -> None:
    """The spinner consumes virtual time while the holder runs on; it gets the lock
    within one backoff step of the release."""
    lock = IOSimpleLockAlloc()
    log: list[tuple[str, int]] = []

    def holder() -> None:
        IOSimpleLockLock(lock)
        IODelay(100)  # a preemption point: the spinner's start is due
        log.append(("holder unlocks", scheduler.now))
        IOSimpleLockUnlock(lock)

    def spinner() -> None:
        IOSimpleLockLock(lock)
        log.append(("spinner holds", scheduler.now))
        IOSimpleLockUnlock(lock)

    scheduler.spawn(holder, name="holder")
    scheduler.spawn(spinner, name="spinner")
    scheduler.run()
    assert log[0] == ("holder unlocks", 100_000)
    name, acquired = log[1]
    assert name == "spinner holds"
    assert 100_000 <= acquired <= 100_000 + SPIN_STEP_MAX
    assert lock.owner is None


def test_a_simple_lock_is_not_recursive_and_only_its_holder_unlocks(scheduler: Scheduler) -> None:
    """Re-taking spins forever on a real CPU (LockError here); so does a foreign unlock."""
    lock = IOSimpleLockAlloc()
    IOSimpleLockLock(lock)
    assert not IOSimpleLockTryLock(lock)
    with pytest.raises(LockError, match="already holds"):
        IOSimpleLockLock(lock)
    errors: list[str] = []

    def thief() -> None:
        try:
            IOSimpleLockUnlock(lock)
        except LockError as error:
            errors.append(str(error))

    scheduler.spawn(thief, name="thief")
    scheduler.run()
    assert len(errors) == 1
    assert "thread 'thief' releases IOSimpleLock" in errors[0]
    with pytest.raises(LockError, match="still held by host"):
        IOSimpleLockFree(lock)
    with pytest.raises(LockError, match="initialising it would break"):
        IOSimpleLockInit(lock)
    IOSimpleLockUnlock(lock)
    IOSimpleLockFree(lock)
    with pytest.raises(LockError, match="was freed"):
        IOSimpleLockLock(lock)


def test_a_member_simple_lock_is_initialised_and_destroyed(scheduler: Scheduler) -> None:
    """IOSimpleLockInit readies a constructed lock; Destroy retires it, Init revives it."""
    lock = IOSimpleLock()
    IOSimpleLockInit(lock)
    with lock:
        assert lock.owner is not None
    IOSimpleLockDestroy(lock)
    with pytest.raises(LockError, match="was freed"):
        IOSimpleLockTryLock(lock)
    IOSimpleLockInit(lock)
    assert IOSimpleLockTryLock(lock)
    IOSimpleLockUnlock(lock)


def test_blocking_while_holding_a_simple_lock_is_reported(scheduler: Scheduler) -> None:
    """Sleeping or taking a sleeping lock under a spin lock raises; trying one does not."""
    spin = IOSimpleLockAlloc()
    mutex = IOLockAlloc()
    errors: list[str] = []

    def careless() -> None:
        IOSimpleLockLock(spin)
        for blocking in (lambda: IOSleep(1), lambda: IOLockLock(mutex)):
            try:
                blocking()
            except LockError as error:
                errors.append(str(error))
        assert IOLockTryLock(mutex)  # never blocks: allowed
        IOLockUnlock(mutex)
        IODelay(1)  # spinning is allowed too
        IOSimpleLockUnlock(spin)
        IOSleep(1)  # and sleeping again once the spin lock is released

    scheduler.spawn(careless, name="careless")
    scheduler.run()
    assert len(errors) == 2
    assert all("would block while holding 1 IOSimpleLock(s)" in error for error in errors)
    assert "thread 'careless'" in errors[0]


def test_an_interrupt_handler_taking_a_lock_its_thread_holds_is_caught(
    scheduler: Scheduler,
) -> None:
    """On one CPU that deadlocks: the handler gets InterruptContextViolation, with advice."""
    lock = IOSimpleLockAlloc()
    errors: list[str] = []

    def on_interrupt() -> None:
        try:
            IOSimpleLockLock(lock)
        except InterruptContextViolation as error:
            errors.append(str(error))

    def thread() -> None:
        IOSimpleLockLock(lock)
        IODelay(1)  # interrupted at 500 ns, lock held
        IOSimpleLockUnlock(lock)

    device = Device(scheduler, on_interrupt)
    device.interrupt_at(500)
    scheduler.spawn(thread, name="driver")
    scheduler.run()
    assert device.handled == [500]
    assert len(errors) == 1
    assert lock.name in errors[0]
    assert "held by thread 'driver'" in errors[0]
    assert "IOSimpleLockLockDisableInterrupt" in errors[0]


def test_disabling_interrupts_defers_the_handler_until_unlock(scheduler: Scheduler) -> None:
    """IOSimpleLockLockDisableInterrupt holds the device's interrupt back; the handler
    runs, and takes the lock, as IOSimpleLockUnlockEnableInterrupt returns."""
    lock = IOSimpleLockAlloc()
    log: list[str] = []

    def on_interrupt() -> None:
        IOSimpleLockLock(lock)
        log.append(f"handler has the lock at {scheduler.now}")
        IOSimpleLockUnlock(lock)

    def thread() -> None:
        state = IOSimpleLockLockDisableInterrupt(lock)
        IODelay(1)  # the device interrupts at 500 ns
        log.append("thread unlocks")
        IOSimpleLockUnlockEnableInterrupt(lock, state)
        log.append("thread back")

    device = Device(scheduler, on_interrupt)
    device.interrupt_at(500)
    scheduler.spawn(thread, name="driver")
    scheduler.run()
    assert log == ["thread unlocks", "handler has the lock at 1000", "thread back"]
    assert scheduler.interrupts.deferred == 1
    assert scheduler.interrupts.enabled


def test_spinning_too_long_times_out_like_xnu(scheduler: Scheduler) -> None:
    """A holder that keeps a spin lock past LockTimeOut makes the spinner fail."""
    lock = IOSimpleLockAlloc()
    errors: list[tuple[str, int]] = []

    def hog() -> None:
        IOSimpleLockLock(lock)
        IODelay(LockTimeOut // 1000 + 1000)
        IOSimpleLockUnlock(lock)

    def spinner() -> None:
        try:
            IOSimpleLockLock(lock)
        except LockError as error:
            errors.append((str(error), scheduler.now))

    scheduler.spawn(hog, name="hog")
    scheduler.spawn(spinner, name="spinner")
    scheduler.run()
    assert len(errors) == 1
    message, when = errors[0]
    assert "spinlock acquisition timed out" in message
    assert "held by thread 'hog'" in message
    assert LockTimeOut <= when < LockTimeOut + 2 * SPIN_STEP_MAX


def test_a_holder_that_ends_without_unlocking_fails_its_spinners(scheduler: Scheduler) -> None:
    """Spinning on a lock whose holder finished raises LockError naming the holder."""
    lock = IOSimpleLockAlloc()
    errors: list[str] = []

    def leaker() -> None:
        IOSimpleLockLock(lock)

    def spinner() -> None:
        IOSleep(1)
        try:
            IOSimpleLockLock(lock)
        except LockError as error:
            errors.append(str(error))

    scheduler.spawn(leaker, name="leaker")
    scheduler.spawn(spinner, name="spinner")
    scheduler.run()
    assert len(errors) == 1
    assert "held by thread 'leaker', which finished without unlocking" in errors[0]


def test_event_callbacks_take_free_simple_locks_but_cannot_spin(scheduler: Scheduler) -> None:
    """An event callback may take and release a free spin lock; a held one is an error."""
    lock = IOSimpleLockAlloc()
    log: list[str] = []

    def callback() -> None:
        IOSimpleLockLock(lock)
        IOSimpleLockUnlock(lock)
        log.append("took it")

    def blocked_callback() -> None:
        try:
            IOSimpleLockLock(lock)
        except SchedulingError as error:
            log.append(str(error))

    scheduler.at(1, callback, "free")
    scheduler.run()
    IOSimpleLockLock(lock)  # the host holds it now
    scheduler.at(2, blocked_callback, "held")
    scheduler.run()
    IOSimpleLockUnlock(lock)
    assert log[0] == "took it"
    assert "an event callback cannot spin" in log[1]


# -- IORWLock -----------------------------------------------------------------------------------


def test_readers_share_an_rwlock(scheduler: Scheduler) -> None:
    """Three readers hold the lock together: their one-millisecond holds overlap."""
    lock = IORWLockAlloc()
    held: list[int] = []

    def reader() -> None:
        IORWLockRead(lock)
        held.append(len(lock.readers))
        IOSleep(1)
        IORWLockUnlock(lock)

    for index in range(3):
        scheduler.spawn(reader, name=f"reader {index}")
    scheduler.run()
    assert held == [1, 2, 3]
    assert scheduler.now == MILLISECOND
    IORWLockFree(lock)


def test_a_waiting_writer_holds_back_later_readers(scheduler: Scheduler) -> None:
    """FIFO: a reader arriving behind a queued writer waits for it (no writer starvation),
    and the writer waits for the reader ahead of it."""
    lock = IORWLockAlloc()
    log: list[tuple[str, int]] = []

    def user(name: str, start_ms: int, write: bool) -> None:
        IOSleep(start_ms)
        (IORWLockWrite if write else IORWLockRead)(lock)
        log.append((name, scheduler.now // MILLISECOND))
        IOSleep(10)
        IORWLockUnlock(lock)

    scheduler.spawn(user, "early reader", 0, False, name="r1")
    scheduler.spawn(user, "writer", 1, True, name="w")
    scheduler.spawn(user, "late reader", 2, False, name="r2")
    scheduler.run()
    assert log == [("early reader", 0), ("writer", 10), ("late reader", 20)]


def test_a_released_writer_grants_the_run_of_readers_at_the_head(scheduler: Scheduler) -> None:
    """Readers queued together behind a writer go in together; a writer behind them
    waits for both, and a reader behind that writer waits for it."""
    lock = IORWLockAlloc()
    log: list[tuple[str, int]] = []

    def user(name: str, start: int, write: bool) -> None:
        IOSleep(start)
        (IORWLockWrite if write else IORWLockRead)(lock)
        log.append((name, scheduler.now // MILLISECOND))
        IOSleep(10)
        IORWLockUnlock(lock)

    for name, start, write in (
        ("w1", 0, True),
        ("r1", 1, False),
        ("r2", 2, False),
        ("w2", 3, True),
        ("r3", 4, False),
    ):
        scheduler.spawn(user, name, start, write, name=name)
    scheduler.run()
    assert log == [("w1", 0), ("r1", 10), ("r2", 10), ("w2", 20), ("r3", 30)]


def test_rwlock_recursion_rules_and_try_variants(scheduler: Scheduler) -> None:
    """A reader may read again past a queued writer; writers and upgrades self-deadlock."""
    lock = IORWLockAlloc()
    log: list[str] = []

    def reader() -> None:
        IORWLockRead(lock)
        IOSleep(2)  # a writer queues meanwhile
        assert lock.waiting == 1
        IORWLockRead(lock)  # recursion goes past it
        log.append(f"read depth {lock.readers[reader_thread]}")
        try:
            IORWLockWrite(lock)
        except LockError as error:
            log.append(str(error))
        IORWLockUnlock(lock)
        IORWLockUnlock(lock)

    def writer() -> None:
        IOSleep(1)
        log.append(f"try read before: {IORWLockTryRead(lock)}")  # a reader: shares
        IORWLockUnlock(lock)
        log.append(f"try write: {IORWLockTryWrite(lock)}")
        IORWLockWrite(lock)
        log.append(f"try read while writing: {IORWLockTryRead(lock)}")
        try:
            IORWLockWrite(lock)
        except LockError as error:
            log.append(str(error))
        IORWLockUnlock(lock)

    reader_thread = scheduler.spawn(reader, name="reader")
    scheduler.spawn(writer, name="writer")
    scheduler.run()
    assert log[0] == "try read before: True"
    assert log[1] == "try write: False"
    assert log[2] == "read depth 2"
    assert "asks to write it: it would wait for itself" in log[3]
    assert log[4] == "try read while writing: False"
    assert "holds IORWLock" in log[5]
    assert "for writing already" in log[5]
    assert not lock.readers
    assert lock.writer is None


def test_rwlock_misuse_and_interrupt_context(scheduler: Scheduler) -> None:
    """Unlocking an unheld lock and freeing a held one raise; handlers may not use it."""
    lock = IORWLockAlloc()
    with pytest.raises(LockError, match="held by nobody"):
        IORWLockUnlock(lock)
    IORWLockRead(lock)
    with pytest.raises(LockError, match=r"still held by host \(reading\)"):
        IORWLockFree(lock)
    IORWLockUnlock(lock)
    raised: list[type[BaseException]] = []

    def on_interrupt() -> None:
        for attempt in (IORWLockRead, IORWLockTryWrite):
            try:
                attempt(lock)
            except InterruptContextViolation as error:
                raised.append(type(error))

    Device(scheduler, on_interrupt).interrupt_at(1)
    scheduler.run()
    assert raised == [InterruptContextViolation, InterruptContextViolation]


def test_an_uncaught_lock_error_in_a_thread_panics_the_machine(scheduler: Scheduler) -> None:
    """Lock misuse in driver code is a kernel panic whose report names the lock."""
    lock = IOLockAlloc()

    def driver() -> None:
        IOLockUnlock(lock)

    scheduler.spawn(driver, name="driver")
    with pytest.raises(KernelPanic, match="driver releases lock 'IOLock"):
        scheduler.run()


# -- under seeded preemption ---------------------------------------------------------------------


def count_with(lock_kind: str | None, seed: int) -> int:
    """Four threads each add 1 to a shared counter 20 times, reading and writing it
    around an IODelay; ``lock_kind`` names the lock around that, or None."""
    machine = Scheduler(seed=seed, preemption=PreemptionPolicy(probability=0.5))
    shared = {"count": 0}
    with machine.entered():
        if lock_kind == "IOLock":
            mutex = IOLockAlloc()
            enter, leave = (lambda: IOLockLock(mutex)), (lambda: IOLockUnlock(mutex))
        elif lock_kind == "IOSimpleLock":
            spin = IOSimpleLockAlloc()
            enter, leave = (lambda: IOSimpleLockLock(spin)), (lambda: IOSimpleLockUnlock(spin))
        elif lock_kind == "IORWLock":
            rw = IORWLockAlloc()
            enter, leave = (lambda: IORWLockWrite(rw)), (lambda: IORWLockUnlock(rw))
        else:
            enter = leave = lambda: None

        def adder() -> None:
            for _ in range(20):
                enter()
                value = shared["count"]
                IODelay(1)  # a preemption point inside the read-modify-write
                shared["count"] = value + 1
                leave()

        for index in range(4):
            machine.spawn(adder, name=f"adder {index}")
        machine.run()
    return shared["count"]


@pytest.mark.parametrize("lock_kind", ["IOLock", "IOSimpleLock", "IORWLock"])
def test_locks_keep_mutual_exclusion_under_seeded_preemption(lock_kind: str) -> None:
    """Preempted anywhere, threads never lose an update made under a lock; without
    one the same schedules do (so the schedules really interleave)."""
    seeds = range(8)
    assert [count_with(lock_kind, seed) for seed in seeds] == [80] * len(seeds)
    assert any(count_with(None, seed) < 80 for seed in seeds)
