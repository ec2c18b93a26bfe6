"""IOFilterInterruptEventSource: an interrupt source with a filter in interrupt context.

Mirrors ``IOFilterInterruptEventSource.h``/``.cpp`` (xnu).  Before an interrupt is
passed to the work loop, the driver's *filter* runs in primary interrupt context:
``filter(owner, sender) -> bool``.  It reads its device to decide whether the
interrupt is its own; on a shared line (several devices on one PCI INTx wire,
seed 003) a filter that answers False lets the other devices' handlers see it and
never wakes this driver's work loop.  A filter may also do the urgent part of the
work itself (take bytes off a FIFO, acknowledge the device) and call
``signalInterrupt`` only when the action is needed.

Interrupt context rules apply to the filter: it may not block, sleep, take a
sleeping lock or allocate with waiting; kextlab raises
``InterruptContextViolation`` where a real machine would deadlock or panic.

For a level-triggered interrupt, a filter that claims the interrupt also disables
it until the action has run, as ``IOInterruptEventSource`` does.

Threading rules: the filter and ``signalInterrupt`` run in interrupt context;
the action on the work loop's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.workloop.interrupt_event_source import Action, IOInterruptEventSource

if TYPE_CHECKING:
    from kextlab.kernel.service.service import IOService

#: ``IOFilterInterruptEventSource::Filter``: ``filter(owner, sender) -> bool``.
Filter = Callable[..., Any]


class IOFilterInterruptEventSource(IOInterruptEventSource):
    """An interrupt source whose filter decides, in interrupt context, whether to
    wake the work loop."""

    def __init__(self) -> None:
        super().__init__()
        self.filterAction: Filter | None = None
        #: Interrupts the filter claimed and refused (ours: statistics).
        self.filter_claimed = 0
        self.filter_refused = 0

    @classmethod
    def filterInterruptEventSource(
        cls,
        inOwner: OSObject | None,
        inAction: Action | None,
        inFilterAction: Filter | None,
        inProvider: IOService | None = None,
        inIntIndex: int = 0,
    ) -> IOFilterInterruptEventSource | None:
        source = cls()
        if not source.init(inOwner, inAction, inFilterAction, inProvider, inIntIndex):
            source.release()
            return None
        return source

    @classmethod
    def interruptEventSource(
        cls,
        inOwner: OSObject | None,
        inAction: Action | None,
        inProvider: IOService | None = None,
        inIntIndex: int = 0,
    ) -> IOInterruptEventSource | None:
        """Refused, as in xnu: a filter source needs a filter."""
        return None

    def init(  # type: ignore[override]  # C++ overloads init; Python cannot
        self,
        inOwner: OSObject | None,
        inAction: Action | None,
        inFilterAction: Filter | None,
        inProvider: IOService | None = None,
        inIntIndex: int = 0,
    ) -> bool:
        if inFilterAction is None:
            return False
        self.filterAction = inFilterAction
        if not super().init(inOwner, inAction, inProvider, inIntIndex):
            self.filterAction = None
            return False
        return True

    def getFilterAction(self) -> Filter | None:
        return self.filterAction

    def signalInterrupt(self) -> None:
        """Count an interrupt and wake the work loop (from the filter, or anywhere)."""
        self.producerCount += 1
        self.signalWorkAvailable()

    # The two handlers run the filter themselves rather than through a helper: they
    # run for every interrupt.

    def normalInterruptOccurred(self, refCon: object, prov: IOService | None, source: int) -> None:
        filter_action = self.filterAction
        if filter_action is not None and filter_action(self.owner, self):
            self.filter_claimed += 1
            self.signalInterrupt()
        else:
            self.filter_refused += 1

    def disableInterruptOccurred(self, refCon: object, prov: IOService | None, source: int) -> None:
        filter_action = self.filterAction
        if filter_action is not None and filter_action(self.owner, self):
            self.filter_claimed += 1
            if prov is not None:
                prov.disableInterrupt(source)
            self.signalInterrupt()
        else:
            self.filter_refused += 1
