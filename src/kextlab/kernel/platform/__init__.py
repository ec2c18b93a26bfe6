"""The platform: the device-tree plane, the top of the service plane, interrupt
controllers."""

from kextlab.kernel.platform.device_tree import build_device_tree_plane, device_tree_location
from kextlab.kernel.platform.expert import (
    IODTPlatformExpert,
    IOPlatformDevice,
    IOPlatformExpert,
    IOPlatformExpertDevice,
    IOResources,
    KextLabPlatformExpert,
    getPlatform,
)
from kextlab.kernel.platform.interrupt_controller import (
    IOInterruptController,
    IOInterruptVector,
    IOSharedInterruptController,
    kIOInterruptTypeEdge,
    kIOInterruptTypeLevel,
)
from kextlab.kernel.platform.interrupt_map import IODTInterruptControllerName, IODTMapInterrupts
from kextlab.kernel.platform.kextlab_interrupt_controller import KextLabInterruptController

__all__ = [
    "IODTInterruptControllerName",
    "IODTMapInterrupts",
    "IODTPlatformExpert",
    "IOInterruptController",
    "IOInterruptVector",
    "IOPlatformDevice",
    "IOPlatformExpert",
    "IOPlatformExpertDevice",
    "IOResources",
    "IOSharedInterruptController",
    "KextLabInterruptController",
    "KextLabPlatformExpert",
    "build_device_tree_plane",
    "device_tree_location",
    "getPlatform",
    "kIOInterruptTypeEdge",
    "kIOInterruptTypeLevel",
]
