"""IOInterruptController and IOSharedInterruptController: interrupt vectors.

Mirrors xnu's ``iokit/Kernel/IOInterruptController.cpp`` and
``iokit/IOKit/IOInterruptController.h`` (and ``IOInterrupts.h``).

Design
------
An interrupt controller driver owns one ``IOInterruptVector`` per input.  Nubs reach
it through ``IOService::registerInterrupt`` (``kextlab.kernel.service.interrupts``):
the nub's specifier names the vector (its first cell), and the controller records
the handler, target and refCon there.  ``IOInterruptController`` does the
bookkeeping once for every controller; a driver for real hardware overrides only the
*vector hooks*: ``getVectorType`` (edge or level), ``vectorCanBeShared``,
``initVector``, ``disableVectorHard`` (mask in hardware), ``enableVector`` (unmask),
``causeVector`` (a software interrupt), and its ``handleInterrupt``, which the CPU
calls: acknowledge, dispatch the vector, end the interrupt.

Enabling is two-level, as in xnu.  ``disableInterrupt`` is *soft*: it only marks the
vector, because masking the controller costs a register write and most interrupts
never arrive while disabled.  If one does arrive, the controller's
``handleInterrupt`` finds the vector soft-disabled, does not call the handler, and
only then masks the input in hardware (``interruptDisabledHard``).
``enableInterrupt`` clears the soft flag and unmasks the input if it had been masked:
a level interrupt that is still asserted is then delivered.  A vector starts
registered, soft- and hard-disabled.

Sharing.  A vector that ``vectorCanBeShared`` and whose interrupt is level-triggered
(xnu's rule for controllers whose provider is an ``IOPlatformDevice``, applied on
every architecture: PCI lines are level-triggered and shareable), or that is
registered a second time, becomes a *shared* vector: an ``IOSharedInterruptController``
is made for it and registered as the vector's one handler, and every nub's handler is
registered with the shared controller instead (the nub's source is repointed at it).
When the line fires, the shared controller calls every enabled handler on it; each
must check whether its own device interrupted.  The shared controller acts as a nub
of the parent (its source 0 is the parent's vector): it keeps the parent vector
enabled exactly while *all* handlers registered on it are enabled.  So a handler that
disables its interrupt (an ``IOInterruptEventSource`` on a level line does, until its
work-loop action has quieted the device) gets the whole line masked at the next
interrupt, and unmasked when it enables again; otherwise a level line that one
driver has not yet quieted would interrupt the CPU for ever.

Departures from xnu, each forced by kextlab's model or fixing a hazard:

* C++ overloads ``enableInterrupt(nub, source)`` (controller) and
  ``enableInterrupt(source)`` (nub); Python has one method per name, so on a
  controller the names are the controller's forms, and the shared controller reaches
  its own nub side through ``kextlab.kernel.service.interrupts`` (or, for the
  per-interrupt enable and disable of its parent vector, calls the parent directly).
* The shared controller's bookkeeping has no preemption point in it, so on
  kextlab's one virtual CPU it needs neither its vector locks nor its
  ``controllerLock`` (the parent's vectors keep their ``IOLock``: registering there
  writes registers, and every register access is a preemption point).  No thread
  can ever see a vector's handler half-way through (handlers run to completion), so
  ``interruptActive`` and the spin-waits on it are not modelled.
* When the last handler of a shared vector unregisters, xnu re-enables the parent
  vector (no handler left to quiet a device that still asserts: an interrupt storm);
  kextlab disables it instead (masked at its next interrupt).
* A shared controller does not retain its parent: the parent owns its shared
  controllers and releases them when it stops (xnu's retain makes a cycle that is
  never freed).
* ``causeInterrupt`` on a shared vector is forwarded to the parent vector (xnu's
  shared controller ignores it), so that it works on kextlab's machines, where every
  PCI interrupt is shared.
* ``unregisterInterrupt`` on a source that was resolved (``getInterruptType``) but
  never registered leaves the vector alone; xnu's would unregister whoever holds it.
* ``IODTGetInterruptOptions`` (sharing decided from the whole device tree at boot) is
  not modelled: the level rule above decides.

Threading rules: ``registerInterrupt``/``unregisterInterrupt`` take the vector lock
(kernel threads, the entered host); ``enableInterrupt``, ``disableInterrupt``,
``causeInterrupt`` and ``getInterruptType`` never block; ``handleInterrupt`` runs in
interrupt context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnInvalid,
    kIOReturnNoInterrupt,
    kIOReturnNoResources,
    kIOReturnSuccess,
)
from kextlab.kernel.libkern.values import OSData
from kextlab.kernel.locks import IOLock, IOLockAlloc, IOLockFree, IOLockLock, IOLockUnlock
from kextlab.kernel.service.interrupts import (
    InterruptTypeRef,
    IOInterruptSource,
    cause_interrupt,
    disable_interrupt,
    enable_interrupt,
    get_interrupt_type,
    interrupt_sources,
    kIOInterruptTypeEdge,
    kIOInterruptTypeLevel,
    kIOInterruptTypePCIMessaged,
    kIOInterruptTypePCIMessagedX,
    set_interrupt_sources,
)
from kextlab.kernel.service.service import IOService

__all__ = [
    "IOInterruptController",
    "IOInterruptHandler",
    "IOInterruptVector",
    "IOSharedInterruptController",
    "kIODTInterruptShared",
    "kIOInterruptTypeEdge",
    "kIOInterruptTypeLevel",
    "kIOInterruptTypePCIMessaged",
    "kIOInterruptTypePCIMessagedX",
    "kIOSharedInterruptControllerDefaultVectors",
    "vector_data_for",
    "vector_number_of",
]

#: ``IODeviceTreeSupport.h``: an interrupt other nubs share.
kIODTInterruptShared: Final = 0x0000_0001

#: The vectors of one shared controller (``kIOSharedInterruptControllerDefaultVectors``).
kIOSharedInterruptControllerDefaultVectors: Final = 128

#: Apple's ``IOInterruptHandler``: ``(target, refCon, nub, source)``.
IOInterruptHandler = Callable[[Any, Any, Any, int], object]


@dataclass(eq=False, slots=True)
class IOInterruptVector:
    """One input of a controller (``struct IOInterruptVector``)."""

    interruptLock: IOLock | None = None
    interruptDisabledSoft: bool = False
    interruptDisabledHard: bool = False
    interruptRegistered: bool = False
    nub: IOService | None = None
    source: int = 0
    target: object = None
    handler: IOInterruptHandler | None = None
    refCon: object = None
    sharedController: IOSharedInterruptController | None = None

    def clear(self) -> None:
        """Forget the registration (everything but the lock and shared controller)."""
        self.interruptDisabledSoft = False
        self.interruptDisabledHard = False
        self.interruptRegistered = False
        self.nub = None
        self.source = 0
        self.target = None
        self.handler = None
        self.refCon = None


def vector_number_of(vectorData: OSData) -> int:
    """The vector a source's data names: its first cell (big-endian, the device
    tree's byte order; a shared controller writes its own numbers the same way)."""
    return int.from_bytes(vectorData.getBytesNoCopy(0, 4), "big")


def vector_data_for(number: int) -> OSData:
    """Vector data naming ``number`` (``OSData::withValue``), as the caller's own."""
    return OSData(number.to_bytes(4, "big"))


class IOInterruptController(IOService):
    """The bookkeeping of interrupt vectors; subclasses drive the hardware."""

    def __init__(self) -> None:
        super().__init__()
        self.vectors: list[IOInterruptVector] = []

    def make_vectors(self, count: int, *, locked: bool = True) -> None:
        """Allocate ``count`` vectors, each with its ``IOLock`` unless ``locked`` is
        False (a driver does this in ``start``)."""
        self.release_vectors()
        self.vectors = [
            IOInterruptVector(interruptLock=IOLockAlloc() if locked else None) for _ in range(count)
        ]

    def _vector(self, nub: IOService, source: int) -> tuple[int, IOInterruptVector, OSData] | None:
        """(number, vector, vector data) of ``nub``'s ``source``, or None.

        The answer is kept in the source (``IOInterruptSource.resolved``, which says
        what invalidates it), so the vector data is decoded once per registration,
        not at every enable and disable."""
        sources = nub._interrupt_sources  # as xnu's reads nub->_interruptSources
        if sources is None or not 0 <= source < len(sources):
            return None
        entry = sources[source]
        data = entry.vectorData
        vectors = self.vectors
        resolved = entry.resolved
        if resolved is not None and resolved[0] is data and resolved[1] is vectors:
            return resolved[2]
        if data is None or data.getLength() < 4:
            return None
        number = vector_number_of(data)
        if not 0 <= number < len(vectors):
            return None
        found = (number, vectors[number], data)
        entry.resolved = (data, vectors, found)
        return found

    # -- the controller's side of IOService's interrupt methods -----------------------------------

    def registerInterrupt(  # type: ignore[override]  # C++ overload: (nub, source, ...)
        self,
        nub: IOService,
        source: int,
        target: object,
        handler: IOInterruptHandler,
        refCon: object = None,
    ) -> int:
        found = self._vector(nub, source)
        if found is None:
            return kIOReturnNoInterrupt
        number, vector, vectorData = found
        lock = vector.interruptLock
        if lock is not None:
            IOLockLock(lock)
        try:
            return self._register(number, vector, vectorData, nub, source, target, handler, refCon)
        finally:
            if lock is not None:
                IOLockUnlock(lock)

    def _register(
        self,
        number: int,
        vector: IOInterruptVector,
        vectorData: OSData,
        nub: IOService,
        source: int,
        target: object,
        handler: IOInterruptHandler,
        refCon: object,
    ) -> int:
        can_be_shared = self.vectorCanBeShared(number, vector)
        options = 0
        interrupt_type = InterruptTypeRef()
        if (
            self._provider_is_platform_device()
            and self.getInterruptType(nub, source, interrupt_type) == kIOReturnSuccess
            and interrupt_type.value & kIOInterruptTypeLevel
        ):
            options |= kIODTInterruptShared
        should_be_shared = can_be_shared and bool(options & kIODTInterruptShared)
        was_registered = vector.interruptRegistered
        if was_registered and not can_be_shared:
            return kIOReturnNoResources
        if not (was_registered or should_be_shared):
            vector.handler = handler
            vector.nub = nub
            vector.source = source
            vector.target = target
            vector.refCon = refCon
            self.initVector(number, vector)
            vector.interruptDisabledHard = True
            vector.interruptDisabledSoft = True
            vector.interruptRegistered = True
            return kIOReturnSuccess
        if vector.sharedController is None:
            result = self._share(number, vector, vectorData, was_registered)
            if result != kIOReturnSuccess:
                return result
        assert vector.sharedController is not None
        return vector.sharedController.registerInterrupt(nub, source, target, handler, refCon)

    def _share(
        self, number: int, vector: IOInterruptVector, vectorData: OSData, was_registered: bool
    ) -> int:
        """Put an ``IOSharedInterruptController`` on ``vector``, moving its present
        handler (if any) over to it."""
        original_nub, original_source = vector.nub, vector.source
        if was_registered:
            # Really disable it, but remember the driver asked for it enabled or not.
            self.disableVectorHard(number, vector)
            vector.interruptDisabledHard = False
        shared = IOSharedInterruptController()
        result = shared.initInterruptController(self, vectorData)
        if result == kIOReturnSuccess and was_registered:
            assert original_nub is not None
            assert vector.handler is not None
            result = shared.registerInterrupt(
                original_nub, original_source, vector.target, vector.handler, vector.refCon
            )
        if result != kIOReturnSuccess:
            if was_registered and original_nub is not None:
                self.enableInterrupt(original_nub, original_source)
            shared.release()
            return result
        was_disabled_soft = vector.interruptDisabledSoft if was_registered else True
        vector.sharedController = shared
        vector.handler = shared.getInterruptHandlerAddress()
        vector.nub = shared
        vector.source = 0
        vector.target = shared
        vector.refCon = None
        if not was_registered:
            self.initVector(number, vector)
        vector.interruptDisabledSoft = True
        vector.interruptDisabledHard = True
        vector.interruptRegistered = True
        if not was_disabled_soft and original_nub is not None:
            original_nub.enableInterrupt(original_source)
        return kIOReturnSuccess

    def _provider_is_platform_device(self) -> bool:
        from kextlab.kernel.platform.expert import IOPlatformDevice

        return isinstance(self.getProvider(), IOPlatformDevice)

    def unregisterInterrupt(self, nub: IOService, source: int) -> int:  # type: ignore[override]
        found = self._vector(nub, source)
        if found is None:
            return kIOReturnNoInterrupt
        number, vector, _ = found
        lock = vector.interruptLock
        if lock is not None:
            IOLockLock(lock)
        try:
            if not vector.interruptRegistered or vector.nub is not nub or vector.source != source:
                return kIOReturnSuccess  # not this nub's registration (see the module doc)
            self.disableInterrupt(nub, source)
            self.disableVectorHard(number, vector)
            vector.clear()
            return kIOReturnSuccess
        finally:
            if lock is not None:
                IOLockUnlock(lock)

    def getInterruptType(  # type: ignore[override]
        self, nub: IOService, source: int, interruptType: InterruptTypeRef | None
    ) -> int:
        if interruptType is None:
            return kIOReturnBadArgument
        found = self._vector(nub, source)
        if found is None:
            return kIOReturnNoInterrupt
        number, vector, _ = found
        interruptType.value = self.getVectorType(number, vector)
        return kIOReturnSuccess

    def enableInterrupt(self, nub: IOService, source: int) -> int:  # type: ignore[override]
        found = self._vector(nub, source)
        if found is None:
            return kIOReturnNoInterrupt
        number, vector, _ = found
        if vector.interruptDisabledSoft:
            vector.interruptDisabledSoft = False
            if vector.interruptDisabledHard:
                vector.interruptDisabledHard = False
                self.enableVector(number, vector)
        return kIOReturnSuccess

    def disableInterrupt(self, nub: IOService, source: int) -> int:  # type: ignore[override]
        found = self._vector(nub, source)
        if found is None:
            return kIOReturnNoInterrupt
        found[1].interruptDisabledSoft = True
        return kIOReturnSuccess

    def causeInterrupt(self, nub: IOService, source: int) -> int:  # type: ignore[override]
        found = self._vector(nub, source)
        if found is None:
            return kIOReturnNoInterrupt
        number, vector, _ = found
        self.causeVector(number, vector)
        return kIOReturnSuccess

    def getInterruptHandlerAddress(self) -> IOInterruptHandler | None:
        """The handler a parent controller calls for this one (a cascade)."""
        return None

    def handleInterrupt(self, refCon: object, nub: IOService | None, source: int) -> int:
        """Dispatch an interrupt (subclasses: acknowledge, call, end)."""
        return kIOReturnInvalid

    # -- the vector hooks a hardware driver overrides ---------------------------------------------

    def vectorCanBeShared(self, vectorNumber: int, vector: IOInterruptVector) -> bool:
        return False

    def initVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        """Prepare the hardware for a vector's first registration."""

    def getVectorType(self, vectorNumber: int, vector: IOInterruptVector) -> int:
        return kIOInterruptTypeEdge

    def disableVectorHard(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        """Mask the input in hardware."""

    def enableVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        """Unmask the input in hardware."""

    def causeVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        """Raise the vector in software."""

    def release_vectors(self) -> None:
        """Drop every vector, its lock and the shared controller on it (a driver's
        ``stop``)."""
        for vector in self.vectors:
            if vector.sharedController is not None:
                vector.sharedController.release()
                vector.sharedController = None
            if vector.interruptLock is not None:
                IOLockFree(vector.interruptLock)
                vector.interruptLock = None
        self.vectors = []

    def free(self) -> None:
        self.release_vectors()
        super().free()


@dataclass(eq=False, slots=True)
class _SharedState:
    """The counters of a shared controller (``numVectors``, ``vectorsRegistered``,
    ``vectorsEnabled``, ``controllerDisabled``)."""

    high_water: int = 0
    registered: int = 0
    enabled: int = 0
    controller_disabled: bool = True
    source_is_level: bool = False


class IOSharedInterruptController(IOInterruptController):
    """Several handlers on one vector of a parent controller."""

    def __init__(self) -> None:
        super().__init__()
        self._shared = _SharedState()
        #: The controller whose vector this one shares (its source 0, which never
        #: changes), kept from ``initInterruptController`` until ``free``: enabling
        #: and disabling the parent vector happen for every interrupt and go to it
        #: directly instead of through ``enable_interrupt(self, 0)``.
        self._parent: IOInterruptController | None = None

    def initInterruptController(
        self, parentController: IOInterruptController, parentSource: OSData
    ) -> int:
        """Become a nub of ``parentController`` whose source 0 is ``parentSource``.

        The parent owns its shared controllers and releases them when it stops; a
        shared controller does not retain its parent (xnu's does, a cycle it never
        frees)."""
        parentSource.retain()
        set_interrupt_sources(self, [IOInterruptSource(parentController, parentSource)])
        self._parent = parentController
        interrupt_type = InterruptTypeRef()
        if get_interrupt_type(self, 0, interrupt_type) == kIOReturnSuccess:
            self._shared.source_is_level = bool(interrupt_type.value & kIOInterruptTypeLevel)
        self.make_vectors(kIOSharedInterruptControllerDefaultVectors, locked=False)
        return kIOReturnSuccess

    @property
    def vectors_registered(self) -> int:
        return self._shared.registered

    @property
    def vectors_enabled(self) -> int:
        return self._shared.enabled

    def registerInterrupt(  # type: ignore[override]
        self,
        nub: IOService,
        source: int,
        target: object,
        handler: IOInterruptHandler,
        refCon: object = None,
    ) -> int:
        sources = interrupt_sources(nub)
        if sources is None or not 0 <= source < len(sources):
            return kIOReturnNoInterrupt
        free = next(
            (
                number
                for number, vector in enumerate(self.vectors)
                if not vector.interruptRegistered
            ),
            None,
        )
        if free is None:
            return kIOReturnNoResources
        vector = self.vectors[free]
        sources[source].interruptController = self
        sources[source].vectorData = vector_data_for(free)
        vector.handler = handler
        vector.nub = nub
        vector.source = source
        vector.target = target
        vector.refCon = refCon
        vector.interruptDisabledSoft = True
        vector.interruptRegistered = True
        state = self._shared
        state.registered += 1
        state.high_water = max(state.high_water, state.registered, free + 1)
        return kIOReturnSuccess

    def unregisterInterrupt(self, nub: IOService, source: int) -> int:  # type: ignore[override]
        state = self._shared
        sources = interrupt_sources(nub)
        for vector in self.vectors:
            if not vector.interruptRegistered or vector.nub is not nub or vector.source != source:
                continue
            self.disableInterrupt(nub, source)
            if sources is not None and 0 <= source < len(sources):
                data = sources[source].vectorData
                sources[source] = IOInterruptSource()  # unresolved again (see the module doc)
                if data is not None:
                    data.release()
            vector.clear()
            state.registered -= 1
        if state.registered and state.enabled == state.registered:
            state.controller_disabled = False
            enable_interrupt(self, 0)
        elif not state.registered:
            state.controller_disabled = True
            disable_interrupt(self, 0)
        return kIOReturnSuccess

    def getInterruptType(  # type: ignore[override]
        self, nub: IOService, source: int, interruptType: InterruptTypeRef | None
    ) -> int:
        if interruptType is None:
            return kIOReturnBadArgument
        return get_interrupt_type(self, 0, interruptType)

    def enableInterrupt(self, nub: IOService, source: int) -> int:  # type: ignore[override]
        found = self._vector(nub, source)
        if found is None:
            return kIOReturnNoInterrupt
        vector = found[1]
        state = self._shared
        if not vector.interruptDisabledSoft:
            return kIOReturnSuccess
        vector.interruptDisabledSoft = False
        state.enabled += 1
        if state.controller_disabled and state.enabled == state.registered:
            state.controller_disabled = False
            parent = self._parent  # None only before init and after free: no vector
            if parent is not None:
                parent.enableInterrupt(self, 0)
        return kIOReturnSuccess

    def disableInterrupt(self, nub: IOService, source: int) -> int:  # type: ignore[override]
        found = self._vector(nub, source)
        if found is None:
            return kIOReturnNoInterrupt
        vector = found[1]
        if not vector.interruptDisabledSoft:
            vector.interruptDisabledSoft = True
            self._shared.enabled -= 1
        return kIOReturnSuccess

    def causeVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        """Forwarded to the parent's vector (see the module doc): every enabled
        handler on the line runs, as for a hardware interrupt."""
        cause_interrupt(self, 0)

    def getInterruptHandlerAddress(self) -> IOInterruptHandler:
        """``OSMemberFunctionCast(IOInterruptHandler, this, &handleInterrupt)``, as
        xnu's: the parent calls it as ``handler(target, refCon, nub, source)`` with
        this controller as both target and nub (``_share`` registers it so)."""
        return type(self).handleInterrupt

    def handleInterrupt(self, refCon: object, nub: IOService | None, source: int) -> int:
        """Call every enabled handler; if any registered handler is disabled, disable
        the parent vector (masked in hardware at its next interrupt)."""
        vectors = self.vectors
        for number in range(self._shared.high_water):
            vector = vectors[number]
            if not vector.interruptDisabledSoft and vector.interruptRegistered:
                handler = vector.handler
                assert handler is not None
                handler(vector.target, vector.refCon, vector.nub, vector.source)
        state = self._shared
        if state.enabled != state.registered:
            parent = self._parent  # None only before init and after free: no vector
            if parent is not None:
                parent.disableInterrupt(self, 0)
            state.controller_disabled = True
        return kIOReturnSuccess

    def free(self) -> None:
        sources = interrupt_sources(self)
        if sources:
            data = sources[0].vectorData
            if data is not None:
                data.release()
        set_interrupt_sources(self, None)
        self._parent = None
        super().free()
