"""IOCompactDiscServices: the CD storage family's view of a SCSI CD drive.

Mirrors ``IOCompactDiscServices`` (IOSCSIArchitectureModelFamily
``IOCompactDiscServices.h``/``.cpp``).  An ``IOCDBlockStorageDevice`` nub
(``device-type = "CDROM"``) that ``IOSCSIMultimediaCommandsDevice`` attaches above
itself and starts (``CreateStorageServiceNub``); its ``start`` registers it and
``IOCDBlockStorageDriver`` matches it.  Every device call of the CD storage family is
forwarded to the SCSI driver below: ``doAsyncReadWrite`` to ``AsyncReadWrite``,
``doEjectMedia`` to ``EjectTheMedia``, ``readTOC`` to ``ReadTOC``, ``getMediaType``,
``report*`` to ``Report*``...  Messages from the driver about the disc
(``kIOMessageMediaStateHasChanged``, ``kIOMessageTrayStateChange``,
``kIOMessageMediaAccessChange``) and about exclusive access go on to its clients.

Properties, as real dumps show them: ``"Device Characteristics"`` (``"Vendor Name"``,
``"Product Name"``, ``"Product Revision Level"``, ``"CD Features"``, ``"DVD
Features"``, ``"Loading Mechanism"``) and ``"Protocol Characteristics"``.

Requests and retries are ``services_requests``' (Apple's budget of 4; Apple's CD nub
also never retries a wrong sector type or a missing key, which the shared final set
includes).

Departures: the user-client side of Apple's nub (``handleOpen`` for
``SCSITaskUserClient``, the authoring ``IOMatchCategory`` of a CD writer) and the
tray's ``setProperties`` are absent: no authoring client or tray tool exists here.

Threading rules: as ``IOBlockStorageServices``: device calls on kernel threads (all
but ``doAsyncReadWrite`` block), ``AsyncReadWriteComplete`` in the transport's
completion context, never blocking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.families.scsi.definitions import (
    kIOPropertyDeviceCharacteristicsKey,
    kIOPropertyProtocolCharacteristicsKey,
    kSCSIServicesNotification_ExclusivityChanged,
)
from kextlab.families.scsi.peripheral_definitions import (
    kIOMessageMediaAccessChange,
    kIOMessageTrayStateChange,
)
from kextlab.families.scsi.services_requests import BlockServicesClientData, ServicesRequests
from kextlab.families.storage.block_storage_device import kIOMessageMediaStateHasChanged
from kextlab.families.storage.cd.block_storage_device import IOCDBlockStorageDevice
from kextlab.families.storage.cd.types import kCDTOCFormatTOC
from kextlab.kernel.ioreturn import kIOReturnBadArgument, kIOReturnNotAttached
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut

if TYPE_CHECKING:
    from kextlab.families.scsi.multimedia_commands import IOSCSIMultimediaCommandsDevice
    from kextlab.families.storage.storage import IOStorageAttributes, IOStorageCompletion
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.refs import BoolRef, UInt32Ref, UInt64Ref
    from kextlab.kernel.service.service import IOService

_FORWARDED_MESSAGES = frozenset(
    {
        kSCSIServicesNotification_ExclusivityChanged,
        kIOMessageMediaStateHasChanged,
        kIOMessageTrayStateChange,
        kIOMessageMediaAccessChange,
    }
)


class IOCompactDiscServices(IOCDBlockStorageDevice):
    """The CD block storage device nub of a SCSI CD drive."""

    def __init__(self) -> None:
        super().__init__()
        self.fProvider: IOSCSIMultimediaCommandsDevice | None = None
        self.fRequests = ServicesRequests(self, self._issue)

    def start(self, provider: IOService) -> bool:
        from kextlab.families.scsi.multimedia_commands import IOSCSIMultimediaCommandsDevice

        if not isinstance(provider, IOSCSIMultimediaCommandsDevice):
            return False
        if not super().start(provider):
            return False
        self.fProvider = provider
        protocol = provider.GetProtocolCharacteristicsDictionary()
        if protocol is not None:
            self.setProperty(kIOPropertyProtocolCharacteristicsKey, protocol)
        device = provider.GetDeviceCharacteristicsDictionary()
        if device is not None:
            self.setProperty(kIOPropertyDeviceCharacteristicsKey, device)
        self.registerService()
        return True

    def free(self) -> None:
        self.fRequests.free()
        self.fProvider = None
        super().free()

    def _provider(self) -> IOSCSIMultimediaCommandsDevice:
        provider = self.fProvider
        assert provider is not None, "IOCompactDiscServices is not started"
        return provider

    def message(self, type: int, provider: IOService, argument: object = None) -> int:
        if type in _FORWARDED_MESSAGES:
            return self.messageClients(type, argument)
        return super().message(type, provider, argument)

    # -- reading -----------------------------------------------------------------------------

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
        return self.fRequests.start(provider, buffer, block, nblks, 0, attributes, completion)

    def _issue(self, clientData: BlockServicesClientData) -> int:
        provider = self.fProvider
        buffer = clientData.clientBuffer
        if provider is None or buffer is None:
            return kIOReturnNotAttached
        return provider.AsyncReadWrite(
            buffer, clientData.clientStartingBlock, clientData.clientRequestedBlockCount, clientData
        )

    @staticmethod
    def AsyncReadWriteComplete(clientData: object, status: int, actualByteCount: int) -> None:
        """The SCSI driver's report on a request: retry it, or complete it."""
        assert isinstance(clientData, BlockServicesClientData)
        clientData.owner.finish(clientData, status, actualByteCount)

    # -- the disc and the drive --------------------------------------------------------------

    def doEjectMedia(self) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().EjectTheMedia()

    def doFormatMedia(self, byteCapacity: int) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().FormatMedia(byteCapacity)

    def doGetFormatCapacities(self, capacities: list[int] | None, capacitiesMaxCount: int) -> int:
        if self.isInactive():
            return 0
        return self._provider().GetFormatCapacities(capacities, capacitiesMaxCount)

    def doLockUnlockMedia(self, doLock: bool) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().LockUnlockMedia(doLock)

    def doSynchronizeCache(self) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().SynchronizeCache()

    def getMediaType(self) -> int:
        return self._provider().GetMediaType()

    def readTOC(
        self,
        buffer: IOMemoryDescriptor,
        format: int = kCDTOCFormatTOC,
        msf: int = 1,
        trackSessionNumber: int = 0,
        actualByteCount: UInt32Ref | None = None,
    ) -> int:
        if self.isInactive():
            return kIOReturnNotAttached
        return self._provider().ReadTOC(buffer, format, msf, trackSessionNumber, actualByteCount)

    def getVendorString(self) -> str | None:
        return self._provider().GetVendorString()

    def getProductString(self) -> str | None:
        return self._provider().GetProductString()

    def getRevisionString(self) -> str | None:
        return self._provider().GetRevisionString()

    def getAdditionalDeviceInfoString(self) -> str | None:
        return "No Additional Device Info"

    def reportBlockSize(self, blockSize: UInt64Ref) -> int:
        return self._provider().ReportBlockSize(blockSize)

    def reportEjectability(self, isEjectable: BoolRef) -> int:
        return self._provider().ReportEjectability(isEjectable)

    def reportLockability(self, isLockable: BoolRef) -> int:
        return self._provider().ReportLockability(isLockable)

    def reportMediaState(self, mediaPresent: BoolRef, changedState: BoolRef | None = None) -> int:
        return self._provider().ReportMediaState(mediaPresent, changedState)

    def reportPollRequirements(self, pollRequired: BoolRef, pollIsExpensive: BoolRef) -> int:
        return self._provider().ReportPollRequirements(pollRequired, pollIsExpensive)

    def reportMaxValidBlock(self, maxBlock: UInt64Ref) -> int:
        return self._provider().ReportMaxValidBlock(maxBlock)

    def reportRemovability(self, isRemovable: BoolRef) -> int:
        return self._provider().ReportRemovability(isRemovable)

    def reportWriteProtection(self, isWriteProtected: BoolRef) -> int:
        return self._provider().ReportWriteProtection(isWriteProtected)


__all__ = ["IOCompactDiscServices"]
