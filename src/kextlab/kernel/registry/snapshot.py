"""Registries rebuilt from a recorded ``ioreg`` dump.

A dump of a real Mac (``shared/data/ioreg/``) records, per entry, what ``ioreg``
printed: name and location in the plane, class, ID, service state, busy count and
time, retain count, and the properties as user space saw them.  ``build_snapshot``
turns such a record (``SnapshotNode`` trees, as the dump reader produces them) into
an ``IORegistry`` of ``IORegistrySnapshotEntry`` placeholders that report exactly
those values, so every tool that reads a live registry reads a dump the same way.

Properties come back as OS objects: numbers as 64-bit ``OSNumber`` (a dump prints
them as unsigned 64-bit, so this reproduces the printed value whatever the original
width was), data as ``OSData``, strings as ``OSString`` (a string the dump could not
print, which ``ioreg`` shows as nothing, is U+FFFD, the Unicode "unknown character"),
``UserSet`` lists as ``OSSet`` and ``PrintedValue`` text as ``PrintedObject``.

An entry that appears at several places of the tree (one ID under several parents,
such as IOHIDSystem under each HID event driver) becomes one entry with several
parents, holding what its first printing recorded: ``ioreg`` read the live entry
again at each place, so a later printing of a real dump may differ in its retain
count or in values that change by the moment (``HIDIdleTime``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from kextlab.kernel.libkern.collections import OSArray, OSDictionary, OSSet
from kextlab.kernel.libkern.convert import PrintedObject, PrintedValue, UserSet
from kextlab.kernel.libkern.object import ClassRegistry, OSObject
from kextlab.kernel.libkern.values import (
    OSData,
    OSNumber,
    OSString,
    kOSBooleanFalse,
    kOSBooleanTrue,
)
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import IORegistry, kIOServicePlane


@dataclass
class ServiceState:
    registered: bool
    matched: bool
    active: bool
    busy: int
    #: Accumulated busy time in nanoseconds; 0 when the dump printed none.
    busy_time: int = 0


@dataclass
class SnapshotNode:
    """One node line of a dump, with its properties and children."""

    name: str
    location: str | None
    class_name: str
    entry_id: int
    retain_count: int
    service: ServiceState | None = None
    properties: list[tuple[str, object]] | None = None
    children: list[SnapshotNode] = field(default_factory=list)
    line: int = 0

    def walk(self) -> Iterator[SnapshotNode]:
        yield self
        for child in self.children:
            yield from child.walk()


class IORegistrySnapshotEntry(IORegistryEntry):
    """An entry restored from a dump: it reports what the dump recorded."""

    def __init__(self, node: SnapshotNode) -> None:
        super().__init__()
        self.snapshot_class = node.class_name
        self.snapshot_id = node.entry_id
        self.snapshot_retain_count = node.retain_count
        self.service_state = node.service
        self.has_properties = node.properties is not None

    def getClassName(self) -> str:
        return self.snapshot_class

    def getRegistryEntryID(self) -> int:
        return self.snapshot_id

    def getRetainCount(self) -> int:
        """The retain count the dump recorded."""
        return self.snapshot_retain_count

    def class_chain(self) -> list[str]:
        """What the dump tells of the class hierarchy: the class, IOService if the entry
        showed service state, IORegistryEntry."""
        chain = [self.snapshot_class]
        if self.service_state is not None and self.snapshot_class != "IOService":
            chain.append("IOService")
        if self.snapshot_class != "IORegistryEntry":
            chain.append("IORegistryEntry")
        return chain


def from_dump_value(value: object) -> OSObject:
    """The OS object for a property value read from a dump."""
    if isinstance(value, bool):
        return kOSBooleanTrue if value else kOSBooleanFalse
    if isinstance(value, int):
        return OSNumber(value & 0xFFFF_FFFF_FFFF_FFFF, 64)
    if isinstance(value, PrintedValue):
        return PrintedObject(str(value))
    if isinstance(value, str):
        return OSString(value)
    if isinstance(value, bytes):
        return OSData(value)
    if isinstance(value, dict):
        dictionary = OSDictionary()
        for key, item in value.items():
            member = from_dump_value(item)
            dictionary.setObject(key, member)
            member.release()
        return dictionary
    if isinstance(value, list):
        collection: OSArray | OSSet = OSSet() if isinstance(value, UserSet) else OSArray()
        for item in value:
            member = from_dump_value(item)
            collection.setObject(member)
            member.release()
        return collection
    raise TypeError(f"no OS object for dump value {value!r}")


def build_snapshot(root: SnapshotNode, plane_name: str = kIOServicePlane) -> IORegistry:
    """An IORegistry whose entries report what the dump ``root`` recorded."""
    classes = ClassRegistry()
    root_entry = IORegistrySnapshotEntry(root)
    registry = IORegistry(classes, root=root_entry)
    for key, value in root.properties or []:
        obj = from_dump_value(value)
        root_entry.getPropertyTable().setObject(key, obj)
        obj.release()
    plane = registry.makePlane(plane_name)
    entries: dict[int, IORegistrySnapshotEntry] = {root.entry_id: root_entry}

    def add(node: SnapshotNode, parent: IORegistryEntry) -> None:
        entry = entries.get(node.entry_id)
        if entry is None:
            entry = IORegistrySnapshotEntry(node)
            entries[node.entry_id] = entry
            for key, value in node.properties or []:
                obj = from_dump_value(value)
                entry.getPropertyTable().setObject(key, obj)
                obj.release()
            entry.setName(node.name, plane)
            if node.location is not None:
                entry.setLocation(node.location, plane)
            entry.attachToParent(parent, plane)
            entry.release()
        elif not parent.isChild(entry, plane):
            entry.attachToParent(parent, plane)
        for child in node.children:
            add(child, entry)

    for child in root.children:
        add(child, root_entry)
    return registry
