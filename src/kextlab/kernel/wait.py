"""Waiting on events: ``assert_wait``, ``thread_block``, ``thread_wakeup`` and aborts.

Mirrors the event-wait half of xnu's ``osfmk/kern/sched_prim.c`` (``assert_wait``,
``assert_wait_deadline``, ``thread_block``, ``thread_wakeup_prim``, ``clear_wait``)
and ``osfmk/kern/thread_act.c`` (``thread_abort``, ``thread_abort_safely``), with the
constants of ``osfmk/kern/kern_types.h``.  ``IOLockSleep``, ``IORecursiveLockSleep``
and, through them, ``IOCommandGate::commandSleep`` are built on it
(``kextlab.kernel.locks``).

Design
------
An *event* is any hashable Python object (xnu uses an address; a driver here passes
``self``, a string or a tuple).  Each kernel keeps one table from events to their
sleepers, in arrival order.  Waiting takes two steps, as in xnu, so that a caller can
drop a lock in between without losing a wakeup:

1. ``assert_wait(event, interruptible)`` puts the caller on the event's queue and
   returns ``THREAD_WAITING``;
2. ``thread_block()`` suspends the caller until the wait ends, and returns why:
   ``THREAD_AWAKENED`` (``thread_wakeup``), ``THREAD_TIMED_OUT`` (the deadline of
   ``assert_wait_deadline`` passed) or ``THREAD_INTERRUPTED`` (``thread_abort``).

A wakeup that arrives between the two steps ends the wait at once: ``thread_block``
then returns without blocking.  A wakeup with nobody on the queue is lost, exactly as
in xnu; that is why sleepers test their condition under a lock.  ``one_thread``
wakes the longest sleeper (xnu picks by priority; kextlab's threads have none, so
arrival order decides, deterministically).  A deadline of 0 means no timeout, as in
xnu's ``waitq_assert_wait64_locked``; deadlines are absolute virtual nanoseconds
(AbsoluteTime, ``kextlab.kernel.clock``).

Aborts (``THREAD_INTERRUPTIBLE`` and ``THREAD_ABORTSAFE`` waits):
``thread_abort(thread)`` ends an interruptible wait with ``THREAD_INTERRUPTED``;
``thread_abort_safely(thread)`` ends only ``THREAD_ABORTSAFE`` waits.  A
``THREAD_UNINT`` wait is never interrupted.  If the thread is not in a wait the abort
can end, it stays pending and the thread's next wait that it can end returns
``THREAD_INTERRUPTED`` at once.  Departure from xnu: there an abort stays set until
the thread next returns to user space, which a kernel thread never does; here the
wait it interrupts consumes it, so one abort interrupts one wait.

Threading rules: ``assert_wait`` and ``thread_block`` block the caller and so need a
kernel thread (or the host, which runs the machine while it waits); in interrupt
context, with interrupts disabled or holding a spin lock they raise (see
``Scheduler.current_waiter``).  ``thread_wakeup*``, ``clear_wait`` and the aborts
never block and may be called from any context, interrupt handlers included.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Final

from kextlab.errors import InternalError, SchedulingError
from kextlab.kernel.ioreturn import KERN_SUCCESS
from kextlab.sim.scheduler import Event, Scheduler, current_scheduler
from kextlab.sim.thread import KernelThread, Waiter

__all__ = [
    "KERN_FAILURE",
    "KERN_NOT_WAITING",
    "KERN_SUCCESS",
    "KERN_TERMINATED",
    "THREAD_ABORTSAFE",
    "THREAD_AWAKENED",
    "THREAD_INTERRUPTED",
    "THREAD_INTERRUPTIBLE",
    "THREAD_NOT_WAITING",
    "THREAD_RESTART",
    "THREAD_TIMED_OUT",
    "THREAD_UNINT",
    "THREAD_WAITING",
    "assert_wait",
    "assert_wait_deadline",
    "clear_wait",
    "thread_abort",
    "thread_abort_safely",
    "thread_block",
    "thread_wakeup",
    "thread_wakeup_one",
    "thread_wakeup_prim",
]

# wait_result_t (osfmk/kern/kern_types.h)
THREAD_WAITING: Final = -1  # thread is waiting
THREAD_AWAKENED: Final = 0  # normal wakeup
THREAD_TIMED_OUT: Final = 1  # timeout expired
THREAD_INTERRUPTED: Final = 2  # aborted/interrupted
THREAD_RESTART: Final = 3  # restart operation entirely
THREAD_NOT_WAITING: Final = 10  # thread didn't need to wait

# wait_interrupt_t (osfmk/kern/kern_types.h)
THREAD_UNINT: Final = 0  # not interruptible
THREAD_INTERRUPTIBLE: Final = 1  # may not be restartable
THREAD_ABORTSAFE: Final = 2  # abortable safely

# kern_return_t (osfmk/mach/kern_return.h)
KERN_FAILURE: Final = 5
KERN_TERMINATED: Final = 37
KERN_NOT_WAITING: Final = 48

_INTERRUPTIBLE_TYPES: Final = (THREAD_UNINT, THREAD_INTERRUPTIBLE, THREAD_ABORTSAFE)
_WAIT_EXTENSION: Final = "kextlab.kernel.wait"


class _Wait:
    """One asserted wait: who waits for what, and how it ended."""

    __slots__ = ("blocked", "event", "interruptible", "operation", "result", "timer", "waiter")

    def __init__(self, waiter: Waiter, event: Hashable, interruptible: int, operation: str) -> None:
        self.waiter = waiter
        self.event = event
        self.interruptible = interruptible
        self.operation = operation
        self.result = THREAD_WAITING
        self.blocked = False  # thread_block suspended the waiter
        self.timer: Event | None = None


class WaitTable:
    """The sleepers of one kernel, by event (``scheduler.extensions``)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self._queues: dict[Hashable, deque[_Wait]] = {}
        self._asserted: dict[Waiter, _Wait] = {}
        # A pending abort is kept on its thread (``Waiter.pending_abort``), so that it
        # goes with the thread and costs an asserted wait one attribute test.

    def sleepers(self, event: Hashable) -> int:
        """How many parties wait on ``event`` now."""
        queue = self._queues.get(event)
        return len(queue) if queue is not None else 0

    # -- the two steps of waiting -----------------------------------------------------------

    def assert_wait(
        self, event: Hashable, interruptible: int, deadline: int, operation: str
    ) -> int:
        if interruptible not in _INTERRUPTIBLE_TYPES:
            raise ValueError(
                f"{operation}: interruptible type {interruptible!r} is not THREAD_UNINT (0), "
                f"THREAD_INTERRUPTIBLE (1) or THREAD_ABORTSAFE (2)"
            )
        scheduler = self.scheduler
        waiter = scheduler.current_waiter(operation)
        prior = self._asserted.get(waiter)
        if prior is not None:
            raise SchedulingError(
                f"{operation}: {waiter.name} asserts a wait on {event!r} while its wait on "
                f"{prior.event!r} ({prior.operation}) has not been blocked on"
            )
        safely_only = waiter.pending_abort
        if safely_only is not None and _abort_ends(safely_only, interruptible):
            waiter.pending_abort = None
            return THREAD_INTERRUPTED
        wait = _Wait(waiter, event, interruptible, operation)
        queues = self._queues
        try:
            queue = queues.get(event)
        except TypeError:
            raise TypeError(
                f"{operation}: the event must be hashable, not {type(event).__name__}; "
                f"an object standing for the condition (self, a string) will do"
            ) from None
        if queue is None:
            queue = queues[event] = deque()
        queue.append(wait)
        self._asserted[waiter] = wait
        if deadline:
            wait.timer = scheduler.at(
                max(deadline, scheduler.now),
                lambda: self._finish(wait, THREAD_TIMED_OUT),
                f"wait.deadline {waiter.name}",
            )
        return THREAD_WAITING

    def thread_block(self, operation: str) -> int:
        scheduler = self.scheduler
        waiter = scheduler.current_waiter(operation)
        wait = self._asserted.get(waiter)
        if wait is None:
            # No wait asserted: xnu's thread_block just gives up the CPU.
            scheduler.yield_thread()
            return THREAD_AWAKENED
        try:
            if wait.result == THREAD_WAITING:
                wait.blocked = True
                scheduler.block(waiter, wait.operation)
            return wait.result
        finally:
            del self._asserted[waiter]
            if wait.result == THREAD_WAITING:  # unwound (machine shutdown): withdraw
                self._dequeue(wait, THREAD_INTERRUPTED)
            if wait.timer is not None:
                wait.timer.cancel()

    # -- ending waits --------------------------------------------------------------------

    def wakeup(self, event: Hashable, one_thread: bool, result: int) -> int:
        queues = self._queues
        queue = queues.get(event)
        if not queue:
            return KERN_NOT_WAITING
        # Every queued wait is still waiting (``_dequeue`` takes a wait off its queue
        # as it ends), so the waits leave here directly, in arrival order: ``_finish``
        # and ``_dequeue`` inlined, since every I/O completion comes here.
        wake = self.scheduler.wake
        if one_thread:
            wait = queue.popleft()
            if not queue:
                del queues[event]
            wait.result = result
            if wait.blocked:
                wake(wait.waiter, result)
        else:
            del queues[event]
            for wait in queue:
                wait.result = result
                if wait.blocked:
                    wake(wait.waiter, result)
        return KERN_SUCCESS

    def clear_wait(self, waiter: Waiter, result: int) -> int:
        wait = self._asserted.get(waiter)
        if wait is None or wait.result != THREAD_WAITING:
            return KERN_NOT_WAITING
        if result == THREAD_INTERRUPTED and wait.interruptible == THREAD_UNINT:
            return KERN_FAILURE
        self._finish(wait, result)
        return KERN_SUCCESS

    def abort(self, thread: KernelThread, safely_only: bool) -> int:
        if not thread.is_alive:
            return KERN_TERMINATED
        wait = self._asserted.get(thread)
        if (
            wait is not None
            and wait.result == THREAD_WAITING
            and _abort_ends(safely_only, wait.interruptible)
        ):
            self._finish(wait, THREAD_INTERRUPTED)
        elif not safely_only or thread.pending_abort is None:
            thread.pending_abort = safely_only
        return KERN_SUCCESS

    def _finish(self, wait: _Wait, result: int) -> None:
        """End ``wait`` with ``result``: off its queue, and its waiter woken if blocked."""
        if wait.result != THREAD_WAITING:
            return
        self._dequeue(wait, result)
        if wait.blocked:
            self.scheduler.wake(wait.waiter, result)

    def _dequeue(self, wait: _Wait, result: int) -> None:
        wait.result = result
        queue = self._queues[wait.event]
        queue.remove(wait)
        if not queue:
            del self._queues[wait.event]


def _abort_ends(safely_only: bool, interruptible: int) -> bool:
    """Whether an abort (``thread_abort``, or with ``safely_only`` ``thread_abort_safely``)
    ends a wait of type ``interruptible``."""
    if interruptible == THREAD_UNINT:
        return False
    return interruptible == THREAD_ABORTSAFE or not safely_only


def wait_table(scheduler: Scheduler | None = None) -> WaitTable:
    """The wait table of ``scheduler``'s kernel (the running one by default)."""
    if scheduler is None:
        scheduler = current_scheduler()
        if scheduler is None:
            raise InternalError("waiting on an event outside a running machine")
    table = scheduler.extensions.get(_WAIT_EXTENSION)
    if table is None:
        table = scheduler.extensions[_WAIT_EXTENSION] = WaitTable(scheduler)
    assert isinstance(table, WaitTable)
    return table


def assert_wait(event: Hashable, interruptible: int) -> int:
    """Declare that the caller is about to wait for ``event``; ``THREAD_WAITING``, or
    ``THREAD_INTERRUPTED`` when a pending abort ends the wait before it starts."""
    return wait_table().assert_wait(event, interruptible, 0, "assert_wait")


def assert_wait_deadline(event: Hashable, interruptible: int, deadline: int) -> int:
    """``assert_wait`` that also ends with ``THREAD_TIMED_OUT`` at ``deadline``
    (AbsoluteTime; 0 for none)."""
    return wait_table().assert_wait(event, interruptible, deadline, "assert_wait_deadline")


def thread_block() -> int:
    """Block until the asserted wait ends; returns its ``wait_result_t``."""
    return wait_table().thread_block("thread_block")


def thread_wakeup_prim(event: Hashable, one_thread: bool, result: int) -> int:
    """End the wait of the longest sleeper on ``event`` (or of all of them) with
    ``result``; ``KERN_NOT_WAITING`` if nobody waited (the wakeup is lost)."""
    return wait_table().wakeup(event, one_thread, result)


def thread_wakeup(event: Hashable) -> int:
    """Wake every sleeper on ``event`` (``THREAD_AWAKENED``)."""
    return wait_table().wakeup(event, False, THREAD_AWAKENED)  # thread_wakeup_prim


def thread_wakeup_one(event: Hashable) -> int:
    """Wake the longest sleeper on ``event`` (``THREAD_AWAKENED``)."""
    return wait_table().wakeup(event, True, THREAD_AWAKENED)  # thread_wakeup_prim


def clear_wait(thread: Waiter, result: int) -> int:
    """End ``thread``'s wait with ``result``: ``KERN_SUCCESS``; ``KERN_NOT_WAITING``
    if it was not waiting; ``KERN_FAILURE`` for ``THREAD_INTERRUPTED`` on an
    uninterruptible wait."""
    return wait_table().clear_wait(thread, result)


def thread_abort(thread: KernelThread) -> int:
    """Interrupt ``thread``'s interruptible wait, now or at its next one;
    ``KERN_TERMINATED`` if the thread has finished."""
    return wait_table(thread.scheduler).abort(thread, safely_only=False)


def thread_abort_safely(thread: KernelThread) -> int:
    """Like ``thread_abort``, for ``THREAD_ABORTSAFE`` waits only."""
    return wait_table(thread.scheduler).abort(thread, safely_only=True)
