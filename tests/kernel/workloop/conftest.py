"""Fixtures for the work loop tests: a booted kernel entered by the host, a
provider with a software interrupt, and a helper to run code on kernel threads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kextlab.kernel.ioreturn import kIOReturnNoInterrupt, kIOReturnSuccess
from kextlab.kernel.kernel import Kernel
from kextlab.kernel.service.interrupts import InterruptTypeRef, kIOInterruptTypeLevel
from kextlab.kernel.service.service import IOService
from kextlab.sim.context import Context
from kextlab.testing.kernel import booted_kernel


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    """The default machine, booted and quiet, with the host inside its kernel."""
    # The runtime alone: the HBA gets no driver, so the kernel holds only what tests make.
    with booted_kernel(extensions=()) as booted, booted.entered():
        yield booted


def on_thread(kernel: Kernel, function: Callable[[], Any], name: str = "test") -> Any:
    """Run ``function`` on a new kernel thread until it returns; its result."""
    thread = kernel.scheduler.spawn(function, name=name)
    assert thread.join()
    return thread.result


class Driver(IOService):
    """An owner for event sources; records what its actions saw."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []


class SoftInterruptNub(IOService):
    """A provider with interrupt sources driven by the test, as a nub's controller
    would drive them: ``fire`` runs the registered handler in interrupt context while
    the source is enabled, and a level interrupt stays pending until ``quiet``."""

    def __init__(self, interrupt_type: int = kIOInterruptTypeLevel, sources: int = 1) -> None:
        super().__init__()
        self.interrupt_type = interrupt_type
        self.sources = sources
        self.handlers: dict[int, tuple[object, Callable[..., Any], object]] = {}
        self.enabled: dict[int, bool] = {}
        self.asserted: dict[int, bool] = {}
        self.contexts: list[Context] = []

    def getInterruptType(self, source: int, interruptType: InterruptTypeRef) -> int:
        if not 0 <= source < self.sources:
            return kIOReturnNoInterrupt
        interruptType.value = self.interrupt_type
        return kIOReturnSuccess

    def registerInterrupt(
        self, source: int, target: object, handler: Callable[..., Any], refCon: object = None
    ) -> int:
        if not 0 <= source < self.sources:
            return kIOReturnNoInterrupt
        self.handlers[source] = (target, handler, refCon)
        self.enabled[source] = False
        return kIOReturnSuccess

    def unregisterInterrupt(self, source: int) -> int:
        self.handlers.pop(source, None)
        self.enabled.pop(source, None)
        return kIOReturnSuccess

    def enableInterrupt(self, source: int) -> int:
        self.enabled[source] = True
        if self.asserted.get(source) and self.interrupt_type == kIOInterruptTypeLevel:
            # Unmasking a line that is still asserted interrupts again, as an event.
            scheduler = self._scheduler()
            scheduler.at(scheduler.now, lambda: self._deliver(source), "soft interrupt")
        return kIOReturnSuccess

    def disableInterrupt(self, source: int) -> int:
        self.enabled[source] = False
        return kIOReturnSuccess

    def fire(self, source: int = 0) -> None:
        """The device interrupts (a level interrupt stays asserted)."""
        if self.interrupt_type == kIOInterruptTypeLevel:
            self.asserted[source] = True
        self._deliver(source)

    def quiet(self, source: int = 0) -> None:
        self.asserted[source] = False

    def _deliver(self, source: int) -> None:
        if not self.enabled.get(source) or source not in self.handlers:
            return
        target, handler, refCon = self.handlers[source]
        scheduler = self._scheduler()

        def interrupt() -> None:
            self.contexts.append(scheduler.context)
            handler(target, refCon, self, source)

        scheduler.run_in_interrupt_context(interrupt)

    @staticmethod
    def _scheduler() -> Any:
        from kextlab.sim.scheduler import current_scheduler

        scheduler = current_scheduler()
        assert scheduler is not None
        return scheduler
