"""PCI-to-PCI bridges: the type 1 header, bus numbers and forwarding windows.

A bridge connects its primary bus to a secondary bus it owns.  Software programs it
through the type 1 header (PCI-to-PCI Bridge Architecture Specification 1.2):

* Primary, Secondary and Subordinate Bus Number decide which configuration cycles
  it forwards (``claims_bus``);
* three windows decide which memory and I/O cycles it forwards downstream: I/O
  (4 KiB granularity, 16-bit decode here), memory (1 MiB granularity, below 4 GiB)
  and prefetchable memory (1 MiB granularity, 64-bit).  A window whose base is
  above its limit is closed;
* Command.IO and Command.Memory gate the windows, Command.BusMaster gates DMA from the
  secondary side upstream;
* Bridge Control's Secondary Bus Reset resets every function behind the bridge.

A non-prefetchable BAR behind a bridge is reachable only through the memory window; a
prefetchable one through either window, as in the specification.

Chip models built on this class live in ``kextlab.machine.devices`` (the Digital
21154 in ``dec21154``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bar import BarKind
from kextlab.machine.pci.bus import PCIBus
from kextlab.machine.pci.function import PCIFunction


@dataclass(frozen=True)
class Window:
    """An inclusive address range a bridge forwards: ``[base, limit]``."""

    base: int
    limit: int

    def covers(self, base: int, size: int) -> bool:
        return self.base <= base and base + size - 1 <= self.limit

    @property
    def size(self) -> int:
        return self.limit - self.base + 1


class PCIBridge(PCIFunction):
    """A transparent PCI-to-PCI bridge with a type 1 header."""

    header_type = r.HEADER_TYPE_BRIDGE

    def __init__(self, name: str, parameters: Mapping[str, Any]) -> None:
        super().__init__(name, parameters)
        self._secondary_bus: PCIBus | None = None
        config = self.config
        for offset in (r.PRIMARY_BUS, r.SECONDARY_BUS, r.SUBORDINATE_BUS, r.SEC_LATENCY_TIMER):
            config.set_writable(offset, 1, 0xFF)
        config.set(r.IO_BASE, 1, r.IO_RANGE_TYPE_16)
        config.set(r.IO_LIMIT, 1, r.IO_RANGE_TYPE_16)
        config.set_writable(r.IO_BASE, 1, r.IO_RANGE_MASK)
        config.set_writable(r.IO_LIMIT, 1, r.IO_RANGE_MASK)
        config.set_write_1_to_clear(r.SEC_STATUS, 2, r.STATUS_WRITE_1_TO_CLEAR)
        config.set_writable(r.MEMORY_BASE, 2, r.MEMORY_RANGE_MASK)
        config.set_writable(r.MEMORY_LIMIT, 2, r.MEMORY_RANGE_MASK)
        config.set(r.PREF_MEMORY_BASE, 2, r.PREF_RANGE_TYPE_64)
        config.set(r.PREF_MEMORY_LIMIT, 2, r.PREF_RANGE_TYPE_64)
        config.set_writable(r.PREF_MEMORY_BASE, 2, r.MEMORY_RANGE_MASK)
        config.set_writable(r.PREF_MEMORY_LIMIT, 2, r.MEMORY_RANGE_MASK)
        config.set_writable(r.PREF_BASE_UPPER32, 4, 0xFFFF_FFFF)
        config.set_writable(r.PREF_LIMIT_UPPER32, 4, 0xFFFF_FFFF)
        config.set_writable(
            r.BRIDGE_CONTROL,
            2,
            r.BRIDGE_CTL_PARITY
            | r.BRIDGE_CTL_SERR
            | r.BRIDGE_CTL_ISA
            | r.BRIDGE_CTL_VGA
            | r.BRIDGE_CTL_MASTER_ABORT
            | r.BRIDGE_CTL_BUS_RESET
            | r.BRIDGE_CTL_FAST_BACK,
        )

    # -- the secondary bus ---------------------------------------------------------------------

    def plugged(self, bus: PCIBus) -> None:
        super().plugged(bus)
        self._secondary_bus = PCIBus(self.name, bus.host, self)

    @property
    def secondary_bus(self) -> PCIBus:
        if self._secondary_bus is None:
            raise RuntimeError(f"bridge {self.name} is not plugged into a bus")
        return self._secondary_bus

    @property
    def primary_bus_number(self) -> int:
        return self.config.get(r.PRIMARY_BUS, 1)

    @property
    def secondary_bus_number(self) -> int:
        return self.config.get(r.SECONDARY_BUS, 1)

    @property
    def subordinate_bus_number(self) -> int:
        return self.config.get(r.SUBORDINATE_BUS, 1)

    def claims_bus(self, bus_number: int) -> bool:
        """Does a type 1 cycle for ``bus_number`` go through this bridge?"""
        secondary = self.secondary_bus_number
        return secondary != 0 and secondary <= bus_number <= self.subordinate_bus_number

    # -- forwarding windows ----------------------------------------------------------------------

    def io_window(self) -> Window | None:
        """The I/O range forwarded downstream, or None (closed or Command.IO off)."""
        if not self.command & r.COMMAND_IO:
            return None
        config = self.config
        base = (config.get(r.IO_BASE, 1) & r.IO_RANGE_MASK) << 8
        limit = (config.get(r.IO_LIMIT, 1) & r.IO_RANGE_MASK) << 8 | 0xFFF
        return Window(base, limit) if base <= limit else None

    def memory_window(self) -> Window | None:
        if not self.command & r.COMMAND_MEMORY:
            return None
        config = self.config
        base = (config.get(r.MEMORY_BASE, 2) & r.MEMORY_RANGE_MASK) << 16
        limit = (config.get(r.MEMORY_LIMIT, 2) & r.MEMORY_RANGE_MASK) << 16 | 0xFFFFF
        return Window(base, limit) if base <= limit else None

    def prefetchable_window(self) -> Window | None:
        if not self.command & r.COMMAND_MEMORY:
            return None
        config = self.config
        base = (config.get(r.PREF_MEMORY_BASE, 2) & r.MEMORY_RANGE_MASK) << 16
        base |= config.get(r.PREF_BASE_UPPER32, 4) << 32
        limit = (config.get(r.PREF_MEMORY_LIMIT, 2) & r.MEMORY_RANGE_MASK) << 16 | 0xFFFFF
        limit |= config.get(r.PREF_LIMIT_UPPER32, 4) << 32
        return Window(base, limit) if base <= limit else None

    def forwards(self, kind: BarKind, base: int, size: int, prefetchable: bool) -> bool:
        """Would a downstream access to ``[base, base + size)`` pass this bridge?"""
        if kind is BarKind.IO:
            window = self.io_window()
            return window is not None and window.covers(base, size)
        memory = self.memory_window()
        if memory is not None and memory.covers(base, size):
            return True
        prefetch = self.prefetchable_window()
        return prefetchable and prefetch is not None and prefetch.covers(base, size)

    # -- configuration side effects ------------------------------------------------------------

    def config_written(self, offset: int, size: int, command_before: int) -> None:
        super().config_written(offset, size, command_before)
        end = offset + size
        if offset < r.IO_LIMIT_UPPER16 + 2 and end > r.IO_BASE:
            self._decoding_changed()
        if offset < r.BRIDGE_CONTROL + 2 and end > r.BRIDGE_CONTROL:
            self._bridge_control_written()

    def _bridge_control_written(self) -> None:
        if self.config.get(r.BRIDGE_CONTROL, 2) & r.BRIDGE_CTL_BUS_RESET:
            self.trace("bus-reset", f"secondary bus {self.secondary_bus.name} held in reset")
            for function in self.secondary_bus.walk():
                function.reset()

    def reset(self) -> None:
        super().reset()
        config = self.config
        for offset in (r.PRIMARY_BUS, r.SECONDARY_BUS, r.SUBORDINATE_BUS):
            config.set(offset, 1, 0)
        config.set(r.BRIDGE_CONTROL, 2, 0)
