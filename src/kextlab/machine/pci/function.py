"""A PCI function: configuration header, BARs, capabilities, INTx and bus-master DMA.

``PCIFunction`` is the base of every PCI device model (and, through
``kextlab.machine.pci.bridge``, of PCI-to-PCI bridges).  A model sets up its header
in ``__init__`` (identity, BARs, expansion ROM, capabilities, interrupt pin) and
implements its registers as ``MmioRegion`` handlers.  The base class then behaves
like the PCI bus interface of a real chip:

* configuration reads and writes go through ``ConfigSpace`` masks: read-only IDs,
  write-1-to-clear status bits, BAR sizing by writing all ones;
* a write to the Command register or a BAR re-evaluates what the function decodes
  (the host bridge rebuilds its flat view lazily);
* ``set_irq(level)`` drives the function's INTx pin, gated by Command.InterruptDisable
  and mirrored in Status.InterruptStatus, as PCI 2.3 specifies;
* ``dma_view``/``dma_read``/``dma_write`` move data by bus mastering.  With
  Command.BusMaster clear (here, or on any bridge upstream) the transaction does not
  happen: the function records *Received Master Abort* in its Status register and
  the attempt is logged as a guest error.  A transaction to an address that is not
  RAM ends the same way.  The caller gets None/False and must fail the command the
  way its hardware would; nothing raises.

Configuration accesses arrive from the host bridge (``config_read``/``config_write``),
already routed by bus number.  Subclasses that need side effects override
``config_written`` and call super.

Hot paths (every command of a storage controller takes them several times):
``dma_view`` tests Bus Master Enable on the configuration bytes themselves and finds
the RAM region by scanning the machine's few regions, so a transfer costs a few
comparisons and one slice; anything else (master off, a bridge upstream, a range
that is not all RAM of one region) takes the general path with its checks and
reports.  ``set_irq`` remembers the level it last drove onto its INTx wire and, with
tracing off, does not drive the same level again (the wire would not change; only
the trace records every drive, so with tracing on every request is driven); it
keeps the controller's wire its pin reaches, resolved through the bridges once.  Both
read Command and Status from the configuration bytes as they are at the call, so no
configuration write can leave them stale.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kextlab.machine.address_space import MmioRegion
from kextlab.machine.device import DeviceModel
from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bar import BarKind, BarSpec, DecodedRange, ExpansionRom
from kextlab.machine.pci.config import ConfigSpace

if TYPE_CHECKING:
    from kextlab.machine.interrupts import InterruptLine
    from kextlab.machine.machine import Machine
    from kextlab.machine.memory import PhysicalMemory, RamRegion
    from kextlab.machine.pci.bus import PCIBus
    from kextlab.sim.trace import TraceRecorder

#: Bytes covered by each header register, for deciding what a config write touched.
_BAR_REGISTERS = range(r.BASE_ADDRESS_0, r.BASE_ADDRESS_5 + 4)

#: Single configuration bytes the hot paths test: Bus Master Enable lives in the low
#: byte of Command, Interrupt Disable in its high byte, Interrupt Status in the low
#: byte of Status.
_MASTER_BYTE, _MASTER_BIT = r.COMMAND, r.COMMAND_MASTER
_INTX_DISABLE_BYTE, _INTX_DISABLE_BIT = r.COMMAND + 1, r.COMMAND_INTX_DISABLE >> 8
_STATUS_INTERRUPT_BYTE, _STATUS_INTERRUPT_BIT = r.STATUS, r.STATUS_INTERRUPT
assert _MASTER_BIT <= 0xFF
assert r.COMMAND_INTX_DISABLE & 0xFF == 0
assert _STATUS_INTERRUPT_BIT <= 0xFF


class PCIFunction(DeviceModel):
    """A PCI function with a type 0 header (bridges override the header layout)."""

    header_type = r.HEADER_TYPE_NORMAL

    def __init__(self, name: str, parameters: Mapping[str, Any]) -> None:
        super().__init__(name, parameters)
        self.config = ConfigSpace()
        self.bars: dict[int, BarSpec] = {}
        self.rom: ExpansionRom | None = None
        self._rom_region: MmioRegion | None = None
        self.bus: PCIBus | None = None
        self.device_number = 0
        self.function_number = 0
        self._capability_tail: int | None = None
        self._capability_end = r.CAPABILITY_LIST_START
        self._irq_requested = False
        #: The level last driven onto the INTx wire (None: never driven).
        self._line_level: bool | None = None
        #: The interrupt controller's wire INTx reaches, resolved through the bridges
        #: at the first drive; plugging the function in again or changing its pin
        #: forgets it (the topology is fixed otherwise).
        self._intx_line: InterruptLine | None = None
        #: The machine's trace recorder once realized (set_irq consults it).
        self._trace: TraceRecorder | None = None
        self.memory: PhysicalMemory | None = None
        #: The machine's RAM regions, highest first (``dma_view``'s fast path).
        self._ram: tuple[RamRegion, ...] = ()
        self.dma_bytes_read = 0
        self.dma_bytes_written = 0
        self.master_aborts = 0
        self._init_common_header()

    # -- header set-up (device side, from __init__) ---------------------------------------------

    def _init_common_header(self) -> None:
        config = self.config
        config.set(r.HEADER_TYPE, 1, self.header_type)
        config.set_writable(
            r.COMMAND,
            2,
            r.COMMAND_IO
            | r.COMMAND_MEMORY
            | r.COMMAND_MASTER
            | r.COMMAND_PARITY
            | r.COMMAND_SERR
            | r.COMMAND_INTX_DISABLE,
        )
        config.set_write_1_to_clear(r.STATUS, 2, r.STATUS_WRITE_1_TO_CLEAR)
        config.set_writable(r.CACHE_LINE_SIZE, 1, 0xFF)
        config.set_writable(r.LATENCY_TIMER, 1, 0xFF)
        config.set_writable(r.INTERRUPT_LINE, 1, 0xFF)

    def set_identity(
        self,
        *,
        vendor_id: int,
        device_id: int,
        class_code: int,
        revision_id: int = 0,
        subsystem_vendor_id: int = 0,
        subsystem_id: int = 0,
    ) -> None:
        """Set the read-only identity registers (class code = base<<16 | sub<<8 | prog-if)."""
        config = self.config
        config.set(r.VENDOR_ID, 2, vendor_id)
        config.set(r.DEVICE_ID, 2, device_id)
        config.set(r.REVISION_ID, 1, revision_id)
        config.set(r.CLASS_PROG, 3, class_code)
        if self.header_type == r.HEADER_TYPE_NORMAL:
            config.set(r.SUBSYSTEM_VENDOR_ID, 2, subsystem_vendor_id)
            config.set(r.SUBSYSTEM_ID, 2, subsystem_id)

    def set_status_capabilities(
        self, *, devsel: int = r.DEVSEL_MEDIUM, fast_back_to_back: bool = False, mhz66: bool = False
    ) -> None:
        """The read-only timing bits of the Status register."""
        status = devsel << r.STATUS_DEVSEL_SHIFT
        if fast_back_to_back:
            status |= r.STATUS_FAST_BACK
        if mhz66:
            status |= r.STATUS_66MHZ
        self.config.set_bits(r.STATUS, 2, status)

    def set_interrupt_pin(self, pin: int) -> None:
        """INTA#..INTD# (1-4), or 0 for a function without an interrupt."""
        if not 0 <= pin <= 4:
            raise ValueError(f"{self.name}: interrupt pin must be 0-4, not {pin}")
        self.config.set(r.INTERRUPT_PIN, 1, pin)
        self._intx_line = None

    def set_grant_latency(self, min_grant: int, max_latency: int) -> None:
        self.config.set(r.MIN_GNT, 1, min_grant)
        self.config.set(r.MAX_LAT, 1, max_latency)

    def add_bar(
        self,
        index: int,
        kind: BarKind,
        size: int,
        region: MmioRegion,
        *,
        prefetchable: bool = False,
    ) -> BarSpec:
        """Declare BAR ``index``; a 64-bit BAR also takes register ``index + 1``."""
        spec = BarSpec(index, kind, size, region, prefetchable)
        taken = set(self.bars) | {bar.index + 1 for bar in self.bars.values() if bar.is_64bit}
        wanted = {index, index + 1} if spec.is_64bit else {index}
        if taken & wanted or (
            self.bars.get(index - 1) is not None and self.bars[index - 1].is_64bit
        ):
            raise ValueError(f"{self.name}: BAR register {index} is already in use")
        self.bars[index] = spec
        width = 8 if spec.is_64bit else 4
        self.config.set(spec.offset, width, spec.type_bits)
        self.config.set_writable(spec.offset, width, spec.address_mask)
        return spec

    def set_expansion_rom(self, rom: ExpansionRom) -> None:
        self.rom = rom
        self._rom_region = rom.region(f"{self.name}.rom", self.name)
        self.config.set_writable(self.rom_register, 4, rom.address_mask | r.ROM_ENABLE)

    @property
    def rom_register(self) -> int:
        return r.ROM_ADDRESS if self.header_type == r.HEADER_TYPE_NORMAL else r.ROM_ADDRESS1

    def add_capability(self, capability_id: int, length: int) -> int:
        """Append a capability of ``length`` bytes to the list; returns its offset.

        The ID and next-pointer bytes are read-only; the model sets its own masks
        for the body.
        """
        if length < 2:
            raise ValueError("a capability is at least 2 bytes (ID and next pointer)")
        offset = (self._capability_end + 3) & ~3
        if offset + length > r.CONFIG_SPACE_SIZE:
            raise ValueError(f"{self.name}: no room for a {length}-byte capability")
        config = self.config
        config.set(offset, 1, capability_id)
        config.set(offset + 1, 1, 0)
        if self._capability_tail is None:
            config.set(r.CAPABILITY_LIST, 1, offset)
            config.set_bits(r.STATUS, 2, r.STATUS_CAP_LIST)
        else:
            config.set(self._capability_tail + 1, 1, offset)
        self._capability_tail = offset
        self._capability_end = offset + length
        return offset

    def capabilities(self) -> Iterator[tuple[int, int]]:
        """(ID, offset) of each capability, walking the list as software does."""
        if not self.config.get(r.STATUS, 2) & r.STATUS_CAP_LIST:
            return
        offset = self.config.get(r.CAPABILITY_LIST, 1) & ~3
        seen: set[int] = set()
        while offset and offset not in seen:
            seen.add(offset)
            yield self.config.get(offset, 1), offset
            offset = self.config.get(offset + 1, 1) & ~3

    # -- identity (read back from the header) ----------------------------------------------

    @property
    def vendor_id(self) -> int:
        return self.config.get(r.VENDOR_ID, 2)

    @property
    def device_id(self) -> int:
        return self.config.get(r.DEVICE_ID, 2)

    @property
    def class_code(self) -> int:
        return self.config.get(r.CLASS_PROG, 3)

    @property
    def interrupt_pin(self) -> int:
        return self.config.get(r.INTERRUPT_PIN, 1)

    @property
    def command(self) -> int:
        return self.config.get(r.COMMAND, 2)

    @property
    def status(self) -> int:
        return self.config.get(r.STATUS, 2)

    @property
    def location(self) -> str:
        """``bb:dd.f`` with the bus number the firmware assigned."""
        bus = self.bus.number if self.bus is not None else 0
        return f"{bus:02x}:{self.device_number:02x}.{self.function_number}"

    def plugged(self, bus: PCIBus) -> None:
        """Called once the function sits on ``bus``; bridges create their secondary bus."""
        self._intx_line = None

    # -- configuration cycles (from the host bridge) ---------------------------------------

    def config_read(self, offset: int, size: int) -> int:
        return self.config.read(offset, size)

    def config_write(self, offset: int, size: int, value: int) -> None:
        before = self.command
        self.config.write(offset, size, value)
        self.config_written(offset, size, before)

    def config_written(self, offset: int, size: int, command_before: int) -> None:
        """React to a configuration write; subclasses extend and call super."""
        end = offset + size
        command = self.command
        if offset < r.COMMAND + 2 and end > r.COMMAND:
            if (command ^ command_before) & r.COMMAND_INTX_DISABLE:
                self._drive_interrupt_line()
            if (command ^ command_before) & (r.COMMAND_IO | r.COMMAND_MEMORY | r.COMMAND_MASTER):
                self._decoding_changed()
        elif self._touches_address_registers(offset, end):
            self._decoding_changed()

    def _touches_address_registers(self, offset: int, end: int) -> bool:
        rom = self.rom_register
        return (offset < _BAR_REGISTERS.stop and end > _BAR_REGISTERS.start) or (
            offset < rom + 4 and end > rom
        )

    def _decoding_changed(self) -> None:
        if self.bus is not None:
            self.bus.host.decoding_changed()

    # -- decoding ------------------------------------------------------------------------------

    def bar_address(self, spec: BarSpec) -> int:
        """The address programmed into a BAR (whether or not it decodes)."""
        offset = spec.offset
        if spec.is_64bit:
            return int.from_bytes(self.config.data[offset : offset + 8], "little") & ~0xF
        mask = r.BAR_IO_ADDRESS_MASK if spec.is_io else r.BAR_MEM_ADDRESS_MASK
        return int.from_bytes(self.config.data[offset : offset + 4], "little") & mask

    def rom_address(self) -> int:
        return self.config.get(self.rom_register, 4) & r.ROM_ADDRESS_MASK

    def decoded_ranges(self) -> list[DecodedRange]:
        """The ranges this function decodes now (its own Command bits applied)."""
        command = self.command
        ranges: list[DecodedRange] = []
        for spec in self.bars.values():
            enabled = command & (r.COMMAND_IO if spec.is_io else r.COMMAND_MEMORY)
            base = self.bar_address(spec)
            if enabled and base:
                ranges.append(
                    DecodedRange(
                        spec.kind, base, spec.size, spec.region, spec.prefetchable, spec.offset
                    )
                )
        rom_register = self.config.get(self.rom_register, 4)
        if (
            self.rom is not None
            and self._rom_region is not None
            and command & r.COMMAND_MEMORY
            and rom_register & r.ROM_ENABLE
            and self.rom_address()
        ):
            ranges.append(
                DecodedRange(
                    BarKind.MEMORY32,
                    self.rom_address(),
                    self.rom.size,
                    self._rom_region,
                    False,
                    self.rom_register,
                )
            )
        return ranges

    # -- interrupts ------------------------------------------------------------------------------

    def set_irq(self, asserted: bool) -> None:
        """The device requests (or withdraws) an interrupt on its INTx pin."""
        data = self.config.data
        level = asserted and not data[_INTX_DISABLE_BYTE] & _INTX_DISABLE_BIT
        trace = self._trace
        # With tracing off, driving the level the wire already carries from us changes
        # nothing (only the trace records every drive).
        wire_unchanged = level is self._line_level and trace is not None and not trace.enabled
        if wire_unchanged and asserted is self._irq_requested:
            # The same request again: only this method writes Status.InterruptStatus,
            # so the bit is right already, and nothing at all would change.
            return
        self._irq_requested = asserted
        if asserted:
            data[_STATUS_INTERRUPT_BYTE] |= _STATUS_INTERRUPT_BIT
        else:
            data[_STATUS_INTERRUPT_BYTE] &= ~_STATUS_INTERRUPT_BIT & 0xFF
        line = self._intx_line
        if line is None:
            self._drive_interrupt_line()  # resolves the line (or finds no pin or bus)
        elif not wire_unchanged:  # _drive_interrupt_line, inlined
            self._line_level = level
            line.set_level(self.name, level)

    @property
    def irq_requested(self) -> bool:
        return self._irq_requested

    def _drive_interrupt_line(self) -> None:
        data = self.config.data
        pin = data[r.INTERRUPT_PIN]
        bus = self.bus
        if pin == 0 or bus is None:
            return
        level = bool(self._irq_requested) and not data[_INTX_DISABLE_BYTE] & _INTX_DISABLE_BIT
        trace = self._trace
        if level is self._line_level and trace is not None and not trace.enabled:
            return  # the wire already carries this level from us: nothing would change
        self._line_level = level
        line = self._intx_line
        if line is None:
            line = self._intx_line = bus.interrupt_line(self.device_number, pin)
        line.set_level(self.name, level)

    # -- bus mastering (DMA) ----------------------------------------------------------------------

    def realize(self, machine: Machine) -> None:
        super().realize(machine)
        self.memory = machine.memory
        self._ram = tuple(sorted(machine.memory.regions, key=lambda region: -region.base))
        self._trace = machine.scheduler.trace

    def bus_master_enabled(self) -> bool:
        """Command.BusMaster here and on every bridge between us and the host."""
        if not self.config.data[_MASTER_BYTE] & _MASTER_BIT:
            return False
        bus = self.bus
        return bus is None or bus.bridge is None or bus.forwards_bus_master()

    def dma_view(self, address: int, length: int, *, writing: bool) -> memoryview | None:
        """A view of RAM for a bus-master transfer, or None after a master abort."""
        bus = self.bus
        if self.config.data[_MASTER_BYTE] & _MASTER_BIT and (bus is None or bus.bridge is None):
            # No bridge upstream could refuse to master: a transfer inside one RAM
            # region is the whole story (a machine has a few regions; scan them).
            for region in self._ram:
                end = region.end
                if region.base <= address < end and 0 <= length <= end - address:
                    if writing:
                        self.dma_bytes_written += length
                    else:
                        self.dma_bytes_read += length
                    offset = address - region.base
                    return region.view[offset : offset + length]
        return self._dma_view_checked(address, length, writing)

    def _dma_view_checked(self, address: int, length: int, writing: bool) -> memoryview | None:
        """``dma_view`` the long way: every check, master aborts reported."""
        kind = "write" if writing else "read"
        if not self.bus_master_enabled():
            self._master_abort(
                f"DMA {kind} of {length} bytes at {address:#x} refused: Bus Master Enable is off"
            )
            return None
        memory = self.memory
        view = memory.view(address, length) if memory is not None else None
        if view is None:
            self._master_abort(
                f"DMA {kind} of {length} bytes at {address:#x}: no RAM answers (master abort)"
            )
            return None
        if writing:
            self.dma_bytes_written += length
        else:
            self.dma_bytes_read += length
        return view

    def dma_read(self, address: int, length: int) -> bytes | None:
        view = self.dma_view(address, length, writing=False)
        return None if view is None else bytes(view)

    def dma_write(self, address: int, data: bytes | bytearray | memoryview) -> bool:
        view = self.dma_view(address, len(data), writing=True)
        if view is None:
            return False
        view[:] = data
        return True

    def _master_abort(self, message: str) -> None:
        self.master_aborts += 1
        self.config.set_bits(r.STATUS, 2, r.STATUS_REC_MASTER_ABORT)
        self.guest_error(message)

    # -- channels ---------------------------------------------------------------------------------

    def guest_error(self, message: str) -> None:
        if self.machine is not None:
            self.machine.guest_errors.report(self.name, message)

    def unimplemented(self, message: str) -> None:
        if self.machine is not None:
            self.machine.guest_errors.unimplemented(self.name, message)

    def trace(self, category: str, message: str) -> None:
        machine = self.machine
        if machine is not None and machine.scheduler.trace.enabled:
            machine.scheduler.trace_point(f"{self.name}.{category}", message)

    def reset(self) -> None:
        """Power-on state of the PCI interface: decoding, mastering and INTx off."""
        self.config.set(r.COMMAND, 2, 0)
        self.config.clear_bits(r.STATUS, 2, r.STATUS_WRITE_1_TO_CLEAR)
        for spec in self.bars.values():
            width = 8 if spec.is_64bit else 4
            self.config.set(spec.offset, width, spec.type_bits)
        if self.rom is not None:
            self.config.set(self.rom_register, 4, 0)
        self.config.set(r.INTERRUPT_LINE, 1, 0)
        self.set_irq(False)
        self._decoding_changed()
