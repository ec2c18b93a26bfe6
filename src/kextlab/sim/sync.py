"""Blocking primitives: wait queues, mutexes, conditions and semaphores.

These are the machine-level mechanisms the kernel builds its API on (``IOLock``,
``IORecursiveLock``, ``IOLockSleep``/``IOLockWakeup``, ``IOCommandGate``'s
``commandSleep``, ``IOCommandPool``...).  They follow the scheduler's blocking
protocol (``Scheduler.current_waiter`` / ``block`` / ``wake``), so:

* a kernel thread that blocks lets the rest of the machine run;
* the host (a test) that blocks runs the machine until it is woken, or gets
  ``Deadlock`` when nothing pending could wake it;
* blocking in interrupt context, or with interrupts disabled, raises
  ``InterruptContextViolation``; an event callback may not block at all.

Wakeups are FIFO and hand ownership over directly (a released mutex goes to its
longest waiter, a posted semaphore unit to the first waiter), which is fair and,
above all, deterministic.  Timeouts are virtual nanoseconds; a wait that times out
returns False.

Threading rules: call from the thread that owns the machine's scheduler.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from kextlab.errors import LockError, SchedulingError
from kextlab.sim.context import Context

if TYPE_CHECKING:
    from kextlab.sim.scheduler import Scheduler
    from kextlab.sim.thread import Waiter


#: Tested on every unlock; a module constant saves the enum's class-attribute lookup.
_HOST = Context.HOST


class _WaitEntry:
    __slots__ = ("active", "waiter")

    def __init__(self, waiter: Waiter) -> None:
        self.waiter = waiter
        self.active = True


class WaitQueue:
    """Parties waiting for a wakeup: the primitive everything else is built from."""

    def __init__(self, scheduler: Scheduler, name: str) -> None:
        self.scheduler = scheduler
        self.name = name
        self._entries: deque[_WaitEntry] = deque()
        #: What a waiter blocks on unless the caller names it (the name is fixed).
        self._operation = f"wait on {name}"

    def __len__(self) -> int:
        return sum(1 for entry in self._entries if entry.active)

    def wait(self, timeout: int | None = None, *, operation: str | None = None) -> bool:
        """Block until woken (True) or until ``timeout`` ns have passed (False)."""
        scheduler = self.scheduler
        what = operation or self._operation
        waiter = scheduler.current_waiter(what)
        entry = _WaitEntry(waiter)
        self._entries.append(entry)
        if timeout is None:
            return bool(scheduler.block(waiter, what))

        def time_out() -> None:
            if entry.active:
                entry.active = False
                scheduler.wake(entry.waiter, False)

        timer = scheduler.after(timeout, time_out, f"wait.timeout {self.name}")
        woken = scheduler.block(waiter, what)
        timer.cancel()
        return bool(woken)

    def wakeup_one(self) -> bool:
        """Wake the longest waiter; False if nobody was waiting."""
        entries = self._entries
        while entries:
            entry = entries.popleft()
            if entry.active:
                entry.active = False
                self.scheduler.wake(entry.waiter, True)
                return True
        return False

    def wakeup_all(self) -> int:
        """Wake every waiter; returns how many."""
        count = 0
        while self.wakeup_one():
            count += 1
        return count


class Mutex:
    """A sleeping lock with an owner; ``recursive`` lets the owner take it again.

    Re-taking a non-recursive mutex by its owner, or releasing a mutex one does not
    hold, raises ``LockError`` (on real hardware: a self-deadlock or a panic).
    """

    def __init__(self, scheduler: Scheduler, name: str, *, recursive: bool = False) -> None:
        self.scheduler = scheduler
        self.name = name
        self.recursive = recursive
        self.owner: Waiter | None = None
        self.depth = 0
        self._waiters = WaitQueue(scheduler, name)
        #: What a caller that blocks here is blocked on (the name is fixed).
        self._operation = f"lock {name}"

    def __repr__(self) -> str:
        owner = self.owner.name if self.owner is not None else "free"
        return f"<Mutex {self.name!r} {owner}>"

    def lock(self) -> None:
        scheduler = self.scheduler
        operation = self._operation
        me = scheduler.current_waiter(operation)
        owner = self.owner
        if owner is None:
            self.owner = me
            self.depth = 1
            return
        if owner is me:
            if not self.recursive:
                raise LockError(f"{me.name} takes lock {self.name!r} which it already holds")
            self.depth += 1
            return
        # WaitQueue.wait without a timeout, for a waiter already checked (the queue's
        # own entries, in this module: a contended work-loop gate comes here per I/O).
        self._waiters._entries.append(_WaitEntry(me))
        scheduler.block(me, operation)
        # unlock() handed ownership over to us before waking us.
        if self.owner is not me:
            raise SchedulingError(f"lock {self.name!r}: woken without ownership")

    def try_lock(self) -> bool:
        me = self.scheduler.current_waiter(f"try-lock {self.name}")
        if self.owner is None:
            self.owner = me
            self.depth = 1
            return True
        if self.owner is me and self.recursive:
            self.depth += 1
            return True
        return False

    def unlock(self) -> None:
        scheduler = self.scheduler
        # Scheduler.caller(), inlined (its fields, in this package): every gate release.
        me = scheduler._host if scheduler.context is _HOST else scheduler.current_thread
        owner = self.owner
        if owner is None or owner is not me:
            holder = owner.name if owner is not None else "nobody"
            caller = me.name if me is not None else "an event callback"
            raise LockError(f"{caller} releases lock {self.name!r} held by {holder}")
        self.depth -= 1
        if self.depth:
            return
        # Hand the lock straight to the longest waiter, so that nobody can take it in
        # between (WaitQueue.wakeup_one, inlined on the queue's own entries).
        entries = self._waiters._entries
        while entries:
            entry = entries.popleft()
            if entry.active:
                entry.active = False
                self.owner = entry.waiter
                self.depth = 1
                scheduler.wake(entry.waiter, True)
                return
        self.owner = None

    def held_by_caller(self) -> bool:
        scheduler = self.scheduler
        # Scheduler.caller(), inlined as in ``unlock``: the work loop asks on every I/O.
        me = scheduler._host if scheduler.context is _HOST else scheduler.current_thread
        return me is not None and self.owner is me


class Condition:
    """A condition variable bound to a ``Mutex`` (Mesa semantics: recheck on wake)."""

    def __init__(self, mutex: Mutex, name: str) -> None:
        self.mutex = mutex
        self.name = name
        self._waiters = WaitQueue(mutex.scheduler, name)

    def wait(self, timeout: int | None = None) -> bool:
        """Release the mutex, wait, take it back; False if ``timeout`` ns passed."""
        mutex = self.mutex
        if not mutex.held_by_caller():
            raise LockError(f"waiting on condition {self.name!r} without holding {mutex.name!r}")
        mutex.scheduler.current_waiter(f"wait on {self.name}")  # check before releasing
        depth = mutex.depth
        mutex.depth = 1
        mutex.unlock()
        try:
            return self._waiters.wait(timeout)
        finally:
            mutex.lock()
            mutex.depth = depth

    def signal(self) -> bool:
        return self._waiters.wakeup_one()

    def broadcast(self) -> int:
        return self._waiters.wakeup_all()


class Semaphore:
    """A counting semaphore; ``signal`` hands a unit straight to the first waiter."""

    def __init__(self, scheduler: Scheduler, name: str, count: int = 0) -> None:
        if count < 0:
            raise ValueError(f"semaphore {name!r}: initial count {count} is negative")
        self.scheduler = scheduler
        self.name = name
        self.count = count
        self._waiters = WaitQueue(scheduler, name)

    def wait(self, timeout: int | None = None) -> bool:
        if self.count > 0:
            self.scheduler.current_waiter(f"semaphore {self.name}")
            self.count -= 1
            return True
        return self._waiters.wait(timeout, operation=f"semaphore {self.name}")

    def try_wait(self) -> bool:
        if self.count > 0:
            self.count -= 1
            return True
        return False

    def signal(self) -> None:
        if not self._waiters.wakeup_one():
            self.count += 1
