"""IOSCSIMultimediaCommandsDevice and IOSCSIPeripheralDeviceType05: the CD/DVD driver.

Mirrors ``IOSCSIMultimediaCommandsDevice`` (IOSCSIArchitectureModelFamily
``IOSCSIMultimediaCommandsDevice.h``/``.cpp``) and ``IOSCSIPeripheralDeviceType05``
(``IOSCSIPeripheralDeviceType05.cpp``), the class the family's personality matches to
a logical unit of peripheral device type 5, to the extent a data CD needs.

Bringing the drive up: ``ClearNotReadyStatus`` (TEST UNIT READY until the drive is
ready; an empty drive, NOT READY 02/3A, is ready as a drive), then
``DetermineDeviceCharacteristics``: INQUIRY (removability, ANSI version), then what
the drive can do (``DetermineDeviceFeatures``: GET CONFIGURATION's profiles and the MM
Capabilities page, published as ``"CD Features"`` and ``"DVD Features"``; the reading
is ``multimedia_features``').  ``StartDeviceSupport`` starts polling for a disc and
publishes an ``IOCompactDiscServices`` nub (``CreateStorageServiceNub``).  Apple makes
an ``IODVDServices`` instead for a drive that reads DVD structures; kextlab has no DVD
storage family, so every drive gets the CD nub (a DVD drive still reads CDs).

The disc (``PollForMedia``, once a second while polling, ``media_polling``): TEST
UNIT READY; GOOD (or sense 00/00) means a disc is in: lock it in (PREVENT ALLOW
MEDIUM REMOVAL), READ CAPACITY (2048-byte blocks), ``DetermineMediaType`` (READ DISC
INFORMATION on a writer, else READ TOC: a finished disc is ``kCDMediaTypeROM``),
``CheckWriteProtection`` (a CD is never writable here), stop polling and tell the
clients ``kIOMessageMediaStateHasChanged``/``kIOMediaStateOnline``; the CD block
storage driver then reads the TOC and publishes an ``IOCDMedia``.  A unit attention
(a disc just inserted: MEDIUM MAY HAVE CHANGED) or an empty drive (MEDIUM NOT
PRESENT) means "not yet": the poll goes on.

Eject (``EjectTheMedia``): allow removal, START STOP UNIT with LoEj (the tray opens),
forget the disc, tell the clients ``kIOMessageTrayStateChange``, poll for a new disc.
A read that finds the disc gone (MEDIUM NOT PRESENT, or MEDIUM MAY HAVE CHANGED)
tells the clients the medium is offline and polls again, as Apple's does.

Reads: READ(10) of 2048-byte user-data blocks (``AsyncReadWrite``), completed by
``AsyncReadWriteCompletion`` with the outcome table of ``kextlab.families.scsi.outcomes``
plus Apple's two CD cases (ILLEGAL MODE FOR THIS TRACK 64/00 is
``kIOReturnUnsupportedMode``; a missing CSS key 6F/01-03 ``kIOReturnNotPrivileged``),
then ``IOCompactDiscServices.AsyncReadWriteComplete``.  ``ReadTOC`` is READ TOC/PMA/ATIP
(a 4-byte or odd-length request is read into a larger buffer and copied back, as
Apple's does for drives that mishandle short allocation lengths).

Not modelled (no data CD needs them, and each has no caller here): audio play and
READ CD of raw sectors, ISRC and MCN, DVD structures and keys, the tray state as a
property, Apple's "eject the disc when TEST UNIT READY reports a medium error"
policy, and the BCD repair of TOCs from old drives.

Threading rules: as ``IOSCSIBlockCommandsDevice``: the bring-up, the poll and the
tray/TOC calls send synchronous commands (kernel threads only); ``AsyncReadWrite``
never blocks and its completion runs in the transport's completion context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.families.scsi import multimedia_features
from kextlab.families.scsi.command_builders import (
    IOSCSIBlockCommandsBuilder,
    IOSCSIMultimediaCommandsBuilder,
)
from kextlab.families.scsi.command_sets import (
    SCSIBlockCommands,
    SCSIMultimediaCommands,
    SCSIPrimaryCommands,
)
from kextlab.families.scsi.compact_disc_services import IOCompactDiscServices
from kextlab.families.scsi.definitions import (
    SCSICmd_INQUIRY_StandardData,
    kINQUIRY_StandardDataSize,
    kIOMaximumBlockCountReadKey,
    kIOMaximumBlockCountWriteKey,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITaskStatus_CHECK_CONDITION,
    kSCSITaskStatus_GOOD,
    kSENSE_KEY_Mask,
    kSENSE_KEY_NOT_READY,
)
from kextlab.families.scsi.media_polling import MediumPoller, PolledMediumDevice
from kextlab.families.scsi.outcomes import (
    ASC_MEDIUM_MAY_HAVE_CHANGED,
    ASC_MEDIUM_NOT_PRESENT,
    describe_outcome,
    io_status_of,
    sense_of,
)
from kextlab.families.scsi.peripheral_definitions import (
    kCDFeaturesWriteOnceMask,
    kDiscStatusComplete,
    kDiscStatusEmpty,
    kDiscStatusErasableMask,
    kDiscStatusIncomplete,
    kDiscStatusMask,
    kDiscStatusOffset,
    kIOMessageMediaAccessChange,
    kIOMessageTrayStateChange,
    kMediaStateLocked,
    kMediaStateUnlocked,
    kMessageFoundMedia,
    kMessageMediaTypeDetermined,
    kMessageTrayStateChangeRequestAccepted,
    kPollingMode_NewMedia,
    kPollingMode_Suspended,
    kREPORT_CAPACITY_DataSize,
    kTenSecondTimeoutInMS,
    kThirtySecondTimeoutInMS,
)
from kextlab.families.scsi.primary_commands import IOSCSIPrimaryCommandsDevice
from kextlab.families.storage.block_storage_device import (
    kIOMediaStateOffline,
    kIOMediaStateOnline,
    kIOMessageMediaStateHasChanged,
)
from kextlab.families.storage.cd.types import (
    kCDMediaTypeR,
    kCDMediaTypeROM,
    kCDMediaTypeRW,
    kCDMediaTypeUnknown,
    kCDTOCFormatTOC,
)
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.ioreturn import (
    ioreturn_name,
    kIOReturnBadArgument,
    kIOReturnError,
    kIOReturnInternalError,
    kIOReturnIOError,
    kIOReturnNotAttached,
    kIOReturnNotPrivileged,
    kIOReturnOffline,
    kIOReturnSuccess,
    kIOReturnUnsupported,
    kIOReturnUnsupportedMode,
)
from kextlab.kernel.log import IOLog
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.refs import BoolRef, UInt32Ref, UInt64Ref

if TYPE_CHECKING:
    from kextlab.families.scsi.task import SCSITask
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

#: How long ``ClearNotReadyStatus`` waits for a drive to become ready (ours).
NOT_READY_LIMIT_MS: Final = 30_000
NOT_READY_PAUSE_MS: Final = 200
#: ``kMaxRetryCount`` of the MMC driver's INQUIRY.
_INQUIRY_ATTEMPTS: Final = 8
#: ILLEGAL MODE FOR THIS TRACK (a READ of the wrong sector type).
_ASC_ILLEGAL_MODE_FOR_TRACK: Final = 0x64
#: COPY PROTECTION KEY EXCHANGE FAILURE family (DVD CSS keys).
_ASC_KEY_EXCHANGE: Final = 0x6F
#: The size Apple reads a whole TOC with when a client asks for its 4-byte header.
_WHOLE_TOC_SIZE: Final = 0xFFFE


class IOSCSIMultimediaCommandsDevice(
    PolledMediumDevice,
    IOSCSIPrimaryCommandsDevice,
    IOSCSIBlockCommandsBuilder,
    IOSCSIMultimediaCommandsBuilder,
):
    """The MMC layer: a CD or DVD drive (abstract; Type05 is the class)."""

    def __init__(self) -> None:
        super().__init__()
        self.fSCSIMultimediaCommandObject: SCSIMultimediaCommands | None = None
        self.fSCSIBlockCommandObject: SCSIBlockCommands | None = None
        self.fSupportedCDFeatures = 0
        self.fSupportedDVDFeatures = 0
        self.fMediaChanged = False
        self.fMediaPresent = False
        self.fMediaIsRemovable = False
        self.fMediaType = kCDMediaTypeUnknown
        self.fMediaIsWriteProtected = True
        self.fMediaBlockSize = 0
        self.fMediaBlockCount = 0
        self.fPoller: MediumPoller | None = None

    # -- the command-set objects -------------------------------------------------------------

    def CreateCommandSetObjects(self) -> bool:
        self.fSCSIMultimediaCommandObject = (
            SCSIMultimediaCommands.CreateSCSIMultimediaCommandObject()
        )
        self.fSCSIBlockCommandObject = SCSIBlockCommands.CreateSCSIBlockCommandObject()
        return True

    def FreeCommandSetObjects(self) -> None:
        for name in ("fSCSIMultimediaCommandObject", "fSCSIBlockCommandObject"):
            command_set = getattr(self, name)
            if command_set is not None:
                command_set.release()
                setattr(self, name, None)
        super().FreeCommandSetObjects()

    def GetSCSIMultimediaCommandObject(self) -> SCSIMultimediaCommands:
        command_set = self.fSCSIMultimediaCommandObject
        assert command_set is not None, "no command-set object (start has not run)"
        return command_set

    def GetSCSIBlockCommandObject(self) -> SCSIBlockCommands:
        command_set = self.fSCSIBlockCommandObject
        assert command_set is not None, "no command-set object (start has not run)"
        return command_set

    def GetSCSIPrimaryCommandObject(self) -> SCSIPrimaryCommands:
        return self.GetSCSIMultimediaCommandObject()

    # -- bringing the drive up and down ------------------------------------------------------

    def InitializeDeviceSupport(self) -> bool:
        self.fSupportedCDFeatures = 0
        self.fSupportedDVDFeatures = 0
        self.fMediaChanged = False
        self.fMediaPresent = False
        self.fMediaIsRemovable = False
        self.fMediaType = kCDMediaTypeUnknown
        self.fMediaIsWriteProtected = True
        if not self.ClearNotReadyStatus():
            return False
        if not self.DetermineDeviceCharacteristics():
            return False
        self.fPoller = MediumPoller(self, self.PollForMedia)
        self.fPoller.mode = kPollingMode_NewMedia
        self.SetMediaCharacteristics(0, 0)
        return True

    def StartDeviceSupport(self) -> None:
        self.EnablePolling()
        self.CreateStorageServiceNub()

    def ClearNotReadyStatus(self) -> bool:
        request = self.GetSCSITask()
        waited = 0
        try:
            while not self.isInactive() and waited <= NOT_READY_LIMIT_MS:
                response = (
                    self.SendCommand(request, kTenSecondTimeoutInMS)
                    if self.TEST_UNIT_READY(request, 0)
                    else None
                )
                if response != kSCSIServiceResponse_TASK_COMPLETE:
                    IOSleep(NOT_READY_PAUSE_MS)
                    waited += NOT_READY_PAUSE_MS
                    continue
                if request.GetTaskStatus() != kSCSITaskStatus_CHECK_CONDITION:
                    return True
                sense = self.request_sense_into(request, kTenSecondTimeoutInMS)
                if sense is None:
                    return True
                key = sense.SENSE_KEY & kSENSE_KEY_Mask
                asc, ascq = sense.ADDITIONAL_SENSE_CODE, sense.ADDITIONAL_SENSE_CODE_QUALIFIER
                if key != kSENSE_KEY_NOT_READY or asc != 0x04:
                    return True  # ready, or without a disc: either way the drive is up
                if ascq in (0x00, 0x01):  # not ready yet, or becoming ready
                    IOSleep(NOT_READY_PAUSE_MS)
                    waited += NOT_READY_PAUSE_MS
                elif ascq == 0x02:  # needs an initializing command: spin up
                    if self.START_STOP_UNIT(request, 0, 0, 0, 1, 0):
                        self.SendCommand(request, kTenSecondTimeoutInMS)
                    waited += NOT_READY_PAUSE_MS
                else:
                    return True
            if not self.isInactive():
                IOLog("%s: the drive never became ready\n", self.device_name())
            return False
        finally:
            self.ReleaseSCSITask(request)

    def DetermineDeviceCharacteristics(self) -> bool:
        return (
            self.DetermineIfMediaIsRemovable() == kIOReturnSuccess
            and self.DetermineDeviceFeatures() == kIOReturnSuccess
        )

    def DetermineIfMediaIsRemovable(self) -> int:
        buffer = self.data_buffer(kINQUIRY_StandardDataSize)
        request = self.GetSCSITask()
        try:
            for _ in range(_INQUIRY_ATTEMPTS):
                if self.isInactive():
                    break
                if self.INQUIRY(
                    request, buffer, 0, 0, 0, kINQUIRY_StandardDataSize, 0
                ) and self.command_succeeds(request, kTenSecondTimeoutInMS):
                    inquiry = SCSICmd_INQUIRY_StandardData.from_bytes(buffer.getBytesNoCopy())
                    self.fMediaIsRemovable = inquiry.removable
                    self.SetANSIVersion(inquiry.ansi_version)
                    return kIOReturnSuccess
            return kIOReturnIOError
        finally:
            self.ReleaseSCSITask(request)
            buffer.release()

    def DetermineDeviceFeatures(self) -> int:
        return multimedia_features.determine_device_features(self)

    def GetDeviceConfigurationSize(self, size: UInt32Ref) -> int:
        return multimedia_features.device_configuration_size(self, size)

    def GetDeviceConfiguration(self) -> int:
        return multimedia_features.device_configuration(self)

    def ParseFeatureList(self, numProfiles: int, buffer: bytes) -> int:
        return multimedia_features.parse_feature_list(self, numProfiles, buffer)

    def GetMechanicalCapabilities(self) -> int:
        return multimedia_features.mechanical_capabilities(self)

    def ParseMechanicalCapabilities(self, mechanicalCapabilities: bytes) -> int:
        return multimedia_features.parse_mechanical_capabilities(self, mechanicalCapabilities)

    def CreateStorageServiceNub(self) -> None:
        nub = IOCompactDiscServices()
        nub.init()
        if nub.attach(self):
            nub.start(self)
        else:
            IOLog("%s: the compact disc services nub did not attach\n", self.device_name())
        nub.release()

    # -- the disc ----------------------------------------------------------------------------

    def SetMediaCharacteristics(self, blockSize: int, blockCount: int) -> None:
        self.fMediaBlockSize = blockSize
        self.fMediaBlockCount = blockCount
        maximum = UInt64Ref()
        self.ReportMaxReadTransfer(blockSize, maximum)
        self.ReportMaxWriteTransfer(blockSize, maximum)

    def ResetMediaCharacteristics(self) -> None:
        self.fMediaBlockSize = 0
        self.fMediaBlockCount = 0
        self.fMediaPresent = False
        self.fMediaType = kCDMediaTypeUnknown
        self.fMediaIsWriteProtected = True

    def ReportMaxReadTransfer(self, blockSize: int, max: UInt64Ref) -> int:
        """The largest read in bytes at ``blockSize``; publishes the block limit."""
        blocks = self.maximum_transfer_blocks(write=False, block_size=self.fMediaBlockSize)
        self.setProperty(kIOMaximumBlockCountReadKey, blocks, 64)
        max.value = blocks * blockSize
        return kIOReturnSuccess

    def ReportMaxWriteTransfer(self, blockSize: int, max: UInt64Ref) -> int:
        """The largest write in bytes at ``blockSize``; publishes the block limit."""
        blocks = self.maximum_transfer_blocks(write=True, block_size=self.fMediaBlockSize)
        self.setProperty(kIOMaximumBlockCountWriteKey, blocks, 64)
        max.value = blocks * blockSize
        return kIOReturnSuccess

    def PollForMedia(self) -> None:
        if not self.IsDeviceAccessEnabled():
            return
        request = self.GetSCSITask()
        try:
            if not self.TEST_UNIT_READY(request, 0):
                return
            if self.SendCommand(request, kTenSecondTimeoutInMS) != (
                kSCSIServiceResponse_TASK_COMPLETE
            ):
                return
            if request.GetTaskStatus() == kSCSITaskStatus_CHECK_CONDITION:
                sense = self.request_sense_into(request, kTenSecondTimeoutInMS)
                if (
                    sense is None
                    or sense.ADDITIONAL_SENSE_CODE
                    or (sense.ADDITIONAL_SENSE_CODE_QUALIFIER)
                ):
                    return  # no disc yet, or one just inserted (reported again next time)
            self.messageClients(kIOMessageMediaAccessChange, kMessageFoundMedia)
            if self.fMediaIsRemovable and self.PREVENT_ALLOW_MEDIUM_REMOVAL(
                request, kMediaStateLocked, 0
            ):
                self.SendCommand(request, kTenSecondTimeoutInMS)
            capacity = self.data_buffer(kREPORT_CAPACITY_DataSize)
            try:
                read = self.READ_CAPACITY(request, capacity, 0, 0, 0, 0) and self.command_succeeds(
                    request, kTenSecondTimeoutInMS
                )
                data = bytes(capacity.getBytesNoCopy())
            finally:
                capacity.release()
            if not read:
                if self.fMediaIsRemovable and self.PREVENT_ALLOW_MEDIUM_REMOVAL(
                    request, kMediaStateUnlocked, 0
                ):
                    self.SendCommand(request, kTenSecondTimeoutInMS)
                return
        finally:
            self.ReleaseSCSITask(request)
        last_lba = int.from_bytes(data[0:4], "big")
        block_size = int.from_bytes(data[4:8], "big")
        # A last LBA of zero is taken as an empty (blank) disc, as Apple's does.
        self.SetMediaCharacteristics(block_size, last_lba + 1 if last_lba else 0)
        self.DetermineMediaType()
        self.CheckWriteProtection()
        self.fMediaPresent = True
        self.fMediaChanged = True
        if self.fPoller is not None:
            self.fPoller.mode = kPollingMode_Suspended
        self.messageClients(kIOMessageMediaStateHasChanged, kIOMediaStateOnline)

    def DetermineMediaType(self) -> None:
        self.CheckForCDMediaType()
        self.messageClients(kIOMessageMediaAccessChange, kMessageMediaTypeDetermined)

    def CheckForCDMediaType(self) -> bool:
        buffer = self.data_buffer(4)
        request = self.GetSCSITask()
        try:
            if self.fSupportedCDFeatures & kCDFeaturesWriteOnceMask and (
                self.READ_DISC_INFORMATION(request, buffer, 4, 0)
                and self.command_succeeds(request, kThirtySecondTimeoutInMS)
            ):
                status = buffer.getBytesNoCopy()[kDiscStatusOffset]
                media = {
                    kDiscStatusEmpty: kCDMediaTypeR,
                    kDiscStatusIncomplete: kCDMediaTypeR,
                    kDiscStatusComplete: kCDMediaTypeROM,
                }.get(status & kDiscStatusMask)
                if status & kDiscStatusErasableMask:
                    media = kCDMediaTypeRW
                if status & kDiscStatusMask == kDiscStatusEmpty:
                    self.fMediaBlockCount = 0
                if media is not None:
                    self.fMediaType = media
                    return True
            if self.READ_TOC_PMA_ATIP(request, buffer, 0, 0, 0, 4, 0) and self.command_succeeds(
                request, kThirtySecondTimeoutInMS
            ):
                self.fMediaType = kCDMediaTypeROM
                return True
            return False
        finally:
            self.ReleaseSCSITask(request)
            buffer.release()

    def CheckWriteProtection(self) -> None:
        """A CD is write protected (Apple lifts it only for DVD-RAM)."""
        self.fMediaIsWriteProtected = True

    def GetMediaType(self) -> int:
        return self.fMediaType

    def ReportBlockSize(self, blockSize: UInt64Ref) -> int:
        blockSize.value = self.fMediaBlockSize
        return kIOReturnSuccess

    def ReportEjectability(self, isEjectable: BoolRef) -> int:
        isEjectable.value = self.fMediaIsRemovable
        return kIOReturnSuccess

    def ReportLockability(self, isLockable: BoolRef) -> int:
        isLockable.value = True
        return kIOReturnSuccess

    def ReportPollRequirements(self, pollIsRequired: BoolRef, pollIsExpensive: BoolRef) -> int:
        pollIsRequired.value = False  # this driver polls, and sends messages
        pollIsExpensive.value = False
        return kIOReturnSuccess

    def ReportMaxValidBlock(self, maxBlock: UInt64Ref) -> int:
        maxBlock.value = self.fMediaBlockCount - 1 if self.fMediaBlockCount else 0
        return kIOReturnSuccess

    def ReportMediaState(self, mediaPresent: BoolRef, changed: BoolRef | None = None) -> int:
        """Whether a disc is in (and whether that changed since last asked).  An empty
        drive whose polling window ran out polls again: someone is looking for a disc."""
        mediaPresent.value = self.fMediaPresent
        if changed is not None:
            changed.value = self.fMediaChanged
        self.fMediaChanged = False
        poller = self.fPoller
        if (
            not self.fMediaPresent
            and poller is not None
            and poller.mode == kPollingMode_NewMedia
            and not poller.pending
        ):
            poller.enable()
        return kIOReturnSuccess

    def ReportRemovability(self, isRemovable: BoolRef) -> int:
        isRemovable.value = self.fMediaIsRemovable
        return kIOReturnSuccess

    def ReportWriteProtection(self, isWriteProtected: BoolRef) -> int:
        isWriteProtected.value = self.fMediaIsWriteProtected
        return kIOReturnSuccess

    # -- the tray and the cache --------------------------------------------------------------

    def EjectTheMedia(self) -> int:
        request = self.GetSCSITask()
        try:
            if not self.fMediaIsRemovable:
                if self.SYNCHRONIZE_CACHE(request, 0, 0, 0, 0, 0):
                    self.SendCommand(request, kThirtySecondTimeoutInMS)
                return kIOReturnSuccess
            if self.PREVENT_ALLOW_MEDIUM_REMOVAL(request, kMediaStateUnlocked, 0):
                self.SendCommand(request, kTenSecondTimeoutInMS)
            if self.START_STOP_UNIT(request, 0, 0, 1, 0, 0) and (
                self.SendCommand(request, kTenSecondTimeoutInMS)
                != kSCSIServiceResponse_TASK_COMPLETE
                or request.GetTaskStatus() != kSCSITaskStatus_GOOD
            ):
                IOLog("%s: eject failed: %s\n", self.device_name(), describe_outcome(request))
        finally:
            self.ReleaseSCSITask(request)
        self.ResetMediaCharacteristics()
        self.messageClients(kIOMessageTrayStateChange, kMessageTrayStateChangeRequestAccepted)
        if self.fPoller is not None:
            self.fPoller.mode = kPollingMode_NewMedia
        self.EnablePolling()
        return kIOReturnSuccess

    def LockUnlockMedia(self, doLock: bool) -> int:
        if not self.fProtocolAccessEnabled:
            return kIOReturnNotAttached
        if not self.fDeviceAccessEnabled:
            return kIOReturnOffline
        request = self.GetSCSITask()
        try:
            state = kMediaStateLocked if doLock else kMediaStateUnlocked
            if self.PREVENT_ALLOW_MEDIUM_REMOVAL(request, state, 0) and self.command_succeeds(
                request, kTenSecondTimeoutInMS
            ):
                return kIOReturnSuccess
            return kIOReturnError
        finally:
            self.ReleaseSCSITask(request)

    def SynchronizeCache(self) -> int:
        request = self.GetSCSITask()
        try:
            if self.SYNCHRONIZE_CACHE(request, 0, 0, 0, 0, 0) and self.command_succeeds(
                request, kThirtySecondTimeoutInMS
            ):
                return kIOReturnSuccess
            return kIOReturnInternalError
        finally:
            self.ReleaseSCSITask(request)

    def FormatMedia(self, byteCapacity: int) -> int:
        return kIOReturnUnsupported

    def GetFormatCapacities(self, capacities: list[int] | None, capacitiesMaxCount: int) -> int:
        return 0

    # -- the table of contents ---------------------------------------------------------------

    def ReadTOC(
        self,
        buffer: IOMemoryDescriptor,
        format: int = kCDTOCFormatTOC,
        msf: int = 1,
        trackSessionNumber: int = 0,
        actualByteCount: UInt32Ref | None = None,
    ) -> int:
        """READ TOC/PMA/ATIP into ``buffer``; ``actualByteCount`` gets the bytes that
        came (at most the buffer's length)."""
        length = buffer.getLength()
        staging = None
        if format == kCDTOCFormatTOC and msf == 1 and (length == 4 or length & 1):
            staging = self.data_buffer(_WHOLE_TOC_SIZE if length == 4 else length + 1)
        target = staging if staging is not None else buffer
        request = self.GetSCSITask()
        try:
            if not self.READ_TOC_PMA_ATIP(
                request, target, msf, format, trackSessionNumber, target.getLength(), 0
            ):
                return kIOReturnBadArgument
            if self.SendCommand(request, kThirtySecondTimeoutInMS) != (
                kSCSIServiceResponse_TASK_COMPLETE
            ):
                if actualByteCount is not None:
                    actualByteCount.value = 0
                return kIOReturnIOError  # a blank disc has no TOC
            realized = min(request.GetRealizedDataTransferCount(), length)
            if actualByteCount is not None:
                actualByteCount.value = realized
            if request.GetTaskStatus() != kSCSITaskStatus_GOOD:
                return kIOReturnError
            if staging is not None:
                buffer.writeBytes(0, bytes(staging.getBytesNoCopy()[:length]), length)
            return kIOReturnSuccess
        finally:
            self.ReleaseSCSITask(request)
            if staging is not None:
                staging.release()

    # -- reads and writes --------------------------------------------------------------------

    def AsyncReadWrite(
        self, buffer: IOMemoryDescriptor, startBlock: int, blockCount: int, clientData: object
    ) -> int:
        if not self.fProtocolAccessEnabled:
            return kIOReturnNotAttached
        if not self.fDeviceAccessEnabled:
            return kIOReturnOffline
        direction = buffer.getDirection()
        if direction == kIODirectionIn:
            return self.IssueRead(buffer, clientData, startBlock, blockCount)
        if direction == kIODirectionOut:
            return self.IssueWrite(buffer, clientData, startBlock, blockCount)
        return kIOReturnBadArgument

    def IssueRead(
        self, buffer: IOMemoryDescriptor, clientData: object, startBlock: int, blockCount: int
    ) -> int:
        request = self.GetSCSITask()
        if not self.READ_10(
            request, buffer, self.fMediaBlockSize, 0, 0, 0, startBlock, blockCount, 0
        ):
            self.ReleaseSCSITask(request)
            return kIOReturnBadArgument
        request.SetApplicationLayerReference(clientData)
        self.SendCommand(
            request,
            self.fReadTimeoutDuration,
            IOSCSIMultimediaCommandsDevice.AsyncReadWriteComplete,
        )
        return kIOReturnSuccess

    def IssueWrite(
        self, buffer: IOMemoryDescriptor, clientData: object, startBlock: int, blockCount: int
    ) -> int:
        request = self.GetSCSITask()
        if not self.WRITE_10(
            request, buffer, self.fMediaBlockSize, 0, 0, 0, 0, startBlock, blockCount, 0
        ):
            self.ReleaseSCSITask(request)
            return kIOReturnBadArgument
        request.SetApplicationLayerReference(clientData)
        self.SendCommand(
            request,
            self.fWriteTimeoutDuration,
            IOSCSIMultimediaCommandsDevice.AsyncReadWriteComplete,
        )
        return kIOReturnSuccess

    @staticmethod
    def AsyncReadWriteComplete(request: SCSITask) -> None:
        owner = request.GetTaskOwner()
        if isinstance(owner, IOSCSIMultimediaCommandsDevice):
            owner.AsyncReadWriteCompletion(request)

    def AsyncReadWriteCompletion(self, completedTask: SCSITask) -> None:
        clientData = completedTask.GetApplicationLayerReference()
        status = io_status_of(completedTask)
        actual = completedTask.GetRealizedDataTransferCount() if status == kIOReturnSuccess else 0
        sense = sense_of(completedTask)
        if status != kIOReturnSuccess:
            if completedTask.GetTaskStatus() == kSCSITaskStatus_CHECK_CONDITION and (
                sense is not None
            ):
                asc, ascq = sense.ADDITIONAL_SENSE_CODE, sense.ADDITIONAL_SENSE_CODE_QUALIFIER
                if asc == ASC_MEDIUM_NOT_PRESENT or (
                    asc == ASC_MEDIUM_MAY_HAVE_CHANGED and ascq == 0
                ):
                    self._medium_gone()
                if asc == _ASC_ILLEGAL_MODE_FOR_TRACK and ascq == 0:
                    status = kIOReturnUnsupportedMode
                if asc == _ASC_KEY_EXCHANGE and ascq in (1, 2, 3):
                    status = kIOReturnNotPrivileged
            IOLog(
                "%s: READ or WRITE of %u bytes failed: %s (%s)\n",
                self.device_name(),
                completedTask.GetRequestedDataTransferCount(),
                describe_outcome(completedTask),
                ioreturn_name(status),
            )
        IOCompactDiscServices.AsyncReadWriteComplete(clientData, status, actual)
        self.ReleaseSCSITask(completedTask)

    def _medium_gone(self) -> None:
        """A read found the disc gone: say so, forget it, look for the next one."""
        if not self.fMediaPresent:
            return
        self.messageClients(kIOMessageMediaStateHasChanged, kIOMediaStateOffline)
        self.ResetMediaCharacteristics()
        self.fMediaChanged = True
        if self.fPoller is not None:
            self.fPoller.mode = kPollingMode_NewMedia
        self.EnablePolling()


class IOSCSIPeripheralDeviceType05(IOSCSIMultimediaCommandsDevice):
    """The driver of peripheral device type 5 (CD/DVD): the family's
    ``IOSCSIPeripheralDeviceType05`` personality matches it to a logical unit nub."""


__all__ = ["IOSCSIMultimediaCommandsDevice", "IOSCSIPeripheralDeviceType05"]
