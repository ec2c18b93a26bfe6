"""The medium's side of IOBlockStorageDriver: arrival, departure, eject, polling.

Mirrors the media half of ``IOBlockStorageDriver.cpp`` (IOStorageFamily):
``checkForMedia``, ``mediaStateHasChanged``, ``recordMediaParameters``,
``acceptNewMedia``, ``decommissionMedia``, ``ejectMedia``, ``formatMedia``,
``instantiateMediaObject``, the media messages and the (old) poller.
``MediaManagement`` is mixed into ``IOBlockStorageDriver`` (one Apple class, two
modules: the request side is ``request_pipeline``).

A medium present (at start, on ``kIOMessageMediaStateHasChanged`` with
``kIOMediaStateOnline``, or found by the poller) is *accepted*: its block size, last
block and write protection are recorded (``recordMediaParameters``) and a
whole-disk ``IOMedia`` named "<vendor> <product> Media" (Apple's ``strclean``
rules), with the icon Apple picks (``Removable``/``Internal``/``External``), is
attached, wired into the IODeviceTree plane at the device's unit when a provider
publishes ``IOUnit``, and registered.  A medium that goes away (offline message,
eject, the device terminated) is *decommissioned*: the media object is terminated;
a forcible decommission (the medium is gone) does so even while the media is open.
``kIOMessageMediaParametersHaveChanged`` re-reads the geometry into the live media.

Polling: modern transports report media changes with messages and Apple's modern
driver no longer polls.  A device that answers ``reportPollRequirements`` with
``pollRequired`` gets the older behaviour: the media state is checked every
``kPollerInterval`` ms on a thread call, until the driver stops.  Such a poll is an
event pending for ever: a machine with a polled device never goes idle, so it must
be run for a bounded time (``run(until)``), not "until quiet".

Threading rules: everything here runs on kernel threads and may block (the device
calls do); messages arrive on the thread that sends them; the poller runs on a
thread call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from kextlab.families.storage.block_storage_device import (
    kIOMediaStateOffline,
    kIOMediaStateOnline,
    kIOMessageMediaParametersHaveChanged,
    kIOMessageMediaStateHasChanged,
    kIOPropertyExternalKey,
    kIOPropertyPhysicalInterconnectLocationKey,
    kIOPropertyProtocolCharacteristicsKey,
)
from kextlab.families.storage.media import (
    IOMedia,
    kIOMediaAttributeEjectableMask,
    kIOMediaAttributeRemovableMask,
    kIOMediaIconKey,
)
from kextlab.families.storage.storage import IOStorage
from kextlab.kernel.clock import clock_interval_to_deadline, kMillisecondScale
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnBusy,
    kIOReturnNoMedia,
    kIOReturnNoMemory,
    kIOReturnNotAttached,
    kIOReturnSuccess,
)
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSNumber, OSString
from kextlab.kernel.memory.refs import BoolRef, UInt64Ref
from kextlab.kernel.registry.registry import kIODeviceTreePlane
from kextlab.kernel.service.service import (
    IOService,
    kIOMessageServiceIsRequestingClose,
    kIOMessageServicePropertyChange,
    kIOServiceAsynchronous,
)
from kextlab.kernel.threads import (
    thread_call_allocate,
    thread_call_cancel,
    thread_call_enter_delayed,
    thread_call_t,
)

if TYPE_CHECKING:
    from kextlab.families.storage.block_storage_device import IOBlockStorageDevice
    from kextlab.kernel.registry.entry import IORegistryEntry

    _Base = IOStorage
else:
    _Base = object

__all__ = ["MediaManagement", "copy_property_in_service_plane", "kPollerInterval"]

#: How often a device that needs polling is polled for media, in ms (Apple's value).
kPollerInterval: Final = 1000


def copy_property_in_service_plane(service: IORegistryEntry, key: str) -> OSObject | None:
    """``getProperty(key, gIOServicePlane)`` with Apple's default options: the entry
    itself, then its providers, nearest first."""
    from kextlab.kernel.registry.registry import kIOServicePlane

    registry = service.registry
    entry: IORegistryEntry | None = service
    while entry is not None:
        value = entry.getProperty(key)
        if value is not None:
            return value
        entry = entry.getParentEntry(registry.plane(kIOServicePlane)) if registry else None
    return None


def _clean_name(name: str) -> str:
    """``strclean``: trim spaces at both ends, drop control characters, collapse runs
    of spaces."""
    printable = "".join(character for character in name if character >= " ")
    return " ".join(printable.split())


def _number(value: OSObject | None) -> int | None:
    return value.unsigned32BitValue() if isinstance(value, OSNumber) else None


class MediaManagement(_Base):
    """The medium methods of ``IOBlockStorageDriver`` (a mixin: see the module)."""

    if TYPE_CHECKING:
        _mediaObject: IOMedia | None
        _ejectable: bool
        _removable: bool
        _writeProtected: bool
        _mediaBlockSize: int
        _maxBlockNumber: int
        _mediaType: int
        _openClients: list[IOService]
        _pollerCall: thread_call_t | None
        _polling: bool

        def getProvider(self) -> IOBlockStorageDevice | None: ...

        def _log_error(self, where: str, call: str, result: int) -> None: ...

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        if type == kIOMessageMediaParametersHaveChanged:
            return self._with_open(self._parameters_changed)
        if type == kIOMessageMediaStateHasChanged:
            state = argument if isinstance(argument, int) else kIOMediaStateOffline
            return self._with_open(lambda: self.mediaStateHasChanged(state))
        if type == kIOMessageServiceIsRequestingClose:
            return self.decommissionMedia(False)
        return super().message(type, provider, argument)

    def _with_open(self, work: Callable[[], int]) -> int:
        """``work()`` with the driver holding itself (and so the device) open."""
        if not self.open(self):
            return kIOReturnNotAttached
        try:
            result = work()
        finally:
            self.close(self)
        return result

    def _parameters_changed(self) -> int:
        status = self.recordMediaParameters()
        if status != kIOReturnSuccess:
            return status
        media = self._mediaObject
        if media is None:
            return kIOReturnNoMedia
        media.init(
            0,
            self._media_size(),
            self._mediaBlockSize,
            media.getAttributes(),
            True,
            not self._writeProtected,
            media.getContentHint(),
        )
        media.messageClients(kIOMessageServicePropertyChange)
        return kIOReturnSuccess

    def _media_size(self) -> int:
        return self._mediaBlockSize * (self._maxBlockNumber + 1) if self._maxBlockNumber else 0

    def checkForMedia(self) -> int:
        """Ask the device whether a medium is present; act on a change."""
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        present, changed = BoolRef(), BoolRef()
        result = device.reportMediaState(present, changed)
        if result != kIOReturnSuccess:
            self._log_error("checkForMedia", "reportMediaState", result)
            return result
        if (self._mediaObject is None) == present.value:
            return self.mediaStateHasChanged(
                kIOMediaStateOnline if present.value else kIOMediaStateOffline
            )
        return kIOReturnSuccess

    def mediaStateHasChanged(self, state: int) -> int:
        """A medium arrived (accept it) or left (decommission it)."""
        if state == kIOMediaStateOnline:
            if self._mediaObject is not None:
                return kIOReturnBadArgument
            self.initMediaState()
            if not self.validateNewMedia():
                self.rejectMedia()
                return kIOReturnSuccess
            result = self.recordMediaParameters()
            if result != kIOReturnSuccess:
                self._log_error("mediaStateHasChanged", "recordMediaParameters", result)
                return result
            result = self.acceptNewMedia()
            if result != kIOReturnSuccess:
                self._log_error("mediaStateHasChanged", "acceptNewMedia", result)
            return result
        result = self.decommissionMedia(True)
        if result not in (kIOReturnSuccess, kIOReturnNoMedia):
            self._log_error("mediaStateHasChanged", "decommissionMedia", result)
            return result
        return kIOReturnSuccess

    def recordMediaParameters(self) -> int:
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        block_size, max_block, protected = UInt64Ref(), UInt64Ref(), BoolRef()
        for result in (
            device.reportBlockSize(block_size),
            device.reportMaxValidBlock(max_block),
            device.reportWriteProtection(protected),
        ):
            if result != kIOReturnSuccess:
                return result
        self._mediaBlockSize = block_size.value
        self._maxBlockNumber = max_block.value
        self._writeProtected = protected.value
        return kIOReturnSuccess

    def acceptNewMedia(self) -> int:
        """Make the medium show up: a whole-disk IOMedia, registered for matching."""
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        words = [word for word in (device.getVendorString(), device.getProductString()) if word]
        media = self.instantiateMediaObject(
            0, self._media_size(), self._mediaBlockSize, _clean_name(" ".join([*words, "Media"]))
        )
        if media is None:
            return kIOReturnBadArgument
        try:
            if copy_property_in_service_plane(self, kIOMediaIconKey) is not None:
                media.removeProperty(kIOMediaIconKey)
            if not media.attach(self):
                return kIOReturnNoMemory
            self._attach_to_device_tree(media)
            media.retain()
            self._mediaObject = media
            media.registerService(kIOServiceAsynchronous)
        finally:
            media.release()
        return kIOReturnSuccess

    def _attach_to_device_tree(self, media: IOMedia) -> None:
        """Wire the media under the device's node in the IODeviceTree plane, at its
        unit (``IOUnit``/``IOUnitLUN``/``IOUnitName`` found on the way up)."""
        registry = self.registry
        if registry is None:
            return
        plane = registry.plane(kIODeviceTreePlane)
        unit = unit_lun = unit_name = None
        parent: IOService | None = self.getProvider()
        while parent is not None:
            unit = unit if unit is not None else _number(parent.getProperty("IOUnit"))
            unit_lun = (
                unit_lun if unit_lun is not None else _number(parent.getProperty("IOUnitLUN"))
            )
            if unit_name is None:
                name = parent.getProperty("IOUnitName")
                unit_name = name.getCStringNoCopy() if isinstance(name, OSString) else None
            if parent.inPlane(plane):
                if unit is None or parent.getProvider() is None:
                    return
                for child in parent.getChildren(plane):
                    if not isinstance(child, IOMedia):
                        child.detachAll(plane)
                if media.attachToParent(parent, plane):
                    location = f"{unit:x},{unit_lun:x}:0" if unit_lun else f"{unit:x}:0"
                    media.setLocation(location, plane)
                    media.setName(unit_name or "", plane)
                return
            parent = parent.getProvider()

    def decommissionMedia(self, forcible: bool) -> int:
        """Tear the media down (forcibly: the medium is gone; otherwise only if no
        client has it open: ``kIOReturnBusy``)."""
        media = self._mediaObject
        if media is None:
            return kIOReturnNoMedia
        if not forcible and media in self._openClients:
            return kIOReturnBusy
        self._mediaObject = None
        registry = media.registry
        if registry is not None:
            plane = registry.plane(kIODeviceTreePlane)
            parent = media.getParentEntry(plane)
            if parent is not None:
                media.detachFromParent(parent, plane)
        if not media.isInactive():
            media.terminate()
        media.release()
        return kIOReturnSuccess

    def ejectMedia(self) -> int:
        """Eject: refused while the media is open; flush the cache first."""
        if self._ejectable:
            result = self.decommissionMedia(False)
        elif self._mediaObject is None:
            result = kIOReturnNoMedia
        else:
            result = kIOReturnBusy if self._mediaObject in self._openClients else kIOReturnSuccess
        if result != kIOReturnSuccess:
            return result
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        if not self._writeProtected:
            device.doSynchronize(0, 0)
        return device.doEjectMedia()

    def formatMedia(self, byteCapacity: int) -> int:
        result = self.decommissionMedia(False)
        if result != kIOReturnSuccess:
            return result
        device = self.getProvider()
        if device is None:
            return kIOReturnNotAttached
        result = device.doFormatMedia(byteCapacity)
        online = self.mediaStateHasChanged(kIOMediaStateOnline)
        return online if result == kIOReturnSuccess else result

    def initMediaState(self) -> None:
        self._mediaType = 0

    def validateNewMedia(self) -> bool:
        """Whether to accept the new medium (a subclass may refuse it)."""
        return True

    def rejectMedia(self) -> None:
        device = self.getProvider()
        if device is not None:
            device.doEjectMedia()

    def instantiateDesiredMediaObject(self) -> IOMedia:
        return IOMedia()

    def instantiateMediaObject(
        self, base: int, byteSize: int, blockSize: int, mediaName: str | None
    ) -> IOMedia | None:
        """A new whole-disk media object (not attached)."""
        media = self.instantiateDesiredMediaObject()
        attributes = (kIOMediaAttributeEjectableMask if self._ejectable else 0) | (
            kIOMediaAttributeRemovableMask if self._removable else 0
        )
        if not media.init(
            base, byteSize, blockSize, attributes, True, not self._writeProtected, ""
        ):
            media.release()
            return None
        media.setProperty(
            kIOMediaIconKey,
            {
                "CFBundleIdentifier": "com.apple.iokit.IOStorageFamily",
                "IOBundleResourceFile": self._icon(),
            },
        )
        if mediaName:
            media.setName(mediaName)
        return media

    def _icon(self) -> str:
        if self._removable:
            return "Removable.icns"
        device = self.getProvider()
        protocol = device.getProperty(kIOPropertyProtocolCharacteristicsKey) if device else None
        if isinstance(protocol, OSDictionary):
            location = protocol.getObject(kIOPropertyPhysicalInterconnectLocationKey)
            if isinstance(location, OSString):
                return (
                    "External.icns"
                    if location.isEqualTo(kIOPropertyExternalKey)
                    else "Internal.icns"
                )
        return "External.icns"

    def getDeviceTypeName(self) -> str:
        return "Generic"

    def getFormatCapacities(self, capacities: list[int] | None, capacitiesMaxCount: int) -> int:
        device = self.getProvider()
        return device.doGetFormatCapacities(capacities, capacitiesMaxCount) if device else 0

    def getMediaBlockSize(self) -> int:
        return self._mediaBlockSize

    def getMediaState(self) -> int:
        return kIOMediaStateOnline if self._mediaObject is not None else kIOMediaStateOffline

    def isMediaEjectable(self) -> bool:
        return self._ejectable

    def isMediaRemovable(self) -> bool:
        return self._removable

    def isMediaWritable(self) -> bool:
        return not self._writeProtected

    def isMediaPollRequired(self) -> bool:
        return self._polling

    def isMediaPollExpensive(self) -> bool:
        return False

    def schedulePoller(self) -> None:
        """Check for media again in ``kPollerInterval`` ms (devices that need polling)."""
        if self._pollerCall is None:
            self._pollerCall = thread_call_allocate(MediaManagement.poller, self)
        thread_call_enter_delayed(
            self._pollerCall, clock_interval_to_deadline(kPollerInterval, kMillisecondScale)
        )

    def unschedulePoller(self) -> None:
        self._polling = False
        if self._pollerCall is not None:
            thread_call_cancel(self._pollerCall)

    @staticmethod
    def poller(parameter: Any, _unused: Any) -> None:
        driver: MediaManagement = parameter
        if not driver._polling or driver.isInactive():
            return
        driver.pollMedia()
        if driver._polling and not driver.isInactive():
            driver.schedulePoller()

    def pollMedia(self) -> int:
        """Poll once (``checkForMedia`` with the driver holding itself open)."""
        return self._with_open(self.checkForMedia)
