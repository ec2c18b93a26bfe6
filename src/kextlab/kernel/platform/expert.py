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

The platform expert also keeps the machine's interrupt controllers by name
(``registerInterruptController``/``lookUpInterruptController``, xnu's
``gIOInterruptControllers`` table kept per kernel): a lookup *waits* until a
controller of that name registers, as xnu's sleeps on the table's lock, so a nub
that registers an interrupt before its controller's driver has started blocks
rather than fails.  ``getPlatform()`` is ``IOService::getPlatform``: the platform
expert of the running kernel once it has started (xnu's ``setPlatform``).

A platform nub's device memory comes from its ``reg`` (``getNubResources``:
``IODTResolveAddressing``, ``kextlab.kernel.platform.addressing``) and its interrupt
properties from ``IODTMapInterrupts`` (``kextlab.kernel.platform.interrupt_map``),
both when ``createNubs`` publishes it.  (xnu maps every entry's interrupts when it
builds the tree and resolves a nub's addresses just before matching it; kextlab does
both at publication, before anything can match the nub.)

Threading rules: ``createNubs`` runs on the platform expert's config thread;
``lookUpInterruptController`` may block (kernel threads, the entered host); the
rest never blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.libkern.collections import OSArray, OSCollection, OSDictionary
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSString, OSSymbol
from kextlab.kernel.locks import (
    THREAD_UNINT,
    IOLock,
    IOLockAlloc,
    IOLockFree,
    IOLockLock,
    IOLockSleep,
    IOLockUnlock,
    IOLockWakeup,
)
from kextlab.kernel.memory.device_memory import IODeviceMemory, IOMemoryMap
from kextlab.kernel.platform.addressing import IODTResolveAddressing
from kextlab.kernel.platform.interrupt_map import IODTMapInterrupts
from kextlab.kernel.platform.names import compare_nub_name, name_matching_property
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.kernel.service.service import IOService, ScoreRef
from kextlab.sim.scheduler import current_scheduler

if TYPE_CHECKING:
    from kextlab.kernel.platform.interrupt_controller import IOInterruptController

#: Where the running kernel's platform expert is found (``Scheduler.extensions``).
PLATFORM_EXTENSION: Final = "platform"


def getPlatform() -> IOPlatformExpert | None:
    """``IOService::getPlatform``: the running kernel's platform expert, once started."""
    scheduler = current_scheduler()
    platform = scheduler.extensions.get(PLATFORM_EXTENSION) if scheduler is not None else None
    return platform if isinstance(platform, IOPlatformExpert) else None


class IOPlatformExpertDevice(IOService):
    """The machine itself: root of the device tree, top of the service plane."""


class IOPlatformDevice(IOService):
    """A nub the platform expert publishes for a device-tree node."""

    def __init__(self) -> None:
        super().__init__()
        self._memory: list[IODeviceMemory] | None = None

    def compareName(self, name: str) -> str | None:
        """Device-tree name matching (``IODTCompareNubName``, spec §1.6)."""
        return compare_nub_name(self.property_for_name_matching, name)

    def property_for_name_matching(self, key: str) -> bytes | str | None:
        """A property as ``IODTCompareNubName`` reads it: data bytes or a string."""
        return name_matching_property(self, key)

    # -- device memory (IOService's accessors, over the nub's own ranges) -------------------------

    def getResources(self) -> int:
        """Ask the platform expert for this nub's device memory."""
        provider = self.getProvider()
        if isinstance(provider, IOPlatformExpert):
            return provider.getNubResources(self)
        return kIOReturnSuccess

    def getDeviceMemory(self) -> list[IODeviceMemory] | None:
        return self._memory

    def setDeviceMemory(self, ranges: list[IODeviceMemory]) -> None:
        """Take over ``ranges`` (the nub releases them when it is freed)."""
        for memory in self._memory or []:
            memory.release()
        self._memory = list(ranges)

    def getDeviceMemoryCount(self) -> int:
        return len(self._memory or [])

    def getDeviceMemoryWithIndex(self, index: int) -> IODeviceMemory | None:
        memory = self._memory or []
        return memory[index] if 0 <= index < len(memory) else None

    def mapDeviceMemoryWithIndex(self, index: int, options: int = 0) -> IOMemoryMap | None:
        """A new mapping of range ``index`` (the caller releases it), or None."""
        memory = self.getDeviceMemoryWithIndex(index)
        return memory.map(options) if memory is not None else None

    def free(self) -> None:
        for memory in self._memory or []:
            memory.release()
        self._memory = None
        super().free()


class IOPlatformExpert(IOService):
    """The driver that knows the board."""

    def __init__(self) -> None:
        super().__init__()
        self._interrupt_controllers: dict[str, IOInterruptController] = {}
        self._interrupt_controllers_lock: IOLock | None = None
        #: What lookups sleep on (xnu sleeps on the table's address).
        self._interrupt_controllers_event = object()

    def start(self, provider: IOService) -> bool:
        """``IOService::setPlatform``: this becomes the kernel's platform, IOResources
        joins the service root and the ``IOKit`` resource is published; then the
        platform's nubs."""
        if not super().start(provider):
            return False
        self.globals.scheduler.extensions[PLATFORM_EXTENSION] = self
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

    def getNubResources(self, nub: IOService) -> int:
        """Give ``nub`` its device memory (a device-tree platform expert reads ``reg``)."""
        return kIOReturnSuccess

    # -- interrupt controllers --------------------------------------------------------------------

    def _controllers_lock(self) -> IOLock:
        if self._interrupt_controllers_lock is None:
            self._interrupt_controllers_lock = IOLockAlloc()
        return self._interrupt_controllers_lock

    def registerInterruptController(
        self, name: str, interruptController: IOInterruptController
    ) -> int:
        """Make ``interruptController`` the one named ``name`` and wake the lookups
        waiting for it."""
        lock = self._controllers_lock()
        IOLockLock(lock)
        interruptController.retain()
        previous = self._interrupt_controllers.get(name)
        self._interrupt_controllers[name] = interruptController
        if previous is not None:
            previous.release()
        IOLockWakeup(lock, self._interrupt_controllers_event, False)
        IOLockUnlock(lock)
        return kIOReturnSuccess

    def deregisterInterruptController(self, name: str) -> int:
        lock = self._controllers_lock()
        IOLockLock(lock)
        controller = self._interrupt_controllers.pop(name, None)
        if controller is not None:
            controller.release()
        IOLockUnlock(lock)
        return kIOReturnSuccess

    def lookUpInterruptController(self, name: str) -> IOInterruptController | None:
        """The controller named ``name``, sleeping until one registers (``THREAD_UNINT``:
        for ever, as xnu's)."""
        lock = self._controllers_lock()
        IOLockLock(lock)
        try:
            while (controller := self._interrupt_controllers.get(name)) is None:
                IOLockSleep(lock, self._interrupt_controllers_event, THREAD_UNINT)
            return controller
        finally:
            IOLockUnlock(lock)

    def free(self) -> None:
        for controller in self._interrupt_controllers.values():
            controller.release()
        self._interrupt_controllers.clear()
        if self._interrupt_controllers_lock is not None:
            IOLockFree(self._interrupt_controllers_lock)
            self._interrupt_controllers_lock = None
        super().free()


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
            IODTMapInterrupts(nub)
            if nub.attach(self):
                nub.getResources()
                nub.registerService()
            nub.release()

    def getNubResources(self, nub: IOService) -> int:
        """``nub``'s device memory from its ``reg`` (``IODTResolveAddressing``)."""
        if not isinstance(nub, IOPlatformDevice) or nub.getDeviceMemory() is not None:
            return kIOReturnSuccess
        ranges = IODTResolveAddressing(nub, "reg")
        if ranges is not None:
            nub.setDeviceMemory(ranges)
        return kIOReturnSuccess


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
