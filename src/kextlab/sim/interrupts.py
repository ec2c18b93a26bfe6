"""The virtual CPU's interrupt input, interrupt context, and disabling interrupts.

The machine's interrupt controller drives one level-sensitive output into the CPU
(``set_asserted``).  While it is asserted and interrupts are enabled, the CPU runs the
platform's primary interrupt handler (``connect``) in *interrupt context*: blocking
there raises ``InterruptContextViolation``.  The handler is expected to acknowledge
the controller; if the output is still asserted when it returns, the CPU takes the
interrupt again, as real hardware does.  A handler that never acknowledges would
spin the machine forever at one instant; after ``INTERRUPT_STORM_LIMIT`` deliveries
at the same virtual time the machine panics with an "interrupt storm" report
instead.

Disabling interrupts (``disable``/``restore``, the mechanism under
``IOSimpleLockLockDisableInterrupt`` and ``spin_lock_irqsave``) defers delivery.
The model is one interrupt-delivery CPU: while any thread (or the host) holds
interrupts disabled, no interrupt is delivered; the moment the last one restores
them, a pending interrupt is taken at once, on the restoring thread's stack, before
``restore`` returns.  On a multiprocessor the interrupt would have gone to another
CPU and spun on the same lock; the observable order (the handler runs after the
unlock) is the same.  A thread holding interrupts disabled may not block, and may
not finish with them still disabled.

Interrupt delivery is an event (``cpu.interrupt`` in the trace), never a nested call
from inside a device's register write, so device models never see re-entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kextlab.errors import LockError, SchedulingError
from kextlab.sim.context import Context

if TYPE_CHECKING:
    from kextlab.sim.scheduler import Event, Scheduler
    from kextlab.sim.thread import Waiter

#: The contexts ``disable`` tests, as module constants (an enum member read through
#: its class costs a Python-level lookup, and spin locks disable interrupts often).
_INTERRUPT = Context.INTERRUPT
_EVENT = Context.EVENT

#: Deliveries at one virtual instant after which the machine panics.
INTERRUPT_STORM_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class InterruptState:
    """What ``disable`` returns and ``restore`` takes back.

    ``holder`` is None when interrupts were already off for the caller (interrupt
    context, event callbacks): restoring such a state changes nothing.
    """

    holder: Waiter | None


class CpuInterrupts:
    """The CPU's external interrupt input and its enable state."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._handler: Callable[[], object] | None = None
        self._asserted = False
        self._holders = 0
        self._delivery: Event | None = None
        self._storm_time = -1
        self._storm_count = 0
        self.delivered = 0
        self.deferred = 0

    @property
    def asserted(self) -> bool:
        return self._asserted

    @property
    def enabled(self) -> bool:
        return self._holders == 0

    def connect(self, handler: Callable[[], object] | None) -> None:
        """Install the primary interrupt handler (the platform's dispatcher)."""
        self._handler = handler
        if handler is not None and self._asserted:
            self._schedule_delivery()

    def set_asserted(self, asserted: bool) -> None:
        """The interrupt controller's output changed level."""
        self._asserted = asserted
        if asserted and self._delivery is None and self._handler is not None:
            scheduler = self._scheduler  # _schedule_delivery inlined: every interrupt
            self._delivery = scheduler.at(scheduler.now, self._deliver, "cpu.interrupt")

    def disable(self) -> InterruptState:
        """Disable interrupts for the caller; pass the result to ``restore``."""
        scheduler = self._scheduler
        context = scheduler.context
        if context is _INTERRUPT or context is _EVENT:
            return InterruptState(None)
        holder = scheduler.caller()
        assert holder is not None
        if holder.interrupt_disable_depth == 0:
            self._holders += 1
        holder.interrupt_disable_depth += 1
        return InterruptState(holder)

    def restore(self, state: InterruptState) -> None:
        """Undo one ``disable``; a pending interrupt is taken before this returns."""
        holder = state.holder
        if holder is None:
            return
        caller = self._scheduler.caller()
        if caller is not holder:
            name = caller.name if caller is not None else "an event callback"
            raise LockError(f"{name} restores interrupts that {holder.name} disabled")
        if holder.interrupt_disable_depth <= 0:
            raise LockError(f"{holder.name} restores interrupts it never disabled")
        holder.interrupt_disable_depth -= 1
        if holder.interrupt_disable_depth == 0:
            self._holders -= 1
            if self._holders == 0 and self._asserted:
                if self._delivery is not None:
                    self._delivery.cancel()
                    self._delivery = None
                self._deliver()

    def release_holder(self, holder: Waiter) -> int:
        """Forget a finished holder's disables; returns how many there were."""
        depth = holder.interrupt_disable_depth
        if depth:
            holder.interrupt_disable_depth = 0
            self._holders -= 1
        return depth

    def _schedule_delivery(self) -> None:
        if self._delivery is None and self._handler is not None:
            scheduler = self._scheduler
            self._delivery = scheduler.at(scheduler.now, self._deliver, "cpu.interrupt")

    def _deliver(self) -> None:
        self._delivery = None
        handler = self._handler
        if not self._asserted or handler is None:
            return
        if self._holders:
            self.deferred += 1
            return
        scheduler = self._scheduler
        if scheduler.now == self._storm_time:
            self._storm_count += 1
            if self._storm_count >= INTERRUPT_STORM_LIMIT:
                raise SchedulingError(
                    f"interrupt storm: the CPU interrupt line stayed asserted through "
                    f"{self._storm_count} deliveries at one instant; the interrupt handler "
                    f"does not acknowledge the interrupt"
                )
        else:
            self._storm_time = scheduler.now
            self._storm_count = 1
        self.delivered += 1
        # Scheduler.run_in_interrupt_context, inlined: every interrupt comes here.
        previous = scheduler.context
        scheduler.context = _INTERRUPT
        try:
            handler()
        finally:
            scheduler.context = previous
        if self._asserted:
            self._schedule_delivery()
