"""The platform: the device-tree plane and the top of the service plane."""

from kextlab.kernel.platform.device_tree import build_device_tree_plane, device_tree_location
from kextlab.kernel.platform.expert import (
    IODTPlatformExpert,
    IOPlatformDevice,
    IOPlatformExpert,
    IOPlatformExpertDevice,
    IOResources,
    KextLabPlatformExpert,
)

__all__ = [
    "IODTPlatformExpert",
    "IOPlatformDevice",
    "IOPlatformExpert",
    "IOPlatformExpertDevice",
    "IOResources",
    "KextLabPlatformExpert",
    "build_device_tree_plane",
    "device_tree_location",
]
