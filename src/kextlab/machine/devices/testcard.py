"""The kextlab test card: a PCI device that exercises the whole driver path.

Registers, descriptor format and timing are specified in ``testcard_registers``
(the card's datasheet).  This module is the model: the register file, the DMA
engine, the interrupt logic and the expansion ROM.

The engine is event-driven.  Ringing the doorbell fetches the first descriptor at
once (a bus-master read) and schedules its completion after the descriptor latency
plus the transfer time; the completion moves the data, writes the status back, and
starts the next descriptor.  Everything the card does to host memory goes through
``PCIFunction.dma_view``, so Bus Master Enable, bridges and RAM bounds apply, and a
failed transfer ends the list with an error code instead of raising.  Soft reset
cancels the engine's pending event; nothing is left half-done in the scheduler.

Threading rules: register handlers run on whatever context did the MMIO access;
engine steps run as scheduler events.  Neither blocks.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from kextlab.machine.address_space import MmioRegion
from kextlab.machine.device import Parameter
from kextlab.machine.devices import testcard_registers as tc
from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bar import BarKind, ExpansionRom
from kextlab.machine.pci.function import PCIFunction
from kextlab.machine.registers import Access, Register, RegisterFile
from kextlab.sim.scheduler import Event
from kextlab.sim.time import SECOND

if TYPE_CHECKING:
    import random

    from kextlab.machine.machine import Machine

_FILL_CHUNK = 1 << 16
_COMPARE_CHUNK = 1 << 12
_PCI_DATA_STRUCTURE = struct.Struct("<4sHHHHB3sHHBBH")


def build_rom_image(*, vendor_id: int, device_id: int, class_code: int, size: int) -> bytes:
    """A PCI expansion ROM image (PCI 3.0 §6.3.1) holding one Open Firmware image.

    The image carries the ROM header (0x55AA, pointer to the PCI Data Structure), the
    "PCIR" structure naming the card and code type 1 (Open Firmware), and an ASCII
    identification string.  It holds no FCode program.
    """
    header = bytearray(0x1C)
    header[0:2] = b"\x55\xaa"
    pcir_offset = 0x1C
    struct.pack_into("<H", header, 0x18, pcir_offset)
    pcir = _PCI_DATA_STRUCTURE.pack(
        b"PCIR",
        vendor_id,
        device_id,
        0,  # device list pointer (none)
        _PCI_DATA_STRUCTURE.size,
        3,  # PCI Data Structure revision (PCI 3.0)
        class_code.to_bytes(3, "little"),
        size // 512,  # image length in 512-byte units
        1,  # revision level of the code
        1,  # code type: Open Firmware
        0x80,  # indicator: last image
        0,
    )
    text = b"kextlab test card expansion ROM (no FCode)\0"
    return bytes(header) + pcir + text


class TestCard(PCIFunction):
    """The test card (see ``testcard_registers`` for the datasheet)."""

    __test__ = False  # not a pytest test class, despite the name

    model = "testcard"
    summary = "kextlab test card: registers, DMA engine (copy/fill/compare), doorbell, INTx, ROM"
    parameters: ClassVar[Mapping[str, Parameter]] = {
        "dma_address_bits": Parameter(
            "int",
            64,
            "address lines the card drives: 32 truncates every DMA address",
            choices=(32, 64),
        ),
        "dma_rate_mib_per_s": Parameter(
            "int", 1024, "transfer rate of the DMA engine in MiB/s", minimum=1, maximum=1 << 20
        ),
        "descriptor_latency_ns": Parameter(
            "int", 1000, "time to fetch and start one descriptor", minimum=0, maximum=SECOND
        ),
        "latency_jitter_ns": Parameter(
            "int",
            0,
            "random extra time per descriptor, drawn from the machine's seed",
            minimum=0,
            maximum=SECOND,
        ),
        "max_transfer": Parameter(
            "size", 16 << 20, "largest length one descriptor may move", minimum=1, maximum=1 << 30
        ),
        "sram_size": Parameter(
            "size",
            64 << 10,
            "on-card SRAM behind the 64-bit prefetchable BAR 2",
            minimum=4 << 10,
            maximum=1 << 30,
            power_of_two=True,
        ),
        "interrupt_pin": Parameter(
            "int", 1, "INTx pin: 1-4 for INTA#-INTD#, 0 for none", minimum=0, maximum=4
        ),
        "subsystem_id": Parameter(
            "int", 1, "PCI subsystem ID (subsystem vendor is 0x1234)", minimum=0, maximum=0xFFFF
        ),
        "rom": Parameter("bool", True, "fit the 16 KiB expansion ROM"),
        "interrupt_wire_cut": Parameter(
            "bool", False, "a broken board: INTx never reaches the bus (for timeout tests)"
        ),
    }

    def __init__(self, name: str, parameters: Mapping[str, Any]) -> None:
        super().__init__(name, parameters)
        self.set_identity(
            vendor_id=tc.VENDOR_ID,
            device_id=tc.DEVICE_ID,
            class_code=tc.CLASS_CODE,
            revision_id=tc.REVISION_ID,
            subsystem_vendor_id=tc.SUBSYSTEM_VENDOR_ID,
            subsystem_id=parameters["subsystem_id"],
        )
        self.set_status_capabilities(devsel=r.DEVSEL_MEDIUM, fast_back_to_back=True)
        self.set_interrupt_pin(parameters["interrupt_pin"])
        self._address_mask: int = (1 << parameters["dma_address_bits"]) - 1
        self._rate: int = parameters["dma_rate_mib_per_s"] << 20  # bytes per second
        self._latency: int = parameters["descriptor_latency_ns"]
        self._jitter: int = parameters["latency_jitter_ns"]
        self._max_transfer: int = parameters["max_transfer"]
        #: A fault: the card sets its interrupt status but INTx never reaches the bus.
        #: Tests may also cut (and mend) the wire at run time.
        self.interrupt_wire_cut: bool = parameters["interrupt_wire_cut"]

        self.registers = RegisterFile(
            name, tc.REGISTER_BAR_SIZE, self._register_table(), report=self.guest_error
        )
        self.add_bar(
            tc.REGISTER_BAR,
            BarKind.MEMORY32,
            tc.REGISTER_BAR_SIZE,
            self.registers.region(f"{name}.registers"),
        )
        ports = MmioRegion(
            f"{name}.ports",
            tc.PORT_BAR_SIZE,
            self.registers.read,
            self.registers.write,
            access_sizes=(1, 2, 4),
            owner=name,
        )
        self.add_bar(tc.PORT_BAR, BarKind.IO, tc.PORT_BAR_SIZE, ports)
        self.sram = bytearray(parameters["sram_size"])
        sram = MmioRegion(
            f"{name}.sram",
            len(self.sram),
            self._read_sram,
            self._write_sram,
            access_sizes=(1, 2, 4, 8),
            owner=name,
        )
        self.add_bar(tc.SRAM_BAR, BarKind.MEMORY64, len(self.sram), sram, prefetchable=True)
        if parameters["rom"]:
            image = build_rom_image(
                vendor_id=tc.VENDOR_ID,
                device_id=tc.DEVICE_ID,
                class_code=tc.CLASS_CODE,
                size=tc.ROM_SIZE,
            )
            self.set_expansion_rom(ExpansionRom(image, tc.ROM_SIZE))
        pm = self.add_capability(
            r.CAPABILITY_ID_POWER_MANAGEMENT, r.CAPABILITY_SIZE_POWER_MANAGEMENT
        )
        self.config.set(pm + r.PM_CAPABILITIES, 2, 0x0003)  # PCI PM 1.2, no PME
        self.config.set_writable(pm + r.PM_CONTROL_STATUS, 2, r.PM_CONTROL_STATE_MASK)

        self._rng: random.Random | None = None
        self._pending: Event | None = None
        self._list_address = 0
        self._list_count = 0
        self._index = 0
        self._abort_requested = False
        self.descriptors_completed = 0
        self.lists_completed = 0

    def _register_table(self) -> list[Register]:
        R = tc.Register
        return [
            Register(
                "IDENTIFICATION", R.IDENTIFICATION, access=Access.RO, reset=tc.IDENTIFICATION_VALUE
            ),
            Register("VERSION", R.VERSION, access=Access.RO, reset=tc.VERSION_VALUE),
            Register(
                "CONTROL",
                R.CONTROL,
                writable=tc.Control.SOFT_RESET | tc.Control.ABORT,
                on_write=self._control_written,
            ),
            Register("STATUS", R.STATUS, access=Access.RO),
            Register(
                "INTERRUPT_STATUS",
                R.INTERRUPT_STATUS,
                access=Access.W1C,
                on_write=self._interrupts_changed,
            ),
            Register(
                "INTERRUPT_ENABLE",
                R.INTERRUPT_ENABLE,
                writable=tc.ALL_INTERRUPTS,
                on_write=self._interrupts_changed,
            ),
            Register(
                "INTERRUPT_SET", R.INTERRUPT_SET, access=Access.WO, on_write=self._interrupt_set
            ),
            Register("DOORBELL", R.DOORBELL, access=Access.WO, on_write=self._doorbell),
            Register("DESCRIPTOR_ADDRESS_LOW", R.DESCRIPTOR_ADDRESS_LOW),
            Register("DESCRIPTOR_ADDRESS_HIGH", R.DESCRIPTOR_ADDRESS_HIGH),
            Register("DESCRIPTOR_LENGTH", R.DESCRIPTOR_LENGTH),
            Register("COMPLETION_STATUS", R.COMPLETION_STATUS, access=Access.RO),
            Register("COMPLETED_DESCRIPTORS", R.COMPLETED_DESCRIPTORS, access=Access.RO),
            Register("ERROR_DESCRIPTOR", R.ERROR_DESCRIPTOR, access=Access.RO),
            Register("MISMATCH_OFFSET", R.MISMATCH_OFFSET, access=Access.RO),
            Register("SCRATCH", R.SCRATCH, size=8, narrow_writes=True),
        ]

    def realize(self, machine: Machine) -> None:
        super().realize(machine)
        self._rng = machine.scheduler.rng.stream(f"device:{self.name}")

    # -- SRAM ---------------------------------------------------------------------------------

    def _read_sram(self, offset: int, size: int) -> int:
        return int.from_bytes(self.sram[offset : offset + size], "little")

    def _write_sram(self, offset: int, size: int, value: int) -> None:
        self.sram[offset : offset + size] = value.to_bytes(size, "little")

    # -- control and interrupts ------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return bool(self.registers["STATUS"] & tc.Status.BUSY)

    def _control_written(self, old: int, new: int) -> None:
        self.registers["CONTROL"] = 0  # both bits are self-clearing
        if new & tc.Control.SOFT_RESET:
            self.soft_reset()
        elif new & tc.Control.ABORT and self.busy:
            self._abort_requested = True

    def _interrupt_set(self, old: int, value: int) -> None:
        registers = self.registers
        registers["INTERRUPT_STATUS"] = registers["INTERRUPT_STATUS"] | (value & tc.ALL_INTERRUPTS)
        self._update_interrupt()

    def _interrupts_changed(self, old: int, new: int) -> None:
        self._update_interrupt()

    def _update_interrupt(self) -> None:
        registers = self.registers
        requested = bool(registers["INTERRUPT_STATUS"] & registers["INTERRUPT_ENABLE"])
        self.set_irq(requested and not self.interrupt_wire_cut)

    def soft_reset(self) -> None:
        """CONTROL.SOFT_RESET: stop the engine and return the registers to reset values."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._abort_requested = False
        self.registers.reset()
        self._update_interrupt()
        self.trace("reset", "soft reset")

    def reset(self) -> None:
        self.soft_reset()
        self.sram[:] = bytes(len(self.sram))
        super().reset()

    # -- the DMA engine ---------------------------------------------------------------------------

    def _bus_address(self, address: int) -> int:
        """The address the card puts on the bus (truncated when it drives 32 lines)."""
        return address & self._address_mask

    def _doorbell(self, old: int, value: int) -> None:
        registers = self.registers
        if self.busy:
            self.guest_error("doorbell rung while a descriptor list is running; ignored")
            return
        length = registers["DESCRIPTOR_LENGTH"]
        self._index = 0
        self._abort_requested = False
        registers["STATUS"] = tc.Status.BUSY
        if length == 0 or length % tc.DESCRIPTOR_SIZE:
            self.guest_error(
                f"descriptor list length {length} is not a non-zero multiple of "
                f"{tc.DESCRIPTOR_SIZE}"
            )
            self._finish(tc.Completion.BAD_DESCRIPTOR_LIST)
            return
        address = registers["DESCRIPTOR_ADDRESS_HIGH"] << 32 | registers["DESCRIPTOR_ADDRESS_LOW"]
        self._list_address = self._bus_address(address)
        self._list_count = length // tc.DESCRIPTOR_SIZE
        self.trace("doorbell", f"{self._list_count} descriptors at {self._list_address:#x}")
        self._start_descriptor()

    def _descriptor_address(self) -> int:
        return self._bus_address(self._list_address + self._index * tc.DESCRIPTOR_SIZE)

    def _start_descriptor(self) -> None:
        if self._index == self._list_count:
            self._finish(tc.Completion.SUCCESS)
            return
        if self._abort_requested:
            self._finish(tc.Completion.ABORTED)
            return
        raw = self.dma_read(self._descriptor_address(), tc.DESCRIPTOR_SIZE)
        if raw is None:
            self._finish(tc.Completion.DESCRIPTOR_ABORT)
            return
        opcode, _flags, _reserved, _status, source, destination, length = tc.DESCRIPTOR.unpack(raw)
        if opcode not in tc.Opcode.__members__.values():
            self.guest_error(f"descriptor {self._index}: unknown opcode {opcode}")
            self._complete(tc.Completion.BAD_OPCODE)
            return
        if length > self._max_transfer:
            self.guest_error(
                f"descriptor {self._index}: length {length} exceeds the card's maximum "
                f"transfer of {self._max_transfer}"
            )
            self._complete(tc.Completion.TOO_LONG)
            return
        duration = self._latency + -(-length * SECOND // self._rate)
        if self._jitter and self._rng is not None:
            duration += self._rng.randrange(self._jitter + 1)
        operation = tc.Opcode(opcode)
        machine = self.machine
        assert machine is not None
        self._pending = machine.scheduler.after(
            duration,
            lambda: self._execute(operation, source, destination, length),
            f"{self.name}.dma {operation.name} descriptor {self._index} {length} bytes",
        )

    def _execute(self, operation: tc.Opcode, source: int, destination: int, length: int) -> None:
        self._pending = None
        source = self._bus_address(source)
        destination = self._bus_address(destination)
        if operation is tc.Opcode.COPY:
            completion = self._copy(source, destination, length)
        elif operation is tc.Opcode.FILL:
            completion = self._fill(source & 0xFF, destination, length)
        else:
            completion = self._compare(source, destination, length)
        self._complete(completion)

    def _copy(self, source: int, destination: int, length: int) -> tc.Completion:
        source_view = self.dma_view(source, length, writing=False)
        if source_view is None:
            return tc.Completion.DATA_ABORT
        destination_view = self.dma_view(destination, length, writing=True)
        if destination_view is None:
            return tc.Completion.DATA_ABORT
        destination_view[:] = source_view
        return tc.Completion.SUCCESS

    def _fill(self, byte: int, destination: int, length: int) -> tc.Completion:
        view = self.dma_view(destination, length, writing=True)
        if view is None:
            return tc.Completion.DATA_ABORT
        pattern = bytes([byte]) * min(length, _FILL_CHUNK)
        for start in range(0, length, _FILL_CHUNK):
            end = min(start + _FILL_CHUNK, length)
            view[start:end] = pattern[: end - start]
        return tc.Completion.SUCCESS

    def _compare(self, first: int, second: int, length: int) -> tc.Completion:
        first_view = self.dma_view(first, length, writing=False)
        if first_view is None:
            return tc.Completion.DATA_ABORT
        second_view = self.dma_view(second, length, writing=False)
        if second_view is None:
            return tc.Completion.DATA_ABORT
        for start in range(0, length, _COMPARE_CHUNK):
            end = min(start + _COMPARE_CHUNK, length)
            if first_view[start:end] != second_view[start:end]:
                offset = next(
                    index for index in range(start, end) if first_view[index] != second_view[index]
                )
                self.registers["MISMATCH_OFFSET"] = offset
                return tc.Completion.MISMATCH
        return tc.Completion.SUCCESS

    def _complete(self, completion: tc.Completion) -> None:
        """Write the descriptor's status back, then go on or stop."""
        status = tc.DESCRIPTOR_DONE | completion
        written = self.dma_write(
            self._bus_address(self._descriptor_address() + tc.DESCRIPTOR_STATUS_OFFSET),
            status.to_bytes(4, "little"),
        )
        if not written:
            self._finish(tc.Completion.DESCRIPTOR_ABORT)
            return
        if completion is not tc.Completion.SUCCESS:
            self._finish(completion)
            return
        self._index += 1
        self.descriptors_completed += 1
        self._start_descriptor()

    def _finish(self, completion: tc.Completion) -> None:
        registers = self.registers
        failed = completion is not tc.Completion.SUCCESS
        registers["COMPLETION_STATUS"] = completion
        registers["COMPLETED_DESCRIPTORS"] = self._index
        registers["ERROR_DESCRIPTOR"] = self._index if failed else 0
        registers["STATUS"] = tc.Status.ERROR if failed else 0
        interrupts = tc.Interrupt.DONE | (tc.Interrupt.ERROR if failed else 0)
        registers["INTERRUPT_STATUS"] = registers["INTERRUPT_STATUS"] | interrupts
        self.lists_completed += 1
        self.trace("done", f"{completion.name} after {self._index} descriptors")
        self._update_interrupt()
