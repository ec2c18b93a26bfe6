"""The controller's ``SCSIParallelTaskIdentifier`` accessors (spec ``scsi.md`` §1.3).

Mirrors the protected accessor block of ``IOSCSIParallelInterfaceController``
(``IOSCSIParallelInterfaceController.h`` l.830-1300): everything an HBA subclass
reads from or writes to a command goes through its controller, given the opaque
``SCSIParallelTaskIdentifier`` (here the ``SCSIParallelTask`` object).  This module
holds that block as a mixin of the controller class, so that the controller's own
module is about its lifecycle.

Apple's out-parameters become return values: ``GetCommandDescriptorBlock(task)``
returns the 16-byte block, ``GetLogicalUnitBytes(task)`` the 8 LUN bytes,
``GetAutoSenseData(task)`` the sense or None.  ``GetHBADataPointer(task)`` is a
writable ``memoryview`` of ``ReportHBASpecificTaskDataSize()`` bytes.

Threading rules: any context the HBA runs in (the gate held or not; the filter too,
as long as it only reads); nothing here blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.families.scsi.parallel.parallel_task import SCSIParallelTask

if TYPE_CHECKING:
    from kextlab.families.scsi.task import SCSITask
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor
    from kextlab.kernel.memory.dma_command import IODMACommand


class ParallelTaskAccessors:
    """The accessor half of ``IOSCSIParallelInterfaceController``.

    Apple's accessors forward to the task (``parallelTask->GetLogicalUnitNumber()``).
    Here an accessor that would only forward *is* the task's method, taken as a
    static method of the controller: ``controller.GetLogicalUnitNumber(task)`` runs
    ``SCSIParallelTask.GetLogicalUnitNumber(task)``, one call for the HBA's dozen reads
    per command instead of two.  The rest read the task's fields themselves."""

    __slots__ = ()

    # -- addressing ------------------------------------------------------------------------------

    def GetSCSITaskIdentifier(self, parallelTask: SCSIParallelTask) -> SCSITask | None:
        """The client's ``SCSITask`` behind this command."""
        return parallelTask.fSCSITask

    def GetTargetIdentifier(self, parallelTask: SCSIParallelTask) -> int:
        return parallelTask.fTargetID

    #: Deprecated by Apple in favour of ``GetLogicalUnitBytes``; still the simplest for
    #: single-level LUNs.
    GetLogicalUnitNumber = staticmethod(SCSIParallelTask.GetLogicalUnitNumber)
    GetLogicalUnitBytes = staticmethod(SCSIParallelTask.GetLogicalUnitBytes)
    GetTaggedTaskIdentifier = staticmethod(SCSIParallelTask.GetTaggedTaskIdentifier)
    GetTaskAttribute = staticmethod(SCSIParallelTask.GetTaskAttribute)

    # -- the command -----------------------------------------------------------------------------

    GetCommandDescriptorBlockSize = staticmethod(SCSIParallelTask.GetCommandDescriptorBlockSize)
    #: Apple's ``SCSICommandDescriptorBlock``: 16 bytes, unused ones zero.
    GetCommandDescriptorBlock = staticmethod(SCSIParallelTask.GetCommandDescriptorBlock)
    GetDataTransferDirection = staticmethod(SCSIParallelTask.GetDataTransferDirection)
    GetRequestedDataTransferCount = staticmethod(SCSIParallelTask.GetRequestedDataTransferCount)

    def GetRealizedDataTransferCount(self, parallelTask: SCSIParallelTask) -> int:
        return parallelTask.fRealizedTransferCount

    def SetRealizedDataTransferCount(
        self, parallelTask: SCSIParallelTask, realizedTransferCountInBytes: int
    ) -> bool:
        parallelTask.fRealizedTransferCount = realizedTransferCountInBytes
        return True

    def IncrementRealizedDataTransferCount(
        self, parallelTask: SCSIParallelTask, realizedTransferCountInBytes: int
    ) -> None:
        parallelTask.fRealizedTransferCount += realizedTransferCountInBytes

    GetDataBuffer = staticmethod(SCSIParallelTask.GetDataBuffer)
    GetDataBufferOffset = staticmethod(SCSIParallelTask.GetDataBufferOffset)

    def GetDMACommand(self, parallelTask: SCSIParallelTask) -> IODMACommand:
        """The command's ``IODMACommand`` with its memory set, not prepared: the HBA
        calls ``prepare(GetDataBufferOffset, GetRequestedDataTransferCount)``, takes
        its segments, and calls ``complete()`` when the transfer is over (never
        ``setMemoryDescriptor``)."""
        return parallelTask

    #: The command's timeout in milliseconds (0: as long as possible).
    GetTimeoutDuration = staticmethod(SCSIParallelTask.GetTimeoutDuration)

    # -- sense -----------------------------------------------------------------------------------

    def SetAutoSenseData(
        self,
        parallelTask: SCSIParallelTask,
        newSenseData: bytes | bytearray | memoryview,
        senseDataSize: int | None = None,
    ) -> bool:
        """Store the sense the device returned; call before ``CompleteParallelTask``."""
        return parallelTask.SetAutoSenseData(newSenseData, senseDataSize)

    GetAutoSenseData = staticmethod(SCSIParallelTask.GetAutoSenseData)
    GetAutoSenseDataSize = staticmethod(SCSIParallelTask.GetAutoSenseDataSize)

    # -- SPI negotiation and the controller's own identifier -------------------------------------

    GetSCSIParallelFeatureNegotiation = staticmethod(
        SCSIParallelTask.GetSCSIParallelFeatureNegotiation
    )
    GetSCSIParallelFeatureNegotiationCount = staticmethod(
        SCSIParallelTask.GetSCSIParallelFeatureNegotiationCount
    )
    SetSCSIParallelFeatureNegotiationResult = staticmethod(
        SCSIParallelTask.SetSCSIParallelFeatureNegotiationResult
    )
    GetSCSIParallelFeatureNegotiationResult = staticmethod(
        SCSIParallelTask.GetSCSIParallelFeatureNegotiationResult
    )
    GetSCSIParallelFeatureNegotiationResultCount = staticmethod(
        SCSIParallelTask.GetSCSIParallelFeatureNegotiationResultCount
    )

    def SetControllerTaskIdentifier(
        self, parallelTask: SCSIParallelTask, newIdentifier: int
    ) -> None:
        parallelTask.fControllerTaskIdentifier = newIdentifier

    def GetControllerTaskIdentifier(self, parallelTask: SCSIParallelTask) -> int:
        return parallelTask.fControllerTaskIdentifier

    # -- HBA private data ------------------------------------------------------------------------

    def GetHBADataSize(self, parallelTask: SCSIParallelTask) -> int:
        return parallelTask.fHBADataSize

    def GetHBADataPointer(self, parallelTask: SCSIParallelTask) -> memoryview | None:
        """A writable view of the command's HBA data (None when the size is 0)."""
        return parallelTask.fHBAData if parallelTask.fHBADataSize else None

    def GetHBADataDescriptor(self, parallelTask: SCSIParallelTask) -> IOMemoryDescriptor | None:
        """The HBA data's memory (physically contiguous, prepared): for DMA to it."""
        return parallelTask.fHBADataDescriptor


__all__ = ["ParallelTaskAccessors"]
