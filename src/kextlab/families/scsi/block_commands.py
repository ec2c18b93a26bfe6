"""IOSCSIBlockCommandsDevice and IOSCSIPeripheralDeviceType00: the SCSI disk driver.

Mirrors ``IOSCSIBlockCommandsDevice`` (IOSCSIArchitectureModelFamily
``IOSCSIBlockCommandsDevice.h``/``.cpp``, ``IOSCSIBlockCommandsBuilder.cpp``) and
``IOSCSIPeripheralDeviceType00`` (``IOSCSIPeripheralDeviceType00.cpp``), the class the
family's personality matches to a logical unit of peripheral device type 0.

Bringing a disk up (``InitializeDeviceSupport``, then ``StartDeviceSupport``):

1. ``ClearNotReadyStatus``: TEST UNIT READY until the unit is ready.  NOT READY,
   BECOMING READY (02/04/01) waits 200 ms and asks again; NOT READY with the
   "initializing command required" family of qualifiers (02/04/00, /02, /03) is
   answered with START STOP UNIT (START); a unit attention or any other sense counts
   as ready (the attention is reported once, and consumed).  Apple's loop runs until
   the device answers or the driver is terminated; kextlab's gives up after
   ``NOT_READY_LIMIT_MS`` of virtual time, and the driver does not start (no
   scenario hangs on a dead unit).
2. ``DetermineDeviceCharacteristics``: INQUIRY (up to ``kMaxRetryCount`` times, a
   second apart): the ANSI version, removability (RMB), command queueing (CMDQUE);
   then, for fixed media, the write cache from the caching mode page, switched on
   with MODE SELECT if it is off (Apple's policy).
3. For a fixed disk, ``PollForNewMedia`` runs at once, so the medium's capacity and
   write protection are known before the storage nub appears (as Apple's later
   families do; the 2004 driver found even a fixed disk's medium with its first poll,
   a second after start).  A removable disk is polled (``media_polling``).
4. ``CreateStorageServiceNub``: an ``IOBlockStorageServices`` attached and
   registered; ``IOBlockStorageDriver`` matches it.

The medium: READ CAPACITY(10), and READ CAPACITY(16) when the last LBA is
0xFFFFFFFF and the unit claims SPC-3 (a disk of 2 TiB and more at 512-byte blocks);
write protection from the WP bit of MODE SENSE's device-specific parameter.
Departure: Apple reports every *fixed* disk writable without asking; kextlab asks
every disk, so a write-protected fixed disk (a read-only image) shows as such.
``SetMediumCharacteristics`` publishes ``IOMaximumBlockCountRead``/``Write`` (and
``IOMaximumByteCount*``) from what the protocol layer reports
(``kSCSIProtocolFeature_Maximum*``, the HBA's limits), capped at 65,535 blocks:
IOBlockStorageDriver finds them on its provider chain and cuts requests to fit.

Reads and writes (``AsyncReadWrite``, the hot path): a task from the pool, READ(10)
or WRITE(10), or the 16-byte commands when the range goes past 32-bit LBAs or the
count past 16 bits, FUA when the request asks for it (``kIOStorageOptionForceUnitAccess``,
as later Apple families do), sent asynchronously with the READ/WRITE timeout.  The
completion (``AsyncReadWriteCompletion``, in the HBA's work loop) turns the SCSI
outcome into an IOReturn (``kextlab.families.scsi.outcomes``: a medium error is
``kIOReturnIOError``, DATA PROTECT ``kIOReturnNotWritable``, an empty drive
``kIOReturnNoMedia``, a timeout ``kIOReturnTimeout``, a vanished target
``kIOReturnNoDevice``...), logs a failed command naming the device, the command and
the LBA, and hands the result to ``IOBlockStorageServices.AsyncReadWriteComplete``,
which retries what a retry can fix.

Also: ``SynchronizeCache`` (SYNCHRONIZE CACHE(10), the whole medium, when the write
cache is on), ``EjectTheMedium`` (removable media: allow removal and START STOP UNIT
with LoEj), ``LockUnlockMedium`` (removable media: PREVENT ALLOW MEDIUM REMOVAL; Apple's
does nothing), and the write cache state (``GetWriteCacheState``/``SetWriteCacheState``,
done by ``write_cache``).

Threading rules: the bring-up, ``EjectTheMedium``, ``SynchronizeCache``,
``LockUnlockMedium`` and the write-cache calls send synchronous commands: kernel
threads only.  ``AsyncReadWrite`` never blocks; ``AsyncReadWriteCompletion`` runs in
the transport's completion context (gate closed) and never blocks.  The poll runs on
a callout thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from kextlab.families.scsi import write_cache
from kextlab.families.scsi.block_storage_services import IOBlockStorageServices
from kextlab.families.scsi.command_builders import IOSCSIBlockCommandsBuilder
from kextlab.families.scsi.command_sets import SCSIBlockCommands, SCSIPrimaryCommands
from kextlab.families.scsi.definitions import (
    SCSI_Sense_Data,
    SCSICmd_INQUIRY_StandardData,
    kINQUIRY_ANSI_VERSION_SCSI_SPC_3_Compliant,
    kINQUIRY_Byte7_CMDQUE_Mask,
    kINQUIRY_StandardDataSize,
    kIOMaximumBlockCountReadKey,
    kIOMaximumBlockCountWriteKey,
    kIOPropertySCSIDeviceCharacteristicsKey,
    kIOPropertySCSIManualEjectKey,
    kIOPropertySCSIProtocolMultiInitKey,
    kSCSIServiceResponse_TASK_COMPLETE,
    kSCSITask_SIMPLE,
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
)
from kextlab.families.scsi.peripheral_definitions import (
    kMaxRetryCount,
    kMediaStateLocked,
    kMediaStateUnlocked,
    kModeSenseSBCDeviceSpecific_WriteProtectMask,
    kPollingMode_MediaRemoval,
    kPollingMode_NewMedia,
    kPollingMode_Suspended,
    kREPORT_CAPACITY_16_DataSize,
    kREPORT_CAPACITY_DataSize,
    kREPORT_CAPACITY_MaximumLBA,
    kTenSecondTimeoutInMS,
    kThirtySecondTimeoutInMS,
)
from kextlab.families.scsi.primary_commands import IOSCSIPrimaryCommandsDevice
from kextlab.families.storage.block_storage_device import (
    kIOMediaStateOffline,
    kIOMediaStateOnline,
    kIOMessageMediaStateHasChanged,
)
from kextlab.families.storage.storage import kIOStorageOptionForceUnitAccess
from kextlab.kernel.clock import IOSleep
from kextlab.kernel.ioreturn import (
    ioreturn_name,
    kIOReturnBadArgument,
    kIOReturnError,
    kIOReturnNotAttached,
    kIOReturnOffline,
    kIOReturnSuccess,
    kIOReturnUnsupported,
)
from kextlab.kernel.libkern.collections import OSDictionary
from kextlab.kernel.libkern.object import OSDynamicCast
from kextlab.kernel.log import IOLog
from kextlab.kernel.memory.options import kIODirectionIn, kIODirectionOut
from kextlab.kernel.memory.refs import BoolRef

if TYPE_CHECKING:
    from kextlab.families.scsi.task import SCSITask
    from kextlab.families.storage.storage import IOStorageAttributes
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

#: How long ``ClearNotReadyStatus`` waits for a unit to become ready (ours: Apple
#: waits as long as it takes).
NOT_READY_LIMIT_MS: Final = 30_000
#: Apple's pause between TEST UNIT READYs of a unit that is becoming ready.
NOT_READY_PAUSE_MS: Final = 200
#: How many times a fixed disk's medium is looked for at start, a second apart.
FIXED_MEDIUM_ATTEMPTS: Final = 8
_LAST_LBA_10: Final = kREPORT_CAPACITY_MaximumLBA
_MAXIMUM_COUNT_10: Final = 0xFFFF


class IOSCSIBlockCommandsDevice(
    PolledMediumDevice, IOSCSIPrimaryCommandsDevice, IOSCSIBlockCommandsBuilder
):
    """The SBC layer: a direct-access block device (abstract; Type00 is the class)."""

    def __init__(self) -> None:
        super().__init__()
        self.fSCSIBlockCommandObject: SCSIBlockCommands | None = None
        self.fMediaIsRemovable = False
        self.fKnownManualEject = False
        self.fDeviceIsShared = False
        self.fMediumPresent = False
        self.fMediumChanged = False
        self.fMediumBlockSize = 0
        self.fMediumBlockCount = 0
        self.fMediumBlockCount64 = 0
        self.fMediumIsWriteProtected = True
        self.fMediumRemovalPrevented = False
        self.fWriteCacheEnabled = False
        self.fPoller: MediumPoller | None = None

    # -- the command-set object --------------------------------------------------------------

    def CreateCommandSetObjects(self) -> bool:
        self.fSCSIBlockCommandObject = SCSIBlockCommands.CreateSCSIBlockCommandObject()
        return True

    def FreeCommandSetObjects(self) -> None:
        if self.fSCSIBlockCommandObject is not None:
            self.fSCSIBlockCommandObject.release()
            self.fSCSIBlockCommandObject = None
        super().FreeCommandSetObjects()

    def GetSCSIBlockCommandObject(self) -> SCSIBlockCommands:
        command_set = self.fSCSIBlockCommandObject
        assert command_set is not None, "no command-set object (start has not run)"
        return command_set

    def GetSCSIPrimaryCommandObject(self) -> SCSIPrimaryCommands:
        return self.GetSCSIBlockCommandObject()

    # -- bringing the device up and down -----------------------------------------------------

    def InitializeDeviceSupport(self) -> bool:
        self.fMediaIsRemovable = False
        self.fKnownManualEject = False
        self.ResetMediumCharacteristics()
        characteristics = OSDynamicCast(
            OSDictionary, self.getProperty(kIOPropertySCSIDeviceCharacteristicsKey)
        )
        if characteristics is not None and characteristics.getObject(kIOPropertySCSIManualEjectKey):
            self.fKnownManualEject = True
            self.fDeviceIsShared = True
        protocol = self.GetProtocolCharacteristicsDictionary()
        if protocol is not None and protocol.getObject(kIOPropertySCSIProtocolMultiInitKey):
            self.fDeviceIsShared = True
        if not self.ClearNotReadyStatus():
            return False
        if not self.DetermineDeviceCharacteristics():
            return False
        self.fPoller = MediumPoller(self, self.ProcessPoll)
        self.fPoller.mode = kPollingMode_NewMedia
        # Publish the transfer limits even before a medium is known (Apple does too).
        self.SetMediumCharacteristics(0, 0)
        return True

    def StartDeviceSupport(self) -> None:
        if not self.fMediaIsRemovable:
            for attempt in range(FIXED_MEDIUM_ATTEMPTS):
                if attempt:
                    IOSleep(1000)
                self.PollForNewMedia()
                if self.fMediumPresent or self.isInactive():
                    break
        else:
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
                    IOSleep(NOT_READY_PAUSE_MS)  # maybe unplugged: let the others run
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
                    return True
                if ascq == 0x01:  # in process of becoming ready
                    IOSleep(NOT_READY_PAUSE_MS)
                    waited += NOT_READY_PAUSE_MS
                elif ascq in (0x00, 0x02, 0x03):  # needs an initializing command: spin up
                    if self.START_STOP_UNIT(request, 0, 0, 0, 1, 0):
                        self.SendCommand(request, kTenSecondTimeoutInMS)
                    waited += NOT_READY_PAUSE_MS
                else:
                    return True
            if not self.isInactive():
                IOLog("%s: the unit never became ready\n", self.device_name())
            return False
        finally:
            self.ReleaseSCSITask(request)

    def DetermineDeviceCharacteristics(self) -> bool:
        length = self.fDefaultInquiryCount or kINQUIRY_StandardDataSize
        buffer = self.data_buffer(length)
        request = self.GetSCSITask()
        try:
            for attempt in range(kMaxRetryCount):
                if self.isInactive():
                    return False
                if attempt:
                    IOSleep(1000)  # INQUIRY should never fail; let the device come online
                if self.INQUIRY(request, buffer, 0, 0, 0x00, length, 0) and self.command_succeeds(
                    request, kTenSecondTimeoutInMS
                ):
                    break
            else:
                return False
            inquiry = SCSICmd_INQUIRY_StandardData.from_bytes(buffer.getBytesNoCopy())
        finally:
            self.ReleaseSCSITask(request)
            buffer.release()
        self.SetANSIVersion(inquiry.ansi_version)
        self.fMediaIsRemovable = inquiry.removable
        self.SetCMDQUE(bool(inquiry.flags2 & kINQUIRY_Byte7_CMDQUE_Mask))
        enabled = BoolRef()
        status = self.GetWriteCacheState(enabled)
        if (
            status == kIOReturnSuccess
            and not enabled.value
            and self.SetWriteCacheState(True) == kIOReturnSuccess
        ):
            enabled.value = True
        self.fWriteCacheEnabled = enabled.value
        return True

    def CreateStorageServiceNub(self) -> None:
        nub = IOBlockStorageServices()
        nub.init()
        if nub.attach(self):
            nub.registerService()
        else:
            IOLog("%s: the storage services nub did not attach\n", self.device_name())
        nub.release()

    # -- the medium --------------------------------------------------------------------------

    def ResetMediumCharacteristics(self) -> None:
        self.fMediumBlockSize = 0
        self.fMediumBlockCount = 0
        self.fMediumBlockCount64 = 0
        self.fMediumPresent = False
        self.fMediumIsWriteProtected = True
        self.fMediumRemovalPrevented = False

    def SetMediumCharacteristics(self, blockSize: int, blockCount: int) -> None:
        self.fMediumBlockSize = blockSize
        self.fMediumBlockCount64 = blockCount
        self.fMediumBlockCount = min(blockCount, kREPORT_CAPACITY_MaximumLBA)
        self.setProperty(kIOMaximumBlockCountReadKey, self.ReportDeviceMaxBlocksReadTransfer(), 64)
        self.setProperty(
            kIOMaximumBlockCountWriteKey, self.ReportDeviceMaxBlocksWriteTransfer(), 64
        )

    def ReportDeviceMaxBlocksReadTransfer(self) -> int:
        return self.maximum_transfer_blocks(write=False, block_size=self.fMediumBlockSize)

    def ReportDeviceMaxBlocksWriteTransfer(self) -> int:
        return self.maximum_transfer_blocks(write=True, block_size=self.fMediumBlockSize)

    def ReportMediumBlockSize(self) -> int:
        return self.fMediumBlockSize

    def ReportMediumTotalBlockCount(self) -> int:
        return self.fMediumBlockCount64

    def ReportMediumWriteProtection(self) -> bool:
        return self.fMediumIsWriteProtected

    def ReportDeviceMediaRemovability(self) -> bool:
        return self.fMediaIsRemovable

    def ReportMediaState(self, mediaPresent: BoolRef, changed: BoolRef | None = None) -> int:
        """Whether a medium is present (and whether that changed since last asked).
        An empty removable drive whose polling window ran out polls again: someone is
        looking for a medium."""
        mediaPresent.value = self.fMediumPresent
        if changed is not None:
            changed.value = self.fMediumChanged
        self.fMediumChanged = False
        poller = self.fPoller
        if (
            not self.fMediumPresent
            and poller is not None
            and poller.mode == kPollingMode_NewMedia
            and not poller.pending
        ):
            poller.enable()
        return kIOReturnSuccess

    def ProcessPoll(self) -> None:
        poller = self.fPoller
        if poller is None or not self.IsDeviceAccessEnabled():
            return
        if poller.mode == kPollingMode_NewMedia:
            self.PollForNewMedia()
        elif poller.mode == kPollingMode_MediaRemoval:
            self.PollForMediaRemoval()

    def PollForNewMedia(self) -> None:
        self.fMediumPresent = False
        if not self.DetermineMediaPresence():
            return
        if self.fMediaIsRemovable:
            self.fMediumRemovalPrevented = self.PreventMediumRemoval()
        else:
            self.fMediumRemovalPrevented = True
        capacity = self.DetermineMediumCapacity()
        if capacity is None:
            return
        block_size, block_count = capacity
        self.SetMediumCharacteristics(block_size, block_count)
        self.fMediumIsWriteProtected = self.DetermineMediumWriteProtectState()
        self.fMediumPresent = True
        self.fMediumChanged = True
        poller = self.fPoller
        if poller is not None:
            poller.mode = kPollingMode_Suspended
        self.messageClients(kIOMessageMediaStateHasChanged, kIOMediaStateOnline)
        if not self.fMediumRemovalPrevented and poller is not None:
            # The medium is not locked in: a manual-eject device, watch for removal.
            poller.mode = kPollingMode_MediaRemoval
            self.fKnownManualEject = True
            self.fDeviceIsShared = True

    def DetermineMediaPresence(self) -> bool:
        request = self.GetSCSITask()
        try:
            if not self.TEST_UNIT_READY(request, 0):
                return False
            if self.SendCommand(request, kTenSecondTimeoutInMS) != (
                kSCSIServiceResponse_TASK_COMPLETE
            ):
                return False
            if request.GetTaskStatus() != kSCSITaskStatus_CHECK_CONDITION:
                return True
            sense = self.request_sense_into(request, kTenSecondTimeoutInMS)
            return (
                sense is not None
                and sense.ADDITIONAL_SENSE_CODE == 0
                and sense.ADDITIONAL_SENSE_CODE_QUALIFIER == 0
            )
        finally:
            self.ReleaseSCSITask(request)

    def PollForMediaRemoval(self) -> None:
        request = self.GetSCSITask()
        try:
            if not self.TEST_UNIT_READY(request, 0):
                return
            response = self.SendCommand(request, kTenSecondTimeoutInMS)
            if (
                response != kSCSIServiceResponse_TASK_COMPLETE
                or request.GetTaskStatus() != kSCSITaskStatus_CHECK_CONDITION
            ):
                return
            sense = self.request_sense_into(request, kTenSecondTimeoutInMS)
        finally:
            self.ReleaseSCSITask(request)
        if sense is None or not _medium_gone(sense):
            return
        if self.fPoller is not None:
            self.fPoller.mode = kPollingMode_NewMedia
        self.messageClients(kIOMessageMediaStateHasChanged, kIOMediaStateOffline)
        self.ResetMediumCharacteristics()
        self.fMediumChanged = True
        self.EnablePolling()

    def PreventMediumRemoval(self) -> bool:
        if self.fKnownManualEject:
            return False
        request = self.GetSCSITask()
        try:
            return self.PREVENT_ALLOW_MEDIUM_REMOVAL(
                request, kMediaStateLocked, 0
            ) and self.command_succeeds(request, kTenSecondTimeoutInMS)
        finally:
            self.ReleaseSCSITask(request)

    def DetermineMediumCapacity(self) -> tuple[int, int] | None:
        """(block size, block count) of the medium, or None if READ CAPACITY failed.
        (Apple's ``DetermineMediumCapacity(&blockSize, &blockCount) -> bool``.)"""
        request = self.GetSCSITask()
        buffer = self.data_buffer(kREPORT_CAPACITY_DataSize)
        try:
            if not (
                self.READ_CAPACITY(request, buffer, 0, 0, 0, 0)
                and self.command_succeeds(request, kThirtySecondTimeoutInMS)
            ):
                return None
            data = bytes(buffer.getBytesNoCopy())
            last_lba = int.from_bytes(data[0:4], "big")
            block_size = int.from_bytes(data[4:8], "big")
            capacity = (block_size, last_lba + 1)
            # SBC-2 5.14: all ones means "ask READ CAPACITY(16)" of an SPC-3 device.
            if (
                last_lba == kREPORT_CAPACITY_MaximumLBA
                and self.GetANSIVersion() >= kINQUIRY_ANSI_VERSION_SCSI_SPC_3_Compliant
            ):
                long_buffer = self.data_buffer(kREPORT_CAPACITY_16_DataSize)
                try:
                    if self.READ_CAPACITY_16(
                        request, long_buffer, 0, kREPORT_CAPACITY_16_DataSize, 0, 0
                    ) and self.command_succeeds(request, kThirtySecondTimeoutInMS):
                        data = bytes(long_buffer.getBytesNoCopy())
                        capacity = (
                            int.from_bytes(data[8:12], "big"),
                            int.from_bytes(data[0:8], "big") + 1,
                        )
                finally:
                    long_buffer.release()
            return capacity
        finally:
            buffer.release()
            self.ReleaseSCSITask(request)

    def DetermineMediumWriteProtectState(self) -> bool:
        """Whether the medium is write protected: the WP bit of MODE SENSE's
        device-specific parameter (any page will do: all pages, header only)."""
        request = self.GetSCSITask()
        buffer = self.data_buffer(8)
        try:
            if self.fMediaIsRemovable:
                # Apple's: a REQUEST SENSE first "seems to make some happy again".
                sense = self.data_buffer(18)
                if self.REQUEST_SENSE(request, sense, 18, 0):
                    self.SendCommand(request, kTenSecondTimeoutInMS)
                sense.release()
            if self.MODE_SENSE_6(request, buffer, 0, 0, 0x3F, 8, 0) and self.command_succeeds(
                request, kThirtySecondTimeoutInMS
            ):
                device_specific = buffer.getBytesNoCopy()[2]
                return bool(device_specific & kModeSenseSBCDeviceSpecific_WriteProtectMask)
            return True  # the mode sense failed: write protected, to be safe
        finally:
            buffer.release()
            self.ReleaseSCSITask(request)

    # -- the write cache ---------------------------------------------------------------------

    def GetWriteCacheState(self, enabled: BoolRef) -> int:
        """Whether the disk caches writes: the WCE bit of its caching mode page."""
        return write_cache.get_write_cache_state(self, enabled)

    def SetWriteCacheState(self, enabled: bool) -> int:
        """Switch the disk's write cache on or off (MODE SELECT of the caching page)."""
        return write_cache.set_write_cache_state(self, enabled)

    # -- requests from the storage services nub ----------------------------------------------

    def AsyncReadWrite(
        self,
        buffer: IOMemoryDescriptor,
        startBlock: int,
        blockCount: int,
        blockSize: int,
        clientData: object,
        attributes: IOStorageAttributes | None = None,
    ) -> int:
        """Start a read or write (the buffer's direction says which); its outcome goes
        to ``IOBlockStorageServices.AsyncReadWriteComplete(clientData, ...)``."""
        if not self.fProtocolAccessEnabled:
            return kIOReturnNotAttached
        if not self.fDeviceAccessEnabled:
            return kIOReturnOffline
        direction = buffer.getDirection()
        if direction == kIODirectionIn:
            return self.IssueRead(buffer, startBlock, blockCount, clientData)
        if direction == kIODirectionOut:
            options = attributes.options if attributes is not None else 0
            fua = 1 if options & kIOStorageOptionForceUnitAccess else 0
            return self.IssueWrite(buffer, startBlock, blockCount, clientData, fua)
        return kIOReturnBadArgument

    def IssueRead(
        self, buffer: IOMemoryDescriptor, startBlock: int, blockCount: int, clientData: object
    ) -> int:
        request = self.GetSCSITask()
        size = self.fMediumBlockSize
        if startBlock + blockCount - 1 > _LAST_LBA_10 or blockCount > _MAXIMUM_COUNT_10:
            built = self.READ_16(request, buffer, size, 0, 0, 0, 0, startBlock, blockCount, 0, 0)
        else:
            built = self.READ_10(request, buffer, size, 0, 0, 0, startBlock, blockCount, 0)
        return self._send_read_write(request, built, clientData, self.fReadTimeoutDuration)

    def IssueWrite(
        self,
        buffer: IOMemoryDescriptor,
        startBlock: int,
        blockCount: int,
        clientData: object,
        FUA: int = 0,
    ) -> int:
        request = self.GetSCSITask()
        size = self.fMediumBlockSize
        if startBlock + blockCount - 1 > _LAST_LBA_10 or blockCount > _MAXIMUM_COUNT_10:
            built = self.WRITE_16(request, buffer, size, 0, 0, FUA, 0, startBlock, blockCount, 0, 0)
        else:
            built = self.WRITE_10(request, buffer, size, 0, FUA, 0, 0, startBlock, blockCount, 0)
        return self._send_read_write(request, built, clientData, self.fWriteTimeoutDuration)

    def _send_read_write(
        self, request: SCSITask, built: bool, clientData: object, timeout: int
    ) -> int:
        if not built:
            self.ReleaseSCSITask(request)
            return kIOReturnBadArgument
        # The task's application reference, attribute and tag, written directly (one
        # family; every READ and WRITE comes here).
        request._references[1] = clientData
        if self.fCMDQUE:
            request._task_attribute = kSCSITask_SIMPLE
            request._tag = self.GetUniqueTagID()
        self.SendCommand(request, timeout, IOSCSIBlockCommandsDevice.AsyncReadWriteComplete)
        return kIOReturnSuccess

    @staticmethod
    def AsyncReadWriteComplete(request: SCSITask) -> None:
        """The completion of every READ and WRITE: back to the task's owner."""
        owner = request._owner  # its ``GetTaskOwner`` (one family, every READ and WRITE)
        if isinstance(owner, IOSCSIBlockCommandsDevice):
            owner.AsyncReadWriteCompletion(request)

    def AsyncReadWriteCompletion(self, completedTask: SCSITask) -> None:
        # The completed task's fields read directly (one family, every READ and WRITE);
        # a command that completed GOOD needs no more of ``io_status_of``.
        clientData = completedTask._references[1]
        task_status = completedTask._task_status
        if (
            task_status == kSCSITaskStatus_GOOD
            and completedTask._service_response == kSCSIServiceResponse_TASK_COMPLETE
        ):
            status = kIOReturnSuccess
            actual = completedTask._realized
        else:
            status = io_status_of(completedTask)
            actual = completedTask._realized if status == kIOReturnSuccess else 0
            if status != kIOReturnSuccess or task_status == kSCSITaskStatus_CHECK_CONDITION:
                self.log_failed_command(completedTask, status)
        IOBlockStorageServices.AsyncReadWriteComplete(clientData, status, actual)
        self.ReleaseSCSITask(completedTask)

    def log_failed_command(self, request: SCSITask, status: int) -> None:
        """Say in the kernel log which device failed which command, and how."""
        cdb = request.command_bytes()
        if len(cdb) == 16:
            lba, count = int.from_bytes(cdb[2:10], "big"), int.from_bytes(cdb[10:14], "big")
        elif len(cdb) >= 10:
            lba, count = int.from_bytes(cdb[2:6], "big"), int.from_bytes(cdb[7:9], "big")
        else:
            lba = count = 0
        name = {0x28: "READ(10)", 0x88: "READ(16)", 0x2A: "WRITE(10)", 0x8A: "WRITE(16)"}.get(
            cdb[0] if cdb else -1, f"command {cdb[:1].hex()}"
        )
        IOLog(
            "%s: %s of %u blocks at LBA %llu: %s (%s)\n",
            self.device_name(),
            name,
            count,
            lba,
            describe_outcome(request),
            ioreturn_name(status),
        )

    # -- other device calls ------------------------------------------------------------------

    def SynchronizeCache(self) -> int:
        if not self.fProtocolAccessEnabled:
            return kIOReturnNotAttached
        if not self.fDeviceAccessEnabled:
            return kIOReturnOffline
        if not self.fWriteCacheEnabled:
            return kIOReturnSuccess  # nothing is cached: nothing to write back
        request = self.GetSCSITask()
        try:
            if self.SYNCHRONIZE_CACHE(request, 0, 0, 0, 0, 0) and self.command_succeeds(
                request, kThirtySecondTimeoutInMS
            ):
                return kIOReturnSuccess
            IOLog(
                "%s: SYNCHRONIZE CACHE failed: %s\n", self.device_name(), describe_outcome(request)
            )
            return kIOReturnError
        finally:
            self.ReleaseSCSITask(request)

    def EjectTheMedium(self) -> int:
        if not self.fProtocolAccessEnabled:
            return kIOReturnNotAttached
        if not self.fDeviceAccessEnabled:
            return kIOReturnOffline
        if not self.fMediaIsRemovable:
            # A fixed disk: Apple spins it down when its personality says "Power Off"
            # and otherwise only tells power management; kextlab has neither to do.
            return kIOReturnSuccess
        poll_for_removal = self.fKnownManualEject
        if not self.fKnownManualEject:
            request = self.GetSCSITask()
            try:
                if self.PREVENT_ALLOW_MEDIUM_REMOVAL(request, kMediaStateUnlocked, 0):
                    self.SendCommand(request, kTenSecondTimeoutInMS)
                if self.START_STOP_UNIT(request, 0, 0, 1, 0, 0):
                    response = self.SendCommand(request, kTenSecondTimeoutInMS)
                    if (
                        response == kSCSIServiceResponse_TASK_COMPLETE
                        and request.GetTaskStatus() != kSCSITaskStatus_GOOD
                    ):
                        poll_for_removal = True  # it would not eject: a manual-eject drive
            finally:
                self.ReleaseSCSITask(request)
        removal_was_prevented = self.fMediumRemovalPrevented
        self.ResetMediumCharacteristics()
        self.fMediumIsWriteProtected = True
        if self.fPoller is not None:
            self.fPoller.mode = (
                kPollingMode_MediaRemoval
                if poll_for_removal or not removal_was_prevented
                else kPollingMode_NewMedia
            )
        self.EnablePolling()
        return kIOReturnSuccess

    def LockUnlockMedium(self, doLock: bool) -> int:
        if not self.fProtocolAccessEnabled:
            return kIOReturnNotAttached
        if not self.fDeviceAccessEnabled:
            return kIOReturnOffline
        if not self.fMediaIsRemovable:
            return kIOReturnSuccess
        request = self.GetSCSITask()
        try:
            state = kMediaStateLocked if doLock else kMediaStateUnlocked
            if self.PREVENT_ALLOW_MEDIUM_REMOVAL(request, state, 0) and self.command_succeeds(
                request, kTenSecondTimeoutInMS
            ):
                self.fMediumRemovalPrevented = doLock
                return kIOReturnSuccess
            return kIOReturnError
        finally:
            self.ReleaseSCSITask(request)

    def FormatMedium(self, blockCount: int, blockSize: int) -> int:
        """Apple's answer: not supported (disks are formatted at the factory)."""
        if not self.fProtocolAccessEnabled:
            return kIOReturnNotAttached
        if not self.fDeviceAccessEnabled:
            return kIOReturnOffline
        return kIOReturnUnsupported

    def GetFormatCapacities(self, capacities: list[int] | None, capacitiesMaxCount: int) -> int:
        return 0


def _medium_gone(sense: SCSI_Sense_Data) -> bool:
    """MEDIUM NOT PRESENT (3A/xx) or MEDIUM MAY HAVE CHANGED (28/00)."""
    asc = sense.ADDITIONAL_SENSE_CODE
    return asc == ASC_MEDIUM_NOT_PRESENT or (
        asc == ASC_MEDIUM_MAY_HAVE_CHANGED and sense.ADDITIONAL_SENSE_CODE_QUALIFIER == 0
    )


class IOSCSIPeripheralDeviceType00(IOSCSIBlockCommandsDevice):
    """The driver of peripheral device type 0 (direct access): the family's
    ``IOSCSIPeripheralDeviceType00`` personality matches it to a logical unit nub."""


__all__ = ["IOSCSIBlockCommandsDevice", "IOSCSIPeripheralDeviceType00"]
