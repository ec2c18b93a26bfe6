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

    def __init__(
        self,
        classes: ClassRegistry,
        build_version: str = "",
        *,
        root: IORegistryEntry | None = None,
    ) -> None:
        """A live registry with a new root, or (``root`` given) one around an existing
        root whose properties are left as they are (a registry restored from a dump)."""
        self.classes = classes
        self._next_id = FIRST_ENTRY_ID
        self._planes: dict[str, IORegistryPlane] = {}
        self._live = root is None
        self.root = root if root is not None else IORegistryEntry()
        self.root.setName("Root")
        self.root.join_registry(self)
        if self._live:
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
            if not self._live:
                return plane
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
        """The entry a registry path names, or None (``IORegistryEntry::fromPath``).

        A path that starts with ``/`` starts at the plane's top entry (the registry
        root's first child in that plane); a first component without ``/`` is an alias
        from ``/aliases``.  A trailing ``:arguments`` is allowed.
        """
        if plane is None:
            plane_name, separator, rest = path.partition(":")
            if not separator or plane_name not in self._planes:
                return None
            plane = self._planes[plane_name]
            path = rest
        where: IORegistryEntry | None = None
        if path and not path.startswith("/"):
            alias, tail = self._dealias(path, plane)
            if alias is None:
                return None
            where = self.fromPath(alias, plane)
            if where is None:
                return None
            path = tail
        else:
            if not path.startswith("/"):
                return None
            path = path[1:]
            where = self.root.getChildEntry(plane)
            if where is None:
                return None
        while path:
            if path[0] == ":":
                break
            if path[0] == "/":
                path = path[1:]
                if not path or path[0] == ":":
                    break
            child, path = _child_from_component(where, path, plane)
            if child is None:
                return None
            where = child
        return where

    def _dealias(self, path: str, plane: IORegistryPlane) -> tuple[str | None, str]:
        """The alias's path and the rest of ``path`` (``IORegistryEntry::dealiasPath``)."""
        end = len(path)
        for index, char in enumerate(path):
            if char in "/:":
                end = index
                break
        aliases = self.fromPath("/aliases", plane)
        if aliases is None:
            return None, path
        value = aliases.getProperty(path[:end])
        if isinstance(value, OSData):
            return value.getBytesNoCopy().split(b"\0", 1)[0].decode("latin-1"), path[end:]
        if isinstance(value, OSString):
            return value.getCStringNoCopy(), path[end:]
        return None, path

    def hasAlias(self, entry: IORegistryEntry, plane: IORegistryPlane) -> str | None:
        """The shortest alias naming ``entry`` in ``plane``, if any."""
        aliases = self.fromPath("/aliases", plane)
        if aliases is None:
            return None
        best: str | None = None
        for key, value in aliases.getPropertyTable().items():
            if not isinstance(value, OSData | OSString) or key in ("name", "AAPL,phandle"):
                continue
            target = (
                value.getBytesNoCopy().split(b"\0", 1)[0].decode("latin-1")
                if isinstance(value, OSData)
                else value.getCStringNoCopy()
            )
            if (
                target.startswith("/")
                and self.fromPath(target, plane) is entry
                and (best is None or len(key) < len(best))
            ):
                best = key
        return best

    def getPath(self, entry: IORegistryEntry, plane: IORegistryPlane) -> str | None:
        """``Plane:/a/b@loc`` for ``entry`` (``IORegistryEntry::getPath``); None when it
        is not in ``plane``.  A device-tree entry with an alias is named by it."""
        alias = self.hasAlias(entry, plane) if plane.name == kIODeviceTreePlane else None
        if alias is not None:
            return f"{plane.nameKey}:{alias}"
        if entry.getParentEntry(plane) is None:
            return None
        top = self.root.getChildEntry(plane)
        stack: list[IORegistryEntry] = []
        current: IORegistryEntry | None = entry
        while current is not None and current is not top and current.getParentEntry(plane):
            stack.append(current)
            current = current.getParentEntry(plane)
        return f"{plane.nameKey}:/" + "/".join(
            item.path_component(plane) for item in reversed(stack)
        )


def _child_from_component(
    entry: IORegistryEntry, path: str, plane: IORegistryPlane
) -> tuple[IORegistryEntry | None, str]:
    """The child the next component of ``path`` names and the rest of the path
    (``IORegistryEntry::getChildFromComponent``)."""
    for child in entry.getChildren(plane):
        cursor = 0
        if not path.startswith("@"):
            name = child.getName(plane)
            if not path.startswith(name):
                continue
            cursor = len(name)
            following = path[cursor : cursor + 1]
            if following in ("", "/", ":"):
                return child, path[cursor:]
            if following != "@":
                continue
        cursor += 1
        for location in (child.getLocation(plane), child.firmware_unit_address):
            if location is None:
                continue
            matched = match_path_location(path[cursor:], location)
            if matched is not None:
                return child, path[cursor + matched :]
    return None, path


def match_path_location(path: str, location: str) -> int | None:
    """How many characters of ``path`` the location ``location`` matches, or None.

    Both are comma- or colon-separated hex numbers compared as numbers, as
    ``IORegistryEntry::matchPathLocation`` does with ``strtouq``: ``d`` matches ``D``
    and ``0d``; a path number with no counterpart in the location compares with 0.
    """
    position = 0
    location_position = 0
    while True:
        path_number, path_end = _hex_prefix(path, position)
        location_number, location_end = _hex_prefix(location, location_position)
        if path_number != location_number:
            return None
        path_char = path[path_end] if path_end < len(path) else ""
        location_char = location[location_end] if location_end < len(location) else ""
        position = path_end + 1
        location_position = location_end + 1
        if path_char not in (",", ":") and not location_char:
            return path_end
        if path_char not in (",", ":"):
            return None
        if location_char and path_char != location_char:
            return None


def _hex_prefix(text: str, start: int) -> tuple[int, int]:
    end = start
    while end < len(text) and text[end] in "0123456789abcdefABCDEF":
        end += 1
    return (int(text[start:end], 16) if end > start else 0), end
