"""I/O Kit locks: ``IOLock``, ``IORecursiveLock``, ``IOSimpleLock`` and ``IORWLock``.

Mirrors ``iokit/IOKit/IOLocks.h`` and ``iokit/Kernel/IOLocks.cpp`` (xnu), built on the
machine's blocking primitives (``kextlab.sim.sync.Mutex``) and on the kernel's event
waits (``kextlab.kernel.wait``).  The C API is the contract: ``IOLockAlloc()``,
``IOLockLock(lock)``, ``IOLockSleep(lock, event, THREAD_UNINT)`` ...; the lock
objects also work as context managers (``with lock:``) for Python drivers.

Design
------
* ``IOLock`` is a sleeping mutex: a contended ``IOLockLock`` blocks the calling
  kernel thread, and ``IOLockUnlock`` hands the lock to the longest waiter (FIFO,
  deterministic).  ``IOLockSleep(lock, event, interType)`` is xnu's
  ``lck_mtx_sleep``: assert a wait on ``event``, release the lock, block, retake the
  lock, return the wait result (``THREAD_AWAKENED``, ``THREAD_TIMED_OUT``,
  ``THREAD_INTERRUPTED``).  The wait is asserted before the lock is dropped, so a
  wakeup sent by whoever takes the lock next cannot be lost; a wakeup sent when
  nobody sleeps is lost, as in xnu.  ``IOLockWakeup`` does not need the lock.
* ``IORecursiveLock`` may be retaken by its holder (``IOWorkLoop``'s gate).
  ``IORecursiveLockSleep`` releases it completely whatever the depth, and retakes it
  at the same depth, as ``IOLocks.cpp`` does.
* ``IOSimpleLock`` is a spin lock.  Its holder runs with preemption disabled and may
  not block (``LockError``, checked by ``Scheduler.current_waiter``: xnu panics).  A
  thread that finds it held spins: it consumes virtual time at a preemption point,
  with exponential backoff from ``SPIN_STEP_MIN`` to ``SPIN_STEP_MAX``, until the
  holder (preempted meanwhile) releases it; after ``LockTimeOut`` (0.5 s, xnu's
  release value) it raises ``LockError``, where xnu panics "Spinlock acquisition
  timed out".  An interrupt handler that finds a simple lock held can never get it
  on kextlab's single CPU: the holder cannot run until the handler returns.  That
  raises ``InterruptContextViolation`` naming the lock and its holder, and telling
  the author to take the lock with ``IOSimpleLockLockDisableInterrupt`` in thread
  context, which defers the interrupt until ``IOSimpleLockUnlockEnableInterrupt``.
* ``IORWLock`` lets readers share and writers exclude.  Policy: strict FIFO by
  arrival, readers granted in batches.  A request is granted at once only if it is
  compatible with the holders *and* nobody is queued; otherwise it queues.  A
  release grants the head of the queue: a writer once the lock is free, or the run
  of readers at the head together.  So a writer waits only for the holders and the
  requests ahead of it, and readers arriving behind a waiting writer wait for it:
  writers are never starved, and neither are readers.  One exception: a thread
  that already reads may read again at once (recursion), since queueing it behind a
  writer that waits for it would deadlock.  xnu's ``lck_rw`` makes the same
  exception for threads holding read locks.
* Misuse raises ``LockError`` naming the lock (by kind, number and the function
  that allocated it) and the threads: unlocking a lock one does not hold, retaking
  a lock that is not recursive (a self-deadlock on real hardware), sleeping on a
  lock one does not hold, freeing a held lock, using a freed lock.

Threading rules: the sleeping locks (``IOLock``, ``IORecursiveLock``, ``IORWLock``)
are for kernel threads (and the host, which runs the machine while it waits): taking
one in interrupt context, with interrupts disabled or holding a simple lock raises,
even when the lock happens to be free.  The try variants never block, but still
refuse interrupt context.  ``IOSimpleLock`` works everywhere; ``IOLockWakeup`` and
``IORecursiveLockWakeup`` never block and may be called from interrupt handlers.
Lock and unlock are preemption points under seeded preemption.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Hashable
from types import TracebackType
from typing import Final

from kextlab.errors import InternalError, InterruptContextViolation, LockError, SchedulingError
from kextlab.kernel.wait import (
    THREAD_ABORTSAFE,
    THREAD_AWAKENED,
    THREAD_INTERRUPTED,
    THREAD_INTERRUPTIBLE,
    THREAD_RESTART,
    THREAD_TIMED_OUT,
    THREAD_UNINT,
    THREAD_WAITING,
    thread_wakeup_prim,
    wait_table,
)
from kextlab.sim.context import Context
from kextlab.sim.interrupts import InterruptState
from kextlab.sim.scheduler import Scheduler, current_scheduler
from kextlab.sim.sync import Mutex
from kextlab.sim.thread import KernelThread, Waiter
from kextlab.sim.time import MICROSECOND, SECOND

__all__ = [
    "SPIN_STEP_MAX",
    "SPIN_STEP_MIN",
    "THREAD_ABORTSAFE",
    "THREAD_AWAKENED",
    "THREAD_INTERRUPTED",
    "THREAD_INTERRUPTIBLE",
    "THREAD_RESTART",
    "THREAD_TIMED_OUT",
    "THREAD_UNINT",
    "IOInterruptState",
    "IOLock",
    "IOLockAlloc",
    "IOLockFree",
    "IOLockLock",
    "IOLockSleep",
    "IOLockSleepDeadline",
    "IOLockTryLock",
    "IOLockUnlock",
    "IOLockWakeup",
    "IORWLock",
    "IORWLockAlloc",
    "IORWLockFree",
    "IORWLockRead",
    "IORWLockTryRead",
    "IORWLockTryWrite",
    "IORWLockUnlock",
    "IORWLockWrite",
    "IORecursiveLock",
    "IORecursiveLockAlloc",
    "IORecursiveLockFree",
    "IORecursiveLockHaveLock",
    "IORecursiveLockLock",
    "IORecursiveLockSleep",
    "IORecursiveLockSleepDeadline",
    "IORecursiveLockTryLock",
    "IORecursiveLockUnlock",
    "IORecursiveLockWakeup",
    "IOSimpleLock",
    "IOSimpleLockAlloc",
    "IOSimpleLockDestroy",
    "IOSimpleLockFree",
    "IOSimpleLockInit",
    "IOSimpleLockLock",
    "IOSimpleLockLockDisableInterrupt",
    "IOSimpleLockTryLock",
    "IOSimpleLockUnlock",
    "IOSimpleLockUnlockEnableInterrupt",
    "LockTimeOut",
]

#: What ``IOSimpleLockLockDisableInterrupt`` returns (xnu: the previous enable state).
IOInterruptState = InterruptState

#: How long a spin lock may be spun on before xnu panics (``ml_init_lock_timeout``,
#: release kernels: half a second).
LockTimeOut: Final = SECOND // 2
#: A spinning thread's first and longest poll interval (exponential backoff).
SPIN_STEP_MIN: Final = 50
SPIN_STEP_MAX: Final = 10 * MICROSECOND

#: Contexts as module constants (an enum member read through its class is a
#: Python-level lookup, and every simple-lock operation tests the context).
_INTERRUPT: Final = Context.INTERRUPT
_EVENT: Final = Context.EVENT

_LOCK_EXTENSION: Final = "kextlab.kernel.locks"


def _running_scheduler(operation: str) -> Scheduler:
    scheduler = current_scheduler()
    if scheduler is None:
        raise InternalError(f"{operation} called outside a running machine")
    return scheduler


def _allocation_site() -> str:
    """The function that called the ``...Alloc`` function or the lock's constructor
    (the caller's caller)."""
    return sys._getframe(2).f_code.co_qualname


def _party(waiter: object | None) -> str:
    if isinstance(waiter, KernelThread):
        return f"thread {waiter.name!r}"
    if isinstance(waiter, Waiter):
        return waiter.name  # the host
    if waiter is None:
        return "nobody"
    return str(waiter)


class _Lock:
    """What every lock kind shares: its scheduler, its name, its freed state."""

    kind = "lock"

    def __init__(self, site: str) -> None:
        scheduler = _running_scheduler(f"{self.kind}Alloc")
        counters = scheduler.extensions.setdefault(_LOCK_EXTENSION, {})
        assert isinstance(counters, dict)
        number = counters[self.kind] = counters.get(self.kind, 0) + 1
        self.scheduler = scheduler
        self.name = f"{self.kind} {number} ({site})"
        self.freed = False

    def __repr__(self) -> str:
        return f"<{self.name}{' freed' if self.freed else ''}>"

    def _live(self, operation: str) -> Scheduler:
        if self.freed:
            raise self._freed_error(operation)
        return self.scheduler

    def _freed_error(self, operation: str) -> LockError:
        """What using the lock after it was freed raises (hot paths test ``freed``
        themselves and call this only then)."""
        return LockError(f"{operation}: {self.name} was freed ({self.kind}Free)")


def _caller_for_try(scheduler: Scheduler, operation: str, lock: _Lock) -> Waiter:
    """The thread (or host) trying a sleeping lock: refuses interrupt and event context,
    but, since a try never blocks, not a caller holding a spin lock."""
    context = scheduler.context
    if context is _INTERRUPT:
        raise InterruptContextViolation(
            f"{operation}: {lock.name} is a sleeping lock; interrupt handlers may only "
            f"take IOSimpleLocks"
        )
    waiter = scheduler.caller()
    if waiter is None:
        raise SchedulingError(f"{operation}: an event callback cannot take {lock.name}")
    return waiter


# -- IOLock and IORecursiveLock -------------------------------------------------------------


class IOLock(_Lock):
    """A sleeping mutex (``lck_mtx_t``); make one with ``IOLockAlloc``."""

    kind = "IOLock"
    recursive = False
    #: The functions ``with lock:`` stands for (named in errors).
    _lock_function = "IOLockLock"
    _unlock_function = "IOLockUnlock"

    def __init__(self, site: str | None = None) -> None:
        super().__init__(site or _allocation_site())
        self.mutex = Mutex(self.scheduler, self.name, recursive=self.recursive)

    @property
    def owner(self) -> Waiter | None:
        """Who holds the lock (a kernel thread or the host), or None."""
        return self.mutex.owner

    def __enter__(self) -> None:
        _mutex_lock(self, self._lock_function)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _mutex_unlock(self, self._unlock_function)


class IORecursiveLock(IOLock):
    """A sleeping mutex its holder may take again (``IORecursiveLockAlloc``)."""

    kind = "IORecursiveLock"
    recursive = True
    _lock_function = "IORecursiveLockLock"
    _unlock_function = "IORecursiveLockUnlock"

    @property
    def depth(self) -> int:
        """How many times the holder has taken the lock (0 when free)."""
        return self.mutex.depth


def _mutex_lock(lock: IOLock, operation: str) -> None:
    if lock.freed:
        raise lock._freed_error(operation)
    scheduler = lock.scheduler
    if scheduler.preemption is not None:
        scheduler.preemption_point()
    lock.mutex.lock()  # checks that the caller may block, even when the lock is free


def _mutex_try_lock(lock: IOLock, operation: str) -> bool:
    scheduler = lock._live(operation)
    me = _caller_for_try(scheduler, operation, lock)
    mutex = lock.mutex
    if mutex.owner is None:
        mutex.owner = me
        mutex.depth = 1
        return True
    if mutex.owner is me and mutex.recursive:
        mutex.depth += 1
        return True
    return False


def _mutex_unlock(lock: IOLock, operation: str) -> None:
    if lock.freed:
        raise lock._freed_error(operation)
    lock.mutex.unlock()
    scheduler = lock.scheduler
    if scheduler.preemption is not None:
        scheduler.preemption_point()


def _mutex_sleep(lock: IOLock, event: Hashable, deadline: int, interType: int, op: str) -> int:
    """``lck_mtx_sleep[_deadline]``: wait for ``event`` with the lock released,
    then retake it (at the same depth for a recursive lock)."""
    scheduler = lock._live(op)
    me = scheduler.current_waiter(f"{op} {lock.name}")  # interrupt context, first
    mutex = lock.mutex
    if mutex.owner is not me:
        raise LockError(
            f"{op}: {_party(me)} sleeps on {lock.name} held by {_party(mutex.owner)}; "
            f"the caller must hold the lock"
        )
    table = wait_table(scheduler)
    result = table.assert_wait(event, interType, deadline, f"{op} {lock.name}")
    if result != THREAD_WAITING:
        return result
    depth = mutex.depth
    mutex.depth = 1
    mutex.unlock()
    result = table.thread_block(f"{op} {lock.name}")
    # Whatever ended the wait, the lock is retaken before returning (IOLocks.cpp).
    mutex.lock()
    mutex.depth = depth
    return result


def IOLockAlloc() -> IOLock:
    """Allocate a mutex (``lck_mtx_alloc_init``)."""
    return IOLock(_allocation_site())


def IOLockFree(lock: IOLock) -> None:
    """Free a lock; it must not be held."""
    _free(lock, "IOLockFree")


def IOLockLock(lock: IOLock) -> None:
    """Take the lock, blocking while another thread holds it."""
    _mutex_lock(lock, "IOLockLock")


def IOLockTryLock(lock: IOLock) -> bool:
    """Take the lock if it is free; never blocks."""
    return _mutex_try_lock(lock, "IOLockTryLock")


def IOLockUnlock(lock: IOLock) -> None:
    """Release the lock; the longest waiter gets it."""
    _mutex_unlock(lock, "IOLockUnlock")


def IOLockSleep(lock: IOLock, event: Hashable, interType: int) -> int:
    """Release the lock, wait for ``IOLockWakeup(lock, event, ...)``, retake the lock;
    returns ``THREAD_AWAKENED`` or ``THREAD_INTERRUPTED``."""
    return _mutex_sleep(lock, event, 0, interType, "IOLockSleep")


def IOLockSleepDeadline(lock: IOLock, event: Hashable, deadline: int, interType: int) -> int:
    """``IOLockSleep`` that gives up at ``deadline`` (AbsoluteTime) with
    ``THREAD_TIMED_OUT``; a deadline of 0 never expires (as in xnu)."""
    return _mutex_sleep(lock, event, deadline, interType, "IOLockSleepDeadline")


def IOLockWakeup(lock: IOLock, event: Hashable, oneThread: bool) -> None:
    """Wake the longest sleeper on ``event`` (``oneThread``) or all of them."""
    lock._live("IOLockWakeup")
    thread_wakeup_prim(event, oneThread, THREAD_AWAKENED)


def IORecursiveLockAlloc() -> IORecursiveLock:
    """Allocate a recursive mutex."""
    return IORecursiveLock(_allocation_site())


def IORecursiveLockFree(lock: IORecursiveLock) -> None:
    """Free a recursive lock; it must not be held."""
    _free(lock, "IORecursiveLockFree")


def IORecursiveLockLock(lock: IORecursiveLock) -> None:
    """Take the lock (again, if the caller holds it: the depth goes up)."""
    # _mutex_lock, inlined: this is IOWorkLoop's gate, closed for every command.
    if lock.freed:
        raise lock._freed_error("IORecursiveLockLock")
    scheduler = lock.scheduler
    if scheduler.preemption is not None:
        scheduler.preemption_point()
    lock.mutex.lock()


def IORecursiveLockTryLock(lock: IORecursiveLock) -> bool:
    """Take the lock if it is free or the caller's; never blocks."""
    return _mutex_try_lock(lock, "IORecursiveLockTryLock")


def IORecursiveLockUnlock(lock: IORecursiveLock) -> None:
    """Undo one ``IORecursiveLockLock``; the last one releases the lock."""
    # _mutex_unlock, inlined: this is IOWorkLoop's gate, opened for every command.
    if lock.freed:
        raise lock._freed_error("IORecursiveLockUnlock")
    lock.mutex.unlock()
    scheduler = lock.scheduler
    if scheduler.preemption is not None:
        scheduler.preemption_point()


def IORecursiveLockHaveLock(lock: IORecursiveLock) -> bool:
    """Whether the caller holds the lock.  In an interrupt handler the caller is the
    interrupted thread, as xnu's ``IOThreadSelf()`` is there."""
    if lock.freed:
        raise lock._freed_error("IORecursiveLockHaveLock")
    return lock.mutex.held_by_caller()


def IORecursiveLockSleep(lock: IORecursiveLock, event: Hashable, interType: int) -> int:
    """Release the lock completely, wait for ``event``, retake it at the same depth."""
    return _mutex_sleep(lock, event, 0, interType, "IORecursiveLockSleep")


def IORecursiveLockSleepDeadline(
    lock: IORecursiveLock, event: Hashable, deadline: int, interType: int
) -> int:
    """``IORecursiveLockSleep`` that gives up at ``deadline`` (AbsoluteTime)."""
    return _mutex_sleep(lock, event, deadline, interType, "IORecursiveLockSleepDeadline")


def IORecursiveLockWakeup(lock: IORecursiveLock, event: Hashable, oneThread: bool) -> None:
    """Wake the longest sleeper on ``event`` (``oneThread``) or all of them."""
    lock._live("IORecursiveLockWakeup")
    thread_wakeup_prim(event, oneThread, THREAD_AWAKENED)


# -- IOSimpleLock -----------------------------------------------------------------------------


class _Context:
    """A lock holder that is a context rather than a thread."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


_INTERRUPT_HANDLER: Final = _Context("an interrupt handler")
_EVENT_CALLBACK: Final = _Context("an event callback")


class IOSimpleLock(_Lock):
    """A spin lock (``lck_spin_t``); ``IOSimpleLockAlloc``, or construct and
    ``IOSimpleLockInit`` a lock that is a member of a driver."""

    kind = "IOSimpleLock"

    def __init__(self, site: str | None = None) -> None:
        super().__init__(site or _allocation_site())
        #: A kernel thread, the host, or an interrupt handler or event callback.
        self.owner: Waiter | _Context | None = None

    def __enter__(self) -> None:
        IOSimpleLockLock(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        IOSimpleLockUnlock(self)


def _spin_holder(scheduler: Scheduler) -> Waiter | _Context:
    """Who takes a simple lock in the current context."""
    context = scheduler.context
    if context is _INTERRUPT:
        return _INTERRUPT_HANDLER
    if context is _EVENT:
        return _EVENT_CALLBACK
    waiter = scheduler.caller()
    assert waiter is not None
    return waiter


def _spin_take(lock: IOSimpleLock, me: Waiter | _Context) -> None:
    lock.owner = me
    if isinstance(me, Waiter):
        me.spin_locks_held += 1
        scheduler = lock.scheduler
        if scheduler.preemption is not None:
            scheduler.disable_preemption()


def _spin(lock: IOSimpleLock, me: Waiter | _Context, operation: str) -> None:
    """Wait for a held simple lock the way a CPU does: by spinning."""
    scheduler = lock.scheduler
    holder = lock.owner
    if holder is me:
        raise LockError(
            f"{operation}: {_party(me)} takes {lock.name} which it already holds; a spin "
            f"lock is not recursive (a real CPU would spin forever)"
        )
    if isinstance(me, _Context):
        if me is _INTERRUPT_HANDLER:
            raise InterruptContextViolation(
                f"{operation} in interrupt context: {lock.name} is held by {_party(holder)}, "
                f"which cannot run until the handler returns: on a real CPU this deadlocks. "
                f"Take the lock in thread context with IOSimpleLockLockDisableInterrupt "
                f"(and release it with IOSimpleLockUnlockEnableInterrupt)"
            )
        raise SchedulingError(
            f"{operation}: an event callback cannot spin on {lock.name} held by {_party(holder)}"
        )
    started = scheduler.now
    step = SPIN_STEP_MIN
    while lock.owner is not None:
        holder = lock.owner
        if isinstance(holder, KernelThread) and not holder.is_alive:
            raise LockError(
                f"{operation}: {lock.name} is held by {_party(holder)}, which finished "
                f"without unlocking it"
            )
        if scheduler.now - started >= LockTimeOut:
            raise LockError(
                f"{operation}: spinlock acquisition timed out: {_party(me)} spun "
                f"{(scheduler.now - started) // MICROSECOND} us on {lock.name} held by "
                f"{_party(holder)}"
            )
        scheduler.consume(step)
        step = min(2 * step, SPIN_STEP_MAX)


def IOSimpleLockAlloc() -> IOSimpleLock:
    """Allocate a spin lock, unlocked."""
    return IOSimpleLock(_allocation_site())


def IOSimpleLockInit(lock: IOSimpleLock) -> None:
    """Initialise a spin lock to the unlocked state (a lock that is not held)."""
    if lock.owner is not None:
        raise LockError(
            f"IOSimpleLockInit: {lock.name} is held by {_party(lock.owner)}; "
            f"initialising it would break that holder"
        )
    lock.freed = False


def IOSimpleLockDestroy(lock: IOSimpleLock) -> None:
    """Undo ``IOSimpleLockInit``; the lock must not be held."""
    _free(lock, "IOSimpleLockDestroy")


def IOSimpleLockFree(lock: IOSimpleLock) -> None:
    """Free a spin lock; it must not be held."""
    _free(lock, "IOSimpleLockFree")


def IOSimpleLockLock(lock: IOSimpleLock) -> None:
    """Take the spin lock, spinning while another party holds it."""
    if lock.freed:
        raise lock._freed_error("IOSimpleLockLock")
    scheduler = lock.scheduler
    me = _spin_holder(scheduler)
    if scheduler.preemption is not None and isinstance(me, Waiter):
        scheduler.preemption_point()
    if lock.owner is not None:
        _spin(lock, me, "IOSimpleLockLock")
    _spin_take(lock, me)


def IOSimpleLockTryLock(lock: IOSimpleLock) -> bool:
    """Take the spin lock if it is free; False (and no spinning) if it is held."""
    scheduler = lock._live("IOSimpleLockTryLock")
    if lock.owner is not None:
        return False
    _spin_take(lock, _spin_holder(scheduler))
    return True


def IOSimpleLockUnlock(lock: IOSimpleLock) -> None:
    """Release the spin lock (its holder only)."""
    if lock.freed:
        raise lock._freed_error("IOSimpleLockUnlock")
    scheduler = lock.scheduler
    me = _spin_holder(scheduler)
    if lock.owner is not me:
        raise LockError(
            f"IOSimpleLockUnlock: {_party(me)} releases {lock.name} held by {_party(lock.owner)}"
        )
    lock.owner = None
    if isinstance(me, Waiter):
        me.spin_locks_held -= 1
        if scheduler.preemption is not None:
            scheduler.enable_preemption()
            scheduler.preemption_point()


def IOSimpleLockLockDisableInterrupt(lock: IOSimpleLock) -> IOInterruptState:
    """Disable interrupts on the CPU, then take the spin lock; pass the result to
    ``IOSimpleLockUnlockEnableInterrupt``.  An interrupt that arrives meanwhile is
    deferred until then."""
    scheduler = lock._live("IOSimpleLockLockDisableInterrupt")
    state = scheduler.interrupts.disable()
    try:
        IOSimpleLockLock(lock)
    except BaseException:
        scheduler.interrupts.restore(state)
        raise
    return state


def IOSimpleLockUnlockEnableInterrupt(lock: IOSimpleLock, state: IOInterruptState) -> None:
    """Release the spin lock, then restore interrupts; a deferred interrupt is taken
    before this returns."""
    IOSimpleLockUnlock(lock)
    lock.scheduler.interrupts.restore(state)


# -- IORWLock ---------------------------------------------------------------------------------


class _Request:
    __slots__ = ("waiter", "write")

    def __init__(self, waiter: Waiter, write: bool) -> None:
        self.waiter = waiter
        self.write = write


class IORWLock(_Lock):
    """A readers-writer lock (``lck_rw_t``); make one with ``IORWLockAlloc``."""

    kind = "IORWLock"

    def __init__(self, site: str | None = None) -> None:
        super().__init__(site or _allocation_site())
        self.writer: Waiter | None = None
        #: Readers and how many times each holds the lock, in the order they got it.
        self.readers: dict[Waiter, int] = {}
        self._queue: deque[_Request] = deque()

    @property
    def waiting(self) -> int:
        """How many requests are queued."""
        return len(self._queue)

    def _held(self) -> bool:
        return self.writer is not None or bool(self.readers)

    def _holders(self) -> str:
        if self.writer is not None:
            return f"{_party(self.writer)} (writing)"
        return ", ".join(_party(reader) for reader in self.readers) + " (reading)"

    def _grant(self) -> None:
        """Hand the lock to the head of the queue: a writer, or the run of readers."""
        queue = self._queue
        scheduler = self.scheduler
        while queue and self.writer is None:
            head = queue[0]
            if head.write:
                if self.readers:
                    return
                queue.popleft()
                self.writer = head.waiter
                scheduler.wake(head.waiter, True)
                return
            queue.popleft()
            self.readers[head.waiter] = 1
            scheduler.wake(head.waiter, True)


def _rw_acquire(lock: IORWLock, write: bool, operation: str) -> None:
    scheduler = lock._live(operation)
    me = scheduler.current_waiter(f"{operation} {lock.name}")
    scheduler.preemption_point()
    if lock.writer is me:
        raise LockError(
            f"{operation}: {_party(me)} holds {lock.name} for writing already; "
            f"an IORWLock is not recursive for writers (a self-deadlock)"
        )
    if me in lock.readers:
        if write:
            raise LockError(
                f"{operation}: {_party(me)} reads {lock.name} and asks to write it: it "
                f"would wait for itself (unlock, then IORWLockWrite)"
            )
        lock.readers[me] += 1  # a reader may read again, even past a waiting writer
        return
    if not lock._queue and (lock.writer is None and (not write or not lock.readers)):
        if write:
            lock.writer = me
        else:
            lock.readers[me] = 1
        return
    lock._queue.append(_Request(me, write))
    scheduler.block(me, f"{operation} {lock.name}")
    # _grant() made us the writer or a reader before waking us.
    if (lock.writer is not me) if write else (me not in lock.readers):
        raise InternalError(f"{operation}: woken without {lock.name}")


def _rw_try(lock: IORWLock, write: bool, operation: str) -> bool:
    scheduler = lock._live(operation)
    me = _caller_for_try(scheduler, operation, lock)
    if write:
        if lock._held() or lock._queue:
            return False
        lock.writer = me
        return True
    if me in lock.readers:
        lock.readers[me] += 1
        return True
    if lock.writer is not None or lock._queue:
        return False
    lock.readers[me] = 1
    return True


def IORWLockAlloc() -> IORWLock:
    """Allocate a readers-writer lock."""
    return IORWLock(_allocation_site())


def IORWLockFree(lock: IORWLock) -> None:
    """Free the lock; it must not be held."""
    _free(lock, "IORWLockFree")


def IORWLockRead(lock: IORWLock) -> None:
    """Take the lock for reading (shared), blocking behind a writer or a queued one."""
    _rw_acquire(lock, False, "IORWLockRead")


def IORWLockWrite(lock: IORWLock) -> None:
    """Take the lock for writing (exclusive), blocking until it is the caller's turn."""
    _rw_acquire(lock, True, "IORWLockWrite")


def IORWLockTryRead(lock: IORWLock) -> bool:
    """Take the lock for reading if that needs no wait; never blocks."""
    return _rw_try(lock, False, "IORWLockTryRead")


def IORWLockTryWrite(lock: IORWLock) -> bool:
    """Take the lock for writing if it is free; never blocks."""
    return _rw_try(lock, True, "IORWLockTryWrite")


def IORWLockUnlock(lock: IORWLock) -> None:
    """Release the caller's hold, read or write; queued requests get their turn."""
    scheduler = lock._live("IORWLockUnlock")
    me = scheduler.caller()
    if me is not None and lock.writer is me:
        lock.writer = None
    elif me is not None and me in lock.readers:
        lock.readers[me] -= 1
        if lock.readers[me]:
            return
        del lock.readers[me]
    else:
        holders = lock._holders() if lock._held() else "nobody"
        raise LockError(f"IORWLockUnlock: {_party(me)} releases {lock.name} held by {holders}")
    lock._grant()
    scheduler.preemption_point()


# -- freeing ------------------------------------------------------------------------------------


def _free(lock: IOLock | IOSimpleLock | IORWLock, operation: str) -> None:
    lock._live(operation)
    held = lock._held() if isinstance(lock, IORWLock) else lock.owner is not None
    if held:
        holder = lock._holders() if isinstance(lock, IORWLock) else _party(lock.owner)
        raise LockError(f"{operation}: {lock.name} is still held by {holder}")
    lock.freed = True
