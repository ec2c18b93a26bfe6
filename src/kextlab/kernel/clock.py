"""Kernel time: AbsoluteTime, interval conversions, ``IOSleep`` and ``IODelay``.

Mirrors xnu's ``osfmk/kern/clock.h`` (``mach_absolute_time``, ``clock_get_uptime``,
``clock_interval_to_deadline`` ...), the scale factors of ``iokit/IOKit/IOTypes.h``
and the delays of ``iokit/Kernel/IOLib.cpp``.

AbsoluteTime is the machine's virtual clock, ``Scheduler.now``: kextlab's timebase
is 1/1, as on Intel Macs, so one AbsoluteTime unit is one nanosecond and the
conversions are exact.  Nothing here reads the host's clock.  xnu's C functions
return their results through pointers (``clock_get_uptime(&now)``); here they return
them.

The delays, and how they differ:

* ``IOSleep(ms)`` and ``IOSleepWithLeeway`` *block* the calling kernel thread; the
  rest of the machine runs meanwhile.  In interrupt context, with interrupts
  disabled or holding a spin lock they raise (``InterruptContextViolation``,
  ``LockError``), where a real kernel would quietly spin instead (xnu's ``delay``
  falls back to spinning there): a sleep in such a place is a driver bug.  The
  leeway permits the kernel to fire late, to coalesce timers; kextlab takes no
  liberty and wakes the thread at the interval exactly.
* ``IODelay(us)`` and ``IOPause(ns)`` *spin*: the caller keeps the CPU and consumes
  virtual time at a preemption point, so devices progress and due interrupts are
  delivered meanwhile.  They may be used anywhere; in interrupt context and event
  callbacks, which are instantaneous in virtual time, they cost nothing.  (Modern
  xnu turns long delays into sleeps when it can; the machine's state afterwards is
  the same either way.)

Threading rules: the conversions and clocks may be called from any context.
"""

from __future__ import annotations

from typing import Final

from kextlab.errors import InternalError
from kextlab.sim.scheduler import Scheduler, current_scheduler

__all__ = [
    "IODelay",
    "IOPause",
    "IOSleep",
    "IOSleepWithLeeway",
    "absolutetime_to_nanoseconds",
    "clock_absolutetime_interval_to_deadline",
    "clock_get_uptime",
    "clock_interval_to_absolutetime_interval",
    "clock_interval_to_deadline",
    "kMicrosecondScale",
    "kMillisecondScale",
    "kNanosecondScale",
    "kSecondScale",
    "kTickScale",
    "mach_absolute_time",
    "nanoseconds_to_absolutetime",
]

# Scale factors (IOKit/IOTypes.h): nanoseconds per unit.
kNanosecondScale: Final = 1
kMicrosecondScale: Final = 1000
kMillisecondScale: Final = 1000 * 1000
kSecondScale: Final = 1000 * 1000 * 1000
kTickScale: Final = kSecondScale // 100  # the standard 100 Hz tick


# The clock reads and deadlines below look the scheduler up themselves rather than
# through ``_scheduler``: drivers read the clock and arm timeouts on every command.


def _scheduler(operation: str) -> Scheduler:
    scheduler = current_scheduler()
    if scheduler is None:
        raise _outside(operation)
    return scheduler


def _outside(operation: str) -> InternalError:
    return InternalError(f"{operation} called outside a running machine")


def mach_absolute_time() -> int:
    """The machine's uptime in AbsoluteTime units (virtual nanoseconds)."""
    scheduler = current_scheduler()
    if scheduler is None:
        raise _outside("mach_absolute_time")
    return scheduler.now


def clock_get_uptime() -> int:
    """The uptime, in AbsoluteTime (``clock_get_uptime(&result)``)."""
    scheduler = current_scheduler()
    if scheduler is None:
        raise _outside("clock_get_uptime")
    return scheduler.now


def nanoseconds_to_absolutetime(nanoseconds: int) -> int:
    """Nanoseconds as AbsoluteTime (the timebase is 1/1)."""
    return nanoseconds


def absolutetime_to_nanoseconds(abstime: int) -> int:
    """AbsoluteTime as nanoseconds (the timebase is 1/1)."""
    return abstime


def clock_interval_to_absolutetime_interval(interval: int, scale_factor: int) -> int:
    """``interval`` units of ``scale_factor`` nanoseconds, as an AbsoluteTime interval."""
    return interval * scale_factor


def clock_interval_to_deadline(interval: int, scale_factor: int) -> int:
    """The AbsoluteTime ``interval * scale_factor`` nanoseconds from now."""
    scheduler = current_scheduler()
    if scheduler is None:
        raise _outside("clock_interval_to_deadline")
    return scheduler.now + interval * scale_factor


def clock_absolutetime_interval_to_deadline(abstime: int) -> int:
    """The AbsoluteTime ``abstime`` from now."""
    scheduler = current_scheduler()
    if scheduler is None:
        raise _outside("clock_absolutetime_interval_to_deadline")
    return scheduler.now + abstime


def _checked(value: int, unit: str, operation: str) -> int:
    """The C functions take ``unsigned``: a negative interval is a caller's bug."""
    if value < 0:
        raise ValueError(f"{operation}: {value} {unit} is negative")
    return value


def _sleep(interval: int, operation: str) -> None:
    scheduler = _scheduler(operation)
    scheduler.current_waiter(operation)  # refuse interrupt context even for 0 ms
    if interval > 0:
        scheduler.sleep(interval)


def IOSleep(milliseconds: int) -> None:
    """Block the calling thread for ``milliseconds`` of virtual time."""
    _sleep(_checked(milliseconds, "ms", "IOSleep") * kMillisecondScale, "IOSleep")


def IOSleepWithLeeway(intervalMilliseconds: int, leewayMilliseconds: int) -> None:
    """``IOSleep`` that the kernel may end up to ``leewayMilliseconds`` late (kextlab
    never does)."""
    _checked(leewayMilliseconds, "ms of leeway", "IOSleepWithLeeway")
    interval = _checked(intervalMilliseconds, "ms", "IOSleepWithLeeway")
    _sleep(interval * kMillisecondScale, "IOSleepWithLeeway")


def IODelay(microseconds: int) -> None:
    """Spin for ``microseconds``: a preemption point that consumes virtual time."""
    _scheduler("IODelay").consume(_checked(microseconds, "us", "IODelay") * kMicrosecondScale)


def IOPause(nanoseconds: int) -> None:
    """Spin for ``nanoseconds`` (``IODelay`` at nanosecond resolution)."""
    _scheduler("IOPause").consume(_checked(nanoseconds, "ns", "IOPause"))
