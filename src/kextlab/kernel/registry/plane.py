"""IORegistryPlane: one way of linking the registry's entries.

Mirrors ``IORegistryPlane`` in xnu's ``IORegistryEntry.cpp``.  Each plane is an
independent tree over the same entries: ``IOService`` (providers and clients),
``IODeviceTree`` (the firmware's device tree), ``IOPower`` (the power tree, used once
power management exists).  An entry can sit in several planes with a different name
and location in each.
"""

from __future__ import annotations

from kextlab.kernel.libkern.object import OSObject


class IORegistryPlane(OSObject):
    """A plane, identified by its name."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.nameKey = name
        self.pathNameKey = f"{name}Name"
        self.pathLocationKey = f"{name}Location"

    def __repr__(self) -> str:
        return f"<IORegistryPlane {self.name}>"
