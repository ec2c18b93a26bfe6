"""Blocking primitives: mutexes, conditions, semaphores, wait queues and their contexts."""

from __future__ import annotations

import pytest

from kextlab.errors import Deadlock, InterruptContextViolation, KernelPanic, LockError
from kextlab.sim import Condition, Mutex, Scheduler, Semaphore, WaitQueue


def test_a_contended_mutex_goes_to_waiters_in_arrival_order() -> None:
    """Unlock hands the mutex to the longest waiter: FIFO and deterministic."""
    scheduler = Scheduler()
    mutex = Mutex(scheduler, "lock")
    order: list[str] = []

    def worker(name: str) -> None:
        mutex.lock()
        order.append(name)
        scheduler.sleep(10)
        mutex.unlock()

    for name in ("a", "b", "c"):
        scheduler.spawn(worker, name, name=name)
    scheduler.run()
    assert order == ["a", "b", "c"]
    assert scheduler.now == 30
    assert mutex.owner is None


def test_mutex_records_its_owner_and_rejects_misuse() -> None:
    """A non-recursive mutex refuses its owner twice; only the owner may unlock it."""
    scheduler = Scheduler()
    mutex = Mutex(scheduler, "IOLock")
    mutex.lock()
    assert mutex.held_by_caller()
    with pytest.raises(LockError, match="already holds"):
        mutex.lock()

    def thief() -> None:
        mutex.unlock()

    scheduler.spawn(thief, name="thief")
    with pytest.raises(KernelPanic, match="thief releases lock 'IOLock' held by host"):
        scheduler.run()


def test_recursive_mutex_counts_its_depth() -> None:
    """A recursive mutex (IORecursiveLock) is released only by the last unlock."""
    scheduler = Scheduler()
    mutex = Mutex(scheduler, "recursive", recursive=True)
    mutex.lock()
    mutex.lock()
    assert mutex.depth == 2
    mutex.unlock()
    assert mutex.owner is not None
    mutex.unlock()
    assert mutex.owner is None
    with pytest.raises(LockError, match="held by nobody"):
        mutex.unlock()


def test_try_lock_never_blocks() -> None:
    """try_lock fails at once when another party holds the mutex."""
    scheduler = Scheduler()
    mutex = Mutex(scheduler, "lock")
    results: list[bool] = []
    mutex.lock()
    scheduler.spawn(lambda: results.append(mutex.try_lock()), name="trier")
    scheduler.run()
    assert results == [False]
    assert scheduler.now == 0


def test_the_host_blocking_on_a_mutex_runs_the_machine_until_it_is_free() -> None:
    """A test (the host) waiting for a lock lets the kernel threads run and release it."""
    scheduler = Scheduler()
    mutex = Mutex(scheduler, "lock")

    def holder() -> None:
        mutex.lock()
        scheduler.sleep(70)
        mutex.unlock()

    scheduler.spawn(holder, name="holder")
    scheduler.run_for(1)
    mutex.lock()
    assert scheduler.now == 70
    assert mutex.held_by_caller()


def test_the_host_waiting_for_nothing_gets_a_deadlock_error() -> None:
    """Waiting with no pending event that could ever wake the host raises Deadlock."""
    scheduler = Scheduler()
    queue = WaitQueue(scheduler, "never")
    with pytest.raises(Deadlock, match="no pending event can wake it"):
        queue.wait()


def test_wait_queue_timeout_returns_false_at_the_deadline() -> None:
    """A timed wait that nobody wakes returns False exactly at its deadline."""
    scheduler = Scheduler()
    queue = WaitQueue(scheduler, "q")
    results: list[tuple[bool, int]] = []

    def waiter() -> None:
        results.append((queue.wait(timeout=500), scheduler.now))
        results.append((queue.wait(timeout=500), scheduler.now))

    scheduler.spawn(waiter, name="waiter")
    scheduler.run_for(600)
    assert queue.wakeup_one()
    scheduler.run()
    assert results == [(False, 500), (True, 600)]
    assert not queue.wakeup_one()


def test_condition_wait_releases_and_retakes_the_mutex() -> None:
    """Condition.wait drops the mutex while waiting and holds it again on return."""
    scheduler = Scheduler()
    mutex = Mutex(scheduler, "gate")
    condition = Condition(mutex, "work")
    items: list[int] = []
    consumed: list[tuple[int, int]] = []

    def consumer() -> None:
        mutex.lock()
        while not items:
            condition.wait()
        consumed.append((items.pop(), scheduler.now))
        assert mutex.held_by_caller()
        mutex.unlock()

    def producer() -> None:
        scheduler.sleep(40)
        mutex.lock()
        items.append(7)
        condition.signal()
        mutex.unlock()

    scheduler.spawn(consumer, name="consumer")
    scheduler.spawn(producer, name="producer")
    scheduler.run()
    assert consumed == [(7, 40)]


def test_condition_wait_times_out_holding_the_mutex() -> None:
    """A timed-out condition wait still returns with the mutex held."""
    scheduler = Scheduler()
    mutex = Mutex(scheduler, "gate", recursive=True)
    condition = Condition(mutex, "never")
    mutex.lock()
    mutex.lock()
    assert condition.wait(timeout=250) is False
    assert scheduler.now == 250
    assert mutex.held_by_caller()
    assert mutex.depth == 2


def test_condition_wait_without_the_mutex_is_refused() -> None:
    """Waiting on a condition without holding its mutex is a LockError."""
    scheduler = Scheduler()
    condition = Condition(Mutex(scheduler, "gate"), "c")
    with pytest.raises(LockError, match="without holding"):
        condition.wait()


def test_semaphore_counts_and_hands_units_to_waiters() -> None:
    """A semaphore unit posted while someone waits goes to that waiter."""
    scheduler = Scheduler()
    semaphore = Semaphore(scheduler, "slots", count=1)
    log: list[tuple[str, int]] = []

    def user(name: str) -> None:
        semaphore.wait()
        log.append((name, scheduler.now))
        scheduler.sleep(10)
        semaphore.signal()

    scheduler.spawn(user, "a", name="a")
    scheduler.spawn(user, "b", name="b")
    scheduler.run()
    assert log == [("a", 0), ("b", 10)]
    assert semaphore.count == 1
    assert semaphore.try_wait()
    assert not semaphore.try_wait()
    with pytest.raises(ValueError, match="negative"):
        Semaphore(scheduler, "bad", count=-1)


def test_semaphore_wait_times_out() -> None:
    """A semaphore wait with a timeout returns False when no unit arrives."""
    scheduler = Scheduler()
    semaphore = Semaphore(scheduler, "empty")
    assert semaphore.wait(timeout=1000) is False
    assert scheduler.now == 1000


@pytest.mark.parametrize(
    "operation",
    ["sleep", "lock", "semaphore", "wait queue"],
)
def test_blocking_in_interrupt_context_is_a_violation(operation: str) -> None:
    """Sleeping, locking or waiting in an interrupt handler raises InterruptContextViolation."""
    scheduler = Scheduler()
    mutex = Mutex(scheduler, "lock")
    semaphore = Semaphore(scheduler, "sem")
    queue = WaitQueue(scheduler, "q")
    actions = {
        "sleep": lambda: scheduler.sleep(10),
        "lock": mutex.lock,
        "semaphore": semaphore.wait,
        "wait queue": queue.wait,
    }
    caught: list[BaseException] = []

    def handler() -> None:
        try:
            actions[operation]()
        except InterruptContextViolation as error:
            caught.append(error)

    scheduler.interrupts.connect(handler)
    scheduler.interrupts.set_asserted(True)
    scheduler.at(0, lambda: scheduler.interrupts.set_asserted(False), "deassert")
    scheduler.run()
    assert len(caught) == 1
    assert "blocking in interrupt context" in str(caught[0])
