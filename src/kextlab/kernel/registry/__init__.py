"""The I/O Registry: entries, planes, paths.

Public surface::

    IORegistryEntry, IORegistryPlane, IORegistry
    kIOServicePlane, kIODeviceTreePlane, kIOPowerPlane
"""

from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.plane import IORegistryPlane
from kextlab.kernel.registry.registry import (
    IORegistry,
    kIODeviceTreePlane,
    kIOPowerPlane,
    kIOServicePlane,
)

__all__ = [
    "IORegistry",
    "IORegistryEntry",
    "IORegistryPlane",
    "kIODeviceTreePlane",
    "kIOPowerPlane",
    "kIOServicePlane",
]
