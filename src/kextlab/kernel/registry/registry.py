"""The I/O Registry of one kernel: its root, its planes, entry IDs and path lookup.

Mirrors the registry-wide parts of xnu's ``IORegistryEntry.cpp`` (``initialize``,
``makePlane``, ``fromPath``, ``dealiasPath``) and the root's properties:

* ``IORegistryPlanes``: every plane by name, as on a Mac (``{"IOService"="IOService",…}``);
* ``IOKitBuildVersion``: the kernel's version string;
* ``IOKitDiagnostics``: live counts, computed each time it is read, with the
  per-class instance counts under ``Classes`` (what ``ioclasscount`` reads).

Entry IDs start at ``0x100000100`` (the root) and count up as entries join.

``fromPath`` and ``getPath`` follow ``IORegistryEntry::fromPath`` (as user space
calls it, with no buffer for a residual path), ``dealiasPath``,
``getChildFromComponent``, ``matchPathLocation``, ``hasAlias`` and ``getPath``:

* a path is ``Plane:/a/b@loc`` (or ``/a/b@loc`` with the plane given); a first
  component without ``/`` is an alias: a property of the plane's ``/aliases`` entry
  whose name is shorter than 32 characters, its value a path up to the first NUL;
* a component matches a child's name exactly, then, after ``@``, its location:
  numbers read as ``strtouq`` reads hex, separated by ``,`` or ``:``, a number
  missing on either side counting as 0 (``pci-bridge@d`` finds ``pci-bridge@D``,
  ``display@11`` finds ``display@11,0``); a name alone takes the first child so named;
* nothing may be left over: a trailing ``/`` or ``:arguments`` names no entry;
* ``getPath`` starts from the shortest alias of the entry or of its nearest aliased
  ancestor, else from the plane's top entry, and fails for entries not below it.

kextlab adds one thing: a device-tree entry also answers to its firmware unit
address (``pci@f2000000`` where the registry location is the first ``reg`` cell),
so the firmware's own paths and aliases resolve.  And where xnu would recurse
forever on an alias that leads back to itself, the lookup gives up after
``MAX_ALIAS_DEPTH`` aliases.
"""

from __future__ import annotations

from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import ClassRegistry, OSObject, OSSerializer
from kextlab.kernel.libkern.values import OSData, OSNumber, OSString
from kextlab.kernel.memory.kernel_memory import MEMORY_EXTENSION, KernelMemory
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.plane import IORegistryPlane
from kextlab.sim.scheduler import current_scheduler

FIRST_ENTRY_ID = 0x1_0000_0100
#: xnu's ``kIOMaxPlaneName``: alias names must be shorter to be looked up.
kIOMaxPlaneName = 32
#: How many aliases one lookup may pass through (xnu has no limit, and no defence).
MAX_ALIAS_DEPTH = 8

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
        #: The machine this registry's kernel runs on (None for a registry read
        #: from a dump): where its diagnostics find the kernel's memory figures.
        self._scheduler = current_scheduler()
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
        scheduler = self._scheduler
        memory = scheduler.extensions.get(MEMORY_EXTENSION) if scheduler is not None else None
        if isinstance(memory, KernelMemory):
            for key, value in memory.diagnostics().items():
                number = OSNumber(value, 64)
                diagnostics.setObject(key, number)
                number.release()
        return diagnostics

    # -- paths ---------------------------------------------------------------------------------

    def fromPath(self, path: str, plane: IORegistryPlane | None = None) -> IORegistryEntry | None:
        """The entry a registry path names, or None (``IORegistryEntry::fromPath``)."""
        if plane is None:
            plane_name, separator, rest = path.partition(":")
            if not separator or plane_name not in self._planes:
                return None
            plane = self._planes[plane_name]
            path = rest
        return self._lookup(path, plane, 0)

    def _lookup(self, path: str, plane: IORegistryPlane, depth: int) -> IORegistryEntry | None:
        """``fromPath`` after the plane: the alias, then the components."""
        top: IORegistryEntry | None = None
        where: IORegistryEntry | None = None
        position = 0
        alias, rest = self._dealias(path, plane)
        if alias is not None and depth < MAX_ALIAS_DEPTH:
            where = self._lookup(alias, plane, depth + 1)
            if where is not None:
                path = rest
        if where is None:
            if not path.startswith("/"):
                return None
            position = 1
            top = where = self.root.getChildEntry(plane)
            if where is None:
                return None
        # xnu's loop: after an alias or a component comes the end, ':' or '/'.
        first = top is not None
        while True:
            if not first:
                separator = path[position] if position < len(path) else ""
                position += 1
                if separator != "/":
                    if separator and separator != ":":
                        return None
                    break
            first = False
            child, position = _child_from_component(where, path, position, plane)
            if child is None:
                break
            where = child
        # Step back over the character the loop last read; nothing may remain.
        rest_start = position if where is top else position - 1
        return where if rest_start >= len(path) else None

    def _dealias(self, path: str, plane: IORegistryPlane) -> tuple[str | None, str]:
        """The alias's path and the rest of ``path`` (``IORegistryEntry::dealiasPath``)."""
        if path.startswith("/"):
            return None, path
        end = len(path)
        for index, char in enumerate(path):
            if char in "/:":
                end = index
                break
        if end >= kIOMaxPlaneName:
            return None, path
        aliases = self._lookup("/aliases", plane, MAX_ALIAS_DEPTH)
        if aliases is None:
            return None, path
        target = _alias_target(aliases.getProperty(path[:end]))
        return (target, path[end:]) if target is not None else (None, path)

    def hasAlias(self, entry: IORegistryEntry, plane: IORegistryPlane) -> str | None:
        """The shortest alias naming ``entry`` in ``plane``, the first of equal
        length (``IORegistryEntry::hasAlias``)."""
        aliases = self._lookup("/aliases", plane, MAX_ALIAS_DEPTH)
        if aliases is None:
            return None
        best: str | None = None
        for key, value in aliases.getPropertyTable().items():
            target = _alias_target(value)
            if (
                target is not None
                and (best is None or len(key) < len(best))
                and self._lookup(target, plane, 0) is entry
            ):
                best = key
        return best

    def getPath(self, entry: IORegistryEntry, plane: IORegistryPlane) -> str | None:
        """``Plane:/a/b@loc`` for ``entry`` (``IORegistryEntry::getPath``); None when it
        is not below the plane's top entry.  An alias of the entry, or of its nearest
        aliased ancestor, starts the path."""
        alias = self.hasAlias(entry, plane)
        if alias is not None:
            return f"{plane.nameKey}:{alias}"
        top = self.root.getChildEntry(plane)
        stack: list[IORegistryEntry] = []
        current: IORegistryEntry | None = entry
        while current is not None and current is not top:
            stack.append(current)
            current = current.getParentEntry(plane)
        if current is None:
            return None
        path = "" if stack else "/"
        for item in reversed(stack):
            alias = self.hasAlias(item, plane)
            path = alias if alias is not None else f"{path}/{item.path_component(plane)}"
        return f"{plane.nameKey}:{path}"


def _alias_target(value: OSObject | None) -> str | None:
    """The path an ``/aliases`` property holds: data up to its first NUL, or a string."""
    if isinstance(value, OSData):
        return value.getBytesNoCopy().split(b"\0", 1)[0].decode("latin-1")
    if isinstance(value, OSString):
        return value.getCStringNoCopy()
    return None


def _child_from_component(
    entry: IORegistryEntry, path: str, position: int, plane: IORegistryPlane
) -> tuple[IORegistryEntry | None, int]:
    """The child the component at ``path[position:]`` names and where the path goes on
    (``IORegistryEntry::getChildFromComponent``)."""
    for child in entry.getChildren(plane):
        cursor = position
        if not path.startswith("@", cursor):
            name = child.getName(plane)
            if not path.startswith(name, cursor):
                continue
            cursor += len(name)
            following = path[cursor : cursor + 1]
            if following in ("", "/", ":"):
                return child, cursor
            if following != "@":
                continue
        cursor += 1
        for location in (child.getLocation(plane), child.firmware_unit_address):
            if location is None:
                continue
            matched = match_path_location(path[cursor:], location)
            if matched is not None:
                return child, cursor + matched
    return None, position


def match_path_location(path: str, location: str) -> int | None:
    """Where in ``path`` the text after the location ``location`` begins, or None
    (``IORegistryEntry::matchPathLocation``).

    Both are lists of hex numbers separated by ``,`` or ``:``, read with ``strtouq``
    and compared as numbers; once either side has no more numbers it reads as 0, and
    the separators must agree while both go on.  The result can be -1: with nothing
    to read after the ``@``, xnu hands back the ``@`` itself.
    """
    cursor = location_cursor = 0
    path_char = path[:1]
    location_char = location[:1]
    while True:
        path_number = location_number = 0
        if path_char:
            path_number, cursor = strtouq16(path, cursor)
            path_char = path[cursor : cursor + 1]
            cursor += 1
        if location_char:
            location_number, location_cursor = strtouq16(location, location_cursor)
            location_char = location[location_cursor : location_cursor + 1]
            location_cursor += 1
        if path_number != location_number:
            return None
        if not path_char and not location_char:
            return cursor - 1
        if path_char not in (",", ":"):
            path_char = ""
        if path_char and location_char and path_char != location_char:
            return None


_UQUAD_MAX = (1 << 64) - 1


def strtouq16(text: str, start: int) -> tuple[int, int]:
    """``strtouq(text + start, &end, 16)`` as xnu's ``IOStringFuncs.c`` has it: leading
    space, a sign, an optional ``0x``; (value, end), end = start when nothing was read."""
    index = start
    while index < len(text) and text[index] in " \t\n\v\f\r":
        index += 1
    negative = text[index : index + 1] == "-"
    if text[index : index + 1] in ("-", "+"):
        index += 1
    if text[index : index + 2] in ("0x", "0X"):
        index += 2
    digits_start = index
    while index < len(text) and text[index] in "0123456789abcdefABCDEF":
        index += 1
    if index == digits_start:
        return 0, start
    value = int(text[digits_start:index], 16)
    if value > _UQUAD_MAX:
        return _UQUAD_MAX, index
    return ((-value) & _UQUAD_MAX if negative else value), index
