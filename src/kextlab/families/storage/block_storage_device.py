"""IOBlockStorageDevice: the nub a block storage driver drives.

Mirrors ``IOBlockStorageDevice.h``/``.cpp`` of IOStorageFamily, in its modern form.
A transport (``IOBlockStorageServices`` over SCSI, a RAM disk, a disk image)
subclasses it, implements the device calls below and registers the nub;
``IOBlockStorageDriver`` matches it (``IOProviderClass = IOBlockStorageDevice``,
``IOPropertyMatch = {"device-type" = "Generic"}``: ``init`` sets that property),
opens it and sends it every request, already aligned to blocks and cut to the
transfer limits the nub or its providers publish (the ``kIOMaximum*`` keys here,
xnu's ``IOKitKeys.h``).

What a subclass implements (C++'s pure virtuals; the base class raises
``NotImplementedError`` naming the class that forgot):

* ``doAsyncReadWrite(buffer, block, nblks, attributes, completion) -> IOReturn``:
  start a transfer of ``nblks`` blocks at ``block``; its direction is
  ``buffer.getDirection()``.  Return ``kIOReturnSuccess`` once it is under way and
  call ``IOStorage.complete(completion, status, actualByteCount)`` when it is done,
  from whatever context it finishes in (an HBA's work loop: the completion never
  blocks).  Any other return means it never started, and the completion must
  *not* be called.  The buffer is prepared (wired) for the whole transfer.
* ``doEjectMedia``, ``doFormatMedia(byteCapacity)``,
  ``doGetFormatCapacities(capacities, capacitiesMaxCount)``;
* ``getVendorString``, ``getProductString``, ``getRevisionString``,
  ``getAdditionalDeviceInfoString`` (str, or None when unknown);
* ``reportBlockSize(UInt64Ref)``, ``reportEjectability(BoolRef)``,
  ``reportMaxValidBlock(UInt64Ref)`` (the last addressable block: capacity - 1),
  ``reportMediaState(BoolRef mediaPresent, BoolRef changedState)``,
  ``reportRemovability(BoolRef)``, ``reportWriteProtection(BoolRef)``, each
  answering an IOReturn and its out-parameter (``kextlab.kernel.memory.refs``).

Optional, ``kIOReturnUnsupported`` unless overridden, as in Apple's class:
``getWriteCacheState``/``setWriteCacheState`` (also reachable as the
``WriteCacheState`` property: ``getProperty`` asks the device, ``setProperties``
sets it), ``doSynchronize(block, nblks, options)`` (whose default is the older
``doSynchronizeCache()``), ``doUnmap(extents, extentsCount, options)`` (default:
``doDiscard`` per extent), ``doSetPriority``, ``doGetProvisionStatus``,
``doLockUnlockMedia``, ``reportLockability``, ``reportPollRequirements``,
``requestIdle``.

A device tells its driver about the medium with messages: ``messageClients(
kIOMessageMediaStateHasChanged, kIOMediaStateOnline | kIOMediaStateOffline)`` when
a medium arrives or leaves, ``kIOMessageMediaParametersHaveChanged`` when its size
or block size changed.

Properties a transport publishes, as real dumps show them: ``"Device
Characteristics"`` (``"Vendor Name"``, ``"Product Name"``, ``"Product Revision
Level"``, optionally ``"Medium Type"``...) and ``"Protocol Characteristics"``
(``"Physical Interconnect"``, ``"Physical Interconnect Location"``); the keys are
below.

Departure: ``setProperties`` does not check that the calling task is an
administrator (``IOUserClient::clientHasPrivilege``): user tasks and their
privileges belong to the user-client layer.

Threading rules: the device calls are made by the driver on kernel threads (they
may block, e.g. to send a SCSI command and wait for it); ``doAsyncReadWrite`` is
called on a kernel thread too and must not block for long; completions run in the
device's context and never block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSObject
from kextlab.kernel.libkern.values import OSBoolean, OSString
from kextlab.kernel.memory.refs import BoolRef
from kextlab.kernel.service.service import IOService

if TYPE_CHECKING:
    from kextlab.families.storage.storage import IOStorageAttributes, IOStorageCompletion
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import UInt64Ref
    from kextlab.kernel.registry.entry import IORegistryEntry
    from kextlab.kernel.registry.plane import IORegistryPlane

__all__ = [
    "IOBlockStorageDevice",
    "IOBlockStorageDeviceExtent",
    "iokit_family_msg",
    "kIOBlockStorageDeviceClass",
    "kIOBlockStorageDeviceTypeGeneric",
    "kIOBlockStorageDeviceTypeKey",
    "kIOBlockStorageDeviceWriteCacheStateKey",
    "kIOCommandPoolSizeKey",
    "kIOMaximumBlockCountReadKey",
    "kIOMaximumBlockCountWriteKey",
    "kIOMaximumByteCountReadKey",
    "kIOMaximumByteCountWriteKey",
    "kIOMaximumSegmentAddressableBitCountKey",
    "kIOMaximumSegmentByteCountReadKey",
    "kIOMaximumSegmentByteCountWriteKey",
    "kIOMaximumSegmentCountReadKey",
    "kIOMaximumSegmentCountWriteKey",
    "kIOMediaStateOffline",
    "kIOMediaStateOnline",
    "kIOMessageMediaParametersHaveChanged",
    "kIOMessageMediaStateHasChanged",
    "kIOMinimumSegmentAlignmentByteCountKey",
    "kIOPropertyDeviceCharacteristicsKey",
    "kIOPropertyExternalKey",
    "kIOPropertyInternalExternalKey",
    "kIOPropertyInternalKey",
    "kIOPropertyLogicalBlockSizeKey",
    "kIOPropertyMediumTypeKey",
    "kIOPropertyMediumTypeRotationalKey",
    "kIOPropertyMediumTypeSolidStateKey",
    "kIOPropertyPhysicalBlockSizeKey",
    "kIOPropertyPhysicalInterconnectLocationKey",
    "kIOPropertyPhysicalInterconnectTypeKey",
    "kIOPropertyPhysicalInterconnectTypeSCSIParallel",
    "kIOPropertyProductNameKey",
    "kIOPropertyProductRevisionLevelKey",
    "kIOPropertyProductSerialNumberKey",
    "kIOPropertyProtocolCharacteristicsKey",
    "kIOPropertyVendorNameKey",
]

kIOBlockStorageDeviceClass: Final = "IOBlockStorageDevice"
kIOBlockStorageDeviceWriteCacheStateKey: Final = "WriteCacheState"
kIOBlockStorageDeviceTypeKey: Final = "device-type"
kIOBlockStorageDeviceTypeGeneric: Final = "Generic"

# -- messages (IOMessage.h: iokit_family_msg(sub_iokit_block_storage, n)) ------------------------
_SYS_IOKIT: Final = (0x38 & 0x3F) << 26
_SUB_IOKIT_BLOCK_STORAGE: Final = (4 & 0xFFF) << 14


def iokit_family_msg(sub: int, message: int) -> int:
    """``iokit_family_msg(sub, message)``: ``sys_iokit | sub | message``."""
    return _SYS_IOKIT | sub | message


kIOMessageMediaStateHasChanged: Final = iokit_family_msg(_SUB_IOKIT_BLOCK_STORAGE, 1)
kIOMessageMediaParametersHaveChanged: Final = iokit_family_msg(_SUB_IOKIT_BLOCK_STORAGE, 2)

#: ``IOMediaState``: the argument of ``kIOMessageMediaStateHasChanged``.
kIOMediaStateOffline: Final = 0
kIOMediaStateOnline: Final = 1

# -- transfer limits (xnu IOKitKeys.h), looked for on the driver's provider chain ---------------
kIOCommandPoolSizeKey: Final = "IOCommandPoolSize"
kIOMaximumBlockCountReadKey: Final = "IOMaximumBlockCountRead"
kIOMaximumBlockCountWriteKey: Final = "IOMaximumBlockCountWrite"
kIOMaximumByteCountReadKey: Final = "IOMaximumByteCountRead"
kIOMaximumByteCountWriteKey: Final = "IOMaximumByteCountWrite"
kIOMaximumSegmentCountReadKey: Final = "IOMaximumSegmentCountRead"
kIOMaximumSegmentCountWriteKey: Final = "IOMaximumSegmentCountWrite"
kIOMaximumSegmentByteCountReadKey: Final = "IOMaximumSegmentByteCountRead"
kIOMaximumSegmentByteCountWriteKey: Final = "IOMaximumSegmentByteCountWrite"
kIOMinimumSegmentAlignmentByteCountKey: Final = "IOMinimumSegmentAlignmentByteCount"
kIOMaximumSegmentAddressableBitCountKey: Final = "IOMaximumSegmentAddressableBitCount"

# -- IOStorageDeviceCharacteristics.h ------------------------------------------------------------
kIOPropertyDeviceCharacteristicsKey: Final = "Device Characteristics"
kIOPropertyVendorNameKey: Final = "Vendor Name"
kIOPropertyProductNameKey: Final = "Product Name"
kIOPropertyProductRevisionLevelKey: Final = "Product Revision Level"
kIOPropertyProductSerialNumberKey: Final = "Serial Number"
kIOPropertyPhysicalBlockSizeKey: Final = "Physical Block Size"
kIOPropertyLogicalBlockSizeKey: Final = "Logical Block Size"
kIOPropertyMediumTypeKey: Final = "Medium Type"
kIOPropertyMediumTypeRotationalKey: Final = "Rotational"
kIOPropertyMediumTypeSolidStateKey: Final = "Solid State"

# -- IOStorageProtocolCharacteristics.h ----------------------------------------------------------
kIOPropertyProtocolCharacteristicsKey: Final = "Protocol Characteristics"
kIOPropertyPhysicalInterconnectTypeKey: Final = "Physical Interconnect"
kIOPropertyPhysicalInterconnectLocationKey: Final = "Physical Interconnect Location"
kIOPropertyInternalKey: Final = "Internal"
kIOPropertyExternalKey: Final = "External"
kIOPropertyInternalExternalKey: Final = "Internal/External"
kIOPropertyPhysicalInterconnectTypeSCSIParallel: Final = "SCSI Parallel Interface"


@dataclass(slots=True)
class IOBlockStorageDeviceExtent:
    """``struct IOBlockStorageDeviceExtent``: a block range (``doUnmap``)."""

    blockStart: int = 0
    blockCount: int = 0


class IOBlockStorageDevice(IOService):
    """A block storage device nub (abstract: a transport implements the device calls)."""

    #: The ``device-type`` this class publishes (``kIOBlockStorageDeviceTypeGeneric``;
    #: the CD family's device says ``"CDROM"``).
    device_type: str = kIOBlockStorageDeviceTypeGeneric

    def init(
        self,
        dictionary: OSDictionary | IORegistryEntry | None = None,
        plane: IORegistryPlane | None = None,
    ) -> bool:
        """Initialise and publish ``device-type`` (what the driver's personality matches)."""
        if not super().init(dictionary, plane):
            return False
        return self.setProperty(kIOBlockStorageDeviceTypeKey, self.device_type)

    def getProperty(self, key: str | OSString) -> OSObject | None:
        """``WriteCacheState`` is asked of the device; the rest are properties."""
        name = key.getCStringNoCopy() if isinstance(key, OSString) else key
        if name == kIOBlockStorageDeviceWriteCacheStateKey:
            enabled = BoolRef()
            if self.getWriteCacheState(enabled) != kIOReturnSuccess:
                return None
            return OSBoolean.withBoolean(enabled.value)
        return super().getProperty(key)

    def setProperties(self, properties: OSObject) -> int:
        """Set ``WriteCacheState`` from a dictionary (``IORegistryEntrySetCFProperties``)."""
        if not isinstance(properties, OSDictionary):
            return kIOReturnBadArgument
        value = properties.getObject(kIOBlockStorageDeviceWriteCacheStateKey)
        if value is None:
            return kIOReturnUnsupported
        if not isinstance(value, OSBoolean):
            return kIOReturnBadArgument
        return self.setWriteCacheState(value.isTrue())

    # -- what a subclass must implement -----------------------------------------------------------

    def _pure(self, method: str) -> NotImplementedError:
        return NotImplementedError(
            f"{self.getClassName()} must implement IOBlockStorageDevice::{method}"
        )

    def doAsyncReadWrite(
        self,
        buffer: IOMemoryDescriptor,
        block: int,
        nblks: int,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> int:
        """Start transferring ``nblks`` blocks at ``block`` (direction: the buffer's)."""
        raise self._pure("doAsyncReadWrite")

    def doEjectMedia(self) -> int:
        raise self._pure("doEjectMedia")

    def doFormatMedia(self, byteCapacity: int) -> int:
        raise self._pure("doFormatMedia")

    def doGetFormatCapacities(self, capacities: list[int] | None, capacitiesMaxCount: int) -> int:
        """Store up to ``capacitiesMaxCount`` capacities; return how many there are."""
        raise self._pure("doGetFormatCapacities")

    def getVendorString(self) -> str | None:
        raise self._pure("getVendorString")

    def getProductString(self) -> str | None:
        raise self._pure("getProductString")

    def getRevisionString(self) -> str | None:
        raise self._pure("getRevisionString")

    def getAdditionalDeviceInfoString(self) -> str | None:
        raise self._pure("getAdditionalDeviceInfoString")

    def reportBlockSize(self, blockSize: UInt64Ref) -> int:
        raise self._pure("reportBlockSize")

    def reportEjectability(self, isEjectable: BoolRef) -> int:
        raise self._pure("reportEjectability")

    def reportMaxValidBlock(self, maxBlock: UInt64Ref) -> int:
        raise self._pure("reportMaxValidBlock")

    def reportMediaState(self, mediaPresent: BoolRef, changedState: BoolRef | None = None) -> int:
        raise self._pure("reportMediaState")

    def reportRemovability(self, isRemovable: BoolRef) -> int:
        raise self._pure("reportRemovability")

    def reportWriteProtection(self, isWriteProtected: BoolRef) -> int:
        raise self._pure("reportWriteProtection")

    # -- optional -----------------------------------------------------------------------------

    def getWriteCacheState(self, enabled: BoolRef) -> int:
        return kIOReturnUnsupported

    def setWriteCacheState(self, enabled: bool) -> int:
        return kIOReturnUnsupported

    def doLockUnlockMedia(self, doLock: bool) -> int:
        return kIOReturnUnsupported

    def reportLockability(self, isLockable: BoolRef) -> int:
        return kIOReturnUnsupported

    def reportPollRequirements(self, pollRequired: BoolRef, pollIsExpensive: BoolRef) -> int:
        """Whether the driver must poll for media (deprecated: modern transports send
        ``kIOMessageMediaStateHasChanged`` instead)."""
        return kIOReturnUnsupported

    def requestIdle(self) -> int:
        return kIOReturnUnsupported

    def doDiscard(self, block: int, nblks: int) -> int:
        return kIOReturnUnsupported

    def doUnmap(
        self,
        extents: list[IOBlockStorageDeviceExtent],
        extentsCount: int,
        options: int = 0,
    ) -> int:
        """Unmap each extent (default: ``doDiscard`` each; options are unsupported)."""
        if options:
            return kIOReturnUnsupported
        for extent in extents[:extentsCount]:
            result = self.doDiscard(extent.blockStart, extent.blockCount)
            if result != kIOReturnSuccess:
                return result
        return kIOReturnSuccess

    def doSetPriority(
        self, extents: list[IOBlockStorageDeviceExtent], extentsCount: int, priority: int
    ) -> int:
        return kIOReturnUnsupported

    def doSynchronizeCache(self) -> int:
        return kIOReturnUnsupported

    def doSynchronize(self, block: int, nblks: int, options: int = 0) -> int:
        """Flush the device's cache for the blocks (all of them when ``nblks`` is 0);
        the default flushes everything with ``doSynchronizeCache``."""
        return self.doSynchronizeCache()

    def doGetProvisionStatus(
        self,
        block: int,
        nblks: int,
        extentsCount: list[int],
        extents: list[IOBlockStorageDeviceExtent],
        options: int = 0,
    ) -> int:
        return kIOReturnUnsupported
