"""The controller's device interrupt: the default filter source on the provider's
interrupt 0, FilterInterruptRequest in primary interrupt context,
HandleInterruptRequest on the work loop, SignalInterrupt, Enable/DisableInterrupt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kextlab.families.scsi.parallel.controller import IOSCSIParallelInterfaceController
from kextlab.kernel.ioreturn import kIOReturnNoInterrupt, kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.service.interrupts import InterruptTypeRef, kIOInterruptTypeEdge
from kextlab.kernel.service.service import IOService
from kextlab.kernel.workloop import IOFilterInterruptEventSource, IOInterruptEventSource
from kextlab.sim.context import Context
from kextlab.sim.scheduler import current_scheduler

from .soft_hba import HBAConfig, SoftHBA, SoftHBANub


class InterruptingNub(SoftHBANub):
    """A provider with one edge interrupt the test fires (as a PCI nub's would)."""

    def __init__(self, config: HBAConfig | None = None) -> None:
        super().__init__(config)
        self.handler: tuple[object, Callable[..., Any]] | None = None
        self.enabled = False

    def getInterruptType(self, source: int, interruptType: InterruptTypeRef) -> int:
        if source != 0:
            return kIOReturnNoInterrupt
        interruptType.value = kIOInterruptTypeEdge
        return kIOReturnSuccess

    def registerInterrupt(
        self, source: int, target: object, handler: Callable[..., Any], refCon: object = None
    ) -> int:
        if source != 0:
            return kIOReturnNoInterrupt
        self.handler = (target, handler)
        return kIOReturnSuccess

    def unregisterInterrupt(self, source: int) -> int:
        self.handler = None
        return kIOReturnSuccess

    def enableInterrupt(self, source: int) -> int:
        self.enabled = True
        return kIOReturnSuccess

    def disableInterrupt(self, source: int) -> int:
        self.enabled = False
        return kIOReturnSuccess

    def fire(self) -> None:
        if not self.enabled or self.handler is None:
            return
        target, handler = self.handler
        scheduler = current_scheduler()
        assert scheduler is not None
        scheduler.run_in_interrupt_context(lambda: handler(target, None, self, 0))


class FilterHBA(SoftHBA):
    """A SoftHBA with Apple's default device interrupt and a programmable filter."""

    def __init__(self) -> None:
        super().__init__()
        self.filter_answer = True
        self.signal_from_filter = False
        self.filter_contexts: list[Context] = []
        self.handled = 0

    def CreateDeviceInterrupt(
        self, action: Any, filter: Any, provider: IOService
    ) -> IOInterruptEventSource | None:
        return IOSCSIParallelInterfaceController.CreateDeviceInterrupt(
            self, action, filter, provider
        )

    def FilterInterruptRequest(self) -> bool:
        scheduler = current_scheduler()
        assert scheduler is not None
        self.filter_contexts.append(scheduler.context)
        if self.signal_from_filter:
            self.SignalInterrupt()
        return self.filter_answer

    def HandleInterruptRequest(self) -> None:
        self.handled += 1
        super().HandleInterruptRequest()

    def _raise_interrupt(self) -> None:
        """Completions interrupt through the provider's line, as hardware would."""
        provider = self.getProvider()
        assert isinstance(provider, InterruptingNub)
        provider.fire()


def start_filter_hba(kernel: Kernel) -> tuple[FilterHBA, InterruptingNub]:
    from kextlab.kernel.libkern.collections import OSDictionary
    from kextlab.kernel.libkern.convert import from_python

    kernel.classes.register(FilterHBA, kext="com.kextlab.test.FilterHBA")
    personality = from_python({"IOClass": "FilterHBA", "IOProviderClass": "InterruptingNub"})
    assert isinstance(personality, OSDictionary)
    kernel.services.catalogue.addDrivers([personality], doNubMatching=False)
    personality.release()
    nub = InterruptingNub(HBAConfig(highest_id=0))
    nub.init()
    assert nub.attach(kernel.platform_device)
    nub.registerService()
    kernel.scheduler.run()
    hba = nub.getClient()
    assert isinstance(hba, FilterHBA)
    assert hba.handled >= 1  # the scan's completions came through the filter
    hba.handled = 0
    hba.filter_contexts.clear()
    return hba, nub


def test_the_default_interrupt_is_a_filter_source_enabled_after_start(kernel: Kernel) -> None:
    """CreateDeviceInterrupt makes a filter source on interrupt 0; the work loop
    enables it once the controller has started."""
    hba, nub = start_filter_hba(kernel)
    assert isinstance(hba.fDispatchEvent, IOFilterInterruptEventSource)
    assert nub.enabled


def test_the_filter_runs_in_interrupt_context_and_gates_the_handler(kernel: Kernel) -> None:
    """FilterInterruptRequest runs in primary interrupt context; True runs
    HandleInterruptRequest on the work loop, False does not."""
    hba, nub = start_filter_hba(kernel)
    nub.fire()
    kernel.scheduler.run()
    assert hba.filter_contexts == [Context.INTERRUPT]
    assert hba.handled == 1
    hba.filter_answer = False
    nub.fire()
    kernel.scheduler.run()
    assert hba.handled == 1


def test_signal_interrupt_from_the_filter_schedules_the_handler(kernel: Kernel) -> None:
    """A filter that masks its chip answers False and calls SignalInterrupt: the
    handler still runs, once."""
    hba, nub = start_filter_hba(kernel)
    hba.filter_answer = False
    hba.signal_from_filter = True
    nub.fire()
    kernel.scheduler.run()
    assert hba.handled == 1


def test_disable_interrupt_masks_the_line_until_enabled(kernel: Kernel) -> None:
    """DisableInterrupt stops delivery at the provider; EnableInterrupt restores it."""
    hba, nub = start_filter_hba(kernel)
    hba.DisableInterrupt()
    nub.fire()
    kernel.scheduler.run()
    assert hba.handled == 0
    hba.EnableInterrupt()
    nub.fire()
    kernel.scheduler.run()
    assert hba.handled == 1
