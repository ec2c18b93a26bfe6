"""The PCI host bridge: configuration mechanism, address windows and INTx routing.

The host bridge joins the CPU to the root PCI bus (bus 0).  It provides:

* **Configuration Mechanism #1** (PCI 3.0 §3.2.2.3.2): a 32-bit CONFIG_ADDRESS
  register (bit 31 enable, bus 23:16, device 15:11, function 10:8, register 7:2) and
  a CONFIG_DATA window whose four byte lanes reach the addressed dword.  The pair
  answers at I/O ports 0xCF8/0xCFC, as on PCs, and, as on Apple's Grackle and
  UniNorth bridges, at two memory-mapped addresses when the machine gives them.
  Firmware and kernel code may also use ``config_read``/``config_write`` directly:
  the same routing, without the register dance.
* **Address windows**: the CPU ranges it forwards to PCI.  A 32-bit memory window,
  an optional 64-bit prefetchable window (which may lie above 4 GiB), and the PCI I/O
  space, which it both decodes as CPU ports and maps into CPU memory at
  ``io_cpu_base`` (the PowerPC arrangement, described by the ``ranges`` property of
  the firmware's host-bridge node).  PCI memory addresses equal CPU addresses.
* **Decoding**: the flat views of the machine's memory and I/O spaces list every BAR
  that decodes *and* is reachable: inside a host window, and passed by every bridge
  above it.  Configuration writes only mark the views stale; they are rebuilt on the
  next access.
* **INTx routing**: INTA#..INTD# of the device in root-bus slot ``d`` reach interrupt
  controller input ``interrupt_inputs[(d + pin - 1) % 4]``, the same swizzle bridges
  apply, so four inputs serve every slot and lines are shared, as on real boards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kextlab.machine.address_space import AddressSpace, Mapping, MmioRegion
from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bar import BarKind
from kextlab.machine.pci.bridge import PCIBridge
from kextlab.machine.pci.bus import PCIBus

if TYPE_CHECKING:
    from kextlab.machine.guest_errors import GuestErrorLog
    from kextlab.machine.interrupts import InterruptController, InterruptLine
    from kextlab.sim.scheduler import Scheduler


@dataclass(frozen=True)
class AddressWindow:
    """A CPU address range the host bridge forwards: ``[base, base + size)``."""

    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size

    def covers(self, base: int, size: int) -> bool:
        return self.base <= base and base + size <= self.end

    def overlaps(self, other: AddressWindow) -> bool:
        return self.base < other.end and other.base < self.end


@dataclass(frozen=True)
class HostBridgeLayout:
    """Where the host bridge sits in the CPU's address map, and its IRQ routing."""

    memory_window: AddressWindow
    prefetchable_window: AddressWindow | None
    io_cpu_base: int
    io_size: int
    config_address_mmio: int | None
    config_data_mmio: int | None
    interrupt_inputs: tuple[int, int, int, int]

    @property
    def io_window(self) -> AddressWindow:
        """The PCI I/O space as it appears in CPU memory."""
        return AddressWindow(self.io_cpu_base, self.io_size)


class PCIHostBridge:
    """The host-to-PCI bridge and the root bus behind it."""

    name = "pci-host"

    def __init__(
        self,
        layout: HostBridgeLayout,
        *,
        scheduler: Scheduler,
        memory_space: AddressSpace,
        io_space: AddressSpace,
        interrupt_controller: InterruptController,
        guest_errors: GuestErrorLog,
    ) -> None:
        self.layout = layout
        self.scheduler = scheduler
        self.memory_space = memory_space
        self.io_space = io_space
        self.interrupt_controller = interrupt_controller
        self._guest_errors = guest_errors
        self._interrupt_lines: dict[tuple[int, int], InterruptLine] = {}
        self.root_bus = PCIBus("pci", self)
        self.config_address = 0
        self.config_cycles = 0

        address = MmioRegion(
            "pci.config-address",
            4,
            self._read_address,
            self._write_address,
            access_sizes=(4,),
            owner=self.name,
        )
        data = MmioRegion(
            "pci.config-data",
            4,
            self._read_data,
            self._write_data,
            access_sizes=(1, 2, 4),
            owner=self.name,
        )
        io_space.map_fixed(r.CONFIG_ADDRESS_PORT, address)
        io_space.map_fixed(r.CONFIG_DATA_PORT, data)
        if layout.config_address_mmio is not None and layout.config_data_mmio is not None:
            memory_space.map_fixed(layout.config_address_mmio, address)
            memory_space.map_fixed(layout.config_data_mmio, data)
        io_alias = MmioRegion(
            "pci.io-window",
            layout.io_size,
            io_space.read,
            io_space.write,
            access_sizes=(1, 2, 4),
            owner=self.name,
        )
        memory_space.map_fixed(layout.io_cpu_base, io_alias)
        memory_space.set_dynamic_source(self._memory_mappings)
        io_space.set_dynamic_source(self._io_mappings)

    # -- configuration cycles ----------------------------------------------------------------

    def config_read(self, bus: int, device: int, function: int, offset: int, size: int) -> int:
        """A configuration read; all ones when no function answers (master abort)."""
        _check_config_access(offset, size)
        self.config_cycles += 1
        return self.root_bus.config_read(bus, device, function, offset, size)

    def config_write(
        self, bus: int, device: int, function: int, offset: int, size: int, value: int
    ) -> None:
        """A configuration write; dropped when no function answers."""
        _check_config_access(offset, size)
        self.config_cycles += 1
        value &= (1 << (8 * size)) - 1
        claimed = self.root_bus.config_write(bus, device, function, offset, size, value)
        scheduler = self.scheduler
        if scheduler.trace.enabled:
            scheduler.trace_point(
                "pci.config",
                f"write {bus:02x}:{device:02x}.{function} {offset:#04x} size {size} "
                f"value {value:#x}{'' if claimed else ' (master abort)'}",
            )

    def _read_address(self, offset: int, size: int) -> int:
        return self.config_address

    def _write_address(self, offset: int, size: int, value: int) -> None:
        self.config_address = value & 0x80FF_FFFC

    def _decode_address(self, lane: int, size: int, kind: str) -> tuple[int, int, int, int] | None:
        address = self.config_address
        if not address & r.CONFIG_ADDRESS_ENABLE:
            self._guest_errors.report(
                self.name, f"CONFIG_DATA {kind} while CONFIG_ADDRESS has its enable bit clear"
            )
            return None
        return (
            address >> 16 & 0xFF,
            address >> 11 & 0x1F,
            address >> 8 & 0x7,
            (address & 0xFC) + lane,
        )

    def _read_data(self, lane: int, size: int) -> int:
        target = self._decode_address(lane, size, "read")
        if target is None:
            return (1 << (8 * size)) - 1
        return self.config_read(*target, size)

    def _write_data(self, lane: int, size: int, value: int) -> None:
        target = self._decode_address(lane, size, "write")
        if target is not None:
            self.config_write(*target, size, value)

    # -- decoding ------------------------------------------------------------------------------

    def decoding_changed(self) -> None:
        self.memory_space.invalidate()
        self.io_space.invalidate()

    def forwards_memory(self, base: int, size: int, prefetchable: bool) -> bool:
        layout = self.layout
        if layout.memory_window.covers(base, size):
            return True
        window = layout.prefetchable_window
        return window is not None and window.covers(base, size)

    def _memory_mappings(self) -> list[Mapping]:
        return self._collect(self.root_bus, [], io=False)

    def _io_mappings(self) -> list[Mapping]:
        return self._collect(self.root_bus, [], io=True)

    def _collect(self, bus: PCIBus, bridges: list[PCIBridge], *, io: bool) -> list[Mapping]:
        mappings: list[Mapping] = []
        for function in bus.functions():
            for decoded in function.decoded_ranges():
                if (decoded.kind is BarKind.IO) != io:
                    continue
                if io:
                    reachable = decoded.base + decoded.size <= self.layout.io_size
                else:
                    reachable = self.forwards_memory(
                        decoded.base, decoded.size, decoded.prefetchable
                    )
                if reachable and all(
                    bridge.forwards(decoded.kind, decoded.base, decoded.size, decoded.prefetchable)
                    for bridge in bridges
                ):
                    mappings.append(Mapping(decoded.base, decoded.region))
            if isinstance(function, PCIBridge):
                mappings.extend(self._collect(function.secondary_bus, [*bridges, function], io=io))
        return mappings

    # -- interrupts ----------------------------------------------------------------------------

    def interrupt_input(self, device_number: int, pin: int) -> int:
        """The controller input INTx ``pin`` (1-4) of root-bus device ``device_number`` hits."""
        return self.layout.interrupt_inputs[(device_number + pin - 1) % 4]

    def interrupt_line(self, device_number: int, pin: int) -> InterruptLine:
        """The wire INTx ``pin`` of root-bus device ``device_number`` drives (the layout
        is fixed, so each answer is kept: every interrupt a device raises asks again)."""
        key = (device_number, pin)
        line = self._interrupt_lines.get(key)
        if line is None:
            line = self.interrupt_controller.line(self.interrupt_input(device_number, pin))
            self._interrupt_lines[key] = line
        return line


def _check_config_access(offset: int, size: int) -> None:
    if size not in (1, 2, 4) or offset % size or not 0 <= offset <= r.CONFIG_SPACE_SIZE - size:
        raise ValueError(
            f"configuration access of {size} bytes at offset {offset:#x}: accesses are 1, 2 "
            f"or 4 bytes, naturally aligned, within the 256-byte header"
        )
