"""IOInterruptEventSource: a device interrupt delivered to a driver's work loop.

Mirrors ``IOInterruptEventSource.h``/``IOInterruptEventSource.cpp`` (xnu).

The source registers a handler for interrupt ``intIndex`` of its provider (the
nub).  When the interrupt fires, that handler runs in *primary interrupt context*:
it only counts the interrupt (``producerCount``) and signals the work loop.  The
loop's thread later calls ``checkForWork`` with the gate closed, which runs the
driver's action with the number of interrupts since the last time
(``action(owner, sender, count)``) and counts them handled (``consumerCount``).
So the action runs on a thread, where it may block, allocate and take locks.

A *level-triggered* interrupt (a PCI INTx line) stays asserted until the driver
quiets its device, which the action does on a thread, later.  So for a level
interrupt the handler also *disables* the interrupt (``autoDisable``), and
``checkForWork`` re-enables it after the action has run, unless the driver
disabled the source explicitly meanwhile.  Between the two, further interrupts of
the device are not seen: seed 003 spells this out, and it is why a shared line
wants ``IOFilterInterruptEventSource``.

A source made without a provider is a plain way to poke a work loop: call
``interruptOccurred`` yourself.

Threading rules: the ``*InterruptOccurred`` handlers run in interrupt context and
never block; everything else is called on kernel threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.service.interrupts import InterruptTypeRef, kIOInterruptTypeLevel
from kextlab.kernel.workloop.event_source import IOEventSource

if TYPE_CHECKING:
    from kextlab.kernel.service.service import IOService
    from kextlab.kernel.workloop.work_loop import IOWorkLoop

#: ``IOInterruptEventSource::Action``: ``action(owner, sender, count)``.
Action = Callable[..., Any]


class IOInterruptEventSource(IOEventSource):
    """Interrupts of a provider, handled on the work loop's thread."""

    def __init__(self) -> None:
        super().__init__()
        self.provider: IOService | None = None
        self.intIndex = -1
        self.producerCount = 0
        self.consumerCount = 0
        self.autoDisable = False
        self.explicitDisable = False

    @classmethod
    def interruptEventSource(
        cls,
        inOwner: OSObject | None,
        inAction: Action | None,
        inProvider: IOService | None = None,
        inIntIndex: int = 0,
    ) -> IOInterruptEventSource | None:
        source = cls()
        if not source.init(inOwner, inAction, inProvider, inIntIndex):
            source.release()
            return None
        return source

    def init(
        self,
        inOwner: OSObject | None,
        inAction: Action | None = None,
        inProvider: IOService | None = None,
        inIntIndex: int = 0,
    ) -> bool:
        if inIntIndex < 0:
            return False
        if not super().init(inOwner, inAction):
            return False
        self.provider = inProvider
        self.producerCount = self.consumerCount = 0
        self.autoDisable = self.explicitDisable = False
        self.intIndex = ~inIntIndex
        if inProvider is None:
            return True
        if self.registerInterruptHandler(inProvider, inIntIndex) != kIOReturnSuccess:
            return False
        self.intIndex = inIntIndex
        return True

    def free(self) -> None:
        if self.provider is not None and self.intIndex >= 0:
            self.unregisterInterruptHandler(self.provider, self.intIndex)
            self.intIndex = ~self.intIndex
        super().free()

    # -- registration with the provider -------------------------------------------------------

    def registerInterruptHandler(self, inProvider: IOService, inIntIndex: int) -> int:
        interrupt_type = InterruptTypeRef()
        result = inProvider.getInterruptType(inIntIndex, interrupt_type)
        if result != kIOReturnSuccess:
            return result
        self.autoDisable = interrupt_type.value == kIOInterruptTypeLevel
        handler = (
            type(self).disableInterruptOccurred
            if self.autoDisable
            else type(self).normalInterruptOccurred
        )
        return inProvider.registerInterrupt(inIntIndex, self, handler)

    def unregisterInterruptHandler(self, inProvider: IOService, inIntIndex: int) -> None:
        inProvider.unregisterInterrupt(inIntIndex)

    def getProvider(self) -> IOService | None:
        return self.provider

    def getIntIndex(self) -> int:
        return self.intIndex

    def getAutoDisable(self) -> bool:
        return self.autoDisable

    @property
    def interrupts_seen(self) -> int:
        """Interrupts the primary handler counted (``producerCount``)."""
        return self.producerCount

    @property
    def interrupts_handled(self) -> int:
        """Interrupts the action has been told about (``consumerCount``)."""
        return self.consumerCount

    # -- enabling ------------------------------------------------------------------------------

    def enable(self) -> None:
        provider = self.provider
        index = self.intIndex
        if provider is not None and index >= 0:
            provider.enableInterrupt(index)
            self.explicitDisable = False
            self.enabled = True

    def disable(self) -> None:
        provider = self.provider
        index = self.intIndex
        if provider is not None and index >= 0:
            provider.disableInterrupt(index)
            self.explicitDisable = True
            self.enabled = False

    def setWorkLoop(self, inWorkLoop: IOWorkLoop | None) -> None:
        if inWorkLoop is not None:
            super().setWorkLoop(inWorkLoop)
        provider = self.provider
        if provider is not None:
            if inWorkLoop is None:
                if self.intIndex >= 0:
                    # The provider may go away before free(): unregister now.
                    self.unregisterInterruptHandler(provider, self.intIndex)
                    self.intIndex = ~self.intIndex
            elif self.intIndex < 0 and (
                self.registerInterruptHandler(provider, ~self.intIndex) == kIOReturnSuccess
            ):
                self.intIndex = ~self.intIndex
        if inWorkLoop is None:
            super().setWorkLoop(None)

    # -- the work --------------------------------------------------------------------------------

    def checkForWork(self) -> bool:
        produced = self.producerCount
        count = produced - self.consumerCount
        if count > 0:
            action = self.action  # invoke_action(self, count), inlined: every interrupt's
            if action is not None:
                if self.flags & self.kActionBlock:
                    action()
                else:
                    action(self.owner, self, count)
            self.consumerCount = produced
            if self.autoDisable and not self.explicitDisable:
                self.enable()
        return False

    # -- primary interrupt context -------------------------------------------------------------

    def normalInterruptOccurred(self, refCon: object, prov: IOService | None, source: int) -> None:
        self.producerCount += 1
        self.signalWorkAvailable()

    def disableInterruptOccurred(self, refCon: object, prov: IOService | None, source: int) -> None:
        if prov is not None:
            prov.disableInterrupt(source)
        self.producerCount += 1
        self.signalWorkAvailable()

    def interruptOccurred(self, refCon: object, prov: IOService | None, source: int) -> None:
        """The handler for a source without a provider: call it to signal work."""
        if self.autoDisable and prov is not None:
            self.disableInterruptOccurred(refCon, prov, source)
        else:
            self.normalInterruptOccurred(refCon, prov, source)
