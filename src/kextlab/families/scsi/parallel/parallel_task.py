"""SCSIParallelTask: the controller's per-command object, pre-allocated and pooled.

Mirrors ``SCSIParallelTask`` (IOSCSIParallelFamily ``SCSIParallelTask.h``/``.cpp``).
As in Apple's family it *is* the command's ``IODMACommand``: the controller's
``InitializeDMASpecification`` gives each task the HBA's DMA specification once, at
allocation, and ``GetDMACommand(task)`` returns the task itself.  Around that it
carries what one command needs on its way through the HBA:

* the client's ``SCSITask`` and the target nub it came from (bound by the nub for
  one command, cleared when the task goes back to the pool);
* the realized byte count (the HBA's count, copied to the client's task at
  completion), the retry count of a TASK SET FULL resend, the timeout deadline;
* the SPI feature negotiation requests and results;
* the controller task identifier the HBA may choose (``SetControllerTaskIdentifier``);
* the HBA's private per-task data: ``ReportHBASpecificTaskDataSize`` bytes of
  physically contiguous memory within ``kIOMinimumHBADataAlignmentMaskKey``,
  allocated once per task (``GetHBADataPointer`` is a writable ``memoryview`` of it,
  ``GetHBADataDescriptor`` its descriptor, prepared for the task's lifetime).

What the task *reads* from the client's task (CDB, direction, counts, buffer, LUN,
attribute, tag, timeout) it reads through the execution mode: while the protocol
layer runs the task's REQUEST SENSE (``kSCSITaskMode_Autosense``), the HBA sees the
sense command, its buffer and its count.  Apple's modern family leaves that to the
SCSITask; kextlab's SCSITask keeps both, so the parallel task chooses.

Threading rules: a parallel task belongs to one command at a time; the controller's
pool hands it out and takes it back under the work loop's gate.  Nothing here
blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kextlab.families.scsi.definitions import (
    kSCSIDataTransfer_FromTargetToInitiator,
    kSCSITaskMode_Autosense,
)
from kextlab.families.scsi.parallel.characteristics import (
    kSCSIParallelFeature_NegotitiationUnchanged,
    kSCSIParallelFeature_NoNegotiation,
    kSCSIParallelFeature_TotalFeatureCount,
)
from kextlab.kernel.ioreturn import kIOReturnSuccess
from kextlab.kernel.memory.buffer import IOBufferMemoryDescriptor
from kextlab.kernel.memory.descriptor import kernel_task
from kextlab.kernel.memory.dma_command import IODMACommand
from kextlab.kernel.memory.options import kIODirectionOutIn, kIOMemoryPhysicallyContiguous

if TYPE_CHECKING:
    from kextlab.families.scsi.parallel.interface_device import IOSCSIParallelInterfaceDevice
    from kextlab.families.scsi.task import SCSITask
    from kextlab.kernel.memory.descriptor import IOMemoryDescriptor

_NO_HBA_DATA = memoryview(bytearray(0))
_UNBOUND = "a SCSIParallelTask used without its SCSITask"


class SCSIParallelTask(IODMACommand):
    """One command's HBA-side state; also its DMA command (``: IODMACommand``)."""

    def __init__(self) -> None:
        super().__init__()
        self.fSCSITask: SCSITask | None = None
        self.fDevice: IOSCSIParallelInterfaceDevice | None = None
        self.fTargetID = 0
        self.fRealizedTransferCount = 0
        self.fTaskRetryCount = 0
        self.fControllerTaskIdentifier = 0
        self.fTimeoutDeadline = 0
        #: The task's place in the timer's ordered list (``fTimeoutChain``), or None.
        self.fTimeoutKey: tuple[int, int] | None = None
        self.fHBADataSize = 0
        self.fHBAData = _NO_HBA_DATA
        self.fHBADataDescriptor: IOBufferMemoryDescriptor | None = None
        self.fSCSIParallelFeatureRequest = [kSCSIParallelFeature_NoNegotiation] * (
            kSCSIParallelFeature_TotalFeatureCount
        )
        self.fSCSIParallelFeatureResult = [kSCSIParallelFeature_NegotitiationUnchanged] * (
            kSCSIParallelFeature_TotalFeatureCount
        )
        self.fSCSIParallelFeatureRequestCount = 0
        self.fSCSIParallelFeatureRequestResultCount = 0
        self._autosense = False

    @classmethod
    def Create(cls, sizeOfHBAData: int, alignmentMask: int) -> SCSIParallelTask | None:
        """A task with ``sizeOfHBAData`` bytes of HBA data within ``alignmentMask``."""
        task = cls()
        if not task.InitWithSize(sizeOfHBAData, alignmentMask):
            task.release()
            return None
        return task

    def InitWithSize(self, sizeOfHBAData: int, alignmentMask: int) -> bool:
        self.fHBADataSize = sizeOfHBAData
        if sizeOfHBAData > 0:
            buffer = IOBufferMemoryDescriptor.inTaskWithPhysicalMask(
                kernel_task,
                kIODirectionOutIn | kIOMemoryPhysicallyContiguous,
                sizeOfHBAData,
                alignmentMask,
            )
            if buffer is None:
                return False
            if buffer.prepare(kIODirectionOutIn) != kIOReturnSuccess:
                buffer.release()
                return False
            view = buffer.getBytesNoCopy()[:sizeOfHBAData]
            view[:] = bytes(sizeOfHBAData)
            self.fHBAData = view
            self.fHBADataDescriptor = buffer
        return True

    def free(self) -> None:
        descriptor = self.fHBADataDescriptor
        if descriptor is not None:
            self.fHBAData = _NO_HBA_DATA
            self.fHBADataDescriptor = None
            descriptor.complete()
            descriptor.release()
        self.fSCSITask = None
        self.fDevice = None
        super().free()

    def ResetForNewTask(self) -> None:
        self.fTargetID = 0
        self.fDevice = None
        self.fSCSITask = None
        self.fRealizedTransferCount = 0
        self.fTaskRetryCount = 0
        self._autosense = False
        if self.fSCSIParallelFeatureRequestCount or self.fSCSIParallelFeatureRequestResultCount:
            for index in range(kSCSIParallelFeature_TotalFeatureCount):
                self.fSCSIParallelFeatureRequest[index] = kSCSIParallelFeature_NoNegotiation
                self.fSCSIParallelFeatureResult[index] = kSCSIParallelFeature_NegotitiationUnchanged
            self.fSCSIParallelFeatureRequestCount = 0
            self.fSCSIParallelFeatureRequestResultCount = 0

    # -- binding ---------------------------------------------------------------------------------

    def SetSCSITaskIdentifier(self, scsiRequest: SCSITask | None) -> bool:
        self.fSCSITask = scsiRequest
        # the client task's execution mode, read directly (see "What the task reads")
        self._autosense = (
            scsiRequest is not None and scsiRequest._execution_mode == kSCSITaskMode_Autosense
        )
        return True

    def GetSCSITaskIdentifier(self) -> SCSITask | None:
        return self.fSCSITask

    def SetTargetIdentifier(self, theTargetID: int) -> bool:
        self.fTargetID = theTargetID
        return True

    def GetTargetIdentifier(self) -> int:
        return self.fTargetID

    def SetDevice(self, device: IOSCSIParallelInterfaceDevice | None) -> bool:
        self.fDevice = device
        return True

    def GetDevice(self) -> IOSCSIParallelInterfaceDevice | None:
        return self.fDevice

    def SetBuffer(self, buffer: IOMemoryDescriptor) -> int:
        """Give the DMA command the command's memory, not prepared: the HBA prepares
        the range it transfers (``GetDataBufferOffset``, ``GetRequestedDataTransferCount``)."""
        return self.setMemoryDescriptor(buffer, False)

    # -- what the client's task says -------------------------------------------------------------
    #
    # The HBA reads a dozen of these per command, through its controller's accessors
    # (which *are* these methods): each reads the client task's field itself, one call
    # deep, rather than through the task's own accessor.

    def _task(self) -> SCSITask:
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task

    def GetLogicalUnitNumber(self) -> int:
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task._logical_unit

    def GetLogicalUnitBytes(self) -> bytes:
        return self._task().GetLogicalUnitBytes()

    def GetTaskAttribute(self) -> int:
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task._task_attribute

    def GetTaggedTaskIdentifier(self) -> int:
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task._tag

    def GetCommandDescriptorBlockSize(self) -> int:
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task._autosense_cdb_size if self._autosense else task._cdb_size

    def GetCommandDescriptorBlock(self) -> bytes:
        """The 16-byte CDB block (``GetCommandDescriptorBlockSize`` bytes count)."""
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task._autosense_cdb if self._autosense else task._cdb  # immutable: no copy

    def GetDataTransferDirection(self) -> int:
        if self._autosense:
            return kSCSIDataTransfer_FromTargetToInitiator
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task._direction

    def GetRequestedDataTransferCount(self) -> int:
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        # the REQUEST SENSE asks for the whole sense buffer (its
        # ``GetAutosenseRequestedDataTransferCount``)
        return len(task._sense) if self._autosense else task._requested

    def GetDataBuffer(self) -> IOMemoryDescriptor | None:
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        if self._autosense:
            return task.GetAutosenseDataBuffer()
        return task._data_buffer

    def GetDataBufferOffset(self) -> int:
        if self._autosense:
            return 0
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task._data_offset

    def GetTimeoutDuration(self) -> int:
        task = self.fSCSITask
        assert task is not None, _UNBOUND
        return task._timeout

    def is_autosense(self) -> bool:
        """Whether this command is the client task's REQUEST SENSE (ours)."""
        return self._autosense

    # -- what the HBA reports ---------------------------------------------------------------------

    def SetRealizedDataTransferCount(self, realizedTransferCountInBytes: int) -> bool:
        self.fRealizedTransferCount = realizedTransferCountInBytes
        return True

    def IncrementRealizedDataTransferCount(self, realizedTransferCountInBytes: int) -> None:
        self.fRealizedTransferCount += realizedTransferCountInBytes

    def GetRealizedDataTransferCount(self) -> int:
        return self.fRealizedTransferCount

    def SetAutoSenseData(
        self, senseData: bytes | bytearray | memoryview, senseDataSize: int | None = None
    ) -> bool:
        return self._task().SetAutoSenseData(senseData, senseDataSize)

    def GetAutoSenseData(self) -> bytes | None:
        return self._task().GetAutoSenseData()

    def GetAutoSenseDataSize(self) -> int:
        return self._task().GetAutoSenseDataSize()

    def SetControllerTaskIdentifier(self, newIdentifier: int) -> None:
        self.fControllerTaskIdentifier = newIdentifier

    def GetControllerTaskIdentifier(self) -> int:
        return self.fControllerTaskIdentifier

    # -- SPI feature negotiation -----------------------------------------------------------------

    def SetSCSIParallelFeatureNegotiation(self, requestedFeature: int, newRequest: int) -> None:
        if not 0 <= requestedFeature < kSCSIParallelFeature_TotalFeatureCount:
            return
        if newRequest != kSCSIParallelFeature_NoNegotiation:
            self.fSCSIParallelFeatureRequestCount += 1
        self.fSCSIParallelFeatureRequest[requestedFeature] = newRequest

    def GetSCSIParallelFeatureNegotiation(self, requestedFeature: int) -> int:
        if not 0 <= requestedFeature < kSCSIParallelFeature_TotalFeatureCount:
            return kSCSIParallelFeature_NoNegotiation
        return self.fSCSIParallelFeatureRequest[requestedFeature]

    def GetSCSIParallelFeatureNegotiationCount(self) -> int:
        return self.fSCSIParallelFeatureRequestCount

    def SetSCSIParallelFeatureNegotiationResult(
        self, requestedFeature: int, newResult: int
    ) -> None:
        if not 0 <= requestedFeature < kSCSIParallelFeature_TotalFeatureCount:
            return
        if newResult != kSCSIParallelFeature_NegotitiationUnchanged:
            self.fSCSIParallelFeatureRequestResultCount += 1
        self.fSCSIParallelFeatureResult[requestedFeature] = newResult

    def GetSCSIParallelFeatureNegotiationResult(self, requestedFeature: int) -> int:
        if not 0 <= requestedFeature < kSCSIParallelFeature_TotalFeatureCount:
            return kSCSIParallelFeature_NegotitiationUnchanged
        return self.fSCSIParallelFeatureResult[requestedFeature]

    def GetSCSIParallelFeatureNegotiationResultCount(self) -> int:
        return self.fSCSIParallelFeatureRequestResultCount

    # -- HBA data and timeouts ---------------------------------------------------------------------

    def GetHBADataSize(self) -> int:
        return self.fHBADataSize

    def GetHBADataPointer(self) -> memoryview | None:
        return self.fHBAData if self.fHBADataSize else None

    def GetHBADataDescriptor(self) -> IOMemoryDescriptor | None:
        return self.fHBADataDescriptor

    def GetTimeoutDeadline(self) -> int:
        return self.fTimeoutDeadline

    def SetTimeoutDeadline(self, time: int) -> None:
        self.fTimeoutDeadline = time


__all__ = ["SCSIParallelTask"]
