"""Kernel threads a driver makes, and deferred calls: ``IOCreateThread``,
``IOExitThread`` and ``thread_call``.

Mirrors ``IOCreateThread``/``IOExitThread`` of ``iokit/Kernel/IOLib.cpp`` and the
public API of xnu's ``osfmk/kern/thread_call.h`` (``thread_call_allocate``,
``thread_call_enter[1][_delayed]``, ``thread_call_cancel``, ``thread_call_isactive``,
``thread_call_free``).

Threads: ``IOCreateThread(function, argument)`` starts a kernel thread of the running
machine that calls ``function(argument)``; the thread is named after the function's
``__qualname__`` (``MyDriver.worker``) and ends when the function returns or calls
``IOExitThread()``.  An exception escaping it panics the machine, naming the thread.

Thread calls
------------
A ``thread_call_t`` is a function and a first parameter, bound at allocation
(``func(param0, param1)``), that can be *entered*: queued to run once, on a kernel
thread, as soon as possible or at a deadline (AbsoluteTime).  The results are xnu's:

* ``thread_call_enter*`` returns True when the call was already pending (immediate or
  delayed); that invocation is replaced by the new one (new ``param1``, new time), so
  a call is pending at most once.  A call that is *running* is not pending: entering
  it queues one more invocation, which may run while the first is still running.
  ``thread_call_enter`` and ``thread_call_enter_delayed`` pass ``param1 = None``
  (xnu passes 0).
* ``thread_call_cancel`` returns True when it withdrew a pending invocation; a
  running one is not stopped.
* ``thread_call_isactive`` is True while an invocation is pending or running.
* ``thread_call_free`` returns False, and frees nothing, while an invocation is
  pending; otherwise the call is freed (a running invocation finishes first) and any
  later use of it raises ``ThreadCallError``.

The callout threads (a per-kernel pool): xnu runs calls allocated with
``thread_call_allocate`` in its "high" group, whose threads it creates and retires on
demand.  kextlab's pool does the same in the simplest deterministic way: when a call
falls due and no callout thread is free to take it, a new one is started (named
``thread call high #N``, N counting per kernel); a callout thread runs due calls in
the order they fell due, and ends as soon as none is left, so a quiet machine has no
callout threads (and a test none to leak).  Calls therefore run in parallel when one
blocks or is preempted, as in xnu's parallel groups.  A delayed call falls due by a
scheduler event at its deadline; its function never runs in event context.

Threading rules: ``IOCreateThread`` may block (it allocates) and so needs a kernel
thread or the host; ``IOExitThread`` only ends a kernel thread.  The ``thread_call``
functions never block and may be called from any context, interrupt handlers
included.  ``thread_call_allocate`` allocates, as in xnu, and so refuses the places
where a thread may not block (interrupt context, a spin lock held...).
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from kextlab.errors import InternalError, KextlabError, SchedulingError
from kextlab.sim.context import Context
from kextlab.sim.scheduler import Event, Scheduler, current_scheduler
from kextlab.sim.thread import KernelThread, ThreadExit, exit_thread

__all__ = [
    "IOCreateThread",
    "IOExitThread",
    "ThreadCallError",
    "thread_call_allocate",
    "thread_call_cancel",
    "thread_call_enter",
    "thread_call_enter1",
    "thread_call_enter1_delayed",
    "thread_call_enter_delayed",
    "thread_call_free",
    "thread_call_func_t",
    "thread_call_isactive",
    "thread_call_t",
]

#: ``thread_call_func_t``: ``func(param0, param1)``.
thread_call_func_t = Callable[[Any, Any], object]

_THREAD_CALL_EXTENSION: Final = "kextlab.kernel.thread_call"


class ThreadCallError(KextlabError, RuntimeError):
    """A thread call used after ``thread_call_free`` (a use-after-free in xnu)."""


def _scheduler(operation: str) -> Scheduler:
    scheduler = current_scheduler()
    if scheduler is None:
        raise InternalError(f"{operation} called outside a running machine")
    return scheduler


# -- threads ---------------------------------------------------------------------------------


def IOCreateThread(function: Callable[[Any], object], argument: Any) -> KernelThread:
    """Start a kernel thread running ``function(argument)``; it is named after the
    function and starts at the present virtual time."""
    scheduler = _scheduler("IOCreateThread")
    scheduler.current_waiter("IOCreateThread")  # it allocates: not in interrupt context
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return scheduler.spawn(function, argument, name=name)


def IOExitThread() -> None:
    """End the calling kernel thread (its ``finally`` blocks run)."""
    scheduler = _scheduler("IOExitThread")
    if scheduler.context is not Context.THREAD:
        raise SchedulingError(
            f"IOExitThread called in {scheduler.context.value} context; it ends the "
            f"calling kernel thread"
        )
    exit_thread()


# -- thread calls ------------------------------------------------------------------------------


class _State(enum.Enum):
    IDLE = "idle"
    PENDING = "pending"  # due: queued for a callout thread
    DELAYED = "delayed"  # waiting for its deadline


#: The states as module constants: an enum member read through its class is a
#: Python-level lookup, and a SCSI command arms and cancels its timeout call.
_IDLE = _State.IDLE
_PENDING = _State.PENDING
_DELAYED = _State.DELAYED


class thread_call_t:
    """A deferred call (``thread_call_allocate``); opaque to drivers."""

    __slots__ = (
        "_deadline_action",
        "_group",
        "_label",
        "_state",
        "_timer",
        "deadline",
        "freed",
        "func",
        "name",
        "param0",
        "param1",
        "running",
    )

    def __init__(self, group: ThreadCallGroup, func: thread_call_func_t, param0: Any) -> None:
        self._group = group
        self.func = func
        self.param0 = param0
        self.param1: Any = None
        self._state = _IDLE
        self._timer: Event | None = None
        #: The AbsoluteTime a delayed invocation falls due (0 when none is delayed).
        self.deadline = 0
        #: How many invocations are running now.
        self.running = 0
        self.freed = False
        #: The function's name (the function is bound for life).
        self.name: str = getattr(func, "__qualname__", None) or type(func).__name__
        # What a delayed invocation schedules, made once: drivers arm a timeout per
        # command (the SCSI task timer), and most are cancelled before they fire.
        self._label = f"thread_call {self.name}"
        self._deadline_action: Callable[[], None] = partial(group._expire, self)

    def __repr__(self) -> str:
        state = "freed" if self.freed else self._state.value
        return f"<thread_call_t {self.name} {state}>"


class ThreadCallGroup:
    """The thread calls of one kernel and its callout threads (``scheduler.extensions``)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self._due: deque[thread_call_t] = deque()
        self._starting = 0  # callout threads started that have not taken a call yet
        self._serial = itertools.count(1)
        #: Callout threads started so far (for tests and statistics).
        self.threads_started = 0
        #: Invocations run so far.
        self.calls_run = 0

    def enter(self, call: thread_call_t, param1: Any, deadline: int | None, op: str) -> bool:
        if call.freed:
            raise _freed_error(call, op)
        was_pending = call._state is not _IDLE and self._withdraw(call)
        call.param1 = param1
        if deadline is None:
            self._make_due(call)
        else:
            now = self.scheduler.now
            call._state = _DELAYED
            call.deadline = deadline
            call._timer = self.scheduler.at(
                deadline if deadline > now else now, call._deadline_action, call._label
            )
        return was_pending

    def _withdraw(self, call: thread_call_t) -> bool:
        """Take a pending invocation back; whether there was one."""
        state = call._state
        if state is _PENDING:
            self._due.remove(call)
        elif state is _DELAYED:
            assert call._timer is not None
            call._timer.cancel()
            call._timer = None
            call.deadline = 0
        else:
            return False
        call._state = _IDLE
        return True

    def _expire(self, call: thread_call_t) -> None:
        """Event action: a delayed call's deadline has come."""
        call._timer = None
        call.deadline = 0
        self._make_due(call)

    def _make_due(self, call: thread_call_t) -> None:
        call._state = _PENDING
        self._due.append(call)
        self._start_threads()

    def _start_threads(self) -> None:
        """Start a callout thread for each due call no starting thread will take."""
        while len(self._due) > self._starting:
            self._starting += 1
            self.threads_started += 1
            name = f"thread call high #{next(self._serial)}"
            self.scheduler.spawn(self._callout_thread, name=name)

    def _callout_thread(self) -> None:
        """A callout thread: run due calls in order, end when none is left."""
        self._starting -= 1
        due = self._due
        while due:
            call = due.popleft()
            call._state = _IDLE
            param1 = call.param1
            call.running += 1
            self.calls_run += 1
            try:
                call.func(call.param0, param1)
            except ThreadExit:  # IOExitThread in a call: others take the calls left
                self._start_threads()
                raise
            finally:
                call.running -= 1


def _group(operation: str) -> ThreadCallGroup:
    scheduler = _scheduler(operation)
    group = scheduler.extensions.get(_THREAD_CALL_EXTENSION)
    if group is None:
        group = scheduler.extensions[_THREAD_CALL_EXTENSION] = ThreadCallGroup(scheduler)
    assert isinstance(group, ThreadCallGroup)
    return group


def _live(call: thread_call_t, operation: str) -> None:
    if call.freed:
        raise _freed_error(call, operation)


def _freed_error(call: thread_call_t, operation: str) -> ThreadCallError:
    return ThreadCallError(f"{operation}: {call.name} was freed (thread_call_free)")


def thread_call_allocate(func: thread_call_func_t, param0: Any) -> thread_call_t:
    """A thread call running ``func(param0, param1)`` when entered."""
    group = _group("thread_call_allocate")
    group.scheduler.current_waiter("thread_call_allocate")  # it allocates: it may block
    return thread_call_t(group, func, param0)


def thread_call_enter(call: thread_call_t) -> bool:
    """Run ``call`` as soon as possible; True if it was already pending."""
    return call._group.enter(call, None, None, "thread_call_enter")


def thread_call_enter1(call: thread_call_t, param1: Any) -> bool:
    """``thread_call_enter`` with ``param1`` for the function; True if it was pending."""
    return call._group.enter(call, param1, None, "thread_call_enter1")


def thread_call_enter_delayed(call: thread_call_t, deadline: int) -> bool:
    """Run ``call`` at ``deadline`` (AbsoluteTime); True if it was already pending."""
    return call._group.enter(call, None, deadline, "thread_call_enter_delayed")


def thread_call_enter1_delayed(call: thread_call_t, param1: Any, deadline: int) -> bool:
    """``thread_call_enter_delayed`` with ``param1``; True if it was already pending."""
    return call._group.enter(call, param1, deadline, "thread_call_enter1_delayed")


def thread_call_cancel(call: thread_call_t) -> bool:
    """Withdraw a pending invocation; True if there was one (a running one goes on)."""
    if call.freed:
        raise _freed_error(call, "thread_call_cancel")
    return call._state is not _IDLE and call._group._withdraw(call)


def thread_call_isactive(call: thread_call_t) -> bool:
    """Whether an invocation is pending or running."""
    _live(call, "thread_call_isactive")
    return call._state is not _IDLE or call.running > 0


def thread_call_free(call: thread_call_t) -> bool:
    """Free ``call``; False (and nothing freed) while an invocation is pending."""
    _live(call, "thread_call_free")
    if call._state is not _IDLE:
        return False
    call.freed = True
    return True
