"""The command-set objects: CDB builders for SPC, SBC and MMC commands.

Mirrors Apple's ``SCSIPrimaryCommands`` (``SCSIPrimaryCommands.cpp``),
``SCSIBlockCommands`` (``SCSIBlockCommands.cpp``) and ``SCSIMultimediaCommands``
(``SCSIMultimediaCommands.cpp``) of IOSCSIArchitectureModelFamily.  A peripheral
driver owns one command-set object (``CreateCommandSetObjects``) and its builder
methods (``IOSCSIPrimaryCommandsDevice.INQUIRY`` ...) reset the task and hand it
here.  Each builder checks its fields the way Apple's do (``IsParameterValid``: the
value fits its field; ``IsBufferAndCapacityValid``: the data buffer holds the
transfer), fills in the CDB byte by byte as the T10 standards lay it out
(SPC-4, SBC-3, MMC-6) and sets the data direction, buffer and requested count
(``SetDataTransferControl``).  A builder that refuses its arguments answers False
and leaves the CDB alone; the caller then does not send the task.

The set here is what kextlab's peripheral drivers send; Apple's objects have many
more builders, each the same three steps.  As in later versions of Apple's family,
the 16-byte READ, WRITE, READ CAPACITY and SYNCHRONIZE CACHE builders are here too
(Apple's 2004 tree builds those in ``IOSCSIBlockCommandsBuilder.cpp`` directly);
``SYNCRONIZE_CACHE_16`` keeps Apple's spelling.

Threading rules: none; a builder only writes the task it is given.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from kextlab.families.scsi.definitions import (
    kSCSICDBSize_10Byte,
    kSCSICDBSize_16Byte,
    kSCSICmd_GET_CONFIGURATION,
    kSCSICmd_INQUIRY,
    kSCSICmd_MODE_SELECT_6,
    kSCSICmd_MODE_SELECT_10,
    kSCSICmd_MODE_SENSE_6,
    kSCSICmd_MODE_SENSE_10,
    kSCSICmd_PREVENT_ALLOW_MEDIUM_REMOVAL,
    kSCSICmd_READ_10,
    kSCSICmd_READ_16,
    kSCSICmd_READ_CAPACITY,
    kSCSICmd_READ_DISC_INFORMATION,
    kSCSICmd_READ_TOC_PMA_ATIP,
    kSCSICmd_REQUEST_SENSE,
    kSCSICmd_SERVICE_ACTION_IN,
    kSCSICmd_START_STOP_UNIT,
    kSCSICmd_SYNCHRONIZE_CACHE,
    kSCSICmd_SYNCHRONIZE_CACHE_16,
    kSCSICmd_TEST_UNIT_READY,
    kSCSICmd_WRITE_10,
    kSCSICmd_WRITE_16,
    kSCSIDataTransfer_FromInitiatorToTarget,
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSIDataTransfer_NoDataTransfer,
    kSCSIServiceAction_READ_CAPACITY_16,
)
from kextlab.kernel.libkern.object import OSObject

if TYPE_CHECKING:
    from kextlab.families.scsi.task import SCSITask
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

# -- SCSICommandDefinitions.h: the field masks -----------------------------------------------------
kSCSICmdFieldMask1Bit: Final = 0x01
kSCSICmdFieldMask2Bit: Final = 0x03
kSCSICmdFieldMask3Bit: Final = 0x07
kSCSICmdFieldMask4Bit: Final = 0x0F
kSCSICmdFieldMask5Bit: Final = 0x1F
kSCSICmdFieldMask6Bit: Final = 0x3F
kSCSICmdFieldMask7Bit: Final = 0x7F
kSCSICmdFieldMask1Byte: Final = 0xFF
kSCSICmdFieldMask2Byte: Final = 0xFFFF
kSCSICmdFieldMask3Byte: Final = 0xFF_FFFF
kSCSICmdFieldMask4Byte: Final = 0xFFFF_FFFF
kSCSICmdFieldMask8Byte: Final = 0xFFFF_FFFF_FFFF_FFFF


def IsParameterValid(param: int, mask: int) -> bool:
    """The value fits the field whose mask is ``mask`` (``(param | mask) == mask``)."""
    return param >= 0 and (param | mask) == mask


def IsBufferAndCapacityValid(dataBuffer: IOMemoryDescriptor | None, requiredSize: int) -> bool:
    """There is a buffer and it holds ``requiredSize`` bytes."""
    return dataBuffer is not None and dataBuffer.getLength() >= requiredSize


#: The 10- and 16-byte READ and WRITE CDBs (SBC-3 §5.11, §5.13, §5.32, §5.34): operation
#: code, flags, LOGICAL BLOCK ADDRESS, (GROUP NUMBER,) TRANSFER LENGTH, CONTROL; the
#: 10-byte ones padded with zeros to the task's 16-byte block.
_CDB_10 = struct.Struct(">BBIBHB6x")
_CDB_16 = struct.Struct(">BBQIBB")


def _be(value: int, size: int) -> tuple[int, ...]:
    """``value`` as ``size`` big-endian bytes, each an int (how CDBs are written)."""
    return tuple(value.to_bytes(size, "big"))


class SCSIPrimaryCommands(OSObject):
    """Builders for the SPC commands every device type shares."""

    @classmethod
    def CreateSCSIPrimaryCommandObject(cls) -> SCSIPrimaryCommands:
        return cls()

    # -- utilities ---------------------------------------------------------------------------

    @staticmethod
    def SetDataTransferControl(
        request: SCSITask,
        timeoutDuration: int,
        dataTransferDirection: int,
        dataBuffer: IOMemoryDescriptor | None = None,
        transferCountInBytes: int = 0,
    ) -> bool:
        if transferCountInBytes and dataBuffer is None:
            return False
        # The task's four setters, written directly (one family; every command comes here).
        request._timeout = timeoutDuration
        request._direction = dataTransferDirection
        request._data_buffer = dataBuffer
        request._requested = transferCountInBytes
        return True

    # -- SPC ---------------------------------------------------------------------------------

    def TEST_UNIT_READY(self, request: SCSITask, CONTROL: int) -> bool:
        if not IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte):
            return False
        request.SetCommandDescriptorBlock(kSCSICmd_TEST_UNIT_READY, 0, 0, 0, 0, CONTROL)
        return self.SetDataTransferControl(request, 0, kSCSIDataTransfer_NoDataTransfer)

    def INQUIRY(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        CMDDT: int,
        EVPD: int,
        PAGE_OR_OPERATION_CODE: int,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(CMDDT, kSCSICmdFieldMask1Bit)
            and IsParameterValid(EVPD, kSCSICmdFieldMask1Bit)
            and IsParameterValid(PAGE_OR_OPERATION_CODE, kSCSICmdFieldMask1Byte)
            and IsParameterValid(ALLOCATION_LENGTH, kSCSICmdFieldMask1Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, ALLOCATION_LENGTH)
        ):
            return False
        # A page or operation code needs exactly one of CMDDT and EVPD.
        if PAGE_OR_OPERATION_CODE and CMDDT == EVPD:
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_INQUIRY,
            (CMDDT << 1) | EVPD,
            PAGE_OR_OPERATION_CODE,
            0x00,
            ALLOCATION_LENGTH,
            CONTROL,
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, ALLOCATION_LENGTH
        )

    def REQUEST_SENSE(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(ALLOCATION_LENGTH, kSCSICmdFieldMask1Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, ALLOCATION_LENGTH)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_REQUEST_SENSE, 0x00, 0x00, 0x00, ALLOCATION_LENGTH, CONTROL
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, ALLOCATION_LENGTH
        )

    def MODE_SENSE_6(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        DBD: int,
        PC: int,
        PAGE_CODE: int,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(DBD, kSCSICmdFieldMask1Bit)
            and IsParameterValid(PC, kSCSICmdFieldMask2Bit)
            and IsParameterValid(PAGE_CODE, kSCSICmdFieldMask6Bit)
            and IsParameterValid(ALLOCATION_LENGTH, kSCSICmdFieldMask1Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, ALLOCATION_LENGTH)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_MODE_SENSE_6, DBD << 3, (PC << 6) | PAGE_CODE, 0x00, ALLOCATION_LENGTH, CONTROL
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, ALLOCATION_LENGTH
        )

    def MODE_SENSE_10(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        LLBAA: int,
        DBD: int,
        PC: int,
        PAGE_CODE: int,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(LLBAA, kSCSICmdFieldMask1Bit)
            and IsParameterValid(DBD, kSCSICmdFieldMask1Bit)
            and IsParameterValid(PC, kSCSICmdFieldMask2Bit)
            and IsParameterValid(PAGE_CODE, kSCSICmdFieldMask6Bit)
            and IsParameterValid(ALLOCATION_LENGTH, kSCSICmdFieldMask2Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, ALLOCATION_LENGTH)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_MODE_SENSE_10,
            (LLBAA << 4) | (DBD << 3),
            (PC << 6) | PAGE_CODE,
            0x00,
            0x00,
            0x00,
            0x00,
            *_be(ALLOCATION_LENGTH, 2),
            CONTROL,
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, ALLOCATION_LENGTH
        )

    def MODE_SELECT_6(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        PF: int,
        SP: int,
        PARAMETER_LIST_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(PF, kSCSICmdFieldMask1Bit)
            and IsParameterValid(SP, kSCSICmdFieldMask1Bit)
            and IsParameterValid(PARAMETER_LIST_LENGTH, kSCSICmdFieldMask1Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, PARAMETER_LIST_LENGTH)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_MODE_SELECT_6, (PF << 4) | SP, 0x00, 0x00, PARAMETER_LIST_LENGTH, CONTROL
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromInitiatorToTarget, dataBuffer, PARAMETER_LIST_LENGTH
        )

    def MODE_SELECT_10(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        PF: int,
        SP: int,
        PARAMETER_LIST_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(PF, kSCSICmdFieldMask1Bit)
            and IsParameterValid(SP, kSCSICmdFieldMask1Bit)
            and IsParameterValid(PARAMETER_LIST_LENGTH, kSCSICmdFieldMask2Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, PARAMETER_LIST_LENGTH)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_MODE_SELECT_10,
            (PF << 4) | SP,
            0x00,
            0x00,
            0x00,
            0x00,
            0x00,
            *_be(PARAMETER_LIST_LENGTH, 2),
            CONTROL,
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromInitiatorToTarget, dataBuffer, PARAMETER_LIST_LENGTH
        )

    def PREVENT_ALLOW_MEDIUM_REMOVAL(self, request: SCSITask, PREVENT: int, CONTROL: int) -> bool:
        if not (
            IsParameterValid(PREVENT, kSCSICmdFieldMask2Bit)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_PREVENT_ALLOW_MEDIUM_REMOVAL, 0x00, 0x00, 0x00, PREVENT, CONTROL
        )
        return self.SetDataTransferControl(request, 0, kSCSIDataTransfer_NoDataTransfer)


class SCSIBlockCommands(SCSIPrimaryCommands):
    """Builders for the SBC commands (direct-access devices; also used by MMC drives)."""

    @classmethod
    def CreateSCSIBlockCommandObject(cls) -> SCSIBlockCommands:
        return cls()

    def READ_10(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        transferCount: int,
        DPO: int,
        FUA: int,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        return self._transfer_10(
            request,
            kSCSICmd_READ_10,
            kSCSIDataTransfer_FromTargetToInitiator,
            dataBuffer,
            transferCount,
            DPO,
            FUA,
            0,  # READ(10) has no EBP bit
            RELADR,
            LOGICAL_BLOCK_ADDRESS,
            TRANSFER_LENGTH,
            CONTROL,
        )

    def WRITE_10(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        transferCount: int,
        DPO: int,
        FUA: int,
        EBP: int,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        return self._transfer_10(
            request,
            kSCSICmd_WRITE_10,
            kSCSIDataTransfer_FromInitiatorToTarget,
            dataBuffer,
            transferCount,
            DPO,
            FUA,
            EBP,
            RELADR,
            LOGICAL_BLOCK_ADDRESS,
            TRANSFER_LENGTH,
            CONTROL,
        )

    def _transfer_10(
        self,
        request: SCSITask,
        opcode: int,
        direction: int,
        dataBuffer: IOMemoryDescriptor | None,
        transferCount: int,
        DPO: int,
        FUA: int,
        EBP: int,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        """READ(10) and WRITE(10), which differ only in opcode, direction and EBP."""
        if not (
            0 <= DPO <= 1
            and 0 <= FUA <= 1
            and 0 <= EBP <= 1
            and 0 <= RELADR <= 1
            and 0 <= LOGICAL_BLOCK_ADDRESS <= kSCSICmdFieldMask4Byte
            and 0 <= TRANSFER_LENGTH <= kSCSICmdFieldMask2Byte
            and 0 <= CONTROL <= kSCSICmdFieldMask1Byte
            and dataBuffer is not None  # ``IsBufferAndCapacityValid``, inline
            and dataBuffer.getLength() >= transferCount
        ):
            return False
        # The hot path: the CDB packed whole as the task's block (its
        # ``SetCommandDescriptorBlock``; the pad bytes are the unused ones, zero).
        request._cdb = _CDB_10.pack(
            opcode,
            (DPO << 4) | (FUA << 3) | (EBP << 2) | RELADR,
            LOGICAL_BLOCK_ADDRESS,
            0x00,
            TRANSFER_LENGTH,
            CONTROL,
        )
        request._cdb_size = kSCSICDBSize_10Byte
        return self.SetDataTransferControl(request, 0, direction, dataBuffer, transferCount)

    def READ_16(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        transferCount: int,
        RDPROTECT: int,
        DPO: int,
        FUA: int,
        FUA_NV: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        GROUP_NUMBER: int,
        CONTROL: int,
    ) -> bool:
        return self._transfer_16(
            request,
            kSCSICmd_READ_16,
            kSCSIDataTransfer_FromTargetToInitiator,
            dataBuffer,
            transferCount,
            RDPROTECT,
            DPO,
            FUA,
            FUA_NV,
            LOGICAL_BLOCK_ADDRESS,
            TRANSFER_LENGTH,
            GROUP_NUMBER,
            CONTROL,
        )

    def WRITE_16(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        transferCount: int,
        WRPROTECT: int,
        DPO: int,
        FUA: int,
        FUA_NV: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        GROUP_NUMBER: int,
        CONTROL: int,
    ) -> bool:
        return self._transfer_16(
            request,
            kSCSICmd_WRITE_16,
            kSCSIDataTransfer_FromInitiatorToTarget,
            dataBuffer,
            transferCount,
            WRPROTECT,
            DPO,
            FUA,
            FUA_NV,
            LOGICAL_BLOCK_ADDRESS,
            TRANSFER_LENGTH,
            GROUP_NUMBER,
            CONTROL,
        )

    def _transfer_16(
        self,
        request: SCSITask,
        opcode: int,
        direction: int,
        dataBuffer: IOMemoryDescriptor | None,
        transferCount: int,
        PROTECT: int,
        DPO: int,
        FUA: int,
        FUA_NV: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        GROUP_NUMBER: int,
        CONTROL: int,
    ) -> bool:
        """READ(16) and WRITE(16), which differ only in opcode and direction."""
        if not (
            0 <= PROTECT <= kSCSICmdFieldMask3Bit
            and 0 <= DPO <= 1
            and 0 <= FUA <= 1
            and 0 <= FUA_NV <= 1
            and 0 <= LOGICAL_BLOCK_ADDRESS <= kSCSICmdFieldMask8Byte
            and 0 <= TRANSFER_LENGTH <= kSCSICmdFieldMask4Byte
            and 0 <= GROUP_NUMBER <= kSCSICmdFieldMask5Bit
            and 0 <= CONTROL <= kSCSICmdFieldMask1Byte
            and dataBuffer is not None  # ``IsBufferAndCapacityValid``, inline
            and dataBuffer.getLength() >= transferCount
        ):
            return False
        # The CDB packed whole as the task's block (its ``SetCommandDescriptorBlock``).
        request._cdb = _CDB_16.pack(
            opcode,
            (PROTECT << 5) | (DPO << 4) | (FUA << 3) | (FUA_NV << 1),
            LOGICAL_BLOCK_ADDRESS,
            TRANSFER_LENGTH,
            GROUP_NUMBER,
            CONTROL,
        )
        request._cdb_size = kSCSICDBSize_16Byte
        return self.SetDataTransferControl(request, 0, direction, dataBuffer, transferCount)

    def READ_CAPACITY(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        PMI: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(RELADR, kSCSICmdFieldMask1Bit)
            and IsParameterValid(LOGICAL_BLOCK_ADDRESS, kSCSICmdFieldMask4Byte)
            and IsParameterValid(PMI, kSCSICmdFieldMask1Bit)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, 8)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_READ_CAPACITY,
            RELADR,
            *_be(LOGICAL_BLOCK_ADDRESS, 4),
            0x00,
            0x00,
            PMI,
            CONTROL,
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, 8
        )

    def READ_CAPACITY_16(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        LOGICAL_BLOCK_ADDRESS: int,
        ALLOCATION_LENGTH: int,
        PMI: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(LOGICAL_BLOCK_ADDRESS, kSCSICmdFieldMask8Byte)
            and IsParameterValid(ALLOCATION_LENGTH, kSCSICmdFieldMask4Byte)
            and IsParameterValid(PMI, kSCSICmdFieldMask1Bit)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, ALLOCATION_LENGTH)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_SERVICE_ACTION_IN,
            kSCSIServiceAction_READ_CAPACITY_16,
            *_be(LOGICAL_BLOCK_ADDRESS, 8),
            *_be(ALLOCATION_LENGTH, 4),
            PMI,
            CONTROL,
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, ALLOCATION_LENGTH
        )

    def START_STOP_UNIT(
        self,
        request: SCSITask,
        IMMED: int,
        POWER_CONDITIONS: int,
        LOEJ: int,
        START: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(IMMED, kSCSICmdFieldMask1Bit)
            and IsParameterValid(POWER_CONDITIONS, kSCSICmdFieldMask4Bit)
            and IsParameterValid(LOEJ, kSCSICmdFieldMask1Bit)
            and IsParameterValid(START, kSCSICmdFieldMask1Bit)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_START_STOP_UNIT,
            IMMED,
            0x00,
            0x00,
            (POWER_CONDITIONS << 4) | (LOEJ << 1) | START,
            CONTROL,
        )
        return self.SetDataTransferControl(request, 0, kSCSIDataTransfer_NoDataTransfer)

    def SYNCHRONIZE_CACHE(
        self,
        request: SCSITask,
        IMMED: int,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        NUMBER_OF_BLOCKS: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(IMMED, kSCSICmdFieldMask1Bit)
            and IsParameterValid(RELADR, kSCSICmdFieldMask1Bit)
            and IsParameterValid(LOGICAL_BLOCK_ADDRESS, kSCSICmdFieldMask4Byte)
            and IsParameterValid(NUMBER_OF_BLOCKS, kSCSICmdFieldMask2Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_SYNCHRONIZE_CACHE,
            (IMMED << 1) | RELADR,
            *_be(LOGICAL_BLOCK_ADDRESS, 4),
            0x00,
            *_be(NUMBER_OF_BLOCKS, 2),
            CONTROL,
        )
        return self.SetDataTransferControl(request, 0, kSCSIDataTransfer_NoDataTransfer)

    def SYNCRONIZE_CACHE_16(
        self,
        request: SCSITask,
        SYNC_NV: int,
        IMMED: int,
        LOGICAL_BLOCK_ADDRESS: int,
        NUMBER_OF_BLOCKS: int,
        GROUP_NUMBER: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(SYNC_NV, kSCSICmdFieldMask1Bit)
            and IsParameterValid(IMMED, kSCSICmdFieldMask1Bit)
            and IsParameterValid(LOGICAL_BLOCK_ADDRESS, kSCSICmdFieldMask8Byte)
            and IsParameterValid(NUMBER_OF_BLOCKS, kSCSICmdFieldMask4Byte)
            and IsParameterValid(GROUP_NUMBER, kSCSICmdFieldMask5Bit)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_SYNCHRONIZE_CACHE_16,
            (SYNC_NV << 2) | (IMMED << 1),
            *_be(LOGICAL_BLOCK_ADDRESS, 8),
            *_be(NUMBER_OF_BLOCKS, 4),
            GROUP_NUMBER,
            CONTROL,
        )
        return self.SetDataTransferControl(request, 0, kSCSIDataTransfer_NoDataTransfer)


class SCSIMultimediaCommands(SCSIPrimaryCommands):
    """Builders for the MMC commands (CD and DVD drives)."""

    @classmethod
    def CreateSCSIMultimediaCommandObject(cls) -> SCSIMultimediaCommands:
        return cls()

    def GET_CONFIGURATION(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        RT: int,
        STARTING_FEATURE_NUMBER: int,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(RT, kSCSICmdFieldMask2Bit)
            and IsParameterValid(STARTING_FEATURE_NUMBER, kSCSICmdFieldMask2Byte)
            and IsParameterValid(ALLOCATION_LENGTH, kSCSICmdFieldMask2Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, ALLOCATION_LENGTH)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_GET_CONFIGURATION,
            RT,
            *_be(STARTING_FEATURE_NUMBER, 2),
            0x00,
            0x00,
            0x00,
            *_be(ALLOCATION_LENGTH, 2),
            CONTROL,
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, ALLOCATION_LENGTH
        )

    def READ_TOC_PMA_ATIP(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        MSF: int,
        FORMAT: int,
        TRACK_SESSION_NUMBER: int,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(MSF, kSCSICmdFieldMask1Bit)
            and 0 <= FORMAT <= 5
            and IsParameterValid(TRACK_SESSION_NUMBER, kSCSICmdFieldMask1Byte)
            and IsParameterValid(ALLOCATION_LENGTH, kSCSICmdFieldMask2Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, ALLOCATION_LENGTH)
        ):
            return False
        # MMC puts the format in byte 2.  Apple writes formats 0-2 the SFF-8020i way
        # instead, in bits 7-6 of the last byte, for old ATAPI drives; kextlab writes
        # both (a drive reads the one its standard names), so that a SCSI drive that
        # reads byte 2 only, as MMC-6 and QEMU's do, answers the format asked for.
        control = ((FORMAT & 0x03) << 6) if FORMAT <= 0x02 else CONTROL
        request.SetCommandDescriptorBlock(
            kSCSICmd_READ_TOC_PMA_ATIP,
            MSF << 1,
            FORMAT,
            0x00,
            0x00,
            0x00,
            TRACK_SESSION_NUMBER,
            *_be(ALLOCATION_LENGTH, 2),
            control,
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, ALLOCATION_LENGTH
        )

    def READ_DISC_INFORMATION(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        if not (
            IsParameterValid(ALLOCATION_LENGTH, kSCSICmdFieldMask2Byte)
            and IsParameterValid(CONTROL, kSCSICmdFieldMask1Byte)
            and IsBufferAndCapacityValid(dataBuffer, ALLOCATION_LENGTH)
        ):
            return False
        request.SetCommandDescriptorBlock(
            kSCSICmd_READ_DISC_INFORMATION,
            0x00,
            0x00,
            0x00,
            0x00,
            0x00,
            0x00,
            *_be(ALLOCATION_LENGTH, 2),
            CONTROL,
        )
        return self.SetDataTransferControl(
            request, 0, kSCSIDataTransfer_FromTargetToInitiator, dataBuffer, ALLOCATION_LENGTH
        )


__all__ = [
    "IsBufferAndCapacityValid",
    "IsParameterValid",
    "SCSIBlockCommands",
    "SCSIMultimediaCommands",
    "SCSIPrimaryCommands",
]
