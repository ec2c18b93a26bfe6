"""IORegistryEntry: properties, names and locations per plane, links, paths.

Mirrors xnu's ``IORegistryEntry.cpp``.  An entry keeps two tables, as xnu does:

* the **property table** (``getPropertyTable``): what ``ioreg`` lists and user space
  copies, set with ``setProperty``;
* the **registry table**: its names and locations (one per plane, or one for all
  planes) and its links to parents and children in each plane.  Names live here, not
  among the properties, which is why ``IOName`` in a property list is something a
  family chose to publish.

``getName(plane)`` is the name set for that plane, else the name set for all
planes, else the class name; ``getLocation`` likewise, without the class fallback.
Links are ordered: children list in the order they were attached, and that order is
the order ``ioreg`` prints.  Attaching retains both sides, detaching releases them.

Every entry has a unique 64-bit ``getRegistryEntryID()`` from its registry
(``0x100000100`` for the root, as on a Mac).

Paths: ``getPath(plane)`` is ``Plane:/name@location/...``; ``IORegistry.fromPath``
parses them back, with aliases in the device-tree plane.

Threading rules: call from the machine's threads and events; nothing blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kextlab.kernel.libkern.collections import OSCollection, OSDictionary
from kextlab.kernel.libkern.convert import from_python
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSNumber, OSString

if TYPE_CHECKING:
    from kextlab.kernel.libkern.serialize import OSSerialize
    from kextlab.kernel.registry.plane import IORegistryPlane
    from kextlab.kernel.registry.registry import IORegistry


class IORegistryEntry(OSObject):
    """An entry of the I/O Registry."""

    def __init__(self) -> None:
        super().__init__()
        self._properties = OSDictionary()
        self._names: dict[str | None, str] = {}
        self._locations: dict[str | None, str] = {}
        self._parents: dict[str, list[IORegistryEntry]] = {}
        self._children: dict[str, list[IORegistryEntry]] = {}
        self._registry: IORegistry | None = None
        self._entry_id = 0
        #: For device-tree entries: the firmware's unit address (``d`` of
        #: ``pci-bridge@d``), so that firmware paths and aliases resolve too.
        self.firmware_unit_address: str | None = None

    def init(
        self,
        dictionary: OSDictionary | IORegistryEntry | None = None,
        plane: IORegistryPlane | None = None,
    ) -> bool:
        """Take ``dictionary`` itself as the property table (``IORegistryEntry::init``:
        a driver's table *is* the matching dictionary probeCandidates made for it);
        an ``IOName`` string in it names the entry.

        ``init(old, plane)`` is xnu's other overload: this entry takes over ``old``'s
        property table, names and locations, and ``old``'s place in ``plane`` (its
        parents and children there now link to this entry).  It is how a platform or
        bus turns a device-tree entry into a nub of its own class."""
        if isinstance(dictionary, IORegistryEntry):
            if plane is None:
                raise TypeError("init(old, plane): a plane is needed to replace an entry")
            self._replace(dictionary, plane)
            return True
        if dictionary is not None:
            dictionary.retain()
            self._properties.release()
            self._properties = dictionary
        name = self._properties.getObject("IOName")
        if isinstance(name, OSString):
            self.setName(name.getCStringNoCopy())
        return True

    def _replace(self, old: IORegistryEntry, plane: IORegistryPlane) -> None:
        old._properties.retain()
        self._properties.release()
        self._properties = old._properties
        self._names = dict(old._names)
        self._locations = dict(old._locations)
        self.firmware_unit_address = old.firmware_unit_address
        registry = old._registry
        if registry is not None:
            self.join_registry(registry)
        for parent in old.getParents(plane):
            siblings = parent._children[plane.name]
            siblings[siblings.index(old)] = self
            self._parents.setdefault(plane.name, []).append(parent)
            self.retain()
            old.release()
        old._parents.pop(plane.name, None)
        for child in old.getChildren(plane):
            parents = child._parents[plane.name]
            parents[parents.index(old)] = self
            self._children.setdefault(plane.name, []).append(child)
            self.retain()
            old.release()
        old._children.pop(plane.name, None)

    def __repr__(self) -> str:
        location = self.getLocation()
        at = f"@{location}" if location else ""
        return f"<{self.getClassName()} {self.getName()}{at} {self._entry_id:#x}>"

    # -- registry membership ----------------------------------------------------------------------

    @property
    def registry(self) -> IORegistry | None:
        return self._registry

    def join_registry(self, registry: IORegistry) -> None:
        """Give the entry its registry ID (done once, on first attach)."""
        if self._registry is None:
            self._registry = registry
            self._entry_id = registry.next_entry_id()

    def getRegistryEntryID(self) -> int:
        return self._entry_id

    # -- properties -------------------------------------------------------------------------------

    def getPropertyTable(self) -> OSDictionary:
        return self._properties

    def getProperty(self, key: str | OSString) -> OSObject | None:
        return self._properties.getObject(key)

    def copyProperty(self, key: str | OSString) -> OSObject | None:
        value = self._properties.getObject(key)
        if value is not None:
            value.retain()
        return value

    def setProperty(self, key: str | OSString, value: object, bits: int | None = None) -> bool:
        """Set a property; Python values are converted (``bits`` sizes an integer)."""
        if bits is not None:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"setProperty({key!r}): a bit size needs an integer value")
            converted: OSObject = OSNumber(value, bits)
        else:
            converted = from_python(value)
        self._properties.setObject(key, converted)
        converted.release()
        return True

    def removeProperty(self, key: str | OSString) -> None:
        self._properties.removeObject(key)

    def dictionaryWithProperties(self) -> OSDictionary:
        return OSDictionary.withDictionary(self._properties)

    def serializeProperties(self, serializer: OSSerialize) -> bool:
        return self._properties.serialize(serializer)

    def propertyExists(self, key: str | OSString) -> bool:
        return key in self._properties

    # -- names and locations ----------------------------------------------------------------------

    def getName(self, plane: IORegistryPlane | None = None) -> str:
        if plane is not None and plane.name in self._names:
            return self._names[plane.name]
        if None in self._names:
            return self._names[None]
        return self.getClassName()

    def setName(self, name: str, plane: IORegistryPlane | None = None) -> None:
        self._names[plane.name if plane is not None else None] = name

    def getLocation(self, plane: IORegistryPlane | None = None) -> str | None:
        if plane is not None and plane.name in self._locations:
            return self._locations[plane.name]
        return self._locations.get(None)

    def setLocation(self, location: str, plane: IORegistryPlane | None = None) -> None:
        self._locations[plane.name if plane is not None else None] = location

    def compareName(self, name: str) -> str | None:
        """``IORegistryEntry::compareName``: exact equality with the entry's name
        (its ``IOName``, else its class name); returns the name matched (Apple's
        ``matched`` out-parameter: here the key itself), or None."""
        return name if self.getName() == name else None

    def compareNames(self, names: OSObject) -> str | None:
        """``compareNames``: a string, or a collection of strings tried in order;
        the first that ``compareName`` (a virtual: families override it) accepts."""
        if isinstance(names, OSString):
            candidates = [names]
        elif isinstance(names, OSCollection) and not isinstance(names, OSDictionary):
            candidates = [name for name in names.members() if isinstance(name, OSString)]
        else:
            return None
        for name in candidates:
            matched = self.compareName(name.getCStringNoCopy())
            if matched is not None:
                return matched
        return None

    # -- links ------------------------------------------------------------------------------------

    def attachToParent(self, parent: IORegistryEntry, plane: IORegistryPlane) -> bool:
        """Link ``self`` under ``parent`` in ``plane`` (after its existing children)."""
        if parent is self:
            return False
        registry = parent._registry
        if registry is None:
            raise ValueError(f"{parent!r} is not in a registry")
        if self in parent._children.get(plane.name, []):
            return True
        self.join_registry(registry)
        self._parents.setdefault(plane.name, []).append(parent)
        parent._children.setdefault(plane.name, []).append(self)
        parent.retain()
        self.retain()
        return True

    def attachToChild(self, child: IORegistryEntry, plane: IORegistryPlane) -> bool:
        return child.attachToParent(self, plane)

    def detachFromParent(self, parent: IORegistryEntry, plane: IORegistryPlane) -> None:
        parents = self._parents.get(plane.name, [])
        if parent not in parents:
            return
        parents.remove(parent)
        parent._children[plane.name].remove(self)
        parent.release()
        self.release()

    def detachAbove(self, plane: IORegistryPlane) -> None:
        """Detach from every parent in ``plane``."""
        for parent in list(self._parents.get(plane.name, [])):
            self.detachFromParent(parent, plane)

    def detachAll(self, plane: IORegistryPlane) -> None:
        """Take the subtree apart (``IORegistryEntry::detachAll``): detach this entry
        from its parents, then every entry below it from all of its parents, the
        last one found first."""
        below = list(self.iterate(plane, recursive=True))
        self.detachAbove(plane)
        for entry in reversed(below):
            entry.detachAbove(plane)

    def getParentEntry(self, plane: IORegistryPlane) -> IORegistryEntry | None:
        parents = self._parents.get(plane.name)
        return parents[0] if parents else None

    def getChildEntry(self, plane: IORegistryPlane) -> IORegistryEntry | None:
        children = self._children.get(plane.name)
        return children[0] if children else None

    def getParents(self, plane: IORegistryPlane) -> list[IORegistryEntry]:
        return list(self._parents.get(plane.name, []))

    def getChildren(self, plane: IORegistryPlane) -> list[IORegistryEntry]:
        return list(self._children.get(plane.name, []))

    def isChild(self, child: IORegistryEntry, plane: IORegistryPlane) -> bool:
        """Whether ``child`` is a child of this entry (``parent->isChild(child, plane)``)."""
        return child in self._children.get(plane.name, [])

    def isParent(self, parent: IORegistryEntry, plane: IORegistryPlane) -> bool:
        """Whether ``parent`` is a parent of this entry (``child->isParent(parent, plane)``)."""
        return parent in self._parents.get(plane.name, [])

    def inPlane(self, plane: IORegistryPlane) -> bool:
        return bool(self._parents.get(plane.name)) or (
            self._registry is not None and self._registry.getRoot() is self
        )

    def planes(self) -> list[str]:
        """Names of the planes the entry has parents in."""
        return [name for name, parents in self._parents.items() if parents]

    def getDepth(self, plane: IORegistryPlane) -> int:
        depth = 0
        entry = self.getParentEntry(plane)
        while entry is not None:
            depth += 1
            entry = entry.getParentEntry(plane)
        return depth

    def iterate(
        self, plane: IORegistryPlane, *, recursive: bool = False
    ) -> Iterator[IORegistryEntry]:
        """The children in ``plane`` (depth first over all descendants if ``recursive``)."""
        for child in self.getChildren(plane):
            yield child
            if recursive:
                yield from child.iterate(plane, recursive=True)

    # -- paths ------------------------------------------------------------------------------------

    def path_component(self, plane: IORegistryPlane) -> str:
        location = self.getLocation(plane)
        name = self.getName(plane)
        return f"{name}@{location}" if location else name

    def getPath(self, plane: IORegistryPlane) -> str | None:
        """``Plane:/a/b@loc`` from the plane's top entry down to this one."""
        if self._registry is None:
            return None
        return self._registry.getPath(self, plane)

    def free(self) -> None:
        self._properties.release()
        super().free()
