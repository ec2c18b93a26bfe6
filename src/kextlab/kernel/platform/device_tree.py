"""The IODeviceTree plane, made from the firmware's device tree.

Mirrors xnu's ``IODeviceTreeAlloc`` and ``MakeReferenceTable``
(``iokit/Kernel/IODeviceTreeSupport.cpp``): one registry entry per firmware node,
linked in the ``IODeviceTree`` plane in the tree's order, each property copied
byte for byte into an ``OSData`` (Open Firmware's big-endian cells, strings with
their NUL), plus:

* ``AAPL,phandle``: the node's phandle as one cell, as BootX adds when it flattens
  the tree, so that ``interrupt-parent`` and ``interrupt-map`` can be resolved (by
  ``ioreg -f`` among others);
* the entry's name is the node's ``name``; its location, for all planes, is
  ``AAPL,unit-string`` when the node has one (BootX writes it without a NUL, and
  ``MakeReferenceTable`` consumes it: it is not kept as a property), else the first
  ``reg`` cell in upper-case hex (a PCI node at device 0xd, function 0, is ``6800``;
  IOPCIFamily rewrites PCI locations later);
* the root node is the ``IOPlatformExpertDevice``: it keeps its ``name``
  (``device-tree``) in the IODeviceTree plane and takes its first ``compatible``
  string (the model) as its name everywhere else, as ``IODeviceTreeAlloc`` renames it.

Every other node is an ``IOService``, not yet registered: a nub for the platform to
publish.
"""

from __future__ import annotations

from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode
from kextlab.kernel.libkern.values import OSData
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import IORegistry, kIODeviceTreePlane
from kextlab.kernel.service.service import IOService

#: The property BootX stores a node's unit address in (``gIODTUnitKey``).
UNIT_STRING = "AAPL,unit-string"


def device_tree_location(node: DeviceTreeNode) -> str | None:
    """The registry location xnu gives a device-tree node (``MakeReferenceTable``)."""
    unit = node.get_property(UNIT_STRING)
    if unit is not None:
        # "all OF strings are null terminated... except this one": up to the first NUL,
        # at most 31 characters.
        return unit[:31].split(b"\0", 1)[0].decode("latin-1")
    reg = node.get_property("reg")
    if reg is None or len(reg) < 4:
        return None
    return f"{int.from_bytes(reg[:4], 'big'):X}"


def build_device_tree_plane(
    registry: IORegistry, tree: DeviceTree, root_entry: IOService
) -> dict[str, IORegistryEntry]:
    """Mirror ``tree`` under the registry root; returns the entries by firmware path."""
    plane = registry.plane(kIODeviceTreePlane)
    entries: dict[str, IORegistryEntry] = {}

    def mirror(node: DeviceTreeNode, parent: IORegistryEntry) -> None:
        entry: IORegistryEntry = root_entry if node.parent is None else IOService()
        for name, value in node.properties.items():
            if name == UNIT_STRING:
                continue  # it becomes the location
            data = OSData(value)
            entry.getPropertyTable().setObject(name, data)
            data.release()
        phandle = OSData(node.phandle.to_bytes(4, "big"))
        entry.getPropertyTable().setObject("AAPL,phandle", phandle)
        phandle.release()
        entry.setName(node.name)
        entry.firmware_unit_address = node.unit_address
        location = device_tree_location(node)
        if location is not None:
            entry.setLocation(location)  # for every plane, as MakeReferenceTable does
        entry.attachToParent(parent, plane)
        if entry is not root_entry:
            entry.release()  # the plane link holds it
        entries[node.path] = entry
        for child in node.children:
            mirror(child, entry)

    mirror(tree.root, registry.getRoot())
    compatible = tree.root.get_strings("compatible")
    if compatible:
        root_entry.setName(root_entry.getName(), plane)
        root_entry.setName(compatible[0])
    return entries
