"""The controller's pool of pre-allocated ``SCSIParallelTask`` objects.

Apple's controller keeps its parallel tasks in an ``IOCommandPool`` (xnu
``IOCommandPool.cpp``): ``getCommand`` and ``returnCommand`` each run through the
pool's command gate.  kextlab keeps the same semantics (last returned, first handed
out; a caller that may block waits for a task, one that may not gets None) with a
fast path that takes no lock: on kextlab's single virtual CPU a kernel thread loses
the CPU only at a preemption point, and taking or putting back a task contains none,
so the gate is needed only to *wait* for a task.  A waiter sleeps in the work loop's
gate and is woken, one at a time, by each task that comes back.  That spares the I/O
path two gate round trips per command, which the benchmarks feel.

``close`` (the controller deallocating its tasks) hands back every task still in the
pool and wakes any waiter, which then gets None.

Threading rules: ``take(False)`` and ``give`` from any context that may touch the
controller (threads, the work loop, completions); ``take(True)`` from kernel threads
other than the work loop's, and never with the gate held by someone who waits for
the waiter (it sleeps in the gate).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.kernel.locks import THREAD_UNINT

if TYPE_CHECKING:
    from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask
    from kextlab.kernel.workloop.work_loop import IOWorkLoop


class SCSIParallelTaskPool:
    """Free parallel tasks, and the threads waiting for one (ours)."""

    __slots__ = ("_closed", "_event", "_loop", "_tasks", "_waiters")

    def __init__(self, loop: IOWorkLoop) -> None:
        self._loop = loop
        self._tasks: list[SCSIParallelTask] = []
        self._waiters = 0
        self._closed = False
        self._event = ("SCSIParallelTaskPool", id(self))

    def __len__(self) -> int:
        return len(self._tasks)

    def give(self, task: SCSIParallelTask) -> None:
        """Put ``task`` back (it is the next one handed out) and wake one waiter."""
        self._tasks.append(task)
        if self._waiters:
            self._loop.wakeupGate(self._event, True)

    def take(self, block: bool) -> SCSIParallelTask | None:
        """A free task; with ``block``, wait for one instead of answering None."""
        tasks = self._tasks
        if tasks:
            return tasks.pop()
        if not block or self._closed:
            return None
        loop = self._loop
        loop.closeGate()
        try:
            while not tasks and not self._closed:
                self._waiters += 1
                try:
                    loop.sleepGate(self._event, THREAD_UNINT)
                finally:
                    self._waiters -= 1
            return tasks.pop() if tasks else None
        finally:
            loop.openGate()

    def close(self) -> list[SCSIParallelTask]:
        """Stop handing out tasks: the ones still here, for the caller to release."""
        self._closed = True
        left, self._tasks = self._tasks, []
        if self._waiters:
            self._loop.wakeupGate(self._event, False)
        return left


__all__ = ["SCSIParallelTaskPool"]
