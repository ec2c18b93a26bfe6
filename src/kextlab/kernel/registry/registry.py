"""The I/O Registry of one kernel: its root, its planes, entry IDs and path lookup.

Mirrors the registry-wide parts of xnu's ``IORegistryEntry.cpp`` (``initialize``,
``makePlane``, ``fromPath``, ``dealiasPath``) and the root's properties:

* ``IORegistryPlanes``: every plane by name, as on a Mac (``{"IOService"="IOService",…}``);
* ``IOKitBuildVersion``: the kernel's version string;
* ``IOKitDiagnostics``: live counts, computed each time it is read, with the
  per-class instance counts under ``Classes`` (what ``ioclasscount`` reads).

Entry IDs start at ``0x100000100`` (the root) and count up as entries join.

``fromPath`` accepts ``Plane:/a/b@loc``, ``/a/b`` with a plane given, and, in the
device-tree plane, an alias as the first component (``IODeviceTree:testcard0/...``),
resolved through the ``/aliases`` entry as ``IORegistryEntry::dealiasPath`` does.
Components match a child's name exactly and its location exactly or as the same hex
number (so ``pci-bridge@d`` finds ``pci-bridge@D``); a device-tree entry also answers
to its firmware unit address, so the firmware's own paths and aliases resolve.
"""

from __future__ import annotations

from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import ClassRegistry, OSObject, OSSerializer
from kextlab.kernel.libkern.values import OSData, OSNumber, OSString
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.plane import IORegistryPlane

FIRST_ENTRY_ID = 0x1_0000_0100

kIOServicePlane = "IOService"
kIODeviceTreePlane = "IODeviceTree"
kIOPowerPlane = "IOPower"


class IORegistry:
    """The registry: a root entry and planes."""

    def __init__(self, classes: ClassRegistry, build_version: str) -> None:
        self.classes = classes
        self._next_id = FIRST_ENTRY_ID
        self._planes: dict[str, IORegistryPlane] = {}
        self.root = IORegistryEntry()
        self.root.setName("Root")
        self.root.join_registry(self)
        self.root.setProperty("IOKitBuildVersion", build_version)
        diagnostics = OSSerializer(self._diagnostics)
        self.root.getPropertyTable().setObject("IOKitDiagnostics", diagnostics)
        diagnostics.release()
        for name in (kIOServicePlane, kIOPowerPlane, kIODeviceTreePlane):
            self.makePlane(name)

    def next_entry_id(self) -> int:
        identifier = self._next_id
        self._next_id += 1
        return identifier

    def getRoot(self) -> IORegistryEntry:
        return self.root

    # -- planes ----------------------------------------------------------------------------

    def makePlane(self, name: str) -> IORegistryPlane:
        plane = self._planes.get(name)
        if plane is None:
            plane = IORegistryPlane(name)
            self._planes[name] = plane
            planes = OSDictionary()
            for plane_name in self._planes:
                value = OSString(plane_name)
                planes.setObject(plane_name, value)
                value.release()
            self.root.getPropertyTable().setObject("IORegistryPlanes", planes)
            planes.release()
        return plane

    def getPlane(self, name: str) -> IORegistryPlane | None:
        return self._planes.get(name)

    def planes(self) -> list[IORegistryPlane]:
        return list(self._planes.values())

    def plane(self, name: str) -> IORegistryPlane:
        plane = self._planes.get(name)
        if plane is None:
            raise KeyError(f"no registry plane {name!r}; the planes are {', '.join(self._planes)}")
        return plane

    # -- diagnostics -------------------------------------------------------------------------

    def _diagnostics(self) -> OSObject:
        counts = OSDictionary()
        for name, count in self.classes.instance_counts().items():
            number = OSNumber(count, 32)
            counts.setObject(name, number)
            number.release()
        diagnostics = OSDictionary()
        diagnostics.setObject("Classes", counts)
        counts.release()
        return diagnostics

    # -- paths ---------------------------------------------------------------------------------

    def fromPath(self, path: str, plane: IORegistryPlane | None = None) -> IORegistryEntry | None:
        """The entry a registry path names, or None."""
        plane_name, separator, rest = path.partition(":")
        if separator and plane_name in self._planes:
            plane = self._planes[plane_name]
        else:
            rest = path
        if plane is None:
            return None
        entry: IORegistryEntry | None = self.root
        if not rest.startswith("/"):
            dealiased = self._dealias(rest, plane)
            if dealiased is None:
                return None
            rest = dealiased
        for component in rest.split("/"):
            if not component or entry is None:
                continue
            entry = _child_for(entry, component, plane)
        return entry

    def _dealias(self, path: str, plane: IORegistryPlane) -> str | None:
        if plane.name != kIODeviceTreePlane:
            return None
        alias, slash, rest = path.partition("/")
        aliases = self.fromPath("/aliases", plane)
        if aliases is None:
            return None
        value = aliases.getProperty(alias)
        if isinstance(value, OSData):
            target = value.getBytesNoCopy().rstrip(b"\0").decode("latin-1")
        elif isinstance(value, OSString):
            target = value.getCStringNoCopy()
        else:
            return None
        return target.rstrip("/") + (slash + rest if rest else "")


def _child_for(
    entry: IORegistryEntry, component: str, plane: IORegistryPlane
) -> IORegistryEntry | None:
    name, at, location = component.partition("@")
    for child in entry.getChildren(plane):
        if name and child.getName(plane) != name:
            continue
        if at and not (
            _same_location(child.getLocation(plane), location)
            or _same_location(child.firmware_unit_address, location)
        ):
            continue
        return child
    return None


def _same_location(actual: str | None, wanted: str) -> bool:
    if actual is None:
        return False
    if actual == wanted:
        return True
    try:
        return [int(part, 16) for part in actual.split(",")] == [
            int(part, 16) for part in wanted.split(",")
        ]
    except ValueError:
        return actual.lower() == wanted.lower()
