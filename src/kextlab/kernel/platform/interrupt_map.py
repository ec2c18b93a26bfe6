"""Device-tree interrupts: from a node's ``interrupts`` to its controller's specifier.

Mirrors xnu's ``IODTMapInterrupts``, ``IODTMapOneInterrupt``,
``IODTFindInterruptParent`` and ``IODTInterruptControllerName``
(``iokit/Kernel/IODeviceTreeSupport.cpp``).  ``IODTMapInterrupts(entry)`` gives a
device-tree entry the two properties ``IOService::registerInterrupt`` reads:

* ``IOInterruptControllers``: per interrupt, the name of the controller that
  receives it, ``IOInterruptController%08X`` of the controller node's phandle
  (``IODTInterruptControllerName``; an interrupt controller driver registers under
  the same name with the platform expert);
* ``IOInterruptSpecifiers``: per interrupt, an ``OSData`` of the specifier in the
  controller's own domain (``#interrupt-cells`` of the controller; for kextlab's
  controller: input number, sense), the device tree's bytes as they stand.

The walk (IEEE 1275 interrupt mapping, as xnu does it).  A NewWorld node lists its
interrupts in ``interrupts``, each ``#interrupt-cells`` of its *interrupt parent*
long; the interrupt parent is the node ``interrupt-parent`` names, else the node's
parent in the tree (``interrupt-parent`` may name one parent per interrupt).  From
there, until a node with an ``interrupt-controller`` property is reached:

1. at a node with ``interrupt-map``, the child's unit address (the first
   ``#address-cells`` cells of its ``reg``) and specifier are ANDed with
   ``interrupt-map-mask`` and looked up in the map; the matching entry names the
   next node by phandle and gives the unit address and specifier in its domain;
2. at a node without a map, the specifier passes unchanged to that node's own
   interrupt parent.  (xnu loops for ever here; Linux's ``of_irq_parse_raw``
   passes it on, and so does kextlab.)

A map without a matching entry, a phandle naming no node or a tree that does not
reach a controller in ``MAX_DEPTH`` steps fails the mapping: the entry gets no
properties, and the kernel log says ``<name>: error mapping interrupt[n]``, as xnu's
does.

OldWorld trees (no ``interrupts``, an ``AAPL,interrupts`` list of vector numbers
instead, taken from the parent when the parent has one, as behind a bandit bridge)
map every cell to ``IOPrimaryInterruptController``.

Not modelled: xnu computes, once for the whole tree at boot, which specifiers more
than one node uses (``gIODTSharedInterrupts``, read by ``IODTGetInterruptOptions``);
kextlab maps each nub when it is published, and interrupt sharing is decided by the
controller instead (``kextlab.kernel.platform.interrupt_controller``).

Threading rules: any kernel thread or the entered host; never blocks.
"""

from __future__ import annotations

from typing import Final

from kextlab.kernel.libkern.collections import OSArray
from kextlab.kernel.libkern.values import OSData, OSSymbol
from kextlab.kernel.platform.cells import (
    CELL_SIZE,
    cells_of,
    cells_to_bytes,
    property_cells,
    property_uint32,
)
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.kernel.service.globals import SERVICE_EXTENSION, ServiceGlobals
from kextlab.sim.scheduler import current_scheduler

#: The properties ``IODTMapInterrupts`` sets (``gIOInterruptControllersKey``,
#: ``gIOInterruptSpecifiersKey``).
gIOInterruptControllersKey: Final = "IOInterruptControllers"
gIOInterruptSpecifiersKey: Final = "IOInterruptSpecifiers"

#: The controller OldWorld interrupts go to (``gIODTDefaultInterruptController``).
gIODTDefaultInterruptController: Final = "IOPrimaryInterruptController"

#: The property of a device-tree entry that holds its phandle (``gIODTPHandleKey``).
PHANDLE_KEY: Final = "AAPL,phandle"

#: How many nodes an interrupt may cross before the mapping gives up.
MAX_DEPTH: Final = 64


def IODTInterruptControllerName(entry: IORegistryEntry) -> str | None:
    """``IOInterruptController%08X`` of ``entry``'s phandle, or None without one."""
    phandle = property_uint32(entry, PHANDLE_KEY)
    if phandle is None:
        return None
    return f"IOInterruptController{phandle:08X}"


def IODTMapInterrupts(entry: IORegistryEntry) -> bool:
    """Set ``IOInterruptControllers`` and ``IOInterruptSpecifiers`` on ``entry``.

    True when the entry has no interrupts or all of them mapped; False (and no
    properties) when one could not be mapped."""
    mapped = map_interrupts(entry)
    if mapped is None:
        return False
    if not mapped:
        return True
    controllers = OSArray()
    specifiers = OSArray()
    for name, specifier in mapped:
        symbol = OSSymbol.withCString(name)
        controllers.setObject(symbol)
        symbol.release()
        data = OSData(specifier)
        specifiers.setObject(data)
        data.release()
    table = entry.getPropertyTable()
    table.setObject(gIOInterruptControllersKey, controllers)
    table.setObject(gIOInterruptSpecifiersKey, specifiers)
    controllers.release()
    specifiers.release()
    return True


def map_interrupts(entry: IORegistryEntry) -> list[tuple[str, bytes]] | None:
    """(controller name, specifier bytes) for each interrupt of ``entry``: an empty
    list when it has none, None when one could not be mapped."""
    new_world = True
    local = entry.getProperty("AAPL,interrupts")
    if isinstance(local, OSData):
        new_world = False
    else:
        local = entry.getProperty("interrupts")
        if not isinstance(local, OSData):
            return []
        parent = _tree_parent(entry)
        parent_interrupts = parent.getProperty("AAPL,interrupts") if parent is not None else None
        if isinstance(parent_interrupts, OSData):  # an OldWorld bridge's devices
            local = parent_interrupts
            new_world = False
    cells = cells_of(local.getBytesNoCopy())
    mapped: list[tuple[str, bytes]] = []
    position = 0
    while position < len(cells):
        if new_world:
            one = _map_one_interrupt(entry, cells[position:], len(mapped))
            if one is None:
                _log(f"{entry.getName()}: error mapping interrupt[{len(mapped)}]")
                return None
            used, specifier, controller = one
        else:
            used, specifier = 1, cells_to_bytes([cells[position]])
            controller = gIODTDefaultInterruptController
        mapped.append((controller, specifier))
        position += used
    return mapped


# -- the walk -------------------------------------------------------------------------------------


def _map_one_interrupt(
    entry: IORegistryEntry, interrupt: list[int], index: int
) -> tuple[int, bytes, str] | None:
    """``IODTMapOneInterrupt``: (cells the interrupt used in ``interrupts``, the
    specifier at the controller, the controller's name), or None."""
    node = find_interrupt_parent(entry, index)
    if node is None:
        return None
    interrupt_cells, address_cells = _interrupt_cell_counts(node)
    if len(interrupt) < interrupt_cells:
        return None
    used = interrupt_cells
    specifier = interrupt[:interrupt_cells]
    address = _unit_address(entry, address_cells)
    for _ in range(MAX_DEPTH):
        if node.getProperty("interrupt-controller") is not None:
            name = IODTInterruptControllerName(node)
            if name is None:
                return None
            return used, cells_to_bytes(specifier), name
        interrupt_map = property_cells(node, "interrupt-map")
        if interrupt_map is None:
            following = find_interrupt_parent(node, 0)
            if following is None:
                return None
            interrupt_cells, address_cells = _interrupt_cell_counts(following)
            address = _unit_address(node, address_cells)
            node = following
            continue
        step = _look_up(node, interrupt_map, address + specifier, address_cells, interrupt_cells)
        if step is None:
            return None
        node, address, specifier = step
        interrupt_cells, address_cells = _interrupt_cell_counts(node)
    return None


def _look_up(
    node: IORegistryEntry,
    interrupt_map: list[int],
    key: list[int],
    address_cells: int,
    interrupt_cells: int,
) -> tuple[IORegistryEntry, list[int], list[int]] | None:
    """The entry of ``node``'s ``interrupt-map`` that matches ``key`` (the child's
    unit address and specifier): (next node, its unit address, its specifier)."""
    width = address_cells + interrupt_cells
    mask = property_cells(node, "interrupt-map-mask")
    if mask is not None and len(mask) >= width:
        key = [cell & bits for cell, bits in zip(key, mask, strict=False)]
    position = 0
    while position + width < len(interrupt_map):
        child = interrupt_map[position : position + width]
        position += width
        target = find_phandle(node, interrupt_map[position])
        position += 1
        if target is None:
            return None
        target_interrupt_cells, target_address_cells = _interrupt_cell_counts(target)
        end = position + target_address_cells + target_interrupt_cells
        if child == key:
            unit = interrupt_map[position : position + target_address_cells]
            specifier = interrupt_map[position + target_address_cells : end]
            return target, unit, specifier
        position = end
    return None


def find_interrupt_parent(entry: IORegistryEntry, index: int) -> IORegistryEntry | None:
    """``IODTFindInterruptParent``: the node ``interrupt-parent`` names (its
    ``index``th cell, or the first), else the tree parent; None for a controller."""
    parents = property_cells(entry, "interrupt-parent")
    if parents:
        return find_phandle(entry, parents[index] if index < len(parents) else parents[0])
    if entry.getProperty("interrupt-controller") is not None:
        return None
    return _tree_parent(entry)


def find_phandle(entry: IORegistryEntry, phandle: int) -> IORegistryEntry | None:
    """The device-tree entry whose ``AAPL,phandle`` is ``phandle`` (xnu's
    ``FindPHandle``), searched in the IODeviceTree plane of ``entry``'s registry."""
    registry = entry.registry
    if registry is None:
        return None
    plane = registry.plane(kIODeviceTreePlane)
    wanted = phandle.to_bytes(CELL_SIZE, "big")
    for candidate in registry.getRoot().iterate(plane, recursive=True):
        value = candidate.getProperty(PHANDLE_KEY)
        if isinstance(value, OSData) and value.getBytesNoCopy() == wanted:
            return candidate
    return None


def _interrupt_cell_counts(entry: IORegistryEntry) -> tuple[int, int]:
    """``IODTGetICellCounts``: (``#interrupt-cells``, default 1;
    ``#address-cells``, default 0)."""
    interrupt_cells = property_uint32(entry, "#interrupt-cells")
    address_cells = property_uint32(entry, "#address-cells")
    return (
        interrupt_cells if interrupt_cells is not None else 1,
        address_cells if address_cells is not None else 0,
    )


def _unit_address(entry: IORegistryEntry, address_cells: int) -> list[int]:
    """The first ``address_cells`` cells of ``entry``'s ``reg`` (zeros without one)."""
    if not address_cells:
        return []
    reg = property_cells(entry, "reg")
    if reg is None or len(reg) < address_cells:
        return [0] * address_cells
    return reg[:address_cells]


def _tree_parent(entry: IORegistryEntry) -> IORegistryEntry | None:
    registry = entry.registry
    if registry is None:
        return None
    return entry.getParentEntry(registry.plane(kIODeviceTreePlane))


def _log(message: str) -> None:
    """A line in the kernel log, when the caller runs in a kernel."""
    scheduler = current_scheduler()
    globals_ = scheduler.extensions.get(SERVICE_EXTENSION) if scheduler is not None else None
    if isinstance(globals_, ServiceGlobals):
        globals_.log(message)
