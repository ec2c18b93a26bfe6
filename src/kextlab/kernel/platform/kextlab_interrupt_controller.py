"""KextLabInterruptController: the driver of the machine's interrupt controller.

The platform's interrupt-controller driver, in the part Apple's
``AppleMPICInterruptController`` (PowerPC) and ``AppleAPICInterruptController``
(Intel) play on Macs: it matches the platform nub of the device tree's
``interrupt-controller`` node (``IONameMatch`` ``kextlab,pic``), drives the
controller through its registers, registers with the platform expert under the
name nubs know it by, and is the CPU's interrupt handler.  Built on
``IOInterruptController`` (``kextlab.kernel.platform.interrupt_controller``).

The hardware (``kextlab.machine.interrupts``; this driver knows it only by its
datasheet, copied below as a driver's header would): 32-bit registers at the base
of the nub's first device-memory range (its ``reg``); ``FEATURES`` gives the number
of inputs; every input is level-sensitive, with a mask bit and an in-service bit.

``start``:

1. maps the registers (``mapDeviceMemoryWithIndex(0)``), reads ``FEATURES``, masks
   every input and ends any interrupt left in service;
2. makes one vector per input;
3. connects the CPU: installs its primary handler as the virtual CPU's external
   interrupt handler (``scheduler.interrupts.connect``).  This is the seam between
   the CPU and the platform's controller; xnu routes it through the platform's
   ``IOCPUInterruptController`` and the CPU driver's interrupt handler, which
   kextlab's single virtual CPU does not need;
4. registers with the platform expert as ``IOInterruptController%08X`` of its
   provider's phandle (``IODTInterruptControllerName``, the name nubs'
   ``IOInterruptControllers`` carry; lookups waiting for it wake up), and publishes
   that name as its ``InterruptControllerName`` property, as Apple's MPIC driver does.

The primary handler (``handleInterrupt``, in interrupt context): read
``ACKNOWLEDGE``.  ``0xFF`` is a spurious interrupt: counted, nothing else.  Any
other value is an input now in service: a registered, enabled vector's handler is
called (on a shared line, the shared controller calls every enabled handler); a
soft-disabled vector is masked in hardware instead (``interruptDisabledHard``,
see the two-level enabling in ``interrupt_controller``), and a vector nobody
registered is masked too (nothing could quiet it).  Then ``END_OF_INTERRUPT``: if
the line is still high and unmasked, the controller raises the CPU again at once.

``causeVector`` is a software interrupt: the controller has no register to raise an
input, so the driver keeps a software-pending bit per vector and asks the CPU for an
interrupt with an event (``cpu.software-interrupt`` in the trace); it is dispatched
in interrupt context like a hardware one.  While the CPU has interrupts disabled
(``IOSimpleLockLockDisableInterrupt``) it is retried every
``SOFTWARE_INTERRUPT_RETRY_NS`` of virtual time; a vector that is disabled keeps its
pending bit (and is masked) until it is enabled again.

Counts, per input: ``Delivered`` (handler called for a hardware interrupt),
``Caused`` (for a software one), ``Disabled`` (arrived while disabled: masked),
``Unhandled`` (arrived with nobody registered: masked); and ``Spurious``
acknowledges.  They are published, live, as the ``InterruptStatistics`` property.

Threading rules: ``start``/``stop`` on config and terminate threads; the vector
hooks on the thread registering, enabling or disabling; ``handleInterrupt`` in
interrupt context.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import partial
from typing import TYPE_CHECKING, Final

from kextlab.kernel.ioreturn import kIOReturnNotReady, kIOReturnSuccess
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSObject, OSSerializer
from kextlab.kernel.libkern.values import OSNumber, OSSymbol
from kextlab.kernel.platform.expert import IOPlatformDevice, getPlatform
from kextlab.kernel.platform.interrupt_controller import (
    IOInterruptController,
    IOInterruptVector,
    kIOInterruptTypeLevel,
)
from kextlab.kernel.platform.interrupt_map import IODTInterruptControllerName
from kextlab.kernel.service.service import IOService

if TYPE_CHECKING:
    from kextlab.kernel.memory.device_memory import IOMemoryMap
    from kextlab.sim.scheduler import Event, Scheduler


# -- the controller's datasheet (kextlab.machine.interrupts), as the driver's header -------------


class PICRegister(IntEnum):
    FEATURES = 0x00  # RO: bits 7:0 number of inputs, bits 15:8 version
    PENDING = 0x04  # RO: bit n, input n's level is high
    IN_SERVICE = 0x08  # RO: bit n, input n acknowledged, awaiting end of interrupt
    MASK = 0x0C  # RW: bit n, input n masked
    ACKNOWLEDGE = 0x10  # RO: take the lowest deliverable input (0xFF if none)
    END_OF_INTERRUPT = 0x14  # WO: write n, input n's service is over
    MASK_SET = 0x18  # WO: write 1s, mask those inputs
    MASK_CLEAR = 0x1C  # WO: write 1s, unmask those inputs


PIC_SPURIOUS_VECTOR: Final = 0xFF
PIC_INPUTS_MASK: Final = 0xFF

#: How long a software interrupt waits before trying again while the CPU has
#: interrupts disabled.
SOFTWARE_INTERRUPT_RETRY_NS: Final = 1_000


@dataclass
class InputStatistics:
    """What happened on one input."""

    delivered: int = 0
    caused: int = 0
    disabled: int = 0
    unhandled: int = 0

    def any(self) -> bool:
        return bool(self.delivered or self.caused or self.disabled or self.unhandled)


class KextLabInterruptController(IOInterruptController):
    """The driver of kextlab's interrupt controller (``kextlab,pic``)."""

    def __init__(self) -> None:
        super().__init__()
        self._registers: IOMemoryMap | None = None
        self._scheduler: Scheduler | None = None
        self._controller_name: str | None = None
        self.statistics: list[InputStatistics] = []
        self.spurious = 0
        self._software_pending = 0
        self._software_event: Event | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        platform = getPlatform()
        name = IODTInterruptControllerName(provider)
        if not isinstance(provider, IOPlatformDevice) or platform is None or name is None:
            return False
        registers = provider.mapDeviceMemoryWithIndex(0)
        if registers is None:
            return False
        inputs = registers.ioRead32(PICRegister.FEATURES) & PIC_INPUTS_MASK
        if inputs == 0:
            registers.release()
            return False
        self._registers = registers
        self._scheduler = self.globals.scheduler
        registers.ioWrite32(PICRegister.MASK, (1 << inputs) - 1)
        in_service = registers.ioRead32(PICRegister.IN_SERVICE)
        for number in range(inputs):
            if in_service >> number & 1:
                registers.ioWrite32(PICRegister.END_OF_INTERRUPT, number)
        self.make_vectors(inputs)
        self.statistics = [InputStatistics() for _ in range(inputs)]
        self._controller_name = name
        symbol = OSSymbol.withCString(name)
        self.getPropertyTable().setObject("InterruptControllerName", symbol)
        symbol.release()
        statistics = OSSerializer(self._serialize_statistics)
        self.getPropertyTable().setObject("InterruptStatistics", statistics)
        statistics.release()
        # The CPU's handler is handleInterrupt(None, provider, 0), bound once: the
        # provider cannot change while this driver is started, and stop disconnects.
        self._scheduler.interrupts.connect(partial(self.handleInterrupt, None, provider, 0))
        platform.registerInterruptController(name, self)
        self.registerService()
        return True

    def stop(self, provider: IOService) -> None:
        platform = getPlatform()
        if platform is not None and self._controller_name is not None:
            platform.deregisterInterruptController(self._controller_name)
        if self._scheduler is not None:
            self._scheduler.interrupts.connect(None)
        if self._software_event is not None:
            self._software_event.cancel()
            self._software_event = None
        registers = self._registers
        if registers is not None:
            registers.ioWrite32(PICRegister.MASK_SET, (1 << len(self.vectors)) - 1)
            registers.release()
            self._registers = None
        self.release_vectors()
        super().stop(provider)

    # -- the CPU's interrupt ----------------------------------------------------------------------

    def handleInterrupt(self, refCon: object, nub: IOService | None, source: int) -> int:
        """Acknowledge, dispatch, end the interrupt (interrupt context)."""
        registers = self._registers
        if registers is None:
            return kIOReturnNotReady
        number = registers.ioRead32(PICRegister.ACKNOWLEDGE)
        if number == PIC_SPURIOUS_VECTOR:
            self.spurious += 1
            return kIOReturnSuccess
        vectors = self.vectors
        if number < len(vectors):
            vector = vectors[number]
            statistics = self.statistics[number]
            handler = vector.handler
            # _dispatch's delivering case, inlined: it is every interrupt's.
            if (
                not vector.interruptDisabledSoft
                and vector.interruptRegistered
                and handler is not None
            ):
                handler(vector.target, vector.refCon, vector.nub, vector.source)
                statistics.delivered += 1
            else:
                self._dispatch(number, vector, statistics)
        registers.ioWrite32(PICRegister.END_OF_INTERRUPT, number)
        return kIOReturnSuccess

    def _dispatch(
        self, number: int, vector: IOInterruptVector, statistics: InputStatistics
    ) -> bool:
        """Call the vector's handler; False if it was disabled or nobody's (masked)."""
        if vector.interruptDisabledSoft:
            vector.interruptDisabledHard = True
            self.disableVectorHard(number, vector)
            statistics.disabled += 1
            return False
        handler = vector.handler
        if not vector.interruptRegistered or handler is None:
            self.disableVectorHard(number, vector)
            statistics.unhandled += 1
            return False
        handler(vector.target, vector.refCon, vector.nub, vector.source)
        return True

    # -- software interrupts ----------------------------------------------------------------------

    def _post_software_interrupt(self, delay: int = 0) -> None:
        scheduler = self._scheduler
        if self._software_event is None and self._software_pending and scheduler is not None:
            self._software_event = scheduler.after(
                delay, self._software_interrupt, "cpu.software-interrupt"
            )

    def _software_interrupt(self) -> None:
        self._software_event = None
        scheduler = self._scheduler
        if scheduler is None:
            return
        if not scheduler.interrupts.enabled:
            self._post_software_interrupt(SOFTWARE_INTERRUPT_RETRY_NS)
            return
        scheduler.run_in_interrupt_context(self._dispatch_software)

    def _dispatch_software(self) -> None:
        for number, vector in enumerate(self.vectors):
            bit = 1 << number
            if not self._software_pending & bit:
                continue
            if not vector.interruptDisabledSoft:
                self._software_pending &= ~bit
            statistics = self.statistics[number]
            if self._dispatch(number, vector, statistics):
                statistics.caused += 1

    # -- the vector hooks -------------------------------------------------------------------------

    def vectorCanBeShared(self, vectorNumber: int, vector: IOInterruptVector) -> bool:
        return True

    def getVectorType(self, vectorNumber: int, vector: IOInterruptVector) -> int:
        return kIOInterruptTypeLevel  # every input of this controller is level-sensitive

    def disableVectorHard(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        if self._registers is not None:
            self._registers.ioWrite32(PICRegister.MASK_SET, 1 << vectorNumber)

    def enableVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        if self._registers is not None:
            self._registers.ioWrite32(PICRegister.MASK_CLEAR, 1 << vectorNumber)
        if self._software_pending >> vectorNumber & 1:
            self._post_software_interrupt()

    def causeVector(self, vectorNumber: int, vector: IOInterruptVector) -> None:
        self._software_pending |= 1 << vectorNumber
        self._post_software_interrupt()

    # -- statistics -------------------------------------------------------------------------------

    def _serialize_statistics(self) -> OSObject:
        inputs = OSDictionary()
        for number, statistics in enumerate(self.statistics):
            if not statistics.any():
                continue
            counts = OSDictionary()
            for key, value in (
                ("Delivered", statistics.delivered),
                ("Caused", statistics.caused),
                ("Disabled", statistics.disabled),
                ("Unhandled", statistics.unhandled),
            ):
                number_value = OSNumber(value, 64)
                counts.setObject(key, number_value)
                number_value.release()
            inputs.setObject(str(number), counts)
            counts.release()
        result = OSDictionary()
        result.setObject("Inputs", inputs)
        inputs.release()
        spurious = OSNumber(self.spurious, 64)
        result.setObject("Spurious", spurious)
        spurious.release()
        return result
