"""IOTimerEventSource: a one-shot timeout whose action runs under the gate.

Mirrors ``IOTimerEventSource.h``/``IOTimerEventSource.cpp`` (xnu).  A timer is
armed with ``setTimeout*`` (an interval from now) or ``wakeAtTime*`` (an absolute
deadline, AbsoluteTime = virtual nanoseconds) and fires once: it is a one-shot,
and an action that wants a periodic timer re-arms it (seed 003).  Re-arming a
pending timer moves its deadline; ``cancelTimeout`` and ``disable`` withdraw it.

Each arming bumps a *generation* number carried by the expiry; an expiry whose
generation is stale (the timer was cancelled or re-armed meanwhile) does nothing.
That is how xnu makes cancellation race-free, and kextlab keeps it, because with
seeded preemption the expiry and a cancel can interleave exactly as they do there.

Two ways to fire, chosen by the options, as in xnu:

* the default priorities (``kIOTimerEventSourceOptionsPriorityKernelHigh``...): the
  expiry is a ``thread_call`` that runs on a callout thread, closes the work
  loop's gate, calls ``action(owner, sender)`` and opens the gate;
* ``kIOTimerEventSourceOptionsPriorityWorkLoop``: the expiry signals the work loop,
  whose own thread runs the action from ``checkForWork``.

Threading rules: arm and cancel from any kernel thread (usually with the gate
held); the action always runs with the gate closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kextlab.kernel.clock import (
    clock_absolutetime_interval_to_deadline,
    clock_interval_to_absolutetime_interval,
    clock_interval_to_deadline,
    kMicrosecondScale,
    kMillisecondScale,
    kTickScale,
)
from kextlab.kernel.ioreturn import kIOReturnNoResources, kIOReturnSuccess
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.threads import (
    thread_call_allocate,
    thread_call_cancel,
    thread_call_enter1_delayed,
    thread_call_free,
    thread_call_t,
)
from kextlab.kernel.workloop.event_source import IOEventSource
from kextlab.kernel.workloop.work_loop import IOWorkLoop
from kextlab.sim.scheduler import Event, current_scheduler

#: ``IOTimerEventSource::Action``: ``action(owner, sender)``.
Action = Callable[..., Any]

kIOTimerEventSourceOptionsPriorityMask = 0x000000FF
kIOTimerEventSourceOptionsPriorityHigh = 0x00000000
kIOTimerEventSourceOptionsPriorityKernelHigh = 0x00000001
kIOTimerEventSourceOptionsPriorityKernel = 0x00000002
kIOTimerEventSourceOptionsPriorityUser = 0x00000003
kIOTimerEventSourceOptionsPriorityLow = 0x00000004
kIOTimerEventSourceOptionsPriorityWorkLoop = 0x000000FF
kIOTimerEventSourceOptionsAllowReenter = 0x00000100
kIOTimerEventSourceOptionsDefault = kIOTimerEventSourceOptionsPriorityKernelHigh

kIOTimeOptionsWithLeeway = 0x00000020
kIOTimeOptionsContinuous = 0x00000100


class IOTimerEventSource(IOEventSource):
    """A one-shot timer serialised with a work loop."""

    def __init__(self) -> None:
        super().__init__()
        #: The armed deadline (AbsoluteTime), 0 when not armed.
        self.abstime = 0
        self.options = kIOTimerEventSourceOptionsDefault
        self.calloutGeneration = 0
        self.calloutGenerationSignaled = ~0
        self._callout: thread_call_t | None = None
        self._signal: Event | None = None
        self._armed = False
        #: Times the action ran (ours: statistics and tests).
        self.fired = 0

    @classmethod
    def timerEventSource(cls, *arguments: Any) -> IOTimerEventSource | None:
        """``timerEventSource(owner, action)`` or ``timerEventSource(options, owner, action)``."""
        if arguments and isinstance(arguments[0], int):
            options, *rest = arguments
        else:
            options, rest = kIOTimerEventSourceOptionsDefault, list(arguments)
        owner = rest[0] if rest else None
        action = rest[1] if len(rest) > 1 else None
        timer = cls()
        if not timer.init(options, owner, action):
            timer.release()
            return None
        return timer

    def init(  # type: ignore[override]
        self, options: int, inOwner: OSObject | None, inAction: Action | None = None
    ) -> bool:
        if not super().init(inOwner, inAction):
            return False
        self.options = options
        if options & kIOTimerEventSourceOptionsPriorityMask == (
            kIOTimerEventSourceOptionsPriorityWorkLoop
        ):
            self.flags |= self.kActive
        else:
            self.flags |= self.kPassive
            self._callout = thread_call_allocate(IOTimerEventSource._timeout, self)
        return True

    def free(self) -> None:
        self.cancelTimeout()
        if self._callout is not None:
            thread_call_free(self._callout)
            self._callout = None
        super().free()

    @property
    def _fires_on_work_loop(self) -> bool:
        return self._callout is None

    # -- firing ------------------------------------------------------------------------------

    def _timeout(self, generation: object) -> None:
        """The callout thread's expiry (``timeoutAndRelease``)."""
        loop = self.workLoop
        if not self.enabled or self.action is None or loop is None:
            return
        loop.closeGate()
        try:
            if self.action is not None and generation == self.calloutGeneration:
                self._run_action()
        finally:
            loop.openGate()

    def _signalled(self, generation: int) -> None:
        """The expiry of a work-loop timer (``timeoutSignaled``): an event callback."""
        self._signal = None
        self.calloutGenerationSignaled = generation
        if self.enabled:
            self.signalWorkAvailable()

    def checkForWork(self) -> bool:
        if (
            self.calloutGenerationSignaled == self.calloutGeneration
            and self.enabled
            and self.action is not None
        ):
            self.calloutGenerationSignaled = ~self.calloutGeneration
            self._run_action()
        return False

    def _run_action(self) -> None:
        self._armed = False
        self.fired += 1
        self.invoke_action(self)

    # -- arming -------------------------------------------------------------------------------

    def setTimeoutTicks(self, ticks: int) -> int:
        return self.setTimeout(ticks, kTickScale)

    def setTimeoutMS(self, ms: int) -> int:
        return self.setTimeout(ms, kMillisecondScale)

    def setTimeoutUS(self, us: int) -> int:
        return self.setTimeout(us, kMicrosecondScale)

    def setTimeout(self, interval: int, scale_factor: int | None = None) -> int:
        """``setTimeout(interval, scale_factor)``, or ``setTimeout(abstime_interval)``."""
        if scale_factor is None:
            return self.wakeAtTime(clock_absolutetime_interval_to_deadline(interval))
        return self.wakeAtTime(clock_interval_to_deadline(interval, scale_factor))

    def wakeAtTimeTicks(self, ticks: int) -> int:
        return self.wakeAtTime(ticks, kTickScale)

    def wakeAtTimeMS(self, ms: int) -> int:
        return self.wakeAtTime(ms, kMillisecondScale)

    def wakeAtTimeUS(self, us: int) -> int:
        return self.wakeAtTime(us, kMicrosecondScale)

    def wakeAtTime(self, inAbstime: int, scale_factor: int | None = None) -> int:
        """Fire at ``inAbstime`` (AbsoluteTime), or at ``inAbstime * scale_factor`` ns."""
        if scale_factor is not None:
            inAbstime = clock_interval_to_absolutetime_interval(inAbstime, scale_factor)
        if self.action is None:
            return kIOReturnNoResources
        self.abstime = inAbstime
        if self.enabled and inAbstime and self.workLoop is not None:
            self.calloutGeneration += 1
            generation = self.calloutGeneration
            self._armed = True
            if self._callout is not None:
                thread_call_enter1_delayed(self._callout, generation, inAbstime)
            else:
                self._arm_signal(inAbstime, generation)
        return kIOReturnSuccess

    def _arm_signal(self, deadline: int, generation: int) -> None:
        if self._signal is not None:
            self._signal.cancel()
        scheduler = current_scheduler()
        assert scheduler is not None, "a timer is armed outside a running machine"
        owner = self.owner.getClassName() if self.owner is not None else "?"
        self._signal = scheduler.at(
            max(deadline, scheduler.now),
            lambda: self._signalled(generation),
            f"IOTimerEventSource {owner}",
        )

    def _withdraw(self) -> None:
        self.calloutGeneration += 1
        self._armed = False
        if self._callout is not None:
            thread_call_cancel(self._callout)
        if self._signal is not None:
            self._signal.cancel()
            self._signal = None

    def cancelTimeout(self) -> None:
        self._withdraw()
        self.abstime = 0

    def enable(self) -> None:
        super().enable()
        if self.abstime and self.wakeAtTime(self.abstime) != kIOReturnSuccess:
            super().disable()

    def disable(self) -> None:
        self._withdraw()
        super().disable()

    def setWorkLoop(self, inWorkLoop: IOWorkLoop | None) -> None:
        super().setWorkLoop(inWorkLoop)
        if self.enabled and self.abstime and self.workLoop is not None:
            self.wakeAtTime(self.abstime)

    def is_armed(self) -> bool:
        """Whether an expiry is pending (ours: tests and statistics)."""
        return self._armed
