"""IOBlockStorageServices: the storage family's view of a SCSI disk.

Mirrors ``IOBlockStorageServices`` (IOSCSIArchitectureModelFamily
``IOBlockStorageServices.h``/``.cpp``).  An ``IOBlockStorageDevice`` nub that
``IOSCSIBlockCommandsDevice`` attaches above itself and registers
(``CreateStorageServiceNub``); ``IOBlockStorageDriver`` matches it.  Every device call
of the storage family is forwarded to the SCSI driver below (its provider):
``doAsyncReadWrite`` to ``AsyncReadWrite``, ``doEjectMedia`` to ``EjectTheMedium``,
``doSynchronizeCache`` to ``SynchronizeCache``, ``report*`` to ``Report*``...

Properties, as real dumps show them: ``"Device Characteristics"`` (``"Vendor Name"``,
``"Product Name"``, ``"Product Revision Level"``) and ``"Protocol Characteristics"``
(``"Physical Interconnect"``, ``"Physical Interconnect Location"``...), the very
dictionaries the SCSI driver and its nub hold, set in ``attach``; ``device-type =
"Generic"`` from ``IOBlockStorageDevice.init``.

Requests and retries are ``services_requests``' (Apple's ``BlockServicesClientData``
with its retry budget, ``kNumberRetries``; an outcome a retry could change is sent
again from the completion; each retry counted in the driver's ``Statistics``).

Threading rules: the device calls run on kernel threads (``doAsyncReadWrite`` does not
block; the others send synchronous SCSI commands and do).  ``AsyncReadWriteComplete``
runs in the transport's completion context (the HBA's work loop, gate closed) and
never blocks: a retry is sent asynchronously from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.families.scsi.definitions import (
    kIOPropertyDeviceCharacteristicsKey,
    kIOPropertyProtocolCharacteristicsKey,
)
from kextlab.families.scsi.services_requests import BlockServicesClientData, ServicesRequests
from kextlab.families.storage.block_storage_device import (
    IOBlockStorageDevice,
    kIOMediaStateOnline,
    kIOMessageMediaStateHasChanged,
)
from kextlab.kernel.ioreturn import (
    kIOReturnBadArgument,
    kIOReturnNotAttached,
    kIOReturnSuccess,
)
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut

if TYPE_CHECKING:
    from kextlab.families.scsi.block_commands import IOSCSIBlockCommandsDevice
    from kextlab.families.storage.storage import IOStorageAttributes, IOStorageCompletion
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import BoolRef, UInt64Ref
    from kextlab.kernel.service.service import IOService


class IOBlockStorageServices(IOBlockStorageDevice):
    """The block storage device nub of a SCSI disk."""

    def __init__(self) -> None:
        super().__init__()
        self.fProvider: IOSCSIBlockCommandsDevice | None = None
        self.fMediaPresent = False
        self.fRequests = ServicesRequests(self, self._issue)

    # -- attachment --------------------------------------------------------------------------

    def attach(self, provider: IOService) -> bool:
        from kextlab.families.scsi.block_commands import IOSCSIBlockCommandsDevice

        if not isinstance(provider, IOSCSIBlockCommandsDevice):
            return False
        if not super().attach(provider):
            return False
        self.fProvider = provider
        protocol = provider.GetProtocolCharacteristicsDictionary()
        if protocol is not None:
            self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
        device = provider.GetDeviceCharacteristicsDictionary()
        if device is not None:
            self.setProperty(kIOPropertyDeviceCharacteristicsKey, device)
        return True

    def free(self) -> None:
        self.fRequests.free()
        self.fProvider = None
        super().free()

    def _provider(self) -> IOSCSIBlockCommandsDevice:
        provider = self.fProvider
        assert provider is not None, "IOBlockStorageServices is not attached"
        return provider

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        if type == kIOMessageMediaStateHasChanged:
            self.fMediaPresent = argument == kIOMediaStateOnline
            return self.messageClients(type, argument)
        return super().message(type, provider, argument)

    # -- reading and writing -----------------------------------------------------------------

    def doAsyncReadWrite(
        self,
        buffer: IOMemoryDescriptor,
        block: int,
        nblks: int,
        attributes: IOStorageAttributes | None,
        completion: IOStorageCompletion,
    ) -> int:
        provider = self.fProvider
        if provider is None:
            return kIOReturnNotAttached
        if buffer.getDirection() not in (kIODirectionIn, kIODirectionOut):
            return kIOReturnBadArgument
        return self.fRequests.start(
            provider, buffer, block, nblks, provider.ReportMediumBlockSize(), attributes, completion
        )

    def _issue(self, clientData: BlockServicesClientData) -> int:
        provider = self.fProvider
        buffer = clientData.clientBuffer
        if provider is None or buffer is None:
            return kIOReturnNotAttached
        return provider.AsyncReadWrite(
            buffer,
            clientData.clientStartingBlock,
            clientData.clientRequestedBlockCount,
            clientData.clientRequestedBlockSize,
            clientData,
            clientData.clientAttributes,
        )

    @staticmethod
    def AsyncReadWriteComplete(clientData: object, status: int, actualByteCount: int) -> None:
        """The SCSI driver's report on a request: retry it, or complete it."""
        assert isinstance(clientData, BlockServicesClientData)
        clientData.owner.finish(clientData, status, actualByteCount)

    # -- the other device calls --------------------------------------------------------------

    def doEjectMedia(self) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        status = self._provider().EjectTheMedium()
        if status == kIOReturnSuccess:
            self.fMediaPresent = False
        return status

    def doFormatMedia(self, byteCapacity: int) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        provider = self._provider()
        size = provider.ReportMediumBlockSize()
        return provider.FormatMedium(byteCapacity // size if size else 0, size)

    def doGetFormatCapacities(self, capacities: list[int] | None, capacitiesMaxCount: int) -> int:
        if self.isInactive():
            return 0
        return self._provider().GetFormatCapacities(capacities, capacitiesMaxCount)

    def doLockUnlockMedia(self, doLock: bool) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().LockUnlockMedium(doLock)

    def doSynchronizeCache(self) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().SynchronizeCache()

    def getVendorString(self) -> str | None:
        return self._provider().GetVendorString()

    def getProductString(self) -> str | None:
        return self._provider().GetProductString()

    def getRevisionString(self) -> str | None:
        return self._provider().GetRevisionString()

    def getAdditionalDeviceInfoString(self) -> str | None:
        return "No Additional Device Info"

    def reportBlockSize(self, blockSize: UInt64Ref) -> int:
        blockSize.value = self._provider().ReportMediumBlockSize()
        return kIOReturnSuccess

    def reportEjectability(self, isEjectable: BoolRef) -> int:
        isEjectable.value = self._provider().ReportDeviceMediaRemovability()
        return kIOReturnSuccess

    def reportLockability(self, isLockable: BoolRef) -> int:
        isLockable.value = True
        return kIOReturnSuccess

    def reportPollRequirements(self, pollRequired: BoolRef, pollIsExpensive: BoolRef) -> int:
        pollRequired.value = False  # the SCSI driver polls, and says what it finds
        pollIsExpensive.value = False
        return kIOReturnSuccess

    def reportMaxValidBlock(self, maxBlock: UInt64Ref) -> int:
        maxBlock.value = max(self._provider().ReportMediumTotalBlockCount() - 1, 0)
        return kIOReturnSuccess

    def reportMediaState(self, mediaPresent: BoolRef, changedState: BoolRef | None = None) -> int:
        return self._provider().ReportMediaState(mediaPresent, changedState)

    def reportRemovability(self, isRemovable: BoolRef) -> int:
        isRemovable.value = self._provider().ReportDeviceMediaRemovability()
        return kIOReturnSuccess

    def reportWriteProtection(self, isWriteProtected: BoolRef) -> int:
        isWriteProtected.value = self._provider().ReportMediumWriteProtection()
        return kIOReturnSuccess

    def getWriteCacheState(self, enabled: BoolRef) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().GetWriteCacheState(enabled)

    def setWriteCacheState(self, enabled: bool) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().SetWriteCacheState(enabled)


__all__ = ["IOBlockStorageServices"]
