"""PCI nodes of the device tree, per the PCI Bus Binding to IEEE 1275.

See ``shared/spec/open-firmware.md`` §1.  For every probed function this builds a
node named and unit-addressed as the binding says, with the properties a node gets
from its configuration header, and for the host bridge and each PCI-to-PCI bridge
the bus properties (``#address-cells``, ``ranges``, ``bus-range``,
``interrupt-map``...).

Addresses are three cells, ``phys.hi phys.mid phys.lo``::

    phys.hi = n p t 0 0 0 s s | bus (8) | device (5) function (3) | register (8)

``reg`` lists the config-space entry first (register 0, size 0), then one
*relocatable* entry (n = 0, address 0) per BAR with its size; ``assigned-addresses``
lists what the firmware assigned, *not relocatable* (n = 1) with the real address.
(OpenBIOS leaves n clear in ``assigned-addresses``; Apple, Sun and IOPCIFamily set
it, and so do we.)

Naming policy (the binding leaves a choice; this is Apple's): a chip in
``pci_database`` gets its table entry; a PCI-to-PCI bridge is ``pci-bridge`` with
``device_type "pci"``; anything else without FCode is named after its subsystem IDs
when the subsystem vendor is non-zero, else after its vendor and device IDs
(``pciSSSS,ssss`` / ``pciVVVV,DDDD``: Apple Technical Q&A HW39).  ``compatible`` is
the binding's full list (revision 2.1), most specific first: ``pciVVVV,DDDD.SSSS.ssss.RR``,
``pciVVVV,DDDD.SSSS.ssss``, ``pciSSSS,ssss`` (those three only with a subsystem
vendor), ``pciVVVV,DDDD.RR``, ``pciVVVV,DDDD``, ``pciclass,CCSSPP``, ``pciclass,CCSS``:
hex without leading zeros, the class forms zero-padded.

Interrupts follow the NewWorld convention: ``interrupts`` holds the pin (1 = INTA#);
each bus node's ``interrupt-map`` translates (child unit address, pin) to its parent's
domain: a bridge's to its parent bus with the swizzled pin, the host bridge's to the
interrupt controller input with sense 1 (level).
"""

from __future__ import annotations

from collections.abc import Iterable

from kextlab.firmware.devicetree import DeviceTreeNode
from kextlab.firmware.devicetree import unit_address as cells_unit_address
from kextlab.firmware.pci_database import known_device
from kextlab.firmware.pci_probe import (
    SPACE_IO,
    SPACE_MEMORY,
    SPACE_PREFETCHABLE,
    ProbedBar,
    ProbedFunction,
    Window,
)
from kextlab.firmware.standard_nodes import encode_number
from kextlab.machine.pci import registers as r
from kextlab.machine.pci.bus import swizzle
from kextlab.machine.pci.host import HostBridgeLayout

PHYS_NOT_RELOCATABLE = 0x8000_0000
PHYS_PREFETCHABLE = 0x4000_0000
SPACE_CODE_CONFIG = 0
SPACE_CODE_IO = 1
SPACE_CODE_MEMORY32 = 2
SPACE_CODE_MEMORY64 = 3
INTERRUPT_MAP_MASK = (0xF800, 0, 0, 7)  # device number and pin
SENSE_LEVEL = 1
PCI_CLOCK_FREQUENCY = 33_333_333


# -- addresses -------------------------------------------------------------------------------


def unit_address(device: int, function: int) -> str:
    """The node's unit address: ``DD`` or ``DD,F`` in lower-case hex."""
    return f"{device:x},{function:x}" if function else f"{device:x}"


def space_code(bar: ProbedBar) -> int:
    if bar.io:
        return SPACE_CODE_IO
    return SPACE_CODE_MEMORY64 if bar.is_64bit else SPACE_CODE_MEMORY32


def bar_phys_hi(function: ProbedFunction, bar: ProbedBar, *, assigned: bool) -> int:
    value = space_code(bar) << 24 | function.phys_hi | bar.register
    if bar.prefetchable:
        value |= PHYS_PREFETCHABLE
    if assigned:
        value |= PHYS_NOT_RELOCATABLE
    return value


def split64(value: int) -> tuple[int, int]:
    return value >> 32 & 0xFFFF_FFFF, value & 0xFFFF_FFFF


def reg_cells(function: ProbedFunction) -> list[int]:
    cells = [function.phys_hi, 0, 0, 0, 0]
    for bar in function.bars:
        cells += [bar_phys_hi(function, bar, assigned=False), 0, 0, *split64(bar.size)]
    return cells


def assigned_address_cells(function: ProbedFunction) -> list[int]:
    cells: list[int] = []
    for bar in function.bars:
        if bar.address is not None:
            cells += [
                bar_phys_hi(function, bar, assigned=True),
                *split64(bar.address),
                *split64(bar.size),
            ]
    return cells


# -- names ------------------------------------------------------------------------------------


def node_name(function: ProbedFunction) -> str:
    known = known_device(function.vendor_id, function.device_id)
    if known is not None:
        return known.name
    if function.class_code >> 8 == r.CLASS_BRIDGE_PCI:
        return "pci-bridge"
    if function.subsystem_vendor_id:
        return f"pci{function.subsystem_vendor_id:x},{function.subsystem_id:x}"
    return f"pci{function.vendor_id:x},{function.device_id:x}"


def compatible_list(function: ProbedFunction) -> list[str]:
    known = known_device(function.vendor_id, function.device_id)
    if known is not None:
        return list(known.compatible)
    vendor, device = function.vendor_id, function.device_id
    revision = function.revision_id
    names = []
    if function.subsystem_vendor_id:
        subsystem = f"{function.subsystem_vendor_id:x}.{function.subsystem_id:x}"
        names += [
            f"pci{vendor:x},{device:x}.{subsystem}.{revision:x}",
            f"pci{vendor:x},{device:x}.{subsystem}",
            f"pci{function.subsystem_vendor_id:x},{function.subsystem_id:x}",
        ]
    names += [
        f"pci{vendor:x},{device:x}.{revision:x}",
        f"pci{vendor:x},{device:x}",
        f"pciclass,{function.class_code:06x}",
        f"pciclass,{function.class_code >> 8:04x}",
    ]
    return names


# -- nodes --------------------------------------------------------------------------------------


def add_function_node(
    parent: DeviceTreeNode, function: ProbedFunction, nodes: dict[str, DeviceTreeNode]
) -> DeviceTreeNode:
    """The node for ``function`` and, for a bridge, the nodes behind it.

    ``nodes`` collects every node made, by the function's ``bb:dd.f`` location.
    """
    node = parent.add_child(node_name(function), unit_address(function.device, function.function))
    nodes[function.location] = node
    known = known_device(function.vendor_id, function.device_id)
    is_bridge = function.is_bridge
    device_type = known.device_type if known is not None else ("pci" if is_bridge else None)
    if device_type is not None:
        node.set_string("device_type", device_type)
    if known is not None and known.model is not None:
        node.set_string("model", known.model)
    node.set_strings("compatible", compatible_list(function))
    node.set_int("vendor-id", function.vendor_id)
    node.set_int("device-id", function.device_id)
    node.set_int("revision-id", function.revision_id)
    node.set_int("class-code", function.class_code)
    if function.subsystem_vendor_id:
        node.set_int("subsystem-vendor-id", function.subsystem_vendor_id)
    if function.subsystem_id:
        node.set_int("subsystem-id", function.subsystem_id)
    if function.interrupt_pin:
        node.set_int("interrupts", function.interrupt_pin)
    if not is_bridge:
        node.set_int("min-grant", function.min_grant)
        node.set_int("max-latency", function.max_latency)
    node.set_int("devsel-speed", (function.status & r.STATUS_DEVSEL_MASK) >> r.STATUS_DEVSEL_SHIFT)
    if function.status & r.STATUS_FAST_BACK:
        node.set_boolean("fast-back-to-back")
    if function.status & r.STATUS_66MHZ:
        node.set_boolean("66mhz-capable")
    if function.status & r.STATUS_UDF:
        node.set_boolean("udf-supported")
    if function.cache_line_size:
        node.set_int("cache-line-size", function.cache_line_size)
    node.set_cells("reg", reg_cells(function))
    assigned = assigned_address_cells(function)
    if assigned:
        node.set_cells("assigned-addresses", assigned)
    if is_bridge:
        add_bus_properties(node)
        node.set_cells("bus-range", [function.secondary_bus, function.subordinate_bus])
        ranges = bridge_ranges(function)
        if ranges:  # an empty ranges would mean "maps everything 1:1" (IEEE 1275)
            node.set_cells("ranges", ranges)
        for child in function.children:
            add_function_node(node, child, nodes)
    return node


def add_bus_properties(node: DeviceTreeNode) -> None:
    """What every PCI bus node carries: cell sizes and its interrupt domain."""
    node.set_int("#address-cells", 3)
    node.set_int("#size-cells", 2)
    node.set_int("#interrupt-cells", 1)


def bridge_ranges(bridge: ProbedFunction) -> list[int]:
    """A bridge's ``ranges``: each open window, mapped 1:1 (child 3, parent 3, size 2)."""
    codes = {
        SPACE_IO: PHYS_NOT_RELOCATABLE | SPACE_CODE_IO << 24,
        SPACE_MEMORY: PHYS_NOT_RELOCATABLE | SPACE_CODE_MEMORY32 << 24,
        SPACE_PREFETCHABLE: PHYS_NOT_RELOCATABLE | PHYS_PREFETCHABLE | SPACE_CODE_MEMORY64 << 24,
    }
    cells: list[int] = []
    for space in (SPACE_MEMORY, SPACE_PREFETCHABLE, SPACE_IO):
        window: Window | None = bridge.windows.get(space)
        if window is not None:
            address = [codes[space], *split64(window.base)]
            cells += [*address, *address, *split64(window.size)]
    return cells


def map_entries(functions: Iterable[ProbedFunction]) -> list[tuple[int, int, int]]:
    """(child phys.hi, device, pin) for every interrupt a bus node must translate.

    Endpoints contribute their own pin; a bridge contributes all four, since the
    functions behind it can arrive on any of them after swizzling.
    """
    seen: dict[tuple[int, int], tuple[int, int, int]] = {}
    for function in functions:
        pins = (
            range(1, 5)
            if function.is_bridge
            else ([function.interrupt_pin] if function.interrupt_pin else [])
        )
        for pin in pins:
            key = (function.device, pin)
            if key not in seen:
                seen[key] = (function.device << 11, function.device, pin)
    return [seen[key] for key in sorted(seen)]


def bridge_interrupt_map(bridge: ProbedFunction, parent_phandle: int) -> list[int]:
    """A bridge maps (child, pin) to its own unit address upstream, pin swizzled.

    The child unit addresses are stored already masked by ``interrupt-map-mask``
    (device number only, no bus number), as on a real NewWorld bridge: xnu's
    ``IODTMapOneInterrupt`` masks the child's address and compares it with the
    entry as it stands."""
    cells: list[int] = []
    for phys_hi, device, pin in map_entries(bridge.children):
        cells += [
            phys_hi,
            0,
            0,
            pin,
            parent_phandle,
            bridge.phys_hi,
            0,
            0,
            swizzle(device, pin),
        ]
    return cells


def host_interrupt_map(
    functions: Iterable[ProbedFunction], inputs: tuple[int, int, int, int], controller_phandle: int
) -> list[int]:
    """The host bridge maps (root-bus child, pin) to an interrupt controller input."""
    cells: list[int] = []
    for phys_hi, device, pin in map_entries(functions):
        cells += [
            phys_hi,
            0,
            0,
            pin,
            controller_phandle,
            inputs[(device + pin - 1) % 4],
            SENSE_LEVEL,
        ]
    return cells


def host_ranges(layout: HostBridgeLayout, cells: int) -> list[int]:
    """The host bridge's ``ranges``: PCI I/O, 32-bit memory, 64-bit prefetchable memory."""
    entries = [
        ([SPACE_CODE_IO << 24, 0, 0], layout.io_cpu_base, layout.io_size),
        (
            [SPACE_CODE_MEMORY32 << 24, *split64(layout.memory_window.base)],
            layout.memory_window.base,
            layout.memory_window.size,
        ),
    ]
    window = layout.prefetchable_window
    if window is not None:
        entries.append(
            (
                [PHYS_PREFETCHABLE | SPACE_CODE_MEMORY64 << 24, *split64(window.base)],
                window.base,
                window.size,
            )
        )
    result: list[int] = []
    for child, parent, size in entries:
        result += [*child, *encode_number(parent, cells), *split64(size)]
    return result


def add_host_bridge(
    root: DeviceTreeNode,
    layout: HostBridgeLayout,
    cells: int,
    functions: list[ProbedFunction],
    nodes: dict[str, DeviceTreeNode],
) -> DeviceTreeNode:
    """The host bridge node (``pci@...``), named after its first register block."""
    address = encode_number(layout.io_cpu_base, cells)
    host = root.add_child("pci", cells_unit_address(address))
    host.set_string("device_type", "pci")
    host.set_string("model", "kextlab,pci-host")
    host.set_string("compatible", "kextlab,pci-host")
    add_bus_properties(host)
    reg = address + encode_number(layout.io_size, cells)
    if layout.config_address_mmio is not None and layout.config_data_mmio is not None:
        for register in (layout.config_address_mmio, layout.config_data_mmio):
            reg += encode_number(register, cells) + encode_number(4, cells)
    host.set_cells("reg", reg)
    last_bus = max(
        (function.subordinate_bus for function in functions if function.is_bridge), default=0
    )
    host.set_cells("bus-range", [0, last_bus])
    host.set_cells("ranges", host_ranges(layout, cells))
    host.set_int("clock-frequency", PCI_CLOCK_FREQUENCY)
    host.set_boolean("built-in")
    for function in functions:
        add_function_node(host, function, nodes)
    return host
