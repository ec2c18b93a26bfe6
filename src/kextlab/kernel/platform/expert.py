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

from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSSymbol
from kextlab.kernel.service.service import IOService


class IOPlatformExpertDevice(IOService):
    """The machine itself: root of the device tree, top of the service plane."""


class IOPlatformExpert(IOService):
    """The driver that knows the board."""


class IODTPlatformExpert(IOPlatformExpert):
    """A platform expert for machines described by an Open Firmware device tree."""


class KextLabPlatformExpert(IODTPlatformExpert):
    """The platform expert of kextlab's machines."""


class IOResources(IOService):
    """The provider of drivers that match on resources (``IOResourceMatch``)."""

    def publishResource(self, key: str, value: OSObject | None = None) -> None:
        """Announce resource ``key`` (xnu: ``IOService::publishResource``)."""
        published: OSObject = value if value is not None else OSSymbol.withCString("IOService")
        if value is not None:
            value.retain()
        self.getPropertyTable().setObject(key, published)
        published.release()
