"""A PCI bus segment: its slots, configuration routing, and INTx swizzling.

The root bus hangs off the host bridge; every PCI-to-PCI bridge creates a secondary
bus.  A bus's *number* is not a property of the wiring: the root bus is 0, and a
secondary bus has whatever number the firmware wrote into its bridge's Secondary Bus
Number register (0 at reset, so nothing behind a bridge answers configuration cycles
until the firmware has numbered the buses).

Configuration cycles (``config_read``/``config_write`` with a target bus number)
are routed the way bridges route type 1 cycles: a cycle for this bus's number is a
type 0 cycle to one of its slots; one for a number in a bridge's
[secondary, subordinate] range is forwarded to that bridge's bus; anything else ends
in a master abort (reads return all ones).

Interrupts: a function behind a bridge asserts INTx on the bridge's secondary side;
the bridge presents it on its primary side *swizzled*, pin' = (pin - 1 + device) % 4
+ 1 (PCI-to-PCI Bridge Architecture 1.2, table 9-1), until the root bus, where the
host bridge routes it to an interrupt controller input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.machine.pci import registers as r

if TYPE_CHECKING:
    from kextlab.machine.interrupts import InterruptLine
    from kextlab.machine.pci.bridge import PCIBridge
    from kextlab.machine.pci.function import PCIFunction
    from kextlab.machine.pci.host import PCIHostBridge

DEVICES_PER_BUS = 32
FUNCTIONS_PER_DEVICE = 8


def swizzle(device_number: int, pin: int) -> int:
    """The INTx pin a bridge presents upstream for ``pin`` of device ``device_number``."""
    return (pin - 1 + device_number) % 4 + 1


class PCIBus:
    """One bus segment: up to 32 devices of up to 8 functions."""

    def __init__(self, name: str, host: PCIHostBridge, bridge: PCIBridge | None = None) -> None:
        self.name = name
        self.host = host
        self.bridge = bridge
        self._slots: dict[tuple[int, int], PCIFunction] = {}

    def __repr__(self) -> str:
        return f"<PCIBus {self.name!r} number {self.number}>"

    @property
    def number(self) -> int:
        if self.bridge is None:
            return 0
        return self.bridge.config.get(r.SECONDARY_BUS, 1)

    @property
    def is_root(self) -> bool:
        return self.bridge is None

    # -- slots ------------------------------------------------------------------------------

    def attach(self, function: PCIFunction, device_number: int, function_number: int) -> None:
        """Plug ``function`` in at ``device_number.function_number``."""
        if not 0 <= device_number < DEVICES_PER_BUS:
            raise ValueError(f"slot (device number) must be 0-31, not {device_number}")
        if not 0 <= function_number < FUNCTIONS_PER_DEVICE:
            raise ValueError(f"function number must be 0-7, not {function_number}")
        occupant = self._slots.get((device_number, function_number))
        if occupant is not None:
            raise ValueError(
                f"{device_number:02x}.{function_number} on bus {self.name} is taken by "
                f"{occupant.name}"
            )
        self._slots[device_number, function_number] = function
        function.bus = self
        function.device_number = device_number
        function.function_number = function_number
        function.plugged(self)
        head = self._slots.get((device_number, 0))
        if head is not None and any(
            number != 0 for (device, number) in self._slots if device == device_number
        ):
            head.config.set_bits(r.HEADER_TYPE, 1, r.HEADER_TYPE_MULTI_FUNCTION)

    def function_at(self, device_number: int, function_number: int) -> PCIFunction | None:
        return self._slots.get((device_number, function_number))

    def functions(self) -> list[PCIFunction]:
        """The functions on this bus, in (device, function) order."""
        return [self._slots[key] for key in sorted(self._slots)]

    def bridges(self) -> list[PCIBridge]:
        from kextlab.machine.pci.bridge import PCIBridge

        return [function for function in self.functions() if isinstance(function, PCIBridge)]

    def walk(self) -> list[PCIFunction]:
        """Every function on this bus and behind its bridges, depth first."""
        found: list[PCIFunction] = []
        for function in self.functions():
            found.append(function)
            secondary = getattr(function, "secondary_bus", None)
            if isinstance(secondary, PCIBus):
                found.extend(secondary.walk())
        return found

    # -- configuration cycles -----------------------------------------------------------------

    def _target(
        self, bus_number: int, device_number: int, function_number: int
    ) -> PCIFunction | None:
        if bus_number == self.number:
            device = self._slots.get((device_number, 0))
            if function_number and (
                device is None
                or not device.config.get(r.HEADER_TYPE, 1) & r.HEADER_TYPE_MULTI_FUNCTION
            ):
                return None
            return self._slots.get((device_number, function_number))
        for bridge in self.bridges():
            if bridge.claims_bus(bus_number):
                return bridge.secondary_bus._target(bus_number, device_number, function_number)
        return None

    def config_read(
        self, bus_number: int, device_number: int, function_number: int, offset: int, size: int
    ) -> int:
        function = self._target(bus_number, device_number, function_number)
        if function is None:
            return (1 << (8 * size)) - 1
        return function.config_read(offset, size)

    def config_write(
        self,
        bus_number: int,
        device_number: int,
        function_number: int,
        offset: int,
        size: int,
        value: int,
    ) -> bool:
        """Deliver a configuration write; False when no function claims it."""
        function = self._target(bus_number, device_number, function_number)
        if function is None:
            return False
        function.config_write(offset, size, value)
        return True

    # -- interrupts and bus mastering ----------------------------------------------------------

    def route_interrupt(
        self, source: PCIFunction, device_number: int, pin: int, level: bool
    ) -> None:
        """Carry INTx ``pin`` of the device at ``device_number`` towards the host."""
        self.interrupt_line(device_number, pin).set_level(source.name, level)

    def interrupt_line(self, device_number: int, pin: int) -> InterruptLine:
        """The controller's wire INTx ``pin`` of the device at ``device_number`` drives,
        swizzled by every bridge on the way (functions keep the answer)."""
        if self.bridge is None:
            return self.host.interrupt_line(device_number, pin)
        bridge = self.bridge
        assert bridge.bus is not None
        return bridge.bus.interrupt_line(bridge.device_number, swizzle(device_number, pin))

    def interrupt_input(self, device_number: int, pin: int) -> int:
        """The interrupt controller input that INTx ``pin`` of ``device_number`` reaches."""
        if self.bridge is None:
            return self.host.interrupt_input(device_number, pin)
        bridge = self.bridge
        assert bridge.bus is not None
        return bridge.bus.interrupt_input(bridge.device_number, swizzle(device_number, pin))

    def forwards_bus_master(self) -> bool:
        """True when every bridge between this bus and the host masters upstream."""
        bridge = self.bridge
        while bridge is not None:
            if not bridge.command & r.COMMAND_MASTER:
                return False
            bridge = bridge.bus.bridge if bridge.bus is not None else None
        return True
