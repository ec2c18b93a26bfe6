"""Kernel threads: greenlets the scheduler gives the CPU to, one slice at a time.

A thread runs ``entry(*args)`` on its own greenlet.  Each *slice* starts when a
scheduler event resumes it and ends when the thread blocks, reaches a preemption
point with something due, or returns.  Only the scheduler loop switches into a
thread, and a thread only ever switches back to the loop, so the machine has one
flow of control and its order is the event order.

A thread that returns is finished; one that raises panics the machine (the report
names the thread).  ``exit_thread()`` ends the calling thread early, like
``IOExitThread``.  ``join()`` waits for a thread to finish; from the host it runs
the machine until then, which is how tests wait for kernel work.

Threading rules: everything here runs on the scheduler's OS thread.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from greenlet import GreenletExit, greenlet

from kextlab.sim.context import CURRENT_SCHEDULER_ATTRIBUTE, Context

if TYPE_CHECKING:
    from kextlab.sim.scheduler import Scheduler
    from kextlab.sim.sync import WaitQueue


class ThreadState(enum.Enum):
    READY = "ready"  # waiting for the CPU (a resume event is queued)
    RUNNING = "running"
    BLOCKED = "blocked"  # waiting for a wakeup
    FINISHED = "finished"


class ThreadExit(BaseException):
    """Raised by ``exit_thread()`` to unwind the calling thread."""


class Waiter:
    """A party that can block: a kernel thread, or the host.

    ``interrupt_disable_depth`` counts its nested ``disable()`` calls
    (``kextlab.sim.interrupts``); a waiter holding interrupts disabled may not block.
    ``spin_locks_held`` counts the spin locks it holds (``IOSimpleLock``, kept by
    ``kextlab.kernel.locks``); a spin lock holder may not block either.
    ``pending_abort`` is an abort its next interruptible wait will take (kept by
    ``kextlab.kernel.wait``): None, False for ``thread_abort``, True for
    ``thread_abort_safely``.
    """

    name: str

    def __init__(self) -> None:
        self.interrupt_disable_depth = 0
        self.spin_locks_held = 0
        self.blocked_on: str | None = None
        self.pending_abort: bool | None = None


#: Read on every slice; module constants save the enums' class-attribute lookups.
_RUNNING = ThreadState.RUNNING
_THREAD = Context.THREAD
_EVENT = Context.EVENT


class KernelThread(Waiter):
    """A kernel thread; create one with ``Scheduler.spawn``."""

    def __init__(
        self,
        scheduler: Scheduler,
        tid: int,
        name: str,
        entry: Callable[..., object],
        args: tuple[Any, ...],
    ) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.tid = tid
        self.name = name  # sets the event labels below
        self.state = ThreadState.READY
        self.result: object = None
        self.exception: BaseException | None = None
        self.resume_value: object = None
        self._entry = entry
        self._args = args
        self._greenlet: greenlet | None = None
        self._joiners: WaitQueue | None = None

    def __repr__(self) -> str:
        return f"<KernelThread {self.tid} {self.name!r} {self.state.value}>"

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        # A work loop renames its thread after its first client.  The labels of the
        # thread's resume events are built here, once per name, not on every wakeup.
        self._name = name
        self.wake_label = f"thread.wake {name}"
        self.run_label = f"thread.run {name}"

    @property
    def is_alive(self) -> bool:
        return self.state is not ThreadState.FINISHED

    def run_slice(self) -> None:
        """Event action: give this thread the CPU until it blocks, yields or ends."""
        scheduler = self.scheduler
        # Make this the current thread for the slice (the scheduler's own fields, set
        # here directly: this runs on every switch).
        scheduler.current_thread = self
        scheduler.context = _THREAD
        loop = scheduler._loop_greenlet
        assert loop is not None
        try:
            thread_greenlet = self._greenlet
            if thread_greenlet is None:
                thread_greenlet = self._greenlet = greenlet(self._main, parent=loop)
                setattr(thread_greenlet, CURRENT_SCHEDULER_ATTRIBUTE, scheduler)
            elif thread_greenlet.parent is not loop:  # (setting it walks the chain)
                thread_greenlet.parent = loop
            value, self.resume_value = self.resume_value, None
            self.state = _RUNNING
            thread_greenlet.switch(value)
        finally:
            scheduler.current_thread = None
            scheduler.context = _EVENT

    def _main(self, _first_value: object) -> None:
        exception: BaseException | None = None
        try:
            self.result = self._entry(*self._args)
        except (ThreadExit, GreenletExit):
            pass
        except BaseException as error:  # a kernel panic: reported by the scheduler
            exception = self.exception = error
        self.state = ThreadState.FINISHED
        self.scheduler.thread_finished(self, exception)
        if self._joiners is not None:
            self._joiners.wakeup_all()

    def join(self, timeout: int | None = None) -> bool:
        """Wait until the thread has finished; False if ``timeout`` ns passed first."""
        if self.state is ThreadState.FINISHED:
            return True
        if self._joiners is None:
            from kextlab.sim.sync import WaitQueue

            self._joiners = WaitQueue(self.scheduler, f"join {self.name}")
        return self._joiners.wait(timeout)

    def kill(self) -> None:
        """Unwind the thread at once (machine shutdown); its ``finally`` blocks run."""
        if self._greenlet is not None and not self._greenlet.dead:
            self._greenlet.parent = greenlet.getcurrent()
            self._greenlet.throw(GreenletExit)
        elif self.state is not ThreadState.FINISHED:
            self.state = ThreadState.FINISHED
            self.scheduler.thread_finished(self, None)


def exit_thread() -> None:
    """End the calling kernel thread (``IOExitThread``)."""
    raise ThreadExit
