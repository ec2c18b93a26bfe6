"""The kernel of one machine: where libkern, the registry and the platform meet.

``Kernel(machine, device_tree).start()`` is the kernel's part of booting, after the
firmware has built the device tree (ARCHITECTURE.md §6):

1. the kernel's ``ClassRegistry``, I/O Registry and service layer
   (``ServiceGlobals``: catalogue, notifications, config threads) come into being,
   and the kernel registers itself with the machine's scheduler, so every object
   created by code running on this machine is counted in this kernel;
2. the platform mirrors the device tree into the ``IODeviceTree`` plane; its root
   node becomes the ``IOPlatformExpertDevice``, attached under the registry root in
   the ``IOService`` plane too;
3. the boot kexts load: the kernel's own (``com.kextlab.kernel.platform``: the
   platform expert) and those the caller passes (the families, built-in kexts),
   their classes registered and their personalities added to the catalogue;
4. the platform expert device is registered.  Matching (on config threads, as the
   machine runs) starts the platform expert, which attaches ``IOResources``,
   publishes the ``IOKit`` resource and publishes a nub per device-tree node; the
   host bridge driver matches its nub and publishes the PCI nubs, and so on down.

``Kernel.start`` returns with the registration queued; ``machine.run()`` (or
``wait_quiet``) lets it happen.

Threading rules: ``start`` runs on the host context of the machine; the kernel's own
code runs on its threads and events.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from kextlab import __version__
from kextlab.kernel.kext.builtin import KERNEL_VERSION, builtin_libraries
from kextlab.kernel.kext.dependencies import LibraryKext
from kextlab.kernel.kext.manager import KextManager
from kextlab.kernel.kext.version import parse_version
from kextlab.kernel.libkern.object import KERNEL_EXTENSION, ClassRegistry
from kextlab.kernel.log import message_buffer
from kextlab.kernel.platform.device_tree import build_device_tree_plane
from kextlab.kernel.platform.expert import (
    IOPlatformExpertDevice,
    IOResources,
    KextLabPlatformExpert,
)
from kextlab.kernel.platform.kextlab_interrupt_controller import KextLabInterruptController
from kextlab.kernel.registry.entry import IORegistryEntry
from kextlab.kernel.registry.registry import IORegistry, kIODeviceTreePlane, kIOServicePlane
from kextlab.kernel.resources import ResourceSnapshot, resources_beyond
from kextlab.kernel.service.globals import ServiceGlobals
from kextlab.kernel.service.service import IOService

if TYPE_CHECKING:
    from kextlab.firmware.devicetree import DeviceTree, DeviceTreeNode
    from kextlab.kernel.libkern.collections import OSDictionary
    from kextlab.kernel.libkern.object import OSObject
    from kextlab.machine.machine import Machine


class BootKext(Protocol):
    """What the kernel needs of a kext it loads at boot (a family, the platform)."""

    @property
    def bundle_id(self) -> str: ...

    def classes(self) -> Sequence[type[OSObject]]: ...

    def copy_personalities(self) -> list[OSDictionary]: ...

    def library(self) -> LibraryKext: ...


class Kernel:
    """The kernel of ``machine``, started from ``device_tree``."""

    def __init__(
        self,
        machine: Machine,
        device_tree: DeviceTree,
        boot_kexts: Sequence[BootKext] = (),
    ) -> None:
        self.machine = machine
        self.scheduler = machine.scheduler
        #: The message buffer (``dmesg``): kernel printf (``log``) and IOLog write it,
        #: echoed to the machine's console.
        self.message_buffer = message_buffer(self.scheduler)
        self.message_buffer.console = machine.log
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
            self.services = ServiceGlobals(
                self.scheduler, self.classes, self.registry, arch=description.arch, log=self.log
            )
            self.services.machine = machine
            self.platform_device = IOPlatformExpertDevice()
            self.resources = IOResources()
            self.services.resources = self.resources
        self.boot_kexts: list[BootKext] = [PLATFORM_KEXT, *boot_kexts]
        #: The kernel's loaded kexts: its KPIs and the boot kexts, then what is loaded.
        self.kexts = KextManager(
            self.services, [*builtin_libraries(), *(kext.library() for kext in self.boot_kexts)]
        )
        self.started = False
        #: What the kernel held when boot finished (``boot_finished``), or None.
        self.boot_state: ResourceSnapshot | None = None

    @contextmanager
    def entered(self) -> Iterator[Kernel]:
        """Run host code as this kernel's code (its objects are counted here)."""
        with self.scheduler.entered():
            yield self

    def log(self, message: str) -> None:
        """Kernel printf: a message for the message buffer and the console."""
        self.message_buffer.write("kernel", message)

    def start(self) -> None:
        """Build the device-tree plane and the top of the service plane (once)."""
        if self.started:
            return
        self.started = True
        with self.entered():
            self.log(self.version)
            build_device_tree_plane(self.registry, self.device_tree, self.platform_device)
            service_plane = self.registry.plane(kIOServicePlane)
            device = self.platform_device
            device.attachToParent(self.registry.getRoot(), service_plane)
            for kext in self.boot_kexts:
                self.load_boot_kext(kext)
            self.log(
                f"IOKit: {len(self.device_tree_entries)} device-tree entries, platform "
                f"{device.getName()}"
            )
            device.registerService()

    @property
    def device_tree_entries(self) -> dict[str, IORegistryEntry]:
        """The IODeviceTree entry of every firmware node, by its path.  Looked up
        afresh: a nub published for a node takes over the node's entry."""
        plane = self.registry.plane(kIODeviceTreePlane)
        entries: dict[str, IORegistryEntry] = {}

        def walk(node: DeviceTreeNode, entry: IORegistryEntry) -> None:
            entries[node.path] = entry
            for child_node, child in zip(node.children, entry.getChildren(plane), strict=True):
                walk(child_node, child)

        if self.started:
            walk(self.device_tree.root, self.platform_device)
        return entries

    def load_boot_kext(self, kext: BootKext) -> None:
        """Register a boot kext's classes and add its personalities (no matching yet)."""
        for cls in kext.classes():
            self.classes.register(cls, kext=kext.bundle_id)
        personalities = kext.copy_personalities()
        self.services.catalogue.addDrivers(personalities, doNubMatching=False)
        for table in personalities:
            table.release()

    @property
    def platform_expert(self) -> IOService | None:
        """The platform expert driver, once matching has started it."""
        return self.platform_device.getClient()

    def boot_finished(self) -> None:
        """Boot is over and the machine quiet: remember what the kernel holds, so that
        what drivers take later, and do not give back, can be reported."""
        with self.entered():
            self.boot_state = ResourceSnapshot.capture(self)

    def resources_since_boot(self) -> list[str]:
        """What the kernel holds beyond its state at the end of boot, one line each
        (``kextlab.kernel.resources``); empty when boot has not finished."""
        if self.boot_state is None:
            return []
        with self.entered():
            return resources_beyond(self, self.boot_state)

    def wait_quiet(self, timeout: int | None = None) -> int:
        """Run until the whole service plane is quiet (``IOService::waitQuiet`` on
        the root service)."""
        with self.entered():
            return self.platform_device.waitQuiet(timeout)


class _PlatformKext:
    """The kernel's own boot kext: the platform expert, the interrupt controller's
    driver, and their personalities."""

    bundle_id = "com.kextlab.kernel.platform"

    def classes(self) -> Sequence[type[OSObject]]:
        return (KextLabPlatformExpert, KextLabInterruptController)

    def library(self) -> LibraryKext:
        return LibraryKext(
            self.bundle_id,
            parse_version(KERNEL_VERSION),
            parse_version(KERNEL_VERSION),
            origin="the kextlab kernel",
        )

    def copy_personalities(self) -> list[OSDictionary]:
        from kextlab.kernel.libkern.collections import OSDictionary
        from kextlab.kernel.libkern.convert import from_python

        tables = []
        for personality in (
            {
                "IOClass": "KextLabPlatformExpert",
                "IOProviderClass": "IOPlatformExpertDevice",
                "CFBundleIdentifier": self.bundle_id,
            },
            {
                "IOClass": "KextLabInterruptController",
                "IOProviderClass": "IOPlatformDevice",
                "IONameMatch": "kextlab,pic",
                "CFBundleIdentifier": self.bundle_id,
            },
        ):
            table = from_python(personality)
            assert isinstance(table, OSDictionary)
            tables.append(table)
        return tables


PLATFORM_KEXT: BootKext = _PlatformKext()
