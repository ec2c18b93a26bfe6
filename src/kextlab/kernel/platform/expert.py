"""The top of the service plane: IOPlatformExpertDevice, the platform expert, IOResources.

Mirrors xnu's ``IOPlatformExpert.cpp`` and ``IOResources`` (``IOService.cpp``):

* ``IOPlatformExpertDevice`` is the machine: in the device-tree plane it is the
  tree's root node, and in the service plane the first entry under the registry
  root, named after the machine's model (the root node's first ``compatible``
  string, as xnu renames it);
* the platform expert is the driver of that device: it knows the board (for a
  device-tree machine, ``IODTPlatformExpert``; kextlab's is
  ``KextLabPlatformExpert``), and later publishes the platform's nubs;
* ``IOResources`` is the provider of resource-matched drivers.  ``publishResource``
  sets a property naming the resource; a resource published without a value gets
  the string ``"IOService"``, which is what a Mac's registry shows.
"""

from __future__ import annotations

from kextlab.kernel.libkern.collections import OSArray, OSCollection, OSDictionary
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSString, OSSymbol
from kextlab.kernel.platform.names import compare_nub_name, name_matching_property
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.kernel.service.service import IOService, ScoreRef


class IOPlatformExpertDevice(IOService):
    """The machine itself: root of the device tree, top of the service plane."""


class IOPlatformDevice(IOService):
    """A nub the platform expert publishes for a device-tree node."""

    def compareName(self, name: str) -> str | None:
        """Device-tree name matching (``IODTCompareNubName``, spec §1.6)."""
        return compare_nub_name(self.property_for_name_matching, name)

    def property_for_name_matching(self, key: str) -> bytes | str | None:
        """A property as ``IODTCompareNubName`` reads it: data bytes or a string."""
        return name_matching_property(self, key)


class IOPlatformExpert(IOService):
    """The driver that knows the board."""

    def start(self, provider: IOService) -> bool:
        """``IOService::setPlatform``: IOResources joins the service root and the
        ``IOKit`` resource is published; then the platform's nubs."""
        if not super().start(provider):
            return False
        resources = self.globals.resources
        if resources is not None and resources.getProvider() is None:
            resources.attach(provider)
            resources.registerService()
            resources.publish_resource("IOKit")
        self.createNubs(provider)
        self.registerService()
        return True

    def createNubs(self, provider: IOService) -> None:
        """Publish the platform's nubs (a device-tree platform expert overrides it)."""


class IODTPlatformExpert(IOPlatformExpert):
    """A platform expert for machines described by an Open Firmware device tree."""

    #: Device-tree nodes that describe the machine rather than a device to drive
    #: (``IODTPlatformExpert::createNubs`` skips the same kind of node).
    NOT_DEVICES = frozenset(
        {"aliases", "options", "openprom", "chosen", "packages", "memory", "cpus", "rtas"}
    )

    def createNubs(self, provider: IOService) -> None:
        """An ``IOPlatformDevice`` for each device node under the tree's root; each
        takes over its device-tree entry (``nub->init(from, gIODTPlane)``)."""
        registry = self.registry
        if registry is None:
            return
        plane = registry.plane(kIODeviceTreePlane)
        for node in provider.getChildren(plane):
            if node.getName(plane) in self.NOT_DEVICES or isinstance(node, IOPlatformDevice):
                continue
            nub = IOPlatformDevice()
            nub.init(node, plane)
            if nub.attach(self):
                nub.registerService()
            nub.release()


class KextLabPlatformExpert(IODTPlatformExpert):
    """The platform expert of kextlab's machines."""


class IOResources(IOService):
    """The provider of drivers that match on resources (``IOResourceMatch``)."""

    def matchPropertyTable(self, table: OSDictionary, score: ScoreRef) -> bool:
        """``IOResourcesMatchPropertyTable``: every resource ``IOResourceMatch`` lists
        (one string or a collection: all of them) must be published; the other form,
        ``IOResourceMatched``, must be among the keys seen at the last matching."""
        wanted = table.getObject("IOResourceMatch")
        if wanted is not None:
            items = (
                list(wanted.members())
                if isinstance(wanted, OSCollection) and not isinstance(wanted, OSDictionary)
                else [wanted]
            )
            return all(
                isinstance(item, OSString) and self.getProperty(item) is not None for item in items
            )
        matched = table.getObject("IOResourceMatched")
        if matched is not None:
            keys = self.getProperty("IOResourceMatched")
            # xnu compares symbols by identity; equal text is the same symbol
            return isinstance(keys, OSArray) and any(key.isEqualTo(matched) for key in keys)
        return True

    def publish_resource(self, key: str, value: OSObject | None = None) -> None:
        """Announce resource ``key`` (what the static ``IOService::publishResource``
        does to ``gIOResources``), then re-match resource drivers."""
        published: OSObject = value if value is not None else OSSymbol.withCString("IOService")
        if value is not None:
            value.retain()
        self.getPropertyTable().setObject(key, published)
        published.release()
        if self.registry is not None and self.getProvider() is not None:
            self.registerService()  # re-match the drivers waiting on resources
