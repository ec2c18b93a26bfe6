"""The kernel of one machine: where libkern, the registry and the platform meet.

``Kernel(machine, device_tree).start()`` is the kernel's part of booting, after the
firmware has built the device tree (ARCHITECTURE.md §6):

1. the kernel's ``ClassRegistry`` and I/O Registry come into being, and the kernel
   registers itself with the machine's scheduler, so every object created by code
   running on this machine is counted in this kernel;
2. the platform mirrors the device tree into the ``IODeviceTree`` plane; its root
   node becomes the ``IOPlatformExpertDevice``, attached under the registry root in
   the ``IOService`` plane too;
3. the platform expert attaches to the platform expert device, and ``IOResources``
   appears beside it and publishes the ``IOKit`` resource;
4. the three are marked registered and matched (the catalogue that would have
   matched them arrives with driver matching).

Later stages (matching, kexts, PCI nubs) hang off ``Kernel``; the seams are
``platform_expert`` (publishes nubs), ``resources`` and ``registry``.

Threading rules: ``start`` runs on the host context of the machine; the kernel's own
code runs on its threads and events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kextlab import __version__
from kextlab.kernel.libkern.object import KERNEL_EXTENSION, ClassRegistry
from kextlab.kernel.platform.device_tree import build_device_tree_plane
from kextlab.kernel.platform.expert import (
    IOPlatformExpertDevice,
    IOResources,
    KextLabPlatformExpert,
)
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import IORegistry, kIOServicePlane
from kextlab.kernel.service.service import kIOServiceMatchedState, kIOServiceRegisteredState

if TYPE_CHECKING:
    from kextlab.firmware.devicetree import DeviceTree
    from kextlab.machine.machine import Machine


class Kernel:
    """The kernel of ``machine``, started from ``device_tree``."""

    def __init__(self, machine: Machine, device_tree: DeviceTree) -> None:
        self.machine = machine
        self.scheduler = machine.scheduler
        self.device_tree = device_tree
        self.classes = ClassRegistry()
        self.scheduler.extensions[KERNEL_EXTENSION] = self.classes
        self.scheduler.extensions["kernel"] = self
        description = machine.description
        self.version = (
            f"kextlab Kernel Version {__version__}: {description.model}; "
            f"root:kextlab/{description.arch}_{description.kernel_bits}"
        )
        with self.entered():
            self.registry = IORegistry(self.classes, self.version)
            self.platform_device = IOPlatformExpertDevice()
            self.platform_expert = KextLabPlatformExpert()
            self.resources = IOResources()
        self.device_tree_entries: dict[str, IORegistryEntry] = {}
        self.started = False

    @contextmanager
    def entered(self) -> Iterator[Kernel]:
        """Run host code as this kernel's code (its objects are counted here)."""
        with self.scheduler.entered():
            yield self

    def log(self, message: str) -> None:
        self.machine.log("kernel", message)

    def start(self) -> None:
        """Build the device-tree plane and the top of the service plane (once)."""
        if self.started:
            return
        self.started = True
        with self.entered():
            self.log(self.version)
            self.device_tree_entries = build_device_tree_plane(
                self.registry, self.device_tree, self.platform_device
            )
            service_plane = self.registry.plane(kIOServicePlane)
            device = self.platform_device
            device.attachToParent(self.registry.getRoot(), service_plane)
            self.platform_expert.attach(device)
            self.resources.attach(device)
            self.resources.publishResource("IOKit")
            for service in (device, self.platform_expert, self.resources):
                service.set_state_bits(kIOServiceRegisteredState | kIOServiceMatchedState)
            self.log(
                f"IOKit: {len(self.device_tree_entries)} device-tree entries, platform "
                f"{device.getName()}"
            )
