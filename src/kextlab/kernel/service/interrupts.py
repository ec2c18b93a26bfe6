"""A nub's interrupts: ``IOService::registerInterrupt`` and its companions.

Mirrors the "Device interrupts" section of xnu's ``IOService.cpp``
(``resolveInterrupt``, ``lookupInterrupt``, ``registerInterrupt``,
``unregisterInterrupt``, ``unregisterAllInterrupts``, ``getInterruptType``,
``enableInterrupt``, ``disableInterrupt``, ``causeInterrupt``) and
``IOInterrupts.h``.  ``IOService`` has thin methods of those names that call here.

A nub's interrupts are numbered from 0 (its *sources*), in the order of its
``IOInterruptControllers``/``IOInterruptSpecifiers`` properties
(``kextlab.kernel.platform.interrupt_map``).  Each source is resolved once, on first
use, into an ``IOInterruptSource``: the controller that owns it, found by name
through the platform expert (``IOPlatformExpert::lookUpInterruptController``, which
*waits* until a controller of that name has registered, so a driver that starts
before the interrupt controller blocks instead of failing), and its *vector data*
(the specifier, which the controller reads its vector number from).  A shared
controller may later replace both (``IOSharedInterruptController``).

Return codes, as xnu's: ``kIOReturnNoResources`` when the nub has no
``IOInterruptControllers`` or the controller cannot be found,
``kIOReturnNoInterrupt`` for a source index the nub does not have (and, for
``unregisterInterrupt``/``enableInterrupt``/``disableInterrupt``/``causeInterrupt``,
for one that was never resolved by ``registerInterrupt`` or ``getInterruptType``).

Handlers (``IOInterruptAction``) are called as ``handler(target, refCon, nub,
source)`` in *interrupt context* (``kextlab.sim.interrupts``): they may not block,
and blocking raises ``InterruptContextViolation``, which panics the machine.

One departure: after ``unregisterInterrupt`` through a shared controller, xnu leaves
the source pointing at that controller with its vector data freed (a later
``enableInterrupt`` would touch freed memory); kextlab makes the source unresolved
again, so such a call returns ``kIOReturnNoInterrupt`` and a new
``registerInterrupt`` resolves it afresh.

Threading rules: ``registerInterrupt`` and ``getInterruptType`` may block (the
controller lookup, the vector lock): kernel threads or the entered host.
``enableInterrupt``/``disableInterrupt``/``causeInterrupt`` never block and may also
be called from interrupt context (once resolved).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from kextlab.kernel.ioreturn import (
    kIOReturnNoInterrupt,
    kIOReturnNoResources,
    kIOReturnSuccess,
)
from kextlab.kernel.libkern.collections import OSArray
from kextlab.kernel.libkern.values import OSData, OSString

if TYPE_CHECKING:
    from kextlab.kernel.platform.interrupt_controller import (
        IOInterruptController,
        IOInterruptVector,
    )
    from kextlab.kernel.service.service import IOService

# -- IOInterrupts.h (and IOPCIFamily's IOPCIDevice.h for the message-signalled bits) ------------
kIOInterruptTypeEdge: Final = 0
kIOInterruptTypeLevel: Final = 1
kIOInterruptTypePCIMessaged: Final = 0x0001_0000
kIOInterruptTypePCIMessagedX: Final = 0x0002_0000

#: Apple's ``IOInterruptAction``: ``(target, refCon, nub, source)``, called in
#: interrupt context.  (``IOInterruptHandler`` is the same shape with untyped
#: arguments; the controllers store handlers as that.)
IOInterruptAction = Callable[[Any, Any, Any, int], object]


class IOInterruptSource:
    """One resolved interrupt of a nub (``IOInterrupts.h``).

    ``resolved`` is ours: the controller's answer to "which of my vectors is this?"
    (``IOInterruptController._vector``), kept so that enabling and disabling, which
    happen for every I/O, do not decode the vector data each time.  It is
    ``(vectorData, vectors, (number, vector, vectorData))`` and valid only while both
    the vector data and the asking controller's vector table are the very objects it
    names: repointing the source at other data (a shared controller, a new
    ``registerInterrupt``), replacing the source (``unregisterInterrupt``) or remaking
    the controller's vectors (``make_vectors``/``release_vectors``) invalidates it.
    The data's first cell cannot change in place (``OSData`` only appends)."""

    __slots__ = ("interruptController", "resolved", "vectorData")

    def __init__(
        self,
        interruptController: IOInterruptController | None = None,
        vectorData: OSData | None = None,
    ) -> None:
        self.interruptController = interruptController
        self.vectorData = vectorData
        self.resolved: (
            tuple[OSData, list[IOInterruptVector], tuple[int, IOInterruptVector, OSData]] | None
        ) = None

    def __repr__(self) -> str:
        return (
            f"IOInterruptSource(interruptController={self.interruptController!r}, "
            f"vectorData={self.vectorData!r})"
        )


@dataclass
class InterruptTypeRef:
    """The ``int *interruptType`` of ``getInterruptType``: ``kIOInterruptTypeEdge``
    or ``kIOInterruptTypeLevel`` (with ``kIOInterruptTypePCIMessaged`` bits for
    message-signalled interrupts)."""

    value: int = 0


# -- the nub's table ------------------------------------------------------------------------------


def interrupt_sources(nub: IOService) -> list[IOInterruptSource] | None:
    """The nub's resolved sources (``_interruptSources``), None before first use."""
    return nub._interrupt_sources


def set_interrupt_sources(nub: IOService, sources: list[IOInterruptSource] | None) -> None:
    """Give ``nub`` its source table (a shared controller makes its own)."""
    nub._interrupt_sources = sources


def resolve_interrupt(nub: IOService, source: int) -> int:
    """``IOService::resolveInterrupt``.  The first call only sizes the nub's table
    (xnu's early return); later ones find the controller (waiting for it) and the
    vector data of ``source``."""
    from kextlab.kernel.platform.expert import getPlatform

    controllers = nub.getProperty("IOInterruptControllers")
    if not isinstance(controllers, OSArray):
        return kIOReturnNoResources
    sources = interrupt_sources(nub)
    if sources is None:
        set_interrupt_sources(nub, [IOInterruptSource() for _ in range(controllers.getCount())])
        return kIOReturnSuccess
    name = controllers.getObject(source)
    if not isinstance(name, OSString):
        return kIOReturnNoResources
    platform = getPlatform()
    if platform is None:
        return kIOReturnNoResources
    controller = platform.lookUpInterruptController(str(name))
    if controller is None:
        return kIOReturnNoResources
    specifiers = nub.getProperty("IOInterruptSpecifiers")
    if not isinstance(specifiers, OSArray):
        return kIOReturnNoResources
    data = specifiers.getObject(source)
    if not isinstance(data, OSData):
        return kIOReturnNoResources
    sources[source].interruptController = controller
    sources[source].vectorData = data
    return kIOReturnSuccess


def lookup_interrupt(
    nub: IOService, source: int, resolve: bool
) -> tuple[int, IOInterruptController | None]:
    """``IOService::lookupInterrupt``: (IOReturn, the controller of ``source``)."""
    if interrupt_sources(nub) is None:
        result = resolve_interrupt(nub, source)
        if result != kIOReturnSuccess:
            return result, None
    sources = interrupt_sources(nub)
    assert sources is not None
    if not 0 <= source < len(sources):
        return kIOReturnNoInterrupt, None
    controller = sources[source].interruptController
    if controller is None:
        if not resolve:
            return kIOReturnNoInterrupt, None
        result = resolve_interrupt(nub, source)
        if result != kIOReturnSuccess:
            return result, None
        controller = sources[source].interruptController
    return kIOReturnSuccess, controller


# -- the nub's methods ----------------------------------------------------------------------------


def register_interrupt(
    nub: IOService, source: int, target: object, handler: IOInterruptAction, refCon: object
) -> int:
    result, controller = lookup_interrupt(nub, source, True)
    if controller is None:
        return result
    return controller.registerInterrupt(nub, source, target, handler, refCon)


def unregister_interrupt(nub: IOService, source: int) -> int:
    result, controller = lookup_interrupt(nub, source, False)
    if controller is None:
        return result
    return controller.unregisterInterrupt(nub, source)


def unregister_all_interrupts(nub: IOService) -> None:
    sources = interrupt_sources(nub)
    for source in range(len(sources) if sources is not None else 0):
        unregister_interrupt(nub, source)


def get_interrupt_type(nub: IOService, source: int, interruptType: InterruptTypeRef) -> int:
    result, controller = lookup_interrupt(nub, source, True)
    if controller is None:
        return result
    return controller.getInterruptType(nub, source, interruptType)


def enable_interrupt(nub: IOService, source: int) -> int:
    result, controller = lookup_interrupt(nub, source, False)
    if controller is None:
        return result
    return controller.enableInterrupt(nub, source)


def disable_interrupt(nub: IOService, source: int) -> int:
    result, controller = lookup_interrupt(nub, source, False)
    if controller is None:
        return result
    return controller.disableInterrupt(nub, source)


def cause_interrupt(nub: IOService, source: int) -> int:
    result, controller = lookup_interrupt(nub, source, False)
    if controller is None:
        return result
    return controller.causeInterrupt(nub, source)
