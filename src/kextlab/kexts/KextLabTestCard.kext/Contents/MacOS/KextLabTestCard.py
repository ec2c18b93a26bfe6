"""KextLabTestCardDriver: a complete PCI driver for the kextlab test card.

Written the way Apple's generic PCI samples are (seed 003, AppleSamplePCI): matched
by ``IOPCIMatch``, it maps BAR 0, checks the card, and then builds the driver
runtime every real driver has:

* its own ``IOWorkLoop``, which ``getWorkLoop`` returns;
* an ``IOFilterInterruptEventSource`` on the nub's interrupt 0: the *filter* runs in
  primary interrupt context, reads ``INTERRUPT_STATUS`` and, if the card asserted
  nothing, answers False, because the INTx line is shared with the other test card
  (and a glitch on the line is nobody's); otherwise it acknowledges the card
  (write-1-to-clear) and lets the *action* finish the request on the work loop;
* an ``IOTimerEventSource`` for command timeouts: a card that never interrupts
  fails the request with ``kIOReturnTimeout`` and is reset, it never hangs a client;
* an ``IOCommandGate`` through which every client request enters: requests run one
  at a time, serialised with the interrupt and timer actions, and a client waits in
  ``commandSleep`` (the gate open) until its request is finished;
* ``IODMACommand`` objects that turn the client's memory into bus addresses the
  card can reach: a board that drives only 32 address lines gets a 32-bit
  specification (the personality for subsystem 2 says so), and memory a 64-bit
  kernel placed above 4 GiB is bounced below it;
* a descriptor list in a buffer allocated within the card's reach
  (``inTaskWithPhysicalMask``);
* statistics, published as the ``Statistics`` property: a serializer, so that
  whoever reads it (``ioreg``, a test) sees the counts of that moment, including
  those the filter keeps in interrupt context, where nothing may be allocated.

``stop`` undoes ``start`` in reverse order.  A request in flight when the driver is
terminated is aborted (the card is reset) and its client gets
``kIOReturnAborted``; ``stop`` waits for every client to leave the gate before it
releases what they use.  ``stop`` tolerates a ``start`` that failed half way.

Clients (kernel code; user clients come later) call ``copyMemory``/``fillMemory``
from any kernel thread.

Threading rules: ``interruptFilter`` runs in interrupt context; the actions and
``gated*`` methods run with the work loop's gate closed; the client calls block.
"""

from __future__ import annotations

import struct
from typing import Any

from kextlab.families.pci.device import IOPCIDevice
from kextlab.kernel.ioreturn import (
    kIOReturnAborted,
    kIOReturnBadArgument,
    kIOReturnDMAError,
    kIOReturnIOError,
    kIOReturnNoResources,
    kIOReturnNotAttached,
    kIOReturnSuccess,
    kIOReturnTimeout,
)
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.object import OSDynamicCast, OSSerializer
from kextlab.kernel.libkern.values import OSNumber
from kextlab.kernel.locks import THREAD_UNINT
from kextlab.kernel.log import IOLog
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import IOMemoryDescriptor, kernel_task
from kextlab.kernel.memory.device_memory import IOMemoryMap
from kextlab.kernel.memory.dma_command import IODMACommand, Segment64
from kextlab.kernel.memory.options import (
    kIODirectionInOut,
    kIOMemoryPhysicallyContiguous,
)
from kextlab.kernel.memory.refs import ByteCountRef, UInt32Ref, UInt64Ref
from kextlab.kernel.service.service import IOService
from kextlab.kernel.workloop import (
    IOCommandGate,
    IOFilterInterruptEventSource,
    IOTimerEventSource,
    IOWorkLoop,
)
from kextlab.sim.scheduler import current_scheduler

# -- the test card's datasheet (kextlab.machine.devices.testcard_registers), as a
#    driver author would spell it out ---------------------------------------------------------

IDENTIFICATION = 0x00
VERSION = 0x04
CONTROL = 0x08
INTERRUPT_STATUS = 0x10
INTERRUPT_ENABLE = 0x14
DOORBELL = 0x1C
DESCRIPTOR_ADDRESS_LOW = 0x20
DESCRIPTOR_ADDRESS_HIGH = 0x24
DESCRIPTOR_LENGTH = 0x28
COMPLETION_STATUS = 0x2C
COMPLETED_DESCRIPTORS = 0x30

CONTROL_SOFT_RESET = 0x1
INTERRUPT_DONE = 0x1
INTERRUPT_ERROR = 0x2
EXPECTED_IDENTIFICATION = 0x4B4C5443  # "KLTC"
SRAM_BAR = 0x18

OPCODE_COPY = 1
OPCODE_FILL = 2
DESCRIPTOR = struct.Struct("<BBHIQQQ")  # opcode, flags, reserved, status, source, dest, length
MAXIMUM_TRANSFER = 16 << 20  # one descriptor moves at most 16 MiB
COMPLETION_SUCCESS = 0

#: How many descriptors one request may use, and so the descriptor list's size.
MAXIMUM_DESCRIPTORS = 64
#: A request's timeout when the client does not give one.
DEFAULT_TIMEOUT_MS = 1000
#: The personality property saying how many address lines the board drives.
ADDRESS_BITS_PROPERTY = "DMA Address Bits"


class TestCardRequest:
    """One client request, alive while its client waits for it (ours)."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        opcode: int,
        source: IOMemoryDescriptor | None,
        destination: IOMemoryDescriptor,
        fill_byte: int,
        timeout_ms: int,
    ) -> None:
        self.opcode = opcode
        self.source = source
        self.destination = destination
        self.fill_byte = fill_byte
        self.timeout_ms = timeout_ms
        self.status = kIOReturnSuccess
        self.done = False
        self.started = 0


class KextLabTestCardDriver(IOService):
    """The test card's driver."""

    def __init__(self) -> None:
        super().__init__()
        self.device: IOPCIDevice | None = None
        self.registers: IOMemoryMap | None = None
        self.workLoop: IOWorkLoop | None = None
        self.interruptSource: IOFilterInterruptEventSource | None = None
        self.timerSource: IOTimerEventSource | None = None
        self.commandGate: IOCommandGate | None = None
        self.sourceCommand: IODMACommand | None = None
        self.destinationCommand: IODMACommand | None = None
        self.descriptors: IOBufferMemoryDescriptor | None = None
        self.descriptorsAddress = 0
        self.addressBits = 64
        self.current: TestCardRequest | None = None
        self.pendingStatus = 0
        self.clientsInGate = 0
        self.terminating = False
        self.statistics = {
            "Transfers": 0,
            "Bytes": 0,
            "Errors": 0,
            "Timeouts": 0,
            "Interrupts": 0,
            "Interrupts (Not Ours)": 0,
            "Total Time (ns)": 0,
        }

    # -- start -----------------------------------------------------------------------------------

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        if not self._start(provider):
            self.stop(provider)
            return False
        self.registerService()
        return True

    def _start(self, provider: IOService) -> bool:
        device = OSDynamicCast(IOPCIDevice, provider)
        if device is None:
            return False
        self.device = device
        registers = device.mapDeviceMemoryWithIndex(0)
        if registers is None:
            return False
        self.registers = registers
        identification = registers.ioRead32(IDENTIFICATION)
        if identification != EXPECTED_IDENTIFICATION:
            self.setProperty("KextLabTestCardError", f"bad identification {identification:#x}")
            return False
        device.setMemoryEnable(True)
        device.setBusMasterEnable(True)
        self._reset_card()
        bits = OSDynamicCast(OSNumber, self.getProperty(ADDRESS_BITS_PROPERTY))
        self.addressBits = bits.unsigned32BitValue() if bits is not None else 64

        self.workLoop = IOWorkLoop.workLoop()
        if self.workLoop is None:
            return False
        self.interruptSource = IOFilterInterruptEventSource.filterInterruptEventSource(
            self,
            KextLabTestCardDriver.interruptOccurred,
            KextLabTestCardDriver.interruptFilter,
            provider,
            0,
        )
        if self.interruptSource is None:
            self.setProperty("KextLabTestCardError", "no interrupt")
            return False
        self.timerSource = IOTimerEventSource.timerEventSource(
            self, KextLabTestCardDriver.timeoutOccurred
        )
        self.commandGate = IOCommandGate.commandGate(self)
        if self.timerSource is None or self.commandGate is None:
            return False
        for source in (self.interruptSource, self.timerSource, self.commandGate):
            if self.workLoop.addEventSource(source) != kIOReturnSuccess:
                return False

        self.sourceCommand = self._dma_command()
        self.destinationCommand = self._dma_command()
        if self.sourceCommand is None or self.destinationCommand is None:
            return False
        mask = ((1 << self.addressBits) - 1) & ~0xFFF
        self.descriptors = IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
            kernel_task,
            kIODirectionInOut | kIOMemoryPhysicallyContiguous,
            MAXIMUM_DESCRIPTORS * DESCRIPTOR.size,
            mask,
        )
        if self.descriptors is None:
            return False
        self.descriptorsAddress = self.descriptors.getPhysicalSegment(0, ByteCountRef())

        version = registers.ioRead32(VERSION)
        self.setProperty("Card Version", f"{version >> 16}.{version & 0xFFFF}")
        self.setProperty("Registers", registers.getPhysicalAddress(), 64)
        sram = device.getDeviceMemoryWithRegister(SRAM_BAR)
        self.setProperty("SRAM Size", sram.getLength() if sram is not None else 0, 32)
        self.setProperty(ADDRESS_BITS_PROPERTY, self.addressBits, 32)
        statistics = OSSerializer(lambda: from_python(dict(self.statistics)))
        self.setProperty("Statistics", statistics)
        statistics.release()
        self._enable_card_interrupts()
        self.interruptSource.enable()
        IOLog(
            "%s: card %u.%u, registers at 0x%llx, %u-bit DMA\n",
            self.getName(),
            version >> 16,
            version & 0xFFFF,
            registers.getPhysicalAddress(),
            self.addressBits,
        )
        return True

    def _dma_command(self) -> IODMACommand | None:
        return IODMACommand.withSpecification(
            IODMACommand.OutputHost64,
            self.addressBits,
            MAXIMUM_TRANSFER,
            IODMACommand.kMapped,
            MAXIMUM_TRANSFER * MAXIMUM_DESCRIPTORS,
            1,
        )

    def getWorkLoop(self) -> IOWorkLoop | None:
        return self.workLoop

    # -- the card --------------------------------------------------------------------------------

    def _reset_card(self) -> None:
        """Stop the engine and mask the card's interrupts (both self-clearing on reset)."""
        assert self.registers is not None
        self.registers.ioWrite32(CONTROL, CONTROL_SOFT_RESET)

    def _enable_card_interrupts(self) -> None:
        assert self.registers is not None
        self.registers.ioWrite32(INTERRUPT_ENABLE, INTERRUPT_DONE | INTERRUPT_ERROR)

    # -- the client API --------------------------------------------------------------------------

    def copyMemory(
        self,
        source: IOMemoryDescriptor,
        destination: IOMemoryDescriptor,
        timeoutMS: int = DEFAULT_TIMEOUT_MS,
    ) -> int:
        """Copy ``source`` into ``destination`` with the card's DMA engine."""
        if source.getLength() != destination.getLength():
            return kIOReturnBadArgument
        return self._run(TestCardRequest(OPCODE_COPY, source, destination, 0, timeoutMS))

    def fillMemory(
        self, destination: IOMemoryDescriptor, byte: int, timeoutMS: int = DEFAULT_TIMEOUT_MS
    ) -> int:
        """Fill ``destination`` with ``byte`` with the card's DMA engine."""
        if not 0 <= byte <= 0xFF:
            return kIOReturnBadArgument
        return self._run(TestCardRequest(OPCODE_FILL, None, destination, byte, timeoutMS))

    def _run(self, request: TestCardRequest) -> int:
        gate = self.commandGate
        if gate is None or self.terminating:
            return kIOReturnNotAttached
        result: int = gate.runAction(KextLabTestCardDriver.gatedTransfer, request)
        return result

    # -- the request, in the gate ----------------------------------------------------------------

    def gatedTransfer(self, request: Any, *_: object) -> int:
        """Run one request: wait for the card, program it, sleep until it is done."""
        assert isinstance(request, TestCardRequest)
        gate = self.commandGate
        assert gate is not None
        self.clientsInGate += 1
        try:
            while self.current is not None and not self.terminating:
                gate.commandSleep(self._idle_event, THREAD_UNINT)
            if self.terminating:
                return kIOReturnNotAttached
            status = self._program(request)
            if status != kIOReturnSuccess:
                self._finish_dma()
                return self._account(request, status)
            while not request.done:
                gate.commandSleep(request, THREAD_UNINT)
            self._finish_dma()
            return self._account(request, request.status)
        finally:
            self.clientsInGate -= 1
            gate.commandWakeup(self._idle_event, True)
            if self.terminating and not self.clientsInGate:
                gate.commandWakeup(self._leave_event, False)

    @property
    def _idle_event(self) -> tuple[str, int]:
        return ("KextLabTestCard idle", id(self))

    @property
    def _leave_event(self) -> tuple[str, int]:
        return ("KextLabTestCard clients gone", id(self))

    def _program(self, request: TestCardRequest) -> int:
        """Turn the request's memory into descriptors and ring the doorbell."""
        assert self.registers is not None
        assert self.descriptors is not None
        assert self.sourceCommand is not None
        assert self.destinationCommand is not None
        destination = self._segments(self.destinationCommand, request.destination)
        if destination is None:
            return kIOReturnDMAError
        if request.source is not None:
            source = self._segments(self.sourceCommand, request.source)
            if source is None:
                return kIOReturnDMAError
            pieces = list(_pair_segments(source, destination))
        else:
            pieces = [(request.fill_byte, address, length) for address, length in destination]
        if len(pieces) > MAXIMUM_DESCRIPTORS:
            return kIOReturnNoResources
        table = self.descriptors.getBytesNoCopy()
        for index, (source_address, destination_address, length) in enumerate(pieces):
            DESCRIPTOR.pack_into(
                table,
                index * DESCRIPTOR.size,
                request.opcode,
                0,
                0,
                0,
                source_address,
                destination_address,
                length,
            )
        registers = self.registers
        registers.ioWrite32(DESCRIPTOR_ADDRESS_LOW, self.descriptorsAddress & 0xFFFF_FFFF)
        registers.ioWrite32(DESCRIPTOR_ADDRESS_HIGH, self.descriptorsAddress >> 32)
        registers.ioWrite32(DESCRIPTOR_LENGTH, len(pieces) * DESCRIPTOR.size)
        scheduler = current_scheduler()
        request.started = scheduler.now if scheduler is not None else 0
        registers.ioWrite32(DOORBELL, 1)
        # Start, then remember what was started: safe only because the gate is held,
        # so the interrupt action cannot look at ``current`` in between.
        self.current = request
        assert self.timerSource is not None
        self.timerSource.setTimeoutMS(request.timeout_ms)
        return kIOReturnSuccess

    def _segments(
        self, command: IODMACommand, memory: IOMemoryDescriptor
    ) -> list[tuple[int, int]] | None:
        """The bus addresses of ``memory`` through ``command`` (prepared: bounced if
        the card cannot reach it)."""
        if command.setMemoryDescriptor(memory) != kIOReturnSuccess:
            return None
        segments: list[tuple[int, int]] = []
        offset = UInt64Ref(0)
        length = memory.getLength()
        batch = [Segment64() for _ in range(8)]
        while offset.value < length:
            count = UInt32Ref(len(batch))
            if command.gen64IOVMSegments(offset, batch, count) != kIOReturnSuccess:
                return None
            if count.value == 0:
                return None
            segments.extend(
                (segment.fIOVMAddr, segment.fLength) for segment in batch[: count.value]
            )
        return segments

    def _finish_dma(self) -> None:
        """Complete both DMA commands (copying bounced data back to the client)."""
        for command in (self.sourceCommand, self.destinationCommand):
            if command is not None and command.getMemoryDescriptor() is not None:
                command.clearMemoryDescriptor()

    def _account(self, request: TestCardRequest, status: int) -> int:
        statistics = self.statistics
        statistics["Transfers"] += 1
        if status == kIOReturnSuccess:
            statistics["Bytes"] += request.destination.getLength()
        else:
            statistics["Errors"] += 1
        scheduler = current_scheduler()
        if scheduler is not None and request.started:
            statistics["Total Time (ns)"] += scheduler.now - request.started
        return status

    def _complete(self, status: int) -> None:
        """Finish the request in flight with ``status`` and wake its client."""
        request = self.current
        if request is None:
            return
        if self.timerSource is not None:
            self.timerSource.cancelTimeout()
        request.status = status
        request.done = True
        self.current = None
        assert self.commandGate is not None
        self.commandGate.commandWakeup(request, False)

    # -- interrupts ------------------------------------------------------------------------------

    def interruptFilter(self, sender: IOFilterInterruptEventSource) -> bool:
        """Primary interrupt context: is it ours?  If so, quiet the card."""
        registers = self.registers
        if registers is None:
            return False
        status = registers.ioRead32(INTERRUPT_STATUS)
        if not status:
            self.statistics["Interrupts (Not Ours)"] += 1
            return False
        registers.ioWrite32(INTERRUPT_STATUS, status)  # write 1 to clear: INTx drops
        self.pendingStatus |= status
        return True

    def interruptOccurred(self, sender: IOFilterInterruptEventSource, count: int) -> None:
        """On the work loop, gate closed: finish the request the card completed."""
        status, self.pendingStatus = self.pendingStatus, 0
        self.statistics["Interrupts"] += count
        if not status & INTERRUPT_DONE or self.current is None:
            return
        assert self.registers is not None
        completion = self.registers.ioRead32(COMPLETION_STATUS)
        self._complete(kIOReturnSuccess if completion == COMPLETION_SUCCESS else kIOReturnIOError)

    def timeoutOccurred(self, sender: IOTimerEventSource) -> None:
        """Gate closed: the card did not answer in time.  Reset it; fail the request."""
        if self.current is None:
            return
        self.statistics["Timeouts"] += 1
        IOLog("%s: no interrupt in %u ms; card reset\n", self.getName(), self.current.timeout_ms)
        self._reset_card()
        self._enable_card_interrupts()
        self.pendingStatus = 0
        self._complete(kIOReturnTimeout)

    # -- stop ------------------------------------------------------------------------------------

    def gatedStop(self, *_: object) -> int:
        """Abort what is in flight and wait until every client has left the gate."""
        self.terminating = True
        if self.registers is not None:
            self._reset_card()  # also masks the card's interrupts
        self._complete(kIOReturnAborted)
        gate = self.commandGate
        assert gate is not None
        gate.commandWakeup(self._idle_event, False)
        while self.clientsInGate:
            gate.commandSleep(self._leave_event, THREAD_UNINT)
        return kIOReturnSuccess

    def stop(self, provider: IOService) -> None:
        if self.commandGate is not None and self.commandGate.getWorkLoop() is not None:
            self.commandGate.runAction(KextLabTestCardDriver.gatedStop)
        elif self.registers is not None:
            self._reset_card()
        loop = self.workLoop
        if loop is not None:
            loop.disableAllInterrupts()
        for name in ("commandGate", "timerSource", "interruptSource"):
            source = getattr(self, name)
            if source is not None:
                if loop is not None:
                    loop.removeEventSource(source)
                source.release()
                setattr(self, name, None)
        for name in ("destinationCommand", "sourceCommand", "descriptors"):
            held = getattr(self, name)
            if held is not None:
                held.release()
                setattr(self, name, None)
        if loop is not None:
            loop.release()
            self.workLoop = None
        if self.device is not None:
            self.device.setBusMasterEnable(False)
        if self.registers is not None:
            self.registers.release()
            self.registers = None
        self.device = None
        super().stop(provider)


def _pair_segments(
    source: list[tuple[int, int]], destination: list[tuple[int, int]]
) -> list[tuple[int, int, int]]:
    """Cut two segment lists of equal total length into (source, destination,
    length) pieces that are contiguous on both sides."""
    pieces: list[tuple[int, int, int]] = []
    source_index = destination_index = 0
    source_done = destination_done = 0
    while source_index < len(source) and destination_index < len(destination):
        source_address, source_length = source[source_index]
        destination_address, destination_length = destination[destination_index]
        length = min(source_length - source_done, destination_length - destination_done)
        pieces.append(
            (source_address + source_done, destination_address + destination_done, length)
        )
        source_done += length
        destination_done += length
        if source_done == source_length:
            source_index, source_done = source_index + 1, 0
        if destination_done == destination_length:
            destination_index, destination_done = destination_index + 1, 0
    return pieces


__all__ = ["KextLabTestCardDriver", "TestCardRequest"]
