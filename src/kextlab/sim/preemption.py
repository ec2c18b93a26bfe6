"""Seeded preemption: a schedule perturbed by the machine's seed, to make races show.

What it owns: the policy that, when a machine runs with ``preemption = "seeded"``,
decides at every preemption point of a kernel thread whether the thread's time slice
expires there and for how long, and how late a woken kernel thread gets the CPU.
``PreemptionPolicy`` holds the parameters (what a machine description states);
``SeededPreemption`` is the policy at work inside one ``Scheduler``, drawing from the
machine's ``"schedule"`` random stream.

What it mirrors: no I/O Kit class.  On a real Mac the Mach scheduler (``osfmk/kern/
sched_prim.c``: time-slice expiry, ``thread_block``, the ``AST_PREEMPT`` check on the
way out of an interrupt) can take the CPU from a kernel thread between almost any two
instructions, and ``disable_preemption()`` / ``enable_preemption()``
(``osfmk/kern/cpu_data.h``) hold it off; this module is the simulator's stand-in for
that freedom, reduced to the points where the emulated machine can switch at all.

Threading rules: only the ``Scheduler`` calls in here, from its own OS thread, on behalf
of the kernel thread on the CPU.  Nothing here blocks; drawing never happens in host,
event or interrupt context (the scheduler checks before it asks).

Design
------
The default schedule is deterministic and *kind*: a kernel thread keeps the CPU until
it blocks or until a preemption point (an MMIO access, ``IODelay``, a lock or gate
operation, a yield) finds an event due, and the fast path does not even switch when
nothing is due.  So a driver that reads shared state, touches a register and writes
the state back is interleaved with another thread only if some event happens to fall
due inside that window -- under the default schedule it almost never does, and the
race hides.  A real kernel is not kind: the thread's quantum can run out there, an
interrupt's ``AST`` can preempt it, another CPU can run the other thread meanwhile.

With the policy on, each preemption point of a kernel thread flips a seeded coin
(``probability``).  Heads, the time slice expires: the thread goes back to the run
queue and resumes ``slice`` nanoseconds after the point, and in between everything due
runs -- other runnable threads, device completions, interrupts, timers.  The slice is
drawn log-uniformly (octave by octave, in integers) from 1 ns to ``max_slice_ns``:
short slices only let already-runnable threads in and barely move the clock, long ones
let a device finish or a timer fire, and each octave is as likely as the next, so one
default finds races against the thread next door and against a device alike.  A thread
with interrupts disabled (``IOSimpleLockLockDisableInterrupt``, ``spin_lock_irqsave``),
holding a spin lock (``IOSimpleLockLock``: xnu's ``lck_spin_lock`` disables preemption)
or with preemption disabled outright (``disable_preemption``) is never preempted,
exactly as on the real kernel.

Ties.  Two kernel threads made runnable at the same instant (a broadcast, two wakes in
one event, two spawns, two sleeps ending together) would run in the order they were
made runnable, always.  The policy does not reorder the event queue's ties in general:
devices, the interrupt controller and the host rely on same-instant events running in
the order they were scheduled (a device sets its status, then raises its interrupt),
and that order is causality, not chance.  Instead every *wakeup* of a kernel thread
(``wake``, ``spawn``, the end of ``sleep``) gets a seeded dispatch latency, uniform in
``[0, max_wakeup_latency_ns]``: simultaneously woken threads then run in a seeded order,
and a woken thread may run before or after a device event due just after its wakeup.
It is what a real kernel does anyway (dispatch latency is never zero), and it reaches
orderings that preemption alone cannot: the code a thread runs before its first
preemption point always ran before its peers' otherwise.

Determinism.  Every decision is drawn from the machine's ``"schedule"`` stream, in
the order the preemption points are reached, and slices are drawn with integers only
(no ``pow`` or ``log``, whose last bits differ between C libraries): same machine, same
seed, same policy, the same run and the same ``--trace`` to the byte.  A preemption
shows in the trace twice: ``sched.preempt NAME slice N ns`` where the slice ends, and
the event ``thread.preempt NAME`` where the thread gets the CPU back.  With the policy
off nothing is drawn and the schedule is exactly the default one.

Prior art.  CHESS (Musuvathi et al., OSDI 2008) explores thread schedules
systematically and found that most concurrency bugs need only one or two preemptions
in the right place, so a low per-point probability suffices.  PCT (Burckhardt et al.,
ASPLOS 2010) randomises thread priorities and inserts a few priority-change points,
with a probabilistic guarantee that depends on the run length and the thread count
known in advance; a machine's run here is open-ended and its hazards include device
timing, so we keep PCT's seeded randomness and drop its bookkeeping for a per-point
coin (preemptions then come geometrically spaced, a few per critical section at
most).  Linux's KCSAN stalls a sampled access for a random delay so that a racing
access can land in the window; the slice here is that delay, with the whole machine
(devices included) moving on meanwhile.  loom (Rust) permutes every interleaving of a
small model under bounded preemption; that is exhaustive where this is sampled, and
suits unit-sized models, not a booted machine.  Shuttle (AWS) pairs PCT-style random
schedules with replay from a seed, as we do.

Open question: a systematic explorer (enumerating the preemption points of a short run
with a preemption bound, as CHESS does) would find rare races without luck; it could
reuse these hooks, replacing the coin with a schedule to replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kextlab.errors import SchedulingError
from kextlab.sim.time import MICROSECOND, MILLISECOND

if TYPE_CHECKING:
    import random

    from kextlab.sim.thread import KernelThread

#: What a machine description's ``[scheduler] preemption`` may say.
PREEMPTION_MODES = ("off", "seeded")
#: Chance that one preemption point of a kernel thread ends its time slice.
DEFAULT_PROBABILITY = 0.05
#: The longest time slice a preempted thread waits before it runs on.
DEFAULT_MAX_SLICE_NS = 1 * MILLISECOND
#: The longest dispatch latency of a woken kernel thread.
DEFAULT_MAX_WAKEUP_LATENCY_NS = 1 * MICROSECOND
#: The name of the machine's random stream the policy draws from.
STREAM_NAME = "schedule"


@dataclass(frozen=True, slots=True)
class PreemptionPolicy:
    """The parameters of seeded preemption; invalid values raise ``ValueError``."""

    #: Chance, from 0 to 1, that a preemption point of a kernel thread ends its slice.
    probability: float = DEFAULT_PROBABILITY
    #: Upper bound (ns, at least 1) of the virtual time a preempted thread waits.
    max_slice_ns: int = DEFAULT_MAX_SLICE_NS
    #: Upper bound (ns, 0 for none) of the delay before a woken thread runs.
    max_wakeup_latency_ns: int = DEFAULT_MAX_WAKEUP_LATENCY_NS

    def __post_init__(self) -> None:
        probability = self.probability
        if isinstance(probability, bool) or not isinstance(probability, (int, float)):
            raise ValueError(f"probability: expected a number from 0 to 1, not {probability!r}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability: expected a number from 0 to 1, not {probability}")
        if _not_integer(self.max_slice_ns) or self.max_slice_ns < 1:
            raise ValueError(
                f"max_slice_ns: expected an integer of at least 1 ns, not {self.max_slice_ns!r}"
            )
        if _not_integer(self.max_wakeup_latency_ns) or self.max_wakeup_latency_ns < 0:
            raise ValueError(
                "max_wakeup_latency_ns: expected a non-negative integer, "
                f"not {self.max_wakeup_latency_ns!r}"
            )

    def describe(self) -> str:
        """One line for traces and logs: ``probability 0.05 max_slice 1000000 ns ...``."""
        return (
            f"probability {self.probability} max_slice {self.max_slice_ns} ns "
            f"max_wakeup_latency {self.max_wakeup_latency_ns} ns"
        )


def _not_integer(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


class SeededPreemption:
    """A ``PreemptionPolicy`` at work in one scheduler: the draws and the counters.

    ``preemptions`` counts the time slices it ended, ``points`` the preemption points
    it was asked about (those of threads that could be preempted).
    """

    __slots__ = ("_disabled", "_stream", "points", "policy", "preemptions")

    def __init__(self, policy: PreemptionPolicy, stream: random.Random) -> None:
        self.policy = policy
        self._stream = stream
        self._disabled: dict[KernelThread, int] = {}
        self.points = 0
        self.preemptions = 0

    def slice_at(self, thread: KernelThread) -> int:
        """At a preemption point of ``thread``: 0 to run on, else the slice in ns."""
        if thread.interrupt_disable_depth or thread.spin_locks_held or thread in self._disabled:
            return 0
        self.points += 1
        stream = self._stream
        if stream.random() >= self.policy.probability:
            return 0
        self.preemptions += 1
        # Log-uniform over [1, max_slice_ns]: an octave first, then a point within it.
        maximum = self.policy.max_slice_ns
        low = 1 << stream.randrange(maximum.bit_length())
        return stream.randrange(low, min(2 * low, maximum + 1))

    def wakeup_latency(self) -> int:
        """The dispatch latency of a kernel thread made runnable now, in ns."""
        bound = self.policy.max_wakeup_latency_ns
        return self._stream.randrange(bound + 1) if bound else 0

    # -- disable_preemption / enable_preemption --------------------------------------------

    def disable(self, thread: KernelThread) -> None:
        self._disabled[thread] = self._disabled.get(thread, 0) + 1

    def enable(self, thread: KernelThread) -> None:
        depth = self._disabled.get(thread, 0)
        if depth == 0:
            raise SchedulingError(
                f"enable_preemption: thread {thread.name!r} never disabled preemption"
            )
        if depth == 1:
            del self._disabled[thread]
        else:
            self._disabled[thread] = depth - 1

    def release(self, thread: KernelThread) -> int:
        """Forget a finished thread's disables; returns how many there were."""
        return self._disabled.pop(thread, 0)

    def level(self, thread: KernelThread) -> int:
        """How many ``disable`` calls of ``thread`` are outstanding."""
        return self._disabled.get(thread, 0)
