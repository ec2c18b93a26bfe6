"""Device-tree addressing: a node's ``reg`` as physical device memory.

Mirrors xnu's ``IODTGetCellCounts``, ``IODTResolveAddressCell`` and
``IODTResolveAddressing`` (``iokit/Kernel/IODeviceTreeSupport.cpp``), which give a
platform nub its ``IODeviceMemory`` ranges (``IODTPlatformExpert::getNubResources``).

A ``reg`` entry is an address of ``#address-cells`` cells and a length of
``#size-cells`` cells, both counted by the node's *parent* (defaults 2 and 1, as
xnu's).  The address is in the parent's bus space; going up the tree, each node with
a ``ranges`` property translates it into its own parent's space (IEEE 1275 §3.3:
entries of child address, parent address, length), an empty ``ranges`` passes it
through unchanged, and the first node without ``ranges`` ends the road: the address
there is physical.

Kept simple where kextlab's trees are simple, and said so:

* an address's value is its last two cells (xnu's ``CellsValue``); cells above
  those (PCI's ``phys.hi``) must equal the range entry's exactly for the entry to
  match.  xnu lets a bus register its own comparison for such addresses
  (``IODTSetResolving``; IOPCIFamily does); kextlab's platform nubs sit directly under
  the root, where nothing is translated, and PCI nubs take their ranges from
  ``assigned-addresses`` through IOPCIFamily instead;
* a range must contain the whole ``reg`` entry (xnu also accepts one that spans two
  adjacent ranges); an entry no range contains is left out, as xnu leaves it out.

Threading rules: any kernel thread or the entered host; never blocks.
"""

from __future__ import annotations

from kextlab.kernel.memory.device_memory import IODeviceMemory
from kextlab.kernel.platform.cells import property_cells, property_uint32
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import kIODeviceTreePlane


def IODTGetCellCounts(entry: IORegistryEntry) -> tuple[int, int]:
    """(``#size-cells``, default 1; ``#address-cells``, default 2) of ``entry``, in
    xnu's argument order."""
    size_cells = property_uint32(entry, "#size-cells")
    address_cells = property_uint32(entry, "#address-cells")
    return (
        size_cells if size_cells is not None else 1,
        address_cells if address_cells is not None else 2,
    )


def cells_value(cells: list[int]) -> int:
    """xnu's ``CellsValue``: one cell, or the last two as a 64-bit number."""
    if not cells:
        return 0
    if len(cells) == 1:
        return cells[0]
    return cells[-2] << 32 | cells[-1]


def _with_value(cells: list[int], value: int) -> list[int]:
    """``cells`` with their value (the last one or two cells) replaced."""
    if len(cells) == 1:
        return [value & 0xFFFF_FFFF]
    return [*cells[:-2], value >> 32 & 0xFFFF_FFFF, value & 0xFFFF_FFFF]


def IODTResolveAddressCell(parent: IORegistryEntry, cells: list[int]) -> tuple[int, int] | None:
    """(physical address, length) of one ``reg`` entry of a child of ``parent``;
    None when a ``ranges`` on the way does not cover it."""
    size_cells, address_cells = IODTGetCellCounts(parent)
    address = cells[:address_cells]
    length = cells_value(cells[address_cells : address_cells + size_cells])
    node: IORegistryEntry | None = parent
    while node is not None:
        ranges = property_cells(node, "ranges")
        if ranges is None:
            return cells_value(address), length  # the end of the road
        above = _tree_parent(node)
        if above is None:
            return cells_value(address), length
        above_size_cells, above_address_cells = IODTGetCellCounts(above)
        if not ranges:
            # An empty ranges maps the child's space 1:1 onto the parent's.
            address = _with_value([0] * max(above_address_cells, 1), cells_value(address))
        else:
            translated = _translate(
                ranges, address, length, address_cells, above_address_cells, size_cells
            )
            if translated is None:
                return None
            address = translated
        node = above
        size_cells, address_cells = above_size_cells, above_address_cells
    return cells_value(address), length


def _translate(
    ranges: list[int],
    address: list[int],
    length: int,
    address_cells: int,
    parent_address_cells: int,
    size_cells: int,
) -> list[int] | None:
    """``address`` in the parent's space, through the ``ranges`` entry containing it."""
    width = address_cells + parent_address_cells + size_cells
    value = cells_value(address)
    for start in range(0, len(ranges) - width + 1, width):
        child = ranges[start : start + address_cells]
        parent_base = ranges[start + address_cells : start + address_cells + parent_address_cells]
        size = cells_value(ranges[start + address_cells + parent_address_cells : start + width])
        if child[:-2] != address[:-2]:
            continue
        base = cells_value(child)
        if base <= value and value + length <= base + size:
            return _with_value(parent_base, cells_value(parent_base) + value - base)
    return None


def IODTResolveAddressing(
    entry: IORegistryEntry, addressPropertyName: str = "reg"
) -> list[IODeviceMemory] | None:
    """One ``IODeviceMemory`` per entry of property ``addressPropertyName``
    (the caller owns them); None when the entry has no such property, no parent, or
    its parent's ``#size-cells`` is 0 (the entries are not memory).

    xnu also stores the array as the ``IODeviceMemory`` property; kextlab's nubs keep
    their ranges themselves (``IOPlatformDevice.setDeviceMemory``)."""
    parent = _tree_parent(entry)
    reg = property_cells(entry, addressPropertyName)
    if parent is None or reg is None:
        return None
    size_cells, address_cells = IODTGetCellCounts(parent)
    if size_cells == 0:
        return None
    width = size_cells + address_cells
    ranges: list[IODeviceMemory] = []
    for start in range(0, len(reg) - width + 1, width):
        resolved = IODTResolveAddressCell(parent, reg[start : start + width])
        if resolved is not None:
            physical, length = resolved
            ranges.append(IODeviceMemory.withRange(physical, length))
    return ranges


def _tree_parent(entry: IORegistryEntry) -> IORegistryEntry | None:
    registry = entry.registry
    if registry is None:
        return None
    return entry.getParentEntry(registry.plane(kIODeviceTreePlane))
