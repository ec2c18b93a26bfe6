"""The deterministic machine core: virtual time, events, kernel threads, blocking.

Public surface::

    Scheduler            virtual clock, event queue, run loop, kernel threads
    current_scheduler    the machine the calling code runs in
    Context              who is on the CPU (host, event, thread, interrupt)
    KernelThread         a greenlet-backed kernel thread (``Scheduler.spawn``)
    WaitQueue, Mutex, Condition, Semaphore    blocking primitives
    CpuInterrupts, InterruptState             interrupt input, disable/restore
    PreemptionPolicy, SeededPreemption        seeded preemption, for finding races
    TraceRecorder        ``--trace`` output
    DeterministicRandom  seeded, named random streams
    LogRing, LogRecord   log messages stamped with virtual time

Nothing in this package reads the host's clock, sleeps or starts an OS thread.
"""

from kextlab.sim.context import Context
from kextlab.sim.interrupts import CpuInterrupts, InterruptState
from kextlab.sim.log import LogRecord, LogRing
from kextlab.sim.preemption import PreemptionPolicy, SeededPreemption
from kextlab.sim.rng import DeterministicRandom
from kextlab.sim.scheduler import Event, Scheduler, current_scheduler
from kextlab.sim.sync import Condition, Mutex, Semaphore, WaitQueue
from kextlab.sim.thread import KernelThread, ThreadState, exit_thread
from kextlab.sim.time import MICROSECOND, MILLISECOND, NANOSECOND, SECOND
from kextlab.sim.trace import TraceRecorder

__all__ = [
    "MICROSECOND",
    "MILLISECOND",
    "NANOSECOND",
    "SECOND",
    "Condition",
    "Context",
    "CpuInterrupts",
    "DeterministicRandom",
    "Event",
    "InterruptState",
    "KernelThread",
    "LogRecord",
    "LogRing",
    "Mutex",
    "PreemptionPolicy",
    "Scheduler",
    "SeededPreemption",
    "Semaphore",
    "ThreadState",
    "TraceRecorder",
    "WaitQueue",
    "current_scheduler",
    "exit_thread",
]
