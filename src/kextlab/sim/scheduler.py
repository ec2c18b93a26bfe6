"""The deterministic scheduler: virtual time, events, kernel threads and blocking.

Design
------
A machine runs on one OS thread, inside one ``Scheduler``.  Everything that happens
is an *event* in a single queue ordered by ``(virtual time, sequence number)``: a
device finishing a DMA transfer, a timer firing, an interrupt being delivered, a
kernel thread being given the CPU.  The sequence number is assigned when the event
is scheduled, so two events due at the same instant run in the order they were
scheduled, never in hash or id order.  Same machine, same seed, same events: a run
is reproducible to the byte, and ``--trace`` proves it.

Virtual time (``now``, integer nanoseconds) moves only forward, and only two ways:
the loop jumps to the next event's time (idle time costs nothing), or code running
on the virtual CPU *consumes* time (an MMIO access, ``IODelay``) at a preemption
point, ``consume(ns)``.  Nothing here reads the host's clock.

Kernel threads are greenlets (``kextlab.sim.thread``).  A thread runs until it blocks
or reaches a preemption point with an event due; it then switches back to the loop,
and a resume event brings it back.  Driver code stays ordinary synchronous code:
``IOSleep`` blocks the calling thread and lets the rest of the machine run.

Execution contexts (``Context``) decide what a caller may do:

* ``HOST``: no loop is running; the code is a test, a tool or the firmware driven
  from the command line.  It plays the CPU: consuming time or blocking *runs the
  machine* until the time has passed or the wakeup arrived.  A host that waits for
  something no pending event can bring about gets ``Deadlock``.
* ``THREAD``: a kernel thread.  It may block.
* ``EVENT``: an event callback (device models, timers).  Callbacks are instantaneous
  in virtual time and may not block.
* ``INTERRUPT``: an interrupt handler.  Blocking raises ``InterruptContextViolation``,
  where real hardware would deadlock or panic.  So does blocking while the caller
  has interrupts disabled (``kextlab.sim.interrupts``).

Preemption points and the fast path: ``consume(ns)`` in a thread first looks at the
head of the queue.  If nothing is due before ``now + ns`` the clock simply moves on,
without a greenlet switch: nothing else could have run in between, so the result is
exactly the one a switch would give, and a driver polling a register in a loop costs
a few attribute reads per access.

Cancelled events stay in the queue, and the loop skips them when they come up (lazy
deletion, as the ``heapq`` documentation recommends).  Most timeouts are cancelled
long before they are due (a SCSI command's, seconds away, every few microseconds),
so, left alone, they would pile up and make every push and pop slower.  When the
queue has grown to twice its length after the last clean-up (and to at least
``_COMPACT_MINIMUM``), scheduling the next event first drops the cancelled ones and
re-heapifies the rest.  That is unobservable: the loop skips a cancelled event
without a trace, a count or a clock change, and ``(time, sequence)`` orders the
remaining events totally, whatever the heap's layout.

*External* events (``at_external``) come from outside the machine: a disk plugged
in or pulled out at a time a machine file or a test chose.  They run like any other
event, but they do not keep the machine going: ``run()`` without a time stops when
only external events are left, as a real machine is idle until someone plugs
something in.  A run that reaches their time (``run(until)``, ``run_for``, a host
waiting for a wakeup, or the machine's own work going past it) runs them.

An exception escaping a thread or an event callback stops the machine: ``run``
raises ``KernelPanic`` with a report (what failed, where, when, the traceback), and
every later ``run`` raises it again.  I/O Kit's own failure paths (``IOReturn``
codes) are not exceptions and never get here.

Seeded preemption (``kextlab.sim.preemption``, a machine option): the default
schedule above is kind to racy code, since a thread keeps the CPU across a preemption
point unless an event is due.  With a ``PreemptionPolicy`` the scheduler asks the
policy at every preemption point of a kernel thread (``consume``, ``yield_thread``,
``preemption_point``) whether its time slice ends there, and gives every woken kernel
thread a seeded dispatch latency, so that races show up under some seed and replay
under it.  Off, the policy costs one attribute test per preemption point and wakeup,
draws nothing, and the schedule is the default one to the byte.

Open question, left for the schedule explorer of the roadmap: seeded preemption
samples schedules; enumerating the preemption points of a short run under a
preemption bound (as CHESS does) would find rare races without luck.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from heapq import heapify, heappop, heappush
from typing import Any

from greenlet import getcurrent, greenlet

from kextlab.errors import (
    Deadlock,
    InternalError,
    InterruptContextViolation,
    KernelPanic,
    LockError,
    SchedulingError,
)
from kextlab.sim.context import CURRENT_SCHEDULER_ATTRIBUTE, Context
from kextlab.sim.interrupts import CpuInterrupts
from kextlab.sim.preemption import STREAM_NAME, PreemptionPolicy, SeededPreemption
from kextlab.sim.rng import DeterministicRandom
from kextlab.sim.thread import KernelThread, ThreadState, Waiter
from kextlab.sim.time import format_seconds
from kextlab.sim.trace import TraceRecorder

#: Contexts and thread states as module constants: reading an enum member through
#: its class is a Python-level lookup (about 70 ns on CPython 3.11), and the loop and
#: ``consume`` test them on every event and every MMIO access.
_HOST = Context.HOST
_EVENT = Context.EVENT
_THREAD = Context.THREAD
_INTERRUPT = Context.INTERRUPT
_READY = ThreadState.READY
_BLOCKED = ThreadState.BLOCKED
_FINISHED = ThreadState.FINISHED

#: The smallest queue that is ever compacted (cancelled events: see the essay above).
_COMPACT_MINIMUM = 32


def current_scheduler() -> Scheduler | None:
    """The scheduler of the machine the calling code runs in, or None.

    Each greenlet knows which machine it serves: the loop marks its own greenlet while
    it runs, kernel threads are marked when created, and host code can say so with
    ``Scheduler.entered()``.  This is how kernel objects find their kernel without any
    module-global state (two machines in one process never mix).
    """
    # Only the scheduler (``_loop``, ``entered``) and ``KernelThread`` set the attribute,
    # always to a Scheduler or None, so it needs no type test: every allocation, lock
    # and syscall of the kernel comes here.
    scheduler: Scheduler | None = getattr(getcurrent(), CURRENT_SCHEDULER_ATTRIBUTE, None)
    return scheduler


def _blocking_under_spin_lock(operation: str, who: str, waiter: Waiter) -> LockError:
    """Blocking while holding a spin lock: xnu panics ("blocking while holding a
    spinlock"), since the holder runs with preemption disabled."""
    return LockError(
        f"{operation}: {who} would block while holding {waiter.spin_locks_held} "
        f"IOSimpleLock(s); a spin lock holder may not sleep (unlock it first)"
    )


#: An entry of the event queue: ``[time, sequence, action, label]``, the action None
#: once cancelled.  heapq compares entries in C, and never past the sequence number,
#: which is unique.
_Entry = list[Any]


class Event:
    """A scheduled action, as ``at`` and ``after`` return it.  ``cancel()`` makes the
    loop skip it.

    An event is a handle on its queue entry; cancelling clears the entry's action, and
    the loop skips an entry without one (lazy deletion, the ``heapq`` documentation's
    recipe).  Nobody cancels a kernel thread's resumption, so ``wake`` and a thread's
    suspension queue bare entries, without a handle.
    """

    __slots__ = ("_entry",)

    def __init__(self, entry: _Entry) -> None:
        self._entry = entry

    @property
    def time(self) -> int:
        time: int = self._entry[0]
        return time

    @property
    def seq(self) -> int:
        seq: int = self._entry[1]
        return seq

    @property
    def label(self) -> str:
        label: str = self._entry[3]
        return label

    @property
    def cancelled(self) -> bool:
        return self._entry[2] is None

    def cancel(self) -> None:
        self._entry[2] = None

    def __repr__(self) -> str:
        state = " cancelled" if self.cancelled else ""
        return f"<Event {self.label!r} at {format_seconds(self.time)}{state}>"


class HostWaiter(Waiter):
    """The host (tests, tools) as a party that can block and be woken."""

    name = "host"

    def __init__(self) -> None:
        super().__init__()
        self.woken = False
        self.wake_value: object = None


class Scheduler:
    """Virtual clock, event queue, kernel threads and the blocking protocol."""

    def __init__(
        self,
        *,
        seed: int = 0,
        trace: TraceRecorder | None = None,
        preemption: PreemptionPolicy | None = None,
    ) -> None:
        self.now = 0
        self.rng = DeterministicRandom(seed)
        #: The seeded preemption policy at work (its counters), or None when off (the
        #: default schedule); fixed for life.
        self.preemption = (
            SeededPreemption(preemption, self.rng.stream(STREAM_NAME))
            if preemption is not None
            else None
        )
        self.trace = trace if trace is not None else TraceRecorder()
        self._queue: list[_Entry] = []
        #: The queue length above which ``at`` and ``after`` first drop cancelled events.
        self._compact_above = _COMPACT_MINIMUM
        #: The sequence numbers of the external events still in the queue.
        self._external: set[int] = set()
        self._sequence = itertools.count()
        #: Who is running on the virtual CPU.
        self.context = _HOST
        #: The kernel thread on the CPU (also during an interrupt it was preempted by).
        self.current_thread: KernelThread | None = None
        self._loop_greenlet: greenlet | None = None
        self._host = HostWaiter()
        self._thread_ids = itertools.count(1)
        self._threads: list[KernelThread] = []
        self._panic: str | None = None
        self._pending_panic: str | None = None
        #: Functions adding context to a panic report (the kernel adds its log tail).
        self.panic_report_hooks: list[Callable[[], str]] = []
        self.events_dispatched = 0
        #: The virtual CPU's interrupt input (``kextlab.sim.interrupts``).
        self.interrupts = CpuInterrupts(self)
        #: Per-machine state of the layers above, by name (the kernel registers itself
        #: as ``"kernel"``), found through ``current_scheduler()`` from running code.
        self.extensions: dict[str, object] = {}

    # -- introspection -----------------------------------------------------------
    #
    # ``context``, ``current_thread`` and ``preemption`` are plain attributes, read-only
    # outside the scheduler and ``KernelThread.run_slice``: properties would cost a call
    # on every syscall, allocation, lock operation and work-loop check.

    @property
    def seed(self) -> int:
        return self.rng.seed

    @property
    def panicked(self) -> bool:
        return self._panic is not None

    def pending_events(self) -> int:
        return sum(1 for entry in self._queue if entry[2] is not None)

    def pending(self) -> list[Event]:
        """The events still to run, in the order they will run."""
        return [Event(entry) for entry in sorted(self._queue) if entry[2] is not None]

    def next_event_time(self) -> int | None:
        return min((entry[0] for entry in self._queue if entry[2] is not None), default=None)

    def live_threads(self) -> list[KernelThread]:
        """Threads that have not finished, in creation order."""
        return [thread for thread in self._threads if thread.state is not _FINISHED]

    # -- events --------------------------------------------------------------------

    def at(self, time: int, action: Callable[[], object], label: str) -> Event:
        """Schedule ``action`` at virtual time ``time`` (not in the past)."""
        if time < self.now:
            raise self._in_the_past(time, label)
        queue = self._queue
        if len(queue) > self._compact_above:
            self._compact()
        entry = [time, next(self._sequence), action, label]
        heappush(queue, entry)
        return Event(entry)

    def after(self, delay: int, action: Callable[[], object], label: str) -> Event:
        """Schedule ``action`` ``delay`` nanoseconds from now."""
        if delay < 0:
            raise InternalError(f"event {label!r} scheduled {delay} ns in the past")
        queue = self._queue
        if len(queue) > self._compact_above:  # ``at`` inlined: devices schedule per command
            self._compact()
        entry = [self.now + delay, next(self._sequence), action, label]
        heappush(queue, entry)
        return Event(entry)

    def at_external(self, time: int, action: Callable[[], object], label: str) -> Event:
        """Schedule ``action`` at ``time`` as an *external* event, one from outside the
        machine that does not keep ``run()`` going (see the module's essay)."""
        event = self.at(time, action, label)
        self._external.add(event.seq)
        return event

    def _compact(self) -> None:
        """Drop the cancelled events from the queue (see the module's essay)."""
        queue = self._queue
        # In place: the loop holds the list, and may be running the event that came here.
        queue[:] = [entry for entry in queue if entry[2] is not None]
        heapify(queue)
        if self._external:
            self._external.intersection_update(entry[1] for entry in queue)
        self._compact_above = max(_COMPACT_MINIMUM, 2 * len(queue))

    def _in_the_past(self, time: int, label: str) -> InternalError:
        return InternalError(
            f"event {label!r} scheduled at {format_seconds(time)}, "
            f"before the present {format_seconds(self.now)}"
        )

    def trace_point(self, category: str, message: str) -> None:
        """Record a trace point (callers on hot paths test ``trace.enabled`` first)."""
        if self.trace.enabled:
            self.trace.record(self.now, category, message)

    # -- running the machine -------------------------------------------------------

    def run(self, until: int | None = None) -> None:
        """Run events up to virtual time ``until`` (inclusive), or, without it, until
        the machine is quiet: no event left but external ones.

        Only the host may call this.  With ``until`` given the clock ends exactly at
        ``until`` even when the machine went idle earlier.
        """
        self._require_host("run the machine")
        self._loop(until, wait_for_host_wake=False, until_quiet=until is None)
        if until is not None and until > self.now:
            self.now = until

    def run_for(self, duration: int) -> None:
        self.run(self.now + duration)

    def _require_host(self, what: str) -> None:
        if self.context is not _HOST:
            raise InternalError(f"cannot {what} from {self.context.value} context")
        if self._panic is not None:
            raise KernelPanic(self._panic)

    def _loop(
        self, until: int | None, *, wait_for_host_wake: bool, until_quiet: bool = False
    ) -> None:
        queue = self._queue
        host = self._host
        external = self._external
        trace = self.trace
        loop = self._loop_greenlet = getcurrent()
        outer = getattr(loop, CURRENT_SCHEDULER_ATTRIBUTE, None)
        setattr(loop, CURRENT_SCHEDULER_ATTRIBUTE, self)
        try:
            while queue:
                time, seq, action, label = queue[0]
                if until is not None and time > until:
                    break
                if external and seq in external:
                    if until_quiet and not self._machine_busy():
                        break
                    external.discard(seq)
                heappop(queue)
                if action is None:  # cancelled
                    continue
                self.now = time
                self.events_dispatched += 1
                if trace.enabled:
                    trace.record(time, label)
                self.context = _EVENT
                try:
                    action()
                except KernelPanic:
                    raise
                except BaseException as exc:
                    self._panic = self._panic_report(f'event "{label}"', exc)
                    raise KernelPanic(self._panic) from exc
                if self._pending_panic is not None:
                    self._panic, self._pending_panic = self._pending_panic, None
                    raise KernelPanic(self._panic)
                if wait_for_host_wake and host.woken:
                    break
        finally:
            self.context = _HOST
            self._loop_greenlet = None
            setattr(loop, CURRENT_SCHEDULER_ATTRIBUTE, outer)

    def _machine_busy(self) -> bool:
        """Whether an event of the machine's own (not external, not cancelled) is due."""
        external = self._external
        return any(entry[2] is not None and entry[1] not in external for entry in self._queue)

    # -- time on the CPU -------------------------------------------------------------

    def consume(self, duration: int) -> None:
        """A preemption point: the caller spends ``duration`` ns of CPU time.

        Events that fall due meanwhile run (devices progress while a driver polls).
        Event callbacks and interrupt handlers are instantaneous: for them this is a
        no-op.
        """
        context = self.context
        if context is _EVENT or context is _INTERRUPT:
            return
        target = self.now + duration
        if self.preemption is not None and context is _THREAD and self._preempt(target):
            return
        queue = self._queue
        if not queue or queue[0][0] > target:
            self.now = target  # nothing could have run meanwhile: no switch needed
            return
        if context is _THREAD:
            thread = self.current_thread
            assert thread is not None
            self._suspend_until(thread, target, thread.run_label)
        else:
            self.run(target)

    def yield_thread(self) -> None:
        """An explicit yield: let everything already due at ``now`` run first."""
        context = self.context
        if context is _THREAD:
            if self.preemption is not None and self._preempt(self.now):
                return
            queue = self._queue
            if not queue or queue[0][0] > self.now:
                return
            thread = self.current_thread
            assert thread is not None
            self._suspend_until(thread, self.now, f"thread.yield {thread.name}")
        elif context is _HOST:
            self.run(self.now)

    def preemption_point(self) -> None:
        """A preemption point that takes no time (lock and gate operations call it).

        Under seeded preemption a kernel thread's slice may end here; otherwise, and in
        any other context, this does nothing (one attribute test).
        """
        if self.preemption is not None and self.context is _THREAD:
            self._preempt(self.now)

    def disable_preemption(self) -> None:
        """xnu's ``disable_preemption()``: seeded preemption spares the calling thread
        until the matching ``enable_preemption()`` (as it spares spin-lock holders and
        threads with interrupts disabled).

        Only kernel threads are ever preempted, and only under the policy: elsewhere,
        and with the policy off, this does nothing.
        """
        preemption = self.preemption
        if preemption is not None and self.context is _THREAD:
            thread = self.current_thread
            assert thread is not None
            preemption.disable(thread)

    def enable_preemption(self) -> None:
        """xnu's ``enable_preemption()``: undo one ``disable_preemption()``."""
        preemption = self.preemption
        if preemption is not None and self.context is _THREAD:
            thread = self.current_thread
            assert thread is not None
            preemption.enable(thread)

    def _preempt(self, resume_from: int) -> bool:
        """Ask the policy whether the current thread's slice ends here; if it does,
        requeue the thread a slice after ``resume_from`` and return True once it runs."""
        preemption = self.preemption
        thread = self.current_thread
        assert preemption is not None
        assert thread is not None
        slice_ns = preemption.slice_at(thread)
        if not slice_ns:
            return False
        if self.trace.enabled:
            self.trace.record(self.now, "sched.preempt", f"{thread.name} slice {slice_ns} ns")
        self._suspend_until(thread, resume_from + slice_ns, f"thread.preempt {thread.name}")
        return True

    def sleep(self, duration: int) -> None:
        """Block the caller for ``duration`` ns (the host runs the machine meanwhile)."""
        waiter = self.current_waiter("sleep")
        if waiter is self._host:
            self.run(self.now + duration)
            return
        assert isinstance(waiter, KernelThread)
        if self.preemption is not None:
            duration += self.preemption.wakeup_latency()
        self._suspend_until(waiter, self.now + duration, waiter.wake_label)

    def _suspend_until(self, thread: KernelThread, time: int, label: str) -> None:
        """End the running ``thread``'s slice; it resumes at ``time`` (not in the past)."""
        thread.resume_value = None
        if time < self.now:
            raise self._in_the_past(time, label)
        heappush(self._queue, [time, next(self._sequence), thread.run_slice, label])
        loop = self._loop_greenlet
        if loop is None:
            raise InternalError(f"thread {thread.name!r} is running outside the scheduler loop")
        thread.state = _READY
        loop.switch()

    # -- blocking protocol (used by kextlab.sim.sync) --------------------------------------

    def current_waiter(self, operation: str) -> Waiter:
        """The party that would block for ``operation``, after checking it may block."""
        context = self.context
        if context is _THREAD:
            thread = self.current_thread
            assert thread is not None
            if thread.interrupt_disable_depth:
                raise InterruptContextViolation(
                    f"{operation}: thread {thread.name!r} would block with interrupts disabled"
                )
            if thread.spin_locks_held:
                raise _blocking_under_spin_lock(operation, f"thread {thread.name!r}", thread)
            return thread
        if context is _HOST:
            if self._host.interrupt_disable_depth:
                raise InterruptContextViolation(
                    f"{operation}: the host would block with interrupts disabled"
                )
            if self._host.spin_locks_held:
                raise _blocking_under_spin_lock(operation, "the host", self._host)
            return self._host
        if context is _INTERRUPT:
            raise InterruptContextViolation(f"{operation}: blocking in interrupt context")
        raise SchedulingError(f"{operation}: an event callback cannot block")

    def caller(self) -> Waiter | None:
        """The thread or host on the CPU, or None in an event callback (no checks)."""
        context = self.context
        if context is _HOST:
            return self._host
        return self.current_thread

    def block(self, waiter: Waiter, operation: str) -> object:
        """Suspend ``waiter`` (from ``current_waiter``) until ``wake`` names it.

        Returns the value passed to ``wake``.
        """
        if waiter is self._host:
            host = self._host
            host.woken = False
            host.blocked_on = operation
            self._loop(None, wait_for_host_wake=True)
            host.blocked_on = None
            if not host.woken:
                raise Deadlock(
                    f"the host is waiting ({operation}) but no pending event can wake it"
                )
            value, host.wake_value = host.wake_value, None
            return value
        assert isinstance(waiter, KernelThread)
        waiter.state = _BLOCKED
        waiter.blocked_on = operation
        loop = self._loop_greenlet
        if loop is None:
            raise InternalError(f"thread {waiter.name!r} is running outside the scheduler loop")
        value = loop.switch()
        waiter.blocked_on = None
        return value

    def wake(self, waiter: Waiter, value: object = True) -> None:
        """Make a blocked ``waiter`` runnable; its ``block`` call returns ``value``."""
        if waiter is self._host:
            host = self._host

            def wake_host() -> None:
                host.woken = True
                host.wake_value = value

            self.at(self.now, wake_host, "host.wake")
            return
        assert isinstance(waiter, KernelThread)
        waiter.resume_value = value
        waiter.state = _READY
        time = self.now
        if self.preemption is not None:
            time += self.preemption.wakeup_latency()
        # ``at`` inlined, without a handle: every lock handover and wakeup comes here.
        heappush(self._queue, [time, next(self._sequence), waiter.run_slice, waiter.wake_label])

    # -- kernel threads ----------------------------------------------------------------------

    def spawn(self, entry: Callable[..., object], *args: Any, name: str) -> KernelThread:
        """Create a kernel thread running ``entry(*args)``; it starts at the present time."""
        if self._panic is not None:
            raise KernelPanic(self._panic)
        thread = KernelThread(self, next(self._thread_ids), name, entry, args)
        self._threads.append(thread)
        latency = self.preemption.wakeup_latency() if self.preemption is not None else 0
        self.at(self.now + latency, thread.run_slice, f"thread.start {name}")
        return thread

    def thread_finished(self, thread: KernelThread, exception: BaseException | None) -> None:
        self._threads.remove(thread)
        culprit = f'kernel thread "{thread.name}" (thread {thread.tid})'
        preemption_disabled = self.preemption.release(thread) if self.preemption is not None else 0
        if exception is not None:
            self._pending_panic = self._panic_report(culprit, exception)
        elif self.interrupts.release_holder(thread):
            self._pending_panic = self._panic_report(
                culprit, SchedulingError("the thread finished with interrupts disabled")
            )
        elif preemption_disabled:
            self._pending_panic = self._panic_report(
                culprit, SchedulingError("the thread finished with preemption disabled")
            )

    def shutdown(self) -> None:
        """Unwind every live thread (their ``finally`` blocks run); the machine stops."""
        for thread in self.live_threads():
            thread.kill()
        self._queue.clear()

    @contextmanager
    def entered(self) -> Iterator[Scheduler]:
        """Make this the current scheduler of the calling host code (see ``current_scheduler``)."""
        here = getcurrent()
        outer = getattr(here, CURRENT_SCHEDULER_ATTRIBUTE, None)
        setattr(here, CURRENT_SCHEDULER_ATTRIBUTE, self)
        try:
            yield self
        finally:
            setattr(here, CURRENT_SCHEDULER_ATTRIBUTE, outer)

    # -- interrupt context -----------------------------------------------------------------

    def run_in_interrupt_context(self, handler: Callable[[], object]) -> None:
        """Run ``handler`` as an interrupt handler on the current CPU context."""
        previous = self.context
        self.context = _INTERRUPT
        try:
            handler()
        finally:
            self.context = previous

    # -- panics ---------------------------------------------------------------------------

    def _panic_report(self, culprit: str, exception: BaseException) -> str:
        lines = [
            f"panic: {culprit} raised {type(exception).__name__}: {exception}",
            f"virtual time: {format_seconds(self.now)} s, seed {self.seed}",
            "".join(traceback.format_exception(exception)).rstrip(),
        ]
        lines.extend(hook() for hook in self.panic_report_hooks)
        return "\n".join(lines)
