"""Machines and helpers shared by the firmware tests.

The machine texts are small TOML descriptions built for one property each (a
Blue & White G3-like bus, nested bridges, a tiny memory window...).  The helpers
read what the firmware left behind the way a driver or kernel would: BARs and
bridge registers through configuration cycles, interrupts by walking the tree's
``interrupt-map`` properties (IEEE 1275 interrupt mapping, as Linux's
``of_irq_parse_raw`` does), independently of the firmware's own bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode
from kextlab.machine.machine import Machine
from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bar import BarKind
from kextlab.machine.pci.function import PCIFunction
from kextlab.testing.kernel import default_machine_variant


def _default_machine_text() -> str:
    """The default machine's description with the media it ships with named by
    absolute path (its CD), so the fixture can build it from text anywhere."""
    with TemporaryDirectory() as folder:
        return default_machine_variant(Path(folder), "default", {}).read_text("utf-8")


#: The embedded default machine's description, to build it through the same fixture.
DEFAULT_MACHINE = _default_machine_text()

# A Power Mac G3 Blue & White in miniature: everything below 4 GiB, a DEC 21154 in
# root slot 13 and, behind it, a card in slot 5 of bus 1 (where mac-io sits in
# shared/data/oftrees/oftree.nw).
BW_G3_LIKE = """
[machine]
model = "PowerMac1,1"
arch = "ppc"
[memory]
size = "512M"
[pci]
memory_window = { base = 0x80000000, size = "256M" }
io_window = { cpu_base = 0xF2000000, size = "64K" }
[[device]]
name = "bridge"
model = "dec21154"
slot = 13
[[device]]
name = "macio"
model = "testcard"
bus = "bridge"
slot = 5
"""

# Two levels of bridges, an empty bridge, and a two-function card on the root bus.
NESTED_BRIDGES = """
[memory]
size = "1G"
[pci]
memory_window = { base = 0x80000000, size = "256M" }
prefetchable_window = { base = 0x1000000000, size = "1G" }
io_window = { cpu_base = 0xF2000000, size = "64K" }
[[device]]
name = "outer"
model = "dec21154"
slot = 1
[[device]]
name = "inner"
model = "dec21154"
bus = "outer"
slot = 4
[[device]]
name = "deep"
model = "testcard"
bus = "inner"
slot = 3
[device.params]
interrupt_pin = 2
[[device]]
name = "beside"
model = "testcard"
bus = "outer"
slot = 2
[[device]]
name = "empty"
model = "dec21154"
slot = 3
[[device]]
name = "card"
model = "testcard"
slot = 7
[[device]]
name = "card1"
model = "testcard"
slot = 7
function = 1
[device.params]
interrupt_pin = 3
"""

# The nested layout without a prefetchable window: every BAR in the 32-bit window.
NO_PREFETCHABLE_WINDOW = """
[memory]
size = "1G"
[pci]
memory_window = { base = 0x80000000, size = "256M" }
io_window = { cpu_base = 0xF2000000, size = "64K" }
[[device]]
name = "bridge"
model = "dec21154"
slot = 13
[[device]]
name = "behind"
model = "testcard"
bus = "bridge"
slot = 1
[device.params]
sram_size = "1M"
[[device]]
name = "root"
model = "testcard"
slot = 2
"""


@dataclass(frozen=True)
class Assignment:
    """One BAR (or ROM BAR) of a function, with the address the firmware programmed."""

    function: PCIFunction
    register: int
    kind: BarKind
    size: int
    prefetchable: bool
    address: int

    @property
    def end(self) -> int:
        return self.address + self.size


def config_address(function: PCIFunction) -> tuple[int, int, int]:
    """(bus, device, function) of a machine's function, as configuration cycles see it."""
    assert function.bus is not None
    return function.bus.number, function.device_number, function.function_number


def read_config(machine: Machine, function: PCIFunction, offset: int, size: int) -> int:
    return machine.config_read(*config_address(function), offset, size)


def assignments(machine: Machine, function: PCIFunction) -> list[Assignment]:
    """Every BAR the device implements, with its address read back by config cycles."""
    found = []
    for spec in function.bars.values():
        if spec.is_64bit:
            low = read_config(machine, function, spec.offset, 4)
            high = read_config(machine, function, spec.offset + 4, 4)
            address = (high << 32 | low) & ~0xF
        elif spec.is_io:
            address = read_config(machine, function, spec.offset, 4) & r.BAR_IO_ADDRESS_MASK
        else:
            address = read_config(machine, function, spec.offset, 4) & r.BAR_MEM_ADDRESS_MASK
        found.append(
            Assignment(function, spec.offset, spec.kind, spec.size, spec.prefetchable, address)
        )
    if function.rom is not None:
        register = function.rom_register
        address = read_config(machine, function, register, 4) & r.ROM_ADDRESS_MASK
        found.append(
            Assignment(function, register, BarKind.MEMORY32, function.rom.size, False, address)
        )
    return found


def interrupt_parent(tree: DeviceTree, node: DeviceTreeNode) -> DeviceTreeNode:
    phandle = node.get_int("interrupt-parent")
    if phandle is not None:
        parent = tree.by_phandle(phandle)
        assert parent is not None, f"{node.path}: interrupt-parent {phandle:#x} names no node"
        return parent
    assert node.parent is not None
    return node.parent


def resolve_interrupt(tree: DeviceTree, node: DeviceTreeNode) -> tuple[DeviceTreeNode, list[int]]:
    """Follow ``interrupt-map`` from ``node`` up to an interrupt controller.

    Returns the controller node and the interrupt specifier it receives.  Cell
    counts come from the tree (``#address-cells`` of each map's node for the child
    unit address, 0 when an interrupt parent has none, ``#interrupt-cells`` for the
    specifiers), exactly as an OS walks it.
    """
    specifier = node.get_cells("interrupts")
    reg = node.get_cells("reg")
    assert specifier is not None, f"{node.path} has no interrupts property"
    parent = interrupt_parent(tree, node)
    address = (reg or [])[: parent.get_int("#address-cells") or 0]
    for _ in range(16):
        if parent.has_property("interrupt-controller"):
            return parent, specifier
        imap = parent.get_cells("interrupt-map")
        mask = parent.get_cells("interrupt-map-mask")
        assert imap is not None, f"{parent.path} has no interrupt-map"
        assert mask is not None, f"{parent.path} has no interrupt-map-mask"
        address_cells = parent.get_int("#address-cells") or 0
        interrupt_cells = parent.get_int("#interrupt-cells")
        assert interrupt_cells is not None
        key = [cell & bits for cell, bits in zip(address + specifier, mask, strict=True)]
        index = 0
        match = None
        while index < len(imap):
            child = imap[index : index + address_cells + interrupt_cells]
            index += address_cells + interrupt_cells
            target = tree.by_phandle(imap[index])
            assert target is not None, (
                f"{parent.path}: interrupt-map names phandle {imap[index]:#x}"
            )
            index += 1
            target_address_cells = target.get_int("#address-cells") or 0
            target_interrupt_cells = target.get_int("#interrupt-cells")
            assert target_interrupt_cells is not None
            unit = imap[index : index + target_address_cells]
            index += target_address_cells
            target_specifier = imap[index : index + target_interrupt_cells]
            index += target_interrupt_cells
            if (
                match is None
                and [cell & bits for cell, bits in zip(child, mask, strict=True)] == key
            ):
                match = (target, unit, target_specifier)
        assert match is not None, f"{parent.path}: no interrupt-map entry for {key}"
        parent, address, specifier = match
    raise AssertionError("interrupt tree does not reach a controller in 16 steps")


def ranges_entries(node: DeviceTreeNode) -> list[list[int]]:
    """``ranges`` split into entries of (child + parent address + size) cells."""
    assert node.parent is not None
    width = node.address_cells() + node.parent.address_cells() + node.size_cells()
    cells = node.get_cells("ranges")
    assert cells is not None, f"{node.path} has no ranges"
    assert len(cells) % width == 0, f"{node.path}: {len(cells)} cells, entries of {width}"
    return [cells[start : start + width] for start in range(0, len(cells), width)]
