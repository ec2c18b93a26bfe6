"""SCSIParallelTimer: the controller's list of task deadlines and its one timer.

Mirrors ``SCSIParallelTimer`` (IOSCSIParallelFamily ``SCSIParallelTimer.h``/``.cpp``),
an ``IOTimerEventSource`` on the controller's work loop.  The HBA arms a task's
timeout with ``IOSCSIParallelInterfaceController::SetTimeoutForTask`` (the family
never does it by itself); the task's deadline goes into a list ordered by deadline
and the timer is set for the earliest.  When it fires, the controller takes the
expired tasks one by one (``GetExpiredTask``) and hands each to ``HandleTimeout``;
completing a task removes it from the list (``RemoveTask``).

Cheaper than Apple's on the I/O path, with the same outcome: a task removed from
the head does not cancel the timer while other tasks wait, and a later deadline
does not re-arm it.  The timer may then fire early, finds nothing expired and is set
for the real head; with commands queued (the common case under load) an I/O costs a
list insertion and removal, not two timer operations.  When the list empties the
timer is cancelled, as Apple's ``Rearm`` does, so an idle controller leaves no
event pending.  The list is kept sorted by ``(deadline, sequence)`` so ties are
broken in arming order.

A timeout of 0 (the task's and the override's) means Apple's "as long as possible":
``0xFFFFFFFF`` milliseconds.

Threading rules: every method runs with the work loop's gate held (the controller
calls them from its gated paths; ``SetTimeoutForTask`` from an HBA thread closes the
gate around the call).
"""

from __future__ import annotations

import bisect
import itertools
from typing import TYPE_CHECKING

from kextlab.kernel.clock import clock_interval_to_deadline, kMillisecondScale, mach_absolute_time
from kextlab.kernel.workloop.timer_event_source import IOTimerEventSource
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
    from kextlab.kernel.libkern.object import OSObject
    from kextlab.kernel.workloop.event_source import Action

kTimeoutValueNone = 0
#: What Apple substitutes for "no timeout": the largest UInt32 of milliseconds.
kLongestTimeoutMS = 0xFFFF_FFFF


class SCSIParallelTimer(IOTimerEventSource):
    """A timer event source that keeps the controller's task deadlines."""

    def __init__(self) -> None:
        super().__init__()
        self._keys: list[tuple[int, int]] = []
        self._tasks: dict[tuple[int, int], SCSIParallelTask] = {}
        self._sequence = itertools.count(1)
        self._armed_deadline = 0
        self.fHandlingTimeout = False
        #: The machine's clock, held: a timeout is armed for every command, and a timer
        #: never changes machines (None if made outside one: ``clock_interval_to_deadline``
        #: finds it then).
        self._clock = current_scheduler()

    @classmethod
    def CreateTimerEventSource(
        cls, owner: OSObject | None, action: Action | None
    ) -> SCSIParallelTimer | None:
        timer = cls()
        if not timer.Init(owner, action):
            timer.release()
            return None
        return timer

    def Init(self, owner: OSObject | None, action: Action | None) -> bool:
        return self.init(self.options, owner, action)

    def free(self) -> None:
        self._keys.clear()
        self._tasks.clear()
        super().free()

    def Enable(self) -> None:
        self.enable()

    def Disable(self) -> None:
        self.disable()

    def CancelTimeout(self) -> None:
        self._armed_deadline = 0
        self.cancelTimeout()

    # -- the list --------------------------------------------------------------------------------

    def SetTimeout(self, task: SCSIParallelTask, inTimeoutMS: int = kTimeoutValueNone) -> None:
        """Arm ``task``'s timeout: the override, else its own, else the longest."""
        if task.fTimeoutKey is not None:
            self.RemoveTask(task)
        if inTimeoutMS == kTimeoutValueNone:
            inTimeoutMS = task.GetTimeoutDuration() or kLongestTimeoutMS
        clock = self._clock
        if clock is not None:  # ``clock_interval_to_deadline`` with the clock held
            deadline = clock.now + inTimeoutMS * kMillisecondScale
        else:
            deadline = clock_interval_to_deadline(inTimeoutMS, kMillisecondScale)
        task.fTimeoutDeadline = deadline  # its ``SetTimeoutDeadline`` (one package)
        key = (deadline, next(self._sequence))
        task.fTimeoutKey = key
        self._tasks[key] = task
        keys = self._keys
        if not keys or key > keys[-1]:
            keys.append(key)
        else:
            bisect.insort(keys, key)
        if keys[0] is key and not self.fHandlingTimeout:
            # ``Rearm``, inline (this task is the head): unless set earlier already
            armed = self._armed_deadline
            if not armed or armed > deadline:
                self._armed_deadline = deadline
                self.wakeAtTime(deadline)

    def RemoveTask(self, task: SCSIParallelTask) -> None:
        """Take ``task`` off the list (a completed task; harmless if it is not on it)."""
        key = task.fTimeoutKey
        if key is None:
            return
        task.fTimeoutKey = None
        del self._tasks[key]
        keys = self._keys
        if keys and keys[0] == key:
            del keys[0]
        else:
            index = bisect.bisect_left(keys, key)
            if index < len(keys) and keys[index] == key:
                del keys[index]
        if not keys and self._armed_deadline and not self.fHandlingTimeout:
            # ``CancelTimeout``, inline: an idle controller keeps no timer pending
            self._armed_deadline = 0
            self.cancelTimeout()

    def pending_task_count(self) -> int:
        """How many tasks have a timeout armed (ours: tests and diagnostics)."""
        return len(self._keys)

    def GetExpiredTask(self) -> SCSIParallelTask | None:
        """The earliest task whose deadline has passed, taken off the list; or None."""
        keys = self._keys
        if not keys or keys[0][0] > mach_absolute_time():
            return None
        key = keys.pop(0)
        task = self._tasks.pop(key)
        task.fTimeoutKey = None
        return task

    # -- the timer -------------------------------------------------------------------------------

    def BeginTimeoutContext(self) -> None:
        self._armed_deadline = 0
        self.fHandlingTimeout = True

    def EndTimeoutContext(self) -> None:
        self.fHandlingTimeout = False

    def Rearm(self) -> bool:
        """Set the timer for the earliest deadline if it is not set earlier already."""
        if not self._keys or self.fHandlingTimeout:
            return False
        head = self._keys[0][0]
        if self._armed_deadline and self._armed_deadline <= head:
            return True
        self._armed_deadline = head
        self.wakeAtTime(head)
        return True


__all__ = ["SCSIParallelTimer", "kLongestTimeoutMS", "kTimeoutValueNone"]
