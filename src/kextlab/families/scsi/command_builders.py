"""The builder methods of the peripheral drivers: one per command, by Apple's name.

Mirrors Apple's ``IOSCSIPrimaryCommandsBuilder.cpp``, ``IOSCSIBlockCommandsBuilder.cpp``
and ``IOSCSIMultimediaCommandsBuilder.cpp``: the methods a peripheral driver (and a
subclass a vendor writes) calls to fill in a task, ``TEST_UNIT_READY(request,
CONTROL)``, ``READ_10(request, dataBuffer, blockSize, DPO, FUA, RELADR,
LOGICAL_BLOCK_ADDRESS, TRANSFER_LENGTH, CONTROL)``...  Each resets the task
(``ResetForNewTask``: False while the task is still active) and has the driver's
command-set object (``kextlab.families.scsi.command_sets``) encode the CDB; the block
builders turn the block count into the byte count of the transfer.  They answer False
when a field does not fit, and the caller then does not send the task.

Three mixins, one per command set, that the device classes inherit as Apple's
classes own these methods: ``IOSCSIPrimaryCommandsDevice`` the SPC builders,
``IOSCSIBlockCommandsDevice`` the SBC ones, ``IOSCSIMultimediaCommandsDevice`` the
MMC ones and, as Apple's MMC driver does, the SBC ones it needs (READ(10),
READ CAPACITY, START STOP UNIT...).  Each needs the accessor of its command-set object
(``GetSCSIPrimaryCommandObject``...), which the device class provides.

Threading rules: none of their own; a builder writes the task it is given and never
blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kextlab.families.scsi.command_sets import (
        SCSIBlockCommands,
        SCSIMultimediaCommands,
        SCSIPrimaryCommands,
    )
    from kextlab.families.scsi.task import SCSITask
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor


class IOSCSIPrimaryCommandsBuilder:
    """The SPC builders of ``IOSCSIPrimaryCommandsDevice``."""

    __slots__ = ()

    def GetSCSIPrimaryCommandObject(self) -> SCSIPrimaryCommands:
        raise NotImplementedError(f"{type(self).__name__} has no SPC command-set object")

    def TEST_UNIT_READY(self, request: SCSITask, CONTROL: int) -> bool:
        return request.ResetForNewTask() and self.GetSCSIPrimaryCommandObject().TEST_UNIT_READY(
            request, CONTROL
        )

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
        return request.ResetForNewTask() and self.GetSCSIPrimaryCommandObject().INQUIRY(
            request, dataBuffer, CMDDT, EVPD, PAGE_OR_OPERATION_CODE, ALLOCATION_LENGTH, CONTROL
        )

    def REQUEST_SENSE(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        return request.ResetForNewTask() and self.GetSCSIPrimaryCommandObject().REQUEST_SENSE(
            request, dataBuffer, ALLOCATION_LENGTH, CONTROL
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
        return request.ResetForNewTask() and self.GetSCSIPrimaryCommandObject().MODE_SENSE_6(
            request, dataBuffer, DBD, PC, PAGE_CODE, ALLOCATION_LENGTH, CONTROL
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
        return request.ResetForNewTask() and self.GetSCSIPrimaryCommandObject().MODE_SENSE_10(
            request, dataBuffer, LLBAA, DBD, PC, PAGE_CODE, ALLOCATION_LENGTH, CONTROL
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
        return request.ResetForNewTask() and self.GetSCSIPrimaryCommandObject().MODE_SELECT_6(
            request, dataBuffer, PF, SP, PARAMETER_LIST_LENGTH, CONTROL
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
        return request.ResetForNewTask() and self.GetSCSIPrimaryCommandObject().MODE_SELECT_10(
            request, dataBuffer, PF, SP, PARAMETER_LIST_LENGTH, CONTROL
        )

    def PREVENT_ALLOW_MEDIUM_REMOVAL(self, request: SCSITask, PREVENT: int, CONTROL: int) -> bool:
        return request.ResetForNewTask() and (
            self.GetSCSIPrimaryCommandObject().PREVENT_ALLOW_MEDIUM_REMOVAL(
                request, PREVENT, CONTROL
            )
        )


class IOSCSIBlockCommandsBuilder(IOSCSIPrimaryCommandsBuilder):
    """The SBC builders of ``IOSCSIBlockCommandsDevice`` (and of the MMC driver)."""

    __slots__ = ()

    def GetSCSIBlockCommandObject(self) -> SCSIBlockCommands:
        raise NotImplementedError(f"{type(self).__name__} has no SBC command-set object")

    def READ_10(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        blockSize: int,
        DPO: int,
        FUA: int,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        return (
            bool(blockSize)
            and request.ResetForNewTask()
            and (
                self.GetSCSIBlockCommandObject().READ_10(
                    request,
                    dataBuffer,
                    TRANSFER_LENGTH * blockSize,
                    DPO,
                    FUA,
                    RELADR,
                    LOGICAL_BLOCK_ADDRESS,
                    TRANSFER_LENGTH,
                    CONTROL,
                )
            )
        )

    def WRITE_10(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        blockSize: int,
        DPO: int,
        FUA: int,
        EBP: int,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        return (
            bool(blockSize)
            and request.ResetForNewTask()
            and (
                self.GetSCSIBlockCommandObject().WRITE_10(
                    request,
                    dataBuffer,
                    TRANSFER_LENGTH * blockSize,
                    DPO,
                    FUA,
                    EBP,
                    RELADR,
                    LOGICAL_BLOCK_ADDRESS,
                    TRANSFER_LENGTH,
                    CONTROL,
                )
            )
        )

    def READ_16(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        blockSize: int,
        RDPROTECT: int,
        DPO: int,
        FUA: int,
        FUA_NV: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        GROUP_NUMBER: int,
        CONTROL: int,
    ) -> bool:
        return (
            bool(blockSize)
            and request.ResetForNewTask()
            and (
                self.GetSCSIBlockCommandObject().READ_16(
                    request,
                    dataBuffer,
                    TRANSFER_LENGTH * blockSize,
                    RDPROTECT,
                    DPO,
                    FUA,
                    FUA_NV,
                    LOGICAL_BLOCK_ADDRESS,
                    TRANSFER_LENGTH,
                    GROUP_NUMBER,
                    CONTROL,
                )
            )
        )

    def WRITE_16(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        blockSize: int,
        WRPROTECT: int,
        DPO: int,
        FUA: int,
        FUA_NV: int,
        LOGICAL_BLOCK_ADDRESS: int,
        TRANSFER_LENGTH: int,
        GROUP_NUMBER: int,
        CONTROL: int,
    ) -> bool:
        return (
            bool(blockSize)
            and request.ResetForNewTask()
            and (
                self.GetSCSIBlockCommandObject().WRITE_16(
                    request,
                    dataBuffer,
                    TRANSFER_LENGTH * blockSize,
                    WRPROTECT,
                    DPO,
                    FUA,
                    FUA_NV,
                    LOGICAL_BLOCK_ADDRESS,
                    TRANSFER_LENGTH,
                    GROUP_NUMBER,
                    CONTROL,
                )
            )
        )

    def READ_CAPACITY(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        PMI: int,
        CONTROL: int,
    ) -> bool:
        return request.ResetForNewTask() and self.GetSCSIBlockCommandObject().READ_CAPACITY(
            request, dataBuffer, RELADR, LOGICAL_BLOCK_ADDRESS, PMI, CONTROL
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
        return request.ResetForNewTask() and self.GetSCSIBlockCommandObject().READ_CAPACITY_16(
            request, dataBuffer, LOGICAL_BLOCK_ADDRESS, ALLOCATION_LENGTH, PMI, CONTROL
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
        return request.ResetForNewTask() and self.GetSCSIBlockCommandObject().START_STOP_UNIT(
            request, IMMED, POWER_CONDITIONS, LOEJ, START, CONTROL
        )

    def SYNCHRONIZE_CACHE(
        self,
        request: SCSITask,
        IMMED: int,
        RELADR: int,
        LOGICAL_BLOCK_ADDRESS: int,
        NUMBER_OF_BLOCKS: int,
        CONTROL: int,
    ) -> bool:
        return request.ResetForNewTask() and self.GetSCSIBlockCommandObject().SYNCHRONIZE_CACHE(
            request, IMMED, RELADR, LOGICAL_BLOCK_ADDRESS, NUMBER_OF_BLOCKS, CONTROL
        )


class IOSCSIMultimediaCommandsBuilder(IOSCSIPrimaryCommandsBuilder):
    """The MMC builders of ``IOSCSIMultimediaCommandsDevice``."""

    __slots__ = ()

    def GetSCSIMultimediaCommandObject(self) -> SCSIMultimediaCommands:
        raise NotImplementedError(f"{type(self).__name__} has no MMC command-set object")

    def GET_CONFIGURATION(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        RT: int,
        STARTING_FEATURE_NUMBER: int,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        return request.ResetForNewTask() and (
            self.GetSCSIMultimediaCommandObject().GET_CONFIGURATION(
                request, dataBuffer, RT, STARTING_FEATURE_NUMBER, ALLOCATION_LENGTH, CONTROL
            )
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
        return request.ResetForNewTask() and (
            self.GetSCSIMultimediaCommandObject().READ_TOC_PMA_ATIP(
                request, dataBuffer, MSF, FORMAT, TRACK_SESSION_NUMBER, ALLOCATION_LENGTH, CONTROL
            )
        )

    def READ_DISC_INFORMATION(
        self,
        request: SCSITask,
        dataBuffer: IOMemoryDescriptor | None,
        ALLOCATION_LENGTH: int,
        CONTROL: int,
    ) -> bool:
        return request.ResetForNewTask() and (
            self.GetSCSIMultimediaCommandObject().READ_DISC_INFORMATION(
                request, dataBuffer, ALLOCATION_LENGTH, CONTROL
            )
        )


__all__ = [
    "IOSCSIBlockCommandsBuilder",
    "IOSCSIMultimediaCommandsBuilder",
    "IOSCSIPrimaryCommandsBuilder",
]
